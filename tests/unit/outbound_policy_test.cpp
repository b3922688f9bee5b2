// What the outbound engine makes of Graph answers, its retry budget and its record codec: logic
// without sockets.
#include <doctest/doctest.h>

#include "wappa/config/config.hpp"
#include "wappa/graph/transport.hpp"
#include "wappa/queue/outbound/record.hpp"
#include "wappa/queue/outbound_queue.hpp"
#include "wappa/service/outbound_jobs.hpp"

using namespace wappa;
using Kind = graph::SendOutcome::Kind;
using Scope = graph::SendOutcome::Scope;

namespace {
graph::SendOutcome answer(int http, const std::string& body) { return graph::classify(http, body, config::Duration(0)); }
std::string error_body(std::int64_t code) {
    return R"({"error":{"message":"m","type":"OAuthException","code":)" + std::to_string(code) + R"(,"fbtrace_id":"X"}})";
}
}  // namespace

TEST_CASE("the default retry budget rides out a 10-minute outage, whatever the jitter") {
    const auto settings = service::outbound_settings(config::Config{});
    std::int64_t floor = 0, ceiling = 0;
    for (std::int64_t n = 1; n < settings.max_attempts; ++n) {
        const auto b = queue::backoff_range(settings, n);
        CHECK(b.min_ms * 2 >= b.max_ms - 1);   // equal jitter: never below half
        floor += b.min_ms;
        ceiling += b.max_ms;
    }
    CHECK(floor >= 10 * 60 * 1000);
    CHECK(ceiling <= 60 * 60 * 1000);   // and a message does not linger for hours either
}

TEST_CASE("a 200 with a message id is sent; a 200 without one is of unknown outcome") {
    const auto sent = answer(200, R"({"messaging_product":"whatsapp","messages":[{"id":"wamid.A"}]})");
    CHECK((sent.kind == Kind::sent && sent.wamid == "wamid.A"));
    CHECK(answer(200, R"({"success":true})").kind == Kind::sent);
    CHECK(answer(200, "<html>busy</html>").kind == Kind::ambiguous);
    CHECK(answer(200, R"({"messages":[]})").kind == Kind::ambiguous);
}

TEST_CASE("a refused token pauses; throttling names its scope; the rest retries or fails") {
    CHECK(answer(401, error_body(190)).kind == Kind::auth);
    CHECK(answer(400, error_body(190)).kind == Kind::auth);
    CHECK(answer(401, "").kind == Kind::auth);
    const auto pair = answer(400, error_body(131056));
    CHECK((pair.kind == Kind::rate_limited && pair.scope == Scope::pair));
    const auto sender = answer(429, error_body(130429));
    CHECK((sender.kind == Kind::rate_limited && sender.scope == Scope::sender));
    CHECK(answer(400, error_body(131048)).scope == Scope::sender);
    const auto waba = answer(429, error_body(80007));
    CHECK((waba.kind == Kind::rate_limited && waba.scope == Scope::tenant));
    CHECK(answer(429, "").kind == Kind::rate_limited);
    CHECK(answer(500, error_body(131000)).kind == Kind::transient);
    CHECK(answer(503, "").kind == Kind::transient);
    CHECK(answer(400, R"({"error":{"code":135000,"is_transient":true}})").kind == Kind::transient);
    CHECK(answer(400, error_body(131026)).kind == Kind::permanent);
    CHECK(answer(500, error_body(3)).kind == Kind::permanent);
}

TEST_CASE("the state record round-trips, and error texts lose their control characters") {
    queue::StateRecord s;
    s.status = "failed";
    s.attempts = 3;
    s.deferrals = 2;
    s.code = "131026";
    s.error = queue::record_safe("bad\x1fthing\nhere");
    s.unknown = true;
    CHECK(s.error == "bad thing here");
    const auto back = queue::parse_state_record(queue::format_state_record(s));
    CHECK((back.status == "failed" && back.attempts == 3 && back.deferrals == 2 && back.code == "131026" && back.error == s.error &&
           back.unknown));
    CHECK(queue::parse_state_record("queued").attempts == 0);   // a short record reads as defaults
    const auto job = queue::parse_job_record("1\x1f" "2\x1f" "111\x1f" "16505551234\x1f" "text_message\x1f" R"({"a":1})");
    REQUIRE(job.has_value());
    CHECK((job->not_before == 2 && job->sender == "111" && job->body == R"({"a":1})"));
    CHECK_FALSE(queue::parse_job_record("no separators").has_value());
}
