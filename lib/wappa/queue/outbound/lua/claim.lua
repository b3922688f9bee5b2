-- Claims up to `max` due messages of one lane (one sender of one tenant) within the sender's
-- rate, under a lease that every outcome must present the token of (fencing).
--
-- KEYS: jobs, state, fifo, ready, lanes, rate, inflight, paused, cool, paircool
-- ARGV: now, sender, max, lease ms, token, rate interval ms (0 = none)
-- Returns {next_due, now, then per message: id, job record, attempts spent, deferrals, the state
-- record written (the ack presents it back)}. next_due is when the lane may next have work (0:
-- nothing queued). The client parses the job record: every string made here costs Redis's one
-- core, whereas the client has its own.
local jobs_key, state_key, fifo_key, ready_key, lanes_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local rate_key, inflight_key, paused_key, cool_key, paircool_key = KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10]
local now = clock(ARGV[1])
local sender, max, lease, token, interval = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6])
if not (now and max and lease and interval) or token == '' or max < 1 then return fail_input('claim', 'now, max, lease, token or interval') end

-- A paused tenant (its token was refused) sends one probe when its probe time comes.
local probe_at = call('HGET', paused_key, 'probe_at')
if probe_at then
  probe_at = tonumber(probe_at)
  if now < probe_at then return {probe_at, now} end
  max = 1
end
-- A throttled sender, or tenant, waits out its cool-down ("until level at").
local cools = call('HMGET', cool_key, 'tenant', 'sender:' .. sender)
local cooling = 0
for i = 1, 2 do
  if cools[i] then cooling = math.max(cooling, tonumber(string.sub(cools[i], 1, string.find(cools[i], ' ', 1, true) - 1))) end
end
if cooling > now then return {cooling, now} end

-- The sender's rate (GCRA): the theoretical arrival time moves one interval on per send; a
-- burst of 100 ms of its rate is tolerated, so that one claim can take several messages.
local tolerance = math.max(interval, 100)
local tat = math.max(tonumber(call('HGET', rate_key, sender) or '0'), now)
local allowed = max
if interval > 0 then allowed = math.min(allowed, math.floor((now + tolerance - tat) / interval) + 1) end
if allowed < 1 then return {tat - tolerance, now} end

-- Candidates in not-before order: the fifo (queued due now, "at\31id") merged with the ready
-- set (planned later: pair limit, retries, deferrals; on a tie the ready set first, so that a
-- deferred message back at its place goes before those queued at the same time). Scores within
-- the current millisecond are due: messages held behind a cooling recipient wait at fractions
-- of a millisecond after its cool-down, in their order.
local window = allowed + 16
local fifo = call('LRANGE', fifo_key, 0, window - 1)
local ready = call('ZRANGEBYSCORE', ready_key, '-inf', '(' .. string.format('%d', now + 1), 'WITHSCORES', 'LIMIT', 0, window)
local ids, from_fifo = {}, {}
if #ready == 0 then
  -- The common case: only the fifo, already in order.
  for f = 1, #fifo do
    ids[f], from_fifo[f] = string.sub(fifo[f], string.find(fifo[f], SEP, 1, true) + 1), true
  end
