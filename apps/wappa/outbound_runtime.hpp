#pragma once
// One outbound worker with its own event loop and Redis connection: the body of `wappa worker`
// and of `wappa serve --with-worker` (where it runs on a thread of its own).
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <memory>
#include <optional>

#include "wappa/config/config.hpp"
#include "wappa/core/asio.hpp"
#include "wappa/core/result.hpp"
#include "wappa/metrics/metrics.hpp"

namespace wappa::app {

class OutboundRuntime {
public:
    // `registry` receives the worker's metrics; `metrics_listen` serves them with a health check.
    // With `queue_gauges`, the queue's figures per tenant are refreshed into the registry too
    // (serve, which has its own, passes false).
    OutboundRuntime(const config::Config& config, std::size_t concurrency, metrics::Registry& registry,
                    std::optional<config::Address> metrics_listen = std::nullopt, bool queue_gauges = true);
    ~OutboundRuntime();

    // Builds the Graph transport and binds the metrics listener; the error names the key or address.
    Status prepare();
    // Runs the event loop until stop() and the grace period are over. Returns an exit code.
    int run(config::Duration grace);
    // Thread-safe: no new claims; the sends in flight finish within the grace period.
    void stop();
    net::io_context& io();
    // True from the moment the worker is connected and claiming until it stops.
    const std::atomic<bool>& running() const { return running_; }

private:
    struct Parts;
    std::unique_ptr<Parts> parts_;
    std::atomic<bool> running_{false};
};

}  // namespace wappa::app
