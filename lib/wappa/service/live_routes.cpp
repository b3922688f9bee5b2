#include "wappa/service/live_routes.hpp"

#include <strings.h>

#include "wappa/live/hub.hpp"
#include "wappa/service/api_auth.hpp"

namespace wappa::service {
namespace {

bool header_has(std::string_view value, std::string_view token) {
    // "keep-alive, Upgrade": a comma-separated list, compared without case.
    while (!value.empty()) {
        const auto comma = value.find(',');
        auto item = value.substr(0, comma);
        while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
        while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
        if (item.size() == token.size() && ::strncasecmp(item.data(), token.data(), token.size()) == 0) return true;
        if (comma == std::string_view::npos) break;
        value.remove_prefix(comma + 1);
    }
    return false;
}

}  // namespace

http::Response live_events(const config::Config& config, live::Hub& hub, const http::Request& request, bool websocket) {
    const std::string path = websocket ? "/api/v1/ws" : "/api/v1/events";
    if (request.method != "GET") return http::Response::error(405, "use GET on " + path);
    auto caller = authenticate(config, request);
    const auto query_token = request.query_param("access_token");
    if (!caller && !query_token.empty()) caller = authenticate_token(config, query_token);
    if (!caller) {
        auto refused = http::Response::error(401, path + " needs a tenant's api_token or the admin_token (Authorization: Bearer, or ?access_token=)");
        refused.headers.emplace_back("WWW-Authenticate", "Bearer");
        return refused;
    }
    live::Subscription subscription;
    subscription.filter.users = live::split_list(request.query_param("user"));
    subscription.filter.events = live::split_list(request.query_param("event"));
    auto tenants = live::split_list(request.query_param("tenant"));
    if (caller->admin) {
        for (const auto& t : tenants) {
            if (config.find_tenant(t) == nullptr) return http::Response::error(400, "tenant: unknown tenant '" + t + "'");
        }
        subscription.filter.tenants = std::move(tenants);
        for (const auto& t : config.tenants) subscription.may_publish.push_back(t.id);
    } else {
        for (const auto& t : tenants) {
            if (t != caller->tenant->id) return http::Response::error(403, "tenant: this token only sees tenant '" + caller->tenant->id + "'");
        }
        subscription.filter.tenants = {caller->tenant->id};
        subscription.may_publish = {caller->tenant->id};
    }
    std::string resume(request.header("Last-Event-ID"));
    if (resume.empty()) resume = request.query_param("last_event_id");
    if (!resume.empty()) {
        subscription.resume = pubsub::parse_event_id(resume);
        if (!subscription.resume) {
            return http::Response::error(400, "Last-Event-ID: '" + resume + "' is not an event id (e.g. 1700000000000-0)");
        }
    }
    if (!websocket) return hub.server_sent_events(std::move(subscription));

    if (!header_has(request.header("Upgrade"), "websocket") || !header_has(request.header("Connection"), "upgrade")) {
        auto refused = http::Response::error(426, path + " is a WebSocket: send Connection: Upgrade and Upgrade: websocket");
        refused.headers.emplace_back("Upgrade", "websocket");
        return refused;
    }
    if (request.header("Sec-WebSocket-Version") != "13") {
        auto refused = http::Response::error(426, "Sec-WebSocket-Version: only 13 is supported");
        refused.headers.emplace_back("Sec-WebSocket-Version", "13");
        return refused;
    }
    const auto key = request.header("Sec-WebSocket-Key");
    if (key.size() != 24) return http::Response::error(400, "Sec-WebSocket-Key: required, 16 bytes in base64");
    auto response = hub.websocket(std::move(subscription), key);
    response.status = 101;
    return response;
}

}  // namespace wappa::service
