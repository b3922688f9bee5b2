-- The durable event log: a notification is appended to its tenant's capped stream, then
-- published. Ids come from one clock shared by all tenants (the last id handed out), so that they
-- are unique and ordered across the tenants' logs: an admin's live view, which merges them, is
-- resumed from a single id. Within one script call the clock is read once and written once.
local function event_log(log_key, clock_key, cap)
  return {key = log_key, clock = clock_key, cap = cap, ms = nil, seq = 0, last = nil}
end

local function log_and_publish(log, channel, payload)
  if log.cap > 0 then
    if not log.ms then
      local t = redis.call('TIME')
      local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
      local last_ms, last_seq = -1, 0
      local last = call('GET', log.clock)
      if not last then   -- a lost clock: at least past this log's newest entry, or XADD would refuse
        local top = call('XREVRANGE', log.key, '+', '-', 'COUNT', 1)
        if top[1] then last = top[1][1] end
      end
      if last then
        local dash = string.find(last, '-', 1, true)
        last_ms, last_seq = tonumber(string.sub(last, 1, dash - 1)), tonumber(string.sub(last, dash + 1))
      end
      if now > last_ms then log.ms, log.seq = now, -1 else log.ms, log.seq = last_ms, last_seq end
    end
    log.seq = log.seq + 1
    log.last = string.format('%d-%d', log.ms, log.seq)
    call('XADD', log.key, 'MAXLEN', '~', log.cap, log.last, 'c', channel, 'p', payload)
  end
  return call('PUBLISH', channel, payload)
end

local function log_close(log)
  if log.last then call('SET', log.clock, log.last) end
end
