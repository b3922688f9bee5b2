#pragma once
// Redis Cluster behind redis::Client's interface (redis+cluster://). It loads the slot map from
// any node (CLUSTER SLOTS), keeps one pipelined Client per master, routes each command by its
// keys' slot, follows MOVED (and reloads the map) and ASK, and reloads the map when a master is
// unreachable until a replica has taken its slots over. XREAD / XREADGROUP over streams of
// several slots is split per slot; a blocking one waits on a connection per slot and, once one
// answers, releases the others with CLIENT UNBLOCK (as a timeout: nothing is delivered twice or
// lost). A batch holding scripts (wappa's writes) ends with WAIT 1 when its master has a
// replica, so that what is acknowledged survives a failover.
#include <boost/asio/steady_timer.hpp>

#include <compare>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "wappa/redis/client.hpp"
#include "wappa/redis/slot.hpp"

namespace wappa::redis {

// What the cluster clients of this process went through, for /metrics
// (wappa_redis_cluster_events_total).
struct ClusterEventCounts {
    std::uint64_t moved = 0, ask = 0, retried = 0, map_changes = 0, replica_wait_timeouts = 0;
};
ClusterEventCounts cluster_event_counts();

class Cluster : public std::enable_shared_from_this<Cluster> {
public:
    Cluster(net::any_io_executor executor, Settings settings);

    void start();
    void stop();
    // The slot map is loaded and every master in it is connected.
    bool connected() const;
    Task<Status> wait_connected(config::Duration timeout);

    Task<Result<std::vector<Reply>>> exec(const std::vector<Command>& commands);
    Task<Result<Reply>> exec(const Command& command);
    // Every key matching `pattern` on every master.
    Task<Result<std::vector<std::string>>> scan(std::string pattern);

private:
    struct Gather;
    struct NodeBatches;

    Settings node_settings(const std::string& address) const;
    Client& node(const std::string& address);
    Client& blocking_node(const std::string& address, std::uint16_t slot);
    std::string owner(std::uint16_t slot) const;
    std::string any_master() const;
    bool has_replica(const std::string& address) const;
    std::int64_t replica_wait_ms() const;
    void request_refresh();
    Task<Status> refresh();
    Status apply_slot_map(const Reply& reply, const std::string& asked_host);
    void retire_unused();
    Task<void> run(std::shared_ptr<Cluster> self);
    Task<Result<Reply>> read_streams(const StreamReadSplit& split);
    Task<void> node_batch(std::shared_ptr<NodeBatches> batches, std::size_t index, Client* client, std::vector<Command> batch);
    Task<void> blocking_part(std::shared_ptr<Gather> gather, std::size_t index, Client* client, Command command);
    Task<void> sleep(config::Duration duration);

    net::any_io_executor executor_;
    Settings settings_;
    std::vector<std::string> seeds_;
    std::map<std::string, std::unique_ptr<Client>> nodes_;
    std::map<std::pair<std::string, std::uint16_t>, std::unique_ptr<Client>> blocking_;
    // Clients of nodes no longer in the map: stopped, kept until the end because a command may
    // still be unwinding through one.
    std::vector<std::unique_ptr<Client>> retired_;
    std::vector<std::string> masters_;
    // The map as last loaded (not as patched by MOVED since), to tell a changed map.
    struct SlotRange {
        std::int64_t first = 0, last = 0;
        std::string address;
        auto operator<=>(const SlotRange&) const = default;
    };
    std::vector<SlotRange> loaded_ranges_;
    std::vector<bool> replicated_;       // per master: it has a replica that is not known to have failed
    std::vector<std::uint16_t> owner_;   // per slot: an index into masters_, or no_owner
    static constexpr std::uint16_t no_owner = 0xffff;
    net::steady_timer refresh_signal_;
    bool refresh_wanted_ = false;
    bool loaded_ = false;
    bool stopped_ = false;
    std::string last_error_ = "the cluster's slot map is not loaded yet";
};

}  // namespace wappa::redis
