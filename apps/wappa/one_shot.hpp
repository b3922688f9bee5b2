#pragma once
// For commands that do one piece of work against Redis and exit (publish, enqueue, inspect):
// a private event loop, a client connected within redis.connect_timeout, the work, a clean stop.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "common.hpp"
#include "wappa/redis/client.hpp"

namespace wappa::app {

// `work(client)` returns Task<Result<T>>; an unreachable Redis is an error Result too.
template <class T, class Work>
Result<T> with_redis(const config::Config& config, Work&& work) {
    net::io_context io;
    redis::Client client(io.get_executor(), redis_settings(config, "redis"));
    client.start();
    auto run = [&]() -> Task<Result<T>> {
        auto connected = co_await client.wait_connected(config.redis.connect_timeout);
        if (!connected) {
            client.stop();
            co_return connected.error();
        }
        auto result = co_await work(client);
        client.stop();
        co_return result;
    };
    auto future = net::co_spawn(io, run(), net::use_future);
    io.run();
    return future.get();
}

}  // namespace wappa::app
