#pragma once
// The metrics of the outbound worker, on `worker --metrics-listen` and on `serve --with-worker`.
#include <atomic>

#include "wappa/metrics/metrics.hpp"

namespace wappa::service {

struct WorkerMetrics {
    explicit WorkerMetrics(metrics::Registry& registry);

    metrics::Counter& sends;              // outcome (sent|retry|not_sent|unknown|throttled|paused|failed), code
    metrics::Counter& rate_limited;       // code, scope: Meta's throttling answers (no attempt spent)
    metrics::Counter& unrecorded;         // outcomes Redis did not take (the lease decides) or fenced
    metrics::Counter& claim_errors;
    metrics::Counter& sweeps;             // what the upkeep did: expired, dropped, leases_expired, unknown_settled, repaired
    metrics::Histogram& send_latency;
    std::atomic<double> busy{0};          // sends in flight in this process
};

}  // namespace wappa::service
