#include "wappa/whatsapp/parser.hpp"

#include "wappa/core/json_arena.hpp"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <charconv>

namespace wappa::whatsapp {
namespace {

using Value = rapidjson::Value;

const Value* member(const Value& obj, const char* key) {
    if (!obj.IsObject()) return nullptr;
    const auto it = obj.FindMember(key);
    return it == obj.MemberEnd() ? nullptr : &it->value;
}

// Ids and timestamps are strings, but some producers send numbers: accept both.
std::string text(const Value& obj, const char* key) {
    const Value* v = member(obj, key);
    if (v == nullptr) return {};
    if (v->IsString()) return std::string(v->GetString(), v->GetStringLength());
    if (v->IsInt64()) return std::to_string(v->GetInt64());
    if (v->IsUint64()) return std::to_string(v->GetUint64());
    if (v->IsDouble()) {
        char buf[32];
        const auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, v->GetDouble());
        return ec == std::errc{} ? std::string(buf, ptr) : std::string{};
    }
    return {};
}

double number(const Value& obj, const char* key) {
    const Value* v = member(obj, key);
    if (v == nullptr) return 0;
    if (v->IsNumber()) return v->GetDouble();
    if (v->IsString()) {
        double out = 0;
        const char* s = v->GetString();
        std::from_chars(s, s + v->GetStringLength(), out);
        return out;
    }
    return 0;
}

bool flag(const Value& obj, const char* key) {
    const Value* v = member(obj, key);
    return v != nullptr && v->IsBool() && v->GetBool();
}

const Value& object_or_empty(const Value& obj, const char* key) {
    static const Value empty(rapidjson::kObjectType);
    const Value* v = member(obj, key);
    return (v != nullptr && v->IsObject()) ? *v : empty;
}

template <class F>
void for_each(const Value& obj, const char* key, F&& f) {
    const Value* v = member(obj, key);
    if (v == nullptr || !v->IsArray()) return;
    for (const auto& item : v->GetArray()) f(item);
}

std::string to_json(const Value& v) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    v.Accept(writer);
    return std::string(buffer.GetString(), buffer.GetSize());
}

std::vector<GraphError> parse_errors(const Value& obj) {
    std::vector<GraphError> out;
    for_each(obj, "errors", [&](const Value& e) {
        GraphError err;
        const Value* code = member(e, "code");
        if (code != nullptr && code->IsInt64()) err.code = code->GetInt64();
        else if (code != nullptr && code->IsString()) std::from_chars(code->GetString(), code->GetString() + code->GetStringLength(), err.code);
        err.title = text(e, "title");
        err.message = text(e, "message");
        err.details = text(object_or_empty(e, "error_data"), "details");
        err.href = text(e, "href");
        out.push_back(std::move(err));
    });
    return out;
}

MediaContent parse_media(const Value& m) {
    MediaContent out;
    out.id = text(m, "id");
    out.mime_type = text(m, "mime_type");
    out.sha256 = text(m, "sha256");
    out.caption = text(m, "caption");
    out.filename = text(m, "filename");
    out.url = text(m, "url");
    out.voice = flag(m, "voice");
    out.animated = flag(m, "animated");
    return out;
}

ContactCard parse_card(const Value& c) {
    ContactCard card;
    const auto& name = object_or_empty(c, "name");
    card.formatted_name = text(name, "formatted_name");
    card.first_name = text(name, "first_name");
    card.last_name = text(name, "last_name");
    card.middle_name = text(name, "middle_name");
    card.prefix = text(name, "prefix");
    card.suffix = text(name, "suffix");
    for_each(c, "phones", [&](const Value& p) { card.phones.push_back({text(p, "phone"), text(p, "wa_id"), text(p, "type")}); });
    for_each(c, "emails", [&](const Value& e) { card.emails.push_back({text(e, "email"), text(e, "type")}); });
    for_each(c, "urls", [&](const Value& u) { card.urls.push_back({text(u, "url"), text(u, "type")}); });
    for_each(c, "addresses", [&](const Value& a) {
        card.addresses.push_back({text(a, "street"), text(a, "city"), text(a, "state"), text(a, "zip"),
                                  text(a, "country"), text(a, "country_code"), text(a, "type")});
    });
    const auto& org = object_or_empty(c, "org");
    card.company = text(org, "company");
    card.department = text(org, "department");
    card.title = text(org, "title");
    card.birthday = text(c, "birthday");
    return card;
}

