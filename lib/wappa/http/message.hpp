#pragma once
// Requests and responses as the application sees them; Beast stays inside the server.
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wappa::http {

class Upgrade;   // http/upgrade.hpp

struct Request {
    std::string method;
    std::string target;   // path + query, as received
    std::string path;     // percent-decoded
    std::string query;    // raw, without '?'
    // Views into the received message, valid while the handler runs.
    std::vector<std::pair<std::string_view, std::string_view>> headers;
    std::string body;

    // Case-insensitive header lookup; empty when absent.
    std::string_view header(std::string_view name) const;
    // Decoded query parameter; empty when absent.
    std::string query_param(std::string_view name) const;
};

struct Response {
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
    // Set: the server writes nothing and hands the connection to it (SSE, WebSocket).
    std::shared_ptr<Upgrade> upgrade;

    static Response json(int status, std::string body);
    static Response text(int status, std::string body);
    // {"error": message} with the given status.
    static Response error(int status, std::string_view message);
};

std::string percent_decode(std::string_view s, bool plus_is_space);

}  // namespace wappa::http
