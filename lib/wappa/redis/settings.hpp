#pragma once
#include <string>

#include "wappa/config/redis_url.hpp"
#include "wappa/config/units.hpp"
#include "wappa/core/tls_files.hpp"

namespace wappa::redis {

struct Settings {
    config::RedisEndpoint endpoint;
    config::Duration connect_timeout{5'000};
    // A command without an answer for this long marks the connection dead (it is reconnected).
    config::Duration command_timeout{5'000};
    TlsClientFiles tls;           // used when endpoint.tls (rediss://)
    std::string name = "redis";    // for log lines
};

}  // namespace wappa::redis
