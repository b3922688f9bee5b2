// Load generator for the live event routes: N WebSocket clients on GET /api/v1/ws, and signed
// webhooks POSTed at a fixed rate, each carrying one message whose wamid holds its send time.
// Every client parses every frame it receives and records the delay from the POST to the frame
// (one machine, one monotonic clock). Reports frames/s delivered, p50/p99/max delivery delay,
// frames missing per client, and the webhooks' own answer rate.
//
//   live_fanout --port P --secret S --token ADMIN --clients 1000 --rate 5000 --seconds 10 --fixture text.json
//   live_fanout ... --rate 0 --seconds 30      (clients only: a load for an intake benchmark to run against)
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "percentile.hpp"
#include "wappa/whatsapp/signature.hpp"

namespace net = boost::asio;
using net::ip::tcp;
using Clock = std::chrono::steady_clock;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

namespace {

struct Options {
    std::string port = "8080";
    std::string secret = "wappa-bench-secret";
    std::string token = "admin";
    std::string fixture;
    int clients = 1000;
    double rate = 5000;      // webhooks (= events) per second; 0 = clients only
    double seconds = 10;
    int posters = 32;        // keep-alive connections posting webhooks
};

struct ClientStats {
    std::size_t frames = 0;
    std::vector<std::uint32_t> delays_us;   // sampled: every frame of the first 50 clients
};

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

std::int64_t now_ns() { return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count(); }

net::awaitable<void> websocket_client(const Options& o, int index, ClientStats& stats, int& connected, Clock::time_point end) {
    auto ex = co_await net::this_coro::executor;
    tcp::socket socket(ex);
    auto [ec] = co_await socket.async_connect(tcp::endpoint(net::ip::make_address("127.0.0.1"),
                                                            static_cast<unsigned short>(std::atoi(o.port.c_str()))), use_tuple);
    if (ec) {
        std::cerr << "client " << index << ": " << ec.message() << "\n";
        co_return;
    }
    const std::string request = "GET /api/v1/ws?event=incoming_message HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                                "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                                "Authorization: Bearer " + o.token + "\r\n\r\n";
    co_await net::async_write(socket, net::buffer(request), use_tuple);
    std::string buffer;
    auto [read_error, n] = co_await net::async_read_until(socket, net::dynamic_buffer(buffer), "\r\n\r\n", use_tuple);
    if (read_error || buffer.compare(0, 12, "HTTP/1.1 101") != 0) {
        std::cerr << "client " << index << ": handshake failed: " << buffer.substr(0, 40) << "\n";
        co_return;
    }
    buffer.erase(0, n);
    ++connected;
    const bool sampled = index < 50;
    std::vector<char> chunk(64 * 1024);
    while (Clock::now() < end + std::chrono::seconds(2)) {
        // Whole frames from the start of the buffer: server frames are unmasked.
        std::size_t at = 0;
        for (;;) {
            if (buffer.size() - at < 2) break;
            const auto* p = reinterpret_cast<const unsigned char*>(buffer.data() + at);
            std::size_t length = p[1] & 0x7f, head = 2;
            if (length == 126) {
                if (buffer.size() - at < 4) break;
                length = (std::size_t(p[2]) << 8) | p[3];
                head = 4;
            } else if (length == 127) {
                if (buffer.size() - at < 10) break;
                length = 0;
                for (int i = 0; i < 8; ++i) length = (length << 8) | p[2 + i];
                head = 10;
            }
            if (buffer.size() - at < head + length) break;
            if ((p[0] & 0x0f) == 1) {
                ++stats.frames;
                if (sampled) {
                    const std::string_view frame(buffer.data() + at + head, length);
                    const auto mark = frame.find("wamid.T");
                    if (mark != std::string_view::npos) {
                        const auto sent = std::atoll(frame.data() + mark + 7);
                        stats.delays_us.push_back(static_cast<std::uint32_t>(std::max<std::int64_t>(0, now_ns() - sent) / 1000));
                    }
                }
            }
            at += head + length;
        }
        buffer.erase(0, at);
        auto [e, got] = co_await socket.async_read_some(net::buffer(chunk), use_tuple);
        if (e) break;
        buffer.append(chunk.data(), got);
    }
}

// Posts webhooks at the target rate over one keep-alive connection (a share of the rate each).
net::awaitable<void> poster(const Options& o, const std::string& fixture, double rate, Clock::time_point start, Clock::time_point end,
                            std::size_t& ok, std::size_t& failed) {
    auto ex = co_await net::this_coro::executor;
    tcp::socket socket(ex);
    co_await socket.async_connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(std::atoi(o.port.c_str()))),
                                  use_tuple);
    socket.set_option(tcp::no_delay(true));
    net::steady_timer timer(ex);
    const std::string marker = "\"id\": \"wamid.";
    const auto interval = std::chrono::nanoseconds(static_cast<std::int64_t>(1e9 / rate));
    std::string response;
    for (std::size_t i = 0; start + interval * static_cast<std::int64_t>(i) < end; ++i) {
        timer.expires_at(start + interval * static_cast<std::int64_t>(i));
        co_await timer.async_wait(use_tuple);
        std::string body = fixture;
        const auto pos = body.find(marker);
        if (pos != std::string::npos) body.insert(pos + marker.size(), "T" + std::to_string(now_ns()) + "-" + std::to_string(i) + "-");
        const std::string request = "POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nX-Hub-Signature-256: " +
                                    wappa::whatsapp::sign_body(body, o.secret) + "\r\nContent-Length: " + std::to_string(body.size()) +
                                    "\r\n\r\n" + body;
        auto [we, wn] = co_await net::async_write(socket, net::buffer(request), use_tuple);
        if (we) { ++failed; co_return; }
        response.clear();
        auto [re, rn] = co_await net::async_read_until(socket, net::dynamic_buffer(response), "\r\n\r\n", use_tuple);
        if (re) { ++failed; co_return; }
        const auto length_at = response.find("Content-Length: ");
        std::size_t length = length_at == std::string::npos ? 0 : std::strtoul(response.c_str() + length_at + 16, nullptr, 10);
        std::size_t have = response.size() - rn;
        if (have < length) {
            std::string rest(length - have, '\0');
            co_await net::async_read(socket, net::buffer(rest), use_tuple);
        }
        (response.compare(0, 12, "HTTP/1.1 200") == 0 ? ok : failed) += 1;
    }
}


}  // namespace

