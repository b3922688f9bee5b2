-- Puts failed inbound events back at the end of the tenant's stream (a new entry each).
-- KEYS: stream, failed, failed entries
-- ARGV: dry run (0/1), then ids
-- Returns one integer per id: 1 moved (or would), 0 not in the failed set.
local stream_key, failed_key, entries_key = KEYS[1], KEYS[2], KEYS[3]
local dry = ARGV[1] == '1'
local out = {}
for i = 2, #ARGV do
  local record = call('HGET', entries_key, ARGV[i])
  if not record then
    out[#out + 1] = 0
  else
    out[#out + 1] = 1
    if not dry then
      local event = cjson.decode(record).event
      call('XADD', stream_key, '*', 'event', event)
      call('HDEL', entries_key, ARGV[i])
      call('ZREM', failed_key, ARGV[i])
    end
  end
end
return out
