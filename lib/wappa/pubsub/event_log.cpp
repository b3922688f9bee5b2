#include "wappa/pubsub/event_log.hpp"

#include <algorithm>
#include <charconv>

#include "wappa/config/units.hpp"
#include "wappa/redis/client.hpp"
#include "wappa/redis/script.hpp"

namespace wappa::pubsub {
namespace lua {
extern const std::string_view event_log;
extern const std::string_view publish;
}  // namespace lua

namespace {

bool parse_u64(std::string_view s, std::uint64_t& out) {
    const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return !s.empty() && ec == std::errc{} && ptr == s.data() + s.size();
}

// An XRANGE entry: [id, [field, value, ...]].
std::optional<LoggedEvent> to_event(const redis::Reply& entry, const std::string& tenant) {
    if (entry.elements.size() != 2) return std::nullopt;
    auto id = parse_event_id(entry.elements[0].str);
    if (!id) return std::nullopt;
    LoggedEvent e{*id, tenant, {}, {}};
    const auto& fields = entry.elements[1].elements;
    for (std::size_t i = 0; i + 1 < fields.size(); i += 2) {
        if (fields[i].str == "c") e.channel = fields[i + 1].str;
        else if (fields[i].str == "p") e.payload = fields[i + 1].str;
    }
    return e;
}

}  // namespace

std::string event_log_key(std::string_view prefix, std::string_view tenant) {
    return std::string(prefix) + ":{" + std::string(tenant) + "}:events";
}

std::string event_clock_key(std::string_view prefix, std::string_view tenant, bool per_tenant) {
    if (per_tenant) return std::string(prefix) + ":{" + std::string(tenant) + "}:events:clock";
    return std::string(prefix) + ":events:clock";
}

std::string EventId::str() const { return std::to_string(ms) + "-" + std::to_string(seq); }

std::optional<EventId> parse_event_id(std::string_view text) {
    EventId id;
    const auto dash = text.find('-');
    if (!parse_u64(text.substr(0, dash), id.ms)) return std::nullopt;
    if (dash != std::string_view::npos && !parse_u64(text.substr(dash + 1), id.seq)) return std::nullopt;
    return id;
}

std::optional<EventId> since_position(std::string_view text, std::uint64_t now_ms) {
    if (text == "0") return EventId{};   // the whole log
    // A bare number of 10+ digits is an id (milliseconds since the epoch), shorter ones are seconds.
    if (text.find('-') != std::string_view::npos || (text.size() >= 10 && text.find_first_not_of("0123456789") == std::string_view::npos)) {
        return parse_event_id(text);
    }
    auto back = config::parse_duration(text);
    if (!back) return std::nullopt;
    const auto ms = static_cast<std::uint64_t>(back->count());
    // Replay starts after this position: everything logged since now - duration.
    return ms >= now_ms ? EventId{} : EventId{now_ms - ms - 1, ~std::uint64_t{0}};
}

std::optional<ChannelParts> parse_channel(std::string_view prefix, std::string_view channel) {
    const std::string head = std::string(prefix) + ":notify:";
    if (!channel.starts_with(head)) return std::nullopt;
    auto rest = channel.substr(head.size());
    const auto first = rest.find(':');
    const auto last = rest.rfind(':');
    if (first == std::string_view::npos || first == last || first == 0 || last + 1 == rest.size()) return std::nullopt;
    return ChannelParts{std::string(rest.substr(0, first)), std::string(rest.substr(first + 1, last - first - 1)),
                        std::string(rest.substr(last + 1))};
}

const redis::Script& publish_script() {
    static const redis::Script script(lua::event_log, lua::publish);
    return script;
}

std::string_view event_log_lua() { return lua::event_log; }

Task<Result<std::int64_t>> publish_logged(redis::Client& client, std::string prefix, std::int64_t cap, std::string tenant,
                            std::vector<std::pair<std::string, std::string>> notifications) {
    std::vector<std::string> args;
    args.reserve(1 + notifications.size() * 2);
    args.push_back(std::to_string(cap));
    for (auto& [channel, payload] : notifications) {
        args.push_back(std::move(channel));
        args.push_back(std::move(payload));
    }
    std::vector<std::string> keys;
    keys.push_back(event_log_key(prefix, tenant));
    keys.push_back(event_clock_key(prefix, tenant, client.is_cluster()));
    auto reply = co_await redis::run_script_once(client, publish_script(), std::move(keys), std::move(args), "the notification");
    if (!reply) co_return reply.error();
    co_return reply->integer;
}

Task<Result<std::vector<LoggedEvent>>> read_logs(redis::Client& client, std::string prefix, LogCursor& cursor, std::int64_t block_ms,
                                                 std::size_t count) {
    std::vector<LoggedEvent> out;
    if (cursor.tenants.empty()) co_return out;
    redis::Command command("XREAD", std::string("COUNT"), std::to_string(count));
    if (block_ms > 0) command.arg("BLOCK").arg(block_ms);
    command.arg("STREAMS");
    std::vector<std::string> keys;
    for (const auto& t : cursor.tenants) keys.push_back(event_log_key(prefix, t));
    for (const auto& k : keys) command.arg(k);
    for (const auto& a : cursor.after) command.arg(a.str());
    auto reply = co_await client.exec(command);
    if (!reply) co_return reply.error();
    if (reply->is_error()) co_return Error{"redis refused XREAD on the event logs: " + reply->str};
    // A tenant whose answer was cut at `count` may have more entries before the other tenants'
    // last ones: only what precedes every cut is returned now, the rest is read again.
    std::optional<EventId> cut;
    std::vector<std::pair<std::size_t, EventId>> last_read;
    for (const auto& stream : reply->elements) {
        if (stream.elements.size() != 2) continue;
        const auto at = std::find(keys.begin(), keys.end(), stream.elements[0].str) - keys.begin();
        if (static_cast<std::size_t>(at) == keys.size()) continue;
        const auto& entries = stream.elements[1].elements;
        for (const auto& entry : entries) {
            if (auto e = to_event(entry, cursor.tenants[static_cast<std::size_t>(at)])) out.push_back(std::move(*e));
        }
        if (entries.empty() || out.empty()) continue;
        last_read.emplace_back(static_cast<std::size_t>(at), out.back().id);
        if (entries.size() >= count && (!cut || out.back().id < *cut)) cut = out.back().id;
    }
    std::sort(out.begin(), out.end(), [](const LoggedEvent& a, const LoggedEvent& b) { return a.id < b.id; });
    if (cut) out.erase(std::upper_bound(out.begin(), out.end(), *cut, [](const EventId& id, const LoggedEvent& e) { return id < e.id; }), out.end());
    for (const auto& [at, last] : last_read) {
        const auto moved = cut && *cut < last ? *cut : last;
        if (cursor.after[at] < moved) cursor.after[at] = moved;
    }
    co_return out;
}

std::int64_t follow_block_ms(std::int64_t command_timeout_ms) {
    return std::max<std::int64_t>(100, std::min<std::int64_t>(2'000, command_timeout_ms / 2));
}

Task<Result<std::vector<EventId>>> last_event_ids(redis::Client& client, std::string prefix, std::vector<std::string> tenants) {
    std::vector<redis::Command> commands;
    for (const auto& t : tenants) {
        commands.emplace_back("GET", event_clock_key(prefix, t, client.is_cluster()));
        if (!client.is_cluster()) break;
    }
    std::vector<EventId> out;
    if (commands.empty()) co_return out;
    auto replies = co_await client.exec(commands);
    if (!replies) co_return replies.error();
    for (std::size_t i = 0; i < replies->size(); ++i) {
        const auto& reply = replies.value()[i];
        const auto key = event_clock_key(prefix, tenants[i], client.is_cluster());
        if (reply.is_error()) co_return Error{"redis refused GET of the event clock " + key + ": " + reply.str};
        if (reply.is_nil()) {
            out.emplace_back();
            continue;
        }
        auto id = parse_event_id(reply.str);
        if (!id) co_return Error{"the event clock " + key + " holds '" + reply.str + "', not an id"};
        out.push_back(*id);
    }
    if (!client.is_cluster()) out.assign(tenants.size(), out.front());
    co_return out;
}

Task<Result<std::vector<std::string>>> logged_tenants(redis::Client& client, std::string prefix) {
    std::vector<std::string> tenants;
    const std::string head = prefix + ":{";
    auto keys = co_await client.scan(prefix + ":{*}:events");
    if (!keys) co_return Error{"cannot list the event logs: " + keys.error().message};
    for (const auto& k : *keys) {
        const auto close = k.find("}:events", head.size());
        if (k.starts_with(head) && close != std::string::npos && close + 8 == k.size()) tenants.push_back(k.substr(head.size(), close - head.size()));
    }
    co_return tenants;
}

}  // namespace wappa::pubsub
