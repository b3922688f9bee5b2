#pragma once
#include <string>

#include "wappa/config/redis_url.hpp"
#include "wappa/config/units.hpp"

namespace wappa::redis {

struct Settings {
    config::RedisEndpoint endpoint;
    config::Duration connect_timeout{5'000};
    // A command without an answer for this long marks the connection dead (it is reconnected).
    config::Duration command_timeout{5'000};
    std::string name = "redis";    // for log lines
};

}  // namespace wappa::redis
