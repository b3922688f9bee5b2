#pragma once
// Meta's webhook endpoint: the verification handshake (GET) and event delivery (POST):
// signature → parse → tenant routing → dedup + queue + notify → 200 only once all is in Redis.
#include <optional>
#include <string_view>

#include "wappa/config/config.hpp"
#include "wappa/core/asio.hpp"
#include "wappa/http/message.hpp"

namespace wappa::queue {
class InboundQueue;
class OutboundQueue;
}

namespace wappa::service {

struct ServeMetrics;

class WebhookIntake {
public:
    WebhookIntake(const config::Config& config, queue::InboundQueue& queue, queue::OutboundQueue& outbound, ServeMetrics& metrics);

    // `tenant` is the {tenant} of /webhook/{tenant}, if any.
    http::Response verify(const http::Request& request, std::optional<std::string_view> tenant) const;
    Task<http::Response> receive(const http::Request& request, std::optional<std::string_view> tenant);

private:
    const config::Config& config_;
    queue::InboundQueue& queue_;
    queue::OutboundQueue& outbound_;
    ServeMetrics& metrics_;
};

}  // namespace wappa::service
