#include "wappa/redis/client.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <deque>

#include "wappa/redis/cluster.hpp"
#include "wappa/redis/connection.hpp"

namespace wappa::redis {
namespace {
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
using SteadyClock = std::chrono::steady_clock;
using Handler = net::any_completion_handler<void(std::string, std::vector<Reply>)>;
}  // namespace

struct Client::Impl : std::enable_shared_from_this<Client::Impl> {
    struct Pending {
        std::size_t expected = 0;
        std::vector<Reply> replies;
        Handler handler;
        SteadyClock::time_point queued_at;
    };

    Impl(net::any_io_executor ex, Settings s)
        : executor(ex), settings(std::move(s)), connection(ex), write_signal(ex), connected_signal(ex) {}

    net::any_io_executor executor;
    Settings settings;
    Connection connection;
    net::steady_timer write_signal;      // cancelled to wake the writer
    net::steady_timer connected_signal;  // cancelled when a connection comes up
    std::deque<Pending> pending;
    std::string write_buffer;
    bool is_connected = false;
    bool stopped = false;
    std::string last_error = "not connected yet";

    // Completes a handler later on the client's executor (the one its callers run on: a Client
    // belongs to one event loop), never inline inside our read loop.
    void complete(Handler handler, std::string error, std::vector<Reply> replies) {
        net::post(executor, [h = std::move(handler), e = std::move(error), r = std::move(replies)]() mutable {
            std::move(h)(std::move(e), std::move(r));
        });
    }

    void submit(std::string bytes, std::size_t count, Handler handler) {
        if (!is_connected) {
            complete(std::move(handler), "redis unavailable: " + last_error, {});
            return;
        }
        write_buffer += bytes;
        pending.push_back(Pending{count, {}, std::move(handler), SteadyClock::now()});
        pending.back().replies.reserve(count);
        write_signal.cancel();
    }

    void fail_all(const std::string& error) {
        auto failed = std::move(pending);
        pending.clear();
        write_buffer.clear();
        for (auto& p : failed) complete(std::move(p.handler), error, {});
    }

    Task<std::string> writer() {
        std::string in_flight;
        for (;;) {
            if (write_buffer.empty()) {
                write_signal.expires_at(SteadyClock::time_point::max());
                co_await write_signal.async_wait(use_tuple);
                if (stopped) co_return "client stopped";
                continue;
            }
            in_flight.swap(write_buffer);
            if (auto status = co_await connection.write(in_flight); !status) co_return status.error().message;
            in_flight.clear();
        }
    }

    Task<std::string> reader() {
        std::vector<Reply> replies;
        for (;;) {
            replies.clear();
            if (auto status = co_await connection.read(replies); !status) co_return status.error().message;
            for (auto& reply : replies) {
                if (pending.empty()) co_return "redis sent a reply nobody asked for";
                auto& front = pending.front();
                front.replies.push_back(std::move(reply));
                if (front.replies.size() == front.expected) {
                    auto done = std::move(front);
                    pending.pop_front();
                    complete(std::move(done.handler), {}, std::move(done.replies));
                }
            }
        }
    }

    // A command unanswered past command_timeout means the connection is dead in practice.
    Task<std::string> watchdog() {
        net::steady_timer timer(executor);
        const auto period = std::min<SteadyClock::duration>(settings.command_timeout / 4, std::chrono::milliseconds(250));
        for (;;) {
            timer.expires_after(period);
            co_await timer.async_wait(use_tuple);
            if (stopped) co_return "client stopped";
            if (!pending.empty() && SteadyClock::now() - pending.front().queued_at > settings.command_timeout) {
                co_return "no answer from redis within " + std::to_string(settings.command_timeout.count()) + "ms";
            }
        }
    }

