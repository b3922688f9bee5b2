#include "wappa/whatsapp/outbound.hpp"

#include "wappa/core/json_arena.hpp"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cmath>
#include <set>

namespace wappa::whatsapp {
namespace {

using Value = rapidjson::Value;

// Thrown inside this file only, caught by parse_job: the first problem ends validation.
struct Refusal {
    JobError error;
};

[[noreturn]] void refuse(std::string field, std::string message) { throw Refusal{{std::move(field), std::move(message)}}; }

const Value* find(const Value& obj, const char* key) {
    const auto it = obj.FindMember(key);
    return it == obj.MemberEnd() || it->value.IsNull() ? nullptr : &it->value;
}

std::string string_field(const Value& obj, const char* key, const std::string& path, bool required) {
    const Value* v = find(obj, key);
    if (v == nullptr) {
        if (required) refuse(path, "is required");
        return {};
    }
    if (!v->IsString()) refuse(path, "must be a string");
    return std::string(v->GetString(), v->GetStringLength());
}

std::string required_text(const Value& obj, const char* key, const std::string& path) {
    auto s = string_field(obj, key, path, true);
    if (s.empty()) refuse(path, "must not be empty");
    return s;
}

void check_length(const std::string& value, std::size_t limit, const std::string& path) {
    const auto n = count_characters(value);
    if (n > limit) {
        refuse(path, "is " + std::to_string(n) + " characters; WhatsApp allows at most " + std::to_string(limit));
    }
}

const Value& array_field(const Value& obj, const char* key, const std::string& path) {
    const Value* v = find(obj, key);
    if (v == nullptr) refuse(path, "is required");
    if (!v->IsArray()) refuse(path, "must be an array");
    return *v;
}

double number_field(const Value& obj, const char* key, const std::string& path) {
    const Value* v = find(obj, key);
    if (v == nullptr) refuse(path, "is required");
    if (v->IsNumber()) return v->GetDouble();
    if (v->IsString()) {
        try {
            std::size_t used = 0;
            const std::string s(v->GetString(), v->GetStringLength());
            const double d = std::stod(s, &used);
            if (used == s.size()) return d;
        } catch (...) {
        }
    }
    refuse(path, "must be a number");
}

std::string normalise_number(const std::string& raw) {
    std::string digits = raw;
    if (!digits.empty() && digits.front() == '+') digits.erase(0, 1);
    const bool all_digits = !digits.empty() && std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!all_digits || digits.size() < 8 || digits.size() > 15 || digits.front() == '0') {
        refuse("to_number", "'" + raw + "' is not an E.164 phone number (country code and number, 8 to 15 digits, '+' optional)");
    }
    return digits;
}

TextJob parse_text(const Value& job) {
    TextJob t;
    t.body = required_text(job, "text", "text");
    check_length(t.body, 4096, "text");
    if (const Value* p = find(job, "preview_url")) {
        if (!p->IsBool()) refuse("preview_url", "must be true or false");
        t.preview_url = p->GetBool();
    }
    return t;
}

void check_template_text(const std::string& text, const std::string& path) {
    if (text.find_first_of("\n\t") != std::string::npos) refuse(path, "must not contain newlines or tabs (Meta refuses them in template parameters)");
    if (text.find("     ") != std::string::npos) refuse(path, "must not contain more than 4 consecutive spaces");
    check_length(text, 32768, path);
}

TemplateJob parse_template(const Value& job) {
    TemplateJob t;
    t.name = required_text(job, "template_name", "template_name");
    if (!std::all_of(t.name.begin(), t.name.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; })) {
        refuse("template_name", "'" + t.name + "' is not a template name (lowercase letters, digits and '_')");
    }
    check_length(t.name, 512, "template_name");
    t.language_code = required_text(job, "language_code", "language_code");
    if (const Value* components = find(job, "components")) {
        if (!components->IsArray()) refuse("components", "must be an array");
        for (rapidjson::SizeType i = 0; i < components->Size(); ++i) {
            const auto& c = (*components)[i];
            const auto path = "components[" + std::to_string(i) + "]";
            if (!c.IsObject()) refuse(path, "must be an object");
            required_text(c, "type", path + ".type");
            const Value* params = find(c, "parameters");
            if (params == nullptr) continue;
            if (!params->IsArray()) refuse(path + ".parameters", "must be an array");
            for (rapidjson::SizeType j = 0; j < params->Size(); ++j) {
                const auto& p = (*params)[j];
                const auto ppath = path + ".parameters[" + std::to_string(j) + "]";
                if (!p.IsObject()) refuse(ppath, "must be an object");
                const auto type = required_text(p, "type", ppath + ".type");
                if (type == "text") check_template_text(required_text(p, "text", ppath + ".text"), ppath + ".text");
            }
        }
        rapidjson::StringBuffer buffer;
        rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
        // The writer stops at a number JSON cannot carry (RapidJSON parses some long numbers with
        // an exponent as infinity): refused here, not sent as a truncated body (fuzz_outbound_job).
        if (!components->Accept(writer)) refuse("components", "holds a number out of range");
        t.components_json.assign(buffer.GetString(), buffer.GetSize());
    }
    return t;
}

