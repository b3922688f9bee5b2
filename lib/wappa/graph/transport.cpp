#include "wappa/graph/transport.hpp"

#include "wappa/graph/http_transport.hpp"
#include "wappa/graph/sandbox.hpp"

#include <rapidjson/document.h>

namespace wappa::graph {
namespace {

bool is_rate_limit(std::int64_t code) { return code == 4 || code == 80007 || code == 130429 || code == 131048 || code == 131056; }
bool is_transient(std::int64_t code) { return code == 1 || code == 2 || code == 131000 || code == 131016 || code == 133004 || code == 131057; }

}  // namespace

SendOutcome classify(int http_status, std::string_view body, config::Duration retry_after) {
    SendOutcome out;
    out.retry_after = retry_after;
    rapidjson::Document doc;
    doc.Parse(body.data(), body.size());
    const bool json = !doc.HasParseError() && doc.IsObject();
    if (http_status == 200 && json) {
        const auto messages = doc.FindMember("messages");
        if (messages != doc.MemberEnd() && messages->value.IsArray() && !messages->value.Empty() &&
            messages->value[0].HasMember("id") && messages->value[0]["id"].IsString()) {
            out.kind = SendOutcome::Kind::sent;
            out.wamid = messages->value[0]["id"].GetString();
            return out;
        }
        const auto success = doc.FindMember("success");
        if (success != doc.MemberEnd() && success->value.IsBool() && success->value.GetBool()) {
            out.kind = SendOutcome::Kind::sent;   // mark_as_read answers {"success": true}
            return out;
        }
    }
    out.code = http_status;
    out.error = "HTTP " + std::to_string(http_status);
    bool transient_flag = false;
    if (json) {
        const auto error = doc.FindMember("error");
        if (error != doc.MemberEnd() && error->value.IsObject()) {
            const auto& e = error->value;
            if (e.HasMember("code") && e["code"].IsInt64()) out.code = e["code"].GetInt64();
            if (e.HasMember("message") && e["message"].IsString()) out.error = e["message"].GetString();
            if (e.HasMember("is_transient") && e["is_transient"].IsBool()) transient_flag = e["is_transient"].GetBool();
        }
    }
    if (is_rate_limit(out.code) || (http_status == 429 && out.code == 429)) out.kind = SendOutcome::Kind::rate_limited;
    else if (is_transient(out.code) || transient_flag || (http_status >= 500 && out.code == http_status)) out.kind = SendOutcome::Kind::transient;
    else out.kind = SendOutcome::Kind::permanent;
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
