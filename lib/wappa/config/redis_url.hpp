#pragma once
// redis://[user:password@]host[:port][/db], or rediss://… for TLS — parsed here so that a bad URL is a config
// error naming redis.url, before anything tries to connect.
#include <cstdint>
#include <string>

#include "wappa/core/result.hpp"

namespace wappa::config {

struct RedisEndpoint {
    std::string host = "127.0.0.1";
    std::uint16_t port = 6379;
    std::string user;
    std::string password;
    int db = 0;
    bool tls = false;    // rediss://
};

Result<RedisEndpoint> parse_redis_url(std::string_view url);
// The URL with any password replaced by "****", for logs and `config show`.
std::string mask_url_password(std::string_view url);

}  // namespace wappa::config
