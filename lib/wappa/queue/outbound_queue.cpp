#include "wappa/queue/outbound_queue.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <deque>
#include <memory>

#include <rapidjson/document.h>

#include <algorithm>

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
  redis.call('HSET', P .. 'msg:' .. id, 'has_history', 1)
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
  hist(id, {event = 'failed', attempt = tonumber(redis.call('HGET', mk, 'attempts') or '0'), code = tonumber(code), error = error, reason = reason})
end
-- Sent, for good: leaves the lease, keeps its state for the retention period.
local function mark_sent(id, mk, wamid, status, retention)
  redis.call('ZREM', P .. 'inflight', id)
  redis.call('HSET', mk, 'status', status, 'wamid', wamid, 'token', '', 'updated_at', now, 'sent_at', now)
  if wamid ~= '' then redis.call('SET', P .. 'wamid:' .. wamid, id, 'PX', retention) end
  redis.call('PEXPIRE', mk, retention)
  redis.call('PEXPIRE', P .. 'job:' .. id, retention)
  redis.call('PEXPIRE', P .. 'hist:' .. id, retention)
  count(mk, 'sent')
end
local function owned(mk, token)
  local f = redis.call('HMGET', mk, 'token', 'status')
  return f[1] == token and f[2] == 'sending'
end
-- A message is one string, `job:<id>`, written at enqueue and never changed (created_at,
-- not_before, tenant, sender, recipient, type and the Graph body, joined by \31: the client
-- sends the part from the tenant on ready-made, and bulk enqueue writes a batch of them with
-- one MSET), and, from its first claim (or a status naming it first) on, the hash `msg:<id>`
-- with its state and the job's short fields, the body left out: a hash of short values stays
-- a listpack, several times cheaper to write than a hash table. The two expire together.
-- Fields: tenant, sender, recipient, type, created_at, not_before, body.
local function job_fields(job)
  local created, not_before, tenant, pn, to, kind, body =
    string.match(job, '^([^\31]*)\31([^\31]*)\31([^\31]*)\31([^\31]*)\31([^\31]*)\31([^\31]*)\31(.*)$')
  return {tenant, pn, to, kind, created, not_before, body}
end
local function adopt(mk, f, ...)
  redis.call('HSET', mk, 'tenant', f[1], 'phone_number_id', f[2], 'to', f[3], 'type', f[4],
    'created_at', f[5], 'not_before', f[6], ...)
end
-- The state hash of a message not yet claimed (statuses can name one).
local function materialize(id, mk)
  if redis.call('EXISTS', mk) == 1 then return true end
  local job = redis.call('GET', P .. 'job:' .. id)
  if not job then return false end
  adopt(mk, job_fields(job), 'status', 'queued', 'attempts', 0)
  return true
end
)lua";

