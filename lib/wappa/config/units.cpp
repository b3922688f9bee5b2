#include "wappa/config/units.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace wappa::config {
namespace {

struct NumberAndUnit {
    double number = 0;
    std::string_view unit;
};

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

Result<NumberAndUnit> split_number(std::string_view text, std::string_view what) {
    text = trim(text);
    NumberAndUnit out;
    const auto* begin = text.data();
    const auto* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(begin, end, out.number);
    if (ec != std::errc{} || ptr == begin || !std::isfinite(out.number)) {
        return Error{"'" + std::string(text) + "' is not a " + std::string(what)};
    }
    if (out.number < 0) return Error{"'" + std::string(text) + "': a " + std::string(what) + " cannot be negative"};
    out.unit = trim(std::string_view(ptr, static_cast<std::size_t>(end - ptr)));
    return out;
}

std::string format_number(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.10g", v);
    return buf;
}

}  // namespace

Result<Duration> parse_duration(std::string_view text) {
    auto parsed = split_number(text, "duration (e.g. \"250ms\", \"30s\", \"5m\", \"1h\")");
    if (!parsed) return parsed.error();
    double ms_per_unit = 0;
    const auto unit = parsed->unit;
    if (unit.empty() || unit == "s") ms_per_unit = 1000;
    else if (unit == "ms") ms_per_unit = 1;
    else if (unit == "m" || unit == "min") ms_per_unit = 60'000;
    else if (unit == "h") ms_per_unit = 3'600'000;
    else if (unit == "d") ms_per_unit = 86'400'000;
    else return Error{"'" + std::string(trim(text)) + "': unknown duration unit '" + std::string(unit) + "' (use ms, s, m, h or d)"};
    // Past this the milliseconds would not fit in 64 bits (found by fuzz_config): 100 years is
    // already more than any setting means.
    constexpr double max_ms = 100.0 * 365 * 86'400'000;
    if (parsed->number * ms_per_unit > max_ms) return Error{"'" + std::string(trim(text)) + "': a duration is at most 100 years"};
    return Duration(static_cast<Duration::rep>(std::llround(parsed->number * ms_per_unit)));
}

Result<Bytes> parse_size(std::string_view text) {
    auto parsed = split_number(text, "size (e.g. \"512KiB\", \"1MiB\")");
    if (!parsed) return parsed.error();
    double factor = 0;
    const auto unit = parsed->unit;
    if (unit.empty() || unit == "B") factor = 1;
    else if (unit == "KiB") factor = 1024.0;
    else if (unit == "MiB") factor = 1024.0 * 1024;
    else if (unit == "GiB") factor = 1024.0 * 1024 * 1024;
    else if (unit == "KB" || unit == "kB") factor = 1e3;
    else if (unit == "MB") factor = 1e6;
    else if (unit == "GB") factor = 1e9;
    else return Error{"'" + std::string(trim(text)) + "': unknown size unit '" + std::string(unit) + "' (use B, KiB, MiB, GiB, KB, MB or GB)"};
    if (parsed->number * factor > 1e15) return Error{"'" + std::string(trim(text)) + "': a size is at most 1 PB"};
    return Bytes{static_cast<std::uint64_t>(std::llround(parsed->number * factor))};
}

Result<Rate> parse_rate(std::string_view text) {
    const auto slash = text.find('/');
    if (slash != std::string_view::npos) {
        auto num = split_number(text.substr(0, slash), "rate (messages per second, e.g. 80 or \"1/6\")");
        auto den = split_number(text.substr(slash + 1), "rate (messages per second, e.g. 80 or \"1/6\")");
        if (!num) return num.error();
        if (!den) return den.error();
        if (!num->unit.empty() || !den->unit.empty() || den->number == 0) {
            return Error{"'" + std::string(trim(text)) + "' is not a rate (messages per second, e.g. 80 or \"1/6\")"};
        }
        return Rate{num->number / den->number};
    }
    auto parsed = split_number(text, "rate (messages per second, e.g. 80 or \"1/6\")");
    if (!parsed) return parsed.error();
    if (!parsed->unit.empty()) {
        return Error{"'" + std::string(trim(text)) + "' is not a rate (messages per second, e.g. 80 or \"1/6\")"};
    }
    return Rate{parsed->number};
}

Result<Address> parse_address(std::string_view text) {
    text = trim(text);
    const auto bad = [&] { return Error{"'" + std::string(text) + "' is not an address of the form \"host:port\""}; };
    std::string_view host;
    std::string_view port;
    if (!text.empty() && text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') return bad();
        host = text.substr(1, close - 1);
        port = text.substr(close + 2);
    } else {
        const auto colon = text.rfind(':');
        if (colon == std::string_view::npos) return bad();
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
        if (host.find(':') != std::string_view::npos) return bad();  // IPv6 needs brackets
    }
    unsigned value = 0;
    const auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc{} || ptr != port.data() + port.size() || value > 65535) return bad();
    return Address{std::string(host), static_cast<std::uint16_t>(value)};
}

std::string format_duration(Duration d) {
    const auto ms = d.count();
    if (ms != 0 && ms % 86'400'000 == 0) return std::to_string(ms / 86'400'000) + "d";
    if (ms != 0 && ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
    if (ms != 0 && ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
    if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
    return std::to_string(ms) + "ms";
}

std::string format_size(Bytes b) {
    const auto v = b.value;
    if (v != 0 && v % (1024ull * 1024 * 1024) == 0) return std::to_string(v >> 30) + "GiB";
    if (v != 0 && v % (1024ull * 1024) == 0) return std::to_string(v >> 20) + "MiB";
    if (v != 0 && v % 1024 == 0) return std::to_string(v >> 10) + "KiB";
    return std::to_string(v) + "B";
}

std::string format_rate(Rate r) { return format_number(r.per_second); }

}  // namespace wappa::config
