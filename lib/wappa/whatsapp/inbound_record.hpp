#pragma once
// An entry of a tenant's inbound queue (the JSON `wappa serve` stored) as the inbound worker
// persists it: a user's message with every field its type carries, or a status of one of our
// messages. Pure parsing, no I/O.
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "wappa/core/result.hpp"
#include "wappa/whatsapp/model.hpp"

namespace wappa::whatsapp {

struct IncomingMessage {
    std::string tenant;
    std::string phone_number_id;  // the business number the message was sent to
    std::string wamid;
    std::string user_id;          // the phone number (wa_id), else Meta's business-scoped user id
    std::string phone;            // the phone number when there is one
    std::string profile_name;     // contacts[].profile.name
    std::string type;             // Meta's type (text, image, ...), inferred when absent
    std::string kind;             // the messages.kind column: text, image, ..., contact, unsupported
    std::string timestamp;        // unix seconds
    std::string text;             // text body, or the button's text
    std::string media_mime, media_sha256, media_url, media_caption, media_description;
    std::string json_content;     // the structured content (contacts, location, interactive...), JSON; "{}" when none
    std::string reply_to;         // context.id
    Message message;              // all of it, for the bot
};

struct StatusEvent {
    std::string tenant;
    std::string wamid;
    std::string status;           // sent|delivered|read|played|failed
    std::string recipient;
    std::string timestamp;
    std::string error_code;
    std::string error_title;
    std::string callback;         // biz_opaque_callback_data: our message id
};

// Anything else the queue holds (value.errors, other subscribed fields): acknowledged, not persisted.
struct OtherEvent {
    std::string kind;
};

using InboundRecord = std::variant<IncomingMessage, StatusEvent, OtherEvent>;

// The error says what is wrong with the entry (it is then kept in the failed set).
Result<InboundRecord> parse_inbound_entry(std::string_view json);

// The user a message is from: its phone number, else its business-scoped user id.
std::string user_id_of(const Message& message, const Contact* contact);

}  // namespace wappa::whatsapp
