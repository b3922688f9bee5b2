-- Queues jobs of one tenant, many per call so that the per-call cost is paid once per batch.
--
-- KEYS: jobs, state, counts, lanes, numbers, pairs:0, pairs:1, pairs:long, pairs:until, then per segment
--       (the jobs of one sender and pair limit) that sender's fifo and ready keys, then with
--       notify the tenant's event log and the event clock.
-- ARGV: now, wake channel, tenant, notify ('' = no notifications, else the event log's cap, 0 =
--       publish without logging), repeats (1 when an id or a recipient occurs
--       twice in the call), segment count, then per segment: sender, pair interval ms (0 =
--       none), burst, job count, and per job: id, pair key, text ("recipient\31type\31body"),
--       and with notify the notification's channel and payload.
-- Returns "" when every job was queued, else one line per job in argument order: "q" (queued),
-- "e<status>" (the same job exists) or "c<status>" (the id exists with another body).
local jobs_key, state_key, counts_key, lanes_key, numbers_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local pairs_even, pairs_odd, pairs_long, pairs_until = KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local now = clock(ARGV[1])
local wake_channel, tenant = ARGV[2], ARGV[3]
local notify, repeats = ARGV[4] ~= '', ARGV[5] == '1'
local segment_count = tonumber(ARGV[6])

-- Every argument is checked before the first write.
if not now or not segment_count then return fail_input('enqueue', 'now or segment count') end
local width = notify and 5 or 3
local segments, ids, pair_of, total = {}, {}, {}, 0
local b = 6
for s = 1, segment_count do
  local interval, burst, count = tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3]), tonumber(ARGV[b + 4])
  local fifo_key, ready_key = KEYS[8 + 2 * s], KEYS[9 + 2 * s]
  if not (interval and burst and count and fifo_key and ready_key) then return fail_input('enqueue', 'segment ' .. s) end
  segments[s] = {sender = ARGV[b + 1], interval = interval, burst = burst, count = count, first = b + 4,
                 fifo = fifo_key, ready = ready_key}
  b = b + 4
  for _ = 1, count do
    total = total + 1
    ids[total], pair_of[total] = ARGV[b + 1], ARGV[b + 2]
    b = b + width
  end
end
if b ~= #ARGV or total == 0 then return fail_input('enqueue', 'job count') end

local existing = call('HMGET', jobs_key, unpack(ids))
local known = false
for i = 1, total do known = known or existing[i] ~= false end
local statuses = {}
if known then
  local found = call('HMGET', state_key, unpack(ids))
  for i = 1, total do statuses[i] = found[i] and state_parse(found[i])[ST_STATUS] or 'queued' end
end

-- Pair limit (GCRA per sender and recipient), planned now: a throttled recipient's messages
-- wait in order, alone. A state "tat last" lives in the hash of its 10-minute generation, the
-- two hashes taking turns (field "\0g" names a hash's generation: an older one is cleared
-- before reuse); a state further ahead than a generation goes to `pairs:long`, trimmed by the
-- sweep. States only grow, so the largest found is the current one.
local W = 600000
local g = math.floor(now / W)
local current, previous = pairs_even, pairs_odd
if g % 2 == 1 then current, previous = pairs_odd, pairs_even end
local any_pair = false
for _, segment in ipairs(segments) do any_pair = any_pair or segment.interval > 0 end
local in_current, in_previous, in_long, current_stale = {}, {}, {}, false
if any_pair then
  local gens = {call('HGET', current, '\0g'), call('HGET', previous, '\0g')}
  current_stale = gens[1] ~= false and tonumber(gens[1]) ~= g
  if not current_stale then in_current = call('HMGET', current, unpack(pair_of)) end
  if gens[2] and tonumber(gens[2]) == g - 1 then in_previous = call('HMGET', previous, unpack(pair_of)) end
  if call('EXISTS', pairs_long) == 1 then in_long = call('HMGET', pairs_long, unpack(pair_of)) end
end
local function newest(state, tat, last)
  if state then
    local sep = string.find(state, ' ', 1, true)
    tat = math.max(tat, tonumber(string.sub(state, 1, sep - 1)))
    last = math.max(last, tonumber(string.sub(state, sep + 1)))
  end
  return tat, last
end
local function body_of_text(text)  -- "recipient\31type\31body"
  local a = string.find(text, SEP, 1, true)
  return string.sub(text, string.find(text, SEP, a + 1, true) + 1)
end

