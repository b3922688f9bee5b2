#include "wappa/queue/outbound_queue.hpp"

#include "wappa/core/json.hpp"
#include "wappa/redis/client.hpp"
#include "wappa/redis/script.hpp"

namespace wappa::queue {
namespace {

// Shared by every script: the server's clock in ms, key names, the history log.
constexpr const char* prelude = R"lua(
local P = ARGV[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function hist(id, entry)
  entry.at = now
  redis.call('RPUSH', P .. 'hist:' .. id, cjson.encode(entry))
end
-- Per-number rate (GCRA): the theoretical arrival time `rate_tat` advances by one interval per
-- send; a sender may send while rate_tat <= now + tolerance, the tolerance being a burst of
-- 100 ms of its rate, so that one claim can take several messages of one sender.
local function tolerance(pn)
  return math.max(tonumber(redis.call('HGET', P .. 'interval', pn) or '0'), 100)
end
local function next_allowed(pn)
  return tonumber(redis.call('HGET', P .. 'rate_tat', pn) or '0') - tolerance(pn)
end
local function wake(pn, at)
  redis.call('ZADD', KEYS[1], 'LT', math.max(at, next_allowed(pn)), pn)
end
local function count(mk, what)
  redis.call('HINCRBY', P .. 'counts', what, 1)
  redis.call('HINCRBY', P .. 'counts', what .. ':' .. (redis.call('HGET', mk, 'tenant') or ''), 1)
end
local function mark_failed(id, mk, code, error, reason)
  redis.call('ZREM', P .. 'inflight', id)
  redis.call('HSET', mk, 'status', 'failed', 'token', '', 'last_error_code', code, 'last_error', error, 'updated_at', now)
  redis.call('ZADD', P .. 'failed', now, id)
  count(mk, 'failed')
  hist(id, {event = 'failed', code = tonumber(code), error = error, reason = reason})
end
-- Sent, for good: leaves the lease, keeps its state for the retention period.
local function mark_sent(id, mk, wamid, status, retention)
  redis.call('ZREM', P .. 'inflight', id)
  redis.call('HSET', mk, 'status', status, 'wamid', wamid, 'token', '', 'updated_at', now, 'sent_at', now)
  if wamid ~= '' then redis.call('SET', P .. 'wamid:' .. wamid, id, 'PX', retention) end
  redis.call('PEXPIRE', mk, retention)
  redis.call('PEXPIRE', P .. 'hist:' .. id, retention)
  count(mk, 'sent')
end
local function owned(mk, token)
  local f = redis.call('HMGET', mk, 'token', 'status')
  return f[1] == token and f[2] == 'sending'
end
)lua";

// ARGV: prefix, id, tenant, pnid, to, type, job, body, rate interval ms, pair interval ms, burst,
//       notification channel ('' = none), notification payload
const redis::Script enqueue_script(std::string(prelude) + R"lua(
local id = ARGV[2]
local mk = P .. 'msg:' .. id
local existing = redis.call('HMGET', mk, 'job', 'status')
if existing[1] then
  if existing[1] == ARGV[7] then return {'exists', existing[2]} end
  return {'conflict', existing[2]}
end
local pn, to = ARGV[4], ARGV[5]
-- Pair limit (GCRA), planned now: a throttled recipient's messages wait in order, alone.
local pk = P .. 'pair:' .. pn .. ':' .. to
local interval, burst = tonumber(ARGV[10]), tonumber(ARGV[11])
local pair = redis.call('HMGET', pk, 'tat', 'last')
local tat, last = tonumber(pair[1] or '0'), tonumber(pair[2] or '0')
local at = math.max(now, tat - (burst - 1) * interval, last + 0.001)
redis.call('HSET', pk, 'tat', math.max(tat, at) + interval, 'last', at)
redis.call('PEXPIRE', pk, math.floor(math.max(tat, at) + interval - now) + 60000)
redis.call('HSET', mk, 'id', id, 'tenant', ARGV[3], 'phone_number_id', pn, 'to', to, 'type', ARGV[6],
  'job', ARGV[7], 'body', ARGV[8], 'status', 'queued', 'attempts', 0, 'created_at', now,
  'updated_at', now, 'not_before', math.floor(at))
hist(id, {event = 'queued'})
count(mk, 'queued')
redis.call('ZADD', P .. 'ready:' .. pn, at, id)
redis.call('HSET', P .. 'interval', pn, ARGV[9])
wake(pn, at)
if ARGV[12] ~= '' then redis.call('PUBLISH', ARGV[12], ARGV[13]) end
return {'queued', 'queued'}
)lua");

// ARGV: prefix, max, lease ms, retry ambiguous (0/1), global interval ms (0 = none),
//       failed max age ms, failed max count
const redis::Script claim_script(std::string(prelude) + R"lua(
local max, lease = tonumber(ARGV[2]), tonumber(ARGV[3])
-- Bounded memory: the failed set loses what is older than its age limit, then its oldest
-- beyond its cap, with their state.
local drop = redis.call('ZRANGEBYSCORE', P .. 'failed', '-inf', now - tonumber(ARGV[6]), 'LIMIT', 0, 100)
local extra = redis.call('ZCARD', P .. 'failed') - #drop - tonumber(ARGV[7])
if extra > 0 then
  for _, id in ipairs(redis.call('ZRANGE', P .. 'failed', #drop, #drop + math.min(extra, 100) - 1)) do table.insert(drop, id) end
end
for _, id in ipairs(drop) do
  redis.call('ZREM', P .. 'failed', id)
  redis.call('DEL', P .. 'msg:' .. id, P .. 'hist:' .. id)
  redis.call('HINCRBY', P .. 'counts', 'dropped', 1)
end
local ginterval = tonumber(ARGV[5])
local gtat = 0
if ginterval > 0 then gtat = tonumber(redis.call('GET', P .. 'global_tat') or '0') end
-- Leases that ran out: the worker died or hung, maybe after the request left.
for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. 'inflight', '-inf', now, 'LIMIT', 0, 100)) do
  redis.call('ZREM', P .. 'inflight', id)
  local mk = P .. 'msg:' .. id
  if redis.call('HGET', mk, 'status') == 'sending' then
    if ARGV[4] == '1' then
      local pn = redis.call('HGET', mk, 'phone_number_id')
      redis.call('HSET', mk, 'status', 'queued', 'token', '', 'updated_at', now)
      redis.call('ZADD', P .. 'ready:' .. pn, now, id)
      wake(pn, now)
      hist(id, {event = 'lease_expired', action = 'retry'})
    else
      redis.call('HSET', mk, 'status', 'failed', 'token', '', 'last_error_code', -1,
        'last_error', 'outcome unknown: the lease expired while sending', 'updated_at', now)
      redis.call('ZADD', P .. 'failed', now, id)
      count(mk, 'failed')
      hist(id, {event = 'lease_expired', action = 'failed', error = 'outcome unknown'})
    end
  end
end
local out = {}
local rounds = 0
while #out < max and rounds < max * 4 do
  rounds = rounds + 1
  if ginterval > 0 and gtat - math.max(ginterval, 100) > now then break end
  local s = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 1)
  if #s == 0 then break end
  local pn = s[1]
  local ready = P .. 'ready:' .. pn
  local first = redis.call('ZRANGE', ready, 0, 0, 'WITHSCORES')
  if #first == 0 then
    redis.call('ZREM', KEYS[1], pn)
  elseif tonumber(first[2]) > now then
    redis.call('ZADD', KEYS[1], math.max(tonumber(first[2]), next_allowed(pn)), pn)
  else
    local id = first[1]
    redis.call('ZREM', ready, id)
    if ginterval > 0 then gtat = math.max(gtat, now) + ginterval end
    local interval = tonumber(redis.call('HGET', P .. 'interval', pn) or '0')
    local tat = math.max(tonumber(redis.call('HGET', P .. 'rate_tat', pn) or '0'), now) + interval
    redis.call('HSET', P .. 'rate_tat', pn, tat)
    local nxt = redis.call('ZRANGE', ready, 0, 0, 'WITHSCORES')
    if #nxt == 0 then redis.call('ZREM', KEYS[1], pn) else redis.call('ZADD', KEYS[1], math.max(tat - tolerance(pn), tonumber(nxt[2])), pn) end
    local mk = P .. 'msg:' .. id
    local token = tostring(redis.call('INCR', P .. 'token'))
    local attempts = redis.call('HINCRBY', mk, 'attempts', 1)
    redis.call('HSET', mk, 'status', 'sending', 'token', token, 'updated_at', now)
    redis.call('ZADD', P .. 'inflight', now + lease, id)
    hist(id, {event = 'claimed', attempt = attempts})
    local f = redis.call('HMGET', mk, 'tenant', 'body')
    table.insert(out, {id, token, f[1], pn, f[2], attempts})
  end
end
if ginterval > 0 then redis.call('SET', P .. 'global_tat', gtat, 'PX', math.floor(math.max(gtat - now, 0)) + 60000) end
return out
)lua");

// ARGV: prefix, id, token, wamid, retention ms
const redis::Script sent_script(std::string(prelude) + R"lua(
local id, mk = ARGV[2], P .. 'msg:' .. ARGV[2]
if not owned(mk, ARGV[3]) then return 0 end
mark_sent(id, mk, ARGV[4], 'sent', tonumber(ARGV[5]))
hist(id, {event = 'sent', wamid = ARGV[4]})
return 1
)lua");

// One status webhook. ARGV: prefix, id ('' = unknown), wamid, status, error code, error title,
// retention ms
const redis::Script status_script(std::string(prelude) + R"lua(
local id = ARGV[2]
if id == '' or redis.call('EXISTS', P .. 'msg:' .. id) == 0 then
  id = ARGV[3] ~= '' and redis.call('GET', P .. 'wamid:' .. ARGV[3])
  if not id then return 0 end
end
local mk = P .. 'msg:' .. id
local f = redis.call('HMGET', mk, 'status', 'phone_number_id')
local current, new, wamid = f[1], ARGV[4], ARGV[3]
local rank = {queued = 0, sending = 1, failed = 1, sent = 2, delivered = 3, read = 4}
hist(id, {event = 'status', status = new, wamid = wamid, code = tonumber(ARGV[5]), error = ARGV[6] ~= '' and ARGV[6] or nil})
if new == 'failed' then
  if current == 'failed' then return 1 end
  redis.call('ZREM', P .. 'ready:' .. f[2], id)
  redis.call('PERSIST', mk)
  redis.call('PERSIST', P .. 'hist:' .. id)
  mark_failed(id, mk, ARGV[5], ARGV[6] ~= '' and ARGV[6] or 'delivery failed', 'delivery failed')
  return 1
end
if not rank[new] or new == 'queued' or new == 'sending' then return 1 end
if current == 'queued' or current == 'sending' or current == 'failed' then
  -- Meta has it: the send whose outcome was unknown did go out. Never send it again.
  redis.call('ZREM', P .. 'ready:' .. f[2], id)
  redis.call('ZREM', P .. 'failed', id)
  mark_sent(id, mk, wamid, new, tonumber(ARGV[7]))
  hist(id, {event = 'resolved', status = new, previous = current})
elseif rank[new] > (rank[current] or 0) then
  redis.call('HSET', mk, 'status', new, 'updated_at', now, new .. '_at', now)
  count(mk, new)
end
return 1
)lua");

// ARGV: prefix, id, token, code, error, delay ms, spend attempt (0/1), max attempts
const redis::Script retry_script(std::string(prelude) + R"lua(
local id, mk = ARGV[2], P .. 'msg:' .. ARGV[2]
if not owned(mk, ARGV[3]) then return 0 end
redis.call('ZREM', P .. 'inflight', id)
local attempts = tonumber(redis.call('HGET', mk, 'attempts'))
if ARGV[7] == '0' then attempts = redis.call('HINCRBY', mk, 'attempts', -1) end
if ARGV[7] == '1' and attempts >= tonumber(ARGV[8]) then
  mark_failed(id, mk, ARGV[4], 'attempts exhausted: ' .. ARGV[5], 'attempts exhausted')
  return 1
end
local at = now + tonumber(ARGV[6])
local pn = redis.call('HGET', mk, 'phone_number_id')
redis.call('HSET', mk, 'status', 'queued', 'token', '', 'last_error_code', ARGV[4], 'last_error', ARGV[5],
  'updated_at', now, 'not_before', at)
redis.call('ZADD', P .. 'ready:' .. pn, at, id)
wake(pn, at)
hist(id, {event = ARGV[7] == '1' and 'retry' or 'deferred', code = tonumber(ARGV[4]), error = ARGV[5], delay_ms = tonumber(ARGV[6])})
return 1
)lua");

// ARGV: prefix, id, token, code, error
const redis::Script fail_script(std::string(prelude) + R"lua(
local id, mk = ARGV[2], P .. 'msg:' .. ARGV[2]
if not owned(mk, ARGV[3]) then return 0 end
mark_failed(id, mk, ARGV[4], ARGV[5], 'permanent')
return 1
)lua");

// Built outside coroutines: GCC 12 cannot put braced lists with literals in a coroutine frame.
template <class... Args>
std::vector<std::string> strings(const Args&... args) {
    return std::vector<std::string>{std::string(args)...};
}

// ARGV: prefix, id, dry run (0/1). Only a failed message moves: a sent one is never sent again.
const redis::Script requeue_script(std::string(prelude) + R"lua(
local id, mk = ARGV[2], P .. 'msg:' .. ARGV[2]
if redis.call('HGET', mk, 'status') ~= 'failed' then return 0 end
if ARGV[3] == '1' then return 1 end
local pn = redis.call('HGET', mk, 'phone_number_id')
redis.call('ZREM', P .. 'failed', id)
redis.call('HSET', mk, 'status', 'queued', 'attempts', 0, 'token', '', 'updated_at', now, 'not_before', now)
redis.call('ZADD', P .. 'ready:' .. pn, now, id)
wake(pn, now)
count(mk, 'requeued')
hist(id, {event = 'requeued'})
return 1
)lua");

std::string ms(double v) { return std::to_string(v); }

Task<Result<bool>> run_transition(redis::Client& client, const redis::Script& script, const std::string& senders,
                                  const std::vector<std::string>& args) {
    redis::ScriptCall call;
    call.keys.push_back(senders);
    for (const auto& a : args) call.args.push_back(a);
    std::vector<redis::ScriptCall> calls{call};
    auto replies = co_await redis::run_script(client, script, calls);
    if (!replies) co_return replies.error();
    const auto& r = replies->front();
    if (r.is_error()) co_return Error{"redis refused a queue transition: " + r.str};
    co_return r.integer == 1;
}

}  // namespace

