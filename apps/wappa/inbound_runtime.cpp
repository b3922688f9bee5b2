#include "inbound_runtime.hpp"

#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include <iostream>

#include "common.hpp"
#include "worker_endpoint.hpp"
#include "wappa/core/exit_codes.hpp"
#include "wappa/http/server.hpp"
#include "wappa/pg/inbound_store.hpp"
#include "wappa/pg/pool.hpp"
#include "wappa/queue/inbound_stream.hpp"
#include "wappa/queue/outbound_queue.hpp"
#include "wappa/redis/client.hpp"
#include "wappa/redis/connection.hpp"
#include "wappa/service/heartbeat.hpp"
#include "wappa/service/inbound_admin.hpp"
#include "wappa/service/inbound_worker.hpp"
#include "wappa/service/outbound_admin.hpp"
#include "wappa/service/outbound_jobs.hpp"

namespace wappa::app {

std::string consumer_name() {
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    return std::string(host) + ":" + std::to_string(::getpid());
}

struct InboundRuntime::Parts {
    Parts(const config::Config& c, metrics::Registry& r, std::optional<config::Address> listen)
        : config(c),
          registry(r),
          metrics(r),
          metrics_listen(std::move(listen)),
          redis(io.get_executor(), redis_settings(c, "redis-inbound")),
          reader(io.get_executor(), reader_settings(c)),
          outbound(redis, service::outbound_settings(c)),
          stream(reader, redis, service::inbound_stream_settings(c, consumer_name()), service::tenant_ids(c)) {
        if (!c.postgres.url.empty()) {
            auto settings = postgres_settings(c);
            settings.name = "inbound";
            pool = std::make_unique<pg::Pool>(io.get_executor(), settings);
            pool->count_into(r);
            store = std::make_unique<pg::InboundStore>(*pool);
        }
        worker = std::make_unique<service::InboundWorker>(c, stream, outbound, redis, store.get(), metrics);
        // Process-wide: what an event costs on the wire (bench/inbound.sh divides by events).
        r.gauge("wappa_redis_round_trips", "Writes to Redis by this process since it started (each one round trip).",
                [] { return static_cast<double>(redis::round_trips()); });
        r.gauge("wappa_postgres_round_trips", "Statement pipelines sent to PostgreSQL by this process since it started (each one round trip).",
                [] { return static_cast<double>(pg::round_trips()); });
    }

    static redis::Settings reader_settings(const config::Config& c) {
        auto s = redis_settings(c, "redis-inbound-read");
        // A blocking read waits up to 2 s: its answer must not count as late.
        s.command_timeout = std::max(s.command_timeout, config::Duration(10'000));
        return s;
    }
    const config::Config& config;
    metrics::Registry& registry;
    service::InboundMetrics metrics;
    std::optional<config::Address> metrics_listen;
    std::unique_ptr<http::Server> server;
    net::io_context io{1};
    redis::Client redis;
    redis::Client reader;
    queue::OutboundQueue outbound;
    queue::InboundStream stream;
    std::unique_ptr<pg::Pool> pool;
    std::unique_ptr<pg::InboundStore> store;
    std::unique_ptr<service::InboundWorker> worker;
    service::Heartbeat heartbeat{redis, service::workers_key(config.redis.key_prefix), "inbound@" + consumer_name()};
    bool stopping = false;
};

InboundRuntime::InboundRuntime(const config::Config& config, metrics::Registry& registry,
                               std::optional<config::Address> metrics_listen)
    : parts_(std::make_unique<Parts>(config, registry, std::move(metrics_listen))) {}

Status InboundRuntime::prepare() {
    auto& p = *parts_;
    if (!p.metrics_listen) return {};
    auto server = serve_worker_probes(p.io.get_executor(), *p.metrics_listen,
                                      WorkerProbes{p.registry, p.redis, p.stopping, nullptr, p.pool.get()});
    if (!server) return server.error();
    p.server = std::move(server.value());
    return {};
}

InboundRuntime::~InboundRuntime() = default;

net::io_context& InboundRuntime::io() { return parts_->io; }

void InboundRuntime::stop() {
    net::post(parts_->io, [&p = *parts_] {
        if (p.stopping) return;
        p.stopping = true;
        p.worker->stop();
    });
}

int InboundRuntime::run() {
    auto& p = *parts_;
    p.redis.start();
    p.reader.start();
    int code = exit_code::ok;
    auto body = [&p, &code, &running = running_]() -> Task<void> {
        auto connected = co_await p.redis.wait_connected(p.config.redis.connect_timeout);
        if (connected) connected = co_await p.reader.wait_connected(p.config.redis.connect_timeout);
        if (!connected) {
            std::cerr << "wappa worker: " << connected.error().message << " (redis.url)\n";
            code = exit_code::unavailable;
        } else {
            spdlog::info("inbound worker running consumer={} postgres={} bot={}", p.stream.settings().consumer,
                         p.config.postgres.url.empty() ? "none" : "configured", p.config.bot.mode);
            running = true;
            auto executor = co_await net::this_coro::executor;
            net::co_spawn(executor, p.heartbeat.run(), net::detached);
            co_await p.worker->run();
            running = false;
            p.heartbeat.stop();
            const auto& s = p.worker->stats();
            spdlog::info("inbound worker stopped stored={} duplicates={} statuses={} failed={} replies={}", s.stored, s.duplicates,
                         s.statuses, s.failed, s.replies);
        }
        if (p.server) co_await p.server->shutdown(config::Duration(1'000));
        p.redis.stop();
        p.reader.stop();
    };
    net::co_spawn(p.io, body(), net::detached);
    p.io.run();
    return code;
}

}  // namespace wappa::app
