#pragma once
// Redis Pub/Sub on a dedicated connection. run() subscribes, delivers every message, and on a
// lost connection reconnects with backoff and subscribes again, telling the caller each time.
#include <functional>
#include <string>
#include <vector>

#include "wappa/core/asio.hpp"
#include "wappa/redis/settings.hpp"

namespace wappa::redis {

struct PubsubMessage {
    std::string pattern;   // empty for a plain SUBSCRIBE
    std::string channel;
    std::string payload;
};

struct SubscriberEvents {
    std::function<void(const PubsubMessage&)> on_message;
    // Subscriptions confirmed (after the first connect and after every reconnect).
    std::function<void(bool reconnected)> on_subscribed;
    // The connection failed or was lost; `retry_in` is the wait before the next attempt.
    std::function<void(const std::string& error, config::Duration retry_in)> on_disconnected;
};

// Runs until the coroutine is cancelled (e.g. with awaitable operator ||).
Task<void> run_subscriber(Settings settings, std::vector<std::string> channels, std::vector<std::string> patterns,
                          SubscriberEvents events);

}  // namespace wappa::redis
