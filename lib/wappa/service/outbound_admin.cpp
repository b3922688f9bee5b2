#include "wappa/service/outbound_admin.hpp"

#include <rapidjson/document.h>

#include <chrono>
#include <map>
#include <set>

#include "wappa/core/json.hpp"
#include "wappa/service/api_auth.hpp"
#include "wappa/service/health.hpp"
#include "wappa/service/inbound_admin.hpp"

namespace wappa::service {
namespace {

using Figures = std::map<std::string, std::int64_t>;

void append_figures(std::string& out, const Figures& figures) {
    out += '{';
    bool first = true;
    for (const auto& [k, v] : figures) {
        if (k == "sent_latency_ms") continue;   // shown as a mean, not a count
        if (!first) out += ',';
        json::append_string(out, k);
        out += ':';
        out += std::to_string(v);
        first = false;
    }
    out += '}';
}

Figures depths(const queue::TenantStats& s) {
    return {{"queued", s.queued}, {"delayed", s.delayed}, {"in_flight", s.in_flight}, {"unknown", s.unknown}, {"failed", s.failed}};
}

void append_outbound(std::string& out, const queue::TenantStats& s, std::int64_t now) {
    out += "{\"queued\":" + std::to_string(s.queued) + ",\"delayed\":" + std::to_string(s.delayed) +
           ",\"in_flight\":" + std::to_string(s.in_flight) + ",\"unknown\":" + std::to_string(s.unknown) +
           ",\"failed\":" + std::to_string(s.failed) + ",\"mean_queue_to_sent_ms\":" + std::to_string(mean_send_latency_ms(s)) +
           ",\"oldest_due_age_ms\":" + std::to_string(s.oldest_due > 0 ? now - s.oldest_due : 0) + "}";
}

void append_paused(std::string& out, const queue::QueueStats& stats, std::string_view only_tenant) {
    out += '[';
    bool first = true;
    for (const auto& [id, s] : stats.tenants) {
        if (!s.paused || (!only_tenant.empty() && id != only_tenant)) continue;
        if (!first) out += ',';
        first = false;
        out += "{\"tenant\":";
        json::append_string(out, id);
        append_pause(out, *s.paused);
        out += '}';
    }
    out += ']';
}

template <class Each>
void append_per_tenant(std::string& out, const queue::QueueStats& stats, std::string_view only_tenant, Each&& each) {
    out += '{';
    bool first = true;
    for (const auto& [id, s] : stats.tenants) {
        if (!only_tenant.empty() && id != only_tenant) continue;
        if (!first) out += ',';
        first = false;
        json::append_string(out, id);
        out += ':';
        each(s);
    }
    out += '}';
}

void append_message_refs(std::string& out, const std::vector<queue::FailedMessage>& messages) {
    out += '[';
    for (std::size_t i = 0; i < messages.size(); ++i) {
        if (i > 0) out += ',';
        out += message_ref_json(messages[i]);
    }
    out += ']';
}

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

std::vector<std::string> tenant_ids(const config::Config& config) {
    std::vector<std::string> out;
    for (const auto& t : config.tenants) out.push_back(t.id);
    return out;
}

std::int64_t mean_send_latency_ms(const queue::TenantStats& s) {
    const auto sum = s.counters.find("sent_latency_ms");
    const auto sent = s.counters.find("sent");
    if (sum == s.counters.end() || sent == s.counters.end() || sent->second == 0) return 0;
    return sum->second / sent->second;
}

std::string stats_json(const queue::QueueStats& stats, std::string_view only_tenant, std::string_view more) {
    const auto none = queue::TenantStats{};
    const auto found = stats.tenants.find(std::string(only_tenant));
    const auto& scope = only_tenant.empty() ? stats.total() : found != stats.tenants.end() ? found->second : none;
    std::string out = "{";
    if (!only_tenant.empty()) out += "\"tenant\":" + json::quote(only_tenant) + ",";
    out += "\"outbound\":";
    append_outbound(out, scope, stats.now);
    out += ",\"paused\":";
    append_paused(out, stats, only_tenant);
    out += ",\"totals\":";
    append_figures(out, scope.counters);
    out += ",\"by_tenant\":";
    append_per_tenant(out, stats, only_tenant, [&out](const queue::TenantStats& s) { append_figures(out, s.counters); });
    out += ",\"tenants\":";
    append_per_tenant(out, stats, only_tenant, [&out](const queue::TenantStats& s) {
        append_figures(out, depths(s));
        out.pop_back();   // the object goes on with "paused"
        out += std::string(",\"paused\":") + (s.paused ? "true" : "false") + "}";
    });
    out += more;
    return out + "}";
}

std::string message_stats_json(const queue::QueueStats& stats, std::string_view only_tenant) {
    const auto by_status = [](const queue::TenantStats& s) {
        // Where each message is now (queued ... failed), and how many reached Meta and the user
        // since the counters began (sent, delivered, read).
        Figures f = depths(s);
        f["sending"] = f["in_flight"];
        f.erase("in_flight");
        for (const char* k : {"sent", "delivered", "read"}) {
            const auto it = s.counters.find(k);
            f[k] = it == s.counters.end() ? 0 : it->second;
        }
        return f;
    };
    const auto none = queue::TenantStats{};
    const auto found = stats.tenants.find(std::string(only_tenant));
    const auto& scope = only_tenant.empty() ? stats.total() : found != stats.tenants.end() ? found->second : none;
    std::string out = "{\"by_status\":";
    append_figures(out, by_status(scope));
    out += ",\"by_tenant\":";
    append_per_tenant(out, stats, only_tenant, [&](const queue::TenantStats& s) { append_figures(out, by_status(s)); });
    return out + "}";
}

std::string message_json(const queue::MessageState& m) {
    std::string out = "{\"id\":";
    json::append_string(out, m.message_id);
    const auto text = [&out](const char* name, const std::string& value) {
        if (value.empty()) return;
        out += ",\"";
        out += name;
        out += "\":";
        json::append_string(out, value);
    };
    const auto number = [&out](const char* name, std::int64_t value, bool always = false) {
        if (value == 0 && !always) return;
        out += ",\"";
        out += name;
        out += "\":" + std::to_string(value);
    };
    text("message_id", m.message_id);
    text("tenant", m.tenant);
    text("status", m.status);
    text("phone_number_id", m.sender);
    text("to", m.to);
    text("type", m.type);
    number("created_at", m.created_at);
    number("not_before", m.not_before);
    number("updated_at", m.updated_at);
    number("attempts", m.attempts, true);
    number("deferrals", m.deferrals, true);
    text("wamid", m.wamid);
    number("sent_at", m.sent_at);
    number("delivered_at", m.delivered_at);
    number("read_at", m.read_at);
    text("last_error_code", m.last_error_code);
    text("last_error", m.last_error);
    if (m.unknown_outcome) out += ",\"unknown_outcome\":true";
    number("lease_until", m.lease_until);
    number("unknown_until", m.unknown_until);
    out += ",\"body\":" + (m.body.empty() ? std::string("null") : m.body);
    out += ",\"history\":[";
    for (std::size_t i = 0; i < m.history.size(); ++i) {
        if (i > 0) out += ',';
        out += m.history[i];
    }
    return out + "]}";
}

Task<Result<RequeueReport>> requeue_selected(queue::OutboundQueue& queue, const config::Config& config,
                                             const RequeueSelection& selection, const Progress& progress) {
    const std::set<std::string> wanted(selection.ids.begin(), selection.ids.end());
    // The failed messages the selection names, per lane: a lane's messages go back in one call.
    std::map<queue::Lane, std::vector<queue::FailedMessage>> by_lane;
    std::size_t total = 0;
    for (const auto& tenant : tenant_ids(config)) {
        if (!selection.tenant.empty() && tenant != selection.tenant) continue;
        auto failed = co_await queue.failed(tenant, selection.failed_from_ms, selection.failed_to_ms);
        if (!failed) co_return failed.error();
        for (auto& m : failed.value()) {
            if (!wanted.empty() && !wanted.count(m.message_id)) continue;
            if (selection.error_code && m.error_code != *selection.error_code) continue;
            by_lane[queue::Lane{tenant, m.sender}].push_back(std::move(m));
            ++total;
        }
    }
    RequeueReport report;
    std::size_t done = 0;
    constexpr std::size_t batch_size = 500;
    for (const auto& [lane, messages] : by_lane) {
        for (std::size_t i = 0; i < messages.size(); i += batch_size) {
            const auto end = std::min(messages.size(), i + batch_size);
            std::vector<std::string> ids;
            for (auto k = i; k < end; ++k) ids.push_back(messages[k].message_id);
            auto outcomes = co_await queue.requeue(lane, ids, selection.include_unknown, selection.dry_run);
            if (!outcomes) co_return outcomes.error();
            for (std::size_t k = 0; k < outcomes->size(); ++k) {
                if (outcomes->at(k) == queue::RequeueOutcome::moved) report.moved.push_back(messages[i + k]);
                else if (outcomes->at(k) == queue::RequeueOutcome::skipped_unknown) report.skipped.push_back(messages[i + k]);
            }
            done += end - i;
            if (progress) progress(done, total);
        }
    }
    co_return report;
}

std::string message_ref_json(const queue::FailedMessage& message) {
    std::string out = "{\"tenant\":";
    json::append_string(out, message.tenant);
    out += ",\"message_id\":";
    json::append_string(out, message.message_id);
    return out + "}";
}

std::string requeue_json(const RequeueReport& report, bool dry_run) {
    std::string out = "{\"requeued\":" + std::to_string(report.moved.size()) + ",\"dry_run\":" + (dry_run ? "true" : "false") +
                      ",\"message_ids\":[";
    for (std::size_t i = 0; i < report.moved.size(); ++i) {
        if (i > 0) out += ',';
        json::append_string(out, report.moved[i].message_id);
    }
    out += "],\"messages\":";
    append_message_refs(out, report.moved);
    out += ",\"skipped_unknown\":" + std::to_string(report.skipped.size()) + ",\"skipped\":";
    append_message_refs(out, report.skipped);
    return out + "}";
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
    for (const auto& [key, flag] : {std::pair{"include_unknown", &s.include_unknown}, std::pair{"dry_run", &s.dry_run}}) {
        if (!doc.HasMember(key)) continue;
        if (!doc[key].IsBool()) return Error{std::string(key) + ": must be true or false"};
        *flag = doc[key].GetBool();
    }
    if (doc.HasMember("queue")) {
        const auto& v = doc["queue"];
        const std::string_view queue = v.IsString() ? std::string_view(v.GetString(), v.GetStringLength()) : std::string_view();
        if (queue != "outbound" && queue != "inbound") return Error{"queue: must be \"outbound\" or \"inbound\""};
        s.inbound = queue == "inbound";
        if (s.inbound && (s.error_code || s.include_unknown)) return Error{"queue: error_code and include_unknown apply to the outbound queue only"};
    }
    if (!named) return Error{"say which messages: ids, all, tenant, error_code, older_than or newer_than"};
    return s;
}

Task<Result<Lookup>> find_message(queue::OutboundQueue& queue, const config::Config& config, const std::string& tenant,
                                  const std::string& message_id) {
    Lookup out;
    std::string holder = tenant;
    if (holder.empty()) {
        auto holders = co_await queue.tenants_holding(tenant_ids(config), message_id);
        if (!holders) co_return holders.error();
        if (holders->size() > 1) {
            out.holders = std::move(holders.value());
            co_return out;
        }
        if (holders->empty()) co_return out;
        holder = holders->front();
    }
    auto message = co_await queue.inspect(holder, message_id);
    if (!message) co_return message.error();
    out.message = std::move(message.value());
    co_return out;
}

bool AdminApi::handles(std::string_view path) const {
    return path == "/api/admin/queues/stats" || path == "/api/admin/messages/stats" || path == "/api/admin/messages/requeue" ||
           (path.starts_with("/api/admin/messages/") && path.size() > std::string_view("/api/admin/messages/").size());
}

Task<http::Response> AdminApi::handle(const http::Request& request) {
    const auto caller = authenticate(config_, request);
    if (!caller) co_return http::Response::error(401, "missing or unknown Bearer token (admin_token, or a tenant's api_token)");
    // A tenant's token sees its own tenant only.
    const std::string own = caller->admin ? std::string() : caller->tenant->id;
    const std::string_view path = request.path;
    const bool post = path == "/api/admin/messages/requeue";
    if (request.method != (post ? "POST" : "GET")) co_return http::Response::error(405, "use " + std::string(post ? "POST" : "GET") + " on " + std::string(path));

    if (path == "/api/admin/queues/stats" || path == "/api/admin/messages/stats") {
        auto stats = co_await queue_.stats(tenant_ids(config_));
        if (!stats) co_return http::Response::error(503, "redis: " + stats.error().message);
        if (path == "/api/admin/messages/stats" || inbound_ == nullptr) {
            co_return http::Response::json(200, path == "/api/admin/queues/stats" ? stats_json(*stats, own) : message_stats_json(*stats, own));
        }
        auto inbound = co_await inbound_view(*inbound_, postgres_);
        if (!inbound) co_return http::Response::error(503, "redis: " + inbound.error().message);
        std::string more;
        append_inbound_json(more, *inbound, own);
        co_return http::Response::json(200, stats_json(*stats, own, more));
    }
    if (post) {
        auto selection = parse_requeue_request(request.body, now_ms());
        if (!selection) co_return http::Response::error(400, selection.error().message);
        if (!own.empty()) {
            if (!selection->tenant.empty() && selection->tenant != own) {
                co_return http::Response::error(403, "this token may only requeue tenant '" + own + "' messages");
            }
            selection->tenant = own;
        } else if (!selection->tenant.empty() && config_.find_tenant(selection->tenant) == nullptr) {
            co_return http::Response::error(400, "tenant: '" + selection->tenant + "' is not a configured tenant");
        }
        if (selection->inbound && inbound_ == nullptr) co_return http::Response::error(400, "queue: the inbound queue is not available here");
        const Progress none;
        // Not a conditional expression over two co_awaits: GCC 12 destroys its temporary twice.
        Result<RequeueReport> report = Error{"not run"};
        if (selection->inbound) {
            report = co_await requeue_inbound(*inbound_, config_, *selection);
        } else {
            report = co_await requeue_selected(queue_, config_, *selection, none);
        }
        if (!report) co_return http::Response::error(503, "redis: " + report.error().message);
        co_return http::Response::json(200, requeue_json(*report, selection->dry_run));
    }
    const std::string id(path.substr(std::string_view("/api/admin/messages/").size()));
    auto tenant = request.query_param("tenant");
    if (!own.empty()) {
        if (!tenant.empty() && tenant != own) co_return http::Response::error(404, "no message with id " + id);
        tenant = own;
    } else if (!tenant.empty() && config_.find_tenant(tenant) == nullptr) {
        co_return http::Response::error(400, "tenant: '" + tenant + "' is not a configured tenant");
    }
    auto found = co_await find_message(queue_, config_, tenant, id);
    if (!found) co_return http::Response::error(503, "redis: " + found.error().message);
    if (!found->holders.empty()) {
        std::string names;
        for (const auto& h : found->holders) names += (names.empty() ? "" : ", ") + h;
        co_return http::Response::error(409, "message id " + id + " exists in several tenants (" + names + "): add ?tenant=");
    }
    if (!found->message) co_return http::Response::error(404, "no message with id " + id);
    co_return http::Response::json(200, message_json(*found->message));
}

}  // namespace wappa::service
