#include <doctest/doctest.h>

#include <rapidjson/document.h>

#include "support/fixtures.hpp"
#include "wappa/whatsapp/outbound.hpp"

using namespace wappa::whatsapp;
using wappa::test::read_fixture;

namespace {

OutboundJob job_from(const std::string& json) {
    auto parsed = parse_job(json);
    if (const auto* error = std::get_if<JobError>(&parsed)) FAIL("refused: " << error->describe());
    return std::get<OutboundJob>(parsed);
}

// Parsed-JSON equality: key order and whitespace do not matter, values and types do.
void check_body_matches(const std::string& body, const std::string& fixture) {
    rapidjson::Document actual, expected;
    actual.Parse(body.c_str());
    expected.Parse(read_fixture(fixture).c_str());
    REQUIRE_FALSE(actual.HasParseError());
    CHECK_MESSAGE(actual == expected, fixture << "\n  built: " << body);
}

JobError refusal(const std::string& json) {
    auto parsed = parse_job(json);
    REQUIRE_MESSAGE(std::holds_alternative<JobError>(parsed), "accepted: " << json);
    return std::get<JobError>(parsed);
}

const std::string base = R"("tenant":"acme","to_number":"+16505551234",)";

}  // namespace

TEST_CASE("every job type builds the exact Graph request body of its fixture") {
    check_body_matches(build_graph_body(job_from(R"({"type":"text_message",)" + base + R"("text":"Your order #4821 is ready. Details: https://example.com/orders/4821","preview_url":true})"),
                                        "outbox:01J0Z8K3Q4V6R"),
                       "send_text.json");
    check_body_matches(build_graph_body(job_from(R"({"type":"text_message",)" + base + R"("text":"Yes! It is ready at the Downtown branch.","reply_to":"wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTFCN0QwRTVDOUEzRjJFNkQ4MQA="})"), ""),
                       "send_text_reply.json");
    check_body_matches(build_graph_body(job_from(R"({"type":"media_message",)" + base + R"("media_type":"image","media_url":"https://cdn.example.com/orders/4821/label.jpg","caption":"Shipping label for order #4821"})"), ""),
                       "send_image_link.json");
    check_body_matches(build_graph_body(job_from(R"({"type":"interactive_buttons",)" + base + R"("header":"Pickup confirmation","body_text":"Can you pick up order #4821 tomorrow between 10:00 and 12:00?","footer":"Reply with a button","buttons":[{"id":"confirm_yes","title":"Yes, confirm"},{"id":"reschedule","title":"Reschedule"},{"id":"talk_agent","title":"Talk to an agent"}]})"), ""),
                       "send_buttons.json");
    check_body_matches(build_graph_body(job_from(R"({"type":"interactive_list",)" + base + R"("header":"Choose a time slot","body_text":"Pick the slot that suits you for collecting order #4821.","footer":"Times are local","button_text":"See slots","sections":[{"title":"Downtown branch","rows":[{"id":"slot_0900","title":"09:00 - 09:30","description":"Downtown branch, counter 2"},{"id":"slot_1100","title":"11:00 - 11:30","description":"Downtown branch, counter 2"}]},{"title":"Airport branch","rows":[{"id":"slot_1400","title":"14:00 - 14:30","description":"Terminal 1, arrivals"},{"id":"slot_1600","title":"16:00 - 16:30"}]}]})"), ""),
                       "send_list.json");
    check_body_matches(build_graph_body(job_from(R"({"type":"location_message",)" + base + R"("latitude":37.4847,"longitude":-122.1477,"name":"Downtown pickup point","address":"1 Hacker Way, Menlo Park, CA 94025"})"), ""),
                       "send_location.json");
    check_body_matches(build_graph_body(job_from(R"({"type":"reaction_message",)" + base + R"("target_message_id":"wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTFCN0QwRTVDOUEzRjJFNkQ4MQA=","emoji":"\ud83d\udc4d"})"), ""),
                       "send_reaction.json");
    check_body_matches(build_graph_body(job_from(R"({"type":"mark_as_read","tenant":"acme","target_message_id":"wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTFCN0QwRTVDOUEzRjJFNkQ4MQA="})"), ""),
                       "send_mark_read.json");
    check_body_matches(build_graph_body(job_from(R"({"type":"mark_as_read","workspace_id":"acme","typing":true,"target_message_id":"wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTFCN0QwRTVDOUEzRjJFNkQ4MQA="})"), ""),
                       "send_mark_read_typing.json");
    check_body_matches(build_graph_body(job_from(R"({"type":"template_message","tenant":"acme","to_number":"447700900123","template_name":"order_shipped","language_code":"en_GB","components":[{"type":"header","parameters":[{"type":"image","image":{"link":"https://cdn.example.com/brand/shipped.png"}}]},{"type":"body","parameters":[{"type":"text","text":"Oliver"},{"type":"text","text":"#4822"},{"type":"currency","currency":{"fallback_value":"\u00a324.90","code":"GBP","amount_1000":24900}},{"type":"date_time","date_time":{"fallback_value":"18 June 2025"}}]},{"type":"button","sub_type":"quick_reply","index":"0","parameters":[{"type":"payload","payload":"TRACK_4822"}]},{"type":"button","sub_type":"url","index":"1","parameters":[{"type":"text","text":"4822"}]}]})"),
                                        "outbox:01J0Z9B1D8H5T"),
                       "send_template.json");
}

TEST_CASE("common fields: ids, tenant alias, numbers") {
    const auto job = job_from(R"({"type":"text_message","message_id":"m-1","workspace_id":"beta","to_number":"5511987654321","text":"hi"})");
    CHECK(job.message_id == "m-1");
    CHECK(job.tenant == "beta");
    CHECK(job.to_number == "5511987654321");
    CHECK(refusal(R"({"type":"text_message","to_number":"+16505551234","text":"hi"})").field == "tenant");
    for (const char* bad : {"12345", "+1 650 555 1234", "0016505551234", "1650555123456789", "phone"}) {
        CHECK(refusal(R"({"type":"text_message",)" R"("tenant":"a","to_number":")" + std::string(bad) + R"(","text":"hi"})").field == "to_number");
    }
    CHECK(refusal(R"({"type":"fax_message","tenant":"a","to_number":"16505551234"})").field == "type");
    // Control characters have no place in an idempotency key (and \1 marks batches in the queue).
    CHECK(refusal(R"({"type":"text_message","tenant":"a","to_number":"16505551234","text":"hi","message_id":"\u00017"})").field == "message_id");
    CHECK(refusal("{\"type\": ").message.find("invalid JSON at byte") == 0);
    CHECK(refusal("[1]").message == "a job must be a JSON object");
}

TEST_CASE("template components holding a number JSON cannot carry are refused, not sent truncated") {
    // Found by fuzz_outbound_job: RapidJSON parses this as infinity without an error, the writer
    // stops at it, and the Graph body was left without a value.
    const std::string number = "818888818888187777711111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111177777777777777777778e211";   // 154 characters
    const auto job = R"({"type":"template_message",)" + base + R"("template_name":"t","language_code":"en_US",)" +
                     R"("components":[{"type":"header","x":)" + number + R"(}]})";
    const auto refused = refusal(job);
    CHECK(refused.field == "components");
    CHECK(refused.message == "holds a number out of range");
}

TEST_CASE("Meta's limits are checked up front, naming the field") {
    const std::string long_text(4097, 'x');
    CHECK(refusal(R"({"type":"text_message",)" + base + R"("text":")" + long_text + R"("})").field == "text");
    CHECK(refusal(R"({"type":"text_message",)" + base + R"("text":""})").message == "must not be empty");
    // 4096 characters of 2 bytes each are fine: limits count characters, not bytes.
    std::string wide;
    for (int i = 0; i < 4096; ++i) wide += "\xc3\xa9";
    CHECK(std::holds_alternative<OutboundJob>(parse_job(R"({"type":"text_message",)" + base + R"("text":")" + wide + R"("})")));

    CHECK(refusal(R"({"type":"media_message",)" + base + R"("media_type":"image"})").field == "media_url");
    CHECK(refusal(R"({"type":"media_message",)" + base + R"("media_type":"image","media_url":"https://a/b.jpg","media_id":"1"})").field == "media_url");
    CHECK(refusal(R"({"type":"media_message",)" + base + R"("media_type":"gif","media_id":"1"})").field == "media_type");
    CHECK(refusal(R"({"type":"media_message",)" + base + R"("media_type":"audio","media_id":"1","caption":"x"})").field == "caption");
    CHECK(refusal(R"({"type":"media_message",)" + base + R"("media_type":"image","media_id":"1","filename":"a.pdf"})").field == "filename");
    CHECK(refusal(R"({"type":"media_message",)" + base + R"("media_type":"image","media_url":"ftp://a/b"})").field == "media_url");

    const std::string buttons = R"({"type":"interactive_buttons",)" + base + R"("body_text":"Pick",)";
    CHECK(refusal(buttons + R"("buttons":[]})").field == "buttons");
    CHECK(refusal(buttons + R"("buttons":[{"id":"a","title":"1"},{"id":"b","title":"2"},{"id":"c","title":"3"},{"id":"d","title":"4"}]})").field == "buttons");
    CHECK(refusal(buttons + R"("buttons":[{"id":"a","title":"This title is far too long"}]})").field == "buttons[0].title");
    CHECK(refusal(buttons + R"("buttons":[{"id":"a","title":"Same"},{"id":"b","title":"Same"}]})").field == "buttons[1].title");
    CHECK(refusal(buttons + R"("buttons":[{"id":"a","title":"One"},{"id":"a","title":"Two"}]})").field == "buttons[1].id");
    CHECK(refusal(buttons + R"("buttons":[{"id":" a","title":"One"}]})").field == "buttons[0].id");

    const std::string list = R"({"type":"interactive_list",)" + base + R"("body_text":"Pick","button_text":"Open",)";
    CHECK(refusal(list + R"("sections":[{"title":"A","rows":[{"id":"1","title":"x"}]},{"rows":[{"id":"2","title":"y"}]}]})").field == "sections[1].title");
    std::string eleven = R"("sections":[{"title":"A","rows":[)";
    for (int i = 0; i < 11; ++i) eleven += (i ? "," : "") + std::string(R"({"id":")") + std::to_string(i) + R"(","title":"t"})";
    CHECK(refusal(list + eleven + "]}]}").field == "sections[0].rows[10]");
    CHECK(refusal(list + R"("sections":[{"rows":[{"id":"1","title":"x","description":")" + std::string(73, 'd') + R"("}]}]})").field == "sections[0].rows[0].description");

    CHECK(refusal(R"({"type":"location_message",)" + base + R"("latitude":91,"longitude":0})").field == "latitude");
    CHECK(refusal(R"({"type":"reaction_message",)" + base + R"("target_message_id":"wamid.X","emoji":"ok"})").field == "emoji");
    CHECK(std::holds_alternative<OutboundJob>(parse_job(R"({"type":"reaction_message",)" + base + R"("target_message_id":"wamid.X","emoji":""})")));
    CHECK(refusal(R"({"type":"mark_as_read","tenant":"a"})").field == "target_message_id");

    const std::string tmpl = R"({"type":"template_message",)" + base + R"("template_name":"order_update","language_code":"en_US",)";
    CHECK(refusal(tmpl + R"("components":[{"type":"body","parameters":[{"type":"text","text":"two\nlines"}]}]})").field == "components[0].parameters[0].text");
    CHECK(refusal(tmpl + R"("components":[{"type":"body","parameters":[{"type":"text","text":"a      b"}]}]})").field == "components[0].parameters[0].text");
    CHECK(refusal(R"({"type":"template_message",)" + base + R"("template_name":"Order Update","language_code":"en"})").field == "template_name");
    CHECK(refusal(R"({"type":"template_message",)" + base + R"("template_name":"x"})").field == "language_code");
}
