#include "outbound_runtime.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include <iostream>

#include "common.hpp"
#include "wappa/core/exit_codes.hpp"
#include "wappa/core/json.hpp"
#include "wappa/graph/transport.hpp"
#include "wappa/http/server.hpp"
#include "wappa/queue/outbound_queue.hpp"
#include "wappa/redis/client.hpp"
#include "wappa/service/outbound_jobs.hpp"
#include "wappa/service/outbound_worker.hpp"
#include "wappa/service/worker_metrics.hpp"

namespace wappa::app {

struct OutboundRuntime::Parts {
    Parts(const config::Config& c, std::size_t concurrency, metrics::Registry& r, std::optional<config::Address> listen)
        : config(c), registry(r), metrics(r), redis(io.get_executor(), redis_settings(c, "redis-worker")),
          queue(redis, service::outbound_settings(c)), concurrency(concurrency), metrics_listen(std::move(listen)) {}

    const config::Config& config;
    metrics::Registry& registry;
    service::WorkerMetrics metrics;
    net::io_context io{1};
    redis::Client redis;
    queue::OutboundQueue queue;
    std::size_t concurrency;
    std::optional<config::Address> metrics_listen;
    std::unique_ptr<graph::Transport> transport;
    std::unique_ptr<service::OutboundWorker> worker;
    std::unique_ptr<http::Server> server;
    bool stopping = false;
};

namespace {

// /metrics and /api/admin/health for a worker process.
http::Handler worker_handler(const metrics::Registry& registry, redis::Client& redis, const bool& stopping) {
    return [&registry, &redis, &stopping](http::Request& request) -> Task<http::Response> {
        if (request.path == "/metrics") co_return http::Response{200, "text/plain; version=0.0.4", registry.render(), {}};
        if (request.path != "/api/admin/health" && request.path != "/health") {
            co_return http::Response::error(404, "no route for " + request.method + " " + request.path);
        }
        auto pong = co_await redis.exec(redis::Command("PING"));
        const bool up = pong && !pong->is_error();
        std::string body = std::string("{\"status\":") + (up && !stopping ? "\"ok\"" : "\"unavailable\"") +
                           ",\"checks\":{\"redis\":{\"status\":" + (up ? "\"up\"" : "\"down\"") +
                           "},\"worker\":{\"status\":" + (stopping ? "\"stopping\"" : "\"running\"") + "}}}";
        co_return http::Response::json(up && !stopping ? 200 : 503, std::move(body));
    };
}

}  // namespace

OutboundRuntime::OutboundRuntime(const config::Config& config, std::size_t concurrency, metrics::Registry& registry,
                                 std::optional<config::Address> metrics_listen)
    : parts_(std::make_unique<Parts>(config, concurrency, registry, std::move(metrics_listen))) {}

OutboundRuntime::~OutboundRuntime() = default;

net::io_context& OutboundRuntime::io() { return parts_->io; }

Status OutboundRuntime::prepare() {
    auto& p = *parts_;
    const auto& g = p.config.graph;
    graph::TransportSettings settings;
    settings.base_url = g.base_url;
    settings.api_version = g.api_version;
    settings.timeout = g.timeout;
    // A send must end before its lease does, or another worker could take the message over
    // while the request is still out.
    const auto lease = p.config.outbound.visibility_timeout;
    if (settings.timeout >= lease) {
        settings.timeout = config::Duration(std::max<std::int64_t>(1, lease.count() * 3 / 4));
        spdlog::warn("graph.timeout ({}) is not shorter than outbound.visibility_timeout ({}): using {}",
                     config::format_duration(g.timeout), config::format_duration(lease), config::format_duration(settings.timeout));
    }
    settings.max_connections = static_cast<std::size_t>(g.max_connections);
    settings.ca_file = g.ca_file;
    settings.sandbox_latency = g.sandbox_latency;
    settings.sandbox_error_rate = g.sandbox_error_rate;
    std::string error;
    p.transport = graph::make_transport(p.io.get_executor(), settings, error);
    if (!p.transport) return Error{error};
    p.worker = std::make_unique<service::OutboundWorker>(p.config, p.queue, *p.transport, p.concurrency, p.metrics);
    if (p.metrics_listen) {
        p.server = std::make_unique<http::Server>(p.io.get_executor(), http::ServerSettings{*p.metrics_listen, 64 * 1024,
                                                                                          config::Duration(10'000), config::Duration(10'000), false},
                                                  worker_handler(p.registry, p.redis, p.stopping));
        if (auto status = p.server->listen(); !status) return Error{"--metrics-listen: " + status.error().message};
        p.server->start();
        spdlog::info("worker metrics on {}:{}", p.metrics_listen->host, p.server->port());
    }
    return {};
}

void OutboundRuntime::stop() {
    net::post(parts_->io, [&p = *parts_] {
        if (p.stopping) return;
        p.stopping = true;
        if (p.worker) p.worker->stop();
    });
}

int OutboundRuntime::run(config::Duration grace) {
    auto& p = *parts_;
    p.redis.start();
    int code = exit_code::ok;
    auto body = [&p, &code, grace, &running = running_]() -> Task<void> {
        if (auto connected = co_await p.redis.wait_connected(p.config.redis.connect_timeout); !connected) {
            std::cerr << "wappa worker: " << connected.error().message << " (redis.url)\n";
            code = exit_code::unavailable;
        } else {
            spdlog::info("outbound worker running concurrency={} graph={}", p.concurrency, p.config.graph.base_url);
            net::co_spawn(p.io, service::refresh_queue_depths(p.queue, p.metrics, p.stopping, config::Duration(5'000)), net::detached);
            running = true;
            co_await p.worker->run(grace);
            running = false;
            const auto& s = p.worker->stats();
            spdlog::info("outbound worker stopped sent={} retried={} deferred={} failed={}", s.sent, s.retried, s.deferred, s.failed);
        }
        p.stopping = true;
        if (p.server) co_await p.server->shutdown(config::Duration(1'000));
        p.redis.stop();
    };
    net::co_spawn(p.io, body(), net::detached);
    p.io.run();
    return code;
}

}  // namespace wappa::app
