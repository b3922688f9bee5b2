#pragma once
// Consuming the tenants' inbound streams (filled by `wappa serve`) with a consumer group,
// at-least-once: an entry is acknowledged only once it is stored; the pending entries of a
// consumer that died are claimed by the others after a while; entries that cannot be stored go
// to a failed set (requeueable); the streams are trimmed of what every group has.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "wappa/config/units.hpp"
#include "wappa/core/asio.hpp"
#include "wappa/core/result.hpp"

namespace wappa::redis {
class Client;
}

namespace wappa::queue {

struct StreamEntry {
    std::string tenant;
    std::string id;               // the stream entry id
    std::string event;            // the JSON `wappa serve` stored
    std::int64_t deliveries = 1;  // how often it was handed out (claims count)
};

struct InboundStreamSettings {
    std::string prefix = "wappa";
    std::string group = "wappa";
    std::string consumer;                  // unique per process: host:pid
    std::size_t batch = 256;               // entries per read
    config::Duration block{2'000};         // a read waits this long for new entries
    config::Duration claim_idle{60'000};   // a pending entry idle this long belongs to a dead consumer
    std::int64_t failed_max = 10'000;      // each tenant's inbound failed set, oldest dropped first
};

struct InboundFailed {
    std::string tenant;
    std::string id;
    std::string event;
    std::string error;
    std::int64_t failed_at = 0;
};

struct InboundTenantStats {
    std::int64_t length = 0;         // entries in the stream
    std::int64_t failed = 0;
    std::int64_t oldest_age_ms = 0;  // of the oldest entry not yet acknowledged by every group
    std::map<std::string, std::int64_t> pending;   // per consumer group
    std::map<std::string, std::int64_t> lag;       // per group: entries not yet delivered
};

class InboundStream {
public:
    // `reader` carries the blocking reads (a connection of its own); `client` the rest.
    InboundStream(redis::Client& reader, redis::Client& client, InboundStreamSettings settings, std::vector<std::string> tenants);

    const InboundStreamSettings& settings() const { return settings_; }
    const std::vector<std::string>& tenants() const { return tenants_; }

    // Creates the group on every tenant's stream (from its start) where it is missing.
    Task<Status> ensure_groups();
    // New entries of every tenant (waiting up to settings.block), or with `own_pending` the
    // entries this consumer was handed and has not acknowledged (after a failure, a restart).
    Task<Result<std::vector<StreamEntry>>> read(bool own_pending);
    // Takes over a tenant's entries pending longer than claim_idle with another consumer.
    Task<Result<std::vector<StreamEntry>>> claim_idle(const std::string& tenant);
    Task<Status> ack(const std::vector<StreamEntry>& entries);
    // Moves entries to their tenant's failed set with the error, and acknowledges them.
    Task<Status> fail(const std::vector<StreamEntry>& entries, const std::string& error);
    Task<Result<std::int64_t>> trim(const std::string& tenant);

    Task<Result<std::vector<InboundFailed>>> failed(const std::string& tenant);
    // Puts failed entries back in their stream; returns the ids moved (or that would be).
    Task<Result<std::vector<std::string>>> requeue(const std::string& tenant, const std::vector<std::string>& ids, bool dry_run);
    Task<Result<std::map<std::string, InboundTenantStats>>> stats();

    std::string stream_key(const std::string& tenant) const;

private:
    redis::Client& reader_;
    redis::Client& client_;
    InboundStreamSettings settings_;
    std::vector<std::string> tenants_;
};

}  // namespace wappa::queue
