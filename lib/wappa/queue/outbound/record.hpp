#pragma once
// The records the outbound scripts keep per message, read on the C++ side with the layout the
// Lua side writes (lua/prelude.lua): fields joined by \x1f.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace wappa::queue {

inline constexpr char record_separator = '\x1f';

// Written once at enqueue: created_at, not_before, sender, recipient, type, Graph body.
struct JobRecord {
    std::int64_t created_at = 0;
    std::int64_t not_before = 0;
    std::string sender;
    std::string to;
    std::string type;
    std::string body;
};
std::optional<JobRecord> parse_job_record(std::string_view text);

// The state, in this field order (prelude.lua's STATE_FIELDS, checked by a test).
inline constexpr std::array<std::string_view, 12> state_fields{
    "status", "attempts", "deferrals", "updated_at", "token", "wamid", "sent_at", "delivered_at", "read_at",
    "code", "error", "unknown"};

struct StateRecord {
    std::string status = "queued";   // queued|sending|unknown|sent|delivered|read|played|failed
    std::int64_t attempts = 0;       // attempts spent (requests that may have reached Meta)
    std::int64_t deferrals = 0;      // claims that spent none (not sent, throttled, paused)
    std::int64_t updated_at = 0;
    std::string token;               // the lease's fencing token while sending
    std::string wamid;
    std::int64_t sent_at = 0, delivered_at = 0, read_at = 0;
    std::string code;                // the last error code
    std::string error;               // the last error
    bool unknown = false;            // a send of unknown outcome happened
};
StateRecord parse_state_record(std::string_view text);
std::string format_state_record(const StateRecord& state);

// Error texts from Meta or a status webhook end up in records: no control characters.
std::string record_safe(std::string_view text);

}  // namespace wappa::queue
