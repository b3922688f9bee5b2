-- Records sends that the Graph API accepted, many per call (the acks of one event-loop turn).
--
-- KEYS: state, inflight, done, counts, paused, wamids, unknown
-- ARGV: now, retention ms, then per message: id, token, wamid, created_at, the state record its
--       claim wrote, this attempt's number
-- Returns one integer per message, 1 when recorded (its lease was still its own, or expired
-- with the outcome still unknown: this answer resolves it), else 0 (fenced), then 1 when this
-- ended a pause of the tenant, else 0.
local state_key, inflight_key, done_key, counts_key, paused_key, wamids_key, unknown_key = unpack(KEYS, 1, 7)
local now, retention = clock(ARGV[1]), tonumber(ARGV[2])
local WIDTH = 6
local n = (#ARGV - 2) / WIDTH
if not (now and retention) or n < 1 or n ~= math.floor(n) then return fail_input('sent', 'now, retention or message count') end

local ids = {}
for i = 1, n do ids[i] = ARGV[2 + (i - 1) * WIDTH + 1] end
local states = call('HMGET', state_key, unpack(ids))
local nows = string.format('%d', now)
local expires = string.format('%d', now + retention) .. SEP
local out, writes, done, leases_done, wamids = {}, {}, {}, {}, {}
local latency, sent = 0, 0
-- A claim of a message with no past (no error, status or wamid yet) leaves the fields after the
-- token empty. When the state is still exactly what the claim wrote, the new one is made in
-- one piece instead of parsed and joined again.
local FRESH_TAIL = string.rep(SEP, 7)
local SENT_TAIL = string.rep(SEP, 5)
for i = 1, n do
  local b = 2 + (i - 1) * WIDTH
  local id, token, wamid, created = ARGV[b + 1], ARGV[b + 2], ARGV[b + 3], tonumber(ARGV[b + 4]) or now
  local text = states[i]
  local s
  if text and text == ARGV[b + 5] and string.sub(text, -7) == FRESH_TAIL then
    -- status sending, attempts, deferrals, claimed at, token: this claim's record, untouched
    local deferrals = string.match(text, '^sending\31[^\31]*\31([^\31]*)\31')
    writes[#writes + 1] = id
    writes[#writes + 1] = 'sent' .. SEP .. ARGV[b + 6] .. SEP .. deferrals .. SEP .. nows .. SEP .. SEP .. wamid .. SEP .. nows .. SENT_TAIL
    done[#done + 1] = expires .. id
    if wamid ~= '' then wamids[#wamids + 1], wamids[#wamids + 2] = wamid, id end
    leases_done[#leases_done + 1] = id
    latency = latency + math.max(0, now - created)
    sent = sent + 1
    out[i] = 1
  else
    s = text and state_parse(text)
  end
  if out[i] then
    -- recorded above
  elseif not s or s[ST_TOKEN] ~= token then
    out[i] = 0
  else
    local status = s[ST_STATUS]
    s[ST_ATTEMPTS] = tostring(tonumber(s[ST_ATTEMPTS]) + 1)
    s[ST_TOKEN], s[ST_UPDATED] = '', nows
    if s[ST_WAMID] == '' then s[ST_WAMID] = wamid end
    if s[ST_SENT] == '' then s[ST_SENT] = nows end
    -- A status webhook may have come first (delivered, read... or failed): it stands.
    if status == 'sending' or status == 'unknown' then s[ST_STATUS] = 'sent' end
    writes[#writes + 1], writes[#writes + 2] = id, state_text(s)
    if s[ST_STATUS] ~= 'failed' then done[#done + 1] = expires .. id end
    if s[ST_WAMID] ~= '' then wamids[#wamids + 1], wamids[#wamids + 2] = s[ST_WAMID], id end
    leases_done[#leases_done + 1] = id
    latency = latency + math.max(0, now - created)
    sent = sent + 1
    out[i] = 1
  end
end
-- The retention entry first, the state next, the lease last: whatever line fails, nothing is
-- left sent without an end, or unsent without a lease.
for i = 1, #done, 1000 do call('RPUSH', done_key, unpack(done, i, math.min(#done, i + 999))) end
if #wamids > 0 then call('HSET', wamids_key, unpack(wamids)) end
if #writes > 0 then call('HSET', state_key, unpack(writes)) end
if #leases_done > 0 then
  call('ZREM', inflight_key, unpack(leases_done))
  if call('ZCARD', unknown_key) > 0 then call('ZREM', unknown_key, unpack(leases_done)) end
end
if sent > 0 then
  call('HINCRBY', counts_key, 'sent', sent)
  call('HINCRBY', counts_key, 'sent_latency_ms', math.floor(latency))
end
-- A send went through: the tenant's token works again.
local resumed = 0
if sent > 0 and call('EXISTS', paused_key) == 1 then
  call('DEL', paused_key)
  resumed = 1
end
out[n + 1] = resumed
return out
