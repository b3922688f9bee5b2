#include <atomic>
#include "wappa/redis/connection.hpp"

#include <hiredis/hiredis.h>

#include <openssl/ssl.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "wappa/core/tls_client.hpp"
#include "wappa/redis/command.hpp"

namespace wappa::redis {
namespace {

using net::ip::tcp;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

Reply convert(const redisReply* r) {
    Reply out;
    switch (r->type) {
        case REDIS_REPLY_STRING: out.type = Reply::Type::string; out.str.assign(r->str, r->len); break;
        case REDIS_REPLY_STATUS: out.type = Reply::Type::status; out.str.assign(r->str, r->len); break;
        case REDIS_REPLY_ERROR: out.type = Reply::Type::error; out.str.assign(r->str, r->len); break;
        case REDIS_REPLY_INTEGER: out.type = Reply::Type::integer; out.integer = r->integer; break;
        case REDIS_REPLY_ARRAY:
            out.type = Reply::Type::array;
            out.elements.reserve(r->elements);
            for (std::size_t i = 0; i < r->elements; ++i) out.elements.push_back(convert(r->element[i]));
            break;
        default: out.type = Reply::Type::nil; break;
    }
    return out;
}

std::string where(const Settings& s) { return s.endpoint.host + ":" + std::to_string(s.endpoint.port); }

std::atomic<std::uint64_t> writes{0};

}  // namespace

std::uint64_t round_trips() { return writes.load(std::memory_order_relaxed); }

struct Connection::Tls {
    Tls(std::unique_ptr<net::ssl::context> c, tcp::socket& socket) : context(std::move(c)), stream(socket, *context) {}
    std::unique_ptr<net::ssl::context> context;
    net::ssl::stream<tcp::socket&> stream;
};

void Connection::ReaderDeleter::operator()(void* reader) const { redisReaderFree(static_cast<redisReader*>(reader)); }

Connection::Connection(net::any_io_executor executor)
    : socket_(std::move(executor)), reader_(redisReaderCreate()), buffer_(new char[buffer_size]) {}

Connection::~Connection() = default;

void Connection::close() {
    boost::system::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    reader_.reset(redisReaderCreate());
}

Task<Status> Connection::connect(const Settings& settings) {
    using namespace net::experimental::awaitable_operators;
    close();
    tls_.reset();
    auto executor = co_await net::this_coro::executor;
    net::steady_timer deadline(executor, settings.connect_timeout);
    // An IP address needs no resolver (whose first use starts a thread): one-shot commands
    // start faster.
    std::vector<tcp::endpoint> endpoints;
    boost::system::error_code not_numeric;
    const auto address = net::ip::make_address(settings.endpoint.host, not_numeric);
    if (!not_numeric) {
        endpoints.emplace_back(address, settings.endpoint.port);
    } else {
        tcp::resolver resolver(executor);
        auto resolved = co_await (resolver.async_resolve(settings.endpoint.host, std::to_string(settings.endpoint.port), use_tuple) ||
                                  deadline.async_wait(use_tuple));
        if (resolved.index() == 1) co_return Error{"redis at " + where(settings) + ": name resolution timed out"};
        auto [resolve_error, results] = std::get<0>(std::move(resolved));
        if (resolve_error) co_return Error{"redis at " + where(settings) + ": " + resolve_error.message()};
        for (const auto& entry : results) endpoints.push_back(entry.endpoint());
    }

    auto connected = co_await (net::async_connect(socket_, endpoints, use_tuple) || deadline.async_wait(use_tuple));
    if (connected.index() == 1) {
        close();
        co_return Error{"redis at " + where(settings) + ": connect timed out after " +
                        std::to_string(settings.connect_timeout.count()) + "ms"};
    }
    if (auto [ec, ep] = std::get<0>(connected); ec) {
        close();
        co_return Error{"redis at " + where(settings) + ": " + ec.message()};
    }
    socket_.set_option(tcp::no_delay(true));
    if (settings.endpoint.tls) {
        if (auto status = co_await start_tls(settings, deadline); !status) {
            close();
            co_return status;
        }
    }

    std::string hello;
    std::size_t expected = 0;
    if (!settings.endpoint.password.empty()) {
        (settings.endpoint.user.empty() ? Command("AUTH", settings.endpoint.password)
                                        : Command("AUTH", settings.endpoint.user, settings.endpoint.password))
            .append_to(hello);
        ++expected;
    }
    if (settings.endpoint.db != 0) {
        Command("SELECT", std::to_string(settings.endpoint.db)).append_to(hello);
        ++expected;
    }
    if (expected == 0) co_return Status{};
    auto handshake = co_await (round_trip(hello, expected) || deadline.async_wait(use_tuple));
    if (handshake.index() == 1) {
        close();
        co_return Error{"redis at " + where(settings) + ": AUTH/SELECT timed out"};
    }
    auto replies = std::get<0>(std::move(handshake));
    if (!replies) {
        close();
        // A server that wants a client certificate says so only now, at the first read (TLS 1.3).
        co_return Error{"redis at " + where(settings) + ": " + replies.error().message};
    }
    for (const auto& r : replies.value()) {
        if (r.is_error()) {
            close();
            co_return Error{"redis at " + where(settings) + " refused the connection setup: " + r.str};
        }
    }
    co_return Status{};
}

Task<Status> Connection::start_tls(const Settings& settings, net::steady_timer& deadline) {
    using namespace net::experimental::awaitable_operators;
    auto context = make_tls_client_context(settings.tls, "redis.tls_");
    if (!context) co_return Error{"redis at " + where(settings) + ": " + context.error().message};
    tls_ = std::make_unique<Tls>(std::move(context).value(), socket_);
    const auto& host = settings.endpoint.host;
    boost::system::error_code not_a_name;
    net::ip::make_address(host, not_a_name);
    // SNI for a name; the certificate must name the host we asked for (its DNS name or IP).
    if (not_a_name) SSL_set_tlsext_host_name(tls_->stream.native_handle(), host.c_str());
    tls_->stream.set_verify_callback(net::ssl::host_name_verification(host));
    auto shaken = co_await (tls_->stream.async_handshake(net::ssl::stream_base::client, use_tuple) ||
                            deadline.async_wait(use_tuple));
    if (shaken.index() == 1) co_return Error{"redis at " + where(settings) + ": TLS handshake timed out"};
    if (auto [ec] = std::get<0>(shaken); ec) {
        std::string why = ec.message();
        if (const auto verify = SSL_get_verify_result(tls_->stream.native_handle()); verify != X509_V_OK) {
            why += std::string(" (") + X509_verify_cert_error_string(verify) + ")";
        }
        co_return Error{"redis at " + where(settings) + ": TLS handshake failed: " + why};
    }
    co_return Status{};
}

Task<Status> Connection::write(std::string_view bytes) {
    writes.fetch_add(1, std::memory_order_relaxed);
    const auto buffer = net::buffer(bytes.data(), bytes.size());
    boost::system::error_code failure;
    if (tls_) {
        auto [ec, n] = co_await net::async_write(tls_->stream, buffer, use_tuple);
        failure = ec;
    } else {
        auto [ec, n] = co_await net::async_write(socket_, buffer, use_tuple);
        failure = ec;
    }
    if (failure) co_return Error{"redis write failed: " + failure.message()};
    co_return Status{};
}

Status Connection::take_replies(std::vector<Reply>& out) {
    auto* reader = static_cast<redisReader*>(reader_.get());
    for (;;) {
        void* raw = nullptr;
        if (redisReaderGetReply(reader, &raw) != REDIS_OK) {
            return Error{std::string("redis protocol error: ") + reader->errstr};
        }
        if (raw == nullptr) return {};
        out.push_back(convert(static_cast<redisReply*>(raw)));
        freeReplyObject(raw);
    }
}

Task<Status> Connection::read(std::vector<Reply>& out) {
    const auto before = out.size();
    while (out.size() == before) {
        const auto buffer = net::buffer(buffer_.get(), buffer_size);
        boost::system::error_code ec;
        std::size_t n = 0;
        if (tls_) {
            auto [e, got] = co_await tls_->stream.async_read_some(buffer, use_tuple);
            ec = e;
            n = got;
        } else {
            auto [e, got] = co_await socket_.async_read_some(buffer, use_tuple);
            ec = e;
            n = got;
        }
        if (ec) {
            co_return Error{ec == net::error::eof || ec == net::ssl::error::stream_truncated
                                ? std::string("redis closed the connection")
                                                  : "redis read failed: " + ec.message()};
        }
        redisReaderFeed(static_cast<redisReader*>(reader_.get()), buffer_.get(), n);
        if (auto status = take_replies(out); !status) co_return status;
    }
    co_return Status{};
}

Task<Result<std::vector<Reply>>> Connection::round_trip(std::string_view bytes, std::size_t count) {
    if (auto status = co_await write(bytes); !status) co_return status.error();
    std::vector<Reply> replies;
    while (replies.size() < count) {
        if (auto status = co_await read(replies); !status) co_return status.error();
    }
    co_return replies;
}

}  // namespace wappa::redis
