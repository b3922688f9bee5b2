#include "wappa/graph/transport.hpp"

#include "wappa/graph/http_transport.hpp"
#include "wappa/graph/sandbox.hpp"

#include <rapidjson/document.h>

#include <optional>

namespace wappa::graph {
namespace {

using Kind = SendOutcome::Kind;
using Scope = SendOutcome::Scope;

std::optional<Scope> rate_limit_scope(std::int64_t code) {
    switch (code) {
        case 131056: return Scope::pair;
        case 130429: case 131048: return Scope::sender;
        case 80007: case 4: case 368: return Scope::tenant;
        default: return std::nullopt;
    }
}
bool is_transient(std::int64_t code) { return code == 1 || code == 2 || code == 131000 || code == 131016 || code == 133004 || code == 131057; }
bool is_auth(std::int64_t code) { return code == 190 || code == 0; }

}  // namespace

SendOutcome classify(int http_status, std::string_view body, config::Duration retry_after) {
    SendOutcome out;
    out.retry_after = retry_after;
    rapidjson::Document doc;
    doc.Parse(body.data(), body.size());
    const bool json = !doc.HasParseError() && doc.IsObject();
    if (http_status == 200) {
        if (json) {
            const auto messages = doc.FindMember("messages");
            if (messages != doc.MemberEnd() && messages->value.IsArray() && !messages->value.Empty() &&
                messages->value[0].IsObject() && messages->value[0].HasMember("id") && messages->value[0]["id"].IsString()) {
                out.kind = Kind::sent;
                out.wamid = messages->value[0]["id"].GetString();
                return out;
            }
            const auto success = doc.FindMember("success");
            if (success != doc.MemberEnd() && success->value.IsBool() && success->value.GetBool()) {
                out.kind = Kind::sent;   // mark_as_read answers {"success": true}
                return out;
            }
        }
        // Accepted, but the answer says nothing usable: the message may well be on its way.
        out.kind = Kind::ambiguous;
        out.code = 200;
        out.error = "HTTP 200 without a message id in the answer";
        return out;
    }
    out.code = http_status;
    out.error = "HTTP " + std::to_string(http_status);
    bool transient_flag = false, has_code = false;
    if (json) {
        const auto error = doc.FindMember("error");
        if (error != doc.MemberEnd() && error->value.IsObject()) {
            const auto& e = error->value;
            if (e.HasMember("code") && e["code"].IsInt64()) out.code = e["code"].GetInt64(), has_code = true;
            if (e.HasMember("message") && e["message"].IsString()) out.error = e["message"].GetString();
            if (e.HasMember("is_transient") && e["is_transient"].IsBool()) transient_flag = e["is_transient"].GetBool();
        }
    }
    if (http_status == 401 || (has_code && is_auth(out.code))) {
        out.kind = Kind::auth;
    } else if (const auto scope = rate_limit_scope(out.code)) {
        out.kind = Kind::rate_limited;
        out.scope = *scope;
    } else if (http_status == 429 && !has_code) {
        out.kind = Kind::rate_limited;
    } else if (is_transient(out.code) || transient_flag || (http_status >= 500 && !has_code)) {
        out.kind = Kind::transient;
    } else {
        out.kind = Kind::permanent;
    }
    return out;
}

std::unique_ptr<Transport> make_transport(net::any_io_executor executor, const TransportSettings& settings, std::string& error) {
    if (settings.base_url == "sandbox") return make_sandbox(std::move(executor), settings);
    auto endpoint = parse_base_url(settings.base_url);
    if (!endpoint) {
        error = "graph.base_url: " + endpoint.error().message;
        return nullptr;
    }
    return make_http_transport(std::move(executor), settings, *endpoint, error);
}

}  // namespace wappa::graph
