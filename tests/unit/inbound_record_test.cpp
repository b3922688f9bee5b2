// From a webhook to what the inbound worker stores and what the bot answers: the queue entry
// that `serve` writes, parsed back (parse_inbound_entry), field by field, per fixture type.
#include <doctest/doctest.h>

#include "support/config.hpp"
#include "support/fixtures.hpp"
#include "wappa/service/bot.hpp"
#include "wappa/service/inbound_events.hpp"
#include "wappa/whatsapp/inbound_record.hpp"
#include "wappa/whatsapp/parser.hpp"

using namespace wappa;
using test::read_fixture;
using test::two_tenants;

namespace {

// The records `serve` would queue for this webhook body, as the worker reads them back.
std::vector<whatsapp::InboundRecord> records_of(const std::string& body) {
    const auto config = two_tenants();
    auto hook = whatsapp::parse_webhook(body);
    REQUIRE(hook);
    const auto batch = service::build_inbound_events(hook.value(), config, [](const config::TenantSettings&) { return true; },
                                                     "2026-01-01T00:00:00Z");
    std::vector<whatsapp::InboundRecord> out;
    for (const auto& e : batch.events) {
        auto record = whatsapp::parse_inbound_entry(e.entry);
        REQUIRE_MESSAGE(record, e.entry);
        out.push_back(std::move(record.value()));
    }
    return out;
}

whatsapp::IncomingMessage message_of(const std::string& fixture) {
    auto records = records_of(read_fixture(fixture));
    REQUIRE_MESSAGE(records.size() == 1, fixture);
    REQUIRE(std::holds_alternative<whatsapp::IncomingMessage>(records[0]));
    return std::get<whatsapp::IncomingMessage>(records[0]);
}

std::string replace(std::string text, const std::string& from, const std::string& to) {
    const auto at = text.find(from);
    REQUIRE(at != std::string::npos);
    return text.replace(at, from.size(), to);
}

}  // namespace

TEST_CASE("each message type carries its columns and its echo") {
    const auto text = message_of("text.json");
    CHECK(text.tenant == "acme");
    CHECK(text.kind == "text");
    CHECK(text.user_id == "16505551234");
    CHECK(text.phone == "16505551234");
    CHECK(text.profile_name == "Ana Souza");
    CHECK(text.text == "Hi, is my order #4821 ready for pickup?");
    CHECK(service::echo_of(text) == "Echo: Hi, is my order #4821 ready for pickup?");

    const auto image = message_of("image.json");
    CHECK(image.kind == "image");
    CHECK(image.media_mime == "image/jpeg");
    CHECK(image.media_caption == "Photo of the damaged box");
    CHECK_FALSE(image.media_sha256.empty());
    CHECK_FALSE(image.media_url.empty());
    CHECK(service::echo_of(image) == "[Image] Photo of the damaged box");

    const auto location = message_of("location.json");
    CHECK(location.kind == "location");
    CHECK(location.json_content.find("\"name\":\"Philz Coffee\"") != std::string::npos);
    CHECK(service::echo_of(location).starts_with("[Location] Philz Coffee (37.4422, -122.16"));

    const auto contact = message_of("contacts.json");
    CHECK(contact.kind == "contact");
    CHECK(service::echo_of(contact) == "[Contact] Marta Ruiz");

    const auto button = message_of("interactive_button_reply.json");
    CHECK(button.kind == "interactive");
    CHECK(service::echo_of(button) == "[Selected] Yes, confirm");

    const auto reaction = message_of("reaction.json");
    CHECK(reaction.kind == "reaction");
    CHECK(service::echo_of(reaction) == "[Reaction] 👍");

    const auto voice = message_of("audio_voice.json");
    CHECK(voice.kind == "audio");
    CHECK(service::echo_of(voice) == "[Voice message]");

    const auto document = message_of("document.json");
    CHECK(document.kind == "document");
    CHECK_FALSE(document.media_description.empty());   // the file name

    const auto reply = message_of("text_reply_context.json");
    CHECK_FALSE(reply.reply_to.empty());

    const auto unsupported = message_of("unsupported.json");
    CHECK(unsupported.kind == "unsupported");
}

TEST_CASE("a user without a phone number is known by the business-scoped id") {
    auto body = replace(read_fixture("text.json"), R"("from": "16505551234")", R"("from_user_id": "US.1349120865530274")");
    body = replace(body, R"("wa_id": "16505551234")", R"("user_id": "US.1349120865530274")");
    const auto records = records_of(body);
    REQUIRE(records.size() == 1);
    const auto& m = std::get<whatsapp::IncomingMessage>(records[0]);
    CHECK(m.user_id == "US.1349120865530274");
    CHECK(m.phone.empty());
    CHECK(m.profile_name == "Ana Souza");
}

TEST_CASE("a message without a type is typed by its content") {
    const auto records = records_of(replace(read_fixture("location.json"), R"("type": "location",)", ""));
    REQUIRE(records.size() == 1);
    const auto& m = std::get<whatsapp::IncomingMessage>(records[0]);
    CHECK(m.type == "location");
    CHECK(m.kind == "location");
}

TEST_CASE("statuses carry the wamid, our id and a failure's error") {
    const auto records = records_of(read_fixture("status_failed.json"));
    REQUIRE(records.size() == 1);
    const auto& s = std::get<whatsapp::StatusEvent>(records[0]);
    CHECK(s.status == "failed");
    CHECK_FALSE(s.wamid.empty());
    CHECK_FALSE(s.error_code.empty());
    CHECK_FALSE(s.error_title.empty());
    const auto played = records_of(replace(read_fixture("status_read.json"), R"("status": "read")", R"("status": "played")"));
    CHECK(std::get<whatsapp::StatusEvent>(played.at(0)).status == "played");
}

TEST_CASE("the bot's commands and counts") {
    auto m = message_of("text.json");
    CHECK(service::bot_command(m) == service::BotCommand::none);
    m.text = " /history ";
    CHECK(service::bot_command(m) == service::BotCommand::history);
    m.text = "/CLOSE";
    CHECK(service::bot_command(m) == service::BotCommand::close);
    CHECK(service::history_reply(5).starts_with("This conversation has 5 message(s)."));
    CHECK(service::close_reply(7, true) == "Conversation closed: 7 message(s) persisted to the database.");
    CHECK(service::bot_reply_id(m) == "bot-" + m.wamid);
}
