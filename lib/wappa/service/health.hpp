#pragma once
// Parts of /api/admin/health shared by serve and worker.
#include <string>

#include "wappa/queue/outbound_queue.hpp"

namespace wappa::service {

// {"acme":{"status":"sending"},"beta":{"status":"paused","code":"190","error":"...","since":"...","next_probe":"..."}}
std::string tenants_health_json(const queue::QueueStats& stats);

// A time of the queue (Unix ms) as RFC 3339 UTC, for people.
std::string utc_of_ms(std::int64_t ms);

// ,"code":...,"error":...,"since":...,"next_probe":... of a paused tenant.
void append_pause(std::string& out, const queue::PausedTenant& paused);

}  // namespace wappa::service