else
  local f, k = 1, 1
  while (f <= #fifo or k < #ready) and #ids < window do
    local fifo_at, fifo_sep
    if f <= #fifo then
      fifo_sep = string.find(fifo[f], SEP, 1, true)
      fifo_at = tonumber(string.sub(fifo[f], 1, fifo_sep - 1))
    end
    local n = #ids + 1
    if fifo_at and (k >= #ready or fifo_at < tonumber(ready[k + 1])) then
      ids[n], from_fifo[n] = string.sub(fifo[f], fifo_sep + 1), true
      f = f + 1
    else
      ids[n], from_fifo[n] = ready[k], false
      k = k + 2
    end
  end
end
-- When the lane has work next: its first entry's time, not before the rate allows.
local function next_due()
  local head
  local first = call('LINDEX', fifo_key, 0)
  if first then head = tonumber(string.sub(first, 1, string.find(first, SEP, 1, true) - 1)) end
  local first_ready = call('ZRANGE', ready_key, 0, 0, 'WITHSCORES')
  if #first_ready > 0 then head = math.min(head or math.huge, tonumber(first_ready[2])) end
  if not head then return nil end
  local at = math.max(head, interval > 0 and tat - tolerance or head)
  if probe_at then at = math.max(at, tonumber(call('HGET', paused_key, 'probe_at'))) end
  return at
end

if #ids == 0 then
  local at = next_due()
  if not at then
    call('ZREM', lanes_key, sender)
    return {0, now}
  end
  call('ZADD', lanes_key, at, sender)
  return {at, now}
end

local records = call('HMGET', jobs_key, unpack(ids))
local states = call('HMGET', state_key, unpack(ids))
-- Recipients cooling down after a pair-limit answer (rare: only then are records parsed here).
local jobs, pair_cools = {}, {}
if call('EXISTS', paircool_key) == 1 then
  local pairs = {}
  for i = 1, #ids do
    if records[i] then
      jobs[i] = job_parse(records[i])
      pairs[i] = sender .. ':' .. jobs[i].to
    else
      pairs[i] = ''
    end
  end
  pair_cools = call('HMGET', paircool_key, unpack(pairs))
end

local nows = string.format('%d', now)
local fresh = table.concat({'sending', '0', '0', nows, token, '', '', '', '', '', '', ''}, SEP)
local out = {0, now}
local leases, state_writes, moved, fifo_taken, ready_taken = {}, {}, {}, 0, {}
local lease_until = now + lease
local claimed, seen = 0, {}
for i = 1, #ids do
  if claimed >= allowed then break end
  local id = ids[i]
  local status = states[i] and state_parse(states[i]) or nil
  if from_fifo[i] then fifo_taken = fifo_taken + 1 else ready_taken[#ready_taken + 1] = id end
  if seen[id] or not records[i] or (status and status[ST_STATUS] ~= 'queued') then
    -- Stale: its record is gone (expired, dropped), it is already sending, sent or failed, or
    -- the lane holds it twice.
  else
    seen[id] = true
    local pair_cool = pair_cools[i]
    if pair_cool and tonumber(string.sub(pair_cool, 1, string.find(pair_cool, ' ', 1, true) - 1)) > now then
      -- Its recipient is cooling down: it waits, after those of the same recipient already
      -- waiting, so that messages to one recipient keep their order.
      local p = {}
      for part in string.gmatch(pair_cool, '[^ ]+') do p[#p + 1] = part end
      local seq = tonumber(p[4] or '0') + 1
      call('HSET', paircool_key, sender .. ':' .. jobs[i].to, p[1] .. ' ' .. p[2] .. ' ' .. p[3] .. ' ' .. seq)
      moved[#moved + 1], moved[#moved + 2] = string.format('%.3f', tonumber(p[1]) + seq / 1000), id
      if not from_fifo[i] then ready_taken[#ready_taken] = nil end
    else
      claimed = claimed + 1
      leases[#leases + 1], leases[#leases + 2] = lease_until, id
      local text = fresh
      if status then
        status[ST_STATUS], status[ST_UPDATED], status[ST_TOKEN] = 'sending', nows, token
        text = state_text(status)
      end
      state_writes[#state_writes + 1], state_writes[#state_writes + 2] = id, text
      out[#out + 1] = id
      out[#out + 1] = records[i]
      out[#out + 1] = status and tonumber(status[ST_ATTEMPTS]) or 0
      out[#out + 1] = status and tonumber(status[ST_DEFERRALS]) or 0
      out[#out + 1] = text
    end
  end
end

-- Writes: the lease first, then the state, then the lane entries leave. Whatever line fails,
-- the message stays findable, and a message already `sending` is never claimed twice.
if #leases > 0 then call('ZADD', inflight_key, unpack(leases)) end
if #state_writes > 0 then call('HSET', state_key, unpack(state_writes)) end
if #moved > 0 then call('ZADD', ready_key, unpack(moved)) end
if fifo_taken > 0 then call('LTRIM', fifo_key, fifo_taken, -1) end
if #ready_taken > 0 then call('ZREM', ready_key, unpack(ready_taken)) end
if claimed > 0 then
  tat = tat + claimed * interval
  call('HSET', rate_key, sender, string.format('%.3f', tat))
  if probe_at then call('HSET', paused_key, 'probe_at', string.format('%d', now + tonumber(call('HGET', paused_key, 'probe_every') or '60000'))) end
end

local at = next_due()
if not at then
  call('ZREM', lanes_key, sender)
else
  call('ZADD', lanes_key, at, sender)
  out[1] = at
end
return out
