#include <doctest/doctest.h>

#include "wappa/redis/command.hpp"
#include "wappa/redis/slot.hpp"

using namespace wappa::redis;

TEST_CASE("a key's hash slot is CRC16 of its hash tag, as Redis Cluster computes it") {
    // Values from Redis itself (CLUSTER KEYSLOT).
    CHECK(key_slot("123456789") == 12739);
    CHECK(key_slot("foo") == 12182);
    CHECK(key_slot("acme") == 11304);
    CHECK(key_slot("wappa:{acme}:inbound") == 11304);
    CHECK(key_slot("wappa:{acme}:out:jobs") == key_slot("wappa:{acme}:events"));
    CHECK(key_slot("wappa:{beta}:inbound") == 15419);
    // An empty tag does not count: the whole key is hashed.
    CHECK(key_slot("a{}b") == 13694);
    CHECK(key_slot("a{}b{c}") == 7353);   // not the slot of "c" (7365): the first tag is empty
    CHECK(key_slot("{user1000}.following") == key_slot("{user1000}.followers"));
}

TEST_CASE("a command's arguments are read back from its wire form") {
    Command c("EVALSHA", "abc", std::int64_t{2});
    c.arg("wappa:{acme}:a").arg(std::string_view("with\r\nnewline")).arg("");
    const auto a = c.arguments();
    REQUIRE(a.size() == 6);
    CHECK(a[0] == "EVALSHA");
    CHECK(a[2] == "2");
    CHECK(a[4] == "with\r\nnewline");
    CHECK(a[5].empty());
}

TEST_CASE("commands are routed by their keys' slot") {
    Command script("EVALSHA", "sha", std::int64_t{2});
    script.arg("wappa:{acme}:a").arg("wappa:{acme}:b").arg("argv-not-a-key");
    auto route = route_of(script.arguments());
    CHECK(route.kind == CommandRoute::Kind::slot);
    CHECK(route.slot == 11304);

    Command crossing("EVALSHA", "sha", std::int64_t{2});
    crossing.arg("wappa:{acme}:a").arg("wappa:events:clock");
    CHECK(route_of(crossing.arguments()).kind == CommandRoute::Kind::several_slots);

    CHECK(route_of(Command("EVALSHA", "sha", std::int64_t{0}).arguments()).kind == CommandRoute::Kind::any_node);
    CHECK(route_of(Command("TIME").arguments()).kind == CommandRoute::Kind::any_node);
    CHECK(route_of(Command("PUBLISH", "wappa:notify:acme:1:x", "{}").arguments()).kind == CommandRoute::Kind::any_node);
    CHECK(route_of(Command("XGROUP", "CREATE", "wappa:{beta}:inbound", "g", "0").arguments()).slot == 15419);
    CHECK(route_of(Command("HGET", "wappa:{beta}:out:jobs", "id").arguments()).slot == 15419);
}

TEST_CASE("a stream read over several slots is split into one read per slot") {
    Command read("XREADGROUP", "GROUP", "g", "c");
    read.arg("COUNT").arg(std::int64_t{10}).arg("BLOCK").arg(std::int64_t{2000}).arg("STREAMS");
    read.arg("wappa:{acme}:inbound").arg("wappa:{beta}:inbound").arg("wappa:{acme}:other").arg(">").arg(">").arg("5-0");
    const auto arguments = read.arguments();
    CHECK(route_of(arguments).kind == CommandRoute::Kind::several_slots);
    auto split = split_stream_read(arguments);
    REQUIRE(split);
    CHECK(split->blocking);
    REQUIRE(split->parts.size() == 2);
    const auto& acme = key_slot("acme") < key_slot("beta") ? split->parts[0] : split->parts[1];
    // The acme part keeps both of acme's streams, each with its own id, after the options.
    REQUIRE(acme.size() == 13);
    CHECK(acme[8] == "STREAMS");
    CHECK(acme[9] == "wappa:{acme}:inbound");
    CHECK(acme[10] == "wappa:{acme}:other");
    CHECK(acme[11] == ">");
    CHECK(acme[12] == "5-0");
    CHECK_FALSE(split_stream_read(Command("XREAD", "STREAMS", "a").arguments()));
    CHECK_FALSE(split_stream_read(Command("GET", "a").arguments()));
    auto plain = split_stream_read(Command("XREAD", "COUNT", "5", "STREAMS", "a", "b", "0", "0").arguments());
    REQUIRE(plain);
    CHECK_FALSE(plain->blocking);
}
