#pragma once
// Workers say they are alive: every few seconds each writes its role and id with the time into
// one hash ({prefix}:workers), read by /api/admin/health ("the workers seen alive"). A worker
// that stops removes itself; one that died ages out, and is forgotten after an hour.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "wappa/core/asio.hpp"
#include "wappa/core/result.hpp"

namespace wappa::redis {
class Client;
}

namespace wappa::service {

inline constexpr std::int64_t heartbeat_every_ms = 5'000;
inline constexpr std::int64_t alive_within_ms = 3 * heartbeat_every_ms;

std::string workers_key(std::string_view prefix);

class Heartbeat {
public:
    // `member`: "<role>@<host:pid>".
    Heartbeat(redis::Client& client, std::string key, std::string member);
    ~Heartbeat();
    Task<void> run();
    void stop();

private:
    struct State;
    std::unique_ptr<State> state_;
};

struct SeenWorker {
    std::string role, id;
    std::int64_t age_ms = 0;
};
// Every worker that wrote a heartbeat in the last hour, most recent first.
Task<Result<std::vector<SeenWorker>>> workers_seen(redis::Client& client, std::string key);

}  // namespace wappa::service
