// wappa serve: webhooks in, live notifications out, health and metrics.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <spdlog/spdlog.h>

#include <sys/resource.h>

#include <iostream>
#include <thread>

#include "common.hpp"
#include "inbound_runtime.hpp"
#include "outbound_runtime.hpp"
#include "wappa/core/exit_codes.hpp"
#include "wappa/http/server.hpp"
#include "wappa/live/hub.hpp"
#include "wappa/metrics/metrics.hpp"
#include "wappa/pg/pool.hpp"
#include "wappa/queue/inbound_queue.hpp"
#include "wappa/queue/inbound_stream.hpp"
#include "wappa/service/inbound_admin.hpp"
#include "wappa/queue/outbound_queue.hpp"
#include "wappa/service/message_api.hpp"
#include "wappa/service/outbound_admin.hpp"
#include "wappa/service/outbound_jobs.hpp"
#include "wappa/service/queue_gauges.hpp"
#include "wappa/redis/client.hpp"
#include "wappa/service/serve_metrics.hpp"
#include "wappa/service/serve_router.hpp"
#include "wappa/service/webhook_intake.hpp"

namespace wappa::app {
namespace {

struct ServeOptions {
    std::string listen;
    bool with_worker = false;
};

// One connection per loop at most: health checks and the delivery counts of stats.
std::unique_ptr<pg::Pool> open_postgres(const config::Config& config, net::io_context& io, metrics::Registry& registry) {
    if (config.postgres.url.empty()) return nullptr;
    auto settings = postgres_settings(config);
    settings.name = "serve";
    settings.pool_size = 1;
    auto pool = std::make_unique<pg::Pool>(io.get_executor(), settings);
    pool->count_into(registry);
    return pool;
}

live::HubSettings hub_settings(const config::Config& config) {
    live::HubSettings s;
    s.prefix = config.redis.key_prefix;
    s.tenants = service::tenant_ids(config);
    s.redis = redis_settings(config, "redis-live");
    s.queue_limit = static_cast<std::size_t>(config.pubsub.client_queue_limit);
    s.ping_interval = config.pubsub.client_ping_interval;
    s.event_log_max_len = config.pubsub.event_log_max_len;
    return s;
}

// Everything one event-loop thread owns: nothing here is shared with another thread.
struct Loop {
    Loop(const config::Config& config, config::Address listen, service::ServeMetrics& metrics,
         metrics::Registry& registry, const std::atomic<bool>* worker_running, const std::atomic<bool>* inbound_running,
         const service::QueueGauges& gauges, live::LiveMetrics& live_metrics)
        : redis(io.get_executor(), redis_settings(config, "redis")),
          queue(redis, config.redis.key_prefix, config.server.dedup_ttl, inbound_stream_cap(config), config.pubsub.event_log_max_len),
          outbound(redis, service::outbound_settings(config)),
          intake(config, queue, outbound, metrics),
          messages(config, outbound),
          inbound_stream(redis, redis, service::inbound_stream_settings(config), service::tenant_ids(config)),
          postgres(open_postgres(config, io, registry)),
          admin(config, outbound, &inbound_stream, postgres.get()),
          hub(io.get_executor(), hub_settings(config), redis, live_metrics),
          server(io.get_executor(),
                 http::ServerSettings{std::move(listen), config.server.body_limit.value, config.server.read_timeout,
                                      config.server.write_timeout, true},
                 service::make_serve_handler({config, intake, messages, admin, redis, metrics, registry, worker_running, &gauges,
                                                             postgres.get(), inbound_running, &hub}),
                 [&metrics](int status) { metrics.http_requests.inc({"rejected", std::to_string(status)}); }) {}

