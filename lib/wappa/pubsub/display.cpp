#include "wappa/pubsub/display.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "wappa/core/json.hpp"
#include "wappa/core/time.hpp"

namespace wappa::pubsub {
namespace {

std::string compact(const rapidjson::Value& v) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    v.Accept(writer);
    return std::string(buffer.GetString(), buffer.GetSize());
}

std::string scalar(const rapidjson::Value& v) {
    if (v.IsString()) return std::string(v.GetString(), v.GetStringLength());
    return compact(v);
}

std::string get(const rapidjson::Value& obj, const char* key) {
    const auto it = obj.FindMember(key);
    return it == obj.MemberEnd() ? std::string{} : scalar(it->value);
}

std::string paint(bool color, const char* code, std::string_view text) {
    if (!color) return std::string(text);
    return std::string("\x1b[") + code + "m" + std::string(text) + "\x1b[0m";
}

}  // namespace

std::string ndjson_line(std::string_view channel, std::string_view payload) {
    rapidjson::Document doc;
    doc.Parse(payload.data(), payload.size());
    if (!doc.HasParseError()) {
        if (payload.find('\n') == std::string_view::npos) return std::string(payload);
        return compact(doc);
    }
    std::string out = "{\"channel\":";
    json::append_string(out, channel);
    out += ",\"message\":";
    json::append_string(out, payload);
    out += '}';
    return out;
}

std::string pretty_line(std::string_view channel, std::string_view payload, bool color) {
    const auto clock = now_utc().substr(11, 8);
    rapidjson::Document doc;
    doc.Parse(payload.data(), payload.size());
    if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("event")) {
        return paint(color, "2", clock) + " " + paint(color, "36", channel) + " " +
               (doc.HasParseError() ? std::string(payload) : compact(doc));
    }
    const auto event = get(doc, "event");
    const char* event_color = event == "incoming_message" ? "32" : event == "status_change" ? "33" : "35";
    std::string line = paint(color, "2", clock) + " " + paint(color, event_color, event) + " " +
                       paint(color, "1", get(doc, "tenant") + "/" + get(doc, "user_id"));
    const auto data = doc.FindMember("data");
    if (data != doc.MemberEnd() && data->value.IsObject()) {
        for (const auto& field : data->value.GetObject()) {
            line += " ";
            line += paint(color, "2", std::string(field.name.GetString(), field.name.GetStringLength()) + "=");
            line += scalar(field.value);
        }
    }
    return line;
}

}  // namespace wappa::pubsub
