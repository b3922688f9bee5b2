#pragma once
// redis://[user:password@]host[:port][/db], rediss://… for TLS, or redis+cluster://[user:password@]host:port,…
// (rediss+cluster:// with TLS) naming seed nodes of a Redis Cluster — parsed here so that a bad URL is a
// config error naming redis.url, before anything tries to connect.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "wappa/core/result.hpp"

namespace wappa::config {

struct RedisEndpoint {
    std::string host = "127.0.0.1";
    std::uint16_t port = 6379;
    std::string user;
    std::string password;
    int db = 0;
    bool tls = false;    // rediss://
    // redis+cluster://: every seed node, in order; host and port are the first of them.
    bool cluster = false;
    std::vector<std::pair<std::string, std::uint16_t>> seeds;
};

Result<RedisEndpoint> parse_redis_url(std::string_view url);
// The URL with any password replaced by "****", for logs and `config show`.
std::string mask_url_password(std::string_view url);

}  // namespace wappa::config
