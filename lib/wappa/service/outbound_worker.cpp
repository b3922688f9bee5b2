#include "wappa/service/outbound_worker.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "wappa/graph/transport.hpp"
#include "wappa/queue/outbound_queue.hpp"
#include "wappa/service/worker_metrics.hpp"

namespace wappa::service {

struct ClaimHolder {
    queue::Claim claim;
};

namespace {
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

// Outside the coroutines: GCC 12 cannot hold braced lists of literals in a coroutine frame.
void count_send(WorkerMetrics& m, std::string_view outcome, std::int64_t code) {
    const auto code_text = std::to_string(code);
    m.sends.inc({outcome, code_text});
    if (outcome == "deferred") m.rate_limited.inc({code_text});
}
void count_unrecorded(WorkerMetrics& m, std::string_view reason) { m.unrecorded.inc({reason}); }

Task<void> sleep_for(std::chrono::milliseconds d) {
    net::steady_timer timer(co_await net::this_coro::executor, d);
    co_await timer.async_wait(use_tuple);
}
}  // namespace

OutboundWorker::OutboundWorker(const config::Config& config, queue::OutboundQueue& queue, graph::Transport& transport,
                               std::size_t concurrency, WorkerMetrics& metrics)
    : config_(config), queue_(queue), transport_(transport), concurrency_(std::max<std::size_t>(1, concurrency)), metrics_(metrics) {}

Task<void> OutboundWorker::process(ClaimHolder holder) {
    const auto& claim = holder.claim;
    const auto* tenant = config_.find_tenant(claim.tenant);
    Result<bool> recorded = false;
    if (tenant == nullptr) {
        recorded = co_await queue_.fail(claim, 0, "tenant '" + claim.tenant + "' is not configured");
        ++stats_.failed;
        count_send(metrics_, "failed", 0);
    } else {
        const auto started = std::chrono::steady_clock::now();
        const auto outcome = co_await transport_.send(claim.phone_number_id, tenant->access_token, claim.graph_body);
        metrics_.send_latency.observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
        using Kind = graph::SendOutcome::Kind;
        switch (outcome.kind) {
            case Kind::sent:
                recorded = co_await queue_.mark_sent(claim, outcome.wamid);
                ++stats_.sent;
                count_send(metrics_, "sent", 0);
                break;
            case Kind::transient:
                recorded = co_await queue_.retry(claim, outcome.code, outcome.error, outcome.retry_after);
                ++stats_.retried;
                count_send(metrics_, "retry", outcome.code);
                spdlog::info("send will be retried message_id={} code={} error={}", claim.message_id, outcome.code, outcome.error);
                break;
            case Kind::rate_limited: {
                // Back off without spending an attempt: Retry-After, else 4^attempt seconds, capped.
                auto delay = outcome.retry_after;
                if (delay.count() == 0) delay = config::Duration(std::min<std::int64_t>(60'000, 1000LL << (2 * std::min<std::int64_t>(claim.attempts - 1, 5))));
                recorded = co_await queue_.defer(claim, delay, outcome.code, outcome.error);
                ++stats_.deferred;
                count_send(metrics_, "deferred", outcome.code);
                        break;
            }
            case Kind::permanent:
                recorded = co_await queue_.fail(claim, outcome.code, outcome.error);
                ++stats_.failed;
                count_send(metrics_, "failed", outcome.code);
                spdlog::warn("message failed permanently message_id={} code={} error={}", claim.message_id, outcome.code, outcome.error);
                break;
        }
    }
    if (!recorded) {
        // The lease runs out and the ambiguous-outcome policy decides; nothing is lost.
        count_unrecorded(metrics_, "redis");
        spdlog::error("could not record the outcome of message_id={}: {}", claim.message_id, recorded.error().message);
    } else if (!recorded.value()) {
        count_unrecorded(metrics_, "fenced");
        spdlog::warn("outcome of message_id={} not recorded: its lease was taken over (fenced)", claim.message_id);
    }
    metrics_.busy = static_cast<double>(in_flight_ - 1);
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
            metrics_.claim_errors.inc({});
            spdlog::error("claiming outbound messages failed: {}", claims.error().message);
            co_await sleep_for(std::chrono::milliseconds(250));
            continue;
        }
        for (auto& c : claims.value()) {
            ++in_flight_;
            metrics_.busy = static_cast<double>(in_flight_);
            net::co_spawn(executor, process(ClaimHolder{std::move(c)}), net::detached);
        }
        if (claims->empty()) co_await sleep_for(std::chrono::milliseconds(10));
    }
    const auto deadline = std::chrono::steady_clock::now() + grace;
    while (in_flight_ > 0 && std::chrono::steady_clock::now() < deadline) co_await sleep_for(std::chrono::milliseconds(5));
    if (in_flight_ > 0) spdlog::warn("{} send(s) still in flight after the grace period: their leases will expire", in_flight_);
}

Task<void> refresh_queue_depths(queue::OutboundQueue& queue, WorkerMetrics& metrics, const bool& stop, config::Duration period) {
    auto next = std::chrono::steady_clock::now();
    while (!stop) {
        if (std::chrono::steady_clock::now() >= next) {
            if (auto s = co_await queue.stats()) {
                metrics.queued = static_cast<double>(s->queued);
                metrics.delayed = static_cast<double>(s->delayed);
                metrics.in_flight = static_cast<double>(s->in_flight);
                metrics.failed = static_cast<double>(s->failed);
            }
            next = std::chrono::steady_clock::now() + period;
        }
        co_await sleep_for(std::chrono::milliseconds(100));   // short, so that a stop is seen quickly
    }
}

}  // namespace wappa::service
