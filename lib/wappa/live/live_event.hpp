#pragma once
// One logged notification ready for live clients: rendered once, as an SSE block and as a
// WebSocket frame, and shared by every client that receives it.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "wappa/pubsub/event_log.hpp"

namespace wappa::live {

struct LiveEvent {
    pubsub::EventId id;
    std::string tenant, user, event;
    std::string sse;         // "id: ..\nevent: ..\ndata: ..\n\n"
    std::string websocket;   // a whole text frame: the payload with "id" added
};

std::shared_ptr<const LiveEvent> make_live_event(const pubsub::LoggedEvent& logged, std::string_view prefix);

// The JSON text a WebSocket client receives: the payload with "id" first when it is an object,
// else {"id":..,"channel":..,"data":<payload>}.
std::string websocket_text(const pubsub::LoggedEvent& logged);

// What a client asked to see. Empty lists match everything.
struct Filter {
    std::vector<std::string> tenants;
    std::vector<std::string> users;
    std::vector<std::string> events;
    bool matches(const LiveEvent& e) const;
};

// "a,b,c" → {"a","b","c"} (empty items dropped).
std::vector<std::string> split_list(std::string_view text);

}  // namespace wappa::live
