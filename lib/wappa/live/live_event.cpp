#include "wappa/live/live_event.hpp"

#include <algorithm>

#include "wappa/core/json.hpp"
#include "wappa/live/websocket.hpp"

namespace wappa::live {
namespace {

bool listed(const std::vector<std::string>& list, const std::string& value) {
    return list.empty() || std::find(list.begin(), list.end(), value) != list.end();
}

}  // namespace

std::string websocket_text(const pubsub::LoggedEvent& logged) {
    const auto& p = logged.payload;
    const auto open = p.find_first_not_of(" \t\r\n");
    std::string text;
    text.reserve(p.size() + 32);
    if (open != std::string::npos && p[open] == '{') {
        text = "{\"id\":\"" + logged.id.str() + "\"";
        const auto body = p.find_first_not_of(" \t\r\n", open + 1);
        if (body != std::string::npos && p[body] != '}') text += ',';
        text.append(p, open + 1, std::string::npos);
    } else {
        text = "{\"id\":\"" + logged.id.str() + "\",\"channel\":" + json::quote(logged.channel) + ",\"data\":" +
               (p.empty() ? std::string("null") : p) + "}";
    }
    return text;
}

std::shared_ptr<const LiveEvent> make_live_event(const pubsub::LoggedEvent& logged, std::string_view prefix) {
    auto e = std::make_shared<LiveEvent>();
    e->id = logged.id;
    e->tenant = logged.tenant;
    if (auto parts = pubsub::parse_channel(prefix, logged.channel)) {
        e->user = std::move(parts->user);
        e->event = std::move(parts->event);
    }
    const auto id = logged.id.str();
    e->sse.reserve(logged.payload.size() + id.size() + e->event.size() + 32);
    e->sse.append("id: ").append(id).append("\nevent: ").append(e->event.empty() ? "message" : e->event).append("\n");
    std::size_t start = 0;
    for (;;) {   // a payload spanning lines becomes one data: line each
        const auto end = logged.payload.find('\n', start);
        e->sse.append("data: ").append(logged.payload, start, end == std::string::npos ? std::string::npos : end - start).append("\n");
        if (end == std::string::npos) break;
        start = end + 1;
    }
    e->sse.append("\n");
    e->websocket = websocket_frame(Opcode::text, websocket_text(logged));
    return e;
}

bool Filter::matches(const LiveEvent& e) const { return listed(tenants, e.tenant) && listed(users, e.user) && listed(events, e.event); }

std::vector<std::string> split_list(std::string_view text) {
    std::vector<std::string> out;
    while (!text.empty()) {
        const auto comma = text.find(',');
        auto item = text.substr(0, comma);
        if (!item.empty() && item != "*") out.emplace_back(item);
        if (comma == std::string_view::npos) break;
        text.remove_prefix(comma + 1);
    }
    return out;
}

}  // namespace wappa::live
