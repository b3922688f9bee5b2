#include "wappa/queue/inbound_queue.hpp"

#include <algorithm>

#include "wappa/redis/client.hpp"
#include "wappa/redis/script.hpp"

namespace wappa::queue {
namespace {

// KEYS[1] = the tenant's stream, KEYS[2..] = one "seen" key per event.
// ARGV[1] = dedup TTL in seconds, ARGV[2] = the stream's cap (0 = none), then per event:
// entry, channel ('' = none), notification.
const redis::Script append_script(R"lua(
local ttl, cap = ARGV[1], tonumber(ARGV[2])
local added = 0
for i = 2, #KEYS do
  local a = 3 + (i - 2) * 3
  if call('SET', KEYS[i], '1', 'NX', 'EX', ttl) then
    if cap > 0 then call('XADD', KEYS[1], 'MAXLEN', '~', cap, '*', 'event', ARGV[a])
    else call('XADD', KEYS[1], '*', 'event', ARGV[a]) end
    if ARGV[a + 1] ~= '' then call('PUBLISH', ARGV[a + 1], ARGV[a + 2]) end
    added = added + 1
  end
end
return added
)lua");

}  // namespace

std::string inbound_stream_key(std::string_view prefix, std::string_view tenant) {
    return std::string(prefix) + ":{" + std::string(tenant) + "}:inbound";
}

std::string seen_key(std::string_view prefix, std::string_view tenant, std::string_view dedup_id) {
    return std::string(prefix) + ":{" + std::string(tenant) + "}:seen:" + std::string(dedup_id);
}

InboundQueue::InboundQueue(redis::Client& client, std::string prefix, config::Duration dedup_ttl, std::int64_t max_len)
    : client_(client),
      prefix_(std::move(prefix)),
      ttl_seconds_(std::to_string(std::max<long long>(1, std::chrono::duration_cast<std::chrono::seconds>(dedup_ttl).count()))),
      max_len_(std::to_string(std::max<std::int64_t>(0, max_len))) {}

Task<Result<AppendResult>> InboundQueue::append(const std::vector<InboundEvent>& events) {
    AppendResult result;
    if (events.empty()) co_return result;
    // One script call per tenant (a batch rarely holds more than two), in first-seen order.
    // Key strings live in `keys` (reserved: never reallocated) and the calls hold views.
    std::vector<std::string> keys;
    keys.reserve(events.size() * 2);
    std::vector<std::string_view> tenants;
    std::vector<redis::ScriptCall> ordered;
    for (const auto& e : events) {
        auto at = std::find(tenants.begin(), tenants.end(), e.tenant) - tenants.begin();
        if (static_cast<std::size_t>(at) == tenants.size()) {
            tenants.push_back(e.tenant);
            auto& call = ordered.emplace_back();
            call.keys.push_back(keys.emplace_back(inbound_stream_key(prefix_, e.tenant)));
            call.args.push_back(ttl_seconds_);
            call.args.push_back(max_len_);
        }
        auto& call = ordered[static_cast<std::size_t>(at)];
        call.keys.push_back(keys.emplace_back(seen_key(prefix_, e.tenant, e.dedup_id)));
        call.args.push_back(e.entry);
        call.args.push_back(e.channel);
        call.args.push_back(e.notification);
    }

    auto replies = co_await redis::run_script(client_, append_script, ordered);
    if (!replies) co_return replies.error();
    for (std::size_t i = 0; i < ordered.size(); ++i) {
        const auto& reply = replies.value()[i];
        if (reply.type != redis::Reply::Type::integer) {
            co_return Error{"redis refused the inbound append: " + (reply.is_error() ? reply.str : "unexpected reply")};
        }
        const auto events_in_call = ordered[i].keys.size() - 1;
        result.queued += static_cast<std::size_t>(reply.integer);
        result.duplicates += events_in_call - static_cast<std::size_t>(reply.integer);
    }
    co_return result;
}

}  // namespace wappa::queue
