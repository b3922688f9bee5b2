#include <doctest/doctest.h>

#include <filesystem>

#include "support/fixtures.hpp"
#include "wappa/whatsapp/parser.hpp"

using namespace wappa::whatsapp;
using wappa::test::read_fixture;

namespace {

Webhook parse(const std::string& fixture) {
    auto parsed = parse_webhook(read_fixture(fixture));
    REQUIRE_MESSAGE(parsed.ok(), fixture);
    return std::move(parsed).value();
}

Message only_message(const Webhook& w) {
    REQUIRE(w.changes.size() == 1);
    REQUIRE(w.changes[0].messages.size() == 1);
    return w.changes[0].messages[0];
}

}  // namespace

TEST_CASE("every inbound fixture parses, with its raw JSON kept") {
    for (const auto& entry : std::filesystem::directory_iterator(WAPPA_FIXTURES_DIR)) {
        const auto name = entry.path().filename().string();
        if (!name.ends_with(".json") || name.starts_with("send_") || name.starts_with("graph_")) continue;
        auto parsed = parse_webhook(read_fixture(name));
        REQUIRE_MESSAGE(parsed.ok(), name);
        CHECK_MESSAGE(parsed->object == "whatsapp_business_account", name);
        CHECK_MESSAGE(parsed->event_count() > 0, name);
        for (const auto& change : parsed->changes) {
            for (const auto& m : change.messages) CHECK(m.raw.find(m.id) != std::string::npos);
            for (const auto& s : change.statuses) CHECK(s.raw.find(s.id) != std::string::npos);
        }
    }
}

TEST_CASE("text: envelope, contact and body") {
    const auto w = parse("text.json");
    const auto& c = w.changes[0];
    CHECK(c.field == "messages");
    CHECK(c.waba_id == "102290129340398");
    CHECK(c.phone_number_id == "106540352242922");
    CHECK(c.display_phone_number == "15551234567");
    REQUIRE(c.contacts.size() == 1);
    CHECK(c.contacts[0].name == "Ana Souza");
    const auto& m = only_message(w);
    CHECK(m.from == "16505551234");
    CHECK(m.timestamp == "1750064400");
    CHECK(m.type == "text");
    CHECK(std::get<TextContent>(m.content).body == "Hi, is my order #4821 ready for pickup?");
    CHECK_FALSE(m.context);
    CHECK(c.contact_for(m.from)->wa_id == "16505551234");
}

TEST_CASE("reply context") {
    const auto& m = only_message(parse("text_reply_context.json"));
    REQUIRE(m.context);
    CHECK(m.context->from == "15551234567");
    CHECK(m.context->id == "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI0RTJEOTc2ODVERUY5RDlGNkYA");
}

TEST_CASE("media of every kind") {
    const auto image = std::get<MediaContent>(only_message(parse("image.json")).content);
    CHECK(image.id == "1003383421387256");
    CHECK(image.mime_type == "image/jpeg");
    CHECK(image.caption == "Photo of the damaged box");
    CHECK(image.sha256 == "SfInY0gGKTsJlUWbwxC1k+FAD0FZHvzwfpvO0zX0GUI=");
    const auto audio = std::get<MediaContent>(only_message(parse("audio_voice.json")).content);
    CHECK(audio.voice);
    CHECK(audio.mime_type == "audio/ogg; codecs=opus");
    CHECK(std::get<MediaContent>(only_message(parse("video.json")).content).caption == "Unboxing, see the dent at 0:12");
    const auto doc = std::get<MediaContent>(only_message(parse("document.json")).content);
    CHECK(doc.filename == "invoice-4821.pdf");
    CHECK(doc.mime_type == "application/pdf");
    const auto sticker = std::get<MediaContent>(only_message(parse("sticker.json")).content);
    CHECK(sticker.animated);
    CHECK(sticker.mime_type == "image/webp");
}

