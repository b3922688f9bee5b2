#pragma once
// Turns a parsed webhook into queue events: one per message, status, error report and other
// subscribed field, each with its dedup id, stream entry and notification. Pure logic, no I/O.
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "wappa/config/config.hpp"
#include "wappa/queue/inbound_queue.hpp"
#include "wappa/queue/outbound_queue.hpp"
#include "wappa/whatsapp/model.hpp"

namespace wappa::service {

struct InboundBatch {
    std::vector<queue::InboundEvent> events;
    std::vector<std::string> event_types;        // per event: "message:text", "status:read", ...
    std::vector<std::string> unknown_numbers;    // phone_number_ids no tenant accepts (one per change)
    // For the outbound queue, per tenant the webhook came in for: our messages' fate.
    std::map<std::string, std::vector<queue::StatusReport>> statuses;
};

// `accepts` says whether the request's signature authorises events for a tenant.
InboundBatch build_inbound_events(const whatsapp::Webhook& webhook, const config::Config& config,
                                  const std::function<bool(const config::TenantSettings&)>& accepts,
                                  std::string_view received_at);

}  // namespace wappa::service

namespace wappa::service {

// A built batch taken in: its events appended to the inbound streams (deduplicated), then its
// statuses applied to the outbound queue. Used by the webhook route and by the sandbox's
// simulated statuses, so that both take the same path. On an error (whose `code` names the step:
// "inbound_append" or "outbound_status") nothing may be acknowledged; doing it again is harmless.
Task<Result<queue::AppendResult>> ingest(const InboundBatch& batch, queue::InboundQueue& inbound, queue::OutboundQueue& outbound);

}  // namespace wappa::service
