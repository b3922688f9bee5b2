#include "wappa/core/time.hpp"

#include <ctime>

namespace wappa {

std::string format_utc(std::chrono::sys_seconds t) {
    const std::time_t secs = t.time_since_epoch().count();
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[32];
    const auto n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return std::string(buf, n);
}

std::string now_utc() {
    return format_utc(std::chrono::time_point_cast<std::chrono::seconds>(Clock::now()));
}

}  // namespace wappa
