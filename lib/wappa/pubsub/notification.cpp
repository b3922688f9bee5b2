#include "wappa/pubsub/notification.hpp"

#include "wappa/core/json.hpp"

namespace wappa::pubsub {

std::string channel_name(std::string_view prefix, std::string_view tenant, std::string_view user_id,
                         std::string_view event) {
    std::string out;
    out.reserve(prefix.size() + tenant.size() + user_id.size() + event.size() + 12);
    out.append(prefix).append(":notify:").append(tenant).append(":").append(user_id).append(":").append(event);
    return out;
}

std::string channel_pattern(std::string_view prefix, std::string_view tenant, std::string_view user_id,
                            std::string_view event) {
    const auto or_any = [](std::string_view s) { return s.empty() ? std::string_view("*") : s; };
    return channel_name(prefix, or_any(tenant), or_any(user_id), or_any(event));
}

std::string render_payload(const Notification& n) {
    std::string out;
    out.reserve(256);
    out += "{\"event\":";
    json::append_string(out, n.event);
    out += ",\"tenant\":";
    json::append_string(out, n.tenant);
    out += ",\"inbox\":";
    json::append_string(out, n.tenant);
    out += ",\"user_id\":";
    json::append_string(out, n.user_id);
    out += ",\"platform\":\"whatsapp\",\"data\":{";
    bool first = true;
    for (const auto& field : n.data) {
        if (!first) out += ',';
        first = false;
        json::append_string(out, field.key);
        out += ':';
        if (const auto* s = std::get_if<std::string>(&field.value)) json::append_string(out, *s);
        else out += std::to_string(std::get<std::int64_t>(field.value));
    }
    out += "},\"timestamp\":";
    json::append_string(out, n.timestamp);
    out += ",\"v\":\"1\"}";
    return out;
}

}  // namespace wappa::pubsub