TEST_CASE("location") {
    const auto loc = std::get<LocationContent>(only_message(parse("location.json")).content);
    CHECK(loc.latitude == doctest::Approx(37.44221496582));
    CHECK(loc.longitude == doctest::Approx(-122.16165924072));
    CHECK(loc.name == "Philz Coffee");
    CHECK(loc.address == "101 Forest Ave, Palo Alto, CA 94301");
    CHECK(loc.url == "https://philzcoffee.com/");
}

TEST_CASE("contacts card with unicode names") {
    const auto w = parse("contacts.json");
    CHECK(w.changes[0].contacts[0].name == "Luc\xc3\xad" "a G\xc3\xb3mez");
    const auto cards = std::get<ContactsContent>(only_message(w).content).cards;
    REQUIRE(cards.size() >= 1);
    CHECK(cards[0].formatted_name == "Marta Ruiz");
    CHECK(cards[0].first_name == "Marta");
    REQUIRE(cards[0].phones.size() == 2);
    CHECK(cards[0].phones[0].wa_id == "5511912345678");
    CHECK(cards[0].phones[0].type == "CELL");
    CHECK(cards[0].emails.at(0).email == "marta.ruiz@example.com");
}

TEST_CASE("interactive replies and template buttons") {
    const auto& b = only_message(parse("interactive_button_reply.json"));
    const auto button = std::get<InteractiveContent>(b.content);
    CHECK(button.type == "button_reply");
    CHECK(button.id == "confirm_yes");
    CHECK(button.title == "Yes, confirm");
    CHECK(b.context->id == "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI5QjFDM0E3N0UwRjREMkE1QjgA");
    const auto list = std::get<InteractiveContent>(only_message(parse("interactive_list_reply.json")).content);
    CHECK(list.type == "list_reply");
    CHECK(list.id == "slot_0900");
    CHECK(list.description == "Downtown branch, counter 2");
    const auto tap = std::get<ButtonContent>(only_message(parse("button_template_reply.json")).content);
    CHECK(tap.payload == "TRACK_4821");
    CHECK(tap.text == "Track order");
}

TEST_CASE("reactions, including removal") {
    const auto r = std::get<ReactionContent>(only_message(parse("reaction.json")).content);
    CHECK(r.emoji == "\xf0\x9f\x91\x8d");
    CHECK(r.message_id == "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI0RTJEOTc2ODVERUY5RDlGNkYA");
    CHECK_FALSE(r.removed());
    CHECK(std::get<ReactionContent>(only_message(parse("reaction_removed.json")).content).removed());
    auto absent = parse_webhook(R"({"entry":[{"id":"1","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"2"},
        "messages":[{"from":"3","id":"wamid.R","timestamp":"1","type":"reaction","reaction":{"message_id":"wamid.T"}}]}}]}]})");
    REQUIRE(absent);
    CHECK(std::get<ReactionContent>(absent->changes[0].messages[0].content).removed());
}

TEST_CASE("unsupported messages keep their error") {
    const auto& m = only_message(parse("unsupported.json"));
    CHECK(m.type == "unsupported");
    CHECK(std::holds_alternative<OtherContent>(m.content));
    REQUIRE(m.errors.size() == 1);
    CHECK(m.errors[0].code == 131051);
    CHECK(m.errors[0].details == "Message type is currently not supported.");
}

TEST_CASE("statuses: sent with pricing, delivered, read without conversation, failed with error") {
    const auto sent = parse("status_sent.json").changes[0].statuses.at(0);
    CHECK(sent.status == "sent");
    CHECK(sent.recipient_id == "16505551234");
    CHECK(sent.biz_opaque_callback_data == "outbox:01J0Z8K3Q4V6R");
    REQUIRE(sent.conversation);
    CHECK(sent.conversation->origin_type == "service");
    CHECK(sent.conversation->expiration_timestamp == "1750150800");
    REQUIRE(sent.pricing);
    CHECK(sent.pricing->pricing_model == "PMP");
    CHECK(sent.pricing->category == "service");
    CHECK(sent.pricing->billable == true);
    CHECK(parse("status_delivered.json").changes[0].statuses.at(0).status == "delivered");
    const auto read = parse("status_read.json").changes[0].statuses.at(0);
    CHECK(read.status == "read");
    CHECK_FALSE(read.conversation);
    const auto failed = parse("status_failed.json").changes[0].statuses.at(0);
    CHECK(failed.status == "failed");
    REQUIRE(failed.errors.size() == 1);
    CHECK(failed.errors[0].code == 131047);
    CHECK(failed.errors[0].title == "Re-engagement message");
    CHECK(failed.errors[0].href.starts_with("https://developers.facebook.com/"));
}

