#include "wappa/pg/pool.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

#include "wappa/metrics/metrics.hpp"
#include <chrono>

namespace wappa::pg {

Pool::Pool(net::any_io_executor executor, Settings settings) : executor_(std::move(executor)), settings_(std::move(settings)) {}

Pool::~Pool() { *alive_ = false; }

void Pool::count_into(metrics::Registry& registry) {
    error_counter_ = &registry.counter("wappa_postgres_errors_total",
                                       "PostgreSQL statements or connections that failed, by pool and SQLSTATE class.", {"pool", "class"});
    reconnect_counter_ = &registry.counter("wappa_postgres_reconnects_total",
                                           "PostgreSQL connections lost and replaced (a server restart...), by pool.", {"pool"});
}

void Pool::count_error(const Error& error) {
    ++errors_;
    if (error_counter_ != nullptr) {
        const std::string_view sqlstate_class = error.code.size() >= 2 ? std::string_view(error.code).substr(0, 2) : std::string_view("none");
        error_counter_->inc({settings_.name, sqlstate_class});
    }
}

Pool::Lease::~Lease() {
    if (connection_ && pool_ != nullptr) pool_->release(std::move(connection_));
}

void Pool::release(std::unique_ptr<Connection> connection) {
    if (connection->usable()) idle_.push_back(std::move(connection));
    else --open_;
    if (!waiters_.empty()) {
        auto* first = waiters_.front();
        waiters_.pop_front();
        first->cancel();
    }
}

Task<Result<Pool::Lease>> Pool::acquire() {
    const auto deadline = std::chrono::steady_clock::now() + settings_.acquire_timeout;
    for (;;) {
        while (!idle_.empty()) {
            auto c = std::move(idle_.back());
            idle_.pop_back();
            if (c->usable()) co_return Lease(*this, std::move(c));
            --open_;
        }
        if (open_ < settings_.pool_size) break;
        if (std::chrono::steady_clock::now() >= deadline) {
            co_return Error{"all " + std::to_string(settings_.pool_size) + " PostgreSQL connections stayed busy (postgres.pool_size)",
                            "53300", true};
        }
        net::steady_timer wait(executor_, deadline);
        waiters_.push_back(&wait);
        co_await wait.async_wait(net::as_tuple(net::use_awaitable));
        std::erase(waiters_, &wait);
    }
    ++open_;
    auto connection = std::make_unique<Connection>(executor_, settings_);
    if (auto connected = co_await connection->connect(); !connected) {
        --open_;
        count_error(connected.error());
        if (!waiters_.empty()) {
            auto* first = waiters_.front();
            waiters_.pop_front();
            first->cancel();
        }
        co_return connected.error();
    }
    co_return Lease(*this, std::move(connection));
}

Task<Result<std::vector<Rows>>> Pool::run(std::span<const Query> queries) {
    auto lease = co_await acquire();
    if (!lease) co_return lease.error();
    auto rows = co_await (*lease)->run(queries);
    if (!rows) {
        count_error(rows.error());
        if (!(*lease)->usable()) {   // dropped on release; the next caller opens a new one
            ++reconnects_;
            if (reconnect_counter_ != nullptr) reconnect_counter_->inc({settings_.name});
        }
    }
    co_return rows;
}

Task<Result<Rows>> Pool::run(const Query& query) {
    auto rows = co_await run(std::span<const Query>(&query, 1));
    if (!rows) co_return rows.error();
    co_return std::move(rows.value().front());
}

}  // namespace wappa::pg