OutboundQueue::OutboundQueue(redis::Client& client, OutboundSettings settings)
    : client_(client), settings_(std::move(settings)), tag_(settings_.prefix + ":{out}:") {}

Task<Result<std::vector<EnqueueResult>>> OutboundQueue::enqueue(const std::vector<EnqueueRequest>& jobs) {
    const auto senders = tag_ + "senders";
    std::vector<std::vector<std::string>> storage;
    storage.reserve(jobs.size());
    std::vector<redis::ScriptCall> calls;
    calls.reserve(jobs.size());
    for (const auto& j : jobs) {
        auto& args = storage.emplace_back(strings(
            tag_, j.message_id, j.tenant, j.phone_number_id, j.to_number, j.type, j.job_json, j.graph_body,
            ms(j.rate_per_number > 0 ? 1000.0 / j.rate_per_number : 0),
            std::to_string(j.rate_per_recipient > 0 ? 1000.0 / j.rate_per_recipient : 0), std::to_string(j.burst_per_recipient),
            j.notify_channel, j.notify_payload));
        redis::ScriptCall call;
        call.keys.push_back(senders);
        for (const auto& a : args) call.args.push_back(a);
        calls.push_back(std::move(call));
    }
    auto replies = co_await redis::run_script(client_, enqueue_script, calls);
    if (!replies) co_return replies.error();
    std::vector<EnqueueResult> out;
    for (const auto& r : replies.value()) {
        if (r.is_error() || r.elements.size() != 2) co_return Error{"redis refused the enqueue: " + r.str};
        const auto& kind = r.elements[0].str;
        out.push_back({kind == "queued" ? EnqueueOutcome::queued : kind == "exists" ? EnqueueOutcome::exists : EnqueueOutcome::conflict,
                       r.elements[1].str});
    }
    co_return out;
}