    net::io_context io{1};
    redis::Client redis;
    queue::InboundQueue queue;
    queue::OutboundQueue outbound;
    service::WebhookIntake intake;
    service::MessageApi messages;
    queue::InboundStream inbound_stream;   // the inbound side of stats and requeue
    std::unique_ptr<pg::Pool> postgres;    // for health and delivery counts
    service::AdminApi admin;
    live::Hub hub;                         // live events of this loop's SSE and WebSocket clients
    http::Server server;
};

Task<void> warn_unless_noeviction(redis::Client& client) {
    auto reply = co_await client.exec(redis::Command("CONFIG", "GET", "maxmemory-policy"));
    if (!reply || reply->is_error() || reply->elements.size() < 2) {
        spdlog::warn("could not read redis maxmemory-policy ({}); make sure it is noeviction",
                     reply ? reply->str : reply.error().message);
        co_return;
    }
    const auto& policy = reply->elements[1].str;
    if (policy != "noeviction") {
        spdlog::warn("REDIS maxmemory-policy IS '{}', NOT 'noeviction': under memory pressure Redis will DELETE queued "
                     "messages. Set 'maxmemory-policy noeviction' on this Redis.", policy);
    }
}

// Starts the loop's Redis client and runs its event loop until connected (or timed out), so
// that no thread accepts a webhook before it can queue one.
Status connect_redis(Loop& loop, const config::Config& config, bool check_policy) {
    loop.redis.start();
    auto connect = [&]() -> Task<Status> {
        auto status = co_await loop.redis.wait_connected(config.redis.connect_timeout);
        if (status && check_policy) co_await warn_unless_noeviction(loop.redis);
        if (status) {
            if (auto live = co_await loop.hub.prepare(); !live) spdlog::warn("live events: {} (retrying)", live.error().message);
        }
        co_return status;
    };
    auto connected = net::co_spawn(loop.io, connect(), net::use_future);
    while (connected.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
        loop.io.run_one_for(std::chrono::milliseconds(100));
    }
    return connected.get();
}

// Every live client holds a socket: take the open-file limit up to its hard limit (as nginx's
// worker_rlimit_nofile or Go's runtime do), so that a soft limit of 1024 is not the ceiling.
void raise_open_file_limit() {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
    const auto soft = limit.rlim_cur;
    limit.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &limit) == 0) spdlog::debug("open-file limit raised from {} to {}", soft, limit.rlim_max);
}

