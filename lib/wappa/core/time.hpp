#pragma once
#include <chrono>
#include <string>

namespace wappa {
using Clock = std::chrono::system_clock;
// RFC 3339 UTC with second precision: "2024-01-15T10:30:00Z".
std::string format_utc(std::chrono::sys_seconds t);
std::string now_utc();
}  // namespace wappa
