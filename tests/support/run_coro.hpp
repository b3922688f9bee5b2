#pragma once
// Runs a coroutine to completion on a fresh io_context, failing (not hanging) past a timeout.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <chrono>
#include <stdexcept>

#include "wappa/core/asio.hpp"

namespace wappa::test {

template <class Make>
auto run_coro(net::io_context& io, Make&& make, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    auto future = net::co_spawn(io, make(), net::use_future);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (future.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
        if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("coroutine test timed out");
        io.run_one_for(std::chrono::milliseconds(20));
    }
    return future.get();
}

}  // namespace wappa::test
