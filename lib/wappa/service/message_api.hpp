#pragma once
// The message API of `wappa serve`: POST /api/v1/messages (one job, the JSON of
// `wappa enqueue --json`) and the Wappa framework's POST /api/whatsapp/messages/text.
#include "wappa/config/config.hpp"
#include "wappa/core/asio.hpp"
#include "wappa/http/message.hpp"

namespace wappa::queue {
class OutboundQueue;
}

namespace wappa::service {

class MessageApi {
public:
    MessageApi(const config::Config& config, queue::OutboundQueue& queue);

    Task<http::Response> post_message(const http::Request& request);
    Task<http::Response> post_compat_text(const http::Request& request);

private:
    Task<http::Response> queue_job(const http::Request& request, std::string job_json);

    const config::Config& config_;
    queue::OutboundQueue& queue_;
};

}  // namespace wappa::service
