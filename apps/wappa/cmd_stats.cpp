// wappa stats: queue depths (outbound and inbound), send figures, paused tenants and, with
// PostgreSQL, our messages by delivery status.
#include <unistd.h>

#include <iostream>
#include <optional>
#include <vector>
#include <thread>

#include "common.hpp"
#include "one_shot.hpp"
#include "wappa/config/units.hpp"
#include "wappa/core/exit_codes.hpp"
#include <boost/asio/co_spawn.hpp>

#include "wappa/pg/pool.hpp"
#include "wappa/queue/outbound_queue.hpp"
#include "wappa/service/health.hpp"
#include "wappa/service/inbound_admin.hpp"
#include "wappa/service/outbound_admin.hpp"
#include "wappa/service/outbound_jobs.hpp"

namespace wappa::app {
namespace {

struct StatsOptions {
    bool json = false;
    double watch = 0;
    std::optional<std::int64_t> max_depth;   // exit 1 when a queue holds more waiting jobs
    std::string max_age;                     // exit 1 when a queue's oldest waiting job is older
};

long long n(std::int64_t v) { return static_cast<long long>(v); }

void print_table(const queue::QueueStats& stats) {
    const auto total = stats.total();
    std::printf("outbound   queued %8lld   delayed %8lld   in flight %8lld   unknown %8lld   failed %8lld\n", n(total.queued),
                n(total.delayed), n(total.in_flight), n(total.unknown), n(total.failed));
    std::printf("mean time from queued to sent: %lld ms\n", n(service::mean_send_latency_ms(total)));
    std::printf("%-16s %9s %9s %9s %9s %9s %9s %9s  %s\n", "tenant", "queued", "delayed", "in flight", "unknown", "failed", "sent",
                "requeued", "state");
    for (const auto& [tenant, s] : stats.tenants) {
        const auto counter = [&s](const char* name) {
            const auto it = s.counters.find(name);
            return it == s.counters.end() ? 0LL : n(it->second);
        };
        const auto state = s.paused ? "PAUSED since " + service::utc_of_ms(s.paused->since) + " (code " + s.paused->code + ": " +
                                          s.paused->error + ")"
                                    : std::string("sending");
        std::printf("%-16s %9lld %9lld %9lld %9lld %9lld %9lld %9lld  %s\n", tenant.c_str(), n(s.queued), n(s.delayed),
                    n(s.in_flight), n(s.unknown), n(s.failed), counter("sent"), counter("requeued"), state.c_str());
    }
    std::fflush(stdout);
}

void print_inbound(const service::InboundView& view) {
    std::int64_t length = 0, pending = 0, lag = 0, failed = 0, oldest = 0;
    for (const auto& [tenant, s] : view.tenants) {
        length += s.length;
        failed += s.failed;
        oldest = std::max(oldest, s.oldest_age_ms);
        for (const auto& [g, v] : s.pending) pending += v;
        for (const auto& [g, v] : s.lag) lag += v;
    }
    std::printf("\ninbound    in stream %8lld   pending %8lld   unread %8lld   failed %8lld   oldest %lld ms\n", n(length), n(pending),
                n(lag), n(failed), n(oldest));
    std::printf("%-16s %9s %9s %9s %9s %12s  %s\n", "tenant", "in stream", "pending", "unread", "failed", "oldest ms", "pending per group");
    for (const auto& [tenant, s] : view.tenants) {
        std::int64_t p = 0, l = 0;
        std::string groups;
        for (const auto& [g, v] : s.pending) {
            p += v;
            groups += (groups.empty() ? "" : ", ") + g + "=" + std::to_string(v);
        }
        for (const auto& [g, v] : s.lag) l += v;
        std::printf("%-16s %9lld %9lld %9lld %9lld %12lld  %s\n", tenant.c_str(), n(s.length), n(p), n(l), n(s.failed), n(s.oldest_age_ms),
                    groups.empty() ? "(no consumer group yet: no inbound worker has run)" : groups.c_str());
    }
    if (view.delivery) {
        std::printf("\ndelivery status of our messages (PostgreSQL)\n");
        for (const auto& [tenant, counts] : *view.delivery) {
            std::string line;
            for (const auto& [status, count] : counts) line += "  " + status + "=" + std::to_string(count);
            std::printf("%-16s%s\n", tenant.c_str(), line.c_str());
        }
    } else if (!view.delivery_error.empty()) {
        std::printf("\ndelivery status: PostgreSQL unavailable: %s\n", view.delivery_error.c_str());
    }
    std::fflush(stdout);
}

struct Figures {
    queue::QueueStats outbound;
    service::InboundView inbound;
};

// What is over the limits of --max-depth / --max-age, one line each. Waiting jobs: outbound,
// due now or planned later (queued + delayed); inbound, not yet stored by a worker (unread +
// pending). A stream no consumer group reads (no inbound worker: notifications only) is no queue.
std::vector<std::string> over_limits(const Figures& f, std::optional<std::int64_t> max_depth, std::optional<std::int64_t> max_age_ms) {
    std::vector<std::string> out;
    const auto now = f.outbound.now;
    for (const auto& [tenant, s] : f.outbound.tenants) {
        const auto depth = s.queued + s.delayed;
        const auto age = s.oldest_due > 0 ? now - s.oldest_due : 0;
        if (max_depth && depth > *max_depth) {
            out.push_back("outbound queue of tenant " + tenant + ": " + std::to_string(depth) + " waiting > --max-depth " + std::to_string(*max_depth));
        }
        if (max_age_ms && age > *max_age_ms) {
            out.push_back("outbound queue of tenant " + tenant + ": oldest due message waiting " + std::to_string(age) + " ms > --max-age");
        }
    }
    for (const auto& [tenant, s] : f.inbound.tenants) {
        std::int64_t depth = 0;
        for (const auto& [g, v] : s.pending) depth += v;
        for (const auto& [g, v] : s.lag) depth += v;
        if (max_depth && depth > *max_depth) {
            out.push_back("inbound queue of tenant " + tenant + ": " + std::to_string(depth) + " not stored yet > --max-depth " + std::to_string(*max_depth));
        }
        // The stream keeps stored events until its next trim: its oldest counts only while
        // something waits.
        if (max_age_ms && depth > 0 && s.oldest_age_ms > *max_age_ms) {
            out.push_back("inbound queue of tenant " + tenant + ": oldest event " + std::to_string(s.oldest_age_ms) + " ms old > --max-age");
        }
    }
    return out;
}

int run_stats(const GlobalOptions& global, const StatsOptions& o) {
    std::optional<std::int64_t> max_age_ms;
    if (!o.max_age.empty()) {
        auto age = config::parse_duration(o.max_age);
        if (!age) {
            std::cerr << "wappa stats: --max-age: " << age.error().message << "\n";
            return exit_code::usage;
        }
        max_age_ms = age->count();
    }
    auto config = load_config_or_report(global);
    if (!config) return exit_code::config;
    const auto tenants = service::tenant_ids(*config);
    for (;;) {
        auto figures = with_redis<Figures>(*config, [&](redis::Client& client) -> Task<Result<Figures>> {
            queue::OutboundQueue outbound(client, service::outbound_settings(*config));
            auto stats = co_await outbound.stats(tenants);
            if (!stats) co_return stats.error();
            queue::InboundStream stream(client, client, service::inbound_stream_settings(*config), tenants);
            std::unique_ptr<pg::Pool> pool;
            auto executor = co_await net::this_coro::executor;
            if (!config->postgres.url.empty()) pool = std::make_unique<pg::Pool>(executor, postgres_settings(*config));
            auto inbound = co_await service::inbound_view(stream, pool.get());
            if (!inbound) co_return inbound.error();
            co_return Figures{std::move(stats.value()), std::move(inbound.value())};
        });
        if (!figures) {
            std::cerr << "wappa stats: " << figures.error().message << "\n";
            return exit_code::unavailable;
        }
        if (!o.json) {
            if (o.watch > 0 && ::isatty(STDOUT_FILENO) == 1) std::printf("\x1b[H\x1b[2J");
            print_table(figures->outbound);
            print_inbound(figures->inbound);
        } else {
            std::string more;
            service::append_inbound_json(more, figures->inbound);
            std::cout << service::stats_json(figures->outbound, {}, more) << std::endl;
        }
        const auto over = over_limits(*figures, o.max_depth, max_age_ms);
        for (const auto& line : over) std::cerr << "wappa stats: " << line << "\n";
        if (!figures->inbound.delivery_error.empty()) {
            std::cerr << "wappa stats: PostgreSQL (postgres.url): " << figures->inbound.delivery_error << "\n";
            if (o.watch <= 0) return exit_code::unavailable;   // before a limit: a dependency is down
        }
        if (o.watch <= 0) return over.empty() ? exit_code::ok : exit_code::failure;
        std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<long long>(o.watch * 1000)));
    }
}

}  // namespace

Command setup_stats(CLI::App& app, const GlobalOptions& global) {
    auto o = std::make_shared<StatsOptions>();
    auto* cmd = app.add_subcommand("stats", "Queue depths (outbound and inbound), send figures, paused tenants, delivery counts");
    cmd->add_flag("--json", o->json, "JSON output");
    cmd->add_option("--watch", o->watch, "Refresh every SECONDS")->check(CLI::PositiveNumber);
    cmd->add_option("--max-depth", o->max_depth, "Exit 1 when a queue holds more than N waiting jobs (for cron and probes)")
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--max-age", o->max_age, "Exit 1 when a queue's oldest waiting job is older than DURATION (\"30s\", \"5m\")");
    return {cmd, [&global, o] { return run_stats(global, *o); }};
}

}  // namespace wappa::app
