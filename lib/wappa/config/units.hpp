#pragma once
// The value forms of wappa.toml (INTERFACE.md §2): durations, sizes, rates and addresses,
// parsed from TOML numbers or from strings with a unit.
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "wappa/core/result.hpp"

namespace wappa::config {

using Duration = std::chrono::milliseconds;

struct Bytes {
    std::uint64_t value = 0;
    friend bool operator==(Bytes, Bytes) = default;
};

// Messages per second; may be fractional (1/6 for Meta's pair limit).
struct Rate {
    double per_second = 0;
    friend bool operator==(Rate, Rate) = default;
};

struct Address {
    std::string host;
    std::uint16_t port = 0;
};

// "250ms", "30s", "5m", "1h", "7d", or a plain number of seconds ("1.5").
Result<Duration> parse_duration(std::string_view text);
// "512KiB", "1MiB", "2GiB", "10KB", or a plain number of bytes.
Result<Bytes> parse_size(std::string_view text);
// "80", "0.5", or a fraction "1/6".
Result<Rate> parse_rate(std::string_view text);
// "host:port", "[::1]:port"; an empty host means every interface.
Result<Address> parse_address(std::string_view text);

std::string format_duration(Duration d);
std::string format_size(Bytes b);
std::string format_rate(Rate r);

}  // namespace wappa::config
