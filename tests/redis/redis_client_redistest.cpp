// Needs a real redis-server (started here on a free port).
#include <doctest/doctest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <thread>

#include "support/redis_server.hpp"
#include "support/run_coro.hpp"
#include "wappa/config/redis_url.hpp"
#include "wappa/queue/inbound_queue.hpp"
#include "wappa/redis/client.hpp"
#include "wappa/redis/script.hpp"
#include "wappa/redis/subscriber.hpp"

using namespace wappa;
using namespace std::chrono_literals;

namespace {

using test::settings_for;

// A private redis-server and a started client on a fresh event loop, stopped cleanly after.
struct ClientFixture {
    test::RedisServer server;
    net::io_context io;
    redis::Client client{io.get_executor(), settings_for(server)};
    ClientFixture() { client.start(); }
    ~ClientFixture() {
        client.stop();
        io.run_for(std::chrono::milliseconds(100));
    }
};

Task<void> sleep_for(std::chrono::milliseconds d) {
    net::steady_timer t(co_await net::this_coro::executor, d);
    co_await t.async_wait(net::use_awaitable);
}

}  // namespace

TEST_CASE_FIXTURE(ClientFixture, "commands run and concurrent callers are pipelined in order") {
    auto body = [&]() -> Task<int> {
        REQUIRE(co_await client.wait_connected(2s));
        auto set = co_await client.exec(redis::Command("SET", "greeting", "hello"));
        REQUIRE(set);
        CHECK(set->str == std::string("OK"));
        auto get = co_await client.exec(redis::Command("GET", "greeting"));
        CHECK(get->str == std::string("hello"));
        auto missing = co_await client.exec(redis::Command("GET", "nothing-here"));
        CHECK(missing->is_nil());
        auto wrong = co_await client.exec(redis::Command("INCR", "greeting"));
        REQUIRE(wrong);
        CHECK(wrong->is_error());
        std::vector<redis::Command> incr_twice(2, redis::Command("INCR", std::string("n")));
        auto several = co_await client.exec(incr_twice);
        REQUIRE(several);
        CHECK(several->at(1).integer == 2);
        co_return 0;
    };
    test::run_coro(io, body);

    // 2,000 coroutines at once on one connection: every reply reaches its own caller.
    int mismatches = 0;
    int done = 0;
    for (int i = 0; i < 2000; ++i) {
        net::co_spawn(io, [&, i]() -> Task<void> {
            const auto key = "k" + std::to_string(i);
            auto set = co_await client.exec(redis::Command("SET", key, std::to_string(i * 7)));
            auto get = co_await client.exec(redis::Command("GET", key));
            if (!set || !get || get->str != std::to_string(i * 7)) ++mismatches;
            ++done;
        }, net::detached);
    }
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (done < 2000 && std::chrono::steady_clock::now() < deadline) io.run_one_for(20ms);
    CHECK(done == 2000);
    CHECK(mismatches == 0);
}

TEST_CASE_FIXTURE(ClientFixture, "a stopped redis fails commands at once, and the client reconnects when it is back") {
    auto connect = [&]() -> Task<bool> { co_return (co_await client.wait_connected(2s)).ok(); };
    REQUIRE(test::run_coro(io, connect));

    server.stop();
    auto while_down = [&]() -> Task<std::string> {
        co_await sleep_for(200ms);
        const auto start = std::chrono::steady_clock::now();
        auto r = co_await client.exec(redis::Command("PING"));
        CHECK(std::chrono::steady_clock::now() - start < 500ms);
        co_return r ? std::string("unexpected success") : r.error().message;
    };
    CHECK(test::run_coro(io, while_down).find("redis") != std::string::npos);

    server.start();
    auto after = [&]() -> Task<std::string> {
        REQUIRE(co_await client.wait_connected(5s));
        auto r = co_await client.exec(redis::Command("PING"));
        co_return r ? r->str : r.error().message;
    };
    CHECK(test::run_coro(io, after) == std::string("PONG"));
}

