// serve's request path before any handler, on arbitrary bytes from a client: Beast's parser with
// serve's limits, then serve's refusals (smuggling, target, header count), then the Request a
// handler sees with its header and query lookups. Bytes arrive in arbitrary pieces, as from a
// socket.
#include <boost/asio/buffer.hpp>

#include <cstdlib>
#include <string_view>

#include "wappa/http/request_rules.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace wappa::http;
    if (size < 1) return 0;
    const std::size_t piece = 1 + data[0] % 64;   // the first byte picks the read size
    std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
    constexpr std::uint64_t body_limit = 64 * 1024;

    RequestParser parser;
    apply_limits(parser, body_limit);
    boost::system::error_code ec;
    std::string pending;
    while (!parser.is_done()) {
        if (rest.empty()) {   // the client closed: what Beast's read does at end of file
            if (parser.got_some()) parser.put_eof(ec);
            else ec = bhttp::error::end_of_stream;
            break;
        }
        const auto take = std::min(piece, rest.size());
        pending.append(rest.substr(0, take));
        rest.remove_prefix(take);
        const auto used = parser.put(boost::asio::buffer(pending), ec);
        pending.erase(0, used);
        if (ec == bhttp::error::need_more) {
            ec = {};
            continue;
        }
        if (ec) break;
    }
    if (ec) {
        if (auto refusal = refusal_for_read_error(ec, body_limit); refusal && refusal->message.empty()) std::abort();
        return 0;
    }
    if (!parser.is_done()) return 0;
    auto beast_request = parser.release();
    if (auto refusal = refusal_for(beast_request)) {
        if (refusal->status < 400 || refusal->message.empty()) std::abort();
        return 0;
    }
    if (beast_request.body().size() > body_limit) std::abort();
    const auto request = to_request(beast_request);
    (void)request.header("authorization");
    (void)request.header("x-hub-signature-256");
    (void)request.query_param("access_token");
    (void)request.query_param("hub.challenge");
    return 0;
}
