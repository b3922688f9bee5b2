#pragma once
// One TCP connection to Redis, in TLS for rediss://: connect (with the TLS handshake and
// AUTH/SELECT) under a deadline, write bytes, read whole replies. No queueing or pipelining policy: Client and Subscriber build those on top.
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <memory>
#include <vector>

#include "wappa/core/asio.hpp"
#include "wappa/core/result.hpp"
#include "wappa/redis/reply.hpp"
#include "wappa/redis/settings.hpp"

namespace wappa::redis {

class Connection {
public:
    explicit Connection(net::any_io_executor executor);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    Task<Status> connect(const Settings& settings);
    Task<Status> write(std::string_view bytes);
    // Waits for data, then appends every complete reply it holds to `out` (at least one).
    Task<Status> read(std::vector<Reply>& out);
    // Sends the commands and waits for exactly `count` replies.
    Task<Result<std::vector<Reply>>> round_trip(std::string_view bytes, std::size_t count);
    void close();
    bool is_open() const { return socket_.is_open(); }

private:
    Status take_replies(std::vector<Reply>& out);
    Task<Status> start_tls(const Settings& settings, net::steady_timer& deadline);

    net::ip::tcp::socket socket_;
    // rediss://: the TLS stream over socket_, kept until the next connect() because an aborted
    // read or write may still be unwinding through it after close().
    struct Tls;
    std::unique_ptr<Tls> tls_;
    struct ReaderDeleter { void operator()(void* reader) const; };
    std::unique_ptr<void, ReaderDeleter> reader_;
    static constexpr std::size_t buffer_size = 64 * 1024;
    std::unique_ptr<char[]> buffer_;   // not zeroed: a page is touched only once a reply needs it
};

// Writes to Redis by this process so far (each a round trip of one or more pipelined
// commands): for benchmarks and /metrics.
std::uint64_t round_trips();

}  // namespace wappa::redis
