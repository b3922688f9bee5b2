#pragma once
// One inbound worker with its own event loop, Redis connections and PostgreSQL pool: the
// inbound role of `wappa worker` and of `wappa serve --with-worker`.
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <memory>
#include <optional>

#include "wappa/config/config.hpp"
#include "wappa/core/asio.hpp"
#include "wappa/core/result.hpp"
#include "wappa/metrics/metrics.hpp"

namespace wappa::app {

class InboundRuntime {
public:
    // `metrics_listen`: serve /metrics and /api/admin/health of this process there (prepare()).
    InboundRuntime(const config::Config& config, metrics::Registry& registry,
                   std::optional<config::Address> metrics_listen = std::nullopt);
    ~InboundRuntime();

    // Binds --metrics-listen, if given.
    Status prepare();
    // Runs the event loop until stop(); the batch in hand is finished first. Returns an exit code.
    int run();
    // Thread-safe.
    void stop();
    net::io_context& io();
    const std::atomic<bool>& running() const { return running_; }

private:
    struct Parts;
    std::unique_ptr<Parts> parts_;
    std::atomic<bool> running_{false};
};

// A consumer name unique to this process: host:pid.
std::string consumer_name();

}  // namespace wappa::app
