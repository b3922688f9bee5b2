#include "outbound_runtime.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include <iostream>

#include "common.hpp"
#include "wappa/core/exit_codes.hpp"
#include "wappa/core/json.hpp"
#include "wappa/graph/transport.hpp"
#include "wappa/http/server.hpp"
#include "wappa/pg/outbound_ledger.hpp"
#include "wappa/pg/pool.hpp"
#include "wappa/queue/outbound/keys.hpp"
#include "wappa/queue/inbound_queue.hpp"
#include "wappa/queue/outbound_queue.hpp"
#include "wappa/redis/client.hpp"
#include "wappa/redis/subscriber.hpp"
#include "wappa/service/health.hpp"
#include "wappa/service/heartbeat.hpp"
#include "inbound_runtime.hpp"
#include "worker_endpoint.hpp"
#include "wappa/service/outbound_admin.hpp"
#include "wappa/service/outbound_jobs.hpp"
#include "wappa/service/outbound_worker.hpp"
#include "wappa/service/queue_gauges.hpp"
#include "wappa/service/sandbox_feedback.hpp"
#include "wappa/service/worker_metrics.hpp"

namespace wappa::app {

struct OutboundRuntime::Parts {
    Parts(const config::Config& c, std::size_t concurrency, metrics::Registry& r, std::optional<config::Address> listen,
          bool own_gauges)
        : config(c), registry(r), metrics(r), redis(io.get_executor(), redis_settings(c, "redis-worker")),
          queue(redis, service::outbound_settings(c)), concurrency(concurrency), metrics_listen(std::move(listen)) {
        if (own_gauges) gauges = std::make_unique<service::QueueGauges>(r);
    }

    const config::Config& config;
    metrics::Registry& registry;
    service::WorkerMetrics metrics;
    net::io_context io{1};
    redis::Client redis;
    queue::OutboundQueue queue;
    std::size_t concurrency;
    std::optional<config::Address> metrics_listen;
    std::unique_ptr<service::QueueGauges> gauges;
    std::unique_ptr<graph::Transport> transport;
    std::unique_ptr<service::OutboundWorker> worker;
    std::unique_ptr<queue::InboundQueue> inbound;            // the sandbox's statuses go in there
    std::unique_ptr<service::SandboxFeedback> feedback;
    std::unique_ptr<pg::Pool> pool;                          // with [postgres] url: the states' mirror
    std::unique_ptr<pg::OutboundLedger> ledger;
    service::Heartbeat heartbeat{redis, service::workers_key(config.redis.key_prefix), "outbound@" + consumer_name()};
    std::unique_ptr<http::Server> server;
    net::steady_timer stopped{io, net::steady_timer::time_point::max()};   // expires on stop
    bool stopping = false;
};

namespace {

// Wakes from the queue (a lane got earlier work), on a connection of their own; after a lost
// connection, wakes may have been missed and the worker looks at every lane again.
Task<void> follow_wakes(const config::Config& config, service::OutboundWorker& worker, std::vector<std::string> channels) {
    redis::SubscriberEvents events;
    events.on_message = [&worker](const redis::PubsubMessage& m) { worker.wake(m.payload); };
    // Wakes published before this subscription (or while it was lost) were missed.
    events.on_subscribed = [&worker](bool) { worker.resync(); };
    events.on_disconnected = [](const std::string& error, config::Duration retry_in) {
        spdlog::warn("the worker's wake subscription was lost ({}); reconnecting in {}", error, config::format_duration(retry_in));
    };
    co_await redis::run_subscriber(redis_settings(config, "redis-wake"), std::move(channels), std::vector<std::string>(),
                                   std::move(events));
}

}  // namespace

OutboundRuntime::OutboundRuntime(const config::Config& config, std::size_t concurrency, metrics::Registry& registry,
                                 std::optional<config::Address> metrics_listen, bool queue_gauges)
    : parts_(std::make_unique<Parts>(config, concurrency, registry, std::move(metrics_listen), queue_gauges)) {}

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
    if (g.base_url == "sandbox" && g.sandbox_statuses) {
        p.inbound = std::make_unique<queue::InboundQueue>(p.redis, p.config.redis.key_prefix, p.config.server.dedup_ttl,
                                                          inbound_stream_cap(p.config), p.config.pubsub.event_log_max_len);
        p.feedback = std::make_unique<service::SandboxFeedback>(p.config, *p.inbound, p.queue);
    }
    if (!p.config.postgres.url.empty()) {
        auto pg_settings = postgres_settings(p.config);
        pg_settings.name = "outbound";
        pg_settings.pool_size = 1;   // one batch in flight at a time
        p.pool = std::make_unique<pg::Pool>(p.io.get_executor(), pg_settings);
        p.pool->count_into(p.registry);
        p.ledger = std::make_unique<pg::OutboundLedger>(*p.pool, p.registry);
    }
    if (p.feedback || p.ledger) {
        p.worker->on_transition([&p](const queue::Claim& claim, const service::OutboundWorker::Transition& t) {
            if (p.feedback && t.status == "sent") p.feedback->sent({claim.tenant, claim.sender, claim.to_number, claim.message_id, std::string(t.wamid)});
            if (p.ledger) {
                pg::OutboundTransition row;
                row.tenant = claim.tenant;
                row.message_id = claim.message_id;
                row.to_number = claim.to_number;
                row.type = claim.type;
                row.status = t.status;
                row.attempts = t.attempts;
                row.wamid = t.wamid;
                if (t.error_code != 0) row.error_code = t.error_code;
                row.error = t.error;
                row.created_at_ms = claim.created_at;
                if (t.status == "sending") row.payload = claim.graph_body;
                p.ledger->record(std::move(row));
            }
        });
    }
    if (p.metrics_listen) {
        auto server = serve_worker_probes(p.io.get_executor(), *p.metrics_listen,
                                          WorkerProbes{p.registry, p.redis, p.stopping, p.gauges.get(), p.pool.get()});
        if (!server) return server.error();
        p.server = std::move(server.value());
    }
    return {};
}

