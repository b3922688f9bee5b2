#pragma once
// The outbound queue's figures per tenant on /metrics (serve and worker): depths, unknown
// outcomes, failures and paused tenants, refreshed from Redis every few seconds.
#include <mutex>

#include "wappa/core/asio.hpp"
#include "wappa/metrics/metrics.hpp"
#include "wappa/queue/outbound_queue.hpp"

namespace wappa::service {

class QueueGauges {
public:
    explicit QueueGauges(metrics::Registry& registry);
    void update(queue::QueueStats stats);
    // The figures of the last refresh (health reports the paused tenants from it).
    queue::QueueStats snapshot() const;

private:
    std::vector<metrics::Sample> read(std::int64_t queue::TenantStats::*field) const;

    mutable std::mutex mutex_;
    queue::QueueStats last_;
};

// Refreshes `gauges` every `period` until `stopped` expires (set it to time_point::min() to stop:
// unlike cancel(), that also ends a wait that starts later).
Task<void> refresh_queue_gauges(queue::OutboundQueue& queue, std::vector<std::string> tenants, QueueGauges& gauges,
                                net::steady_timer& stopped, config::Duration period);

}  // namespace wappa::service
