#pragma once
// The Redis Cluster client's events on /metrics (zero on a single Redis), for serve and workers.
#include "wappa/metrics/metrics.hpp"

namespace wappa::service {

void count_redis_cluster_events(metrics::Registry& registry);

}  // namespace wappa::service
