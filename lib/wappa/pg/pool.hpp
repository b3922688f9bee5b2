#pragma once
// A pool of PostgreSQL connections: at most settings.pool_size, opened on demand, replaced
// when lost (a server restart), handed out in turn; a caller waits for a free one up to
// settings.acquire_timeout (woken by the release, no polling).
#include <deque>
#include <memory>
#include <span>
#include <vector>

#include "wappa/core/asio.hpp"
#include "wappa/core/result.hpp"
#include "wappa/pg/connection.hpp"

namespace wappa::metrics {
class Registry;
class Counter;
}

namespace wappa::pg {

class Pool {
public:
    Pool(net::any_io_executor executor, Settings settings);
    ~Pool();
    Pool(const Pool&) = delete;
    Pool& operator=(const Pool&) = delete;

    const Settings& settings() const { return settings_; }

    // The statements in one round trip, one implicit transaction (Connection::run), on a
    // pooled connection. A lost connection is dropped and the next caller gets a new one; the
    // caller decides whether to run again (Error::transient).
    Task<Result<std::vector<Rows>>> run(std::span<const Query> queries);
    Task<Result<Rows>> run(const Query& query);

    // Several round trips on one connection (an explicit transaction: BEGIN ... COMMIT).
    class Lease {
    public:
        Lease(Pool& pool, std::unique_ptr<Connection> connection) : pool_(&pool), connection_(std::move(connection)) {}
        Lease(Lease&& other) noexcept = default;
        Lease& operator=(Lease&&) = delete;
        ~Lease();
        Connection& operator*() { return *connection_; }
        Connection* operator->() { return connection_.get(); }

    private:
        Pool* pool_;
        std::unique_ptr<Connection> connection_;
    };
    Task<Result<Lease>> acquire();

    // Counts errors (by SQLSTATE class) and reconnects into /metrics, labelled with settings.name.
    void count_into(metrics::Registry& registry);
    // Counters for health.
    std::uint64_t errors() const { return errors_; }
    std::uint64_t reconnects() const { return reconnects_; }
    std::size_t open() const { return open_; }

private:
    void release(std::unique_ptr<Connection> connection);

    net::any_io_executor executor_;
    Settings settings_;
    std::vector<std::unique_ptr<Connection>> idle_;
    std::size_t open_ = 0;
    std::deque<net::steady_timer*> waiters_;
    std::uint64_t errors_ = 0, reconnects_ = 0;
    metrics::Counter* error_counter_ = nullptr;
    metrics::Counter* reconnect_counter_ = nullptr;
    void count_error(const Error& error);
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace wappa::pg
