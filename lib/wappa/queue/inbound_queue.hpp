#pragma once
// The inbound queue: one Redis Stream per tenant (workers read it with a consumer group), with
// every event deduplicated and appended, and its notification published, in one atomic script.
// Keys of one tenant share the hash tag {tenant}, so the script runs on Redis Cluster too.
#include <string>
#include <vector>

#include "wappa/config/units.hpp"
#include "wappa/core/asio.hpp"
#include "wappa/core/result.hpp"

namespace wappa::redis {
class Client;
}

namespace wappa::queue {

struct InboundEvent {
    std::string tenant;
    std::string dedup_id;       // "msg:<wamid>", "status:<wamid>:<status>", "change:<digest>"
    std::string entry;          // the JSON stored in the stream (field "event")
    std::string channel;        // empty: no notification
    std::string notification;
};

struct AppendResult {
    std::size_t queued = 0;
    std::size_t duplicates = 0;
};

// "{prefix}:{tenant}:inbound"
std::string inbound_stream_key(std::string_view prefix, std::string_view tenant);
// "{prefix}:{tenant}:seen:{dedup_id}"
std::string seen_key(std::string_view prefix, std::string_view tenant, std::string_view dedup_id);

class InboundQueue {
public:
    // `max_len` caps each stream (about: trimmed as Redis sees fit) when nothing consumes it; 0 = none.
    // Notifications go to the tenants' event logs too, capped at `event_log_max_len` (0 = none).
    InboundQueue(redis::Client& client, std::string prefix, config::Duration dedup_ttl, std::int64_t max_len = 0,
                 std::int64_t event_log_max_len = 0);

    // Appends every event not seen before. Succeeds only when all of them are in Redis; on an
    // error nothing can be assumed and the caller must not acknowledge (Meta retries, and the
    // events already appended are then recognised as duplicates).
    Task<Result<AppendResult>> append(const std::vector<InboundEvent>& events);

private:
    redis::Client& client_;
    std::string prefix_;
    std::string ttl_seconds_;
    std::string max_len_;
    std::string event_log_max_len_;
};

}  // namespace wappa::queue
