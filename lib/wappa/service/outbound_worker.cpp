#include "wappa/service/outbound_worker.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "wappa/graph/transport.hpp"
#include "wappa/queue/outbound_queue.hpp"

namespace wappa::service {

struct ClaimHolder {
    queue::Claim claim;
};

namespace {
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

Task<void> sleep_for(std::chrono::milliseconds d) {
    net::steady_timer timer(co_await net::this_coro::executor, d);
    co_await timer.async_wait(use_tuple);
}
}  // namespace

OutboundWorker::OutboundWorker(const config::Config& config, queue::OutboundQueue& queue, graph::Transport& transport,
                               std::size_t concurrency)
    : config_(config), queue_(queue), transport_(transport), concurrency_(std::max<std::size_t>(1, concurrency)) {}

Task<void> OutboundWorker::process(ClaimHolder holder) {
    const auto& claim = holder.claim;
    const auto* tenant = config_.find_tenant(claim.tenant);
    Result<bool> recorded = false;
    if (tenant == nullptr) {
        recorded = co_await queue_.fail(claim, 0, "tenant '" + claim.tenant + "' is not configured");
        ++stats_.failed;
    } else {
        const auto outcome = co_await transport_.send(claim.phone_number_id, tenant->access_token, claim.graph_body);
        using Kind = graph::SendOutcome::Kind;
        switch (outcome.kind) {
            case Kind::sent:
                recorded = co_await queue_.mark_sent(claim, outcome.wamid);
                ++stats_.sent;
                break;
            case Kind::transient:
                recorded = co_await queue_.retry(claim, outcome.code, outcome.error, outcome.retry_after);
                ++stats_.retried;
                break;
            case Kind::rate_limited: {
                // Back off without spending an attempt: Retry-After, else 4^attempt seconds, capped.
                auto delay = outcome.retry_after;
                if (delay.count() == 0) delay = config::Duration(std::min<std::int64_t>(60'000, 1000LL << (2 * std::min<std::int64_t>(claim.attempts - 1, 5))));
                recorded = co_await queue_.defer(claim, delay, outcome.code, outcome.error);
                ++stats_.deferred;
                break;
            }
            case Kind::permanent:
                recorded = co_await queue_.fail(claim, outcome.code, outcome.error);
                ++stats_.failed;
                spdlog::warn("message failed permanently message_id={} code={} error={}", claim.message_id, outcome.code, outcome.error);
                break;
        }
    }
    if (!recorded) {
        // The lease runs out and the ambiguous-outcome policy decides; nothing is lost.
        spdlog::error("could not record the outcome of message_id={}: {}", claim.message_id, recorded.error().message);
    } else if (!recorded.value()) {
        spdlog::warn("outcome of message_id={} not recorded: its lease was taken over (fenced)", claim.message_id);
    }
    --in_flight_;
}

Task<void> OutboundWorker::run(config::Duration grace) {
    auto executor = co_await net::this_coro::executor;
    while (!stopping_) {
        if (in_flight_ >= concurrency_) {
            co_await sleep_for(std::chrono::milliseconds(1));
            continue;
        }
        auto claims = co_await queue_.claim(concurrency_ - in_flight_);
        if (!claims) {
            spdlog::error("claiming outbound messages failed: {}", claims.error().message);
            co_await sleep_for(std::chrono::milliseconds(250));
            continue;
        }
        for (auto& c : claims.value()) {
            ++in_flight_;
            net::co_spawn(executor, process(ClaimHolder{std::move(c)}), net::detached);
        }
        if (claims->empty()) co_await sleep_for(std::chrono::milliseconds(10));
    }
    const auto deadline = std::chrono::steady_clock::now() + grace;
    while (in_flight_ > 0 && std::chrono::steady_clock::now() < deadline) co_await sleep_for(std::chrono::milliseconds(5));
    if (in_flight_ > 0) spdlog::warn("{} send(s) still in flight after the grace period: their leases will expire", in_flight_);
}

}  // namespace wappa::service
