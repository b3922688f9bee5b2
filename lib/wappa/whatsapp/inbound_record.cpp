#include "wappa/whatsapp/inbound_record.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "wappa/whatsapp/parser.hpp"

namespace wappa::whatsapp {
namespace {

using Value = rapidjson::Value;

std::string string_of(const Value& obj, const char* key) {
    if (!obj.IsObject()) return {};
    const auto it = obj.FindMember(key);
    if (it == obj.MemberEnd() || !it->value.IsString()) return {};
    return std::string(it->value.GetString(), it->value.GetStringLength());
}

std::string json_of(const Value& v) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    v.Accept(writer);
    return std::string(buffer.GetString(), buffer.GetSize());
}

std::string kind_of(std::string_view type) {
    if (type == "text" || type == "image" || type == "audio" || type == "video" || type == "document" || type == "sticker" ||
        type == "location" || type == "interactive" || type == "button" || type == "reaction" || type == "order" || type == "system") {
        return std::string(type);
    }
    if (type == "contacts") return "contact";
    return "unsupported";
}

// The type's own object (location, contacts, interactive, reaction...) as JSON.
std::string structured_content(const Value& message, const std::string& type) {
    static const char* structured[] = {"location", "contacts", "interactive", "button", "reaction", "order", "system"};
    for (const char* key : structured) {
        if (type != key) continue;
        const auto it = message.FindMember(key);
        if (it != message.MemberEnd() && (it->value.IsObject() || it->value.IsArray())) {
            if (it->value.IsArray()) return std::string("{\"") + key + "\":" + json_of(it->value) + "}";
            return json_of(it->value);
        }
    }
    return "{}";
}

IncomingMessage incoming(const Value& entry, const Value& raw, Message message) {
    IncomingMessage m;
    m.tenant = string_of(entry, "tenant");
    m.phone_number_id = string_of(entry, "phone_number_id");
    m.wamid = message.id;
    const Value* contact_json = nullptr;
    if (const auto it = entry.FindMember("contact"); it != entry.MemberEnd() && it->value.IsObject()) contact_json = &it->value;
    Contact contact;
    if (contact_json != nullptr) contact = {string_of(*contact_json, "wa_id"), string_of(*contact_json, "user_id"), string_of(*contact_json, "name")};
    m.user_id = user_id_of(message, contact_json != nullptr ? &contact : nullptr);
    m.phone = !message.from.empty() ? message.from : contact.wa_id;
    m.profile_name = contact.name;
    m.type = message.type;
    m.kind = kind_of(message.type);
    m.timestamp = message.timestamp;
    if (const auto* t = std::get_if<TextContent>(&message.content)) m.text = t->body;
    if (const auto* b = std::get_if<ButtonContent>(&message.content)) m.text = b->text;
    if (const auto* media = std::get_if<MediaContent>(&message.content)) {
        m.media_mime = media->mime_type;
        m.media_sha256 = media->sha256;
        m.media_url = !media->url.empty() ? media->url : media->id;
        m.media_caption = media->caption;
        m.media_description = media->filename;
    }
    m.json_content = structured_content(raw, message.type);
    if (message.context) m.reply_to = message.context->id;
    m.message = std::move(message);
    return m;
}

}  // namespace

std::string user_id_of(const Message& message, const Contact* contact) {
    if (!message.from.empty()) return message.from;
    if (!message.from_user_id.empty()) return message.from_user_id;
    if (contact != nullptr) return !contact->wa_id.empty() ? contact->wa_id : contact->user_id;
    return {};
}

Result<InboundRecord> parse_inbound_entry(std::string_view json) {
    rapidjson::Document doc;
    doc.Parse(json.data(), json.size());
    if (doc.HasParseError() || !doc.IsObject()) return Error{"the queued event is not a JSON object"};
    const auto kind = string_of(doc, "kind");
    if (kind == "message") {
        const auto it = doc.FindMember("message");
        if (it == doc.MemberEnd() || !it->value.IsObject()) return Error{"the queued message event has no message object"};
        auto message = parse_message_json(json_of(it->value));
        if (!message) return message.error();
        auto m = incoming(doc, it->value, std::move(message.value()));
        if (m.wamid.empty()) return Error{"the queued message has no id"};
        if (m.user_id.empty()) return Error{"the queued message " + m.wamid + " names no user (neither from nor from_user_id)"};
        if (m.tenant.empty()) return Error{"the queued message " + m.wamid + " has no tenant"};
        return InboundRecord(std::move(m));
    }
    if (kind == "status") {
        const auto it = doc.FindMember("status");
        if (it == doc.MemberEnd() || !it->value.IsObject()) return Error{"the queued status event has no status object"};
        auto status = parse_status_json(json_of(it->value));
        if (!status) return status.error();
        StatusEvent s;
        s.tenant = string_of(doc, "tenant");
        s.wamid = status->id;
        s.status = status->status;
        s.recipient = !status->recipient_id.empty() ? status->recipient_id : status->recipient_user_id;
        s.timestamp = status->timestamp;
        if (!status->errors.empty()) {
            s.error_code = std::to_string(status->errors.front().code);
            s.error_title = status->errors.front().title;
        }
        s.callback = status->biz_opaque_callback_data;
        if (s.wamid.empty() || s.status.empty()) return Error{"the queued status has no id or status"};
        return InboundRecord(std::move(s));
    }
    return InboundRecord(OtherEvent{kind});
}

}  // namespace wappa::whatsapp
