#pragma once
// A private redis-server on a free loopback port, for tests that need a real Redis.
#include <cstdint>
#include <string>
#include <sys/types.h>

#include "wappa/redis/settings.hpp"

namespace wappa::test {

class RedisServer {
public:
    RedisServer();               // starts it and waits until it answers
    ~RedisServer();              // stops it
    void stop();
    void start();                // again, on the same port
    std::uint16_t port() const { return port_; }
    std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }
    // Runs one command through redis-cli and returns its output, trimmed.
    std::string cli(const std::string& args) const;

private:
    std::uint16_t port_ = 0;
    pid_t pid_ = -1;
};

std::uint16_t free_port();

// Client settings for `server` with short timeouts.
redis::Settings settings_for(const RedisServer& server);

}  // namespace wappa::test
