// wappa subscribe: a live tail of notifications (INTERFACE.md §1, §4).
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstdio>
#include <iostream>

#include "common.hpp"
#include "wappa/core/exit_codes.hpp"
#include "wappa/pubsub/display.hpp"
#include "wappa/pubsub/notification.hpp"
#include "wappa/redis/subscriber.hpp"

namespace wappa::app {
namespace {

struct SubscribeOptions {
    std::string tenant = "*";
    std::string user = "*";
    std::string event = "*";
    std::vector<std::string> patterns;
    std::vector<std::string> channels;
    bool json = false;
    std::int64_t count = 0;      // 0 = no limit
    double timeout = 0;          // seconds without a message; 0 = wait forever
};

int run_subscribe(const GlobalOptions& global, const SubscribeOptions& options) {
    auto config = load_config_or_report(global);
    if (!config) return exit_code::config;

    std::vector<std::string> patterns = options.patterns;
    if (patterns.empty() && options.channels.empty()) {
        patterns.push_back(pubsub::channel_pattern(config->redis.key_prefix, options.tenant, options.user, options.event));
    }
    const bool pretty = !options.json && ::isatty(STDOUT_FILENO) == 1;
    const bool color = pretty && std::getenv("NO_COLOR") == nullptr;

    net::io_context io;
    net::steady_timer idle(io);
    net::signal_set signals(io, SIGINT, SIGTERM);
    allow_termination_signals();
    std::int64_t received = 0;
    bool timed_out = false;
    const auto arm_idle = [&] {
        if (options.timeout > 0) idle.expires_after(std::chrono::milliseconds(static_cast<long long>(options.timeout * 1000)));
    };
    if (options.timeout <= 0) idle.expires_at(net::steady_timer::time_point::max());
    arm_idle();

    std::string what;
    for (const auto& p : patterns) what += (what.empty() ? "" : ", ") + p;
    for (const auto& c : options.channels) what += (what.empty() ? "" : ", ") + c;

    redis::SubscriberEvents events;
    events.on_message = [&](const redis::PubsubMessage& m) {
        const auto line = pretty ? pubsub::pretty_line(m.channel, m.payload, color) : pubsub::ndjson_line(m.channel, m.payload);
        std::fwrite(line.data(), 1, line.size(), stdout);
        std::fputc('\n', stdout);
        std::fflush(stdout);
        ++received;
        arm_idle();
        if (options.count > 0 && received >= options.count) io.stop();
    };
    events.on_subscribed = [&](bool reconnected) {
        std::cerr << (reconnected ? "wappa subscribe: reconnected, subscribed to " : "wappa subscribe: subscribed to ")
                  << what << std::endl;
    };
    events.on_disconnected = [&](const std::string& error, config::Duration retry_in) {
        std::cerr << "wappa subscribe: " << error << "; reconnecting in " << retry_in.count() << "ms" << std::endl;
    };

    auto watch_idle = [&]() -> Task<void> {
        for (;;) {
            auto [ec] = co_await idle.async_wait(net::as_tuple(net::use_awaitable));
            if ((co_await net::this_coro::cancellation_state).cancelled() != net::cancellation_type::none) co_return;
            if (!ec || idle.expiry() <= net::steady_timer::clock_type::now()) break;  // expired, not re-armed
        }
        timed_out = true;
    };
    auto watch_signals = [&]() -> Task<void> { co_await signals.async_wait(net::as_tuple(net::use_awaitable)); };
    auto main = [&]() -> Task<void> {
        using namespace net::experimental::awaitable_operators;
        co_await (redis::run_subscriber(redis_settings(*config, "redis"), options.channels, patterns, events) ||
                  watch_idle() || watch_signals());
        io.stop();
    };
    net::co_spawn(io, main(), net::detached);
    io.run();

    if (options.count > 0 && received >= options.count) return exit_code::ok;
    if (timed_out) {
        std::cerr << "wappa subscribe: timed out after " << options.timeout << "s with " << received << " message(s)"
                  << (options.count > 0 ? " of " + std::to_string(options.count) : std::string{}) << "\n";
        return (received == 0 || options.count > 0) ? exit_code::failure : exit_code::ok;
    }
    return exit_code::ok;
}

}  // namespace

Command setup_subscribe(CLI::App& app, const GlobalOptions& global) {
    auto o = std::make_shared<SubscribeOptions>();
    auto* cmd = app.add_subcommand("subscribe", "Live tail of notifications (Redis Pub/Sub)");
    cmd->add_option("--tenant", o->tenant, "Tenant id or glob (default *)");
    cmd->add_option("--user", o->user, "User id (phone number) or glob (default *)");
    cmd->add_option("--event", o->event, "incoming_message|status_change|outgoing_message|bot_reply or glob (default *)");
    cmd->add_option("--pattern", o->patterns, "Raw PSUBSCRIBE pattern (repeatable; replaces the filters)");
    cmd->add_option("--channel", o->channels, "Raw channel name (repeatable; replaces the filters)");
    cmd->add_flag("--json", o->json, "NDJSON output even on a terminal (the default when piped)");
    cmd->add_option("--count", o->count, "Exit after N messages")->check(CLI::PositiveNumber);
    cmd->add_option("--timeout", o->timeout, "Exit 1 if no message arrives for SECONDS")->check(CLI::PositiveNumber);
    return {cmd, [&global, o] { return run_subscribe(global, *o); }, true};
}

}  // namespace wappa::app
