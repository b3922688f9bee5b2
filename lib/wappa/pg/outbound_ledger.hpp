#pragma once
// The outbound engine's states mirrored into `outbound_messages`: the worker records each
// transition it makes (sending, sent, back to queued, unknown, failed) and the ledger writes
// them in batches, one statement per batch (each row's change atomic), a few per second at most
// per worker. Redis stays the engine's record: with PostgreSQL down the transitions wait
// (bounded) and the sends go on. Status webhooks move the rows further (delivered, read) from
// the inbound worker; one that came before the ledger wrote the wamid is applied on its write.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "wappa/core/asio.hpp"

namespace wappa::metrics {
class Registry;
}

namespace wappa::pg {

class Pool;

struct OutboundTransition {
    std::string tenant, message_id, to_number, type;
    std::string status;    // queued, sending, unknown, sent, failed
    std::int64_t attempts = 0;
    std::string wamid;
    std::optional<std::int64_t> error_code;
    std::string error;
    std::int64_t created_at_ms = 0;
    std::string payload;   // the Graph request body (JSON), written with the first transition
};

class OutboundLedger {
public:
    OutboundLedger(Pool& pool, metrics::Registry& registry);
    ~OutboundLedger();

    void record(OutboundTransition transition);
    // Writes until stop(); then what is buffered, once more.
    Task<void> run();
    void stop();

private:
    struct State;
    std::unique_ptr<State> state_;
};

}  // namespace wappa::pg
