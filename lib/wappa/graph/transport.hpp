#pragma once
// Sending one request to the Graph API's /{phone_number_id}/messages edge, and what its answer
// means for the queue: sent; never sent; sent or not, unknown; retry; back off without
// spending an attempt; pause the tenant; or fail for good.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "wappa/config/units.hpp"
#include "wappa/core/asio.hpp"
#include "wappa/core/result.hpp"

namespace wappa::graph {

struct SendOutcome {
    enum class Kind {
        sent,
        not_sent,       // the request certainly never left (no connection, a write that failed at once)
        ambiguous,      // the request left and no usable answer came: it may have been delivered
        transient,      // an error answer worth retrying as is
        rate_limited,   // a throttling answer: wait (Retry-After, or a cool-down) for `scope`
        auth,           // the access token was refused (code 190 or 0, HTTP 401)
        permanent,
    };
    // What a throttling answer applies to: Meta's pair limit (131056), the sender number
    // (130429, 131048), or the WABA and app (80007, 4, 368).
    enum class Scope { pair, sender, tenant };
    Kind kind = Kind::transient;
    std::string wamid;
    std::int64_t code = 0;            // Graph error code; HTTP status when there is none
    std::string error;
    config::Duration retry_after{0};  // from Retry-After, when the server sent one
    Scope scope = Scope::sender;
};

// Maps an HTTP answer to an outcome by Graph error code (the HTTP status is only a hint).
SendOutcome classify(int http_status, std::string_view body, config::Duration retry_after);

class Transport {
public:
    virtual ~Transport() = default;
    virtual Task<SendOutcome> send(const std::string& phone_number_id, const std::string& access_token,
                                   const std::string& body) = 0;
};

struct TransportSettings {
    std::string base_url = "sandbox";   // "sandbox", https://graph.facebook.com, or http://127.0.0.1:PORT (tests)
    std::string api_version = "v23.0";
    config::Duration timeout{15'000};   // connect, TLS handshake, and the whole request and answer
    std::size_t max_connections = 64;   // open connections at most; sends wait for a free one
    std::string ca_file;                // extra trusted CAs (PEM), on top of the system's store
    config::Duration sandbox_latency{0};
    double sandbox_error_rate = 0;      // share of sandbox sends answered with a transient error
};

// "sandbox" answers like Meta and sends nothing; https:// verifies the server's certificate
// (chain and host name, SNI sent) over a pool of keep-alive connections; http:// is for a
// loopback test server. The error names what is wrong.
std::unique_ptr<Transport> make_transport(net::any_io_executor executor, const TransportSettings& settings, std::string& error);

}  // namespace wappa::graph
