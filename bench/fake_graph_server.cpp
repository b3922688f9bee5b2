// A fast fake Graph API for the outbound benchmark: answers every POST like Meta's success
// (graph_success.json's shape) with a fresh wamid, on the same HTTP server `wappa serve` uses.
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <atomic>
#include <cstdio>
#include <iostream>

#include "wappa/http/server.hpp"

int main(int argc, char** argv) {
    using namespace wappa;
    if (argc < 2) {
        std::cerr << "usage: fake_graph_server PORT\n";
        return 64;
    }
    net::io_context io(1);
    std::atomic<std::uint64_t> count{0};
    http::Server server(io.get_executor(),
                        http::ServerSettings{{"127.0.0.1", static_cast<std::uint16_t>(std::atoi(argv[1]))}, 1 << 20,
                                             std::chrono::seconds(30), std::chrono::seconds(30), false},
                        [&](http::Request&) -> Task<http::Response> {
                            const auto n = ++count;
                            co_return http::Response::json(
                                200, "{\"messaging_product\":\"whatsapp\",\"contacts\":[{\"input\":\"1\",\"wa_id\":\"1\"}],"
                                     "\"messages\":[{\"id\":\"wamid.BENCH" + std::to_string(n) + "\",\"message_status\":\"accepted\"}]}");
                        });
    if (auto status = server.listen(); !status) {
        std::cerr << status.error().message << "\n";
        return 69;
    }
    server.start();
    net::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](auto, int) {
        std::fprintf(stderr, "fake graph answered %llu requests\n", static_cast<unsigned long long>(count.load()));
        io.stop();
    });
    io.run();
}
