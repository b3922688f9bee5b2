-- The upkeep of one tenant's queue, each step bounded by `limit`, run by the workers when it
-- is due (the result says when next):
--   1. sent messages past their retention leave (record, state, history);
--   2. the failed set keeps its age limit and its cap (this tenant's own: one tenant's flood
--      never evicts another's failures);
--   3. pair-limit states far ahead that have passed leave;
--   4. expired leases (a worker died or hung, maybe after its request left): the outcome is
--      unknown;
--   5. sends of unknown outcome whose wait for a status webhook is over: failed, or queued
--      again (on_ambiguous = "retry");
--   6. with `repair`, a slice of the state hash is checked for a message left `sending`
--      without a lease (after a script that failed part-way): it gets an expired lease, so
--      step 4 takes it on the next run.
-- Removals come first: on a full Redis (noeviction) they still run and free memory.
--
-- KEYS: jobs, state, hist, inflight, unknown, failed, done, counts, pairs:long, pairs:until,
--       repair cursor, lanes, wamids, then the ready key of each sender in ARGV
-- ARGV: now, wake channel, tenant, retention ms, failed max, failed max age ms, ambiguous
--       wait ms, retry ambiguous (0/1), limit, repair (0/1), then the tenant's senders
-- Returns {next_due (0 = nothing scheduled), now, expired, dropped, leases expired, unknown settled,
--          repaired, 1 when a sender was missing from ARGV}
local jobs_key, state_key, hist_key, inflight_key, unknown_key = unpack(KEYS, 1, 5)
local failed_key, done_key, counts_key, pairs_long, pairs_until, repair_key, lanes_key, wamids_key = unpack(KEYS, 6, 13)
local now = clock(ARGV[1])
local channel, tenant = ARGV[2], ARGV[3]
local retention, failed_max, failed_max_age = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local ambiguous_wait, retry_ambiguous, limit, repair = tonumber(ARGV[7]), ARGV[8] == '1', tonumber(ARGV[9]), ARGV[10] == '1'
if not (now and retention and failed_max and failed_max_age and ambiguous_wait and limit) then
  return fail_input('sweep', 'a number')
end
local ready_of = {}
for i = 11, #ARGV do
  ready_of[ARGV[i]] = KEYS[13 + i - 10]
  if not ready_of[ARGV[i]] then return fail_input('sweep', 'a ready key per sender') end
end
local nows = string.format('%d', now)
local function forget(ids)
  if #ids == 0 then return end
  local wamids = {}
  for _, text in ipairs(call('HMGET', state_key, unpack(ids))) do
    if text then
      local wamid = state_parse(text)[ST_WAMID]
      if wamid ~= '' then wamids[#wamids + 1] = wamid end
    end
  end
  if #wamids > 0 then call('HDEL', wamids_key, unpack(wamids)) end
  call('HDEL', jobs_key, unpack(ids))
  call('HDEL', state_key, unpack(ids))
  call('HDEL', hist_key, unpack(ids))
end
local DONE = {sent = true, delivered = true, read = true, played = true}

-- 1. Retention: `done` lists "expires_at\31id" in the order they were sent.
local expired, taken = {}, 0
for _, entry in ipairs(call('LRANGE', done_key, 0, limit - 1)) do
  local sep = string.find(entry, SEP, 1, true)
  if tonumber(string.sub(entry, 1, sep - 1)) > now then break end
  taken = taken + 1
  local id = string.sub(entry, sep + 1)
  local text = call('HGET', state_key, id)
  local s = text and state_parse(text)
  -- Requeued and sent again since, or failed since (the failed set keeps it): not yet.
  if s and DONE[s[ST_STATUS]] and tonumber(s[ST_SENT]) and tonumber(s[ST_SENT]) + retention <= now then
    expired[#expired + 1] = id
  end
end
forget(expired)
if taken > 0 then call('LTRIM', done_key, taken, -1) end
if #expired > 0 then call('HINCRBY', counts_key, 'expired', #expired) end

-- 2. The failed set: its age limit, then its cap.
local dropped = call('ZRANGEBYSCORE', failed_key, '-inf', now - failed_max_age, 'LIMIT', 0, limit)
local extra = call('ZCARD', failed_key) - #dropped - failed_max
if extra > 0 then
  for _, id in ipairs(call('ZRANGE', failed_key, #dropped, #dropped + math.min(extra, limit) - 1)) do dropped[#dropped + 1] = id end
end
if #dropped > 0 then
  forget(dropped)
  call('ZREM', failed_key, unpack(dropped))
  call('HINCRBY', counts_key, 'dropped', #dropped)
end

-- 3. Pair-limit states that were far ahead and have passed.
local stale_pairs = call('ZRANGEBYSCORE', pairs_until, '-inf', now, 'LIMIT', 0, limit)
if #stale_pairs > 0 then
  call('HDEL', pairs_long, unpack(stale_pairs))
  call('ZREM', pairs_until, unpack(stale_pairs))
end

-- 4. Expired leases.
local lapsed = 0
for _, id in ipairs(call('ZRANGEBYSCORE', inflight_key, '-inf', now, 'LIMIT', 0, limit)) do
  local text = call('HGET', state_key, id)
  local s = text and state_parse(text)
  if s and s[ST_STATUS] == 'sending' then
    -- The token stays: a late answer of this very send still resolves it.
    s[ST_STATUS], s[ST_UNKNOWN], s[ST_UPDATED] = 'unknown', '1', nows
    s[ST_ATTEMPTS] = tostring(tonumber(s[ST_ATTEMPTS]) + 1)
    s[ST_CODE], s[ST_ERROR] = '-1', 'outcome unknown: the lease expired while sending'
    call('ZADD', unknown_key, now + ambiguous_wait, id)
    call('HSET', state_key, id, state_text(s))
    call('HINCRBY', counts_key, 'unknown', 1)
    history(hist_key, id, now, {event = 'lease_expired', wait_ms = ambiguous_wait})
    lapsed = lapsed + 1
  end
  call('ZREM', inflight_key, id)
end

-- 5. Unknown outcomes whose wait is over, no status having resolved them.
local settled, missing_sender = 0, 0
for _, id in ipairs(call('ZRANGEBYSCORE', unknown_key, '-inf', now, 'LIMIT', 0, limit)) do
  local text = call('HGET', state_key, id)
  local s = text and state_parse(text)
  local record = call('HGET', jobs_key, id)
  if s and record and s[ST_STATUS] == 'unknown' then
    if retry_ambiguous then
      local sender = job_parse(record).sender
      local ready_key = ready_of[sender]
      if ready_key then
        s[ST_STATUS], s[ST_UPDATED], s[ST_TOKEN] = 'queued', nows, ''
        call('ZADD', ready_key, now, id)
        call('HSET', state_key, id, state_text(s))
        wake(lanes_key, channel, tenant, sender, now)
        history(hist_key, id, now, {event = 'unknown_retried'})
        call('ZREM', unknown_key, id)
        settled = settled + 1
      else
        missing_sender = 1
      end
    else
      s[ST_STATUS], s[ST_UPDATED], s[ST_CODE], s[ST_TOKEN] = 'failed', nows, '-1', ''
      s[ST_ERROR] = 'outcome unknown: no status webhook came within the ambiguous wait'
      call('ZADD', failed_key, now, id)
      call('HSET', state_key, id, state_text(s))
      call('HINCRBY', counts_key, 'failed', 1)
      history(hist_key, id, now, {event = 'failed', reason = 'outcome unknown', code = -1})
      call('ZREM', unknown_key, id)
      settled = settled + 1
    end
  else
    call('ZREM', unknown_key, id)
  end
end

-- 6. Repair: `sending` without a lease gets an expired one.
local repaired = 0
if repair then
  local cursor = call('GET', repair_key) or '0'
  local scan = call('HSCAN', state_key, cursor, 'COUNT', limit)
  local fields = scan[2]
  for i = 1, #fields, 2 do
    local s = state_parse(fields[i + 1])
    if s[ST_STATUS] == 'sending' and call('ZSCORE', inflight_key, fields[i]) == false then
      call('ZADD', inflight_key, now, fields[i])
      repaired = repaired + 1
    end
  end
  if scan[1] == '0' then call('DEL', repair_key) else call('SET', repair_key, scan[1]) end
  if repaired > 0 then call('HINCRBY', counts_key, 'repaired', repaired) end
end

-- When this tenant next needs upkeep.
local next_due = 0
local function sooner(t)
  if t and (next_due == 0 or t < next_due) then next_due = t end
end
local head = call('LINDEX', done_key, 0)
if head then sooner(tonumber(string.sub(head, 1, string.find(head, SEP, 1, true) - 1))) end
local oldest = call('ZRANGE', failed_key, 0, 0, 'WITHSCORES')
if #oldest > 0 then sooner(tonumber(oldest[2]) + failed_max_age) end
for _, key in ipairs({inflight_key, unknown_key, pairs_until}) do
  local first = call('ZRANGE', key, 0, 0, 'WITHSCORES')
  if #first > 0 then sooner(tonumber(first[2])) end
end
if repaired > 0 or lapsed >= limit or settled >= limit or #expired >= limit or #dropped >= limit then sooner(now) end
return {math.floor(next_due), now, #expired, #dropped, lapsed, settled, repaired, missing_sender}
