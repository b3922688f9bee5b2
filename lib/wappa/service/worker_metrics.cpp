#include "wappa/service/worker_metrics.hpp"

namespace wappa::service {

WorkerMetrics::WorkerMetrics(metrics::Registry& r)
    : sends(r.counter("wappa_outbound_sends_total", "Outbound send attempts by outcome and Graph error code (0 = none).",
                      {"outcome", "code"})),
      rate_limited(r.counter("wappa_outbound_rate_limited_total",
                             "Graph rate-limit answers, rescheduled without spending an attempt, by code.", {"code"})),
      unrecorded(r.counter("wappa_outbound_unrecorded_total",
                           "Send outcomes not recorded: Redis unavailable (the lease decides) or the lease was taken over.",
                           {"reason"})),
      claim_errors(r.counter("wappa_outbound_claim_errors_total", "Claims from the queue that failed (Redis unavailable).")),
      send_latency(r.histogram("wappa_outbound_send_duration_seconds", "Time of one Graph API send, request to answer.")) {
    r.gauge("wappa_outbound_queued", "Outbound messages due now, waiting for a worker.", [this] { return queued.load(); });
    r.gauge("wappa_outbound_delayed", "Outbound messages scheduled later (retries, rate and pair limits).", [this] { return delayed.load(); });
    r.gauge("wappa_outbound_in_flight", "Outbound messages claimed by a worker (all processes).", [this] { return in_flight.load(); });
    r.gauge("wappa_outbound_failed", "Outbound messages in the failed set.", [this] { return failed.load(); });
    r.gauge("wappa_outbound_busy", "Sends in flight in this process.", [this] { return busy.load(); });
}

}  // namespace wappa::service