    // The frame owns `self`: the Impl outlives its Client until the loop has ended.
    Task<void> run([[maybe_unused]] std::shared_ptr<Impl> self) {
        using namespace net::experimental::awaitable_operators;
        auto backoff = std::chrono::milliseconds(100);
        bool reported_down = false;
        net::steady_timer sleep(executor);
        while (!stopped) {
            auto status = co_await connection.connect(settings);
            if (stopped) break;
            if (!status) {
                last_error = status.error().message;
                if (!reported_down) spdlog::error("{} unreachable, reconnecting: {}", settings.name, last_error);
                reported_down = true;
                sleep.expires_after(backoff);
                co_await sleep.async_wait(use_tuple);
                backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
                continue;
            }
            is_connected = true;
            backoff = std::chrono::milliseconds(100);
            if (reported_down) spdlog::info("{} reconnected host={}:{}", settings.name, settings.endpoint.host, settings.endpoint.port);
            else spdlog::debug("{} connected host={}:{}", settings.name, settings.endpoint.host, settings.endpoint.port);
            reported_down = false;
            connected_signal.cancel();

            auto ended = co_await (reader() || writer() || watchdog());
            is_connected = false;
            last_error = std::visit([](auto& e) { return e; }, ended);
            connection.close();
            fail_all("redis connection lost: " + last_error);
            if (stopped) break;
            spdlog::error("{} connection lost, reconnecting: {}", settings.name, last_error);
            reported_down = true;
        }
        is_connected = false;
        fail_all("redis client stopped");
    }
};

namespace {
constexpr auto submit_initiation = [](Handler handler, Client::Impl* impl, std::string bytes, std::size_t count) {
    impl->submit(std::move(bytes), count, std::move(handler));
};
}  // namespace

Client::Client(net::any_io_executor executor, Settings settings) {
    if (settings.endpoint.cluster) cluster_ = std::make_shared<Cluster>(std::move(executor), std::move(settings));
    else impl_ = std::make_shared<Impl>(std::move(executor), std::move(settings));
}

Client::~Client() { stop(); }

void Client::start() {
    if (cluster_) return cluster_->start();
    net::co_spawn(impl_->executor, impl_->run(impl_), net::detached);
}

void Client::stop() {
    if (cluster_) return cluster_->stop();
    net::dispatch(impl_->executor, [impl = impl_] {
        if (impl->stopped) return;
        impl->stopped = true;
        impl->write_signal.cancel();
        impl->connected_signal.cancel();
        impl->connection.close();
    });
}

bool Client::connected() const { return cluster_ ? cluster_->connected() : impl_->is_connected; }

Task<Status> Client::wait_connected(config::Duration timeout) {
    if (cluster_) co_return co_await cluster_->wait_connected(timeout);
    const auto deadline = SteadyClock::now() + timeout;
    while (!impl_->is_connected && !impl_->stopped) {
        const auto now = SteadyClock::now();
        if (now >= deadline) co_return Error{"redis unavailable: " + impl_->last_error};
        impl_->connected_signal.expires_after(std::min<SteadyClock::duration>(deadline - now, std::chrono::milliseconds(50)));
        co_await impl_->connected_signal.async_wait(use_tuple);
    }
    if (!impl_->is_connected) co_return Error{"redis unavailable: " + impl_->last_error};
    co_return Status{};
}

// The initiation takes the Impl as a plain argument instead of a lambda capture: GCC 12
// destroys a capturing lambda temporary inside a co_await expression twice.
Task<Result<std::vector<Reply>>> Client::exec(const std::vector<Command>& commands) {
    if (cluster_) co_return co_await cluster_->exec(commands);
    std::string bytes;
    for (const auto& c : commands) c.append_to(bytes);
    auto [error, replies] = co_await net::async_initiate<decltype(use_tuple), void(std::string, std::vector<Reply>)>(
        submit_initiation, use_tuple, impl_.get(), std::move(bytes), commands.size());
    if (!error.empty()) co_return Error{std::move(error)};
    co_return std::move(replies);
}

Task<Result<Reply>> Client::exec(const Command& command) {
    if (cluster_) co_return co_await cluster_->exec(command);
    std::string bytes;
    command.append_to(bytes);
    auto [error, replies] = co_await net::async_initiate<decltype(use_tuple), void(std::string, std::vector<Reply>)>(
        submit_initiation, use_tuple, impl_.get(), std::move(bytes), std::size_t{1});
    if (!error.empty()) co_return Error{std::move(error)};
    co_return std::move(replies.front());
}

Task<Result<std::vector<std::string>>> Client::scan(std::string pattern) {
    if (cluster_) co_return co_await cluster_->scan(std::move(pattern));
    std::vector<std::string> keys;
    std::string cursor = "0";
    do {
        auto reply = co_await exec(Command("SCAN", cursor, std::string("MATCH"), pattern, std::string("COUNT"), std::string("1000")));
        if (!reply) co_return reply.error();
        if (reply->is_error() || reply->elements.size() != 2) co_return Error{"redis refused SCAN " + pattern + ": " + reply->str};
        cursor = reply->elements[0].str;
        for (auto& key : reply->elements[1].elements) keys.push_back(std::move(key.str));
    } while (cursor != "0");
    co_return keys;
}

}  // namespace wappa::redis
