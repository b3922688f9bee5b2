// The pieces of live events that need no socket: event ids and --since, channel names, the
// frames a client receives, and the WebSocket frames a client sends.
#include <doctest/doctest.h>

#include "wappa/live/live_event.hpp"
#include "wappa/live/websocket.hpp"
#include "wappa/pubsub/event_log.hpp"

using namespace wappa;

namespace {

// A client frame: masked, as RFC 6455 requires of clients.
std::string client_frame(std::uint8_t first_byte, std::string_view payload) {
    std::string f;
    f += static_cast<char>(first_byte);
    if (payload.size() < 126) {
        f += static_cast<char>(0x80 | payload.size());
    } else {
        f += static_cast<char>(0x80 | 126);
        f += static_cast<char>(payload.size() >> 8);
        f += static_cast<char>(payload.size() & 0xff);
    }
    const char mask[4] = {0x12, 0x34, 0x56, 0x78};
    f.append(mask, 4);
    for (std::size_t i = 0; i < payload.size(); ++i) f += static_cast<char>(payload[i] ^ mask[i % 4]);
    return f;
}

}  // namespace

TEST_CASE("event ids parse, order and print like Redis stream ids") {
    const auto a = pubsub::parse_event_id("1700000000000-3");
    REQUIRE(a);
    CHECK(a->str() == "1700000000000-3");
    CHECK(pubsub::parse_event_id("1700000000000")->seq == 0);
    CHECK(*pubsub::parse_event_id("1700000000000-10") > *a);
    CHECK(*pubsub::parse_event_id("1700000000001-0") > *pubsub::parse_event_id("1700000000000-99"));
    for (const char* bad : {"", "x", "1-", "-1", "1-2-3", "12a-0"}) CHECK_FALSE(pubsub::parse_event_id(bad));
}

