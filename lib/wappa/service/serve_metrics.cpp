#include "wappa/service/serve_metrics.hpp"

#include "wappa/service/redis_metrics.hpp"

namespace wappa::service {

ServeMetrics::ServeMetrics(metrics::Registry& r)
    : http_requests(r.counter("wappa_http_requests_total", "HTTP requests by route and status.", {"route", "status"})),
      webhook_events(r.counter("wappa_webhook_events_total", "Webhook events queued, by type.", {"type"})),
      webhook_duplicates(r.counter("wappa_webhook_duplicates_total", "Webhook events recognised as redeliveries and not queued again.")),
      webhook_unknown(r.counter("wappa_webhook_unknown_number_total",
                                "Webhook changes for a phone_number_id no tenant accepts (logged, not queued).",
                                {"phone_number_id"})),
      webhook_rejected(r.counter("wappa_webhook_rejected_total", "Webhook requests refused, by reason.", {"reason"})),
      redis_errors(r.counter("wappa_redis_errors_total", "Redis operations that failed, by operation.", {"operation"})),
      webhook_latency(r.histogram("wappa_webhook_duration_seconds",
                                  "Time from a webhook request's arrival to its answer.")) {
    count_redis_cluster_events(r);
}

}  // namespace wappa::service
