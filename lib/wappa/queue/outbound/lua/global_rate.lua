-- The global send rate (outbound.rate_global) over every tenant: a GCRA in its own small key.
-- Takes up to `want` sends now; a negative `want` gives unused ones back.
--
-- KEYS: the global rate key
-- ARGV: now, interval ms, want
-- Returns {granted, next_allowed}.
local rate_key = KEYS[1]
local now, interval, want = clock(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
if not (now and interval and want) or interval <= 0 then return fail_input('global_rate', 'now, interval or want') end
local tolerance = math.max(interval, 100)
local tat = math.max(tonumber(call('GET', rate_key) or '0'), now)
if want < 0 then
  tat = math.max(now, tat + want * interval)
  call('SET', rate_key, string.format('%.3f', tat), 'PX', math.floor(tat - now) + 60000)
  return {0, math.floor(tat - tolerance)}
end
local granted = math.max(0, math.min(want, math.floor((now + tolerance - tat) / interval) + 1))
if granted > 0 then
  tat = tat + granted * interval
  call('SET', rate_key, string.format('%.3f', tat), 'PX', math.floor(tat - now) + 60000)
end
return {granted, math.floor(tat - tolerance)}
