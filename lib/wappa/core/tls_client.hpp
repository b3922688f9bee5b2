#pragma once
// The TLS client context shared by every outgoing TLS connection (Graph API, rediss://):
// TLS 1.2 or later, the system's trusted CAs plus an optional extra CA file, the peer's
// certificate required, and an optional client certificate for mutual TLS.
#include <boost/asio/ssl/context.hpp>

#include <memory>
#include <string_view>

#include "wappa/core/asio.hpp"
#include "wappa/core/result.hpp"
#include "wappa/core/tls_files.hpp"

namespace wappa {

// `key_prefix` names the settings in errors: "graph." gives "graph.ca_file '...': ...".
Result<std::unique_ptr<net::ssl::context>> make_tls_client_context(const TlsClientFiles& files, std::string_view key_prefix);

}  // namespace wappa
