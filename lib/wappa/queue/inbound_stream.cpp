#include "wappa/queue/inbound_stream.hpp"

#include <chrono>
#include <optional>

#include "wappa/core/json.hpp"
#include "wappa/queue/inbound_queue.hpp"
#include "wappa/redis/client.hpp"
#include "wappa/redis/script.hpp"

namespace wappa::queue {
namespace inbound_lua {
extern const std::string_view fail;
extern const std::string_view requeue;
extern const std::string_view trim;
}

namespace {

const redis::Script fail_script("", inbound_lua::fail);
const redis::Script requeue_script("", inbound_lua::requeue);
const redis::Script trim_script("", inbound_lua::trim);

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string failed_key(const std::string& prefix, const std::string& tenant) { return prefix + ":{" + tenant + "}:inbound:failed"; }
std::string entries_key(const std::string& prefix, const std::string& tenant) {
    return prefix + ":{" + tenant + "}:inbound:failed:entries";
}

// [id, [field, value, ...]] → the entry (nullopt for an entry deleted meanwhile).
std::optional<StreamEntry> entry_of(const std::string& tenant, const redis::Reply& e) {
    if (e.elements.size() != 2 || e.elements[1].elements.empty()) return std::nullopt;
    const auto& fields = e.elements[1].elements;
    for (std::size_t i = 0; i + 1 < fields.size(); i += 2) {
        if (fields[i].str == "event") return StreamEntry{tenant, e.elements[0].str, fields[i + 1].str, 1};
    }
    return StreamEntry{tenant, e.elements[0].str, std::string(), 1};
}

std::int64_t ms_of(std::string_view id) { return std::atoll(std::string(id.substr(0, id.find('-'))).c_str()); }

}  // namespace

InboundStream::InboundStream(redis::Client& reader, redis::Client& client, InboundStreamSettings settings, std::vector<std::string> tenants)
    : reader_(reader), client_(client), settings_(std::move(settings)), tenants_(std::move(tenants)) {}

std::string InboundStream::stream_key(const std::string& tenant) const { return inbound_stream_key(settings_.prefix, tenant); }

Task<Status> InboundStream::ensure_groups() {
    std::vector<redis::Command> commands;
    for (const auto& t : tenants_) {
        commands.emplace_back("XGROUP", "CREATE", stream_key(t), settings_.group, std::string("0"), std::string("MKSTREAM"));
    }
    if (commands.empty()) co_return Status{};
    auto replies = co_await client_.exec(commands);
    if (!replies) co_return replies.error();
    for (const auto& r : *replies) {
        if (r.is_error() && !r.str.starts_with("BUSYGROUP")) co_return Error{"redis refused XGROUP CREATE: " + r.str};
    }
    co_return Status{};
}

Task<Result<std::vector<StreamEntry>>> InboundStream::read(bool own_pending) {
    redis::Command command("XREADGROUP", "GROUP", settings_.group, settings_.consumer);
    command.arg("COUNT").arg(static_cast<std::int64_t>(settings_.batch));
    if (!own_pending) command.arg("BLOCK").arg(static_cast<std::int64_t>(settings_.block.count()));
    command.arg("STREAMS");
    for (const auto& t : tenants_) command.arg(stream_key(t));
    for (std::size_t i = 0; i < tenants_.size(); ++i) command.arg(own_pending ? "0" : ">");
    auto reply = co_await (own_pending ? client_ : reader_).exec(command);
    if (!reply) co_return reply.error();
    if (reply->is_error()) co_return Error{"redis refused XREADGROUP: " + reply->str};
    std::vector<StreamEntry> out;
    for (const auto& stream : reply->elements) {
        if (stream.elements.size() != 2) continue;
        std::string tenant;
        for (const auto& t : tenants_) {
            if (stream_key(t) == stream.elements[0].str) tenant = t;
        }
        for (const auto& e : stream.elements[1].elements) {
            if (auto entry = entry_of(tenant, e)) out.push_back(std::move(*entry));
        }
    }
    co_return out;
}

Task<Result<std::vector<StreamEntry>>> InboundStream::claim_idle(const std::string& tenant) {
    redis::Command command("XAUTOCLAIM", stream_key(tenant), settings_.group, settings_.consumer);
    command.arg(static_cast<std::int64_t>(settings_.claim_idle.count())).arg("0-0").arg("COUNT").arg(static_cast<std::int64_t>(settings_.batch));
    auto reply = co_await client_.exec(command);
    if (!reply) co_return reply.error();
    if (reply->is_error()) {
        if (reply->str.starts_with("NOGROUP")) co_return std::vector<StreamEntry>{};
        co_return Error{"redis refused XAUTOCLAIM: " + reply->str};
    }
    std::vector<StreamEntry> out;
    if (reply->elements.size() >= 2) {
        for (const auto& e : reply->elements[1].elements) {
            if (auto entry = entry_of(tenant, e)) {
                entry->deliveries = 2;   // at least: another consumer had it
                out.push_back(std::move(*entry));
            }
        }
    }
    co_return out;
}

Task<Status> InboundStream::ack(const std::vector<StreamEntry>& entries) {
    std::map<std::string, redis::Command> per_tenant;
    for (const auto& e : entries) {
        auto [it, fresh] = per_tenant.try_emplace(e.tenant);
        if (fresh) it->second = redis::Command("XACK", stream_key(e.tenant), settings_.group);
        it->second.arg(e.id);
    }
    std::vector<redis::Command> commands;
    for (auto& [t, c] : per_tenant) commands.push_back(std::move(c));
    if (commands.empty()) co_return Status{};
    auto replies = co_await client_.exec(commands);
    if (!replies) co_return replies.error();
    for (const auto& r : *replies) {
        if (r.is_error()) co_return Error{"redis refused XACK: " + r.str};
    }
    co_return Status{};
}

Task<Status> InboundStream::fail(const std::vector<StreamEntry>& entries, const std::string& error) {
    std::map<std::string, std::vector<std::string>> args_of;
    for (const auto& e : entries) {
        auto& args = args_of[e.tenant];
        if (args.empty()) {
            args = {std::to_string(now_ms()), settings_.group, std::to_string(settings_.failed_max)};
        }
        std::string record = "{\"event\":";
        json::append_string(record, e.event);
        record += ",\"error\":";
        json::append_string(record, error);
        record += ",\"deliveries\":" + std::to_string(e.deliveries) + "}";
        args.push_back(e.id);
        args.push_back(std::move(record));
    }
    std::vector<std::vector<std::string>> keys;
    std::vector<redis::ScriptCall> calls;
    keys.reserve(args_of.size());
    for (auto& [tenant, args] : args_of) {
        auto& k = keys.emplace_back(std::vector<std::string>{stream_key(tenant), failed_key(settings_.prefix, tenant),
                                                             entries_key(settings_.prefix, tenant)});
        redis::ScriptCall call;
        call.keys.assign(k.begin(), k.end());
        call.args.assign(args.begin(), args.end());
        calls.push_back(std::move(call));
    }
    if (calls.empty()) co_return Status{};
    auto replies = co_await redis::run_script(client_, fail_script, calls);
    if (!replies) co_return replies.error();
    for (const auto& r : *replies) {
        if (r.is_error()) co_return Error{"redis refused to keep a failed inbound event: " + r.str};
    }
    co_return Status{};
}

Task<Result<std::int64_t>> InboundStream::trim(const std::string& tenant) {
    auto key = stream_key(tenant);
    std::string what = "to trim " + key;
    auto trimmed = co_await redis::run_script_once(client_, trim_script, std::vector<std::string>(1, key), std::vector<std::string>(),
                                                   std::move(what));
    if (!trimmed) co_return trimmed.error();
    co_return trimmed->integer;
}

Task<Result<std::vector<InboundFailed>>> InboundStream::failed(const std::string& tenant) {
    auto ids = co_await client_.exec(redis::Command("ZRANGE", failed_key(settings_.prefix, tenant), std::string("0"), std::string("-1"),
                                                    std::string("WITHSCORES")));
    if (!ids) co_return ids.error();
    if (ids->is_error()) co_return Error{"redis refused ZRANGE: " + ids->str};
    std::vector<InboundFailed> out;
    if (ids->elements.empty()) co_return out;
    redis::Command records("HMGET", entries_key(settings_.prefix, tenant));
    for (std::size_t i = 0; i + 1 < ids->elements.size(); i += 2) {
        out.push_back({tenant, ids->elements[i].str, {}, {}, std::atoll(ids->elements[i + 1].str.c_str())});
        records.arg(ids->elements[i].str);
    }
    auto values = co_await client_.exec(records);
    if (!values) co_return values.error();
    for (std::size_t i = 0; i < out.size() && i < values->elements.size(); ++i) out[i].event = values->elements[i].str;
    co_return out;
}

Task<Result<std::vector<std::string>>> InboundStream::requeue(const std::string& tenant, const std::vector<std::string>& ids, bool dry_run) {
    std::vector<std::string> moved;
    if (ids.empty()) co_return moved;
    std::vector<std::string> keys{stream_key(tenant), failed_key(settings_.prefix, tenant), entries_key(settings_.prefix, tenant)};
    std::vector<std::string> args{dry_run ? "1" : "0"};
    args.insert(args.end(), ids.begin(), ids.end());
    auto reply = co_await redis::run_script_once(client_, requeue_script, std::move(keys), std::move(args), "the inbound requeue");
    if (!reply) co_return reply.error();
    const auto& r = reply.value();
    for (std::size_t i = 0; i < ids.size() && i < r.elements.size(); ++i) {
        if (r.elements[i].integer == 1) moved.push_back(ids[i]);
    }
    co_return moved;
}

Task<Result<std::map<std::string, InboundTenantStats>>> InboundStream::stats() {
    std::vector<redis::Command> commands;
    for (const auto& t : tenants_) {
        commands.emplace_back("XLEN", stream_key(t));
        commands.emplace_back("ZCARD", failed_key(settings_.prefix, t));
        commands.emplace_back("XRANGE", stream_key(t), std::string("-"), std::string("+"), std::string("COUNT"), std::string("1"));
        commands.emplace_back("XINFO", "GROUPS", stream_key(t));
    }
    std::map<std::string, InboundTenantStats> out;
    if (commands.empty()) co_return out;
    auto replies = co_await client_.exec(commands);
    if (!replies) co_return replies.error();
    const auto now = now_ms();
    for (std::size_t i = 0; i < tenants_.size(); ++i) {
        auto& s = out[tenants_[i]];
        s.length = replies->at(4 * i).integer;
        s.failed = replies->at(4 * i + 1).integer;
        const auto& first = replies->at(4 * i + 2).elements;
        if (!first.empty() && !first[0].elements.empty()) s.oldest_age_ms = std::max<std::int64_t>(0, now - ms_of(first[0].elements[0].str));
        const auto& groups = replies->at(4 * i + 3);
        if (groups.is_error()) continue;   // no stream yet
        for (const auto& g : groups.elements) {
            std::string name;
            std::int64_t pending = 0, lag = 0;
            for (std::size_t f = 0; f + 1 < g.elements.size(); f += 2) {
                const auto& field = g.elements[f].str;
                const auto& value = g.elements[f + 1];
                if (field == "name") name = value.str;
                else if (field == "pending") pending = value.integer;
                else if (field == "lag") lag = value.is_nil() ? 0 : value.integer;
            }
            s.pending[name] = pending;
            s.lag[name] = lag;
        }
    }
    co_return out;
}

}  // namespace wappa::queue
