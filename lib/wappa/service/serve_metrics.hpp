#pragma once
// The metrics `wappa serve` exports on /metrics.
#include "wappa/metrics/metrics.hpp"

namespace wappa::service {

struct ServeMetrics {
    explicit ServeMetrics(metrics::Registry& registry);

    metrics::Counter& http_requests;         // route, status
    metrics::Counter& webhook_events;        // type ("message:text", "status:read", ...)
    metrics::Counter& webhook_duplicates;
    metrics::Counter& webhook_unknown;       // phone_number_id
    metrics::Counter& webhook_rejected;      // reason
    metrics::Counter& redis_errors;          // operation
    metrics::Histogram& webhook_latency;
};

}  // namespace wappa::service
