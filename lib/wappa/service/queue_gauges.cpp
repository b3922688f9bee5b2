#include "wappa/service/queue_gauges.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

namespace wappa::service {

QueueGauges::QueueGauges(metrics::Registry& r) {
    const std::vector<std::string> tenant{"tenant"};
    using T = queue::TenantStats;
    r.gauge_family("wappa_outbound_queued", "Outbound messages due now, waiting for a worker.", tenant, [this] { return read(&T::queued); });
    r.gauge_family("wappa_outbound_delayed", "Outbound messages planned later (retries, deferrals, rate and pair limits).", tenant,
                   [this] { return read(&T::delayed); });
    r.gauge_family("wappa_outbound_in_flight", "Outbound messages claimed by a worker (all processes).", tenant,
                   [this] { return read(&T::in_flight); });
    r.gauge_family("wappa_outbound_unknown", "Outbound sends of unknown outcome waiting for their status webhook.", tenant,
                   [this] { return read(&T::unknown); });
    r.gauge_family("wappa_outbound_failed", "Outbound messages in the failed set.", tenant, [this] { return read(&T::failed); });
    r.gauge_family("wappa_outbound_tenant_paused", "1 while a tenant's sending is paused (its access token was refused).",
                   {"tenant", "code"}, [this] {
                       std::lock_guard lock(mutex_);
                       std::vector<metrics::Sample> out;
                       for (const auto& [id, s] : last_.tenants) {
                           out.push_back({{id, s.paused ? s.paused->code : ""}, s.paused ? 1.0 : 0.0});
                       }
                       return out;
                   });
    r.gauge_family("wappa_outbound_tenant_paused_since_seconds", "When a paused tenant's pause began (Unix time).", tenant, [this] {
        std::lock_guard lock(mutex_);
        std::vector<metrics::Sample> out;
        for (const auto& [id, s] : last_.tenants) {
            if (s.paused) out.push_back({{id}, static_cast<double>(s.paused->since) / 1000.0});
        }
        return out;
    });
    r.gauge_family("wappa_outbound_oldest_due_age_seconds", "Age of the oldest outbound message due and not yet claimed.", tenant, [this] {
        std::lock_guard lock(mutex_);
        std::vector<metrics::Sample> out;
        for (const auto& [id, s] : last_.tenants) {
            out.push_back({{id}, s.oldest_due > 0 ? static_cast<double>(last_.now - s.oldest_due) / 1000.0 : 0.0});
        }
        return out;
    });
}

void QueueGauges::update(queue::QueueStats stats) {
    std::lock_guard lock(mutex_);
    last_ = std::move(stats);
}

queue::QueueStats QueueGauges::snapshot() const {
    std::lock_guard lock(mutex_);
    return last_;
}

std::vector<metrics::Sample> QueueGauges::read(std::int64_t queue::TenantStats::*field) const {
    std::lock_guard lock(mutex_);
    std::vector<metrics::Sample> out;
    for (const auto& [id, s] : last_.tenants) out.push_back({{id}, static_cast<double>(s.*field)});
    return out;
}

Task<void> refresh_queue_gauges(queue::OutboundQueue& queue, std::vector<std::string> tenants, QueueGauges& gauges,
                                net::steady_timer& stopped, config::Duration period) {
    using namespace net::experimental::awaitable_operators;
    constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
    net::steady_timer timer(co_await net::this_coro::executor);
    for (;;) {
        if (auto s = co_await queue.stats(tenants)) gauges.update(std::move(s.value()));
        else spdlog::debug("queue figures for /metrics not refreshed: {}", s.error().message);
        timer.expires_after(period);
        auto woken = co_await (timer.async_wait(use_tuple) || stopped.async_wait(use_tuple));
        if (woken.index() == 1) co_return;
    }
}

}  // namespace wappa::service
