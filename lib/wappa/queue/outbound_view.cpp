// The operator's side of the outbound queue: inspect, failed lists, requeue and figures.
#include <rapidjson/document.h>

#include <algorithm>

#include "wappa/queue/outbound/keys.hpp"
#include "wappa/queue/outbound/record.hpp"
#include "wappa/queue/outbound/scripts.hpp"
#include "wappa/queue/outbound_queue.hpp"
#include "wappa/redis/client.hpp"
#include "wappa/redis/script.hpp"

namespace wappa::queue {
namespace {

const redis::Script requeue_script(lua::prelude, lua::requeue);

std::int64_t score(const redis::Reply& r) { return r.is_nil() ? 0 : static_cast<std::int64_t>(std::atof(r.str.c_str())); }

// The common events are read from the state; the history hash holds only the exceptional ones.
std::vector<std::string> events_of(const MessageState& m, std::string_view stored) {
    std::vector<std::pair<std::int64_t, std::string>> events;
    const auto plain = [&events](std::int64_t at, std::string event, std::string extra = {}) {
        if (at > 0) events.emplace_back(at, "{\"event\":\"" + event + "\"" + extra + ",\"at\":" + std::to_string(at) + "}");
    };
    plain(m.created_at, "queued");
    bool resolved = false;
    for (std::size_t start = 0; start < stored.size();) {
        auto end = stored.find('\x1e', start);
        if (end == std::string_view::npos) end = stored.size();
        const std::string event(stored.substr(start, end - start));
        rapidjson::Document doc;
        doc.Parse(event.c_str(), event.size());
        const bool ok = !doc.HasParseError() && doc.IsObject();
        if (ok && doc.HasMember("event") && doc["event"] == "resolved") resolved = true;
        events.emplace_back(ok && doc.HasMember("at") && doc["at"].IsNumber() ? doc["at"].GetInt64() : 0, event);
        start = end + 1;
    }
    if (!resolved) plain(m.sent_at, "sent", m.wamid.empty() ? std::string() : ",\"wamid\":\"" + m.wamid + "\"");
    plain(m.delivered_at, "delivered");
    plain(m.read_at, m.status == "played" ? "played" : "read");
    std::stable_sort(events.begin(), events.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<std::string> out;
    for (auto& e : events) out.push_back(std::move(e.second));
    return out;
}

}  // namespace

TenantStats QueueStats::total() const {
    TenantStats t;
    for (const auto& [tenant, s] : tenants) {
        t.queued += s.queued;
        t.delayed += s.delayed;
        t.in_flight += s.in_flight;
        t.unknown += s.unknown;
        t.failed += s.failed;
        if (s.oldest_due > 0 && (t.oldest_due == 0 || s.oldest_due < t.oldest_due)) t.oldest_due = s.oldest_due;
        for (const auto& [k, v] : s.counters) t.counters[k] += v;
    }
    return t;
}

Task<Result<std::optional<MessageState>>> OutboundQueue::inspect(const std::string& tenant, const std::string& id) {
    const auto& k = keys(tenant);
    std::vector<redis::Command> commands;
    commands.emplace_back("HGET", k.jobs, id);
    commands.emplace_back("HGET", k.state, id);
    commands.emplace_back("HGET", k.hist, id);
    commands.emplace_back("ZSCORE", k.inflight, id);
    commands.emplace_back("ZSCORE", k.unknown, id);
    auto replies = co_await client_.exec(commands);
    if (!replies) co_return replies.error();
    for (const auto& r : *replies) {
        if (r.is_error()) co_return Error{"redis refused a read for inspect: " + r.str};
    }
    const auto job = replies->at(0).is_nil() ? std::nullopt : parse_job_record(replies->at(0).str);
    if (!job) co_return std::optional<MessageState>{};
    const auto state = replies->at(1).is_nil() ? StateRecord{} : parse_state_record(replies->at(1).str);
    MessageState m;
    m.tenant = tenant;
    m.message_id = id;
    m.status = state.status;
    m.sender = job->sender;
    m.to = job->to;
    m.type = job->type;
    m.body = job->body;
    m.created_at = job->created_at;
    m.not_before = job->not_before;
    m.updated_at = state.updated_at;
    m.attempts = state.attempts;
    m.deferrals = state.deferrals;
    m.wamid = state.wamid;
    m.sent_at = state.sent_at;
    m.delivered_at = state.delivered_at;
    m.read_at = state.read_at;
    m.last_error_code = state.code;
    m.last_error = state.error;
    m.unknown_outcome = state.unknown;
    m.lease_until = score(replies->at(3));
    m.unknown_until = score(replies->at(4));
    m.history = events_of(m, replies->at(2).str);
    co_return std::optional<MessageState>(std::move(m));
}

Task<Result<std::vector<std::string>>> OutboundQueue::tenants_holding(const std::vector<std::string>& tenants, const std::string& id) {
    std::vector<redis::Command> commands;
    for (const auto& t : tenants) commands.emplace_back("HEXISTS", keys(t).jobs, id);
    std::vector<std::string> out;
    if (commands.empty()) co_return out;
    auto replies = co_await client_.exec(commands);
    if (!replies) co_return replies.error();
    for (std::size_t i = 0; i < tenants.size(); ++i) {
        if (replies->at(i).is_error()) co_return Error{"redis refused HEXISTS: " + replies->at(i).str};
        if (replies->at(i).integer == 1) out.push_back(tenants[i]);
    }
    co_return out;
}

Task<Result<std::vector<FailedMessage>>> OutboundQueue::failed(const std::string& tenant, std::int64_t from_ms, std::int64_t to_ms) {
    const auto& k = keys(tenant);
    auto ids = co_await client_.exec(redis::Command("ZRANGEBYSCORE", k.failed, std::to_string(from_ms), std::to_string(to_ms),
                                                    std::string("WITHSCORES")));
    if (!ids) co_return ids.error();
    if (ids->is_error()) co_return Error{"redis refused ZRANGEBYSCORE: " + ids->str};
    std::vector<FailedMessage> out;
    constexpr std::size_t chunk = 1000;
    for (std::size_t start = 0; start + 1 < ids->elements.size(); start += 2 * chunk) {
        const auto end = std::min(ids->elements.size(), start + 2 * chunk);
        redis::Command states("HMGET", k.state), jobs("HMGET", k.jobs);
        const auto first = out.size();
        for (std::size_t i = start; i + 1 < end; i += 2) {
            out.push_back({tenant, {}, ids->elements[i].str, 0, false, score(ids->elements[i + 1])});
            states.arg(ids->elements[i].str);
            jobs.arg(ids->elements[i].str);
        }
        const std::vector<redis::Command> reads{std::move(states), std::move(jobs)};
        auto fields = co_await client_.exec(reads);
        if (!fields) co_return fields.error();
        for (std::size_t i = first; i < out.size(); ++i) {
            const auto& s = fields->at(0).elements.at(i - first);
            const auto& j = fields->at(1).elements.at(i - first);
            if (!s.is_nil()) {
                const auto state = parse_state_record(s.str);
                out[i].error_code = std::atoll(state.code.c_str());
                out[i].unknown_outcome = state.unknown;
            }
            if (!j.is_nil()) {
                if (auto job = parse_job_record(j.str)) out[i].sender = job->sender;
            }
        }
    }
    co_return out;
}

Task<Result<std::vector<RequeueOutcome>>> OutboundQueue::requeue(const Lane& lane, const std::vector<std::string>& ids,
                                                                 bool include_unknown, bool dry_run) {
    std::vector<RequeueOutcome> out;
    if (ids.empty()) co_return out;
    const auto& k = keys(lane.tenant);
    std::vector<std::string> keys{k.state, k.hist, k.failed, k.counts, k.ready(lane.sender), k.lanes};
    std::vector<std::string> args{now_arg(), wake_channel_, lane.tenant, lane.sender, include_unknown ? "1" : "0", dry_run ? "1" : "0"};
    args.insert(args.end(), ids.begin(), ids.end());
    auto reply = co_await redis::run_script_once(client_, requeue_script, std::move(keys), std::move(args), "the requeue");
    if (!reply) co_return reply.error();
    const auto& r = reply.value();
    for (const auto& e : r.elements) {
        out.push_back(e.integer == 1 ? RequeueOutcome::moved : e.integer == 2 ? RequeueOutcome::skipped_unknown : RequeueOutcome::not_failed);
    }
    co_return out;
}

Task<Result<QueueStats>> OutboundQueue::stats(const std::vector<std::string>& tenants) {
    QueueStats out;
    // First the clock and every tenant's senders, then the figures, in one pipeline each.
    std::vector<redis::Command> first;
    first.emplace_back("TIME");
    for (const auto& t : tenants) first.emplace_back("SMEMBERS", keys(t).numbers);
    auto listed = co_await client_.exec(first);
    if (!listed) co_return listed.error();
    for (const auto& r : *listed) {
        if (r.is_error()) co_return Error{"redis refused a read for stats: " + r.str};
    }
    const auto& time = listed->at(0).elements;
    out.now = settings_.clock ? settings_.clock()
                              : std::atoll(time.at(0).str.c_str()) * 1000 + std::atoll(time.at(1).str.c_str()) / 1000;
    const auto now_text = std::to_string(out.now);
    const auto after_now = "(" + now_text;
    std::vector<redis::Command> commands;
    for (std::size_t t = 0; t < tenants.size(); ++t) {
        const auto& k = keys(tenants[t]);
        commands.emplace_back("ZCARD", k.inflight);
        commands.emplace_back("ZCARD", k.unknown);
        commands.emplace_back("ZCARD", k.failed);
        commands.emplace_back("HGETALL", k.counts);
        commands.emplace_back("HGETALL", k.paused);
        for (const auto& sender : listed->at(t + 1).elements) {
            const auto fifo = k.fifo(sender.str), ready = k.ready(sender.str);
            commands.emplace_back("LLEN", fifo);
            commands.emplace_back("LINDEX", fifo, std::string("0"));
            commands.emplace_back("ZCOUNT", ready, std::string("-inf"), now_text);
            commands.emplace_back("ZCOUNT", ready, after_now, std::string("+inf"));
            commands.emplace_back("ZRANGE", ready, std::string("0"), std::string("0"), std::string("WITHSCORES"));
        }
    }
    auto replies = co_await client_.exec(commands);
    if (!replies) co_return replies.error();
    std::size_t at = 0;
    const auto next = [&]() -> const redis::Reply& { return replies->at(at++); };
    for (std::size_t t = 0; t < tenants.size(); ++t) {
        auto& s = out.tenants[tenants[t]];
        s.in_flight = next().integer;
        s.unknown = next().integer;
        s.failed = next().integer;
        const auto& counts = next().elements;
        for (std::size_t i = 0; i + 1 < counts.size(); i += 2) s.counters[counts[i].str] = std::atoll(counts[i + 1].str.c_str());
        const auto& paused = next().elements;
        if (!paused.empty()) {
            PausedTenant p;
            for (std::size_t i = 0; i + 1 < paused.size(); i += 2) {
                const auto& name = paused[i].str;
                const auto& value = paused[i + 1].str;
                if (name == "code") p.code = value;
                else if (name == "error") p.error = value;
                else if (name == "since") p.since = std::atoll(value.c_str());
                else if (name == "probe_at") p.probe_at = std::atoll(value.c_str());
            }
            s.paused = p;
        }
        const auto oldest = [&s](std::int64_t v) {
            if (v > 0 && (s.oldest_due == 0 || v < s.oldest_due)) s.oldest_due = v;
        };
        for (std::size_t n = 0; n < listed->at(t + 1).elements.size(); ++n) {
            s.queued += next().integer;
            const auto& head = next();
            if (!head.is_nil()) oldest(std::atoll(head.str.c_str()));
            const auto due = next().integer;
            s.queued += due;
            s.delayed += next().integer;
            const auto& first_ready = next().elements;
            if (due > 0 && first_ready.size() == 2) oldest(score(first_ready[1]));
        }
    }
    co_return out;
}

}  // namespace wappa::queue
