#include "wappa/core/tls_client.hpp"

namespace wappa {

Result<std::unique_ptr<net::ssl::context>> make_tls_client_context(const TlsClientFiles& files, std::string_view key_prefix) {
    namespace ssl = net::ssl;
    auto context = std::make_unique<ssl::context>(ssl::context::tls_client);
    boost::system::error_code ec;
    context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                         ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    context->set_default_verify_paths(ec);
    if (ec) return Error{"cannot load the system's trusted CA certificates: " + ec.message()};
    const std::string prefix(key_prefix);
    if (!files.ca_file.empty()) {
        context->load_verify_file(files.ca_file, ec);
        if (ec) return Error{prefix + "ca_file '" + files.ca_file + "': cannot load CA certificates: " + ec.message()};
    }
    if (!files.cert_file.empty()) {
        context->use_certificate_chain_file(files.cert_file, ec);
        if (ec) return Error{prefix + "cert_file '" + files.cert_file + "': cannot load the certificate: " + ec.message()};
        context->use_private_key_file(files.key_file, ssl::context::pem, ec);
        if (ec) return Error{prefix + "key_file '" + files.key_file + "': cannot load the private key: " + ec.message()};
    }
    context->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
    return context;
}

}  // namespace wappa
