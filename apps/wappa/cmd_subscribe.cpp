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

#include <fnmatch.h>

#include <cstdio>
#include <iostream>

#include "common.hpp"
#include "wappa/core/exit_codes.hpp"
#include "wappa/pubsub/display.hpp"
#include "wappa/pubsub/event_log.hpp"
#include "wappa/pubsub/notification.hpp"
#include "wappa/redis/client.hpp"
#include "wappa/service/outbound_admin.hpp"
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
    std::string since;           // replay the event log after this id / for this long, then follow it
};

bool has_glob(std::string_view s) { return s.find_first_of("*?[") != std::string_view::npos; }

// --since: the tenants' event logs are read instead of Pub/Sub, first what is there after the
// position, then blocking for more; the cursor survives reconnects, so nothing is missed or
// repeated, even across a Redis restart with persistence.
// Ends when `done` is set (the caller also stops the client, which fails a read in progress).
Task<void> follow_event_log(redis::Client& client, const config::Config& config, const SubscribeOptions& options, pubsub::EventId from,
                            std::vector<std::string> patterns, std::string what,
                            std::function<void(const std::string&, const std::string&)> deliver, const bool& done) {
    auto executor = co_await net::this_coro::executor;
    co_await client.wait_connected(config.redis.connect_timeout);   // a failure is reported by the first read
    net::steady_timer backoff(executor);
    const auto& prefix = config.redis.key_prefix;
    std::vector<std::string> tenants;
    if (options.patterns.empty() && options.channels.empty() && !has_glob(options.tenant)) tenants.push_back(options.tenant);
    else tenants = service::tenant_ids(config);
    bool discovered = !tenants.empty();
    const auto matches = [&](const std::string& channel) {
        for (const auto& c : options.channels) if (c == channel) return true;
        for (const auto& p : patterns) if (::fnmatch(p.c_str(), channel.c_str(), 0) == 0) return true;
        return false;
    };
    pubsub::LogCursor cursor;
    bool replaying = true;
    std::size_t replayed = 0;
    auto wait_ms = std::chrono::milliseconds(100);
    const auto block_ms = pubsub::follow_block_ms(config.redis.command_timeout.count());
    while (!done) {
        Status failed;
        if (!discovered) {
            auto found = co_await pubsub::logged_tenants(client, prefix);
            if (found) {
                tenants = std::move(*found);
                discovered = true;
            } else {
                failed = found.error();
            }
        } else {
            if (cursor.tenants.empty()) {
                cursor.tenants = tenants;
                cursor.after.assign(tenants.size(), from);
            }
            auto events = co_await pubsub::read_logs(client, prefix, cursor, replaying ? 0 : block_ms, 1000);
            if (events) {
                wait_ms = std::chrono::milliseconds(100);
                if (events->empty() && replaying) {
                    replaying = false;
                    std::cerr << "wappa subscribe: replayed " << replayed << " event(s) after " << from.str() << " from the event log of "
                              << tenants.size() << " tenant(s); subscribed to " << what << " (following the log live)" << std::endl;
                }
                for (const auto& e : *events) {
                    if (done) co_return;
                    if (!matches(e.channel)) continue;
                    replayed += replaying ? 1 : 0;
                    deliver(e.channel, e.payload);
                }
                if (tenants.empty()) co_return;
                continue;
            }
            failed = events.error();
        }
        if (done) co_return;
        std::cerr << "wappa subscribe: " << failed.error().message << "; reconnecting in " << wait_ms.count() << "ms" << std::endl;
        backoff.expires_after(wait_ms);
        co_await backoff.async_wait(net::as_tuple(net::use_awaitable));
        wait_ms = std::min(wait_ms * 2, std::chrono::milliseconds(5'000));
    }
}

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
    // --since reads with its own client, stopped (not abandoned) at the end.
    redis::Client log_client(io.get_executor(), redis_settings(*config, "redis"));
    bool done = false;
    std::function<void()> finish = [&] { io.stop(); };
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
        if (options.count > 0 && received >= options.count) finish();
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
    std::optional<pubsub::EventId> since;
    if (!options.since.empty()) {
        const auto now_ms = static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
        since = pubsub::since_position(options.since, now_ms);
        if (!since) {
            std::cerr << "wappa subscribe: --since: '" << options.since
                      << "' is neither an event id (1700000000000-0) nor a duration (30s, 5m, 1h)\n";
            return exit_code::usage;
        }
    }
    auto main = [&]() -> Task<void> {
        using namespace net::experimental::awaitable_operators;
        if (since) {
            finish = [&] {
                done = true;
                log_client.stop();
            };
            log_client.start();
            auto watch = [&]() -> Task<void> {
                co_await (watch_idle() || watch_signals());
                finish();
            };
            net::co_spawn(io, watch(), net::detached);
            co_await follow_event_log(log_client, *config, options, *since, patterns, what,
                                      [&](const std::string& c, const std::string& p) { events.on_message(redis::PubsubMessage{"", c, p}); },
                                      done);
        } else {
            co_await (redis::run_subscriber(redis_settings(*config, "redis"), options.channels, patterns, events) ||
                      watch_idle() || watch_signals());
        }
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
    cmd->add_option("--since", o->since,
                    "Replay the durable event log after ID (1700000000000-0), or for DURATION back (30s, 5m, 1h; 0 = all), then follow it live");
    cmd->add_option("--timeout", o->timeout, "Exit 1 if no message arrives for SECONDS")->check(CLI::PositiveNumber);
    return {cmd, [&global, o] { return run_subscribe(global, *o); }, true};
}

}  // namespace wappa::app