InteractiveContent parse_interactive(const Value& i) {
    InteractiveContent out;
    out.type = text(i, "type");
    const Value* reply = member(i, out.type.c_str());
    if (reply == nullptr || !reply->IsObject()) return out;
    out.id = text(*reply, "id");
    out.title = text(*reply, "title");
    out.description = text(*reply, "description");
    out.name = text(*reply, "name");
    out.body = text(*reply, "body");
    out.response_json = text(*reply, "response_json");
    return out;
}

Content parse_content(const std::string& type, const Value& m) {
    const Value& body = object_or_empty(m, type.c_str());
    if (type == "text") return TextContent{text(body, "body")};
    if (type == "image" || type == "audio" || type == "video" || type == "document" || type == "sticker") {
        return parse_media(body);
    }
    if (type == "location") {
        return LocationContent{number(body, "latitude"), number(body, "longitude"), text(body, "name"),
                               text(body, "address"), text(body, "url")};
    }
    if (type == "contacts") {
        ContactsContent out;
        for_each(m, "contacts", [&](const Value& c) { out.cards.push_back(parse_card(c)); });
        return out;
    }
    if (type == "interactive") return parse_interactive(body);
    if (type == "button") return ButtonContent{text(body, "payload"), text(body, "text")};
    if (type == "reaction") return ReactionContent{text(body, "message_id"), text(body, "emoji")};
    if (type == "order") {
        OrderContent out{text(body, "catalog_id"), text(body, "text"), {}};
        for_each(body, "product_items", [&](const Value& item) {
            out.items.push_back({text(item, "product_retailer_id"), text(item, "currency"), number(item, "quantity"),
                                 number(item, "item_price")});
        });
        return out;
    }
    if (type == "system") {
        return SystemContent{text(body, "body"), text(body, "type"), text(body, "wa_id"), text(body, "customer"),
                             text(body, "user_id")};
    }
    return OtherContent{text(body, "type")};
}

Message parse_message(const Value& m) {
    Message msg;
    msg.id = text(m, "id");
    msg.from = text(m, "from");
    msg.from_user_id = text(m, "from_user_id");
    msg.timestamp = text(m, "timestamp");
    std::vector<std::string_view> keys;
    if (m.IsObject()) {
        for (const auto& member : m.GetObject()) keys.emplace_back(member.name.GetString(), member.name.GetStringLength());
    }
    msg.type = message_type_of(text(m, "type"), keys);
    msg.content = parse_content(msg.type, m);
    if (const Value* c = member(m, "context"); c != nullptr && c->IsObject()) {
        Context ctx{text(*c, "from"), text(*c, "id"), flag(*c, "forwarded"), flag(*c, "frequently_forwarded"), {}};
        if (const Value* p = member(*c, "referred_product"); p != nullptr && p->IsObject()) {
            ctx.referred_product = ReferredProduct{text(*p, "catalog_id"), text(*p, "product_retailer_id")};
        }
        msg.context = std::move(ctx);
    }
    if (const Value* r = member(m, "referral"); r != nullptr && r->IsObject()) {
        msg.referral = Referral{text(*r, "source_url"), text(*r, "source_id"), text(*r, "source_type"),
                                text(*r, "headline"), text(*r, "body"), text(*r, "media_type"),
                                text(*r, "image_url"), text(*r, "video_url"), text(*r, "thumbnail_url"),
                                text(*r, "ctwa_clid"), text(object_or_empty(*r, "welcome_message"), "text")};
    }
    msg.errors = parse_errors(m);
    msg.raw = to_json(m);
    return msg;
}

StatusUpdate parse_status(const Value& s) {
    StatusUpdate st;
    st.id = text(s, "id");
    st.status = text(s, "status");
    st.timestamp = text(s, "timestamp");
    st.recipient_id = text(s, "recipient_id");
    st.recipient_user_id = text(s, "recipient_user_id");
    st.biz_opaque_callback_data = text(s, "biz_opaque_callback_data");
    if (const Value* c = member(s, "conversation"); c != nullptr && c->IsObject()) {
        st.conversation = Conversation{text(*c, "id"), text(*c, "expiration_timestamp"),
                                       text(object_or_empty(*c, "origin"), "type")};
    }
    if (const Value* p = member(s, "pricing"); p != nullptr && p->IsObject()) {
        Pricing pricing{std::nullopt, text(*p, "pricing_model"), text(*p, "type"), text(*p, "category")};
        if (const Value* b = member(*p, "billable"); b != nullptr && b->IsBool()) pricing.billable = b->GetBool();
        st.pricing = std::move(pricing);
    }
    st.errors = parse_errors(s);
    st.raw = to_json(s);
    return st;
}

