#pragma once
// A connection handed over after its request: Server-Sent Events and WebSocket sessions write
// their own response head and own the socket from then on.
#include <boost/asio/ip/tcp.hpp>

#include "wappa/core/asio.hpp"

namespace wappa::http {

class Upgrade {
public:
    virtual ~Upgrade() = default;
    virtual Task<void> run(net::ip::tcp::socket socket) = 0;
};

}  // namespace wappa::http
