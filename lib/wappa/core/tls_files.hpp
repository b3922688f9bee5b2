#pragma once
// What a TLS client (Graph API, rediss://) trusts and presents, as files: settings only, so that
// headers holding them need no Asio.
#include <string>

namespace wappa {

struct TlsClientFiles {
    std::string ca_file;      // extra trusted CA (PEM); empty = the system's store only
    std::string cert_file;    // client certificate (PEM), for servers that ask for one
    std::string key_file;     // its private key (PEM)
};

}  // namespace wappa
