#pragma once
// Live notifications (INTERFACE.md §4): channel names and the one-object JSON payload.
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace wappa::pubsub {

inline constexpr std::string_view incoming_message = "incoming_message";
inline constexpr std::string_view status_change = "status_change";
inline constexpr std::string_view outgoing_message = "outgoing_message";
inline constexpr std::string_view bot_reply = "bot_reply";

// "{prefix}:notify:{tenant}:{user_id}:{event}"
std::string channel_name(std::string_view prefix, std::string_view tenant, std::string_view user_id,
                         std::string_view event);
// The PSUBSCRIBE pattern for `wappa subscribe --tenant --user --event` ("*" = any).
std::string channel_pattern(std::string_view prefix, std::string_view tenant, std::string_view user_id,
                            std::string_view event);

struct DataField {
    std::string key;
    std::variant<std::string, std::int64_t> value;
};

struct Notification {
    std::string event;
    std::string tenant;
    std::string user_id;
    std::string timestamp;          // RFC 3339 UTC
    std::vector<DataField> data;
};

// {"event":..,"tenant":..,"inbox":<tenant>,"user_id":..,"platform":"whatsapp","data":{..},
//  "timestamp":..,"v":"1"}
std::string render_payload(const Notification& n);

}  // namespace wappa::pubsub