MediaJob parse_media(const Value& job) {
    MediaJob m;
    m.media_type = required_text(job, "media_type", "media_type");
    static const std::set<std::string> types{"image", "video", "audio", "document", "sticker"};
    if (!types.count(m.media_type)) refuse("media_type", "must be image, video, audio, document or sticker, not '" + m.media_type + "'");
    m.link = string_field(job, "media_url", "media_url", false);
    m.id = string_field(job, "media_id", "media_id", false);
    if (m.link.empty() == m.id.empty()) refuse("media_url", "exactly one of media_url and media_id is required");
    if (!m.link.empty() && !m.link.starts_with("https://") && !m.link.starts_with("http://")) {
        refuse("media_url", "must be an http:// or https:// URL Meta can fetch");
    }
    m.caption = string_field(job, "caption", "caption", false);
    if (!m.caption.empty()) {
        if (m.media_type == "audio" || m.media_type == "sticker") refuse("caption", "is not allowed on " + m.media_type);
        check_length(m.caption, 1024, "caption");
    }
    m.filename = string_field(job, "filename", "filename", false);
    if (!m.filename.empty() && m.media_type != "document") refuse("filename", "is allowed on documents only");
    return m;
}

// Optional header/footer texts of interactive messages ("header" and "header_text" alike).
std::string optional_text(const Value& job, const char* key, const char* alias, std::size_t limit) {
    auto s = string_field(job, key, key, false);
    if (s.empty()) s = string_field(job, alias, alias, false);
    check_length(s, limit, key);
    return s;
}

std::string trimmed_id(const Value& obj, const std::string& path, std::size_t limit) {
    auto id = required_text(obj, "id", path + ".id");
    check_length(id, limit, path + ".id");
    if (id.front() == ' ' || id.back() == ' ') refuse(path + ".id", "must not start or end with a space");
    return id;
}

ButtonsJob parse_buttons(const Value& job) {
    ButtonsJob b;
    b.body_text = required_text(job, "body_text", "body_text");
    check_length(b.body_text, 1024, "body_text");
    b.header_text = optional_text(job, "header", "header_text", 60);
    b.footer_text = optional_text(job, "footer", "footer_text", 60);
    const auto& buttons = array_field(job, "buttons", "buttons");
    if (buttons.Empty() || buttons.Size() > 3) refuse("buttons", "must hold 1 to 3 buttons, not " + std::to_string(buttons.Size()));
    std::set<std::string> ids, titles;
    for (rapidjson::SizeType i = 0; i < buttons.Size(); ++i) {
        const auto path = "buttons[" + std::to_string(i) + "]";
        if (!buttons[i].IsObject()) refuse(path, "must be an object with id and title");
        ReplyButton button{trimmed_id(buttons[i], path, 256), required_text(buttons[i], "title", path + ".title")};
        check_length(button.title, 20, path + ".title");
        if (!ids.insert(button.id).second) refuse(path + ".id", "'" + button.id + "' is used by another button");
        if (!titles.insert(button.title).second) refuse(path + ".title", "'" + button.title + "' is used by another button");
        b.buttons.push_back(std::move(button));
    }
    return b;
}

