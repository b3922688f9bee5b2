#pragma once
// How `wappa subscribe` shows a message: one NDJSON line, or one readable line on a terminal.
#include <string>
#include <string_view>

namespace wappa::pubsub {

// The payload itself when it is JSON (re-serialised onto one line if it spans several);
// otherwise {"channel":..,"message":<the text>}.
std::string ndjson_line(std::string_view channel, std::string_view payload);

// "10:30:00 incoming_message acme/5511999887766 message_id=wamid.X message_type=text", with
// colours when `color` is set; non-notification payloads are shown with their channel.
std::string pretty_line(std::string_view channel, std::string_view payload, bool color);

}  // namespace wappa::pubsub
