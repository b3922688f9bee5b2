#include <doctest/doctest.h>

#include <string>

#include "wappa/core/json_arena.hpp"

TEST_CASE("a job-sized document is parsed in the thread's arena, a large one spills to the heap") {
    const std::string job =
        R"({"type":"text_message","tenant":"acme","to_number":"+16505551234","text":"Your order is ready","message_id":"m1"})";
    {
        wappa::json::ArenaDocument doc;
        doc->Parse(job.data(), job.size());
        REQUIRE_FALSE(doc->HasParseError());
        CHECK((*doc)["tenant"].GetString() == std::string("acme"));
        CHECK(doc.in_arena());
    }
    std::string large = "[";
    for (int i = 0; i < 20000; ++i) large += (i ? ",\"" : "\"") + std::to_string(i) + "\"";
    large += "]";
    {
        wappa::json::ArenaDocument doc;
        doc->Parse(large.data(), large.size());
        REQUIRE_FALSE(doc->HasParseError());
        CHECK((*doc).Size() == 20000);
        CHECK_FALSE(doc.in_arena());
    }
    wappa::json::ArenaDocument again;   // the arena is reused whole after a spill
    again->Parse(job.data(), job.size());
    CHECK(again.in_arena());
}
