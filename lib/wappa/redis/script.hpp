#pragma once
// Lua scripts run with EVALSHA, falling back to EVAL once when Redis does not know the script
// (after a restart or SCRIPT FLUSH), so callers never handle NOSCRIPT.
#include <mutex>
#include <string>
#include <vector>

#include "wappa/redis/client.hpp"

namespace wappa::redis {

class Script {
public:
    explicit Script(std::string source) : source_(std::move(source)) {}
    const std::string& source() const { return source_; }
    // Computed on first use: a one-shot command runs one script, not all of them.
    const std::string& sha1() const;

private:
    std::string source_;
    mutable std::once_flag hashed_;
    mutable std::string sha1_;
};

// Views: what they point at must outlive run_script().
struct ScriptCall {
    std::vector<std::string_view> keys;
    std::vector<std::string_view> args;
};

// Runs every call in one pipeline; one reply per call, in order.
Task<Result<std::vector<Reply>>> run_script(Client& client, const Script& script, const std::vector<ScriptCall>& calls);

}  // namespace wappa::redis
