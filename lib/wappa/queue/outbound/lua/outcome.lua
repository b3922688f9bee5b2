-- Records what became of one claimed message other than an accepted send.
--
-- KEYS: jobs, state, hist, inflight, ready, lanes, failed, unknown, counts, cool, paircool, paused
-- ARGV: now, wake channel, tenant, id, token, outcome, code, error, delay ms, max attempts,
--       cool-down base ms, cool-down max ms, pause probe ms, ambiguous wait ms
-- outcome:
--   retry      the Graph API answered with a transient error: an attempt is spent; queued
--              again after `delay`, or failed once max attempts are spent;
--   unsent     the request certainly never left (connect refused, DNS, TLS handshake, no free
--              connection, a write that failed before its first byte): no attempt spent;
--              queued again after `delay`;
--   throttle:pair|sender|tenant  a rate-limit answer: no attempt spent; that scope waits
--              `delay` (Retry-After) or a cool-down that grows while throttling goes on; the
--              message keeps its place, ahead of later messages to its recipient;
--   pause      the tenant's token was refused: no attempt spent; the tenant's sending pauses
--              and one probe goes out every pause probe interval until one is accepted;
--   fail       a permanent error;
--   unknown    the request left and no usable answer came: it may have been delivered. It waits
--              for a status webhook for the ambiguous wait, then on_ambiguous decides (sweep).
-- Returns 1 when recorded, 0 when fenced (the lease is no longer this token's), 2 when this
-- outcome paused the tenant (it was not paused before).
local jobs_key, state_key, hist_key, inflight_key, ready_key, lanes_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local failed_key, unknown_key, counts_key, cool_key, paircool_key, paused_key = KEYS[7], KEYS[8], KEYS[9], KEYS[10], KEYS[11], KEYS[12]
local now = clock(ARGV[1])
local channel, tenant, id, token, outcome = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local code, error_text = tonumber(ARGV[7]), ARGV[8]
local delay, max_attempts = tonumber(ARGV[9]), tonumber(ARGV[10])
local cool_base, cool_max, probe_every, ambiguous_wait = tonumber(ARGV[11]), tonumber(ARGV[12]), tonumber(ARGV[13]), tonumber(ARGV[14])
if not (now and code and delay and max_attempts and cool_base and cool_max and probe_every and ambiguous_wait) then
  return fail_input('outcome', 'a number')
end
local scope = string.match(outcome, '^throttle:(%a+)$')
if not (scope or outcome == 'retry' or outcome == 'unsent' or outcome == 'pause' or outcome == 'fail' or outcome == 'unknown') then
  return fail_input('outcome', 'outcome ' .. outcome)
end

local record = call('HGET', jobs_key, id)
local current = call('HGET', state_key, id)
if not record or not current then return 0 end
local s = state_parse(current)
-- Fenced; or its lease expired and its outcome is unknown: the upkeep settles it.
if s[ST_TOKEN] ~= token or s[ST_STATUS] == 'unknown' then return 0 end
local nows = string.format('%d', now)
s[ST_TOKEN], s[ST_UPDATED] = '', nows
if s[ST_STATUS] ~= 'sending' then
  -- A status webhook resolved it while the request was out: it stands.
  call('HSET', state_key, id, state_text(s))
  call('ZREM', inflight_key, id)
  return 1
end
local job = job_parse(record)
local attempts, deferrals = tonumber(s[ST_ATTEMPTS]), tonumber(s[ST_DEFERRALS])
s[ST_CODE], s[ST_ERROR] = tostring(code), error_text
local result = 1

local function failed(reason, text)
  s[ST_STATUS], s[ST_ERROR] = 'failed', text
  call('ZADD', failed_key, now, id)
  call('HSET', state_key, id, state_text(s))
  call('HINCRBY', counts_key, 'failed', 1)
  history(hist_key, id, now, {event = 'failed', reason = reason, attempt = tonumber(s[ST_ATTEMPTS]), code = code, error = text})
end
local function queued_at(at, event, wake_at)
  s[ST_STATUS] = 'queued'
  call('ZADD', ready_key, string.format('%.3f', at), id)
  call('HSET', state_key, id, state_text(s))
  wake(lanes_key, channel, tenant, job.sender, wake_at or at)
  event.code, event.error = code, error_text
  history(hist_key, id, now, event)
end
-- A growing cool-down: base * 4^level, the level rising while throttling goes on and falling
-- back once a cool-down max has passed without one. Stored as "until level at".
local function cool_down(key, field)
  local prior = call('HGET', key, field)
  local level, prior_until = 0, 0
  if prior then
    local p = {}
    for part in string.gmatch(prior, '[^ ]+') do p[#p + 1] = tonumber(part) end
    prior_until = p[1]
    if now - p[3] < 2 * cool_max then level = p[2] + 1 end
  end
  local wait = delay > 0 and delay or math.min(cool_max, cool_base * 4 ^ level)
  local until_at = math.max(prior_until, now + wait)
  call('HSET', key, field, string.format('%d %d %d 0', until_at, level, now))
  return until_at
end

if outcome == 'retry' then
  attempts = attempts + 1
  s[ST_ATTEMPTS] = tostring(attempts)
  if attempts >= max_attempts then
    failed('attempts exhausted', 'attempts exhausted: ' .. error_text)
  else
    queued_at(now + delay, {event = 'retry', attempt = attempts, delay_ms = delay})
  end
elseif outcome == 'unsent' then
  s[ST_DEFERRALS] = tostring(deferrals + 1)
  queued_at(now + delay, {event = 'not_sent', delay_ms = delay})
elseif scope then
  s[ST_DEFERRALS] = tostring(deferrals + 1)
  local place = tonumber(job.not_before)
  if scope == 'pair' then
    local until_at = cool_down(paircool_key, job.sender .. ':' .. job.to)
    queued_at(until_at, {event = 'throttled', scope = scope, until_at = until_at})
  else
    local until_at = cool_down(cool_key, scope == 'tenant' and 'tenant' or 'sender:' .. job.sender)
    -- Back at its place: the first of its lane once the cool-down is over.
    queued_at(place, {event = 'throttled', scope = scope, until_at = until_at}, until_at)
  end
  call('HINCRBY', counts_key, 'throttled', 1)
elseif outcome == 'pause' then
  s[ST_DEFERRALS] = tostring(deferrals + 1)
  local probe_at = now + probe_every
  if call('HSETNX', paused_key, 'since', nows) == 1 then result = 2 end
  call('HSET', paused_key, 'code', code, 'error', error_text, 'probe_at', string.format('%d', probe_at), 'probe_every', probe_every)
  queued_at(tonumber(job.not_before), {event = 'paused'}, probe_at)
  call('HINCRBY', counts_key, 'paused', 1)
elseif outcome == 'fail' then
  s[ST_ATTEMPTS] = tostring(attempts + 1)
  failed('permanent', error_text)
else  -- unknown
  s[ST_ATTEMPTS] = tostring(attempts + 1)
  s[ST_STATUS], s[ST_UNKNOWN] = 'unknown', '1'
  call('ZADD', unknown_key, now + ambiguous_wait, id)
  call('HSET', state_key, id, state_text(s))
  call('HINCRBY', counts_key, 'unknown', 1)
  history(hist_key, id, now, {event = 'unknown', attempt = tonumber(s[ST_ATTEMPTS]), code = code, error = error_text,
                              wait_ms = ambiguous_wait})
end
-- The lease leaves last: until here the message was findable as in flight.
call('ZREM', inflight_key, id)
return result
