#include "worker_endpoint.hpp"

#include <spdlog/spdlog.h>

#include "wappa/core/json.hpp"
#include "wappa/pg/pool.hpp"
#include "wappa/redis/client.hpp"
#include "wappa/service/health.hpp"
#include "wappa/service/queue_gauges.hpp"

namespace wappa::app {
namespace {

Task<std::string> postgres_check(pg::Pool* postgres, bool& up) {
    const pg::Query ping{"wappa_health", "SELECT 1", {}};
    auto answered = co_await postgres->run(ping);
    up = static_cast<bool>(answered);
    if (up) co_return std::string("{\"status\":\"up\"}");
    co_return "{\"status\":\"down\",\"error\":" + json::quote(answered.error().message) + "}";
}

http::Handler worker_handler(WorkerProbes p) {
    return [p](http::Request& request) -> Task<http::Response> {
        if (request.path == "/metrics") co_return http::Response{200, "text/plain; version=0.0.4", p.registry.render(), {}, nullptr};
        if (request.path != "/api/admin/health" && request.path != "/health") {
            co_return http::Response::error(404, "no route for " + request.method + " " + request.path);
        }
        auto pong = co_await p.redis.exec(redis::Command("PING"));
        const bool up = pong && !pong->is_error();
        bool ready = up && !p.stopping;
        std::string body = std::string(",\"checks\":{\"redis\":") + (up ? "{\"status\":\"up\"}" : "{\"status\":\"down\"}");
        if (p.postgres != nullptr) {
            bool pg_up = false;
            auto check = co_await postgres_check(p.postgres, pg_up);
            body += ",\"postgres\":" + check;
            ready = ready && pg_up;
        }
        body += std::string(",\"worker\":{\"status\":") + (p.stopping ? "\"stopping\"" : "\"running\"") + "}";
        if (p.gauges) body += ",\"tenants\":" + service::tenants_health_json(p.gauges->snapshot());
        body += "}}";
        co_return http::Response::json(ready ? 200 : 503, std::string("{\"status\":") + (ready ? "\"ok\"" : "\"unavailable\"") + body);
    };
}

}  // namespace

Result<std::unique_ptr<http::Server>> serve_worker_probes(net::any_io_executor executor, const config::Address& listen,
                                                          WorkerProbes probes) {
    auto server = std::make_unique<http::Server>(
        executor, http::ServerSettings{listen, 64 * 1024, config::Duration(10'000), config::Duration(10'000), false},
        worker_handler(probes));
    if (auto status = server->listen(); !status) return Error{"--metrics-listen: " + status.error().message};
    server->start();
    spdlog::info("worker metrics on {}:{}", listen.host, server->port());
    return server;
}

}  // namespace wappa::app
