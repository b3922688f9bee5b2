#pragma once
// The operator's view of the outbound queue, shared by the CLI (`stats`, `inspect`, `requeue`)
// and the admin routes of `serve`: the queue returns structs, rendered here once for both.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "wappa/config/config.hpp"
#include "wappa/core/asio.hpp"
#include "wappa/core/result.hpp"
#include "wappa/http/message.hpp"
#include "wappa/queue/outbound_queue.hpp"

namespace wappa::queue {
class InboundStream;
}
namespace wappa::pg {
class Pool;
}

namespace wappa::service {

// Every configured tenant's id, in config order.
std::vector<std::string> tenant_ids(const config::Config& config);

// Mean time from queued to sent, over every message sent (ms).
std::int64_t mean_send_latency_ms(const queue::TenantStats& stats);

// `wappa stats --json`:
// {"outbound":{queued,delayed,in_flight,unknown,failed,mean_queue_to_sent_ms,oldest_due_age_ms},
//  "paused":[{tenant,code,error,since,next_probe}],"totals":{counters},
//  "by_tenant":{tenant:{counters}},"tenants":{tenant:{queued,delayed,in_flight,unknown,failed,paused}}}
// With `only_tenant`, that tenant's figures alone. `more` (",\"key\":value...") is added inside:
// the inbound side's figures (inbound_admin.hpp).
std::string stats_json(const queue::QueueStats& stats, std::string_view only_tenant = {}, std::string_view more = {});

// GET /api/admin/messages/stats: {"by_status":{...},"by_tenant":{tenant:{status:count}}}.
std::string message_stats_json(const queue::QueueStats& stats, std::string_view only_tenant = {});

// `wappa inspect --json` and GET /api/admin/messages/{id}.
std::string message_json(const queue::MessageState& message);

struct RequeueSelection {
    std::vector<std::string> ids;   // empty = any
    std::string tenant;             // empty = every configured tenant
    std::optional<std::int64_t> error_code;
    std::int64_t failed_from_ms = 0;
    std::int64_t failed_to_ms = INT64_MAX;
    bool include_unknown = false;   // also messages whose send outcome is unknown
    bool dry_run = false;
    bool inbound = false;           // the inbound failed set ("queue": "inbound")
};

struct RequeueReport {
    std::vector<queue::FailedMessage> moved;     // or, in a dry run, that would move
    std::vector<queue::FailedMessage> skipped;   // unknown outcome, without include_unknown
};

using Progress = std::function<void(std::size_t done, std::size_t total)>;

// Requeues the failed messages the selection names, in batches.
Task<Result<RequeueReport>> requeue_selected(queue::OutboundQueue& queue, const config::Config& config,
                                             const RequeueSelection& selection, const Progress& progress);

// {"tenant":..,"message_id":..}: one message of a requeue report.
std::string message_ref_json(const queue::FailedMessage& message);

// {"requeued":N,"dry_run":bool,"message_ids":[...],"messages":[{tenant,message_id}],"skipped_unknown":M,
//  "skipped":[{tenant,message_id}]}
std::string requeue_json(const RequeueReport& report, bool dry_run);

// Reads a requeue selection from the JSON of POST /api/admin/messages/requeue (the flags of
// `wappa requeue`: ids or id, all, tenant, error_code, older_than, newer_than, include_unknown,
// dry_run). The error names the field.
Result<RequeueSelection> parse_requeue_request(std::string_view json, std::int64_t now_ms);

// Finds a message for `inspect`: in `tenant`, or in the one configured tenant that holds the
// id. The error says when no tenant or several hold it.
struct Lookup {
    std::optional<queue::MessageState> message;
    std::vector<std::string> holders;   // when several tenants hold the id and none was named
};
Task<Result<Lookup>> find_message(queue::OutboundQueue& queue, const config::Config& config, const std::string& tenant,
                                  const std::string& message_id);

// The routes under /api/admin/ other than health.
class AdminApi {
public:
    // `inbound` adds the inbound side to the stats and requeues; `postgres` the delivery counts.
    AdminApi(const config::Config& config, queue::OutboundQueue& queue, queue::InboundStream* inbound = nullptr,
             pg::Pool* postgres = nullptr)
        : config_(config), queue_(queue), inbound_(inbound), postgres_(postgres) {}

    bool handles(std::string_view path) const;
    Task<http::Response> handle(const http::Request& request);

private:
    const config::Config& config_;
    queue::OutboundQueue& queue_;
    queue::InboundStream* inbound_;
    pg::Pool* postgres_;
};

}  // namespace wappa::service