// Many jobs in one call, so that the per-call cost is paid once per batch. Per job Redis
// writes one string (`job:<id>`, with MSET for the whole batch); the duplicate check is one
// EXISTS over the batch's job keys (per-job reads only when some id is known), and the
// pair-limit states of the batch are read with one HMGET and written with one HSET. The ready sets, sender
// wake-ups and counters are written once per segment (jobs of one profile: tenant, sender and
// limits) and per batch. Whatever the client can prepare, it does (segments, the pair key and
// the job's text built, repeats in the batch flagged): every argument and every string made
// here costs Redis Lua work, and Redis has one core.
// ARGV: prefix, notify (0/1), repeats (1 when an id or a recipient occurs twice in the call),
//       segment count, per segment: tenant, pnid, rate interval ms, pair interval ms, burst,
//       job count, then its jobs (3 each, or 5 with notify): id, pair key "<pnid>:<to>",
//       job text "tenant\31pnid\31to\31type\31body"[, notification channel, payload]
// Returns "" when every job was queued, else one line per job: "q" (queued), "e<status>"
// (exists) or "c<status>" (conflict), in argument order.
const redis::Script enqueue_script(prelude, R"lua(
local notify, repeats = ARGV[2] == '1', ARGV[3] == '1'
local width = notify and 5 or 3
local PJ, PM, nows = P .. 'job:', P .. 'msg:', tostring(now)
local segments, n, b, any_pair = {}, 0, 4, false
for p = 1, tonumber(ARGV[4]) do
  local k = tonumber(ARGV[b + 6])
  segments[p] = {ARGV[b + 1], ARGV[b + 2], ARGV[b + 3], tonumber(ARGV[b + 4]), tonumber(ARGV[b + 5]), k, b + 6}
  any_pair = any_pair or tonumber(ARGV[b + 4]) > 0
  n = n + k
  b = b + 6 + k * width
end
local probe, pair_of, j = {}, {}, 0
for _, segment in ipairs(segments) do
  b = segment[7]
  for _ = 1, segment[6] do
    j = j + 1
    probe[j] = PJ .. ARGV[b + 1]
    pair_of[j] = ARGV[b + 2]
    b = b + width
  end
end
local known = redis.call('EXISTS', unpack(probe)) > 0
-- Pair limit (GCRA per sender and recipient), planned now: a throttled recipient's messages
-- wait in order, alone. Its state "tat last" lives in one hash per 10-minute generation that
-- expires whole (read: this generation and the previous one); a state more than a generation
-- ahead (a recipient with a long backlog) goes to the hash `pairs:long` instead, trimmed by
-- the sorted set `pairs:until`. States only grow, so the largest found is the current one.
local W = 600000
local g = math.floor(now / W)
local cur, prev, long = P .. 'pairs:' .. g, P .. 'pairs:' .. (g - 1), P .. 'pairs:long'
local in_cur, in_prev, in_long = {}, {}, {}
if any_pair then
  local stale = redis.call('ZRANGEBYSCORE', P .. 'pairs:until', '-inf', now, 'LIMIT', 0, 256)
  if #stale > 0 then
    redis.call('HDEL', long, unpack(stale))
    redis.call('ZREM', P .. 'pairs:until', unpack(stale))
  end
  in_cur = redis.call('HMGET', cur, unpack(pair_of))
  if redis.call('EXISTS', prev) == 1 then in_prev = redis.call('HMGET', prev, unpack(pair_of)) end
  if redis.call('EXISTS', long) == 1 then in_long = redis.call('HMGET', long, unpack(pair_of)) end
end
local function newest(state, tat, last)
  if state then
    local sep = string.find(state, ' ', 1, true)
    tat = math.max(tat, tonumber(string.sub(state, 1, sep - 1)))
    last = math.max(last, tonumber(string.sub(state, sep + 1)))
  end
  return tat, last
end
-- A job's text is "tenant\31pnid\31to\31type\31body".
local function body_of(text)
  return string.match(text, '^[^\31]*\31[^\31]*\31[^\31]*\31[^\31]*\31(.*)$')
end
local check = known or repeats
local out, any_out, batch, state = {}, false, {}, {}
local mset, m, hset, h, long_set, long_until, l = {}, 0, {}, 0, {}, {}, 0
local total = 0
j = 0
for _, segment in ipairs(segments) do
  local tenant, pn, pi, burst = segment[1], segment[2], segment[4], segment[5]
  -- A recipient with no state (the common case: a campaign) is planned now; its new state is
  -- the same for all of them, formatted once (numbers cost Lua a sprintf).
  local fresh = (now + pi) .. ' ' .. nows
  local now_ids, nn, later, nl, earliest = {}, 0, {}, 0, nil
  b = segment[7]
  for _ = 1, segment[6] do
    j = j + 1
    local id, pair, text = ARGV[b + 1], ARGV[b + 2], ARGV[b + 3]
    local existing, status
    if check then
      existing, status = batch[id], 'queued'
      if not existing and known then
        local job = redis.call('GET', probe[j])
        if job then
          existing = job_fields(job)[7]
          status = redis.call('HGET', PM .. id, 'status') or 'queued'
        end
      end
    end
    if existing then
      -- The same id again: the same body is the same message, another body a conflict.
      out[j] = (existing == body_of(text) and 'e' or 'c') .. status
      any_out = true
    else
      local at, at_text = now, nows
      if pi > 0 then
        local tat, last, st = 0, 0, repeats and state[pair]
        if st then
          tat, last = st[1], st[2]
        else
          tat, last = newest(in_cur[j], tat, last)
          tat, last = newest(in_prev[j], tat, last)
          tat, last = newest(in_long[j], tat, last)
        end
        local planned
        if tat == 0 then
          planned, tat, last = fresh, now + pi, now
        else
          at = math.max(now, tat - (burst - 1) * pi, last + 0.001)
          at_text = math.floor(at)
          tat, last = math.max(tat, at) + pi, at
          planned = tat .. ' ' .. last
        end
        if repeats then state[pair] = {tat, last} end
        -- A recipient repeated in the call is written more than once: HSET keeps the last.
        if tat - now < W then
          hset[h + 1], hset[h + 2], h = pair, planned, h + 2
        else
          long_set[l + 1], long_set[l + 2], long_until[l + 1], long_until[l + 2], l = pair, planned, tat, pair, l + 2
        end
      end
      mset[m + 1], mset[m + 2], m = probe[j], nows .. '\31' .. at_text .. '\31' .. text, m + 2
      if check then batch[id] = body_of(text) end
      if at == now then
        nn = nn + 1
        now_ids[nn] = id
        earliest = now
      else
        later[nl + 1], later[nl + 2], nl = at, id, nl + 2
        if not earliest or at < earliest then earliest = at end
      end
      if notify and ARGV[b + 4] ~= '' then redis.call('PUBLISH', ARGV[b + 4], ARGV[b + 5]) end
    end
    b = b + width
  end
  local ready = P .. 'ready:' .. pn
  for i = 1, nl, 1000 do redis.call('ZADD', ready, unpack(later, i, math.min(nl, i + 999))) end
  -- The jobs that may go now enter the ready set as one member, "\1<n>", standing for the list
  -- `batch:<n>` of their ids (in order): one ZADD per batch instead of one per job. (Message
  -- ids cannot start with \1: control characters are refused in them.)
  if nn > 0 then
    local bn = redis.call('INCR', P .. 'batches')
    for i = 1, nn, 1000 do redis.call('RPUSH', P .. 'batch:' .. bn, unpack(now_ids, i, math.min(nn, i + 999))) end
    redis.call('ZADD', ready, nows, '\1' .. bn)
    redis.call('HINCRBY', P .. 'batched', pn, nn)
    redis.call('HINCRBY', P .. 'batched', pn .. ':members', 1)
  end
  local queued = nn + nl / 2
  if queued > 0 then
    redis.call('HSET', P .. 'interval', pn, segment[3])
    redis.call('SADD', P .. 'numbers', pn)
    wake(pn, earliest)
    redis.call('HINCRBY', P .. 'counts', 'queued:' .. tenant, queued)
    total = total + queued
  end
end
if m > 0 then redis.call('MSET', unpack(mset, 1, m)) end
if h > 0 then
  redis.call('HSET', cur, unpack(hset, 1, h))
  redis.call('PEXPIREAT', cur, (g + 2) * W)
end
if l > 0 then
  redis.call('HSET', long, unpack(long_set, 1, l))
  redis.call('ZADD', P .. 'pairs:until', unpack(long_until, 1, l))
end
if total > 0 then redis.call('HINCRBY', P .. 'counts', 'queued', total) end
if not any_out then return '' end
for i = 1, n do out[i] = out[i] or 'q' end
return table.concat(out, '\n')
)lua");

