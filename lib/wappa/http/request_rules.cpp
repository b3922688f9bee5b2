#include "wappa/http/request_rules.hpp"

#include <iterator>

namespace wappa::http {

void apply_limits(RequestParser& parser, std::uint64_t body_limit) {
    parser.body_limit(body_limit);
    parser.header_limit(max_header_bytes);
}

std::optional<Refusal> refusal_for_read_error(const boost::system::error_code& ec, std::uint64_t body_limit) {
    if (ec == bhttp::error::body_limit) {
        return Refusal{413, "request body exceeds server.body_limit (" + std::to_string(body_limit) + " bytes)"};
    }
    if (ec == bhttp::error::header_limit) {
        return Refusal{431, "request header fields exceed " + std::to_string(max_header_bytes) + " bytes"};
    }
    if (ec && ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category() &&
        ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
        return Refusal{400, "malformed HTTP request: " + ec.message()};
    }
    return std::nullopt;
}

std::optional<Refusal> refusal_for(const BeastRequest& request) {
    // RFC 9112 6.1: a request's Transfer-Encoding must end with chunked, or its length is unknowable.
    if (request.count(bhttp::field::transfer_encoding) > 0 && !request.chunked()) {
        return Refusal{400, "Transfer-Encoding must end with chunked"};
    }
    if (request.target().size() > max_target_bytes) {
        return Refusal{414, "request target over " + std::to_string(max_target_bytes) + " bytes"};
    }
    if (static_cast<std::size_t>(std::distance(request.begin(), request.end())) > max_header_fields) {
        return Refusal{431, "more than " + std::to_string(max_header_fields) + " header fields"};
    }
    return std::nullopt;
}

Request to_request(BeastRequest& in) {
    Request out;
    out.method = std::string(in.method_string());
    out.target = std::string(in.target());
    const auto q = out.target.find('?');
    out.path = percent_decode(std::string_view(out.target).substr(0, q), false);
    if (q != std::string::npos) out.query = out.target.substr(q + 1);
    out.headers.reserve(8);
    for (const auto& field : in) out.headers.emplace_back(field.name_string(), field.value());
    out.body = std::move(in.body());
    return out;
}

}  // namespace wappa::http
