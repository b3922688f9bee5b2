#include "wappa/service/notifications.hpp"

#include <charconv>

#include "wappa/core/time.hpp"

namespace wappa::service {

std::string event_time(std::string_view unix_seconds, std::string_view fallback) {
    long long secs = 0;
    const auto [ptr, ec] = std::from_chars(unix_seconds.data(), unix_seconds.data() + unix_seconds.size(), secs);
    if (unix_seconds.empty() || ec != std::errc{} || secs <= 0) return std::string(fallback);
    return format_utc(std::chrono::sys_seconds(std::chrono::seconds(secs)));
}

pubsub::Notification incoming_notification(const std::string& tenant, const std::string& user_id, const whatsapp::Message& m,
                                           const std::string& time) {
    return pubsub::Notification{std::string(pubsub::incoming_message), tenant, user_id, time,
                                {{"message_id", m.id}, {"message_type", m.type}}};
}

pubsub::Notification status_notification(const std::string& tenant, const StatusFields& s, const std::string& time) {
    pubsub::Notification n{std::string(pubsub::status_change), tenant, s.recipient, time,
                           {{"message_id", s.wamid}, {"status", s.status}, {"recipient", s.recipient}}};
    if (!s.error_code.empty()) {
        n.data.push_back({"error_code", std::atoll(s.error_code.c_str())});
        n.data.push_back({"error_title", s.error_title});
    }
    if (!s.callback.empty()) n.data.push_back({"biz_opaque_callback_data", s.callback});
    return n;
}

}  // namespace wappa::service
