#include <doctest/doctest.h>

#include "wappa/pubsub/display.hpp"
#include "wappa/pubsub/notification.hpp"

using namespace wappa::pubsub;

TEST_CASE("channel names and subscribe patterns") {
    CHECK(channel_name("wappa", "acme", "5511999887766", "incoming_message") ==
          "wappa:notify:acme:5511999887766:incoming_message");
    CHECK(channel_pattern("wappa", "*", "*", "*") == "wappa:notify:*:*:*");
    CHECK(channel_pattern("gw", "acme", "", "status_change") == "gw:notify:acme:*:status_change");
}

TEST_CASE("the payload is exactly INTERFACE.md §4") {
    Notification n{"incoming_message", "acme", "5511999887766", "2024-01-15T10:30:00Z",
                   {{"message_id", std::string("wamid.X")}, {"message_type", std::string("text")}}};
    CHECK(render_payload(n) ==
          R"({"event":"incoming_message","tenant":"acme","inbox":"acme","user_id":"5511999887766",)"
          R"("platform":"whatsapp","data":{"message_id":"wamid.X","message_type":"text"},)"
          R"("timestamp":"2024-01-15T10:30:00Z","v":"1"})");
    Notification failed{"status_change", "acme", "1", "t", {{"error_code", std::int64_t{131047}}, {"note", std::string("a\"b")}}};
    CHECK(render_payload(failed).find(R"("data":{"error_code":131047,"note":"a\"b"})") != std::string::npos);
}

TEST_CASE("subscribe output: NDJSON keeps JSON payloads, wraps text, and stays on one line") {
    CHECK(ndjson_line("c", R"({"a":1})") == R"({"a":1})");
    CHECK(ndjson_line("c", "{\n  \"a\": 1\n}") == R"({"a":1})");
    CHECK(ndjson_line("ch", "plain text") == R"({"channel":"ch","message":"plain text"})");
    const auto pretty = pretty_line("x", R"({"event":"status_change","tenant":"acme","user_id":"16505551234","data":{"status":"read"}})", false);
    CHECK(pretty.find("status_change acme/16505551234 status=read") != std::string::npos);
}
