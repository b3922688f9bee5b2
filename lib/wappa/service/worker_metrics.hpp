#pragma once
// The metrics of the outbound worker, on `worker --metrics-listen` and on `serve --with-worker`.
#include <atomic>

#include "wappa/metrics/metrics.hpp"

namespace wappa::service {

struct WorkerMetrics {
    explicit WorkerMetrics(metrics::Registry& registry);

    metrics::Counter& sends;              // outcome (sent|retry|deferred|failed), code
    metrics::Counter& rate_limited;       // code: Meta's rate-limit answers (rescheduled, no attempt spent)
    metrics::Counter& unrecorded;         // outcomes Redis did not take (lease decides) or fenced
    metrics::Counter& claim_errors;
    metrics::Histogram& send_latency;
    // Refreshed every few seconds from Redis, read when /metrics is scraped.
    std::atomic<double> queued{0}, delayed{0}, in_flight{0}, failed{0};
    std::atomic<double> busy{0};          // sends in flight in this process
};

}  // namespace wappa::service
