#pragma once
#include <string_view>

#include "wappa/core/result.hpp"
#include "wappa/whatsapp/model.hpp"

namespace wappa::whatsapp {

// Parses a webhook body. Fails only when the body is not JSON or has no `entry` array; unknown
// fields and types are kept (raw) so that schema drift never makes Meta retry forever.
Result<Webhook> parse_webhook(std::string_view body);

// One message or status object as JSON (as the inbound queue keeps them).
Result<Message> parse_message_json(std::string_view json);
Result<StatusUpdate> parse_status_json(std::string_view json);

// The message's type, or, when Meta left `type` out, the content key it carries ("location",
// "image", ...); empty when there is neither.
std::string message_type_of(std::string_view declared, const std::vector<std::string_view>& keys);

}  // namespace wappa::whatsapp
