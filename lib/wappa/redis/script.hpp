#pragma once
// Lua scripts run with EVALSHA, falling back to EVAL once when Redis does not know the script
// (after a restart or SCRIPT FLUSH), so callers never handle NOSCRIPT.
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "wappa/redis/client.hpp"

namespace wappa::redis {

// A script's keys all arrive in KEYS (so that it runs unchanged on Redis Cluster, where a
// script may only touch the keys it declares) and every key it touches goes through the local
// `call`, which the key guard defines in front of its text: redis.call in production, and in the
// tests a version that raises an error for any key not in KEYS (check_declared_keys()).
class Script {
public:
    // From static text, joined on first use: a process builds and hashes only the scripts it
    // runs (a one-shot command runs one), and none at start.
    Script(std::string_view prelude, std::string_view body) : prelude_(prelude), body_(body) {}
    explicit Script(std::string body) : owned_(std::move(body)), body_(owned_) {}
    const std::string& source() const;
    const std::string& sha1() const;

    // Tests: every script built from now on refuses undeclared keys. Call before any script runs.
    static void check_declared_keys();

private:
    void prepare() const;

    std::string owned_;
    std::string_view prelude_;
    std::string_view body_;
    mutable std::string source_;
    mutable std::once_flag prepared_;
    mutable std::string sha1_;
};

// SHA-1 in hex, as Redis names scripts.
std::string sha1_hex(std::string_view data);

// Views: what they point at must outlive run_script().
struct ScriptCall {
    std::vector<std::string_view> keys;
    std::vector<std::string_view> args;
};

// Runs every call in one pipeline; one reply per call, in order.
Task<Result<std::vector<Reply>>> run_script(Client& client, const Script& script, const std::vector<ScriptCall>& calls);

// One call; a script error becomes "redis refused <what>: <error>".
Task<Result<Reply>> run_script_once(Client& client, const Script& script, std::vector<std::string> keys,
                                    std::vector<std::string> args, std::string what);

}  // namespace wappa::redis