TEST_CASE("script ids are the SHA-1 of their source") {
    CHECK(redis::sha1_hex("abc") == "a9993e364706816aba3e25717850c26c9cd0d89d");
    CHECK(redis::sha1_hex("") == "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    CHECK(redis::sha1_hex(std::string(1000, 'a')) == "291e9a6c66994949b57ba5e650361e98fc36b1ba");
}

TEST_CASE_FIXTURE(ClientFixture, "script ids match Redis's SCRIPT LOAD") {
    const redis::Script script(std::string("-- ") + std::string(130, 'x') + "\nreturn 1");
    const redis::Command load("SCRIPT", "LOAD", script.source());
    auto body = [&]() -> Task<std::string> {
        REQUIRE(co_await client.wait_connected(2s));
        auto reply = co_await client.exec(load);
        REQUIRE(reply);
        co_return reply->str;
    };
    CHECK(test::run_coro(io, body) == script.sha1());
}

TEST_CASE_FIXTURE(ClientFixture, "scripts survive SCRIPT FLUSH (NOSCRIPT falls back to EVAL)") {
    const redis::Script script("return tonumber(ARGV[1]) + #KEYS");
    // Built outside the coroutine: GCC 12 cannot put braced literals in a coroutine frame.
    const std::vector<redis::ScriptCall> first_calls{{{"a", "b"}, {"40"}}};
    const std::vector<redis::ScriptCall> second_calls{{{"a"}, {"1"}}, {{}, {"5"}}};
    const redis::Command flush("SCRIPT", "FLUSH");
    auto body = [&]() -> Task<std::int64_t> {
        REQUIRE(co_await client.wait_connected(2s));
        auto first = co_await redis::run_script(client, script, first_calls);
        REQUIRE(first);
        CHECK(first->at(0).integer == 42);
        co_await client.exec(flush);
        auto again = co_await redis::run_script(client, script, second_calls);
        REQUIRE(again);
        co_return again->at(0).integer * 100 + again->at(1).integer;
    };
    CHECK(test::run_coro(io, body) == 205);
}

TEST_CASE_FIXTURE(ClientFixture, "the inbound queue appends once per dedup id and publishes") {
    queue::InboundQueue inbound(client, "wappa", std::chrono::hours(1));
    const std::vector<queue::InboundEvent> events{
        {"acme", "msg:1", R"({"n":1})", "wappa:notify:acme:1:incoming_message", R"({"event":"incoming_message"})"},
        {"acme", "msg:2", R"({"n":2})", "", ""},
        {"beta", "msg:1", R"({"n":3})", "", ""},
        {"acme", "msg:1", R"({"n":1})", "", ""},   // repeated inside one request
    };
    auto body = [&]() -> Task<std::pair<std::size_t, std::size_t>> {
        REQUIRE(co_await client.wait_connected(2s));
        auto first = co_await inbound.append(events);
        REQUIRE(first);
        auto second = co_await inbound.append(events);
        REQUIRE(second);
        CHECK(second->queued == 0);
        CHECK(second->duplicates == 4);
        co_return std::pair{first->queued, first->duplicates};
    };
    const auto [queued, duplicates] = test::run_coro(io, body);
    CHECK(queued == 3);
    CHECK(duplicates == 1);
    CHECK(server.cli("XLEN 'wappa:{acme}:inbound'") == std::string("2"));
    CHECK(server.cli("XLEN 'wappa:{beta}:inbound'") == std::string("1"));
    const auto ttl = std::stoi(server.cli("TTL 'wappa:{acme}:seen:msg:1'"));
    CHECK(ttl > 3500);
    CHECK(ttl <= 3600);
}

TEST_CASE("the subscriber receives messages and resubscribes after redis restarts") {
    using namespace net::experimental::awaitable_operators;
    test::RedisServer server;
    net::io_context io;
    std::vector<std::string> received;
    int subscriptions = 0;
    int disconnects = 0;
    redis::SubscriberEvents events{
        [&](const redis::PubsubMessage& m) { received.push_back(m.channel + "=" + m.payload); },
        [&](bool) { ++subscriptions; },
        [&](const std::string&, config::Duration) { ++disconnects; }};
    auto publish = [&](const std::string& payload) {
        return server.cli("PUBLISH wappa:notify:acme:1:incoming_message '" + payload + "'");
    };
    const std::vector<std::string> patterns{"wappa:notify:*"};
    auto body = [&]() -> Task<void> {
        auto wait_until = [&](auto predicate) -> Task<void> {
            for (int i = 0; i < 400 && !predicate(); ++i) co_await sleep_for(25ms);
        };
        auto scenario = [&]() -> Task<void> {
            co_await wait_until([&] { return subscriptions == 1; });
            publish("one");
            co_await wait_until([&] { return received.size() == 1; });
            server.stop();
            co_await wait_until([&] { return disconnects > 0; });
            server.start();
            co_await wait_until([&] { return subscriptions == 2; });
            publish("two");
            co_await wait_until([&] { return received.size() == 2; });
        };
        co_await (redis::run_subscriber(settings_for(server), {}, patterns, events) || scenario());
    };
    test::run_coro(io, body, 20s);
    REQUIRE(received.size() == 2);
    CHECK(received[0] == std::string("wappa:notify:acme:1:incoming_message=one"));
    CHECK(received[1] == std::string("wappa:notify:acme:1:incoming_message=two"));
    CHECK(disconnects >= 1);
}
