#include "wappa/redis/script.hpp"

#include <array>
#include <atomic>
#include <cstdint>

namespace wappa::redis {
namespace {

std::uint32_t rotl(std::uint32_t v, int n) { return (v << n) | (v >> (32 - n)); }

// SHA-1 (FIPS 180-4), only to name scripts the way Redis does. OpenSSL's one-shot SHA1()
// initialises its whole library on first call: ~2.4 ms at the start of every process, since
// the queue's scripts are built at start, which a one-shot `wappa enqueue` cannot afford.
std::array<unsigned char, 20> sha1_of(std::string_view data) {
    std::uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
    std::string padded(data);
    padded += static_cast<char>(0x80);
    while (padded.size() % 64 != 56) padded += '\0';
    const std::uint64_t bits = static_cast<std::uint64_t>(data.size()) * 8;
    for (int i = 7; i >= 0; --i) padded += static_cast<char>((bits >> (i * 8)) & 0xff);
    for (std::size_t block = 0; block < padded.size(); block += 64) {
        std::uint32_t w[80];
        for (int i = 0; i < 16; ++i) {
            const auto* p = reinterpret_cast<const unsigned char*>(padded.data() + block + i * 4);
            w[i] = (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) | std::uint32_t(p[3]);
        }
        for (int i = 16; i < 80; ++i) w[i] = rotl(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
        std::uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
        for (int i = 0; i < 80; ++i) {
            std::uint32_t f, k;
            if (i < 20) f = (b & c) | (~b & d), k = 0x5A827999;
            else if (i < 40) f = b ^ c ^ d, k = 0x6ED9EBA1;
            else if (i < 60) f = (b & c) | (b & d) | (c & d), k = 0x8F1BBCDC;
            else f = b ^ c ^ d, k = 0xCA62C1D6;
            const std::uint32_t t = rotl(a, 5) + f + e + k + w[i];
            e = d, d = c, c = rotl(b, 30), b = a, a = t;
        }
        h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
    }
    std::array<unsigned char, 20> out{};
    for (int i = 0; i < 20; ++i) out[i] = static_cast<unsigned char>(h[i / 4] >> (24 - 8 * (i % 4)));
    return out;
}

Command script_command(const char* verb, const std::string& body, const ScriptCall& call) {
    Command c(verb, body, static_cast<std::int64_t>(call.keys.size()));
    for (const auto& k : call.keys) c.arg(k);
    for (const auto& a : call.args) c.arg(a);
    return c;
}

constexpr std::string_view production_guard = "local call = redis.call\n";

// Raises an error when a command names a key the script did not declare in KEYS.
constexpr std::string_view checking_guard = R"lua(local call
do
  local declared = {}
  for _, k in ipairs(KEYS) do declared[k] = true end
  local keyless = {TIME = true, PUBLISH = true}
  local every_argument = {DEL = true, UNLINK = true, EXISTS = true, MGET = true, TOUCH = true}
  local second_argument = {XINFO = true, XGROUP = true, OBJECT = true}
  local function check(name, key)
    if not declared[key] then error('wappa key guard: ' .. name .. ' of the undeclared key ' .. tostring(key)) end
  end
  call = function(command, ...)
    local name = string.upper(command)
    if every_argument[name] then
      for i = 1, select('#', ...) do check(name, (select(i, ...))) end
    elseif second_argument[name] then
      check(name, (select(2, ...)))
    elseif not keyless[name] then
      check(name, (select(1, ...)))
    end
    return redis.call(command, ...)
  end
end
)lua";

std::atomic<bool> checking{false};

}  // namespace

std::string sha1_hex(std::string_view data) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (unsigned char b : sha1_of(data)) {
        out += hex[b >> 4];
        out += hex[b & 0xf];
    }
    return out;
}

void Script::check_declared_keys() { checking = true; }

void Script::prepare() const {
    std::call_once(prepared_, [this] {
        source_.reserve(checking_guard.size() + prelude_.size() + body_.size() + 1);
        source_.append(checking ? checking_guard : production_guard).append(prelude_).append("\n").append(body_);
        sha1_ = sha1_hex(source_);
    });
}

const std::string& Script::source() const {
    prepare();
    return source_;
}

const std::string& Script::sha1() const {
    prepare();
    return sha1_;
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

Task<Result<Reply>> run_script_once(Client& client, const Script& script, std::vector<std::string> keys,
                                    std::vector<std::string> args, std::string what) {
    ScriptCall call;
    call.keys.assign(keys.begin(), keys.end());
    call.args.assign(args.begin(), args.end());
    const std::vector<ScriptCall> calls(1, call);
    auto replies = co_await run_script(client, script, calls);
    if (!replies) co_return replies.error();
    Reply reply = std::move(replies->front());
    if (reply.is_error()) co_return Error{"redis refused " + what + ": " + reply.str};
    co_return reply;
}

}  // namespace wappa::redis
