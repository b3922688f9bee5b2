#pragma once
// The outbound queue engine on Redis. All keys share the hash tag {out} (one slot: the scripts
// touch several keys and stay valid on Redis Cluster). Per message: a string with the job as
// queued (`job:<id>`, request body included), from its first claim a hash with its state
// (`msg:<id>`), and a list with its history when something unusual happened. Scheduling:
//   ready:<phone_number_id>  sorted set of message ids scored by not-before time (ms), so that
//                            retries, scheduled sends and pair-limit slots are one mechanism
//                            (ids queued together for now: one member "\1<n>" for the list
//                            `batch:<n>`);
//   senders                  sorted set of phone_number_ids scored by the time each may send
//                            next (GCRA: 1/rate apart), which is also the round robin;
//   inflight                 sorted set of claimed ids scored by lease expiry; each claim gets
//                            a fencing token that ack/retry/fail must present;
//   failed                   sorted set of failed ids scored by failure time.
// Every transition is one Lua script, using the server's clock.
#include <cstdint>
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

struct EnqueueRequest {
    std::string message_id;
    std::string tenant;
    std::string phone_number_id;
    std::string to_number;
    std::string type;
    std::string graph_body;      // what the worker POSTs; also what a repeated enqueue is compared with
    double rate_per_number = 80;
    double rate_per_recipient = 1.0 / 6.0;
    std::int64_t burst_per_recipient = 1;
    std::string notify_channel;  // outgoing_message notification, published once queued ("" = none)
    std::string notify_payload;
};

enum class EnqueueOutcome { queued, exists, conflict };

struct EnqueueResult {
    EnqueueOutcome outcome = EnqueueOutcome::queued;
    std::string status;          // the existing message's status when it exists
};

struct Claim {
    std::string message_id;
    std::string token;
    std::string tenant;
    std::string phone_number_id;
    std::string graph_body;
    std::int64_t attempts = 0;   // including this one
};

struct FailedMessage {
    std::string message_id;
    std::string tenant;
    std::int64_t error_code = 0;
    std::int64_t failed_at_ms = 0;
};

struct QueueStats {
    std::int64_t queued = 0;      // due now, waiting for a worker
    std::int64_t delayed = 0;     // scheduled later: retries, rate and pair limits
    std::int64_t in_flight = 0;
    std::int64_t failed = 0;
    std::map<std::string, std::int64_t> counters;   // "sent", "failed", "sent:<tenant>", ...
};

struct OutboundSettings {
    std::string prefix = "wappa";
    config::Duration lease{60'000};
    std::int64_t max_attempts = 5;
    config::Duration backoff_base{1'000};
    config::Duration backoff_max{300'000};
    bool retry_ambiguous = false;   // [outbound] on_ambiguous = "retry"
    double rate_global = 0;         // messages/s over every sender; 0 = none
    config::Duration retention{7 * 86'400'000};        // how long a sent message's state is kept
    std::int64_t failed_max = 100'000;                 // the failed set's cap, oldest dropped first
    config::Duration failed_max_age{30LL * 86'400'000};
};

// A status webhook about a message we sent: joined by our id (biz_opaque_callback_data), else
// by the wamid.
struct StatusReport {
    std::string message_id;
    std::string wamid;
    std::string status;         // sent|delivered|read|failed|...
    std::string error_code;
    std::string error_title;
};

class OutboundQueue {
public:
    OutboundQueue(redis::Client& client, OutboundSettings settings);

    // Many jobs in one pipeline; one result per job, in order.
    Task<Result<std::vector<EnqueueResult>>> enqueue(std::span<const EnqueueRequest> jobs);
    // Claims up to `max` messages whose time has come, round robin over senders within their rate.
    Task<Result<std::vector<Claim>>> claim(std::size_t max);
    // Acks completing together are written in one script call. False when fenced.
    Task<Result<bool>> mark_sent(const Claim& claim, const std::string& wamid);
    // A transient failure: retried after backoff, or failed once attempts are exhausted.
    Task<Result<bool>> retry(const Claim& claim, std::int64_t code, const std::string& error, config::Duration retry_after);
    // Rate limited by Meta: rescheduled after `delay` without spending an attempt.
    Task<Result<bool>> defer(const Claim& claim, config::Duration delay, std::int64_t code, const std::string& error);
    Task<Result<bool>> fail(const Claim& claim, std::int64_t code, const std::string& error);
    // Status webhooks: advance the state (sent → delivered → read, or failed), and resolve a
    // send whose outcome was unknown (lease expired, parked as "outcome unknown", or queued
    // again under on_ambiguous = "retry") as sent, so that it is not sent a second time.
    // Returns how many reports matched a message of ours.
    Task<Result<std::size_t>> apply_statuses(const std::vector<StatusReport>& reports);
    // The message's state: hash fields and history entries as JSON.
    Task<Result<std::optional<std::string>>> inspect(const std::string& message_id);
    // Failed messages whose failure time lies in [from_ms, to_ms].
    Task<Result<std::vector<FailedMessage>>> failed(std::int64_t from_ms, std::int64_t to_ms);
    // Moves failed messages back to the queue (attempts reset); returns the ids moved. A
    // message that is not failed (already sent, requeued meanwhile) is left alone.
    Task<Result<std::vector<std::string>>> requeue(const std::vector<std::string>& ids, bool dry_run);
    Task<Result<QueueStats>> stats();

private:
    struct AckBatch;
    Task<void> flush_acks(std::shared_ptr<AckBatch> batch);

    redis::Client& client_;
    OutboundSettings settings_;
    std::string tag_;   // "{prefix}:{out}:"
    std::shared_ptr<AckBatch> pending_acks_;
};

}  // namespace wappa::queue
