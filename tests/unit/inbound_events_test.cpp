#include <doctest/doctest.h>

#include <rapidjson/document.h>

#include "support/config.hpp"
#include "support/fixtures.hpp"
#include "wappa/service/inbound_events.hpp"
#include "wappa/whatsapp/parser.hpp"

using namespace wappa;
using test::read_fixture;
using test::two_tenants;

namespace {

service::InboundBatch build(const std::string& fixture, const config::Config& config, bool all = true) {
    auto hook = whatsapp::parse_webhook(read_fixture(fixture));
    REQUIRE(hook);
    return service::build_inbound_events(hook.value(), config,
        [&](const config::TenantSettings& t) { return all || t.id == "acme"; }, "2026-01-01T00:00:00Z");
}

}  // namespace

TEST_CASE("a message becomes a queue entry and an incoming_message notification") {
    const auto config = two_tenants();
    const auto batch = build("text.json", config);
    REQUIRE(batch.events.size() == 1);
    const auto& e = batch.events[0];
    CHECK(e.tenant == "acme");
    CHECK(e.dedup_id == "msg:wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTFCN0QwRTVDOUEzRjJFNkQ4MQA=");
    CHECK(e.channel == "wappa:notify:acme:16505551234:incoming_message");
    rapidjson::Document entry;
    entry.Parse(e.entry.c_str());
    REQUIRE_FALSE(entry.HasParseError());
    CHECK(std::string(entry["kind"].GetString()) == "message");
    CHECK(std::string(entry["contact"]["name"].GetString()) == "Ana Souza");
    CHECK(std::string(entry["message"]["text"]["body"].GetString()) == "Hi, is my order #4821 ready for pickup?");
    rapidjson::Document note;
    note.Parse(e.notification.c_str());
    CHECK(std::string(note["timestamp"].GetString()) == "2025-06-16T09:00:00Z");
    CHECK(std::string(note["data"]["message_type"].GetString()) == "text");
    CHECK(batch.event_types[0] == "message:text");
}

TEST_CASE("a failed status carries its error in the notification") {
    const auto batch = build("status_failed.json", two_tenants());
    REQUIRE(batch.events.size() == 1);
    CHECK(batch.events[0].dedup_id.ends_with(":failed"));
    rapidjson::Document note;
    note.Parse(batch.events[0].notification.c_str());
    CHECK(std::string(note["event"].GetString()) == "status_change");
    CHECK(note["data"]["error_code"].GetInt() == 131047);
    CHECK(std::string(note["data"]["status"].GetString()) == "failed");
}

TEST_CASE("a batch over two tenants yields every event, each under its own tenant") {
    const auto batch = build("batch_multi_entry.json", two_tenants());
    CHECK(batch.events.size() == 8);
    std::size_t beta = 0;
    for (const auto& e : batch.events) beta += e.tenant == "beta";
    CHECK(beta == 4);
    CHECK(batch.unknown_numbers.empty());
}

TEST_CASE("events for numbers the signature does not cover are not queued") {
    const auto batch = build("batch_multi_entry.json", two_tenants(), /*all=*/false);
    CHECK(batch.events.size() == 4);
    REQUIRE(batch.unknown_numbers.size() == 2);   // beta's messages change and statuses change
    CHECK(batch.unknown_numbers[0] == "110011223344556");
}

TEST_CASE("pubsub flags switch notifications off, never the queue") {
    auto config = two_tenants();
    config.pubsub.publish_incoming = false;
    config.pubsub.publish_status = false;
    const auto batch = build("batch_multi_entry.json", config);
    CHECK(batch.events.size() == 8);
    for (const auto& e : batch.events) CHECK(e.channel.empty());
}
