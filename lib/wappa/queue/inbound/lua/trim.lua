-- Trims a tenant's stream of what every consumer group has acknowledged: up to the oldest entry
-- still pending in some group, or, where nothing is pending, past the last one delivered.
-- KEYS: stream
-- Returns how many entries left.
local stream_key = KEYS[1]
if call('EXISTS', stream_key) == 0 then return 0 end
local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local function less(a, b)
  local am, as = parse(a)
  local bm, bs = parse(b)
  return am < bm or (am == bm and as < bs)
end
local keep
for _, group in ipairs(call('XINFO', 'GROUPS', stream_key)) do
  local info = {}
  for i = 1, #group, 2 do info[group[i]] = group[i + 1] end
  local candidate
  if tonumber(info['pending']) > 0 then
    candidate = call('XPENDING', stream_key, info['name'])[2]
  else
    local ms, seq = parse(info['last-delivered-id'])
    candidate = string.format('%d-%d', ms, seq + 1)
  end
  if not keep or less(candidate, keep) then keep = candidate end
end
if not keep then return 0 end
return call('XTRIM', stream_key, 'MINID', keep)