ListJob parse_list(const Value& job) {
    ListJob l;
    l.body_text = required_text(job, "body_text", "body_text");
    check_length(l.body_text, 1024, "body_text");
    l.button_text = required_text(job, "button_text", "button_text");
    check_length(l.button_text, 20, "button_text");
    l.header_text = optional_text(job, "header", "header_text", 60);
    l.footer_text = optional_text(job, "footer", "footer_text", 60);
    const auto& sections = array_field(job, "sections", "sections");
    if (sections.Empty() || sections.Size() > 10) refuse("sections", "must hold 1 to 10 sections, not " + std::to_string(sections.Size()));
    std::set<std::string> ids;
    std::size_t total_rows = 0;
    for (rapidjson::SizeType i = 0; i < sections.Size(); ++i) {
        const auto path = "sections[" + std::to_string(i) + "]";
        if (!sections[i].IsObject()) refuse(path, "must be an object with title and rows");
        ListSection section;
        section.title = string_field(sections[i], "title", path + ".title", sections.Size() > 1);
        if (sections.Size() > 1 && section.title.empty()) refuse(path + ".title", "is required when there are several sections");
        check_length(section.title, 24, path + ".title");
        const auto& rows = array_field(sections[i], "rows", path + ".rows");
        if (rows.Empty()) refuse(path + ".rows", "must hold at least one row");
        for (rapidjson::SizeType j = 0; j < rows.Size(); ++j) {
            const auto rpath = path + ".rows[" + std::to_string(j) + "]";
            if (!rows[j].IsObject()) refuse(rpath, "must be an object with id and title");
            ListRow row{trimmed_id(rows[j], rpath, 200), required_text(rows[j], "title", rpath + ".title"),
                        string_field(rows[j], "description", rpath + ".description", false)};
            check_length(row.title, 24, rpath + ".title");
            check_length(row.description, 72, rpath + ".description");
            if (!ids.insert(row.id).second) refuse(rpath + ".id", "'" + row.id + "' is used by another row");
            section.rows.push_back(std::move(row));
            if (++total_rows > 10) refuse(rpath, "a list holds at most 10 rows in all its sections");
        }
        l.sections.push_back(std::move(section));
    }
    return l;
}

LocationJob parse_location(const Value& job) {
    LocationJob l;
    l.latitude = number_field(job, "latitude", "latitude");
    l.longitude = number_field(job, "longitude", "longitude");
    if (!(l.latitude >= -90 && l.latitude <= 90)) refuse("latitude", "must be between -90 and 90");
    if (!(l.longitude >= -180 && l.longitude <= 180)) refuse("longitude", "must be between -180 and 180");
    l.name = string_field(job, "name", "name", false);
    l.address = string_field(job, "address", "address", false);
    check_length(l.name, 1000, "name");
    check_length(l.address, 1000, "address");
    return l;
}

