#include "wappa/redis/script.hpp"

#include <openssl/sha.h>

namespace wappa::redis {
namespace {

Command script_command(const char* verb, const std::string& body, const ScriptCall& call) {
    Command c(verb, body, static_cast<std::int64_t>(call.keys.size()));
    for (const auto& k : call.keys) c.arg(k);
    for (const auto& a : call.args) c.arg(a);
    return c;
}

}  // namespace

Script::Script(std::string source) : source_(std::move(source)) {
    unsigned char digest[SHA_DIGEST_LENGTH];
    SHA1(reinterpret_cast<const unsigned char*>(source_.data()), source_.size(), digest);
    static constexpr char hex[] = "0123456789abcdef";
    for (unsigned char b : digest) {
        sha1_ += hex[b >> 4];
        sha1_ += hex[b & 0xf];
    }
}

Task<Result<std::vector<Reply>>> run_script(Client& client, const Script& script, const std::vector<ScriptCall>& calls) {
    std::vector<Command> commands;
    commands.reserve(calls.size());
    for (const auto& call : calls) commands.push_back(script_command("EVALSHA", script.sha1(), call));
    auto replies = co_await client.exec(commands);
    if (!replies) co_return replies;
    for (std::size_t i = 0; i < calls.size(); ++i) {
        auto& reply = replies.value()[i];
        if (reply.is_error() && reply.str.starts_with("NOSCRIPT")) {
            auto retried = co_await client.exec(script_command("EVAL", script.source(), calls[i]));
            if (!retried) co_return retried.error();
            reply = std::move(retried).value();
        }
    }
    co_return replies;
}

}  // namespace wappa::redis