Task<Result<std::vector<Claim>>> OutboundQueue::claim(std::size_t max) {
    const auto senders = tag_ + "senders";
    const auto lease = std::to_string(settings_.lease.count());
    const auto max_text = std::to_string(max);
    redis::ScriptCall call;
    call.keys.push_back(senders);
    const auto args = strings(tag_, max_text, lease, settings_.retry_ambiguous ? "1" : "0",
                              ms(settings_.rate_global > 0 ? 1000.0 / settings_.rate_global : 0),
                              std::to_string(settings_.failed_max_age.count()), std::to_string(settings_.failed_max));
    call.args.assign(args.begin(), args.end());
    std::vector<redis::ScriptCall> calls{call};
    auto replies = co_await redis::run_script(client_, claim_script, calls);
    if (!replies) co_return replies.error();
    const auto& r = replies->front();
    if (r.is_error()) co_return Error{"redis refused the claim: " + r.str};
    std::vector<Claim> out;
    for (const auto& e : r.elements) {
        if (e.elements.size() != 6) continue;
        out.push_back({e.elements[0].str, e.elements[1].str, e.elements[2].str, e.elements[3].str, e.elements[4].str,
                       e.elements[5].integer});
    }
    co_return out;
}

Task<Result<bool>> OutboundQueue::mark_sent(const Claim& c, const std::string& wamid) {
    const auto args = strings(tag_, c.message_id, c.token, wamid, std::to_string(settings_.retention.count()));
    co_return co_await run_transition(client_, sent_script, tag_ + "senders", args);
}

