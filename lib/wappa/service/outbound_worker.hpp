#pragma once
// The outbound worker: claims due messages from the queue, sends each through the Graph
// transport, and records the outcome (sent, retried, deferred or failed).
#include <cstddef>

#include "wappa/config/config.hpp"
#include "wappa/core/asio.hpp"

namespace wappa::queue {
class OutboundQueue;
}
namespace wappa::graph {
class Transport;
}

namespace wappa::service {

struct WorkerStats {
    std::size_t sent = 0, retried = 0, deferred = 0, failed = 0;
};

class OutboundWorker {
public:
    OutboundWorker(const config::Config& config, queue::OutboundQueue& queue, graph::Transport& transport,
                   std::size_t concurrency, struct WorkerMetrics& metrics);

    // Runs until stop() is called; then lets the sends in flight finish, up to `grace`.
    Task<void> run(config::Duration grace);
    void stop() { stopping_ = true; }
    const WorkerStats& stats() const { return stats_; }

private:
    Task<void> process(struct ClaimHolder holder);

    const config::Config& config_;
    queue::OutboundQueue& queue_;
    graph::Transport& transport_;
    std::size_t concurrency_;
    std::size_t in_flight_ = 0;
    bool stopping_ = false;
    WorkerStats stats_;
    WorkerMetrics& metrics_;
};

// Copies the queue's depths into the metrics every `period`, until `stop` is set.
Task<void> refresh_queue_depths(queue::OutboundQueue& queue, WorkerMetrics& metrics, const bool& stop, config::Duration period);

}  // namespace wappa::service
