#include "wappa/service/serve_router.hpp"

#include <chrono>

#include "wappa/core/json.hpp"
#include "wappa/metrics/metrics.hpp"
#include "wappa/redis/client.hpp"
#include "wappa/pg/pool.hpp"
#include "wappa/service/dashboard.hpp"
#include "wappa/service/health.hpp"
#include "wappa/service/live_routes.hpp"
#include "wappa/service/heartbeat.hpp"
#include "wappa/service/message_api.hpp"
#include "wappa/service/queue_gauges.hpp"
#include "wappa/service/outbound_admin.hpp"
#include "wappa/service/serve_metrics.hpp"
#include "wappa/service/webhook_intake.hpp"

namespace wappa::service {
namespace {

// Liveness and readiness. Open to probes without a token: it reveals nothing secret.
Task<http::Response> health(ServeContext& ctx) {
    using Clock = std::chrono::steady_clock;
    const auto millis = [](Clock::time_point since) { return std::chrono::duration<double, std::milli>(Clock::now() - since).count(); };
    auto start = Clock::now();
    auto pong = co_await ctx.redis.exec(redis::Command("PING"));
    const double redis_ms = millis(start);
    const bool redis_up = pong && !pong->is_error();
    bool ready = redis_up;
    std::string body = ",\"checks\":{\"redis\":";
    if (redis_up) {
        body += "{\"status\":\"up\",\"latency_ms\":" + std::to_string(redis_ms) + "}";
    } else {
        body += "{\"status\":\"down\",\"error\":" + json::quote(pong ? pong->str : pong.error().message) + "}";
    }
    body += ",\"postgres\":";
    if (ctx.postgres == nullptr) {
        body += "{\"status\":\"not_configured\"}";
    } else {
        start = Clock::now();
        const pg::Query ping{"wappa_health", "SELECT 1", {}};
        auto answered = co_await ctx.postgres->run(ping);
        if (answered) {
            body += "{\"status\":\"up\",\"latency_ms\":" + std::to_string(millis(start)) + "}";
        } else {
            ready = false;   // configured and down: events would pile up unstored
            body += "{\"status\":\"down\",\"error\":" + json::quote(answered.error().message) + "}";
        }
    }
    for (const auto& [name, running] : {std::pair{"outbound_worker", ctx.worker_running}, std::pair{"inbound_worker", ctx.inbound_running}}) {
        const bool down = running != nullptr && !running->load();
        ready = ready && !down;
        body += ",\"" + std::string(name) + "\":{\"status\":";
        body += running == nullptr ? "\"not_in_this_process\"}" : down ? "\"not_running\"}" : "\"running\"}";
    }
    // The workers of every process that sent a heartbeat lately (reported, not a reason for 503:
    // they may run elsewhere, or not be needed yet).
    if (redis_up) {
        auto seen = co_await workers_seen(ctx.redis, workers_key(ctx.config.redis.key_prefix));
        if (seen) {
            std::size_t alive = 0;
            std::string list;
            for (const auto& w : seen.value()) {
                const bool is_alive = w.age_ms <= alive_within_ms;
                alive += is_alive ? 1 : 0;
                list += list.empty() ? "{" : ",{";
                list += "\"role\":" + json::quote(w.role) + ",\"id\":" + json::quote(w.id) + ",\"last_seen_ms_ago\":" +
                        std::to_string(w.age_ms) + ",\"alive\":" + (is_alive ? "true" : "false") + "}";
            }
            body += ",\"workers\":{\"alive\":" + std::to_string(alive) + ",\"seen\":[" + list + "]}";
        }
    }
    // A paused tenant is reported, not a reason for 503: serve takes webhooks all the same.
    if (ctx.gauges != nullptr) body += ",\"tenants\":" + tenants_health_json(ctx.gauges->snapshot());
    body += "}}";
    co_return http::Response::json(ready ? 200 : 503, std::string("{\"status\":") + (ready ? "\"ok\"" : "\"unavailable\"") + body);
}

std::optional<std::string_view> webhook_tenant(std::string_view path) {
    constexpr std::string_view prefix = "/webhook/";
    if (!path.starts_with(prefix) || path.size() == prefix.size()) return std::nullopt;
    return path.substr(prefix.size());
}

}  // namespace

http::Handler make_serve_handler(ServeContext context) {
    return [ctx = context](http::Request& request) mutable -> Task<http::Response> {
        const auto start = std::chrono::steady_clock::now();
        const std::string_view path = request.path;
        std::string route = "other";
        http::Response response;
        if (path == "/webhook" || path.starts_with("/webhook/")) {
            route = "webhook";
            const auto tenant = webhook_tenant(path);
            if (tenant && ctx.config.find_tenant(*tenant) == nullptr) {
                response = http::Response::error(404, "unknown tenant '" + std::string(*tenant) + "'");
            } else if (request.method == "GET") {
                response = ctx.intake.verify(request, tenant);
            } else if (request.method == "POST") {
                response = co_await ctx.intake.receive(request, tenant);
                ctx.metrics.webhook_latency.observe(
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
            } else {
                response = http::Response::error(405, "use GET (verification) or POST (events) on " + std::string(path));
            }
        } else if (path == "/api/v1/messages" || path == "/api/whatsapp/messages/text") {
            route = path == "/api/v1/messages" ? "messages" : "messages_compat";
            if (request.method != "POST") response = http::Response::error(405, "use POST on " + std::string(path));
            else if (route == "messages") response = co_await ctx.messages.post_message(request);
            else response = co_await ctx.messages.post_compat_text(request);
        } else if ((path == "/api/v1/events" || path == "/api/v1/ws") && ctx.hub != nullptr) {
            route = path == "/api/v1/ws" ? "ws" : "events";
            response = live_events(ctx.config, *ctx.hub, request, route == "ws");
        } else if (path == "/ui" || path.starts_with("/ui/")) {
            route = "ui";
            if (request.method != "GET" && request.method != "HEAD") response = http::Response::error(405, "use GET on " + std::string(path));
            else if (auto file = dashboard_file(path)) response = std::move(*file);
            else response = http::Response::error(404, "no dashboard file " + std::string(path));
        } else if (path == "/api/admin/health") {
            route = "health";
            response = co_await health(ctx);
        } else if (ctx.admin.handles(path)) {
            route = path.starts_with("/api/admin/messages/") && path != "/api/admin/messages/stats" && path != "/api/admin/messages/requeue"
                        ? "admin_message" : std::string(path.substr(std::string_view("/api/admin/").size()));
            response = co_await ctx.admin.handle(request);
        } else if (path == "/metrics") {
            route = "metrics";
            response = http::Response{200, "text/plain; version=0.0.4", ctx.registry.render(), {}, nullptr};
        } else {
            response = http::Response::error(404, "no route for " + request.method + " " + std::string(path));
        }
        ctx.metrics.http_requests.inc({route, std::to_string(response.status)});
        co_return response;
    };
}

}  // namespace wappa::service
