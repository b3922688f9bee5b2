#pragma once
// The Graph transport over HTTP/1.1 (Beast): https:// with OpenSSL — certificate chain and host
// name verified, SNI sent — or plain http:// for a loopback test server. Connections are kept
// alive and reused, at most `max_connections` open at once.
#include "wappa/graph/transport.hpp"

namespace wappa::graph {

struct Endpoint {
    bool tls = true;
    std::string host;
    std::string port;
    std::string base_path;   // any path of base_url, without a trailing '/'
};

// Splits "https://host[:port][/path]"; the error names what is wrong.
Result<Endpoint> parse_base_url(std::string_view url);

// The error names what failed (an unreadable CA file...).
std::unique_ptr<Transport> make_http_transport(net::any_io_executor executor, const TransportSettings& settings,
                                               const Endpoint& endpoint, std::string& error);

}  // namespace wappa::graph
