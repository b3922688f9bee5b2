#pragma once
// The operator's view of the outbound queue, shared by the CLI (`stats`, `inspect`, `requeue`)
// and the admin routes of `serve`, so that both print the same JSON.
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

namespace wappa::service {

// Mean time from queued to sent, over every message sent (ms).
std::int64_t mean_send_latency_ms(const queue::QueueStats& stats);

// `wappa stats --json`: {"outbound":{queued,delayed,in_flight,failed},"totals":{...},"by_tenant":{...}}.
// With `only_tenant`, the figures of that tenant alone (no queue-wide depths).
std::string stats_json(const queue::QueueStats& stats, std::string_view only_tenant = {});

// GET /api/admin/messages/stats: {"by_status":{...},"by_tenant":{tenant:{status:count}}}.
std::string message_stats_json(const queue::QueueStats& stats, std::string_view only_tenant = {});

struct RequeueSelection {
    std::vector<std::string> ids;   // empty = any
    std::string tenant;             // empty = any
    std::optional<std::int64_t> error_code;
    std::int64_t failed_from_ms = 0;
    std::int64_t failed_to_ms = INT64_MAX;
    bool dry_run = false;
};

using Progress = std::function<void(std::size_t done, std::size_t total)>;

// Requeues the failed messages the selection names, in batches; returns the ids moved.
Task<Result<std::vector<std::string>>> requeue_selected(queue::OutboundQueue& queue, const RequeueSelection& selection,
                                                        const Progress& progress);

// {"requeued":N,"dry_run":bool,"message_ids":[...]}
std::string requeue_json(const std::vector<std::string>& moved, bool dry_run);

// Reads a requeue selection from the JSON of POST /api/admin/messages/requeue (the flags of
// `wappa requeue`: ids or id, all, tenant, error_code, older_than, newer_than, dry_run).
// The error names the field.
Result<RequeueSelection> parse_requeue_request(std::string_view json, std::int64_t now_ms);

// The routes under /api/admin/ other than health.
class AdminApi {
public:
    AdminApi(const config::Config& config, queue::OutboundQueue& queue) : config_(config), queue_(queue) {}

    bool handles(std::string_view path) const;
    Task<http::Response> handle(const http::Request& request);

private:
    const config::Config& config_;
    queue::OutboundQueue& queue_;
};

}  // namespace wappa::service
