#pragma once
// Bearer tokens of the HTTP API: the admin token sees everything, a tenant's api_token only
// that tenant. Compared in constant time.
#include <optional>
#include <string>
#include <string_view>

#include "wappa/config/config.hpp"
#include "wappa/http/message.hpp"

namespace wappa::service {

struct Caller {
    bool admin = false;
    const config::TenantSettings* tenant = nullptr;   // set when a tenant's token was presented

    // Whether this caller may see or act on `tenant_id`'s data.
    bool may_see(std::string_view tenant_id) const { return admin || (tenant != nullptr && tenant->id == tenant_id); }
};

// Who the Bearer token belongs to, or nobody.
std::optional<Caller> authenticate(const config::Config& config, const http::Request& request);
// Who a token belongs to, or nobody.
std::optional<Caller> authenticate_token(const config::Config& config, std::string_view token);

// {"error": "<field>: <message>", "field": "<field>"}
std::string field_error_body(std::string_view field, std::string_view message);

}  // namespace wappa::service
