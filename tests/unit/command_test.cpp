#include <doctest/doctest.h>

#include "wappa/log/log.hpp"
#include "wappa/redis/command.hpp"

TEST_CASE("commands are encoded as RESP arrays of bulk strings") {
    using wappa::redis::Command;
    CHECK(Command("PING").wire() == "*1\r\n$4\r\nPING\r\n");
    Command c("SET", "k", std::string("v\r\nx"));
    c.arg(std::int64_t{42});
    CHECK(c.wire() == "*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\nv\r\nx\r\n$2\r\n42\r\n");
    CHECK(c.argument_count() == 4);
    CHECK(Command("GET", "").wire() == "*2\r\n$3\r\nGET\r\n$0\r\n\r\n");
}

TEST_CASE("JSON log lines carry timestamp, level, logger, message and fields") {
    const auto line = wappa::log::json_line("2026-01-01T00:00:00.000Z", "info", "wappa",
                                            "webhook accepted queued=3 duplicates=0 \"quoted\"");
    CHECK(line == R"({"timestamp":"2026-01-01T00:00:00.000Z","level":"info","logger":"wappa",)"
                  R"("message":"webhook accepted queued=3 duplicates=0 \"quoted\"","fields":{"queued":"3","duplicates":"0"}})");
}

#include "wappa/core/time.hpp"

TEST_CASE("UTC timestamps are RFC 3339 with second precision") {
    using namespace std::chrono;
    CHECK(wappa::format_utc(sys_seconds(seconds(1750064400))) == "2025-06-16T09:00:00Z");
    CHECK(wappa::format_utc(sys_seconds(seconds(0))) == "1970-01-01T00:00:00Z");
    CHECK(wappa::format_utc(sys_seconds(seconds(4102444799))) == "2099-12-31T23:59:59Z");
}
