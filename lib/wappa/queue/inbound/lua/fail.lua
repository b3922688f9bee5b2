-- Moves inbound events that cannot be stored to the tenant's failed set, with their error, and
-- acknowledges them: they leave the stream's pending list, and `wappa requeue --queue inbound`
-- puts them back.
-- KEYS: stream, failed (sorted set: id → failure time), failed entries (hash: id → JSON)
-- ARGV: now, group, cap, then per event: id, record (JSON: event, error, deliveries)
local stream_key, failed_key, entries_key = KEYS[1], KEYS[2], KEYS[3]
local now, group, cap = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3])
if not now or not cap or (#ARGV - 3) % 2 ~= 0 then return redis.error_reply('wappa inbound fail: bad arguments') end
local ids = {}
for i = 4, #ARGV, 2 do
  call('ZADD', failed_key, now, ARGV[i])
  call('HSET', entries_key, ARGV[i], ARGV[i + 1])
  ids[#ids + 1] = ARGV[i]
end
if #ids > 0 then call('XACK', stream_key, group, unpack(ids)) end
-- The cap: the oldest failures leave first.
local extra = call('ZCARD', failed_key) - cap
if extra > 0 then
  local oldest = call('ZRANGE', failed_key, 0, extra - 1)
  call('HDEL', entries_key, unpack(oldest))
  call('ZREM', failed_key, unpack(oldest))
end
return #ids