Task<Result<std::size_t>> OutboundQueue::apply_statuses(const std::vector<StatusReport>& reports) {
    std::vector<std::vector<std::string>> storage;
    storage.reserve(reports.size());
    std::vector<redis::ScriptCall> calls;
    const auto senders = tag_ + "senders";
    const auto retention = std::to_string(settings_.retention.count());
    for (const auto& r : reports) {
        auto& args = storage.emplace_back(strings(tag_, r.message_id, r.wamid, r.status, r.error_code, r.error_title, retention));
        redis::ScriptCall call;
        call.keys.push_back(senders);
        for (const auto& a : args) call.args.push_back(a);
        calls.push_back(std::move(call));
    }
    std::size_t matched = 0;
    if (calls.empty()) co_return matched;
    auto replies = co_await redis::run_script(client_, status_script, calls);
    if (!replies) co_return replies.error();
    for (const auto& r : replies.value()) {
        if (r.is_error()) co_return Error{"redis refused a status update: " + r.str};
        matched += r.integer == 1 ? 1 : 0;
    }
    co_return matched;
}

Task<Result<bool>> OutboundQueue::retry(const Claim& c, std::int64_t code, const std::string& error,
                                        config::Duration retry_after) {
    // Exponential backoff with full jitter, never sooner than the server asked.
    const auto exp = std::min<std::int64_t>(settings_.backoff_max.count(),
                                            settings_.backoff_base.count() << std::min<std::int64_t>(c.attempts - 1, 20));
    const auto jitter = static_cast<std::int64_t>(static_cast<double>(exp) * (static_cast<double>(std::rand() % 1000) / 1000.0));
    const auto delay = std::max<std::int64_t>(jitter, retry_after.count());
    const auto args = strings(tag_, c.message_id, c.token, std::to_string(code), error, std::to_string(delay), "1",
                              std::to_string(settings_.max_attempts));
    co_return co_await run_transition(client_, retry_script, tag_ + "senders", args);
}

