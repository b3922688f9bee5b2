#pragma once
// The notifications of users' messages and of our messages' statuses, built in one place:
// `wappa serve` publishes them at intake without PostgreSQL, the inbound worker after its
// commit with it (never both).
#include <string>
#include <string_view>

#include "wappa/pubsub/notification.hpp"
#include "wappa/whatsapp/model.hpp"

namespace wappa::service {

// Meta's unix-seconds string as RFC 3339; `fallback` when missing or malformed.
std::string event_time(std::string_view unix_seconds, std::string_view fallback);

pubsub::Notification incoming_notification(const std::string& tenant, const std::string& user_id, const whatsapp::Message& message,
                                           const std::string& time);

struct StatusFields {
    std::string recipient, wamid, status, error_code, error_title, callback;
};
pubsub::Notification status_notification(const std::string& tenant, const StatusFields& status, const std::string& time);

}  // namespace wappa::service