TEST_CASE("a batch: every entry, change, message and status") {
    const auto w = parse("batch_multi_entry.json");
    CHECK(w.event_count() == 8);
    std::size_t a = 0, b = 0;
    for (const auto& c : w.changes) {
        const auto n = c.messages.size() + c.statuses.size();
        if (c.phone_number_id == "106540352242922") a += n;
        if (c.phone_number_id == "110011223344556") b += n;
    }
    CHECK(a == 4);
    CHECK(b == 4);
}

TEST_CASE("types and fields Meta adds later are kept, not rejected") {
    auto w = parse_webhook(R"({"object":"whatsapp_business_account","entry":[{"id":"1","changes":[
        {"field":"messages","value":{"metadata":{"phone_number_id":"2"},"brand_new_field":{"x":1},
         "messages":[{"from":"3","id":"wamid.N","timestamp":1750000000,"type":"hologram","hologram":{"depth":3}},
                     {"from":"3","id":"wamid.O","timestamp":"1","type":"order","order":{"catalog_id":"c","text":"t",
                      "product_items":[{"product_retailer_id":"p","quantity":2,"item_price":9.5,"currency":"USD"}]}},
                     {"id":"wamid.S","timestamp":"1","type":"system","system":{"body":"changed","type":"user_changed_number","wa_id":"4"}},
                     {"from":"3","id":"wamid.F","timestamp":"1","type":"interactive","interactive":{"type":"nfm_reply",
                      "nfm_reply":{"name":"flow","body":"Sent","response_json":"{\"a\":1}"}}}]}},
        {"field":"account_update","value":{"event":"VERIFIED_ACCOUNT"}}]}]})");
    REQUIRE(w);
    const auto& c = w->changes[0];
    REQUIRE(c.messages.size() == 4);
    CHECK(c.messages[0].type == "hologram");
    CHECK(c.messages[0].timestamp == "1750000000");
    CHECK(c.messages[0].raw.find("\"depth\":3") != std::string::npos);
    const auto order = std::get<OrderContent>(c.messages[1].content);
    CHECK(order.items.at(0).quantity == 2);
    CHECK(order.items.at(0).currency == "USD");
    CHECK(std::get<SystemContent>(c.messages[2].content).type == "user_changed_number");
    CHECK(std::get<InteractiveContent>(c.messages[3].content).response_json == "{\"a\":1}");
    CHECK(w->changes[1].field == "account_update");
    CHECK(w->changes[1].raw_value.find("VERIFIED_ACCOUNT") != std::string::npos);
}

TEST_CASE("top-level errors of a change are parsed") {
    auto w = parse_webhook(R"({"entry":[{"id":"1","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"2"},
        "errors":[{"code":131000,"title":"Something went wrong","error_data":{"details":"Unsupported webhook payload"}}]}}]}]})");
    REQUIRE(w);
    REQUIRE(w->changes[0].errors.size() == 1);
    CHECK(w->changes[0].errors[0].code == 131000);
    CHECK(w->changes[0].errors[0].details == "Unsupported webhook payload");
    CHECK_FALSE(w->changes[0].raw_value.empty());
}

TEST_CASE("malformed bodies are refused with where and why") {
    auto bad = parse_webhook("{\"entry\": [");
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message.find("malformed JSON at byte") != std::string::npos);
    CHECK_FALSE(parse_webhook("[1,2]"));
    CHECK_FALSE(parse_webhook("{\"object\":\"x\"}"));
    CHECK_FALSE(parse_webhook("{\"entry\":[]} trailing"));
}
