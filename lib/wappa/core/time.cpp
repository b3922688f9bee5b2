#include "wappa/core/time.hpp"


namespace wappa {

namespace {
void two_digits(char* out, unsigned v) {
    out[0] = static_cast<char>('0' + v / 10 % 10);
    out[1] = static_cast<char>('0' + v % 10);
}
}  // namespace

// Formatted by hand: it runs for every webhook event, and strftime/printf are slow.
std::string format_utc(std::chrono::sys_seconds t) {
    const auto day = std::chrono::floor<std::chrono::days>(t);
    const std::chrono::year_month_day date{day};
    const std::chrono::hh_mm_ss time{t - day};
    std::string out = "0000-00-00T00:00:00Z";
    const auto year = static_cast<unsigned>(static_cast<int>(date.year()));
    two_digits(out.data(), year / 100);
    two_digits(out.data() + 2, year % 100);
    two_digits(out.data() + 5, static_cast<unsigned>(date.month()));
    two_digits(out.data() + 8, static_cast<unsigned>(date.day()));
    two_digits(out.data() + 11, static_cast<unsigned>(time.hours().count()));
    two_digits(out.data() + 14, static_cast<unsigned>(time.minutes().count()));
    two_digits(out.data() + 17, static_cast<unsigned>(time.seconds().count()));
    return out;
}

std::string now_utc() {
    return format_utc(std::chrono::time_point_cast<std::chrono::seconds>(Clock::now()));
}

}  // namespace wappa
