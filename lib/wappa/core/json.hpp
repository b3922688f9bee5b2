#pragma once
// JSON string escaping for the hand-built documents on hot paths (queue entries, log lines).
#include <string>
#include <string_view>

namespace wappa::json {

// Appends s as a quoted JSON string.
void append_string(std::string& out, std::string_view s);
std::string quote(std::string_view s);

}  // namespace wappa::json
