#include "wappa/http/server.hpp"

#include "wappa/http/request_rules.hpp"
#include "wappa/http/upgrade.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <unordered_set>

namespace wappa::http {
namespace {

namespace beast = boost::beast;
using net::ip::tcp;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

bhttp::response<bhttp::string_body> to_beast(Response&& in, unsigned version, bool keep_alive) {
    bhttp::response<bhttp::string_body> out{static_cast<bhttp::status>(in.status), version};
    out.set(bhttp::field::server, "wappa");
    out.set(bhttp::field::content_type, in.content_type);
    for (auto& [k, v] : in.headers) out.set(k, v);
    out.body() = std::move(in.body);
    out.keep_alive(keep_alive);
    out.prepare_payload();
    return out;
}

}  // namespace

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
    Impl(net::any_io_executor ex, ServerSettings s, Handler h, RejectObserver r)
        : executor(ex), settings(std::move(s)), handler(std::move(h)), on_reject(std::move(r)), acceptor(ex) {}

    net::any_io_executor executor;
    ServerSettings settings;
    Handler handler;
    RejectObserver on_reject;
    tcp::acceptor acceptor;
    std::unordered_set<beast::tcp_stream*> sessions;
    bool stopping = false;

    Task<void> reply_and_close(beast::tcp_stream& stream, int status, std::string_view message, unsigned version) {
        if (on_reject) on_reject(status);
        auto response = to_beast(Response::error(status, message), version, false);
        stream.expires_after(settings.write_timeout);
        co_await bhttp::async_write(stream, response, use_tuple);
    }

    // `self` parameters keep the server alive as long as its coroutines run.
    Task<void> session([[maybe_unused]] std::shared_ptr<Impl> self, tcp::socket socket) {
        beast::tcp_stream stream(std::move(socket));
        sessions.insert(&stream);
        // Room for a typical webhook up front: Beast sizes each read by the buffer's free space,
        // and an empty buffer would take a ~1 KiB request in three reads.
        beast::flat_buffer buffer;
        buffer.reserve(16 * 1024);
        while (!stopping) {
            RequestParser parser;
            apply_limits(parser, settings.body_limit);
            stream.expires_after(settings.read_timeout);
            auto [ec, bytes] = co_await bhttp::async_read(stream, buffer, parser, use_tuple);
            if (ec) {   // refused for what the client sent, or closed, timed out, cancelled by shutdown
                if (auto refusal = refusal_for_read_error(ec, settings.body_limit)) {
                    co_await reply_and_close(stream, refusal->status, refusal->message, 11);
                }
                break;
            }
            auto beast_request = parser.release();
            if (auto refusal = refusal_for(beast_request)) {
                co_await reply_and_close(stream, refusal->status, refusal->message, 11);
                break;
            }
            const auto version = beast_request.version();
            const bool keep_alive = beast_request.keep_alive();
            auto request = to_request(beast_request);
            auto response = co_await handler(request);
            if (response.upgrade) {   // the connection is the live session's from here on
                sessions.erase(&stream);
                auto upgrade = std::move(response.upgrade);
                co_await upgrade->run(stream.release_socket());
                co_return;
            }
            auto out = to_beast(std::move(response), version, keep_alive && !stopping);
            stream.expires_after(settings.write_timeout);
            auto [write_error, written] = co_await bhttp::async_write(stream, out, use_tuple);
            if (write_error || !out.keep_alive()) break;
        }
        sessions.erase(&stream);
        beast::error_code ignored;
        stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    }

    Task<void> accept_loop(std::shared_ptr<Impl> self) {
        while (!stopping) {
            auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
            if (ec) {
                if (stopping || ec == net::error::operation_aborted) break;
                spdlog::warn("accept failed: {}", ec.message());
                continue;  // e.g. EMFILE: keep serving the connections we have
            }
            socket.set_option(tcp::no_delay(true));
            net::co_spawn(executor, session(self, std::move(socket)), net::detached);
        }
    }
};

Server::Server(net::any_io_executor executor, ServerSettings settings, Handler handler, RejectObserver on_reject)
    : impl_(std::make_shared<Impl>(std::move(executor), std::move(settings), std::move(handler), std::move(on_reject))) {}

Server::~Server() = default;

Status Server::listen(std::optional<std::uint16_t> port) {
    auto& address = impl_->settings.listen;
    if (port) address.port = *port;
    const auto where = address.host + ":" + std::to_string(address.port);
    boost::system::error_code ec;
    const auto ip = net::ip::make_address(address.host.empty() ? "0.0.0.0" : address.host, ec);
    if (ec) return Error{"cannot listen on " + where + ": '" + address.host + "' is not an IP address"};
    const tcp::endpoint endpoint(ip, address.port);
    auto& acceptor = impl_->acceptor;
    if (acceptor.open(endpoint.protocol(), ec); ec) return Error{"cannot listen on " + where + ": " + ec.message()};
    acceptor.set_option(net::socket_base::reuse_address(true), ec);
    if (impl_->settings.reuse_port) {
        const int one = 1;
        ::setsockopt(acceptor.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    }
    if (acceptor.bind(endpoint, ec); ec) return Error{"cannot listen on " + where + ": " + ec.message()};
    if (acceptor.listen(net::socket_base::max_listen_connections, ec); ec) {
        return Error{"cannot listen on " + where + ": " + ec.message()};
    }
    return {};
}

std::uint16_t Server::port() const {
    boost::system::error_code ec;
    return impl_->acceptor.local_endpoint(ec).port();
}

void Server::start() { net::co_spawn(impl_->executor, impl_->accept_loop(impl_), net::detached); }

Task<void> Server::shutdown(config::Duration grace) {
    auto impl = impl_;
    impl->stopping = true;
    boost::system::error_code ignored;
    impl->acceptor.close(ignored);
    // Idle keep-alive connections wait in a read: cancel it. A request being handled has no
    // read pending, so it completes and its connection closes after the response.
    for (auto* stream : impl->sessions) stream->socket().cancel(ignored);
    net::steady_timer timer(impl->executor);
    const auto deadline = std::chrono::steady_clock::now() + grace;
    while (!impl->sessions.empty() && std::chrono::steady_clock::now() < deadline) {
        timer.expires_after(std::chrono::milliseconds(10));
        co_await timer.async_wait(use_tuple);
    }
    for (auto* stream : impl->sessions) stream->socket().close(ignored);
}

}  // namespace wappa::http
