-- Shared by every outbound script, joined in front of it at build time.
--
-- Every key a script touches arrives in KEYS and goes through `call` (in the tests `call` is
-- replaced by a version that refuses any key not in KEYS). The keys of one tenant share its
-- hash tag, so each script runs in one Redis Cluster slot.
--
-- Times are Unix milliseconds of the server's clock, or of the clock a test injects (ARGV[1]).
local SEP = '\31'
local function clock(injected)
  if injected ~= '' then return tonumber(injected) end
  local t = call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function fail_input(script, what)
  return redis.error_reply('wappa ' .. script .. ': bad argument: ' .. what)
end

-- The job record (hash `jobs`, written once at enqueue): created_at, not_before, sender,
-- recipient, type and the Graph body, joined by \31 (the body is JSON, which holds no raw
-- control character). The C++ side reads it with the same layout (record.hpp).
local function job_parse(job)
  local a = string.find(job, SEP, 1, true)
  local b = string.find(job, SEP, a + 1, true)
  local c = string.find(job, SEP, b + 1, true)
  local d = string.find(job, SEP, c + 1, true)
  local e = string.find(job, SEP, d + 1, true)
  return {created = string.sub(job, 1, a - 1), not_before = string.sub(job, a + 1, b - 1),
          sender = string.sub(job, b + 1, c - 1), to = string.sub(job, c + 1, d - 1),
          type = string.sub(job, d + 1, e - 1), body = string.sub(job, e + 1)}
end

-- The state record (hash `state`; absent = queued and never claimed), fields in this order:
local STATE_FIELDS = {'status', 'attempts', 'deferrals', 'updated_at', 'token', 'wamid', 'sent_at',
                      'delivered_at', 'read_at', 'code', 'error', 'unknown'}
local ST_STATUS, ST_ATTEMPTS, ST_DEFERRALS, ST_UPDATED, ST_TOKEN, ST_WAMID, ST_SENT, ST_DELIVERED,
      ST_READ, ST_CODE, ST_ERROR, ST_UNKNOWN = 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12
local function state_parse(text)
  local s, i, start = {}, 1, 1
  while i < 12 do
    local p = string.find(text, SEP, start, true)
    if not p then break end
    s[i] = string.sub(text, start, p - 1)
    i, start = i + 1, p + 1
  end
  s[i] = string.sub(text, start)
  for k = i + 1, 12 do s[k] = '' end
  return s
end
local function state_of(text)
  if text then return state_parse(text) end
  return {'queued', '0', '0', '', '', '', '', '', '', '', '', ''}
end
local function state_text(s) return table.concat(s, SEP, 1, 12) end

-- Where a status stands: it only ever moves up (a late `delivered` never undoes a `read`).
-- `sending` and `unknown` are below `sent`: a status webhook resolves them.
local RANK = {queued = 0, sending = 1, unknown = 1, failed = 1, sent = 2, delivered = 3, read = 4, played = 5}

-- History (hash `hist`): the exceptional events of a message (retries, deferrals, failures,
-- resolutions, requeues), JSON objects joined by \30, the newest 50 kept.
local HISTORY_KEPT = 50
local function history(hist_key, id, now, entry)
  entry.at = now
  local old = call('HGET', hist_key, id)
  local line = cjson.encode(entry)
  if old then
    local _, events = string.gsub(old, '\30', '')
    if events + 1 >= HISTORY_KEPT then old = string.sub(old, string.find(old, '\30', 1, true) + 1) end
    line = old .. '\30' .. line
  end
  call('HSET', hist_key, id, line)
end

-- A lane (one sender of one tenant) has work sooner than it had: idle workers sleep until
-- their lanes' due times, so they are told on the wake channel.
local function wake(lanes_key, channel, tenant, sender, at)
  if call('ZADD', lanes_key, 'LT', 'CH', at, sender) == 1 and channel ~= '' then
    call('PUBLISH', channel, tenant .. SEP .. sender .. SEP .. string.format('%d', at))
  end
end