Change parse_change(const std::string& waba_id, const Value& c) {
    Change change;
    change.field = text(c, "field");
    change.waba_id = waba_id;
    const Value& value = object_or_empty(c, "value");
    const auto& metadata = object_or_empty(value, "metadata");
    change.display_phone_number = text(metadata, "display_phone_number");
    change.phone_number_id = text(metadata, "phone_number_id");
    for_each(value, "contacts", [&](const Value& ct) {
        change.contacts.push_back({text(ct, "wa_id"), text(ct, "user_id"), text(object_or_empty(ct, "profile"), "name")});
    });
    if (change.field == "messages" || change.field.empty()) {
        for_each(value, "messages", [&](const Value& m) {
            if (m.IsObject()) change.messages.push_back(parse_message(m));
        });
        for_each(value, "statuses", [&](const Value& s) {
            if (s.IsObject()) change.statuses.push_back(parse_status(s));
        });
    }
    change.errors = parse_errors(value);
    if (change.field != "messages" || !change.errors.empty()) change.raw_value = to_json(value);
    return change;
}

}  // namespace

std::string message_type_of(std::string_view declared, const std::vector<std::string_view>& keys) {
    if (!declared.empty()) return std::string(declared);
    static constexpr std::string_view content_keys[] = {"text",     "image",       "audio",  "video",    "document", "sticker",
                                                        "location", "contacts",    "interactive", "button", "reaction", "order",
                                                        "system"};
    for (const auto key : content_keys) {
        for (const auto k : keys) {
            if (k == key) return std::string(key);
        }
    }
    return {};
}

const Contact* Change::contact_for(std::string_view wa_id) const {
    for (const auto& c : contacts) {
        if (c.wa_id == wa_id || (!c.user_id.empty() && c.user_id == wa_id)) return &c;
    }
    return contacts.size() == 1 ? &contacts.front() : nullptr;
}

std::size_t Webhook::event_count() const {
    std::size_t n = 0;
    for (const auto& c : changes) n += c.messages.size() + c.statuses.size();
    return n;
}

std::string_view content_kind(const Content& content) {
    constexpr std::string_view names[] = {"other",   "text",   "media",  "location", "contacts",
                                           "interactive", "button", "reaction", "order", "system"};
    return names[content.index()];
}

namespace {
template <class T, class Parse>
Result<T> parse_object(std::string_view json, const char* what, Parse&& parse) {
    rapidjson::Document doc;
    doc.Parse(json.data(), json.size());
    if (doc.HasParseError() || !doc.IsObject()) return Error{std::string("malformed ") + what + " JSON"};
    return parse(doc);
}
}  // namespace

Result<Message> parse_message_json(std::string_view json) {
    return parse_object<Message>(json, "message", [](const Value& v) { return parse_message(v); });
}

Result<StatusUpdate> parse_status_json(std::string_view json) {
    return parse_object<StatusUpdate>(json, "status", [](const Value& v) { return parse_status(v); });
}

Result<Webhook> parse_webhook(std::string_view body) {
    wappa::json::ArenaDocument arena;
    auto& doc = *arena;
    doc.Parse(body.data(), body.size());
    if (doc.HasParseError()) {
        return Error{std::string("malformed JSON at byte ") + std::to_string(doc.GetErrorOffset()) + ": " +
                     rapidjson::GetParseError_En(doc.GetParseError())};
    }
    if (!doc.IsObject()) return Error{"the webhook body is not a JSON object"};
    const Value* entries = member(doc, "entry");
    if (entries == nullptr || !entries->IsArray()) return Error{"the webhook body has no \"entry\" array"};
    Webhook hook;
    hook.object = text(doc, "object");
    for (const auto& entry : entries->GetArray()) {
        const auto waba_id = text(entry, "id");
        for_each(entry, "changes", [&](const Value& c) {
            if (c.IsObject()) hook.changes.push_back(parse_change(waba_id, c));
        });
    }
    return hook;
}

}  // namespace wappa::whatsapp
