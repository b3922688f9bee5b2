// wappa stats: queue depths, send figures and paused tenants.
#include <unistd.h>

#include <iostream>
#include <thread>

#include "common.hpp"
#include "one_shot.hpp"
#include "wappa/core/exit_codes.hpp"
#include "wappa/queue/outbound_queue.hpp"
#include "wappa/service/health.hpp"
#include "wappa/service/outbound_admin.hpp"
#include "wappa/service/outbound_jobs.hpp"

namespace wappa::app {
namespace {

struct StatsOptions {
    bool json = false;
    double watch = 0;
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

int run_stats(const GlobalOptions& global, const StatsOptions& o) {
    auto config = load_config_or_report(global);
    if (!config) return exit_code::config;
    const auto tenants = service::tenant_ids(*config);
    for (;;) {
        auto stats = with_redis<queue::QueueStats>(*config, [&](redis::Client& client) -> Task<Result<queue::QueueStats>> {
            queue::OutboundQueue outbound(client, service::outbound_settings(*config));
            co_return co_await outbound.stats(tenants);
        });
        if (!stats) {
            std::cerr << "wappa stats: " << stats.error().message << "\n";
            return exit_code::unavailable;
        }
        if (!o.json) {
            if (o.watch > 0 && ::isatty(STDOUT_FILENO) == 1) std::printf("\x1b[H\x1b[2J");
            print_table(stats.value());
        } else {
            std::cout << service::stats_json(stats.value()) << std::endl;
        }
        if (o.watch <= 0) return exit_code::ok;
        std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<long long>(o.watch * 1000)));
    }
}

}  // namespace

Command setup_stats(CLI::App& app, const GlobalOptions& global) {
    auto o = std::make_shared<StatsOptions>();
    auto* cmd = app.add_subcommand("stats", "Queue depths, send figures and paused tenants");
    cmd->add_flag("--json", o->json, "JSON output");
    cmd->add_option("--watch", o->watch, "Refresh every SECONDS")->check(CLI::PositiveNumber);
    return {cmd, [&global, o] { return run_stats(global, *o); }};
}

}  // namespace wappa::app
