#pragma once
#include <string_view>

#include "wappa/core/result.hpp"
#include "wappa/whatsapp/model.hpp"

namespace wappa::whatsapp {

// Parses a webhook body. Fails only when the body is not JSON or has no `entry` array; unknown
// fields and types are kept (raw) so that schema drift never makes Meta retry forever.
Result<Webhook> parse_webhook(std::string_view body);

}  // namespace wappa::whatsapp
