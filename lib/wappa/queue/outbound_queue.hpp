#pragma once
// The outbound queue engine on Redis, sharded by tenant (keys: outbound/keys.hpp; scripts:
// outbound/lua/*.lua, one per transition). A message is a job record written once at enqueue
// and a state record; it is always findable in exactly one place of its tenant's queue:
//   a lane (one sender): the fifo (queued due now) or the ready set (planned later: pair
//       limit, retries, deferrals), claimed in not-before order within the sender's rate;
//   in flight: leased by one worker, whose every outcome must present the lease's token;
//   unknown: the request left and no answer came; a status webhook resolves it, else after
//       the ambiguous wait on_ambiguous fails or requeues it;
//   failed: a permanent error, attempts exhausted, or an unknown outcome;
//   done: sent (delivered, read...), kept for the retention period.
// Every script uses the server's clock, unless a test injects one (OutboundSettings::clock).
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "wappa/config/units.hpp"
#include "wappa/core/asio.hpp"
#include "wappa/core/result.hpp"

namespace wappa::redis {
class Client;
}

namespace wappa::queue {

struct OutboundKeys;

struct EnqueueRequest {
    std::string message_id;      // unique per tenant
    std::string tenant;
    std::string phone_number_id; // the sender
    std::string to_number;
    std::string type;
    std::string graph_body;      // what the worker POSTs; also what a repeated enqueue is compared with
    double rate_per_recipient = 1.0 / 6.0;   // the pair limit, planned at enqueue (0 = none)
    std::int64_t burst_per_recipient = 1;
    std::string notify_channel;  // outgoing_message notification, published once queued ("" = none)
    std::string notify_payload;
};

enum class EnqueueOutcome { queued, exists, conflict };

struct EnqueueResult {
    EnqueueOutcome outcome = EnqueueOutcome::queued;
    std::string status;          // the existing message's status when it exists
};

// One sender of one tenant: the unit of claiming and of the per-number rate.
struct Lane {
    std::string tenant;
    std::string sender;
    auto operator<=>(const Lane&) const = default;
};

struct Claim {
    std::string tenant;
    std::string sender;
    std::string message_id;
    std::string token;           // the lease's fencing token
    std::string graph_body;
    std::string to_number;
    std::string type;            // the job's type (text_message...)
    std::int64_t created_at = 0;
    std::int64_t attempt = 1;    // this attempt's number (attempts spent before it + 1)
    std::int64_t deferrals = 0;  // earlier claims that spent no attempt
    std::string claimed_state;   // the state record the claim wrote (the ack presents it back)
};

struct LaneClaim {
    std::vector<Claim> claims;
    std::int64_t next_due = 0;   // when the lane may next have work (ms); 0 = nothing queued
    std::int64_t now = 0;        // the queue's clock when claimed (ms)
};

// Where a rate-limit answer applies: Meta's pair limit, the sender number, or the whole
// tenant (WABA and app limits).
enum class ThrottleScope { pair, sender, tenant };

enum class Recorded { recorded, fenced, paused_tenant, resumed_tenant };

// A status webhook about a message of the tenant it arrived for.
struct StatusReport {
    std::string message_id;      // biz_opaque_callback_data
    std::string wamid;
    std::string status;          // sent|delivered|read|played|failed
    std::string error_code;
    std::string error_title;
};

struct SweepResult {
    std::int64_t next_due = 0;   // when this tenant next needs upkeep (ms); 0 = nothing scheduled
    std::int64_t now = 0;
    std::int64_t expired = 0, dropped = 0, leases_expired = 0, unknown_settled = 0, repaired = 0;
    bool missing_sender = false; // a message's sender was not among those passed: list them again
};

struct MessageState {
    std::string tenant;
    std::string message_id;
    std::string status;
    std::string sender;
    std::string to;
    std::string type;
    std::string body;            // the Graph request body (JSON)
    std::int64_t created_at = 0, not_before = 0, updated_at = 0;
    std::int64_t attempts = 0, deferrals = 0;
    std::string wamid;
    std::int64_t sent_at = 0, delivered_at = 0, read_at = 0;
    std::string last_error_code;
    std::string last_error;
    bool unknown_outcome = false;
    std::int64_t lease_until = 0;     // while in flight
    std::int64_t unknown_until = 0;   // while waiting for a status webhook
    std::vector<std::string> history; // JSON objects, oldest first
};

struct FailedMessage {
    std::string tenant;
    std::string sender;
    std::string message_id;
    std::int64_t error_code = 0;
    bool unknown_outcome = false;
    std::int64_t failed_at = 0;
};

enum class RequeueOutcome { moved, not_failed, skipped_unknown };

struct PausedTenant {
    std::string code;
    std::string error;
    std::int64_t since = 0;
    std::int64_t probe_at = 0;
};

struct TenantStats {
    std::int64_t queued = 0;      // due now, waiting for a worker
    std::int64_t delayed = 0;     // planned later: retries, deferrals, rate and pair limits
    std::int64_t in_flight = 0;
    std::int64_t unknown = 0;     // sent with unknown outcome, waiting for a status webhook
    std::int64_t failed = 0;
    std::int64_t oldest_due = 0;  // the not-before time of the oldest due message (0 = none)
    std::optional<PausedTenant> paused;
    std::map<std::string, std::int64_t> counters;   // queued, sent, failed, delivered, read, ...
};

struct QueueStats {
    std::map<std::string, TenantStats> tenants;
    std::int64_t now = 0;
    TenantStats total() const;    // sums; paused stays empty
};

struct OutboundSettings {
    std::string prefix = "wappa";
    config::Duration lease{60'000};
    std::int64_t max_attempts = 20;
    config::Duration backoff_base{1'000};
    config::Duration backoff_max{120'000};
    bool retry_ambiguous = false;                      // [outbound] on_ambiguous = "retry"
    config::Duration ambiguous_wait{600'000};          // how long an unknown outcome waits for its status
    config::Duration pause_probe{60'000};              // a paused tenant's probe interval
    config::Duration cooldown_base{1'000};             // throttling without Retry-After: base * 4^n
    config::Duration cooldown_max{300'000};
    double rate_global = 0;                            // messages/s over every tenant; 0 = none
    config::Duration retention{7 * 86'400'000};        // how long a sent message's state is kept
    std::int64_t failed_max = 100'000;                 // each tenant's failed-set cap, oldest dropped first
    config::Duration failed_max_age{30LL * 86'400'000};
    std::int64_t event_log_max_len = 0;                // outgoing_message notifications logged too (0 = not)
    std::function<std::int64_t()> clock;               // tests: the time (ms) every script uses
};

// The backoff before try n (1 = after the first): exponential with equal jitter, between half
// and all of backoff_base * 2^(n-1), capped at backoff_max. The floor gives the retry budget a
// lower bound (the defaults span at least 13 minutes).
struct Backoff {
    std::int64_t min_ms = 0, max_ms = 0;
};
Backoff backoff_range(const OutboundSettings& settings, std::int64_t n);

class OutboundQueue {
public:
    OutboundQueue(redis::Client& client, OutboundSettings settings);
    ~OutboundQueue();
    OutboundQueue(const OutboundQueue&) = delete;
    OutboundQueue& operator=(const OutboundQueue&) = delete;

    const OutboundSettings& settings() const { return settings_; }

    // Many jobs, of any tenants, pipelined; one result per job, in order.
    Task<Result<std::vector<EnqueueResult>>> enqueue(std::span<const EnqueueRequest> jobs);

    // Claims up to `max` due messages of the lane, within the sender's rate (0 = none).
    Task<Result<LaneClaim>> claim(const Lane& lane, std::size_t max, double rate_per_number);
    // Acks completing together are written in one script call per tenant.
    Task<Result<Recorded>> mark_sent(const Claim& claim, std::string wamid);
    // An answered transient error: an attempt spent; again after a backoff (never sooner than
    // `retry_after`), or failed when attempts are exhausted.
    Task<Result<Recorded>> retry(const Claim& claim, std::int64_t code, std::string error, config::Duration retry_after);
    // The request certainly never left: no attempt spent; again after a backoff.
    Task<Result<Recorded>> not_sent(const Claim& claim, std::string error);
    // A rate-limit answer: no attempt spent; the scope waits Retry-After (`retry_after`) or a
    // growing cool-down; the message keeps its place.
    Task<Result<Recorded>> throttle(const Claim& claim, ThrottleScope scope, std::int64_t code, std::string error,
                                    config::Duration retry_after);
    // The token was refused: the tenant pauses (Recorded::paused_tenant when this paused it).
    Task<Result<Recorded>> pause(const Claim& claim, std::int64_t code, std::string error);
    Task<Result<Recorded>> fail(const Claim& claim, std::int64_t code, std::string error);
    // The request left and no usable answer came.
    Task<Result<Recorded>> unknown(const Claim& claim, std::int64_t code, std::string error);

    // Status webhooks of one tenant. Returns how many named a message of that tenant.
    Task<Result<std::size_t>> apply_statuses(const std::string& tenant, const std::vector<StatusReport>& reports);
    // Upkeep of one tenant (retention, failed-set caps, expired leases, unknown outcomes).
    Task<Result<SweepResult>> sweep(const std::string& tenant, const std::vector<std::string>& senders, bool repair);
    // Every sender the tenant queued for.
    Task<Result<std::vector<std::string>>> senders(const std::string& tenant);

    Task<Result<std::optional<MessageState>>> inspect(const std::string& tenant, const std::string& message_id);
    // Which of `tenants` hold a message with this id.
    Task<Result<std::vector<std::string>>> tenants_holding(const std::vector<std::string>& tenants, const std::string& message_id);
    // A tenant's failed messages whose failure time lies in [from_ms, to_ms].
    Task<Result<std::vector<FailedMessage>>> failed(const std::string& tenant, std::int64_t from_ms, std::int64_t to_ms);
    // Moves failed messages of one lane back to its queue; one outcome per id.
    Task<Result<std::vector<RequeueOutcome>>> requeue(const Lane& lane, const std::vector<std::string>& ids, bool include_unknown,
                                                      bool dry_run);
    Task<Result<QueueStats>> stats(const std::vector<std::string>& tenants);

    // The global rate (rate_global > 0): takes up to `want` sends now; `next_allowed` (ms)
    // receives when the next one may go. give_back() returns unused ones.
    Task<Result<std::size_t>> take_global(std::size_t want, std::int64_t& next_allowed);
    Task<Status> give_back_global(std::size_t unused);

private:
    struct AckBatch;
    struct AckLane;
    Task<void> flush_acks(std::string tenant);
    Task<Result<Recorded>> transition(const Claim& claim, std::string_view outcome, std::int64_t code, std::string error,
                                      std::int64_t delay_ms);
    const OutboundKeys& keys(const std::string& tenant);
    std::string now_arg() const;

    redis::Client& client_;
    OutboundSettings settings_;
    std::string wake_channel_;
    std::map<std::string, std::unique_ptr<OutboundKeys>, std::less<>> keys_;
    std::map<std::string, std::unique_ptr<AckLane>, std::less<>> acks_;   // per tenant
};

}  // namespace wappa::queue
