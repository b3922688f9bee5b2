#pragma once
// The inbound worker (`wappa worker --role inbound`): consumes the tenants' inbound streams
// with a consumer group, stores users' messages and our messages' statuses in PostgreSQL (one
// transaction per batch), publishes their notifications after the commit, answers with the
// built-in bot, keeps each user's active conversation in a Redis cache, and acknowledges an
// entry only once it is stored. PostgreSQL down: nothing is acknowledged, the batch is tried
// again with backoff; an entry that cannot be stored for any other reason goes to the inbound
// failed set after [inbound] max_deliveries tries.
#include <cstdint>
#include <memory>

#include "wappa/config/config.hpp"
#include "wappa/core/asio.hpp"
#include "wappa/metrics/metrics.hpp"

namespace wappa::queue {
class InboundStream;
class OutboundQueue;
}
namespace wappa::redis {
class Client;
}
namespace wappa::pg {
class InboundStore;
class Pool;
}

namespace wappa::service {

struct InboundMetrics {
    explicit InboundMetrics(metrics::Registry& registry);
    metrics::Counter& events;         // kind (message, status, other), outcome (stored, duplicate, failed)
    metrics::Counter& bot_replies;    // command (echo, history, close)
    metrics::Counter& retries;        // why a batch was tried again: postgres, redis
    metrics::Histogram& event_time;   // per event: its batch's time from read to acknowledgement, divided by its size
};

struct InboundWorkerStats {
    std::uint64_t stored = 0, duplicates = 0, statuses = 0, failed = 0, replies = 0;
};

class InboundWorker {
public:
    // `store` is null without PostgreSQL ([postgres] url empty).
    InboundWorker(const config::Config& config, queue::InboundStream& stream, queue::OutboundQueue& outbound,
                  redis::Client& client, pg::InboundStore* store, InboundMetrics& metrics);
    ~InboundWorker();

    // Runs until stop(); the batch in hand is finished first.
    Task<void> run();
    void stop();
    const InboundWorkerStats& stats() const;

private:
    struct State;
    std::unique_ptr<State> state_;
};

}  // namespace wappa::service