Task<Result<bool>> OutboundQueue::defer(const Claim& c, config::Duration delay, std::int64_t code, const std::string& error) {
    const auto args = strings(tag_, c.message_id, c.token, std::to_string(code), error, std::to_string(delay.count()), "0",
                              std::to_string(settings_.max_attempts));
    co_return co_await run_transition(client_, retry_script, tag_ + "senders", args);
}

Task<Result<bool>> OutboundQueue::fail(const Claim& c, std::int64_t code, const std::string& error) {
    const auto args = strings(tag_, c.message_id, c.token, std::to_string(code), error);
    co_return co_await run_transition(client_, fail_script, tag_ + "senders", args);
}

Task<Result<std::optional<std::string>>> OutboundQueue::inspect(const std::string& message_id) {
    std::vector<redis::Command> commands;
    commands.emplace_back("HGETALL", tag_ + "msg:" + message_id);
    commands.emplace_back("LRANGE", tag_ + "hist:" + message_id, std::string("0"), std::string("-1"));
    auto replies = co_await client_.exec(commands);
    if (!replies) co_return replies.error();
    const auto& fields = replies->at(0).elements;
    if (fields.empty()) co_return std::optional<std::string>{};
    std::string out = "{";
    for (std::size_t i = 0; i + 1 < fields.size(); i += 2) {
        if (fields[i].str == "token") continue;
        if (out.size() > 1) out += ',';
        json::append_string(out, fields[i].str);
        out += ':';
        const bool raw_json = fields[i].str == "job" || fields[i].str == "body";
        const bool number = fields[i].str == "attempts" || fields[i].str.ends_with("_at") || fields[i].str == "not_before";
        if (raw_json || (number && !fields[i + 1].str.empty())) out += fields[i + 1].str;
        else json::append_string(out, fields[i + 1].str);
    }
    out += ",\"history\":[";
    const auto& history = replies->at(1).elements;
    for (std::size_t i = 0; i < history.size(); ++i) out += (i ? "," : "") + history[i].str;
    out += "]}";
    co_return std::optional<std::string>(std::move(out));
}

