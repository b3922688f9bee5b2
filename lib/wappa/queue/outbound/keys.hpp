#pragma once
// The Redis keys of one tenant's outbound queue, "<prefix>:{<tenant>}:out:<name>": all of a
// tenant's keys share its hash tag, so every script runs in one Redis Cluster slot, and tenants
// spread over the slots.
#include <string>
#include <string_view>

namespace wappa::queue {

struct OutboundKeys {
    OutboundKeys(std::string_view prefix, std::string_view tenant);

    std::string base;        // "<prefix>:{<tenant>}:out:"
    std::string jobs;        // hash: id → job record (record.hpp), written once at enqueue
    std::string state;       // hash: id → state record; absent = queued, never claimed
    std::string hist;        // hash: id → exceptional events, JSON joined by \x1e
    std::string counts;      // hash: totals (queued, sent, failed, ...)
    std::string lanes;       // sorted set: sender → when its lane next has work
    std::string numbers;     // set: every sender this tenant queued for
    std::string rate;        // hash: sender → GCRA theoretical arrival time
    std::string inflight;    // sorted set: id → lease expiry
    std::string unknown;     // sorted set: id → end of its wait for a status webhook
    std::string failed;      // sorted set: id → failure time
    std::string done;        // list: "expires_at\x1fid" in the order messages were sent
    std::string wamids;      // hash: wamid → id, for status webhooks without our id
    std::string paused;      // hash: code, error, since, probe_at, probe_every (absent = not paused)
    std::string cool;        // hash: "tenant" / "sender:<id>" → "until level at seq"
    std::string paircool;    // hash: "<sender>:<recipient>" → "until level at seq"
    std::string pairs_even, pairs_odd, pairs_long, pairs_until;   // pair-limit planning
    std::string repair;      // string: the repair scan's cursor

    std::string fifo(std::string_view sender) const;    // list: "at\x1fid" queued due now
    std::string ready(std::string_view sender) const;   // sorted set: id → not-before time
};

// The pub/sub channel on which a lane's earlier work wakes idle workers: "<prefix>:out:wake".
std::string wake_channel(std::string_view prefix);
// The global rate limit's key, in a slot of its own: "<prefix>:{global}:out:rate".
std::string global_rate_key(std::string_view prefix);

}  // namespace wappa::queue
