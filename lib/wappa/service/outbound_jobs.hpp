#pragma once
// From a validated job to what the queue stores: tenant resolved, message id assigned, Graph
// body built, the tenant's rate limits attached. Shared by `wappa enqueue` and the message API.
#include <string>

#include "wappa/config/config.hpp"
#include "wappa/queue/outbound_queue.hpp"
#include "wappa/whatsapp/outbound.hpp"

namespace wappa::service {

// The queue engine's settings from [redis] and [outbound].
queue::OutboundSettings outbound_settings(const config::Config& config);

// A fresh message id: 32 random hex digits.
std::string new_message_id();

// Fails (with the field at fault) when the tenant is not configured.
std::variant<queue::EnqueueRequest, whatsapp::JobError> make_enqueue_request(const config::Config& config,
                                                                             whatsapp::OutboundJob job);

}  // namespace wappa::service
