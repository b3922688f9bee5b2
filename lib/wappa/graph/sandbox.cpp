#include "wappa/graph/sandbox.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <random>

namespace wappa::graph {
namespace {

class Sandbox final : public Transport {
public:
    Sandbox(net::any_io_executor executor, config::Duration latency, double error_rate)
        : executor_(std::move(executor)), latency_(latency), error_rate_(error_rate) {}

    Task<SendOutcome> send(const std::string&, const std::string&, const std::string&) override {
        if (latency_.count() > 0) {
            net::steady_timer timer(executor_, latency_);
            co_await timer.async_wait(net::as_tuple(net::use_awaitable));
        }
        SendOutcome out;
        if (error_rate_ > 0 && std::uniform_real_distribution<double>(0, 1)(random_) < error_rate_) {
            out.kind = SendOutcome::Kind::transient;
            out.code = 131000;
            out.error = "sandbox: simulated transient error (graph.sandbox_error_rate)";
            co_return out;
        }
        out.kind = SendOutcome::Kind::sent;
        out.wamid = "wamid.SANDBOX" + std::to_string(random_()) + std::to_string(++counter_);
        co_return out;
    }

private:
    net::any_io_executor executor_;
    config::Duration latency_;
    double error_rate_;
    std::mt19937_64 random_{std::random_device{}()};
    std::uint64_t counter_ = 0;
};

}  // namespace

std::unique_ptr<Transport> make_sandbox(net::any_io_executor executor, const TransportSettings& settings) {
    return std::make_unique<Sandbox>(std::move(executor), settings.sandbox_latency, settings.sandbox_error_rate);
}

}  // namespace wappa::graph