ReactionJob parse_reaction(const Value& job) {
    ReactionJob r;
    r.target_message_id = required_text(job, "target_message_id", "target_message_id");
    r.emoji = string_field(job, "emoji", "emoji", true);
    // One emoji, possibly built from several code points (skin tones, ZWJ sequences).
    const bool has_ascii = std::any_of(r.emoji.begin(), r.emoji.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
    if (!r.emoji.empty() && (has_ascii || count_characters(r.emoji) > 10)) {
        refuse("emoji", "must be a single emoji, or \"\" to remove the reaction");
    }
    return r;
}

ReadJob parse_read(const Value& job) {
    ReadJob r;
    r.target_message_id = required_text(job, "target_message_id", "target_message_id");
    if (const Value* t = find(job, "typing")) {
        if (!t->IsBool()) refuse("typing", "must be true or false");
        r.typing = t->GetBool();
    }
    return r;
}

OutboundJob parse_object(const Value& job) {
    if (!job.IsObject()) refuse("", "a job must be a JSON object");
    OutboundJob out;
    out.type = required_text(job, "type", "type");
    out.message_id = string_field(job, "message_id", "message_id", false);
    if (out.message_id.size() > 200) refuse("message_id", "must be at most 200 characters");
    if (std::any_of(out.message_id.begin(), out.message_id.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; })) {
        refuse("message_id", "must not contain control characters");
    }
    out.tenant = string_field(job, "tenant", "tenant", false);
    if (out.tenant.empty()) out.tenant = string_field(job, "workspace_id", "workspace_id", false);
    if (out.tenant.empty()) refuse("tenant", "is required (or its alias workspace_id)");
    out.phone_number_id = string_field(job, "phone_number_id", "phone_number_id", false);
    out.reply_to = string_field(job, "reply_to", "reply_to", false);
    if (out.type != "mark_as_read") out.to_number = normalise_number(required_text(job, "to_number", "to_number"));
    if (out.type == "text_message") out.content = parse_text(job);
    else if (out.type == "template_message") out.content = parse_template(job);
    else if (out.type == "media_message") out.content = parse_media(job);
    else if (out.type == "interactive_buttons") out.content = parse_buttons(job);
    else if (out.type == "interactive_list") out.content = parse_list(job);
    else if (out.type == "location_message") out.content = parse_location(job);
    else if (out.type == "reaction_message") out.content = parse_reaction(job);
    else if (out.type == "mark_as_read") out.content = parse_read(job);
    else {
        refuse("type", "'" + out.type + "' is not a job type (text_message, template_message, media_message, "
                       "interactive_buttons, interactive_list, location_message, reaction_message, mark_as_read)");
    }
    return out;
}

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void key_string(Writer& w, const char* key, const std::string& value) {
    w.Key(key);
    w.String(value.c_str(), static_cast<rapidjson::SizeType>(value.size()));
}

void text_object(Writer& w, const char* key, const std::string& text) {
    w.Key(key);
    w.StartObject();
    if (std::string_view(key) == "header") key_string(w, "type", "text");
    key_string(w, "text", text);
    w.EndObject();
}

void write_content(Writer& w, const TextJob& t) {
    key_string(w, "type", "text");
    w.Key("text");
    w.StartObject();
    if (t.preview_url) {
        w.Key("preview_url");
        w.Bool(*t.preview_url);
    }
    key_string(w, "body", t.body);
    w.EndObject();
}

void write_content(Writer& w, const TemplateJob& t) {
    key_string(w, "type", "template");
    w.Key("template");
    w.StartObject();
    key_string(w, "name", t.name);
    w.Key("language");
    w.StartObject();
    key_string(w, "code", t.language_code);
    w.EndObject();
    if (!t.components_json.empty()) {
        w.Key("components");
        w.RawValue(t.components_json.c_str(), t.components_json.size(), rapidjson::kArrayType);
    }
    w.EndObject();
}

void write_content(Writer& w, const MediaJob& m) {
    key_string(w, "type", m.media_type);
    w.Key(m.media_type.c_str());
    w.StartObject();
    if (!m.link.empty()) key_string(w, "link", m.link);
    if (!m.id.empty()) key_string(w, "id", m.id);
    if (!m.caption.empty()) key_string(w, "caption", m.caption);
    if (!m.filename.empty()) key_string(w, "filename", m.filename);
    w.EndObject();
}