void OutboundRuntime::stop() {
    net::post(parts_->io, [&p = *parts_] {
        if (p.stopping) return;
        p.stopping = true;
        p.stopped.expires_at(net::steady_timer::time_point::min());   // also wakes a later wait
        if (p.worker) p.worker->stop();
        if (p.feedback) p.feedback->stop();
    });
}

int OutboundRuntime::run(config::Duration grace) {
    using namespace net::experimental::awaitable_operators;
    auto& p = *parts_;
    p.redis.start();
    int code = exit_code::ok;
    auto body = [&p, &code, grace, &running = running_]() -> Task<void> {
        if (auto connected = co_await p.redis.wait_connected(p.config.redis.connect_timeout); !connected) {
            std::cerr << "wappa worker: " << connected.error().message << " (redis.url)\n";
            code = exit_code::unavailable;
        } else {
            spdlog::info("outbound worker running concurrency={} graph={} tenants={}", p.concurrency, p.config.graph.base_url,
                         p.config.tenants.size());
            auto executor = co_await net::this_coro::executor;
            if (p.gauges) {
                net::co_spawn(executor, service::refresh_queue_gauges(p.queue, service::tenant_ids(p.config), *p.gauges, p.stopped,
                                                                      config::Duration(5'000)), net::detached);
            }
            auto wakes = follow_wakes(p.config, *p.worker, std::vector<std::string>(1, queue::wake_channel(p.config.redis.key_prefix)));
            net::co_spawn(executor, std::move(wakes) || p.stopped.async_wait(net::as_tuple(net::use_awaitable)), net::detached);
            if (p.feedback) net::co_spawn(executor, p.feedback->run(), net::detached);
            if (p.ledger) net::co_spawn(executor, p.ledger->run(), net::detached);
            running = true;
            net::co_spawn(executor, p.heartbeat.run(), net::detached);
            co_await p.worker->run(grace);
            running = false;
            p.heartbeat.stop();
            const auto& s = p.worker->stats();
            spdlog::info("outbound worker stopped sent={} retried={} not_sent={} unknown={} throttled={} paused={} failed={}", s.sent,
                         s.retried, s.not_sent, s.unknown, s.throttled, s.paused, s.failed);
        }
        p.stopping = true;
        p.stopped.expires_at(net::steady_timer::time_point::min());   // also wakes a later wait
        if (p.feedback) p.feedback->stop();
        if (p.ledger) p.ledger->stop();   // writes what is buffered, once more
        if (p.server) co_await p.server->shutdown(config::Duration(1'000));
        p.redis.stop();
    };
    net::co_spawn(p.io, body(), net::detached);
    p.io.run();
    return code;
}

}  // namespace wappa::app
