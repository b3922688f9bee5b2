// Load generator for `wappa serve`: POSTs signed, unique, realistic webhooks over N keep-alive
// connections and reports requests/s, events/s and latency percentiles. Requests are built and
// signed before the clock starts, so the generator spends its time on the wire, not on HMAC.
//
//   webhook_ingest --port P --secret S --connections 64 --requests 200000 --fixture text.json
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "percentile.hpp"
#include "wappa/whatsapp/signature.hpp"

namespace net = boost::asio;
using net::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
    std::string host = "127.0.0.1";
    std::string port = "8080";
    std::string secret = "wappa-bench-secret";
    std::string fixture;
    int connections = 16;
    std::size_t requests = 100000;
    double max_seconds = 30;
};

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// The fixture with every "wamid.…" message id replaced by a unique one.
std::vector<std::string> build_requests(const Options& o) {
    const auto body = read_file(o.fixture);
    const std::string marker = "\"id\": \"wamid.";
    std::mt19937_64 random(std::random_device{}());
    const auto run_id = std::to_string(random() % 1000000000);
    std::vector<std::string> out;
    out.reserve(o.requests);
    for (std::size_t i = 0; i < o.requests; ++i) {
        std::string b = body;
        for (auto pos = b.find(marker); pos != std::string::npos; pos = b.find(marker, pos + 1)) {
            b.insert(pos + marker.size(), "BENCH" + run_id + "-" + std::to_string(i) + "-");
        }
        std::string request = "POST /webhook HTTP/1.1\r\nHost: " + o.host + "\r\nContent-Type: application/json\r\n"
                              "X-Hub-Signature-256: " + wappa::whatsapp::sign_body(b, o.secret) +
                              "\r\nContent-Length: " + std::to_string(b.size()) + "\r\n\r\n" + b;
        out.push_back(std::move(request));
    }
    return out;
}

struct Results {
    std::vector<double> latencies_ms;
    std::map<unsigned, std::size_t> statuses;
    std::size_t errors = 0;
};

// Length of a complete HTTP response at the start of `data`, or 0 if more bytes are needed.
std::size_t complete_response(std::string_view data, unsigned& status) {
    const auto end = data.find("\r\n\r\n");
    if (end == std::string_view::npos) return 0;
    status = static_cast<unsigned>(std::atoi(data.data() + 9));
    std::size_t length = 0;
    const auto header = data.substr(0, end);
    for (const char* name : {"Content-Length: ", "content-length: "}) {
        if (const auto at = header.find(name); at != std::string_view::npos) {
            length = static_cast<std::size_t>(std::atol(header.data() + at + std::strlen(name)));
        }
    }
    return data.size() >= end + 4 + length ? end + 4 + length : 0;
}

// A deliberately lean client: responses are parsed by hand, and each read waits for
// readiness first so that no receive call is spent on an empty socket.
net::awaitable<void> connection(const Options& o, const std::vector<std::string>& requests, std::size_t& next,
                                Clock::time_point deadline, Results& results) {
    auto ex = co_await net::this_coro::executor;
    tcp::resolver resolver(ex);
    tcp::socket socket(ex);
    auto endpoints = co_await resolver.async_resolve(o.host, o.port, net::use_awaitable);
    co_await net::async_connect(socket, endpoints, net::use_awaitable);
    socket.set_option(tcp::no_delay(true));
    socket.non_blocking(true);
    std::string pending;
    char buffer[16384];
    while (next < requests.size() && Clock::now() < deadline) {
        const auto& request = requests[next++];
        const auto start = Clock::now();
        auto [write_error, n] = co_await net::async_write(socket, net::buffer(request), net::as_tuple(net::use_awaitable));
        if (write_error) {
            ++results.errors;
            co_return;
        }
        unsigned status = 0;
        std::size_t used = 0;
        while ((used = complete_response(pending, status)) == 0) {
            auto [wait_error] = co_await socket.async_wait(tcp::socket::wait_read, net::as_tuple(net::use_awaitable));
            boost::system::error_code ec;
            const auto got = socket.read_some(net::buffer(buffer), ec);
            if (wait_error || (ec && ec != net::error::would_block) || (!ec && got == 0)) {
                ++results.errors;
                co_return;
            }
            pending.append(buffer, got);
        }
        pending.erase(0, used);
        results.latencies_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
        ++results.statuses[status];
    }
}


}  // namespace

int main(int argc, char** argv) {
    Options o;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string k = argv[i], v = argv[i + 1];
        if (k == "--host") o.host = v;
        else if (k == "--port") o.port = v;
        else if (k == "--secret") o.secret = v;
        else if (k == "--fixture") o.fixture = v;
        else if (k == "--connections") o.connections = std::stoi(v);
        else if (k == "--requests") o.requests = std::stoul(v);
        else if (k == "--max-seconds") o.max_seconds = std::stod(v);
        else {
            std::cerr << "unknown option " << k << "\n";
            return 64;
        }
    }
    if (o.fixture.empty()) {
        std::cerr << "usage: webhook_ingest --port P --secret S --fixture FILE [--connections N] [--requests N]\n";
        return 64;
    }
    const auto requests = build_requests(o);
    net::io_context io(1);
    Results results;
    results.latencies_ms.reserve(requests.size());
    std::size_t next = 0;
    const auto start = Clock::now();
    const auto deadline = start + std::chrono::milliseconds(static_cast<long long>(o.max_seconds * 1000));
    for (int c = 0; c < o.connections; ++c) {
        net::co_spawn(io, connection(o, requests, next, deadline, results), [&](std::exception_ptr e) {
            if (e) ++results.errors;
        });
    }
    io.run();
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    const auto done = results.latencies_ms.size();
    auto& lat = results.latencies_ms;
    std::printf("connections=%d requests=%zu seconds=%.2f req_per_s=%.0f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f errors=%zu",
                o.connections, done, seconds, static_cast<double>(done) / seconds, percentile(lat, 50), percentile(lat, 99),
                lat.empty() ? 0.0 : *std::max_element(lat.begin(), lat.end()), results.errors);
    for (const auto& [status, count] : results.statuses) std::printf(" status_%u=%zu", status, count);
    std::printf("\n");
    return results.errors == 0 && results.statuses.size() == 1 && results.statuses.count(200) ? 0 : 1;
}
