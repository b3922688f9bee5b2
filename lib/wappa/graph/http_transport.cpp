#include "wappa/graph/http_transport.hpp"
#include "wappa/core/tls_client.hpp"

#include <openssl/ssl.h>

#include <sys/socket.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <cerrno>
#include <chrono>
#include <vector>

namespace wappa::graph {
namespace {

namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace ssl = net::ssl;
using net::ip::tcp;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
using Clock = std::chrono::steady_clock;
using namespace net::experimental::awaitable_operators;

// A connection idle longer than this is closed rather than reused: servers drop idle
// keep-alive connections, and a request written into a dropped one fails for nothing.
constexpr auto max_idle = std::chrono::seconds(20);

// The request certainly never left: no connection, or a write that failed before its first byte.
SendOutcome not_sent(std::string message) {
    SendOutcome out;
    out.kind = SendOutcome::Kind::not_sent;
    out.error = std::move(message);
    return out;
}

// The request left (some or all of it) and no usable answer came: Meta may have it.
SendOutcome ambiguous(std::string message) {
    SendOutcome out;
    out.kind = SendOutcome::Kind::ambiguous;
    out.error = std::move(message);
    return out;
}

// A kept-alive connection the server has closed (EOF waiting) or that holds bytes nobody asked
// for is not reused: a request written into it would fail after leaving, its outcome unknown.
bool still_usable(int fd) {
    char byte = 0;
    const auto n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

template <bool Tls>
class HttpTransport final : public Transport {
    using Stream = std::conditional_t<Tls, beast::ssl_stream<beast::tcp_stream>, beast::tcp_stream>;

    struct Idle {
        std::unique_ptr<Stream> stream;
        Clock::time_point since;
    };

public:
    HttpTransport(net::any_io_executor executor, TransportSettings settings, Endpoint endpoint, std::unique_ptr<ssl::context> tls)
        : executor_(std::move(executor)), settings_(std::move(settings)), endpoint_(std::move(endpoint)), tls_(std::move(tls)) {}

    Task<SendOutcome> send(const std::string& phone_number_id, const std::string& access_token, const std::string& body) override {
        const auto deadline = Clock::now() + settings_.timeout;
        std::string error;
        auto stream = co_await acquire(deadline, error);
        if (!stream) co_return not_sent(std::move(error));
        // The request is formatted into one buffer: one write, no per-field serializer work.
        std::string request;
        request.reserve(256 + body.size() + access_token.size());
        request.append("POST ").append(endpoint_.base_path).append("/").append(settings_.api_version).append("/")
            .append(phone_number_id).append("/messages HTTP/1.1\r\nHost: ").append(endpoint_.host)
            .append("\r\nAuthorization: Bearer ").append(access_token)
            .append("\r\nContent-Type: application/json\r\nUser-Agent: wappa\r\nContent-Length: ")
            .append(std::to_string(body.size())).append("\r\n\r\n").append(body);
        beast::get_lowest_layer(*stream).expires_at(deadline);
        auto [werr, written] = co_await net::async_write(*stream, net::buffer(request), use_tuple);
        if (werr) {
            release(std::move(stream), false);
            if (written == 0) co_return not_sent("sending to the Graph API failed before the request left: " + werr.message());
            co_return ambiguous("sending to the Graph API failed part-way: " + werr.message());
        }
        beast::flat_buffer buffer;
        bhttp::response<bhttp::string_body> response;
        auto [rerr, read] = co_await bhttp::async_read(*stream, buffer, response, use_tuple);
        if (rerr) {
            release(std::move(stream), false);
            co_return ambiguous("no answer from the Graph API: " + rerr.message());
        }
        config::Duration retry_after{0};
        if (auto it = response.find(bhttp::field::retry_after); it != response.end()) {
            retry_after = config::Duration(std::atoll(std::string(it->value()).c_str()) * 1000);
        }
        release(std::move(stream), response.keep_alive());
        co_return classify(response.result_int(), response.body(), retry_after);
    }

private:
    // An idle connection, or a new one while fewer than max_connections are open; else waits
    // (no polling: a released connection wakes the first waiter).
    Task<std::unique_ptr<Stream>> acquire(Clock::time_point deadline, std::string& error) {
        for (;;) {
            while (!idle_.empty()) {
                auto idle = std::move(idle_.back());
                idle_.pop_back();
                if (Clock::now() - idle.since < max_idle && still_usable(beast::get_lowest_layer(*idle.stream).socket().native_handle())) {
                    co_return std::move(idle.stream);
                }
                --open_;
            }
            if (open_ < settings_.max_connections) break;
            if (Clock::now() >= deadline) {
                error = "all " + std::to_string(settings_.max_connections) + " Graph API connections stayed busy (graph.max_connections)";
                co_return nullptr;
            }
            net::steady_timer wait(executor_, deadline);
            waiters_.push_back(&wait);
            co_await wait.async_wait(use_tuple);
            std::erase(waiters_, &wait);
        }
        ++open_;
        auto stream = co_await connect(deadline, error);
        if (!stream) {
            --open_;
            wake_one();
        }
        co_return stream;
    }

    Task<std::unique_ptr<Stream>> connect(Clock::time_point deadline, std::string& error) {
        std::unique_ptr<Stream> stream;
        if constexpr (Tls) stream = std::make_unique<Stream>(executor_, *tls_);
        else stream = std::make_unique<Stream>(executor_);
        // The host lookup counts against the request's deadline too.
        tcp::resolver resolver(executor_);
        net::steady_timer limit(executor_, deadline);
        auto looked_up = co_await (resolver.async_resolve(endpoint_.host, endpoint_.port, use_tuple) || limit.async_wait(use_tuple));
        if (looked_up.index() == 1) {
            error = "looking up the Graph host " + endpoint_.host + " took longer than graph.timeout";
            co_return nullptr;
        }
        auto [rerr, endpoints] = std::get<0>(std::move(looked_up));
        if (rerr) {
            error = "cannot resolve the Graph host " + endpoint_.host + ": " + rerr.message();
            co_return nullptr;
        }
        auto& socket = beast::get_lowest_layer(*stream);
        socket.expires_at(deadline);
        auto [cerr, ep] = co_await socket.async_connect(endpoints, use_tuple);
        if (cerr) {
            error = "cannot connect to the Graph API at " + endpoint_.host + ":" + endpoint_.port + ": " + cerr.message();
            co_return nullptr;
        }
        socket.socket().set_option(tcp::no_delay(true));
        if constexpr (Tls) {
            // SNI, and the certificate must name the host (or its IP address).
            if (!SSL_set_tlsext_host_name(stream->native_handle(), endpoint_.host.c_str())) {
                error = "cannot set the TLS server name " + endpoint_.host;
                co_return nullptr;
            }
            stream->set_verify_callback(ssl::host_name_verification(endpoint_.host));
            auto [herr] = co_await stream->async_handshake(ssl::stream_base::client, use_tuple);
            if (herr) {
                error = "TLS handshake with " + endpoint_.host + " failed (certificate verification is on): " + herr.message();
                co_return nullptr;
            }
        }
        co_return stream;
    }

    void release(std::unique_ptr<Stream> stream, bool reusable) {
        if (reusable) idle_.push_back({std::move(stream), Clock::now()});
        else --open_;
        wake_one();
    }

    void wake_one() {
        if (waiters_.empty()) return;
        auto* first = waiters_.front();
        waiters_.erase(waiters_.begin());
        first->cancel();
    }

    net::any_io_executor executor_;
    TransportSettings settings_;
    Endpoint endpoint_;
    std::unique_ptr<ssl::context> tls_;
    std::vector<Idle> idle_;
    std::size_t open_ = 0;
    std::vector<net::steady_timer*> waiters_;   // sends waiting for a connection, first come first served
};

}  // namespace

Result<Endpoint> parse_base_url(std::string_view url) {
    Endpoint e;
    std::string_view rest;
    if (url.starts_with("https://")) rest = url.substr(8);
    else if (url.starts_with("http://")) e.tls = false, rest = url.substr(7);
    else return Error{"'" + std::string(url) + "' must start with https:// (or http:// for a loopback test server)"};
    const auto slash = rest.find('/');
    auto authority = rest.substr(0, slash);
    if (slash != std::string_view::npos) {
        e.base_path = std::string(rest.substr(slash));
        while (!e.base_path.empty() && e.base_path.back() == '/') e.base_path.pop_back();
    }
    if (authority.starts_with('[')) {   // [::1]:8443
        const auto close = authority.find(']');
        if (close == std::string_view::npos) return Error{"'" + std::string(url) + "': unclosed [ in the host"};
        e.host = std::string(authority.substr(1, close - 1));
        authority = authority.substr(close + 1);
        if (authority.starts_with(':')) e.port = std::string(authority.substr(1));
    } else {
        const auto colon = authority.rfind(':');
        e.host = std::string(authority.substr(0, colon));
        if (colon != std::string_view::npos) e.port = std::string(authority.substr(colon + 1));
    }
    if (e.host.empty()) return Error{"'" + std::string(url) + "' has no host"};
    if (e.port.empty()) e.port = e.tls ? "443" : "80";
    return e;
}

std::unique_ptr<Transport> make_http_transport(net::any_io_executor executor, const TransportSettings& settings,
                                               const Endpoint& endpoint, std::string& error) {
    if (!endpoint.tls) return std::make_unique<HttpTransport<false>>(std::move(executor), settings, endpoint, nullptr);
    auto context = make_tls_client_context(TlsClientFiles{.ca_file = settings.ca_file, .cert_file = {}, .key_file = {}}, "graph.");
    if (!context) {
        error = context.error().message;
        return nullptr;
    }
    return std::make_unique<HttpTransport<true>>(std::move(executor), settings, endpoint, std::move(context).value());
}

}  // namespace wappa::graph
