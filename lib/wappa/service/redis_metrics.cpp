#include "wappa/service/redis_metrics.hpp"

#include "wappa/redis/cluster.hpp"

namespace wappa::service {

void count_redis_cluster_events(metrics::Registry& registry) {
    registry.counter_family(
        "wappa_redis_cluster_events_total",
        "Redis Cluster events: moved (a MOVED redirect followed), ask (an ASK redirect followed), retried (TRYAGAIN or "
        "CLUSTERDOWN), map_change (the slot map changed: failover, resharding), replica_wait_timeout (writes "
        "acknowledged before a replica confirmed them).",
        {"event"}, [] {
            const auto c = redis::cluster_event_counts();
            std::vector<metrics::Sample> out;
            out.push_back({{"moved"}, static_cast<double>(c.moved)});
            out.push_back({{"ask"}, static_cast<double>(c.ask)});
            out.push_back({{"retried"}, static_cast<double>(c.retried)});
            out.push_back({{"map_change"}, static_cast<double>(c.map_changes)});
            out.push_back({{"replica_wait_timeout"}, static_cast<double>(c.replica_wait_timeouts)});
            return out;
        });
}

}  // namespace wappa::service
