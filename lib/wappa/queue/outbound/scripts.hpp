#pragma once
// The outbound queue's Lua scripts (lib/wappa/queue/outbound/lua/*.lua), embedded at build time.
// Each runs as prelude + body (redis::Script joins them, behind the key guard).
#include <string_view>

namespace wappa::queue::lua {

extern const std::string_view prelude;       // clock, record codec, history, wake
extern const std::string_view enqueue;
extern const std::string_view claim;
extern const std::string_view sent;
extern const std::string_view outcome;
extern const std::string_view status;
extern const std::string_view sweep;
extern const std::string_view requeue;
extern const std::string_view global_rate;

}  // namespace wappa::queue::lua