// ARGV: prefix, max, lease ms, retry ambiguous (0/1), global interval ms (0 = none),
//       failed max age ms, failed max count
const redis::Script claim_script(prelude, R"lua(
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
  redis.call('DEL', P .. 'msg:' .. id, P .. 'job:' .. id, P .. 'hist:' .. id)
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
local out, leases = {}, {}
local nows, lease_until = tostring(now), tostring(now + lease)
local token = redis.call('INCR', P .. 'token')
local rounds = 0
while #out < max and rounds < max * 4 do
  rounds = rounds + 1
  if ginterval > 0 and gtat - math.max(ginterval, 100) > now then break end
  local s = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 1)
  if #s == 0 then break end
  local pn = s[1]
  local ready = P .. 'ready:' .. pn
  local interval = tonumber(redis.call('HGET', P .. 'interval', pn) or '0')
  local tol = math.max(interval, 100)
  local tat = math.max(tonumber(redis.call('HGET', P .. 'rate_tat', pn) or '0'), now)
  -- As many as the sender's rate allows now (GCRA: each send moves tat one interval on).
  local allowed = max - #out
  if interval > 0 then allowed = math.min(allowed, math.floor((now + tol - tat) / interval) + 1) end
  if ginterval > 0 then allowed = math.min(allowed, math.floor((now + math.max(ginterval, 100) - math.max(gtat, now)) / ginterval) + 1) end
  local ids, taken = {}, {}
  if allowed > 0 then
    local batched = 0
    for _, member in ipairs(redis.call('ZRANGEBYSCORE', ready, '-inf', now, 'LIMIT', 0, allowed)) do
      if #ids >= allowed then break end
      if string.byte(member, 1) == 1 then   -- a batch of ids queued together
        local bk, want = P .. 'batch:' .. string.sub(member, 2), allowed - #ids
        local got = redis.call('LRANGE', bk, 0, want - 1)
        for _, id in ipairs(got) do ids[#ids + 1] = id end
        batched = batched + #got
        if #got < want then
          taken[#taken + 1] = member
          redis.call('HINCRBY', P .. 'batched', pn .. ':members', -1)
        end
        if #got > 0 then redis.call('LTRIM', bk, #got, -1) end
      else
        ids[#ids + 1] = member
        taken[#taken + 1] = member
      end
    end
    if batched > 0 then redis.call('HINCRBY', P .. 'batched', pn, -batched) end
  end
  if #taken > 0 then redis.call('ZREM', ready, unpack(taken)) end
  if #ids > 0 then
    tat = tat + #ids * interval
    redis.call('HSET', P .. 'rate_tat', pn, tat)
    if ginterval > 0 then gtat = math.max(gtat, now) + #ids * ginterval end
    for _, id in ipairs(ids) do
      local mk, jk = P .. 'msg:' .. id, P .. 'job:' .. id
      local tk = token .. '.' .. (#out + 1)
      local state = redis.call('HMGET', mk, 'status', 'attempts')
      local job = (not state[1] or state[1] == 'queued') and redis.call('GET', jk)
      local tenant, body, attempts
      if job then
        local f = job_fields(job)
        tenant, body = f[1], f[7]
        if not state[1] then   -- its first claim: the state hash is made
          attempts = 1
          adopt(mk, f, 'status', 'sending', 'token', tk, 'attempts', 1, 'updated_at', nows)
        else
          attempts = tonumber(state[2] or '0') + 1
          redis.call('HSET', mk, 'status', 'sending', 'token', tk, 'attempts', attempts, 'updated_at', nows)
        end
      end
      if body then
        leases[#leases + 1] = lease_until
        leases[#leases + 1] = id
        out[#out + 1] = {id, tk, tenant, pn, body, attempts}
      end
    end
  end
  local nxt = redis.call('ZRANGE', ready, 0, 0, 'WITHSCORES')
  if #nxt == 0 then redis.call('ZREM', KEYS[1], pn)
  else redis.call('ZADD', KEYS[1], math.max(tat - tol, tonumber(nxt[2])), pn) end
end
for i = 1, #leases, 1000 do redis.call('ZADD', P .. 'inflight', unpack(leases, i, math.min(#leases, i + 999))) end
if ginterval > 0 then redis.call('SET', P .. 'global_tat', gtat, 'PX', math.floor(math.max(gtat - now, 0)) + 60000) end
return out
)lua");

// Many acks in one call. ARGV: prefix, retention ms, then per message (3): id, token, wamid.
// Returns 1 per message whose lease was still its own (or whose status webhook already
// recorded this very send), else 0 (fenced).
const redis::Script sent_script(prelude, R"lua(
local retention = tonumber(ARGV[2])
local nows = tostring(now)
local out, done, counts = {}, {}, {}
local latency = 0
for b = 3, #ARGV, 3 do
  local id, token, wamid = ARGV[b], ARGV[b + 1], ARGV[b + 2]
  local mk = P .. 'msg:' .. id
  local f = redis.call('HMGET', mk, 'token', 'status', 'tenant', 'has_history', 'created_at', 'wamid')
  if f[2] ~= 'sending' and f[6] == wamid and wamid ~= '' then
    out[#out + 1] = 1   -- its status webhook came first and recorded this very send
  elseif f[1] == token and f[2] == 'sending' then
    latency = latency + now - tonumber(f[5] or now)
    redis.call('HSET', mk, 'status', 'sent', 'wamid', wamid, 'token', '', 'updated_at', nows, 'sent_at', nows)
    if wamid ~= '' then redis.call('SET', P .. 'wamid:' .. wamid, id, 'PX', retention) end
    redis.call('PEXPIRE', mk, retention)
    redis.call('PEXPIRE', P .. 'job:' .. id, retention)
    if f[4] then redis.call('PEXPIRE', P .. 'hist:' .. id, retention) end
    done[#done + 1] = id
    local t = 'sent:' .. (f[3] or '')
    counts[t] = (counts[t] or 0) + 1
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
for i = 1, #done, 1000 do redis.call('ZREM', P .. 'inflight', unpack(done, i, math.min(#done, i + 999))) end
if #done > 0 then
  redis.call('HINCRBY', P .. 'counts', 'sent', #done)
  -- Queue-to-sent time, summed: stats shows its mean.
  redis.call('HINCRBY', P .. 'counts', 'sent_latency_ms', math.floor(latency))
end
for k, v in pairs(counts) do redis.call('HINCRBY', P .. 'counts', k, v) end
return out
)lua");

// One status webhook. ARGV: prefix, id ('' = unknown), wamid, status, error code, error title,
// retention ms
const redis::Script status_script(prelude, R"lua(
local id = ARGV[2]
if id == '' or redis.call('EXISTS', P .. 'job:' .. id) == 0 then
  id = ARGV[3] ~= '' and redis.call('GET', P .. 'wamid:' .. ARGV[3])
  if not id then return 0 end
end
local mk = P .. 'msg:' .. id
if not materialize(id, mk) then return 0 end
local f = redis.call('HMGET', mk, 'status', 'phone_number_id')
local current, new, wamid = f[1], ARGV[4], ARGV[3]
local rank = {queued = 0, sending = 1, failed = 1, sent = 2, delivered = 3, read = 4}
hist(id, {event = 'status', status = new, wamid = wamid, code = tonumber(ARGV[5]), error = ARGV[6] ~= '' and ARGV[6] or nil})
if new == 'failed' then
  if current == 'failed' then return 1 end
  redis.call('ZREM', P .. 'ready:' .. f[2], id)
  redis.call('PERSIST', mk)
  redis.call('PERSIST', P .. 'job:' .. id)
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
const redis::Script retry_script(prelude, R"lua(
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
hist(id, {event = ARGV[7] == '1' and 'retry' or 'deferred', attempt = tonumber(redis.call('HGET', mk, 'attempts')) + (ARGV[7] == '0' and 1 or 0),
  code = tonumber(ARGV[4]), error = ARGV[5], delay_ms = tonumber(ARGV[6])})
return 1
)lua");

// ARGV: prefix, id, token, code, error
const redis::Script fail_script(prelude, R"lua(
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
const redis::Script requeue_script(prelude, R"lua(
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

// One script call on the senders key with `args` (views: `args` must outlive the call).
redis::ScriptCall call_with(const std::string& senders, const std::vector<std::string>& args) {
    redis::ScriptCall call;
    call.keys.push_back(senders);
    call.args.assign(args.begin(), args.end());
    return call;
}

Task<Result<bool>> run_transition(redis::Client& client, const redis::Script& script, const std::string& senders,
                                  const std::vector<std::string>& args) {
    const std::vector<redis::ScriptCall> calls{call_with(senders, args)};
    auto replies = co_await redis::run_script(client, script, calls);
    if (!replies) co_return replies.error();
    const auto& r = replies->front();
    if (r.is_error()) co_return Error{"redis refused a queue transition: " + r.str};
    co_return r.integer == 1;
}

}  // namespace

OutboundQueue::OutboundQueue(redis::Client& client, OutboundSettings settings)
    : client_(client), settings_(std::move(settings)), tag_(settings_.prefix + ":{out}:") {}

namespace {

// Whether some value occurs twice (a batch is a few hundred jobs: sorting views is cheap).
bool has_repeats(std::vector<std::string_view>& values) {
    std::sort(values.begin(), values.end());
    return std::adjacent_find(values.begin(), values.end()) != values.end();
}

bool same_profile(const EnqueueRequest& a, const EnqueueRequest& b) {
    return a.tenant == b.tenant && a.phone_number_id == b.phone_number_id && a.rate_per_number == b.rate_per_number &&
           a.rate_per_recipient == b.rate_per_recipient && a.burst_per_recipient == b.burst_per_recipient;
}

// One script call's arguments for `jobs`, in segments of one profile (tenant, sender and
// limits) each, every job with its pair key and its text ready-made. The segments are the
// profiles, or, when an id occurs twice (its first occurrence must win), the runs of one
// profile in line order. `order` receives the jobs' indices in argument order. The views point
// into the jobs and into `storage` (a deque: its strings never move).
redis::ScriptCall enqueue_call(std::span<const EnqueueRequest> jobs, const std::string& tag, const std::string& senders,
                               std::deque<std::string>& storage, std::vector<std::size_t>& order) {
    std::vector<std::string_view> ids, pairs;
    ids.reserve(jobs.size());
    for (const auto& j : jobs) ids.push_back(j.message_id);
    const bool repeated_ids = has_repeats(ids);
    std::vector<std::vector<std::size_t>> segments;
    for (std::size_t i = 0; i < jobs.size(); ++i) {
        std::size_t s = repeated_ids ? segments.size() - (segments.empty() ? 0 : 1) : 0;
        while (s < segments.size() && !same_profile(jobs[segments[s].front()], jobs[i])) ++s;
        if (s == segments.size()) segments.emplace_back();
        segments[s].push_back(i);
    }
    redis::ScriptCall call;
    call.keys.push_back(senders);
    call.args.push_back(tag);
    bool notify = false;
    for (const auto& j : jobs) notify = notify || !j.notify_channel.empty();
    call.args.push_back(notify ? "1" : "0");
    const auto repeats_at = call.args.size();
    call.args.push_back("0");
    call.args.push_back(storage.emplace_back(std::to_string(segments.size())));
    pairs.reserve(jobs.size());
    for (const auto& segment : segments) {
        const auto& f = jobs[segment.front()];
        call.args.push_back(f.tenant);
        call.args.push_back(f.phone_number_id);
        call.args.push_back(storage.emplace_back(ms(f.rate_per_number > 0 ? 1000.0 / f.rate_per_number : 0)));
        call.args.push_back(storage.emplace_back(ms(f.rate_per_recipient > 0 ? 1000.0 / f.rate_per_recipient : 0)));
        call.args.push_back(storage.emplace_back(std::to_string(f.burst_per_recipient)));
        call.args.push_back(storage.emplace_back(std::to_string(segment.size())));
        for (const auto i : segment) {
            const auto& j = jobs[i];
            order.push_back(i);
            auto& pair = storage.emplace_back();
            pair.reserve(j.phone_number_id.size() + 1 + j.to_number.size());
            pair.append(j.phone_number_id).append(1, ':').append(j.to_number);
            auto& text = storage.emplace_back();
            text.reserve(j.tenant.size() + j.phone_number_id.size() + j.to_number.size() + j.type.size() + j.graph_body.size() + 4);
            text.append(j.tenant).append(1, '\x1f').append(j.phone_number_id).append(1, '\x1f').append(j.to_number);
            text.append(1, '\x1f').append(j.type).append(1, '\x1f').append(j.graph_body);
            call.args.push_back(j.message_id);
            call.args.push_back(pair);
            call.args.push_back(text);
            if (notify) {
                call.args.push_back(j.notify_channel);
                call.args.push_back(j.notify_payload);
            }
            pairs.push_back(pair);
        }
    }
    if (repeated_ids || has_repeats(pairs)) call.args[repeats_at] = "1";
    return call;
}

}  // namespace

Task<Result<std::vector<EnqueueResult>>> OutboundQueue::enqueue(std::span<const EnqueueRequest> jobs) {
    // Batches of a few hundred jobs per script call, all calls pipelined.
    constexpr std::size_t per_call = 256;
    const auto senders = tag_ + "senders";
    std::deque<std::string> storage;
    std::vector<redis::ScriptCall> calls;
    std::vector<std::size_t> order;   // the jobs in argument order, call after call
    order.reserve(jobs.size());
    for (std::size_t start = 0; start < jobs.size(); start += per_call) {
        const auto before = order.size();
        calls.push_back(enqueue_call(jobs.subspan(start, std::min(per_call, jobs.size() - start)), tag_, senders, storage, order));
        for (auto i = before; i < order.size(); ++i) order[i] += start;
    }
    std::vector<EnqueueResult> out(jobs.size(), EnqueueResult{EnqueueOutcome::queued, "queued"});
    if (calls.empty()) co_return out;
    auto replies = co_await redis::run_script(client_, enqueue_script, calls);
    if (!replies) co_return replies.error();
    std::size_t next = 0;   // in `order`
    for (std::size_t c = 0; c < replies->size(); ++c) {
        const auto& r = (*replies)[c];
        if (r.is_error()) co_return Error{"redis refused the enqueue: " + r.str};
        const auto in_call = std::min(per_call, jobs.size() - c * per_call);
        if (r.str.empty()) {   // all queued
            next += in_call;
            continue;
        }
        std::size_t lines = 0;
        for (std::size_t start = 0; start < r.str.size() && lines < in_call;) {
            auto end = r.str.find('\n', start);
            if (end == std::string::npos) end = r.str.size();
            const std::string_view line(r.str.data() + start, end - start);
            if (!line.empty() && line != "q") {
                out[order[next]] = {line[0] == 'e' ? EnqueueOutcome::exists : EnqueueOutcome::conflict, std::string(line.substr(1))};
            }
            ++next, ++lines;
            start = end + 1;
        }
        if (lines != in_call) co_return Error{"redis answered the enqueue with the wrong number of results"};
    }
    co_return out;
}

Task<Result<std::vector<Claim>>> OutboundQueue::claim(std::size_t max) {
    const auto senders = tag_ + "senders";
    const auto lease = std::to_string(settings_.lease.count());
    const auto max_text = std::to_string(max);
    const auto args = strings(tag_, max_text, lease, settings_.retry_ambiguous ? "1" : "0",
                              ms(settings_.rate_global > 0 ? 1000.0 / settings_.rate_global : 0),
                              std::to_string(settings_.failed_max_age.count()), std::to_string(settings_.failed_max));
    const std::vector<redis::ScriptCall> calls{call_with(senders, args)};
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

// Acks that complete in the same turn of the event loop share one script call.
struct OutboundQueue::AckBatch {
    explicit AckBatch(const net::any_io_executor& executor) : wake(executor, std::chrono::steady_clock::time_point::max()) {}
    std::vector<std::string> args;   // id, token, wamid per ack
    std::vector<std::int64_t> results;
    std::optional<Error> error;
    bool done = false;
    net::steady_timer wake;          // cancelled when the batch is answered
};

Task<Result<bool>> OutboundQueue::mark_sent(const Claim& c, const std::string& wamid) {
    auto executor = co_await net::this_coro::executor;
    if (!pending_acks_) {
        pending_acks_ = std::make_shared<AckBatch>(executor);
        net::co_spawn(executor, flush_acks(pending_acks_), net::detached);
    }
    const auto batch = pending_acks_;
    const std::size_t index = batch->args.size() / 3;
    batch->args.push_back(c.message_id);
    batch->args.push_back(c.token);
    batch->args.push_back(wamid);
    while (!batch->done) co_await batch->wake.async_wait(net::as_tuple(net::use_awaitable));
    if (batch->error) co_return *batch->error;
    co_return index < batch->results.size() && batch->results[index] == 1;
}

Task<void> OutboundQueue::flush_acks(std::shared_ptr<AckBatch> batch) {
    co_await net::post(co_await net::this_coro::executor, net::use_awaitable);   // let this turn's acks join
    if (pending_acks_ == batch) pending_acks_.reset();
    const auto retention = std::to_string(settings_.retention.count());
    const auto senders = tag_ + "senders";
    redis::ScriptCall call;
    call.keys.push_back(senders);
    call.args.push_back(tag_);
    call.args.push_back(retention);
    for (const auto& a : batch->args) call.args.push_back(a);
    const std::vector<redis::ScriptCall> calls{call};
    auto replies = co_await redis::run_script(client_, sent_script, calls);
    if (!replies) batch->error = replies.error();
    else if (replies->front().is_error()) batch->error = Error{"redis refused a queue transition: " + replies->front().str};
    else for (const auto& e : replies->front().elements) batch->results.push_back(e.integer);
    batch->done = true;
    batch->wake.cancel();
}

Task<Result<std::size_t>> OutboundQueue::apply_statuses(const std::vector<StatusReport>& reports) {
    std::vector<std::vector<std::string>> storage;
    storage.reserve(reports.size());
    std::vector<redis::ScriptCall> calls;
    const auto senders = tag_ + "senders";
    const auto retention = std::to_string(settings_.retention.count());
    for (const auto& r : reports) {
        calls.push_back(call_with(senders, storage.emplace_back(strings(tag_, r.message_id, r.wamid, r.status, r.error_code,
                                                                        r.error_title, retention))));
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
    commands.emplace_back("GET", tag_ + "job:" + message_id);
    commands.emplace_back("HGETALL", tag_ + "msg:" + message_id);
    commands.emplace_back("LRANGE", tag_ + "hist:" + message_id, std::string("0"), std::string("-1"));
    auto replies = co_await client_.exec(commands);
    if (!replies) co_return replies.error();
    if (replies->at(0).is_nil() && replies->at(1).elements.empty()) co_return std::optional<std::string>{};
    // What enqueue wrote, then the state hash over it (no hash yet: queued, never claimed).
    std::vector<std::pair<std::string, std::string>> fields;
    const auto set = [&fields](const std::string& name, std::string value) {
        for (auto& f : fields) {
            if (f.first == name) {
                f.second = std::move(value);
                return;
            }
        }
        fields.emplace_back(name, std::move(value));
    };
    static constexpr const char* job_names[] = {"created_at", "not_before", "tenant", "phone_number_id", "to", "type"};
    const auto& job = replies->at(0).str;
    std::size_t start = 0;
    for (const char* name : job_names) {
        const auto end = job.find('\x1f', start);
        if (end == std::string::npos) break;
        set(name, job.substr(start, end - start));
        start = end + 1;
    }
    if (start > 0) {
        set("body", job.substr(start));
        set("status", "queued");
    }
    const auto& hash = replies->at(1).elements;
    for (std::size_t i = 0; i + 1 < hash.size(); i += 2) set(hash[i].str, hash[i + 1].str);
    std::string out = "{\"id\":";
    json::append_string(out, message_id);
    out += ",\"message_id\":";
    json::append_string(out, message_id);
    for (const auto& [name, value] : fields) {
        if (name == "token" || name == "has_history" || name == "id") continue;
        out += ',';
        json::append_string(out, name);
        out += ':';
        const bool raw_json = name == "body";
        const bool number = name == "attempts" || name.ends_with("_at") || name == "not_before";
        if (raw_json || (number && !value.empty())) out += value;
        else json::append_string(out, value);
    }
    // The list holds the exceptional events (retries, deferrals, failures, statuses...); the
    // common ones are read from the hash, which is cheaper to write on every message.
    std::string created_at, sent_at, wamid;
    for (const auto& [name, value] : fields) {
        if (name == "created_at") created_at = value;
        else if (name == "sent_at") sent_at = value;
        else if (name == "wamid") wamid = value;
    }
    std::vector<std::pair<std::int64_t, std::string>> events;
    if (!created_at.empty()) events.emplace_back(std::atoll(created_at.c_str()), "{\"event\":\"queued\",\"at\":" + created_at + "}");
    bool sent_listed = false;
    for (const auto& h : replies->at(2).elements) {
        rapidjson::Document entry;
        entry.Parse(h.str.c_str(), h.str.size());
        const bool ok = !entry.HasParseError() && entry.IsObject();
        if (ok && entry.HasMember("event") && entry["event"] == "resolved") sent_listed = true;
        events.emplace_back(ok && entry.HasMember("at") && entry["at"].IsNumber() ? entry["at"].GetInt64() : 0, h.str);
    }
    if (!sent_at.empty() && !sent_listed) {
        std::string sent = "{\"event\":\"sent\",\"wamid\":";
        json::append_string(sent, wamid);
        events.emplace_back(std::atoll(sent_at.c_str()), sent + ",\"at\":" + sent_at + "}");
    }
    std::stable_sort(events.begin(), events.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    out += ",\"history\":[";
    for (std::size_t i = 0; i < events.size(); ++i) {
        if (i > 0) out += ',';
        out += events[i].second;
    }
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
        calls.push_back(call_with(senders, storage.emplace_back(strings(tag_, id, dry_run ? "1" : "0"))));
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
    // Every sender number that ever had messages (a sender leaves `senders` when idle).
    std::vector<std::string> ready_keys;
    auto numbers = co_await client_.exec(redis::Command("SMEMBERS", tag_ + "numbers"));
    if (!numbers) co_return numbers.error();
    if (numbers->is_error()) co_return Error{"redis refused SMEMBERS: " + numbers->str};
    for (const auto& n : numbers->elements) {
        std::string key = tag_;
        key.append("ready:").append(n.str);
        ready_keys.push_back(std::move(key));
    }
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    std::vector<redis::Command> commands;
    commands.emplace_back("ZCARD", tag_ + "inflight");
    commands.emplace_back("ZCARD", tag_ + "failed");
    commands.emplace_back("HGETALL", tag_ + "counts");
    commands.emplace_back("HGETALL", tag_ + "batched");
    const auto now_text = std::to_string(now);
    const auto after_now = "(" + now_text;
    for (const auto& k : ready_keys) {
        commands.emplace_back("ZCOUNT", k, std::string("-inf"), now_text);
        commands.emplace_back("ZCOUNT", k, after_now, std::string("+inf"));
    }
    auto replies = co_await client_.exec(commands);
    if (!replies) co_return replies.error();
    out.in_flight = replies->at(0).integer;
    out.failed = replies->at(1).integer;
    const auto& counts = replies->at(2).elements;
    for (std::size_t i = 0; i + 1 < counts.size(); i += 2) out.counters[counts[i].str] = std::atoll(counts[i + 1].str.c_str());
    for (std::size_t i = 0; i < ready_keys.size(); ++i) {
        out.queued += replies->at(4 + 2 * i).integer;
        out.delayed += replies->at(5 + 2 * i).integer;
    }
    // A batch of messages queued together is one member of its ready set, standing for them all.
    const auto& batched = replies->at(3).elements;
    for (std::size_t i = 0; i + 1 < batched.size(); i += 2) {
        const auto n = std::atoll(batched[i + 1].str.c_str());
        out.queued += batched[i].str.ends_with(":members") ? -n : n;
    }
    co_return out;
}

}  // namespace wappa::queue