local nows = string.format('%d', now)
local check = known or repeats
local out, any_out = {}, false
local seen, pair_state = {}, {}
local records, r = {}, 0
local pair_writes, pw, long_writes, long_until, lw = {}, 0, {}, {}, 0
local plans = {}
local publishes = {}
local j = 0
for s, segment in ipairs(segments) do
  local pi, burst = segment.interval, segment.burst
  -- A recipient with no state (the common case: a campaign) is planned now; its new state is
  -- the same for all of them, formatted once.
  local fresh = string.format('%d', now + pi) .. ' ' .. nows
  local record_head = nows .. SEP
  local due_now, later, earliest = {}, {}, nil
  b = segment.first
  for _ = 1, segment.count do
    j = j + 1
    local id, pair, text = ARGV[b + 1], ARGV[b + 2], ARGV[b + 3]
    local prior, status
    if check then
      if seen[id] then
        prior, status = seen[id], 'queued'
      elseif existing[j] then
        prior, status = job_parse(existing[j]).body, statuses[j]
      end
    end
    if prior then
      local same = prior == body_of_text(text)
      out[j] = (same and 'e' or 'c') .. status
      any_out = true
    else
      local at, at_text = now, nows
      if pi > 0 then
        local tat, last = 0, 0
        if repeats and pair_state[pair] then
          tat, last = pair_state[pair][1], pair_state[pair][2]
        else
          tat, last = newest(in_current[j], tat, last)
          tat, last = newest(in_previous[j], tat, last)
          tat, last = newest(in_long[j], tat, last)
        end
        local planned
        if tat == 0 then
          planned, tat, last = fresh, now + pi, now
        else
          at = math.max(now, tat - (burst - 1) * pi, last + 0.001)
          at_text = string.format('%d', math.floor(at))
          tat, last = math.max(tat, at) + pi, at
          planned = string.format('%.3f', tat) .. ' ' .. string.format('%.3f', last)
        end
        if repeats then pair_state[pair] = {tat, last} end
        -- A recipient repeated in the call is written more than once: HSET keeps the last.
        if tat - now < W then
          pair_writes[pw + 1], pair_writes[pw + 2], pw = pair, planned, pw + 2
        else
          long_writes[lw + 1], long_writes[lw + 2], long_until[lw + 1], long_until[lw + 2], lw = pair, planned, string.format('%.3f', tat), pair, lw + 2
        end
      end
      records[r + 1], records[r + 2], r = id, record_head .. at_text .. SEP .. segment.sender .. SEP .. text, r + 2
      if check then seen[id] = body_of_text(text) end
      if at == now then
        due_now[#due_now + 1] = nows .. SEP .. id
        earliest = now
      else
        later[#later + 1], later[#later + 2] = string.format('%.3f', at), id
        if not earliest or at < earliest then earliest = at end
      end
      if notify and ARGV[b + 4] ~= '' then
        publishes[#publishes + 1], publishes[#publishes + 2] = ARGV[b + 4], ARGV[b + 5]
      end
    end
    b = b + width
  end
  plans[s] = {due_now = due_now, later = later, earliest = earliest}
end

-- Writes, scheduling first: a lane entry whose record is missing is dropped by the claim, while
-- a record that nothing schedules would never be sent.
local queued = 0
for s, segment in ipairs(segments) do
  local plan = plans[s]
  for i = 1, #plan.due_now, 1000 do call('RPUSH', segment.fifo, unpack(plan.due_now, i, math.min(#plan.due_now, i + 999))) end
  for i = 1, #plan.later, 1000 do call('ZADD', segment.ready, unpack(plan.later, i, math.min(#plan.later, i + 999))) end
  queued = queued + #plan.due_now + #plan.later / 2
end
for i = 1, r, 1000 do call('HSET', jobs_key, unpack(records, i, math.min(r, i + 999))) end
if pw > 0 then
  if current_stale then call('UNLINK', current) end
  call('HSET', current, '\0g', g, unpack(pair_writes, 1, pw))
  call('PEXPIREAT', current, (g + 2) * W)
end
if lw > 0 then
  call('HSET', pairs_long, unpack(long_writes, 1, lw))
  call('ZADD', pairs_until, unpack(long_until, 1, lw))
end
if queued > 0 then call('HINCRBY', counts_key, 'queued', queued) end
for s, segment in ipairs(segments) do
  if plans[s].earliest then
    call('SADD', numbers_key, segment.sender)
    wake(lanes_key, wake_channel, tenant, segment.sender, plans[s].earliest)
  end
end
-- Notifications last: none goes out for a job that was not stored.
if #publishes > 0 then
  local log = event_log(KEYS[#KEYS - 1], KEYS[#KEYS], tonumber(ARGV[4]) or 0)
  for i = 1, #publishes, 2 do log_and_publish(log, publishes[i], publishes[i + 1]) end
  log_close(log)
end
if not any_out then return '' end
for i = 1, total do out[i] = out[i] or 'q' end
return table.concat(out, '\n')