TEST_CASE("--since takes an id, a duration back from now, or 0 for everything") {
    const std::uint64_t now = 1'800'000'000'000;
    CHECK(pubsub::since_position("1700000000000-5", now)->str() == "1700000000000-5");
    CHECK(pubsub::since_position("1700000000000", now)->ms == 1'700'000'000'000);
    const auto five_minutes = pubsub::since_position("5m", now);
    REQUIRE(five_minutes);
    CHECK(five_minutes->ms == now - 300'000 - 1);   // everything at or after now - 5m comes after it
    CHECK(pubsub::since_position("30", now)->ms == now - 30'000 - 1);
    CHECK(pubsub::since_position("0", now)->ms == 0);
    CHECK_FALSE(pubsub::since_position("yesterday", now));
}

TEST_CASE("notification channels split into tenant, user and event") {
    const auto parts = pubsub::parse_channel("wappa", "wappa:notify:acme:5511999887766:incoming_message");
    REQUIRE(parts);
    CHECK(parts->tenant == "acme");
    CHECK(parts->user == "5511999887766");
    CHECK(parts->event == "incoming_message");
    CHECK_FALSE(pubsub::parse_channel("wappa", "other:notify:acme:1:e"));
    CHECK_FALSE(pubsub::parse_channel("wappa", "wappa:notify:acme:e"));
    CHECK_FALSE(pubsub::parse_channel("wappa", "wappa:notify::1:e"));
    CHECK(pubsub::event_log_key("wappa", "acme") == "wappa:{acme}:events");
}

TEST_CASE("a live event is rendered once for SSE and for WebSocket") {
    const pubsub::LoggedEvent logged{{1700000000000, 2}, "acme", "wappa:notify:acme:55:status_change", R"({"event":"status_change","n":1})"};
    const auto e = live::make_live_event(logged, "wappa");
    CHECK(e->user == "55");
    CHECK(e->event == "status_change");
    CHECK(e->sse == "id: 1700000000000-2\nevent: status_change\ndata: {\"event\":\"status_change\",\"n\":1}\n\n");
    CHECK(live::websocket_text(logged) == R"({"id":"1700000000000-2","event":"status_change","n":1})");
    // The frame: FIN + text, a one-byte length, then the text.
    CHECK(static_cast<unsigned char>(e->websocket[0]) == 0x81);
    CHECK(e->websocket.substr(2) == live::websocket_text(logged));

    const pubsub::LoggedEvent lines{{1, 0}, "acme", "wappa:notify:acme:55:custom", "{\n\"a\": 1\n}"};
    CHECK(live::make_live_event(lines, "wappa")->sse == "id: 1-0\nevent: custom\ndata: {\ndata: \"a\": 1\ndata: }\n\n");
    const pubsub::LoggedEvent empty{{1, 0}, "acme", "wappa:notify:acme:55:custom", "{}"};
    CHECK(live::websocket_text(empty) == R"({"id":"1-0"})");
    const pubsub::LoggedEvent scalar{{1, 0}, "acme", "wappa:notify:acme:55:custom", "42"};
    CHECK(live::websocket_text(scalar) == R"({"id":"1-0","channel":"wappa:notify:acme:55:custom","data":42})");
}

TEST_CASE("filters match tenants, users and events; empty lists match all") {
    const pubsub::LoggedEvent logged{{1, 0}, "acme", "wappa:notify:acme:55:incoming_message", "{}"};
    const auto e = live::make_live_event(logged, "wappa");
    CHECK(live::Filter{}.matches(*e));
    CHECK(live::Filter{{"acme"}, {}, {}}.matches(*e));
    CHECK_FALSE(live::Filter{{"beta"}, {}, {}}.matches(*e));
    CHECK(live::Filter{{}, {"1", "55"}, {"incoming_message"}}.matches(*e));
    CHECK_FALSE(live::Filter{{}, {}, {"status_change"}}.matches(*e));
    CHECK(live::split_list("a,,b,*") == std::vector<std::string>{"a", "b"});
}

TEST_CASE("the WebSocket accept key is the RFC 6455 example's") {
    CHECK(live::websocket_accept("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST_CASE("server frames encode their length in 7, 16 or 64 bits") {
    CHECK(live::websocket_frame(live::Opcode::text, std::string(125, 'x')).size() == 127);
    const auto medium = live::websocket_frame(live::Opcode::text, std::string(300, 'x'));
    CHECK(static_cast<unsigned char>(medium[1]) == 126);
    CHECK(medium.size() == 304);
    const auto large = live::websocket_frame(live::Opcode::binary, std::string(70000, 'x'));
    CHECK(static_cast<unsigned char>(large[1]) == 127);
    CHECK(large.size() == 70010);
    const auto close = live::websocket_close_frame(1008, "slow consumer");
    CHECK(static_cast<unsigned char>(close[0]) == 0x88);
    CHECK(close.substr(2, 2) == std::string("\x03\xf0", 2));
}

TEST_CASE("client frames: masked, fragmented, control frames between fragments, split reads") {
    live::FrameReader reader(1024);
    const auto bytes = client_frame(0x01, "hel") + client_frame(0x89, "p") + client_frame(0x80, "lo") + client_frame(0x81, "x");
    // Byte by byte: a message comes out only when complete.
    std::vector<live::FrameReader::Message> got;
    for (char c : bytes) {
        reader.feed(std::string_view(&c, 1));
        while (auto m = reader.next()) got.push_back(*m);
    }
    REQUIRE(got.size() == 3);
    CHECK((got[0].opcode == live::Opcode::ping && got[0].payload == "p"));
    CHECK((got[1].opcode == live::Opcode::text && got[1].payload == "hello"));
    CHECK(got[2].payload == "x");
    CHECK(reader.error().empty());

    live::FrameReader big(1024);
    big.feed(client_frame(0x81, std::string(300, 'y')));
    CHECK(big.next()->payload.size() == 300);
}

TEST_CASE("client frames that break the protocol are refused with the close code to send") {
    live::FrameReader unmasked(1024);
    unmasked.feed(std::string("\x81\x01x", 3));
    CHECK_FALSE(unmasked.next());
    CHECK(unmasked.error_code() == 1002);

    live::FrameReader too_big(100);
    too_big.feed(client_frame(0x81, std::string(101, 'z')));
    CHECK_FALSE(too_big.next());
    CHECK(too_big.error_code() == 1009);

    live::FrameReader stray(1024);
    stray.feed(client_frame(0x80, "orphan"));
    CHECK_FALSE(stray.next());
    CHECK(stray.error_code() == 1002);
}
