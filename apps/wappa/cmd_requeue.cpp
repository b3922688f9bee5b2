// wappa requeue: move failed outbound messages (or failed inbound events) back to their queue.
#include <unistd.h>

#include <iostream>

#include "common.hpp"
#include "one_shot.hpp"
#include "wappa/core/exit_codes.hpp"
#include "wappa/queue/outbound_queue.hpp"
#include "wappa/queue/inbound_stream.hpp"
#include "wappa/service/inbound_admin.hpp"
#include "wappa/service/outbound_admin.hpp"
#include "wappa/service/outbound_jobs.hpp"

namespace wappa::app {
namespace {

struct RequeueOptions {
    std::string queue = "outbound";
    std::vector<std::string> ids;
    bool all = false;
    std::string tenant;
    std::int64_t error_code = 0;
    bool has_error_code = false;
    std::string older_than, newer_than;
    bool include_unknown = false;
    bool dry_run = false;
    bool json = false;
};

int run_requeue(const GlobalOptions& global, const RequeueOptions& o) {
    auto config = load_config_or_report(global);
    if (!config) return exit_code::config;
    if (!o.tenant.empty() && config->find_tenant(o.tenant) == nullptr) {
        std::cerr << "wappa requeue: --tenant: '" << o.tenant << "' is not a configured tenant\n";
        return exit_code::usage;
    }
    if (o.queue == "inbound" && (o.has_error_code || o.include_unknown)) {
        std::cerr << "wappa requeue: " << (o.has_error_code ? "--error-code" : "--include-unknown")
                  << " applies to --queue outbound only (inbound events have no Graph error code or send outcome)\n";
        return exit_code::usage;
    }
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
    service::RequeueSelection selection;
    selection.ids = o.ids;
    selection.tenant = o.tenant;
    if (o.has_error_code) selection.error_code = o.error_code;
    selection.failed_from_ms = from;
    selection.failed_to_ms = to;
    selection.include_unknown = o.include_unknown;
    selection.dry_run = o.dry_run;
    const bool terminal = ::isatty(STDERR_FILENO) == 1;
    // A bar on a terminal for large sets; pipes and small sets get none.
    const service::Progress progress = [terminal](std::size_t done, std::size_t total) {
        if (!terminal || total <= 1000) return;
        constexpr std::size_t width = 30;
        const auto filled = total == 0 ? width : done * width / total;
        std::cerr << "\r[" << std::string(filled, '#') << std::string(width - filled, '-') << "] " << (total ? done * 100 / total : 100)
                  << "% " << done << "/" << total << (done == total ? "\n" : "") << std::flush;
    };
    auto report = with_redis<service::RequeueReport>(*config, [&](redis::Client& client) -> Task<Result<service::RequeueReport>> {
        if (o.queue == "inbound") {
            queue::InboundStream stream(client, client, service::inbound_stream_settings(*config), service::tenant_ids(*config));
            co_return co_await service::requeue_inbound(stream, *config, selection);
        }
        queue::OutboundQueue outbound(client, service::outbound_settings(*config));
        co_return co_await service::requeue_selected(outbound, *config, selection, progress);
    });
    if (!report) {
        std::cerr << "wappa requeue: " << report.error().message << "\n";
        return exit_code::unavailable;
    }
    if (o.json) {
        // A dry run lists each message as its own object (NDJSON), then the summary.
        if (o.dry_run) {
            for (const auto& m : report->moved) std::cout << service::message_ref_json(m) << "\n";
        }
        std::cout << service::requeue_json(report.value(), o.dry_run) << "\n";
    } else {
        const char* what = o.queue == "inbound" ? " inbound event(s)\n" : " message(s)\n";
        if (o.dry_run) {
            for (const auto& m : report->moved) std::cout << m.message_id << "\n";
        }
        std::cout << (o.dry_run ? "would requeue " : "requeued ") << report->moved.size() << what;
        if (!report->skipped.empty()) {
            std::cout << "skipped " << report->skipped.size()
                      << " message(s) whose send outcome is unknown (they may have reached the user; --include-unknown moves them)\n";
        }
    }
    return exit_code::ok;
}

}  // namespace

Command setup_requeue(CLI::App& app, const GlobalOptions& global) {
    auto o = std::make_shared<RequeueOptions>();
    auto* cmd = app.add_subcommand("requeue", "Move failed outbound messages (or inbound events) back to their queue");
    cmd->add_option("--queue", o->queue, "outbound|inbound (default outbound)")->check(CLI::IsMember({"outbound", "inbound"}));
    cmd->add_option("--id", o->ids, "A failed message id (repeatable)");
    cmd->add_flag("--all", o->all, "Every failed message");
    cmd->add_option("--tenant", o->tenant, "Only this tenant's");
    cmd->add_option("--error-code", o->error_code, "Only those that failed with this Graph error code")
        ->each([o](const std::string&) { o->has_error_code = true; });
    cmd->add_option("--older-than", o->older_than, "Only those that failed longer ago than DURATION");
    cmd->add_option("--newer-than", o->newer_than, "Only those that failed within DURATION");
    cmd->add_flag("--include-unknown", o->include_unknown,
                  "Also move messages whose send outcome is unknown (they may have reached the user)");
    cmd->add_flag("--dry-run", o->dry_run, "Show how many would move; move nothing");
    cmd->add_flag("--json", o->json, "JSON output");
    return {cmd, [&global, o] { return run_requeue(global, *o); }};
}

}  // namespace wappa::app
