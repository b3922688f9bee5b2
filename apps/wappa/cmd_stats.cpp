// wappa stats: queue depths and send figures.
#include <unistd.h>

#include <iostream>
#include <thread>

#include "common.hpp"
#include "one_shot.hpp"
#include "wappa/core/exit_codes.hpp"
#include "wappa/queue/outbound_queue.hpp"
#include "wappa/service/outbound_admin.hpp"

namespace wappa::app {
namespace {

struct StatsOptions {
    bool json = false;
    double watch = 0;
};

void print_table(const queue::QueueStats& s) {
    std::printf("outbound   queued %8lld   delayed %8lld   in flight %8lld   failed %8lld\n", static_cast<long long>(s.queued),
                static_cast<long long>(s.delayed), static_cast<long long>(s.in_flight), static_cast<long long>(s.failed));
    std::printf("mean time from queued to sent: %lld ms\n", static_cast<long long>(service::mean_send_latency_ms(s)));
    std::printf("%-20s %10s %10s %10s %10s\n", "tenant", "queued", "sent", "failed", "requeued");
    std::map<std::string, std::map<std::string, std::int64_t>> by_tenant;
    for (const auto& [key, value] : s.counters) {
        if (key == "sent_latency_ms") continue;
        const auto colon = key.find(':');
        by_tenant[colon == std::string::npos ? "(all)" : key.substr(colon + 1)][key.substr(0, colon)] = value;
    }
    for (auto& [tenant, f] : by_tenant) {
        std::printf("%-20s %10lld %10lld %10lld %10lld\n", tenant.c_str(), static_cast<long long>(f["queued"]),
                    static_cast<long long>(f["sent"]), static_cast<long long>(f["failed"]), static_cast<long long>(f["requeued"]));
    }
    std::fflush(stdout);
}

int run_stats(const GlobalOptions& global, const StatsOptions& o) {
    auto config = load_config_or_report(global);
    if (!config) return exit_code::config;
    const bool table = !o.json;
    for (;;) {
        auto stats = with_redis<queue::QueueStats>(*config, [&](redis::Client& client) -> Task<Result<queue::QueueStats>> {
            queue::OutboundQueue outbound(client, {config->redis.key_prefix});
            co_return co_await outbound.stats();
        });
        if (!stats) {
            std::cerr << "wappa stats: " << stats.error().message << "\n";
            return exit_code::unavailable;
        }
        if (table) {
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
    auto* cmd = app.add_subcommand("stats", "Queue depths and send figures");
    cmd->add_flag("--json", o->json, "JSON output");
    cmd->add_option("--watch", o->watch, "Refresh every SECONDS")->check(CLI::PositiveNumber);
    return {cmd, [&global, o] { return run_stats(global, *o); }};
}

}  // namespace wappa::app
