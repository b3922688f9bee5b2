#include "wappa/service/heartbeat.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <chrono>

#include "wappa/redis/client.hpp"

namespace wappa::service {
namespace {

constexpr std::int64_t forget_after_ms = 3'600'000;

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

std::string workers_key(std::string_view prefix) { return std::string(prefix) + ":workers"; }

struct Heartbeat::State {
    redis::Client& client;
    std::string key, member;
    std::unique_ptr<net::steady_timer> timer;
    bool stopping = false;
};

Heartbeat::Heartbeat(redis::Client& client, std::string key, std::string member)
    : state_(std::make_unique<State>(State{client, std::move(key), std::move(member), nullptr, false})) {}

Heartbeat::~Heartbeat() = default;

void Heartbeat::stop() {
    state_->stopping = true;
    if (state_->timer) state_->timer->expires_at(net::steady_timer::time_point::min());
}

Task<void> Heartbeat::run() {
    auto& s = *state_;
    s.timer = std::make_unique<net::steady_timer>(co_await net::this_coro::executor);
    std::int64_t beats = 0;
    while (!s.stopping) {
        (void)co_await s.client.exec(redis::Command("HSET", s.key, s.member, std::to_string(now_ms())));
        if (beats++ % 60 == 0) {
            // The long dead are forgotten (by whichever worker looks first).
            auto all = co_await s.client.exec(redis::Command("HGETALL", s.key));
            if (all && !all->is_error()) {
                redis::Command forget("HDEL", s.key);
                bool any = false;
                for (std::size_t i = 0; i + 1 < all->elements.size(); i += 2) {
                    if (now_ms() - std::atoll(all->elements[i + 1].str.c_str()) > forget_after_ms) {
                        forget.arg(all->elements[i].str);
                        any = true;
                    }
                }
                if (any) (void)co_await s.client.exec(forget);
            }
        }
        s.timer->expires_after(std::chrono::milliseconds(heartbeat_every_ms));
        co_await s.timer->async_wait(net::as_tuple(net::use_awaitable));
    }
    (void)co_await s.client.exec(redis::Command("HDEL", s.key, s.member));
    s.timer.reset();
}

Task<Result<std::vector<SeenWorker>>> workers_seen(redis::Client& client, std::string key) {
    auto all = co_await client.exec(redis::Command("HGETALL", key));
    if (!all) co_return all.error();
    if (all->is_error()) co_return Error{"redis refused HGETALL " + key + ": " + all->str};
    std::vector<SeenWorker> out;
    const auto now = now_ms();
    for (std::size_t i = 0; i + 1 < all->elements.size(); i += 2) {
        const auto& member = all->elements[i].str;
        const auto age = now - std::atoll(all->elements[i + 1].str.c_str());
        if (age > forget_after_ms) continue;
        const auto at = member.find('@');
        out.push_back({member.substr(0, at), at == std::string::npos ? std::string() : member.substr(at + 1), std::max<std::int64_t>(0, age)});
    }
    std::sort(out.begin(), out.end(), [](const SeenWorker& a, const SeenWorker& b) { return a.age_ms < b.age_ms; });
    co_return out;
}

}  // namespace wappa::service
