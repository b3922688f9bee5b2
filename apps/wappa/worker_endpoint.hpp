#pragma once
// `wappa worker --metrics-listen`: /metrics and /api/admin/health of one worker process.
#include <optional>

#include "wappa/config/config.hpp"
#include "wappa/core/asio.hpp"
#include "wappa/core/result.hpp"
#include "wappa/http/server.hpp"
#include "wappa/metrics/metrics.hpp"

namespace wappa::redis {
class Client;
}
namespace wappa::pg {
class Pool;
}
namespace wappa::service {
class QueueGauges;
}

namespace wappa::app {

struct WorkerProbes {
    const metrics::Registry& registry;
    redis::Client& redis;
    const bool& stopping;
    const service::QueueGauges* gauges = nullptr;   // the outbound role: each tenant's state
    pg::Pool* postgres = nullptr;                   // configured: checked, down = 503
};

// Binds `listen` and serves the probes on `executor`; the server is returned to be kept.
Result<std::unique_ptr<http::Server>> serve_worker_probes(net::any_io_executor executor, const config::Address& listen,
                                                          WorkerProbes probes);

}  // namespace wappa::app
