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
    explicit Script(std::string source) : source_(std::move(source)), ready_(true) {}
    // From static text, joined on first use: a process builds and hashes only the scripts it
    // runs (a one-shot command runs one), and none at start.
    Script(const char* prelude, const char* body) : prelude_(prelude), body_(body) {}
    const std::string& source() const;
    const std::string& sha1() const;

private:
    void prepare() const;

    const char* prelude_ = "";
    const char* body_ = "";
    mutable std::string source_;
    mutable bool ready_ = false;
    mutable std::once_flag prepared_;
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
