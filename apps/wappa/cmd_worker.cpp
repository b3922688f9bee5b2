// wappa worker: queue consumers. This version runs the outbound role.
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

#include "common.hpp"
#include "wappa/core/exit_codes.hpp"
#include "wappa/graph/transport.hpp"
#include "wappa/queue/outbound_queue.hpp"
#include "wappa/redis/client.hpp"
#include "wappa/service/outbound_worker.hpp"

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
    net::io_context io(1);
    redis::Client client(io.get_executor(), redis_settings(config, "redis"));
    client.start();
    queue::OutboundSettings qs;
    qs.prefix = config.redis.key_prefix;
    qs.lease = config.outbound.visibility_timeout;
    qs.max_attempts = config.outbound.max_attempts;
    qs.backoff_base = config.outbound.backoff_base;
    qs.backoff_max = config.outbound.backoff_max;
    qs.retry_ambiguous = config.outbound.on_ambiguous == "retry";
    queue::OutboundQueue outbound(client, qs);
    std::string error;
    auto transport = graph::make_transport(io.get_executor(),
                                           {config.graph.base_url, config.graph.api_version, config.graph.timeout, {}}, error);
    if (!transport) {
        allow_termination_signals();
        std::cerr << "wappa worker: " << error << "\n";
        return exit_code::config;
    }
    service::OutboundWorker worker(config, outbound, *transport, static_cast<std::size_t>(o.concurrency));
    net::signal_set signals(io, SIGINT, SIGTERM);
    allow_termination_signals();
    signals.async_wait([&](const boost::system::error_code& ec, int signal) {
        if (ec) return;
        spdlog::info("signal {} received: no new jobs, finishing the ones in flight (grace {}s)", signal, o.grace);
        worker.stop();
    });
    int code = exit_code::ok;
    auto body = [&]() -> Task<void> {
        if (auto connected = co_await client.wait_connected(config.redis.connect_timeout); !connected) {
            std::cerr << "wappa worker: " << connected.error().message << " (redis.url)\n";
            code = exit_code::unavailable;
        } else {
            spdlog::info("outbound worker running concurrency={} graph={}", o.concurrency, config.graph.base_url);
            co_await worker.run(std::chrono::milliseconds(static_cast<long long>(o.grace * 1000)));
            const auto& s = worker.stats();
            spdlog::info("outbound worker stopped sent={} retried={} deferred={} failed={}", s.sent, s.retried, s.deferred, s.failed);
        }
        signals.cancel();
        client.stop();
    };
    net::co_spawn(io, body(), net::detached);
    io.run();
    return code;
}

// Forks N workers and restarts any that crashes, until SIGTERM/SIGINT, which is passed on.
int supervise(const config::Config& config, const WorkerOptions& o) {
    std::map<pid_t, int> children;
    const auto spawn = [&](int slot) {
        const pid_t pid = ::fork();
        if (pid == 0) {
            sigset_t child;
            sigemptyset(&child);
            sigaddset(&child, SIGCHLD);
            sigprocmask(SIG_UNBLOCK, &child, nullptr);  // SIGTERM/SIGINT stay blocked until its handler is in place
            std::_Exit(run_one_worker(config, o));
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

int run_worker(const GlobalOptions& global, const WorkerOptions& o) {
    auto config = load_config_or_report(global);
    if (!config) return exit_code::config;
    if (o.processes <= 1 && o.role != "inbound") return run_one_worker(*config, o);
    allow_termination_signals();
    if (o.role == "inbound") {
        std::cerr << "wappa worker: --role inbound is not built yet (inbound events stay queued in Redis streams)\n";
        return exit_code::usage;
    }
    if (o.role == "all") spdlog::warn("--role all runs the outbound role only: the inbound role is not built yet");
    if (!o.metrics_listen.empty()) spdlog::warn("--metrics-listen is not built yet; ignoring {}", o.metrics_listen);
    return supervise(*config, o);
}

}  // namespace

Command setup_worker(CLI::App& app, const GlobalOptions& global) {
    auto o = std::make_shared<WorkerOptions>();
    auto* cmd = app.add_subcommand("worker", "Queue consumer: sends outbound messages to the Graph API");
    cmd->add_option("--role", o->role, "outbound|inbound|all (default all)")->check(CLI::IsMember({"outbound", "inbound", "all"}));
    cmd->add_option("--concurrency", o->concurrency, "In-flight jobs per process (default 64)")->check(CLI::Range(1, 10000));
    cmd->add_option("--processes,--workers", o->processes, "Fork N worker processes and supervise them")->check(CLI::Range(1, 256));
    cmd->add_option("--metrics-listen", o->metrics_listen, "Serve /metrics and health on ADDR (not built yet)");
    cmd->add_option("--grace", o->grace, "Seconds to let in-flight jobs finish on SIGTERM (default 30)")->check(CLI::NonNegativeNumber);
    return {cmd, [&global, o] { return run_worker(global, *o); }, true};
}

}  // namespace wappa::app
