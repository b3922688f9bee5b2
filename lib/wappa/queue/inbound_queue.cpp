#include "wappa/queue/inbound_queue.hpp"

#include <algorithm>

#include "wappa/pubsub/event_log.hpp"
#include "wappa/redis/client.hpp"
#include "wappa/redis/script.hpp"

namespace wappa::queue {
namespace {

// KEYS[1] = the tenant's stream, KEYS[2] = its event log, KEYS[3] = the event clock, KEYS[4..] =
// one "seen" key per event. ARGV[1] = dedup TTL in seconds, ARGV[2] = the stream's cap (0 =
// none), ARGV[3] = the event log's cap (0 = no log), then per event: entry, channel ('' = none),
// notification.
constexpr std::string_view append_body = R"lua(
local ttl, cap = ARGV[1], tonumber(ARGV[2])
local log = event_log(KEYS[2], KEYS[3], tonumber(ARGV[3]))
local added = 0
for i = 4, #KEYS do
  local a = 4 + (i - 4) * 3
  if call('SET', KEYS[i], '1', 'NX', 'EX', ttl) then
    if cap > 0 then call('XADD', KEYS[1], 'MAXLEN', '~', cap, '*', 'event', ARGV[a])
    else call('XADD', KEYS[1], '*', 'event', ARGV[a]) end
    if ARGV[a + 1] ~= '' then log_and_publish(log, ARGV[a + 1], ARGV[a + 2]) end
    added = added + 1
  end
end
log_close(log)
return added
)lua";

const redis::Script& append_script() {
    static const redis::Script script(pubsub::event_log_lua(), append_body);
    return script;
}

}  // namespace

std::string inbound_stream_key(std::string_view prefix, std::string_view tenant) {
    return std::string(prefix) + ":{" + std::string(tenant) + "}:inbound";
}

std::string seen_key(std::string_view prefix, std::string_view tenant, std::string_view dedup_id) {
    return std::string(prefix) + ":{" + std::string(tenant) + "}:seen:" + std::string(dedup_id);
}

InboundQueue::InboundQueue(redis::Client& client, std::string prefix, config::Duration dedup_ttl, std::int64_t max_len,
                           std::int64_t event_log_max_len)
    : client_(client),
      prefix_(std::move(prefix)),
      ttl_seconds_(std::to_string(std::max<long long>(1, std::chrono::duration_cast<std::chrono::seconds>(dedup_ttl).count()))),
      max_len_(std::to_string(std::max<std::int64_t>(0, max_len))),
      event_log_max_len_(std::to_string(std::max<std::int64_t>(0, event_log_max_len))) {}

Task<Result<AppendResult>> InboundQueue::append(const std::vector<InboundEvent>& events) {
    AppendResult result;
    if (events.empty()) co_return result;
    // One script call per tenant (a batch rarely holds more than two), in first-seen order.
    // Key strings live in `keys` (reserved: never reallocated) and the calls hold views.
    std::vector<std::string> keys;
    keys.reserve(events.size() * 4);
    std::vector<std::string_view> tenants;
    std::vector<redis::ScriptCall> ordered;
    for (const auto& e : events) {
        auto at = std::find(tenants.begin(), tenants.end(), e.tenant) - tenants.begin();
        if (static_cast<std::size_t>(at) == tenants.size()) {
            tenants.push_back(e.tenant);
            auto& call = ordered.emplace_back();
            call.keys.push_back(keys.emplace_back(inbound_stream_key(prefix_, e.tenant)));
            call.keys.push_back(keys.emplace_back(pubsub::event_log_key(prefix_, e.tenant)));
            call.keys.push_back(keys.emplace_back(pubsub::event_clock_key(prefix_, e.tenant, client_.is_cluster())));
            call.args.push_back(ttl_seconds_);
            call.args.push_back(max_len_);
            call.args.push_back(event_log_max_len_);
        }
        auto& call = ordered[static_cast<std::size_t>(at)];
        call.keys.push_back(keys.emplace_back(seen_key(prefix_, e.tenant, e.dedup_id)));
        call.args.push_back(e.entry);
        call.args.push_back(e.channel);
        call.args.push_back(e.notification);
    }

    auto replies = co_await redis::run_script(client_, append_script(), ordered);
    if (!replies) co_return replies.error();
    for (std::size_t i = 0; i < ordered.size(); ++i) {
        const auto& reply = replies.value()[i];
        if (reply.type != redis::Reply::Type::integer) {
            co_return Error{"redis refused the inbound append: " + (reply.is_error() ? reply.str : "unexpected reply")};
        }
        const auto events_in_call = ordered[i].keys.size() - 3;
        result.queued += static_cast<std::size_t>(reply.integer);
        result.duplicates += events_in_call - static_cast<std::size_t>(reply.integer);
    }
    co_return result;
}

}  // namespace wappa::queue
