#include "wappa/redis/subscriber.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <random>

#include "wappa/redis/command.hpp"
#include "wappa/redis/connection.hpp"

namespace wappa::redis {
namespace {

std::string subscribe_commands(const std::vector<std::string>& channels, const std::vector<std::string>& patterns) {
    std::string out;
    if (!channels.empty()) {
        Command c("SUBSCRIBE");
        for (const auto& ch : channels) c.arg(ch);
        c.append_to(out);
    }
    if (!patterns.empty()) {
        Command c("PSUBSCRIBE");
        for (const auto& p : patterns) c.arg(p);
        c.append_to(out);
    }
    return out;
}

}  // namespace

Task<void> run_subscriber(Settings settings, std::vector<std::string> channels, std::vector<std::string> patterns,
                          SubscriberEvents events) {
    auto executor = co_await net::this_coro::executor;
    Connection connection(executor);
    net::steady_timer sleep(executor);
    std::mt19937 random(std::random_device{}());
    auto backoff = std::chrono::milliseconds(100);
    bool reconnecting = false;
    const auto expected_confirmations = channels.size() + patterns.size();
    const auto request = subscribe_commands(channels, patterns);

    // On a cluster PUBLISH reaches every node, so any one will do: each attempt tries the next seed.
    std::size_t attempt = 0;
    for (;;) {
        std::string error;
        if (!settings.endpoint.seeds.empty()) {
            const auto& seed = settings.endpoint.seeds[attempt++ % settings.endpoint.seeds.size()];
            settings.endpoint.host = seed.first;
            settings.endpoint.port = seed.second;
        }
        if (auto status = co_await connection.connect(settings); !status) {
            error = status.error().message;
        } else if (auto sent = co_await connection.write(request); !sent) {
            error = sent.error().message;
        } else {
            std::size_t confirmed = 0;
            std::vector<Reply> replies;
            for (;;) {
                replies.clear();
                if (auto status = co_await connection.read(replies); !status) {
                    error = status.error().message;
                    break;
                }
                for (auto& r : replies) {
                    if (r.type != Reply::Type::array || r.elements.empty()) continue;
                    const auto& kind = r.elements[0].str;
                    if (kind == "message" && r.elements.size() == 3) {
                        events.on_message({{}, std::move(r.elements[1].str), std::move(r.elements[2].str)});
                    } else if (kind == "pmessage" && r.elements.size() == 4) {
                        events.on_message({std::move(r.elements[1].str), std::move(r.elements[2].str),
                                           std::move(r.elements[3].str)});
                    } else if ((kind == "subscribe" || kind == "psubscribe") && ++confirmed == expected_confirmations) {
                        events.on_subscribed(reconnecting);
                        reconnecting = false;
                        backoff = std::chrono::milliseconds(100);
                    }
                }
            }
        }
        connection.close();
        // Cancelled (the caller is stopping): not a lost connection, say nothing.
        if ((co_await net::this_coro::cancellation_state).cancelled() != net::cancellation_type::none) co_return;
        // Full jitter keeps a fleet of subscribers from reconnecting in lockstep.
        std::uniform_int_distribution<long> jitter(backoff.count() / 2, backoff.count());
        const config::Duration wait(jitter(random));
        events.on_disconnected(error, wait);
        reconnecting = true;
        sleep.expires_after(wait);
        co_await sleep.async_wait(net::use_awaitable);
        backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
    }
}

}  // namespace wappa::redis
