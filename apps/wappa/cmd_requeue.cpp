// wappa requeue: move failed outbound messages back to the queue.
#include <unistd.h>

#include <iostream>
#include <set>

#include "common.hpp"
#include "one_shot.hpp"
#include "wappa/core/exit_codes.hpp"
#include "wappa/core/json.hpp"
#include "wappa/queue/outbound_queue.hpp"

namespace wappa::app {
namespace {

struct RequeueOptions {
    std::vector<std::string> ids;
    bool all = false;
    std::string tenant;
    std::int64_t error_code = 0;
    bool has_error_code = false;
    std::string older_than, newer_than;
    bool dry_run = false;
    bool json = false;
};

int run_requeue(const GlobalOptions& global, const RequeueOptions& o) {
    auto config = load_config_or_report(global);
    if (!config) return exit_code::config;
    if (o.ids.empty() && !o.all && o.tenant.empty() && !o.has_error_code && o.older_than.empty() && o.newer_than.empty()) {
        std::cerr << "wappa requeue: say which messages: --id, --all, --tenant, --error-code, --older-than or --newer-than\n";
        return exit_code::usage;
    }
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    std::int64_t from = 0, to = now;
    for (const auto& [flag, text, is_older] : {std::tuple{"--older-than", o.older_than, true}, std::tuple{"--newer-than", o.newer_than, false}}) {
        if (text.empty()) continue;
        auto d = config::parse_duration(text);
        if (!d) {
            std::cerr << "wappa requeue: " << flag << ": " << d.error().message << "\n";
            return exit_code::usage;
        }
        (is_older ? to : from) = now - d->count();
    }
    const std::set<std::string> wanted(o.ids.begin(), o.ids.end());
    auto moved = with_redis<std::vector<std::string>>(*config, [&](redis::Client& client) -> Task<Result<std::vector<std::string>>> {
        queue::OutboundQueue outbound(client, {config->redis.key_prefix});
        auto failed = co_await outbound.failed(from, to);
        if (!failed) co_return failed.error();
        std::vector<std::string> selected;
        for (const auto& m : failed.value()) {
            if (!wanted.empty() && !wanted.count(m.message_id)) continue;
            if (!o.tenant.empty() && m.tenant != o.tenant) continue;
            if (o.has_error_code && m.error_code != o.error_code) continue;
            selected.push_back(m.message_id);
        }
        std::vector<std::string> all_moved;
        const bool progress = ::isatty(STDERR_FILENO) == 1 && selected.size() > 1000;
        for (std::size_t i = 0; i < selected.size(); i += 500) {
            const std::vector<std::string> batch(selected.begin() + static_cast<long>(i),
                                                 selected.begin() + static_cast<long>(std::min(selected.size(), i + 500)));
            auto result = co_await outbound.requeue(batch, o.dry_run);
            if (!result) co_return result.error();
            all_moved.insert(all_moved.end(), result->begin(), result->end());
            if (progress) std::cerr << "\r" << std::min(selected.size(), i + 500) << "/" << selected.size() << std::flush;
        }
        if (progress) std::cerr << "\n";
        co_return all_moved;
    });
    if (!moved) {
        std::cerr << "wappa requeue: " << moved.error().message << "\n";
        return exit_code::unavailable;
    }
    if (o.json) {
        std::string out = "{\"requeued\":" + std::to_string(moved->size()) + ",\"dry_run\":" + (o.dry_run ? "true" : "false") +
                          ",\"message_ids\":[";
        for (std::size_t i = 0; i < moved->size(); ++i) out += (i ? "," : "") + json::quote(moved.value()[i]);
        std::cout << out << "]}\n";
    } else {
        std::cout << (o.dry_run ? "would requeue " : "requeued ") << moved->size() << " message(s)\n";
    }
    return exit_code::ok;
}

}  // namespace

Command setup_requeue(CLI::App& app, const GlobalOptions& global) {
    auto o = std::make_shared<RequeueOptions>();
    auto* cmd = app.add_subcommand("requeue", "Move failed outbound messages back to the queue");
    cmd->add_option("--id", o->ids, "A failed message id (repeatable)");
    cmd->add_flag("--all", o->all, "Every failed message");
    cmd->add_option("--tenant", o->tenant, "Only this tenant's");
    cmd->add_option("--error-code", o->error_code, "Only those that failed with this Graph error code")
        ->each([o](const std::string&) { o->has_error_code = true; });
    cmd->add_option("--older-than", o->older_than, "Only those that failed longer ago than DURATION");
    cmd->add_option("--newer-than", o->newer_than, "Only those that failed within DURATION");
    cmd->add_flag("--dry-run", o->dry_run, "Show how many would move; move nothing");
    cmd->add_flag("--json", o->json, "JSON output");
    return {cmd, [&global, o] { return run_requeue(global, *o); }};
}

}  // namespace wappa::app
