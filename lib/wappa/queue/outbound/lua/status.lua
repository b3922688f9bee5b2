-- Applies status webhooks to messages of one tenant: the tenant whose phone number the webhook
-- came in on, so that no tenant can change another's messages. A status moves a message
-- forward only (sent, delivered, read, played), records a delivery failure, and resolves a send
-- whose outcome was unknown: Meta has it, so it is never sent again. A repeated or late status
-- changes nothing.
--
-- KEYS: jobs, state, hist, failed, unknown, done, counts, wamids
-- ARGV: now, retention ms, then per report: id (biz_opaque_callback_data, else joined by the
--       wamid), wamid, status, error code, error title
-- Returns how many reports named a message of this tenant.
local jobs_key, state_key, hist_key, failed_key, unknown_key, done_key, counts_key, wamids_key = unpack(KEYS, 1, 8)
local now, retention = clock(ARGV[1]), tonumber(ARGV[2])
if not (now and retention) or (#ARGV - 2) % 5 ~= 0 then return fail_input('status', 'now, retention or report count') end
local nows = string.format('%d', now)
local STAMP = {delivered = ST_DELIVERED, read = ST_READ, played = ST_READ}
local matched = 0
for b = 3, #ARGV, 5 do
  local id, wamid, new, code, title = ARGV[b], ARGV[b + 1], ARGV[b + 2], ARGV[b + 3], ARGV[b + 4]
  if (id == '' or call('HEXISTS', jobs_key, id) == 0) and wamid ~= '' then id = call('HGET', wamids_key, wamid) or '' end
  if id ~= '' and RANK[new] and new ~= 'queued' and new ~= 'sending' and new ~= 'unknown'
     and call('HEXISTS', jobs_key, id) == 1 then
    matched = matched + 1
    local s = state_of(call('HGET', state_key, id))
    local current = s[ST_STATUS]
    local changed = false
    if s[ST_WAMID] == '' and wamid ~= '' then
      s[ST_WAMID] = wamid
      call('HSET', wamids_key, wamid, id)
    end
    if new == 'failed' then
      if current ~= 'failed' then
        s[ST_STATUS], s[ST_CODE], s[ST_ERROR], s[ST_UPDATED] = 'failed', code, title ~= '' and title or 'delivery failed', nows
        call('ZADD', failed_key, now, id)
        call('HSET', state_key, id, state_text(s))
        call('ZREM', unknown_key, id)
        call('HINCRBY', counts_key, 'failed', 1)
        history(hist_key, id, now, {event = 'status', status = 'failed', wamid = wamid, code = tonumber(code), error = title})
      end
    elseif RANK[current] < RANK.sent then
      -- queued, sending, unknown or failed: Meta has it. It went out; never send it again.
      s[ST_STATUS], s[ST_UPDATED] = new, nows
      if s[ST_SENT] == '' then s[ST_SENT] = nows end
      if STAMP[new] then s[STAMP[new]] = nows end
      -- A message in flight keeps its lease: the worker's answer completes it.
      if current ~= 'sending' then call('RPUSH', done_key, string.format('%d', now + retention) .. SEP .. id) end
      call('HSET', state_key, id, state_text(s))
      call('ZREM', unknown_key, id)
      call('ZREM', failed_key, id)
      -- A message in flight is counted sent by its worker's answer; any other was never counted.
      if current ~= 'sending' then
        call('HINCRBY', counts_key, 'sent', 1)
        call('HINCRBY', counts_key, 'resolved', 1)
        history(hist_key, id, now, {event = 'resolved', status = new, previous = current, wamid = wamid})
      end
      if new ~= 'sent' then call('HINCRBY', counts_key, new, 1) end
    elseif RANK[new] > RANK[current] then
      s[ST_STATUS], s[ST_UPDATED] = new, nows
      if STAMP[new] then s[STAMP[new]] = nows end
      call('HSET', state_key, id, state_text(s))
      call('HINCRBY', counts_key, new, 1)
    end
  end
end
return matched
