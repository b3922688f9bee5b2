#pragma once
// The routes of `wappa serve` (INTERFACE.md §3) mapped onto their handlers.
#include <atomic>

#include "wappa/config/config.hpp"
#include "wappa/http/server.hpp"

namespace wappa::metrics {
class Registry;
}
namespace wappa::redis {
class Client;
}
namespace wappa::pg {
class Pool;
}
namespace wappa::live {
class Hub;
}

namespace wappa::service {

class WebhookIntake;
class MessageApi;
class AdminApi;
class QueueGauges;
struct ServeMetrics;

struct ServeContext {
    const config::Config& config;
    WebhookIntake& intake;
    MessageApi& messages;
    AdminApi& admin;
    redis::Client& redis;
    ServeMetrics& metrics;
    const metrics::Registry& registry;
    // With --with-worker: whether the in-process outbound worker runs (null without one).
    const std::atomic<bool>* worker_running = nullptr;
    // The outbound queue's last figures (paused tenants for health).
    const QueueGauges* gauges = nullptr;
    // With [postgres] url: checked by health (503 when down).
    pg::Pool* postgres = nullptr;
    // With --with-worker: whether the in-process inbound worker runs.
    const std::atomic<bool>* inbound_running = nullptr;
    // This loop's live event hub (SSE, WebSocket).
    live::Hub* hub = nullptr;
};

http::Handler make_serve_handler(ServeContext context);

}  // namespace wappa::service
