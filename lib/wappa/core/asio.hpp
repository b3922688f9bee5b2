#pragma once
// The one async model of wappa: Boost.Asio with C++20 coroutines.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

namespace wappa {
namespace net = boost::asio;
template <class T>
using Task = net::awaitable<T>;
}  // namespace wappa
