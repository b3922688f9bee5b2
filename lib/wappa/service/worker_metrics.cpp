#include "wappa/service/worker_metrics.hpp"

#include "wappa/service/redis_metrics.hpp"

namespace wappa::service {

WorkerMetrics::WorkerMetrics(metrics::Registry& r)
    : sends(r.counter("wappa_outbound_sends_total",
                      "Outbound sends by outcome (sent, retry, not_sent, unknown, throttled, paused, failed) and Graph error code "
                      "(0 = none).",
                      {"outcome", "code"})),
      rate_limited(r.counter("wappa_outbound_rate_limited_total",
                             "Graph throttling answers, by code and scope (pair, sender, tenant); no attempt spent.",
                             {"code", "scope"})),
      unrecorded(r.counter("wappa_outbound_unrecorded_total",
                           "Send outcomes not recorded: Redis unavailable (the lease decides) or the lease was taken over.",
                           {"reason"})),
      claim_errors(r.counter("wappa_outbound_claim_errors_total", "Claims from the queue that failed (Redis unavailable).")),
      sweeps(r.counter("wappa_outbound_upkeep_total",
                       "Queue upkeep by action: expired (retention), dropped (failed-set caps), leases_expired, unknown_settled, "
                       "repaired.",
                       {"action"})),
      send_latency(r.histogram("wappa_outbound_send_duration_seconds", "Time of one Graph API send, request to answer.")) {
    r.gauge("wappa_outbound_busy", "Sends in flight in this process.", [this] { return busy.load(); });
    count_redis_cluster_events(r);
}

}  // namespace wappa::service
