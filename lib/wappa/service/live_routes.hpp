#pragma once
// GET /api/v1/events (Server-Sent Events) and GET /api/v1/ws (WebSocket): who is asking
// (Bearer token or ?access_token=), what they want to see (?tenant= for the admin token,
// ?user=, ?event=, comma-separated) and from where (Last-Event-ID or ?last_event_id=); then the
// loop's hub takes the connection.
#include "wappa/config/config.hpp"
#include "wappa/http/message.hpp"

namespace wappa::live {
class Hub;
}

namespace wappa::service {

http::Response live_events(const config::Config& config, live::Hub& hub, const http::Request& request, bool websocket);

}  // namespace wappa::service
