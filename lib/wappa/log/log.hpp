#pragma once
// Logger setup: the only place spdlog sinks are built. Messages follow the convention
// "what happened key=value key=value"; the JSON format lifts the pairs into "fields".
#include <optional>
#include <string>
#include <string_view>

#include "wappa/core/result.hpp"

namespace wappa::log {

enum class Format { text, json };

struct Settings {
    std::string level = "info";   // trace|debug|info|warn|error
    Format format = Format::text;
};

// Logs go to stderr: stdout belongs to the command's output (subscribe, publish...).
Status setup(const Settings& settings);

// One log line as JSON (exposed for tests).
std::string json_line(std::string_view timestamp, std::string_view level, std::string_view logger,
                      std::string_view message);

}  // namespace wappa::log
