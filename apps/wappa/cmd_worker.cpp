// wappa worker: queue consumers: the outbound role (sends), the inbound role (stores what serve
// received, answers with the bot), or both.
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <spdlog/spdlog.h>

#include <csignal>
#include <iostream>
#include <map>
#include <thread>

#include "common.hpp"
#include "wappa/core/exit_codes.hpp"
#include "inbound_runtime.hpp"
#include "outbound_runtime.hpp"

namespace wappa::app {
namespace {

struct WorkerOptions {
    std::string role = "all";
    std::int64_t concurrency = 64;
    std::int64_t processes = 1;
    std::string metrics_listen;
    double grace = 30;
};

int run_one_worker(const config::Config& config, const WorkerOptions& o) {
    metrics::Registry registry;
    std::optional<config::Address> metrics_listen;
    if (!o.metrics_listen.empty()) metrics_listen = config::parse_address(o.metrics_listen).value();   // checked by run_worker
    // The outbound role serves --metrics-listen (for both roles: one registry), or the inbound
    // role when it runs alone.
    std::unique_ptr<OutboundRuntime> outbound;
    std::unique_ptr<InboundRuntime> inbound;
    if (o.role != "inbound") outbound = std::make_unique<OutboundRuntime>(config, static_cast<std::size_t>(o.concurrency), registry, metrics_listen);
    if (o.role != "outbound") inbound = std::make_unique<InboundRuntime>(config, registry, outbound ? std::nullopt : metrics_listen);
    net::signal_set signals(outbound ? outbound->io() : inbound->io(), SIGINT, SIGTERM);
    allow_termination_signals();
    if (outbound) {
        if (auto prepared = outbound->prepare(); !prepared) {
            std::cerr << "wappa worker: " << prepared.error().message << "\n";
            return prepared.error().message.starts_with("--metrics-listen") ? exit_code::unavailable : exit_code::config;
        }
    }
    if (inbound) {
        if (auto prepared = inbound->prepare(); !prepared) {
            std::cerr << "wappa worker: " << prepared.error().message << "\n";
            return exit_code::unavailable;
        }
    }
    signals.async_wait([&](const boost::system::error_code& ec, int signal) {
        if (ec) return;
        spdlog::info("signal {} received: no new jobs, finishing the ones in flight (grace {}s)", signal, o.grace);
        if (outbound) outbound->stop();
        if (inbound) inbound->stop();
    });
    if (!outbound) return inbound->run();
    int inbound_code = exit_code::ok;
    std::thread inbound_thread;
    if (inbound) inbound_thread = std::thread([&] { inbound_code = inbound->run(); });
    const int code = outbound->run(std::chrono::milliseconds(static_cast<long long>(o.grace * 1000)));
    if (inbound_thread.joinable()) {
        inbound->stop();   // the outbound role ended (a signal, or Redis unreachable): the inbound one too
        inbound_thread.join();
    }
    return code != exit_code::ok ? code : inbound_code;
}

// Forks N workers and restarts any that crashes, until SIGTERM/SIGINT, which is passed on.
int supervise(const config::Config& config, const WorkerOptions& o) {
    std::map<pid_t, int> children;
    const pid_t supervisor = ::getpid();
    const auto spawn = [&](int slot) {
        const pid_t pid = ::fork();
        if (pid == 0) {
            // A supervisor that dies (even by SIGKILL) takes its workers with it: SIGTERM, so
            // that they hand their jobs back within the grace period.
            ::prctl(PR_SET_PDEATHSIG, SIGTERM);
            if (::getppid() != supervisor) std::_Exit(exit_code::ok);   // it died before prctl
            sigset_t child;
            sigemptyset(&child);
            sigaddset(&child, SIGCHLD);
            sigprocmask(SIG_UNBLOCK, &child, nullptr);  // SIGTERM/SIGINT stay blocked until its handler is in place
            auto mine = o;
            if (!mine.metrics_listen.empty()) {
                auto address = config::parse_address(mine.metrics_listen).value();
                if (address.port != 0) address.port = static_cast<std::uint16_t>(address.port + slot);
                mine.metrics_listen = address.host + ":" + std::to_string(address.port);
            }
            std::_Exit(run_one_worker(config, mine));
        }
        children[pid] = slot;
    };
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, nullptr);
    for (int i = 0; i < o.processes; ++i) spawn(i);
    bool stopping = false;
    while (!children.empty()) {
        int signal = 0;
        sigwait(&set, &signal);
        if (signal == SIGTERM || signal == SIGINT) {
            stopping = true;
            for (const auto& [pid, slot] : children) ::kill(pid, SIGTERM);
            continue;
        }
        int status = 0;
        pid_t pid;
        while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
            const int slot = children[pid];
            children.erase(pid);
            if (!stopping) {
                spdlog::error("worker process {} ended ({}), restarting it", pid,
                              WIFSIGNALED(status) ? "signal " + std::to_string(WTERMSIG(status)) : "exit " + std::to_string(WEXITSTATUS(status)));
                spawn(slot);
            }
        }
    }
    return exit_code::ok;
}

int run_worker(const GlobalOptions& global, WorkerOptions o) {
    auto config = load_config_or_report(global);
    if (!config) return exit_code::config;
    if (!o.metrics_listen.empty()) {
        if (auto a = config::parse_address(o.metrics_listen); !a) {
            allow_termination_signals();
            std::cerr << "wappa worker: --metrics-listen: " << a.error().message << "\n";
            return exit_code::usage;
        }
    }
    if (o.processes <= 1) return run_one_worker(*config, o);
    allow_termination_signals();
    if (!o.metrics_listen.empty()) {
        // One address cannot be bound by N processes: each child serves on the next port.
        spdlog::info("--metrics-listen with {} processes: process i listens on port+i", o.processes);
    }
    return supervise(*config, o);
}

}  // namespace

Command setup_worker(CLI::App& app, const GlobalOptions& global) {
    auto o = std::make_shared<WorkerOptions>();
    auto* cmd = app.add_subcommand("worker", "Queue consumers: send outbound messages, store inbound events, run the bot");
    cmd->add_option("--role", o->role, "outbound|inbound|all (default all)")->check(CLI::IsMember({"outbound", "inbound", "all"}));
    cmd->add_option("--concurrency", o->concurrency, "In-flight jobs per process (default 64)")->check(CLI::Range(1, 10000));
    cmd->add_option("--processes,--workers", o->processes, "Fork N worker processes and supervise them")->check(CLI::Range(1, 256));
    cmd->add_option("--metrics-listen", o->metrics_listen, "Serve /metrics and /api/admin/health of this worker on host:port");
    cmd->add_option("--grace", o->grace, "Seconds to let in-flight jobs finish on SIGTERM (default 30)")->check(CLI::NonNegativeNumber);
    return {cmd, [&global, o] { return run_worker(global, *o); }, true};
}

}  // namespace wappa::app
