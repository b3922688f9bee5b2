#pragma once
// The outbound worker: claims due messages lane by lane (a lane is one sender of one tenant),
// sends each through the Graph transport, and records the outcome. It sleeps until the
// earliest time a lane or a tenant's upkeep is due, or until the queue wakes it (a lane got
// earlier work: `wake`), never polling an idle queue.
#include <cstddef>
#include <functional>
#include <memory>
#include <string_view>

#include "wappa/config/config.hpp"
#include "wappa/core/asio.hpp"

namespace wappa::queue {
class OutboundQueue;
struct Claim;
}
namespace wappa::graph {
class Transport;
}

namespace wappa::service {

struct WorkerMetrics;

struct WorkerStats {
    std::size_t sent = 0, retried = 0, not_sent = 0, unknown = 0, throttled = 0, paused = 0, failed = 0;
};

class OutboundWorker {
public:
    OutboundWorker(const config::Config& config, queue::OutboundQueue& queue, graph::Transport& transport,
                   std::size_t concurrency, WorkerMetrics& metrics);
    ~OutboundWorker();

    // Runs until stop(); then lets the sends in flight finish, up to `grace`.
    Task<void> run(config::Duration grace);
    void stop();
    // A wake from the queue: "tenant\x1fsender\x1fat" (the lane has work at `at`, ms).
    void wake(std::string_view payload);
    // Wakes may have been missed (the subscription was lost): every lane and upkeep is due.
    void resync();
    const WorkerStats& stats() const;
    // Each state a claimed message moves to, once recorded in the queue: "sending" (claimed),
    // then "sent", "queued" (to be tried again), "unknown" or "failed". For the PostgreSQL
    // mirror and the sandbox's status webhooks.
    struct Transition {
        std::string_view status;
        std::string_view wamid;
        std::int64_t error_code = 0;
        std::string_view error;
        std::int64_t attempts = 0;   // attempts spent on the message so far
    };
    using TransitionHook = std::function<void(const queue::Claim&, const Transition&)>;
    void on_transition(TransitionHook hook);

private:
    struct State;
    std::unique_ptr<State> state_;
};

}  // namespace wappa::service
