#include "wappa/service/outbound_admin.hpp"

#include <rapidjson/document.h>

#include <chrono>
#include <map>
#include <set>

#include "wappa/core/json.hpp"
#include "wappa/service/api_auth.hpp"

namespace wappa::service {
namespace {

using Figures = std::map<std::string, std::int64_t>;

// The counters hash holds "sent" and "sent:<tenant>": split into totals and per tenant.
void split_counters(const queue::QueueStats& stats, Figures& totals, std::map<std::string, Figures>& by_tenant) {
    for (const auto& [key, value] : stats.counters) {
        if (key == "sent_latency_ms") continue;   // shown as a mean, not a count
        const auto colon = key.find(':');
        if (colon == std::string::npos) totals[key] = value;
        else by_tenant[key.substr(colon + 1)][key.substr(0, colon)] = value;
    }
}

void append_figures(std::string& out, const Figures& figures) {
    out += '{';
    bool first = true;
    for (const auto& [k, v] : figures) {
        if (!first) out += ',';
        json::append_string(out, k);
        out += ':';
        out += std::to_string(v);
        first = false;
    }
    out += '}';
}

void append_tenants(std::string& out, const std::map<std::string, Figures>& by_tenant, std::string_view only_tenant) {
    out += '{';
    bool first = true;
    for (const auto& [tenant, figures] : by_tenant) {
        if (!only_tenant.empty() && tenant != only_tenant) continue;
        if (!first) out += ',';
        json::append_string(out, tenant);
        out += ':';
        append_figures(out, figures);
        first = false;
    }
    out += '}';
}

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

std::int64_t mean_send_latency_ms(const queue::QueueStats& s) {
    const auto sum = s.counters.find("sent_latency_ms");
    const auto sent = s.counters.find("sent");
    if (sum == s.counters.end() || sent == s.counters.end() || sent->second == 0) return 0;
    return sum->second / sent->second;
}

std::string stats_json(const queue::QueueStats& s, std::string_view only_tenant) {
    Figures totals;
    std::map<std::string, Figures> by_tenant;
    split_counters(s, totals, by_tenant);
    std::string out = "{";
    if (only_tenant.empty()) {
        out += "\"outbound\":{\"queued\":" + std::to_string(s.queued) + ",\"delayed\":" + std::to_string(s.delayed) +
               ",\"in_flight\":" + std::to_string(s.in_flight) + ",\"failed\":" + std::to_string(s.failed) +
               ",\"mean_queue_to_sent_ms\":" + std::to_string(mean_send_latency_ms(s)) + "},\"totals\":";
        append_figures(out, totals);
    } else {
        out += "\"tenant\":" + json::quote(only_tenant) + ",\"totals\":";
        append_figures(out, by_tenant[std::string(only_tenant)]);
    }
    out += ",\"by_tenant\":";
    append_tenants(out, by_tenant, only_tenant);
    return out + "}";
}

std::string message_stats_json(const queue::QueueStats& s, std::string_view only_tenant) {
    Figures totals;
    std::map<std::string, Figures> by_tenant;
    split_counters(s, totals, by_tenant);
    std::string out = "{\"by_status\":";
    if (only_tenant.empty()) {
        // Where each message is now (queued, delayed, sending, failed), and how many reached
        // Meta and the user since the counters began (sent, delivered, read).
        Figures by_status{{"queued", s.queued}, {"delayed", s.delayed}, {"sending", s.in_flight}, {"failed", s.failed}};
        for (const char* k : {"sent", "delivered", "read"}) by_status[k] = totals.count(k) ? totals[k] : 0;
        append_figures(out, by_status);
    } else {
        Figures mine = by_tenant[std::string(only_tenant)];
        Figures by_status;
        for (const char* k : {"queued", "sent", "delivered", "read", "failed"}) by_status[k] = mine.count(k) ? mine[k] : 0;
        append_figures(out, by_status);
    }
    out += ",\"by_tenant\":";
    append_tenants(out, by_tenant, only_tenant);
    return out + "}";
}

Task<Result<std::vector<std::string>>> requeue_selected(queue::OutboundQueue& queue, const RequeueSelection& selection,
                                                        const Progress& progress) {
    auto failed = co_await queue.failed(selection.failed_from_ms, selection.failed_to_ms);
    if (!failed) co_return failed.error();
    const std::set<std::string> wanted(selection.ids.begin(), selection.ids.end());
    std::vector<std::string> selected;
    for (const auto& m : failed.value()) {
        if (!wanted.empty() && !wanted.count(m.message_id)) continue;
        if (!selection.tenant.empty() && m.tenant != selection.tenant) continue;
        if (selection.error_code && m.error_code != *selection.error_code) continue;
        selected.push_back(m.message_id);
    }
    std::vector<std::string> moved;
    constexpr std::size_t batch_size = 500;
    for (std::size_t i = 0; i < selected.size(); i += batch_size) {
        const auto end = std::min(selected.size(), i + batch_size);
        const std::vector<std::string> batch(selected.begin() + static_cast<long>(i), selected.begin() + static_cast<long>(end));
        auto result = co_await queue.requeue(batch, selection.dry_run);
        if (!result) co_return result.error();
        moved.insert(moved.end(), result->begin(), result->end());
        if (progress) progress(end, selected.size());
    }
    co_return moved;
}

std::string requeue_json(const std::vector<std::string>& moved, bool dry_run) {
    std::string out = "{\"requeued\":" + std::to_string(moved.size()) + ",\"dry_run\":" + (dry_run ? "true" : "false") +
                      ",\"message_ids\":[";
    for (std::size_t i = 0; i < moved.size(); ++i) {
        if (i > 0) out += ',';
        json::append_string(out, moved[i]);
    }
    return out + "]}";
}

Result<RequeueSelection> parse_requeue_request(std::string_view text, std::int64_t now) {
    rapidjson::Document doc;
    doc.Parse(text.data(), text.size());
    if (doc.HasParseError() || !doc.IsObject()) return Error{"the body must be a JSON object"};
    RequeueSelection s;
    bool named = false;
    for (const char* key : {"id", "ids"}) {
        if (!doc.HasMember(key)) continue;
        const auto& v = doc[key];
        if (v.IsString()) s.ids.emplace_back(v.GetString());
        else if (v.IsArray()) {
            for (const auto& e : v.GetArray()) {
                if (!e.IsString()) return Error{std::string(key) + ": must hold message id strings"};
                s.ids.emplace_back(e.GetString());
            }
        } else return Error{std::string(key) + ": must be a message id or an array of them"};
        named = true;
    }
    if (doc.HasMember("all")) {
        if (!doc["all"].IsBool()) return Error{"all: must be true or false"};
        named = named || doc["all"].GetBool();
    }
    if (doc.HasMember("tenant")) {
        if (!doc["tenant"].IsString()) return Error{"tenant: must be a string"};
        s.tenant = doc["tenant"].GetString();
        named = true;
    }
    if (doc.HasMember("error_code")) {
        if (!doc["error_code"].IsInt64()) return Error{"error_code: must be a whole number"};
        s.error_code = doc["error_code"].GetInt64();
        named = true;
    }
    for (const char* key : {"older_than", "newer_than"}) {
        if (!doc.HasMember(key)) continue;
        const auto& v = doc[key];
        Result<config::Duration> d = Error{"must be a duration (seconds, or \"30s\", \"5m\", \"1h\")"};
        if (v.IsString()) d = config::parse_duration(v.GetString());
        else if (v.IsNumber()) d = config::Duration(static_cast<std::int64_t>(v.GetDouble() * 1000));
        if (!d) return Error{std::string(key) + ": " + d.error().message};
        (std::string_view(key) == "older_than" ? s.failed_to_ms : s.failed_from_ms) = now - d->count();
        named = true;
    }
    if (doc.HasMember("dry_run")) {
        if (!doc["dry_run"].IsBool()) return Error{"dry_run: must be true or false"};
        s.dry_run = doc["dry_run"].GetBool();
    }
    if (!named) return Error{"say which messages: ids, all, tenant, error_code, older_than or newer_than"};
    return s;
}

bool AdminApi::handles(std::string_view path) const {
    return path == "/api/admin/queues/stats" || path == "/api/admin/messages/stats" || path == "/api/admin/messages/requeue" ||
           (path.starts_with("/api/admin/messages/") && path.size() > std::string_view("/api/admin/messages/").size());
}

Task<http::Response> AdminApi::handle(const http::Request& request) {
    const auto caller = authenticate(config_, request);
    if (!caller) co_return http::Response::error(401, "missing or unknown Bearer token (admin_token, or a tenant's api_token)");
    // A tenant's token sees its own tenant only.
    const std::string_view own = caller->admin ? std::string_view{} : std::string_view(caller->tenant->id);
    const std::string_view path = request.path;
    const bool post = path == "/api/admin/messages/requeue";
    if (request.method != (post ? "POST" : "GET")) co_return http::Response::error(405, "use " + std::string(post ? "POST" : "GET") + " on " + std::string(path));

    if (path == "/api/admin/queues/stats" || path == "/api/admin/messages/stats") {
        auto stats = co_await queue_.stats();
        if (!stats) co_return http::Response::error(503, "redis: " + stats.error().message);
        co_return http::Response::json(200, path == "/api/admin/queues/stats" ? stats_json(*stats, own) : message_stats_json(*stats, own));
    }
    if (post) {
        auto selection = parse_requeue_request(request.body, now_ms());
        if (!selection) co_return http::Response::error(400, selection.error().message);
        if (!own.empty()) {
            if (!selection->tenant.empty() && selection->tenant != own) {
                co_return http::Response::error(403, "this token may only requeue tenant '" + std::string(own) + "' messages");
            }
            selection->tenant = std::string(own);
        }
        const Progress none;
        auto moved = co_await requeue_selected(queue_, *selection, none);
        if (!moved) co_return http::Response::error(503, "redis: " + moved.error().message);
        co_return http::Response::json(200, requeue_json(*moved, selection->dry_run));
    }
    const std::string id(path.substr(std::string_view("/api/admin/messages/").size()));
    auto state = co_await queue_.inspect(id);
    if (!state) co_return http::Response::error(503, "redis: " + state.error().message);
    if (state->has_value() && !own.empty()) {
        rapidjson::Document doc;
        doc.Parse(state->value().c_str());
        if (!doc.IsObject() || !doc.HasMember("tenant") || !doc["tenant"].IsString() || doc["tenant"].GetString() != own) state->reset();
    }
    if (!state->has_value()) co_return http::Response::error(404, "no message with id " + id);
    co_return http::Response::json(200, std::move(state->value()));
}

}  // namespace wappa::service
