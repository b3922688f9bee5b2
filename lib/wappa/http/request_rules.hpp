#pragma once
// What serve accepts from a client before any handler runs, and the Request a handler sees: one
// place for the limits, shared by the server's read loop and the HTTP fuzz target.
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <cstdint>
#include <optional>
#include <string>

#include "wappa/http/message.hpp"

namespace wappa::http {

namespace bhttp = boost::beast::http;
using BeastRequest = bhttp::request<bhttp::string_body>;
using RequestParser = bhttp::request_parser<bhttp::string_body>;

inline constexpr std::uint32_t max_header_bytes = 64 * 1024;   // request line and header fields together
inline constexpr std::size_t max_target_bytes = 8 * 1024;
inline constexpr std::size_t max_header_fields = 100;

// The answer to a request refused before its handler, after which the connection is closed.
struct Refusal {
    int status;
    std::string message;
};

void apply_limits(RequestParser& parser, std::uint64_t body_limit);
// Reading failed on what the client sent (413, 431, 400); nullopt when the connection was
// closed, timed out or cancelled: there is no one to answer.
std::optional<Refusal> refusal_for_read_error(const boost::system::error_code& ec, std::uint64_t body_limit);
// A whole request that is still refused: an ambiguous length (smuggling), a target or a header
// count over the limits.
std::optional<Refusal> refusal_for(const BeastRequest& request);
// `in` must outlive the Request: its headers are views into it.
Request to_request(BeastRequest& in);

}  // namespace wappa::http
