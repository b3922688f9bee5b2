#pragma once
// HTTP/1.1 server (Beast): keep-alive, a deadline on every read and write, a body limit (413),
// and graceful shutdown. One Server per event-loop thread; with reuse_port the kernel spreads
// connections over the threads' listening sockets, so no state is shared between threads.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include "wappa/config/units.hpp"
#include "wappa/core/asio.hpp"
#include "wappa/core/result.hpp"
#include "wappa/http/message.hpp"

namespace wappa::http {

struct ServerSettings {
    config::Address listen;
    std::uint64_t body_limit = 4 * 1024 * 1024;
    config::Duration read_timeout{30'000};
    config::Duration write_timeout{30'000};
    bool reuse_port = true;
};

using Handler = std::function<Task<Response>(Request&)>;
// Called for requests refused before the handler runs (413, 400), for metrics.
using RejectObserver = std::function<void(int status)>;

class Server {
public:
    Server(net::any_io_executor executor, ServerSettings settings, Handler handler, RejectObserver on_reject = {});
    ~Server();

    // Binds and listens (on `port` instead of the configured one, if given); the error names
    // the address.
    Status listen(std::optional<std::uint16_t> port = std::nullopt);
    // The bound port (useful with port 0).
    std::uint16_t port() const;
    void start();
    // Stops accepting, lets requests in progress finish (up to `grace`), closes idle connections.
    Task<void> shutdown(config::Duration grace);

private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

}  // namespace wappa::http