int main(int argc, char** argv) {
    Options o;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string k = argv[i], v = argv[i + 1];
        if (k == "--port") o.port = v;
        else if (k == "--secret") o.secret = v;
        else if (k == "--token") o.token = v;
        else if (k == "--fixture") o.fixture = v;
        else if (k == "--clients") o.clients = std::atoi(v.c_str());
        else if (k == "--rate") o.rate = std::atof(v.c_str());
        else if (k == "--seconds") o.seconds = std::atof(v.c_str());
        else if (k == "--posters") o.posters = std::atoi(v.c_str());
        else { std::cerr << "unknown option " << k << "\n"; return 64; }
    }
    rlimit limit{};
    getrlimit(RLIMIT_NOFILE, &limit);
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
    const auto fixture = o.fixture.empty() ? std::string() : read_file(o.fixture);

    net::io_context io(1);
    std::vector<ClientStats> stats(static_cast<std::size_t>(o.clients));
    int connected = 0;
    const auto far = Clock::now() + std::chrono::hours(1);
    auto end = far;
    for (int i = 0; i < o.clients; ++i) net::co_spawn(io, websocket_client(o, i, stats[static_cast<std::size_t>(i)], connected, end), net::detached);
    while (connected < o.clients) {
        io.run_for(std::chrono::milliseconds(50));
        static auto give_up = Clock::now() + std::chrono::seconds(30);
        if (Clock::now() > give_up) { std::cerr << "only " << connected << " clients connected\n"; return 1; }
    }
    // Let the server register every session before the first event.
    io.run_for(std::chrono::milliseconds(500));
    const auto start = Clock::now() + std::chrono::milliseconds(100);
    end = start + std::chrono::milliseconds(static_cast<std::int64_t>(o.seconds * 1000));
    std::size_t ok = 0, failed = 0;
    if (o.rate > 0) {
        for (int p = 0; p < o.posters; ++p) {
            // Staggered so that the posters together post at the target rate.
            const auto offset = std::chrono::nanoseconds(static_cast<std::int64_t>(1e9 / o.rate * p));
            net::co_spawn(io, poster(o, fixture, o.rate / o.posters, start + offset, end, ok, failed), net::detached);
        }
    }
    // The clients read until end + 2 s, through `end` captured by reference.
    io.run_until(end + std::chrono::seconds(3));
    std::size_t frames = 0, least = SIZE_MAX;
    std::vector<std::uint32_t> delays;
    for (auto& s : stats) {
        frames += s.frames;
        least = std::min(least, s.frames);
        delays.insert(delays.end(), s.delays_us.begin(), s.delays_us.end());
    }
    const double elapsed = o.seconds;
    std::printf("clients=%d webhooks_ok=%zu webhooks_failed=%zu webhook_rate=%.0f/s frames=%zu frames_per_s=%.0f "
                "missing_per_client_max=%zu delay_ms_p50=%.2f delay_ms_p99=%.2f delay_ms_max=%.2f samples=%zu\n",
                o.clients, ok, failed, static_cast<double>(ok) / elapsed, frames, static_cast<double>(frames) / elapsed,
                ok > least ? ok - least : 0, percentile(delays, 50) / 1000, percentile(delays, 99) / 1000, percentile(delays, 100) / 1000, delays.size());
    return 0;
}
