-- Publishes notifications of one tenant and appends them to its event log.
-- KEYS: the tenant's event log, the event clock. ARGV: the log's cap (0 = publish only), then
-- per notification its channel and payload. Returns how many subscribers received them.
local log = event_log(KEYS[1], KEYS[2], tonumber(ARGV[1]) or 0)
local receivers = 0
for i = 2, #ARGV, 2 do receivers = receivers + log_and_publish(log, ARGV[i], ARGV[i + 1]) end
log_close(log)
return receivers
