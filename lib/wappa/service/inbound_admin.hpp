#pragma once
// The operator's view of the inbound side, shared by the CLI (`stats`, `requeue --queue
// inbound`) and the admin routes: each tenant's stream (depth, pending per consumer group,
// oldest age, failed) and, with PostgreSQL, our messages' counts by delivery status.
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "wappa/config/config.hpp"
#include "wappa/core/asio.hpp"
#include "wappa/core/result.hpp"
#include "wappa/queue/inbound_stream.hpp"
#include "wappa/service/outbound_admin.hpp"

namespace wappa::pg {
class Pool;
}

namespace wappa::service {

struct InboundView {
    std::map<std::string, queue::InboundTenantStats> tenants;
    // tenant → delivery status → messages (PostgreSQL; "outbound:<status>" for outbound_messages).
    std::optional<std::map<std::string, std::map<std::string, std::int64_t>>> delivery;
    std::string delivery_error;   // PostgreSQL configured but not answering
};

// The inbound streams' settings from the config, for `consumer` (empty for a reader only).
queue::InboundStreamSettings inbound_stream_settings(const config::Config& config, std::string consumer = {});

// `pool` is null without PostgreSQL; its failure is reported in the view, not as an error.
Task<Result<InboundView>> inbound_view(queue::InboundStream& stream, pg::Pool* pool);

// ,"inbound":{length,pending,lag,failed,oldest_age_ms,tenants:{t:{length,pending:{group:n},lag:{group:n},failed,oldest_age_ms}}}
// and, with PostgreSQL, ,"delivery":{tenant:{status:n}} — appended inside an object.
void append_inbound_json(std::string& out, const InboundView& view, std::string_view only_tenant = {});

// Moves failed inbound events back to their stream (ids, tenant, failure time; the error code
// does not apply). Reported like outbound requeues, with stream entry ids as message ids.
Task<Result<RequeueReport>> requeue_inbound(queue::InboundStream& stream, const config::Config& config, const RequeueSelection& selection);

}  // namespace wappa::service