void write_content(Writer& w, const ButtonsJob& b) {
    key_string(w, "type", "interactive");
    w.Key("interactive");
    w.StartObject();
    key_string(w, "type", "button");
    if (!b.header_text.empty()) text_object(w, "header", b.header_text);
    text_object(w, "body", b.body_text);
    if (!b.footer_text.empty()) text_object(w, "footer", b.footer_text);
    w.Key("action");
    w.StartObject();
    w.Key("buttons");
    w.StartArray();
    for (const auto& button : b.buttons) {
        w.StartObject();
        key_string(w, "type", "reply");
        w.Key("reply");
        w.StartObject();
        key_string(w, "id", button.id);
        key_string(w, "title", button.title);
        w.EndObject();
        w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    w.EndObject();
}

void write_content(Writer& w, const ListJob& l) {
    key_string(w, "type", "interactive");
    w.Key("interactive");
    w.StartObject();
    key_string(w, "type", "list");
    if (!l.header_text.empty()) text_object(w, "header", l.header_text);
    text_object(w, "body", l.body_text);
    if (!l.footer_text.empty()) text_object(w, "footer", l.footer_text);
    w.Key("action");
    w.StartObject();
    key_string(w, "button", l.button_text);
    w.Key("sections");
    w.StartArray();
    for (const auto& section : l.sections) {
        w.StartObject();
        if (!section.title.empty()) key_string(w, "title", section.title);
        w.Key("rows");
        w.StartArray();
        for (const auto& row : section.rows) {
            w.StartObject();
            key_string(w, "id", row.id);
            key_string(w, "title", row.title);
            if (!row.description.empty()) key_string(w, "description", row.description);
            w.EndObject();
        }
        w.EndArray();
        w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    w.EndObject();
}

void write_content(Writer& w, const LocationJob& l) {
    key_string(w, "type", "location");
    w.Key("location");
    w.StartObject();
    w.Key("latitude");
    w.Double(l.latitude);
    w.Key("longitude");
    w.Double(l.longitude);
    if (!l.name.empty()) key_string(w, "name", l.name);
    if (!l.address.empty()) key_string(w, "address", l.address);
    w.EndObject();
}

void write_content(Writer& w, const ReactionJob& r) {
    key_string(w, "type", "reaction");
    w.Key("reaction");
    w.StartObject();
    key_string(w, "message_id", r.target_message_id);
    key_string(w, "emoji", r.emoji);
    w.EndObject();
}

}  // namespace

std::size_t count_characters(std::string_view utf8) {
    return static_cast<std::size_t>(
        std::count_if(utf8.begin(), utf8.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

JobResult parse_job(std::string_view json) {
    wappa::json::ArenaDocument arena;
    auto& doc = *arena;
    doc.Parse(json.data(), json.size());
    if (doc.HasParseError()) {
        return JobError{"", std::string("invalid JSON at byte ") + std::to_string(doc.GetErrorOffset()) + ": " +
                                rapidjson::GetParseError_En(doc.GetParseError())};
    }
    try {
        return parse_object(doc);
    } catch (const Refusal& r) {
        return r.error;
    }
}

std::string build_graph_body(const OutboundJob& job, std::string_view callback_data) {
    rapidjson::StringBuffer buffer;
    Writer w(buffer);
    w.StartObject();
    key_string(w, "messaging_product", "whatsapp");
    if (const auto* read = std::get_if<ReadJob>(&job.content)) {
        key_string(w, "status", "read");
        key_string(w, "message_id", read->target_message_id);
        if (read->typing) {
            w.Key("typing_indicator");
            w.StartObject();
            key_string(w, "type", "text");
            w.EndObject();
        }
        w.EndObject();
        return std::string(buffer.GetString(), buffer.GetSize());
    }
    key_string(w, "recipient_type", "individual");
    key_string(w, "to", job.to_number);
    if (!job.reply_to.empty()) {
        w.Key("context");
        w.StartObject();
        key_string(w, "message_id", job.reply_to);
        w.EndObject();
    }
    std::visit([&](const auto& content) {
        if constexpr (!std::is_same_v<std::decay_t<decltype(content)>, ReadJob>) write_content(w, content);
    }, job.content);
    if (!callback_data.empty()) {
        w.Key("biz_opaque_callback_data");
        w.String(callback_data.data(), static_cast<rapidjson::SizeType>(callback_data.size()));
    }
    w.EndObject();
    return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace wappa::whatsapp
