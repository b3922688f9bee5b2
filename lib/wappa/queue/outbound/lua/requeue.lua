-- Moves failed messages of one lane back to its queue (attempts start again). Only a failed
-- message moves: a sent one is never sent again. One whose send outcome is unknown (it may
-- have reached the user) moves only when asked to.
--
-- KEYS: state, hist, failed, counts, ready, lanes
-- ARGV: now, wake channel, tenant, sender, include unknown (0/1), dry run (0/1), then ids
-- Returns one integer per id: 1 moved (or would move), 0 not failed, 2 skipped (unknown outcome).
local state_key, hist_key, failed_key, counts_key, ready_key, lanes_key = unpack(KEYS, 1, 6)
local now = clock(ARGV[1])
local channel, tenant, sender = ARGV[2], ARGV[3], ARGV[4]
local include_unknown, dry_run = ARGV[5] == '1', ARGV[6] == '1'
if not now or #ARGV < 7 then return fail_input('requeue', 'now or ids') end
local nows = string.format('%d', now)
local out, moved = {}, 0
for b = 7, #ARGV do
  local id = ARGV[b]
  local text = call('HGET', state_key, id)
  local s = text and state_parse(text)
  if not s or s[ST_STATUS] ~= 'failed' or call('ZSCORE', failed_key, id) == false then
    out[#out + 1] = 0
  elseif s[ST_UNKNOWN] == '1' and not include_unknown then
    out[#out + 1] = 2
  else
    out[#out + 1] = 1
    if not dry_run then
      s[ST_STATUS], s[ST_ATTEMPTS], s[ST_DEFERRALS], s[ST_UPDATED], s[ST_UNKNOWN] = 'queued', '0', '0', nows, ''
      call('ZADD', ready_key, now, id)
      call('HSET', state_key, id, state_text(s))
      history(hist_key, id, now, {event = 'requeued'})
      call('ZREM', failed_key, id)
      moved = moved + 1
    end
  end
end
if moved > 0 then
  call('HINCRBY', counts_key, 'requeued', moved)
  wake(lanes_key, channel, tenant, sender, now)
end
return out
