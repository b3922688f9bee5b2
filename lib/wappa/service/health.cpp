#include "wappa/service/health.hpp"

#include "wappa/core/json.hpp"
#include "wappa/core/time.hpp"

namespace wappa::service {

std::string utc_of_ms(std::int64_t ms) { return format_utc(std::chrono::sys_seconds(std::chrono::seconds(ms / 1000))); }

void append_pause(std::string& out, const queue::PausedTenant& paused) {
    out += ",\"code\":";
    json::append_string(out, paused.code);
    out += ",\"error\":";
    json::append_string(out, paused.error);
    out += ",\"since\":";
    json::append_string(out, utc_of_ms(paused.since));
    out += ",\"next_probe\":";
    json::append_string(out, utc_of_ms(paused.probe_at));
}

std::string tenants_health_json(const queue::QueueStats& stats) {
    std::string out = "{";
    bool first = true;
    for (const auto& [id, s] : stats.tenants) {
        if (!first) out += ',';
        first = false;
        json::append_string(out, id);
        if (!s.paused) {
            out += ":{\"status\":\"sending\"}";
            continue;
        }
        out += ":{\"status\":\"paused\"";
        append_pause(out, *s.paused);
        out += '}';
    }
    return out + "}";
}

}  // namespace wappa::service