int run_serve(const GlobalOptions& global, const ServeOptions& options) {
    auto loaded = load_config_or_report(global);
    if (!loaded) return exit_code::config;
    auto config = std::move(*loaded);
    if (!options.listen.empty()) {
        if (auto a = config::parse_address(options.listen); !a) {
            std::cerr << "wappa serve: --listen: " << a.error().message << "\n";
            return exit_code::usage;
        }
        config.server.listen = options.listen;
    }
    if (config.tenants.empty()) spdlog::warn("no [[tenants]] configured: every webhook will be refused");
    raise_open_file_limit();

    const auto threads = config.server.threads > 0 ? static_cast<int>(config.server.threads)
                                                   : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
    metrics::Registry registry;
    service::ServeMetrics metrics(registry);
    service::QueueGauges gauges(registry);
    live::LiveMetrics live_metrics(registry);
    auto listen = config::parse_address(config.server.listen).value();
    // --with-worker: both workers, each on a thread and Redis connections of its own.
    std::unique_ptr<OutboundRuntime> worker;
    std::unique_ptr<InboundRuntime> inbound;
    if (options.with_worker) {
        inbound = std::make_unique<InboundRuntime>(config, registry);
        worker = std::make_unique<OutboundRuntime>(config, 64, registry, std::nullopt, false);
        if (auto prepared = worker->prepare(); !prepared) {
            allow_termination_signals();
            std::cerr << "wappa serve: --with-worker: " << prepared.error().message << "\n";
            return exit_code::config;
        }
    }

    const std::atomic<bool>* worker_running = worker ? &worker->running() : nullptr;
    const std::atomic<bool>* inbound_running = inbound ? &inbound->running() : nullptr;
    std::vector<std::unique_ptr<Loop>> loops;
    loops.push_back(std::make_unique<Loop>(config, listen, metrics, registry, worker_running, inbound_running, gauges, live_metrics));

    auto& first = *loops.front();
    // Signals are caught from the start: a SIGTERM during start-up is a clean stop too.
    bool stopping = false;
    net::steady_timer stopped(first.io, net::steady_timer::time_point::max());   // expires on SIGTERM
    net::signal_set signals(first.io, SIGINT, SIGTERM);
    allow_termination_signals();  // the other threads are started later and inherit this mask
    signals.async_wait([&](const boost::system::error_code& ec, int signal) {
        if (ec) return;
        stopping = true;
        stopped.expires_at(net::steady_timer::time_point::min());   // also wakes a later wait
        spdlog::info("signal {} received: finishing requests in progress, then stopping", signal);
        if (worker) worker->stop();
        if (inbound) inbound->stop();
        for (auto& loop : loops) {
            net::co_spawn(loop->io, [&l = *loop]() -> Task<void> {
                l.hub.stop();
                co_await l.server.shutdown(std::chrono::seconds(10));
                l.redis.stop();
            }, net::detached);
        }
    });

    // Redis first: a gateway that cannot queue must not accept webhooks. Every loop connects
    // before any socket listens, so no thread answers 503 just because it started late.
    if (auto status = connect_redis(first, config, true); !status && !stopping) {
        std::cerr << "wappa serve: " << status.error().message << " (redis.url)\n";
        return exit_code::unavailable;
    }
    for (int i = 1; i < threads && !stopping; ++i) {
        auto& loop = *loops.emplace_back(std::make_unique<Loop>(config, listen, metrics, registry, worker_running, inbound_running, gauges, live_metrics));
        if (auto status = connect_redis(loop, config, false); !status) {
            spdlog::warn("event loop {} has no redis connection yet (it keeps trying): {}", i, status.error().message);
        }
    }
    // Loop 0 binds first so that port 0 resolves to one port shared by every loop.
    if (auto status = first.server.listen(); !status) {
        std::cerr << "wappa serve: " << status.error().message << "\n";
        return exit_code::unavailable;
    }
    listen.port = first.server.port();
    for (std::size_t i = 1; i < loops.size(); ++i) {
        if (auto status = loops[i]->server.listen(listen.port); !status) {
            std::cerr << "wappa serve: " << status.error().message << "\n";
            return exit_code::unavailable;
        }
    }
    if (stopping) {
        first.io.run();
        return exit_code::ok;
    }
    for (auto& loop : loops) {
        loop->hub.start();
        loop->server.start();
    }
    net::co_spawn(first.io, service::refresh_queue_gauges(first.outbound, service::tenant_ids(config), gauges, stopped,
                                                          config::Duration(5'000)), net::detached);
    spdlog::info("wappa serve listening on {}:{} threads={} tenants={}", listen.host.empty() ? "*" : listen.host,
                 listen.port, threads, config.tenants.size());

    std::vector<std::thread> workers;
    for (std::size_t i = 1; i < loops.size(); ++i) workers.emplace_back([&loop = *loops[i]] { loop.io.run(); });
    if (worker) {
        workers.emplace_back([&worker] { worker->run(config::Duration(10'000)); });
        workers.emplace_back([&inbound] { inbound->run(); });
        spdlog::info("outbound and inbound workers running in this process (--with-worker)");
    }
    first.io.run();
    for (auto& t : workers) t.join();
    spdlog::info("wappa serve stopped");
    return exit_code::ok;
}

}  // namespace

Command setup_serve(CLI::App& app, const GlobalOptions& global) {
    auto o = std::make_shared<ServeOptions>();
    auto* cmd = app.add_subcommand("serve", "Run the HTTP server: Meta webhooks, health, metrics");
    cmd->add_option("--listen", o->listen, "Listen address host:port (overrides server.listen)");
    cmd->add_flag("--with-worker", o->with_worker, "Also run the outbound and inbound workers in this process");
    return {cmd, [&global, o] { return run_serve(global, *o); }, true};
}

}  // namespace wappa::app
