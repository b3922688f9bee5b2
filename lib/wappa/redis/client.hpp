#pragma once
// A Redis client on one connection, in the style of Boost.Redis: a long-lived run loop owns
// connecting and reconnecting (with backoff); exec() may be called from any number of
// coroutines on the same executor and their commands are pipelined automatically — written
// together, answered in order. While Redis is unreachable exec() fails at once (callers answer
// 503 instead of hanging), and the run loop keeps trying to reconnect.
// With a redis+cluster:// endpoint the same interface drives a Redis Cluster (redis/cluster.hpp):
// one such client per master, each command routed by its keys' slot.
#include <memory>
#include <string>
#include <vector>

#include "wappa/core/asio.hpp"
#include "wappa/core/result.hpp"
#include "wappa/redis/command.hpp"
#include "wappa/redis/reply.hpp"
#include "wappa/redis/settings.hpp"

namespace wappa::redis {

class Client {
public:
    Client(net::any_io_executor executor, Settings settings);
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    // Starts the background run loop. Call once.
    void start();
    // Fails what is pending and stops reconnecting; the run loop ends soon after.
    void stop();

    bool connected() const;
    // Waits until connected, or fails after `timeout` with the last connection error.
    Task<Status> wait_connected(config::Duration timeout);

    // A Redis error reply is a successful Result holding a Reply of Type::error.
    Task<Result<Reply>> exec(const Command& command);
    // Several commands sent back to back; one reply per command, in order.
    Task<Result<std::vector<Reply>>> exec(const std::vector<Command>& commands);
    // Every key matching `pattern` (SCAN, on every master of a cluster).
    Task<Result<std::vector<std::string>>> scan(std::string pattern);
    bool is_cluster() const { return cluster_ != nullptr; }

    struct Impl;

private:
    std::shared_ptr<Impl> impl_;
    std::shared_ptr<class Cluster> cluster_;
};

}  // namespace wappa::redis
