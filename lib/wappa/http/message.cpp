#include "wappa/http/message.hpp"

#include <strings.h>

#include "wappa/core/json.hpp"

namespace wappa::http {
namespace {

int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

std::string percent_decode(std::string_view s, bool plus_is_space) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
            out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
            i += 2;
        } else if (plus_is_space && s[i] == '+') {
            out += ' ';
        } else {
            out += s[i];
        }
    }
    return out;
}

std::string_view Request::header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
        if (k.size() == name.size() && strncasecmp(k.data(), name.data(), name.size()) == 0) return v;
    }
    return {};
}

std::string Request::query_param(std::string_view name) const {
    std::string_view rest = query;
    while (!rest.empty()) {
        const auto amp = rest.find('&');
        const auto pair = rest.substr(0, amp);
        rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
        const auto eq = pair.find('=');
        const auto key = percent_decode(pair.substr(0, eq), true);
        if (key == name) return eq == std::string_view::npos ? std::string{} : percent_decode(pair.substr(eq + 1), true);
    }
    return {};
}

Response Response::json(int status, std::string body) { return Response{status, "application/json", std::move(body), {}, nullptr}; }

Response Response::text(int status, std::string body) {
    return Response{status, "text/plain; charset=utf-8", std::move(body), {}, nullptr};
}

Response Response::error(int status, std::string_view message) {
    std::string body = "{\"error\":";
    json::append_string(body, message);
    body += "}";
    return json(status, std::move(body));
}

}  // namespace wappa::http