Task<Result<std::vector<FailedMessage>>> OutboundQueue::failed(std::int64_t from_ms, std::int64_t to_ms) {
    auto ids = co_await client_.exec(redis::Command("ZRANGEBYSCORE", tag_ + "failed", std::to_string(from_ms), std::to_string(to_ms),
                                                    std::string("WITHSCORES")));
    if (!ids) co_return ids.error();
    if (ids->is_error()) co_return Error{"redis refused ZRANGEBYSCORE: " + ids->str};
    std::vector<FailedMessage> out;
    std::vector<redis::Command> details;
    for (std::size_t i = 0; i + 1 < ids->elements.size(); i += 2) {
        out.push_back({ids->elements[i].str, {}, 0, std::atoll(ids->elements[i + 1].str.c_str())});
        details.emplace_back("HMGET", tag_ + "msg:" + ids->elements[i].str, std::string("tenant"), std::string("last_error_code"));
    }
    if (details.empty()) co_return out;
    auto fields = co_await client_.exec(details);
    if (!fields) co_return fields.error();
    for (std::size_t i = 0; i < out.size(); ++i) {
        const auto& f = fields->at(i).elements;
        if (f.size() == 2) {
            out[i].tenant = f[0].str;
            out[i].error_code = std::atoll(f[1].str.c_str());
        }
    }
    co_return out;
}

Task<Result<std::vector<std::string>>> OutboundQueue::requeue(const std::vector<std::string>& ids, bool dry_run) {
    std::vector<std::vector<std::string>> storage;
    storage.reserve(ids.size());
    std::vector<redis::ScriptCall> calls;
    const auto senders = tag_ + "senders";
    for (const auto& id : ids) {
        auto& args = storage.emplace_back(strings(tag_, id, dry_run ? "1" : "0"));
        redis::ScriptCall call;
        call.keys.push_back(senders);
        for (const auto& a : args) call.args.push_back(a);
        calls.push_back(std::move(call));
    }
    std::vector<std::string> moved;
    if (calls.empty()) co_return moved;
    auto replies = co_await redis::run_script(client_, requeue_script, calls);
    if (!replies) co_return replies.error();
    for (std::size_t i = 0; i < ids.size(); ++i) {
        if (replies->at(i).is_error()) co_return Error{"redis refused the requeue: " + replies->at(i).str};
        if (replies->at(i).integer == 1) moved.push_back(ids[i]);
    }
    co_return moved;
}

Task<Result<QueueStats>> OutboundQueue::stats() {
    QueueStats out;
    // The ready sets of every sender: SCAN, since a sender leaves `senders` when idle.
    std::vector<std::string> ready_keys;
    std::string cursor = "0";
    do {
        auto page = co_await client_.exec(redis::Command("SCAN", cursor, std::string("MATCH"), tag_ + "ready:*", std::string("COUNT"), std::string("1000")));
        if (!page) co_return page.error();
        if (page->is_error() || page->elements.size() != 2) co_return Error{"redis refused SCAN: " + page->str};
        cursor = page->elements[0].str;
        for (const auto& k : page->elements[1].elements) ready_keys.push_back(k.str);
    } while (cursor != "0");
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    std::vector<redis::Command> commands;
    commands.emplace_back("ZCARD", tag_ + "inflight");
    commands.emplace_back("ZCARD", tag_ + "failed");
    commands.emplace_back("HGETALL", tag_ + "counts");
    for (const auto& k : ready_keys) {
        commands.emplace_back("ZCOUNT", k, std::string("-inf"), std::to_string(now));
        commands.emplace_back("ZCOUNT", k, "(" + std::to_string(now), std::string("+inf"));
    }
    auto replies = co_await client_.exec(commands);
    if (!replies) co_return replies.error();
    out.in_flight = replies->at(0).integer;
    out.failed = replies->at(1).integer;
    const auto& counts = replies->at(2).elements;
    for (std::size_t i = 0; i + 1 < counts.size(); i += 2) out.counters[counts[i].str] = std::atoll(counts[i + 1].str.c_str());
    for (std::size_t i = 0; i < ready_keys.size(); ++i) {
        out.queued += replies->at(3 + 2 * i).integer;
        out.delayed += replies->at(4 + 2 * i).integer;
    }
    co_return out;
}

}  // namespace wappa::queue
