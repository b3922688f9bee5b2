#pragma once
// The sandbox's status webhooks: with graph.base_url = "sandbox", each accepted send comes back
// as the webhooks Meta would send about it (sent, then delivered, then read), built as Meta's
// JSON and taken in by the same path as a real webhook (dedup, inbound stream, outbound state),
// so that a local run shows a message's whole lifecycle in `wappa subscribe` and PostgreSQL.
#include <memory>
#include <string>

#include "wappa/config/config.hpp"
#include "wappa/core/asio.hpp"

namespace wappa::queue {
class InboundQueue;
class OutboundQueue;
}

namespace wappa::service {

struct SentMessage {
    std::string tenant, sender, recipient, message_id, wamid;
};

class SandboxFeedback {
public:
    SandboxFeedback(const config::Config& config, queue::InboundQueue& inbound, queue::OutboundQueue& outbound);
    ~SandboxFeedback();

    // Called for each send the sandbox accepted; its statuses follow within about a second.
    void sent(SentMessage message);
    // Runs until stop(); what is still pending then is dropped (it was never real).
    Task<void> run();
    void stop();

    // Meta's webhook JSON carrying `status` for each message (exposed for tests).
    static std::string webhook_json(const config::Config& config, const std::vector<SentMessage>& messages, std::string_view status,
                                    std::int64_t unix_seconds);

private:
    struct State;
    std::unique_ptr<State> state_;
};

}  // namespace wappa::service
