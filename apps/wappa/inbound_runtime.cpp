#include "inbound_runtime.hpp"

#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include <iostream>

#include "common.hpp"
#include "wappa/core/exit_codes.hpp"
#include "wappa/pg/inbound_store.hpp"
#include "wappa/pg/pool.hpp"
#include "wappa/queue/inbound_stream.hpp"
#include "wappa/queue/outbound_queue.hpp"
#include "wappa/redis/client.hpp"
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
    Parts(const config::Config& c, metrics::Registry& r)
        : config(c),
          metrics(r),
          redis(io.get_executor(), redis_settings(c, "redis-inbound")),
          reader(io.get_executor(), reader_settings(c)),
          outbound(redis, service::outbound_settings(c)),
          stream(reader, redis, stream_settings(c), service::tenant_ids(c)) {
        if (!c.postgres.url.empty()) {
            pool = std::make_unique<pg::Pool>(io.get_executor(), postgres_settings(c));
            store = std::make_unique<pg::InboundStore>(*pool);
        }
        worker = std::make_unique<service::InboundWorker>(c, stream, outbound, redis, store.get(), metrics);
    }

    static redis::Settings reader_settings(const config::Config& c) {
        auto s = redis_settings(c, "redis-inbound-read");
        // A blocking read waits up to 2 s: its answer must not count as late.
        s.command_timeout = std::max(s.command_timeout, config::Duration(10'000));
        return s;
    }
    static queue::InboundStreamSettings stream_settings(const config::Config& c) {
        queue::InboundStreamSettings s;
        s.prefix = c.redis.key_prefix;
        s.group = c.inbound.consumer_group;
        s.consumer = consumer_name();
        s.batch = static_cast<std::size_t>(c.inbound.batch);
        s.claim_idle = c.inbound.claim_idle;
        s.failed_max = c.inbound.failed_max;
        return s;
    }

    const config::Config& config;
    service::InboundMetrics metrics;
    net::io_context io{1};
    redis::Client redis;
    redis::Client reader;
    queue::OutboundQueue outbound;
    queue::InboundStream stream;
    std::unique_ptr<pg::Pool> pool;
    std::unique_ptr<pg::InboundStore> store;
    std::unique_ptr<service::InboundWorker> worker;
    bool stopping = false;
};

InboundRuntime::InboundRuntime(const config::Config& config, metrics::Registry& registry)
    : parts_(std::make_unique<Parts>(config, registry)) {}

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
            co_await p.worker->run();
            running = false;
            const auto& s = p.worker->stats();
            spdlog::info("inbound worker stopped stored={} duplicates={} statuses={} failed={} replies={}", s.stored, s.duplicates,
                         s.statuses, s.failed, s.replies);
        }
        p.redis.stop();
        p.reader.stop();
    };
    net::co_spawn(p.io, body(), net::detached);
    p.io.run();
    return code;
}

}  // namespace wappa::app
