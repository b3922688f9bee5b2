#include "wappa/service/api_auth.hpp"

#include "wappa/core/json.hpp"
#include "wappa/core/secret.hpp"

namespace wappa::service {

std::optional<Caller> authenticate(const config::Config& config, const http::Request& request) {
    const auto header = request.header("Authorization");
    constexpr std::string_view scheme = "Bearer ";
    if (!header.starts_with(scheme)) return std::nullopt;
    return authenticate_token(config, header.substr(scheme.size()));
}

std::optional<Caller> authenticate_token(const config::Config& config, std::string_view token) {
    if (same_secret(token, config.server.admin_token)) return Caller{true, nullptr};
    for (const auto& t : config.tenants) {
        if (same_secret(token, t.api_token)) return Caller{false, &t};
    }
    return std::nullopt;
}

std::string field_error_body(std::string_view field, std::string_view message) {
    std::string body = "{\"error\":";
    json::append_string(body, field.empty() ? std::string(message) : std::string(field) + ": " + std::string(message));
    body += ",\"field\":";
    json::append_string(body, field);
    return body + "}";
}

}  // namespace wappa::service
