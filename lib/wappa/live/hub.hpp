#pragma once
// Live events for browsers: one Hub per `serve` event loop reads the tenants' event logs on ONE
// Redis connection (a blocking XREAD) and fans every event out in process to the SSE and
// WebSocket sessions of that loop. A session replays the log from its Last-Event-ID first, then
// continues live with no gap and no repeat: what the replay wrote is remembered per tenant, and
// the tail's events up to it are not written again. Each session's queue
// is bounded: a client that falls behind is cut off with a reason, the others never wait for it.
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "wappa/config/units.hpp"
#include "wappa/core/asio.hpp"
#include "wappa/http/message.hpp"
#include "wappa/live/live_event.hpp"
#include "wappa/metrics/metrics.hpp"
#include "wappa/pubsub/event_log.hpp"
#include "wappa/redis/settings.hpp"

namespace wappa::redis {
class Client;
}

namespace wappa::live {

struct HubSettings {
    std::string prefix = "wappa";
    std::vector<std::string> tenants;        // whose logs are read
    redis::Settings redis;                   // the hub's own connection (it blocks in XREAD)
    std::size_t queue_limit = 1024;          // events waiting per session before it is cut off
    config::Duration ping_interval{15'000};
    std::int64_t event_log_max_len = 10'000; // for what WebSocket clients publish
};

// What one live client asked for and may do.
struct Subscription {
    Filter filter;
    std::optional<pubsub::EventId> resume;   // Last-Event-ID: replay what came after it
    std::vector<std::string> may_publish;    // tenants whose channels a WebSocket client may publish on
};

struct LiveMetrics {
    explicit LiveMetrics(metrics::Registry& registry);
    std::atomic<std::int64_t> sse_clients{0}, websocket_clients{0};
    metrics::Counter& connections;   // transport
    metrics::Counter& frames;        // transport
    metrics::Counter& closed;        // reason
    metrics::Counter& published;     // outcome
};

class Hub {
public:
    // `replay` answers the replays' XRANGEs and the clients' publishes (a shared, pipelined client).
    Hub(net::any_io_executor executor, HubSettings settings, redis::Client& replay, LiveMetrics& metrics);
    ~Hub();

    // Connects its Redis connection and takes the log's current end as its starting point, so
    // that every event after it reaches the clients (serve runs it before it listens).
    Task<Status> prepare();
    void start();
    // Closes every session (WebSocket close 1001 "server shutting down") and stops reading.
    void stop();

    // The response that hands the connection to a new session.
    http::Response server_sent_events(Subscription subscription);
    http::Response websocket(Subscription subscription, std::string_view client_key);

    struct Impl;

private:
    std::shared_ptr<Impl> impl_;
};

}  // namespace wappa::live
