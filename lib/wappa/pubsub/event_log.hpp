#pragma once
// The durable event log: every notification is also appended to its tenant's capped Redis
// stream, so that a client that was away can replay what it missed (`subscribe --since`, the
// Last-Event-ID of the live routes). Ids come from one clock shared by all tenants: unique and
// ordered across the logs, so one id resumes a view that merges several tenants.
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "wappa/core/asio.hpp"
#include "wappa/core/result.hpp"

namespace wappa::redis {
class Client;
class Script;
}  // namespace wappa::redis

namespace wappa::pubsub {

// "{prefix}:{tenant}:events": in the tenant's hash slot, like its queues.
std::string event_log_key(std::string_view prefix, std::string_view tenant);
// "{prefix}:events:clock": the last id handed out. On a Redis Cluster a script may only touch keys
// of one slot, so each tenant has its own clock there, "{prefix}:{tenant}:events:clock": ids are
// unique and ordered within a tenant, and two tenants may hand out the same id (docs/operations.md).
std::string event_clock_key(std::string_view prefix, std::string_view tenant, bool per_tenant);

struct EventId {
    std::uint64_t ms = 0;
    std::uint64_t seq = 0;
    auto operator<=>(const EventId&) const = default;
    std::string str() const;
};
// "1700000000000-3" or "1700000000000" (seq 0); nullopt when malformed.
std::optional<EventId> parse_event_id(std::string_view text);
// `--since`: an id, or a duration back from `now_ms` ("5m", "30s", "1h", a number of seconds).
std::optional<EventId> since_position(std::string_view text, std::uint64_t now_ms);

// The tenant, user and event of "{prefix}:notify:{tenant}:{user}:{event}".
struct ChannelParts {
    std::string tenant, user, event;
};
std::optional<ChannelParts> parse_channel(std::string_view prefix, std::string_view channel);

struct LoggedEvent {
    EventId id;
    std::string tenant;
    std::string channel;
    std::string payload;
};

// The script that publishes one tenant's notifications and logs them (pubsub/lua/publish.lua).
const redis::Script& publish_script();
// The Lua functions other scripts use to log and publish in the same atomic call.
std::string_view event_log_lua();

// Publishes (and, with cap > 0, logs) notifications of one tenant: pairs of channel, payload.
// Returns how many Pub/Sub subscribers received them.
Task<Result<std::int64_t>> publish_logged(redis::Client& client, std::string prefix, std::int64_t cap, std::string tenant,
                            std::vector<std::pair<std::string, std::string>> notifications);

// Where a reader of several tenants' logs stands: after `after[i]` in `tenants[i]`'s log.
struct LogCursor {
    std::vector<std::string> tenants;
    std::vector<EventId> after;
};
// The next entries after the cursor, oldest first across the tenants, and the cursor moved past
// them; waits up to `block_ms` for one (0 = answer at once). Entries are returned in id order
// even when `count` cuts a tenant's answer short, so that a reader may resume from the last id.
Task<Result<std::vector<LoggedEvent>>> read_logs(redis::Client& client, std::string prefix, LogCursor& cursor, std::int64_t block_ms,
                                                 std::size_t count);
// How long a follower of the logs blocks in one XREAD: well inside the Redis client's
// command_timeout (a longer silence would count as a dead connection), at most 2 s.
std::int64_t follow_block_ms(std::int64_t command_timeout_ms);
// The last id handed out to each tenant (the same for all but on a cluster), 0-0 when none yet.
Task<Result<std::vector<EventId>>> last_event_ids(redis::Client& client, std::string prefix, std::vector<std::string> tenants);

// The tenants with a log, from the keys in Redis (a SCAN; for tools that have no tenant list).
Task<Result<std::vector<std::string>>> logged_tenants(redis::Client& client, std::string prefix);

}  // namespace wappa::pubsub
