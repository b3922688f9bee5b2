#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>

#include "wappa/config/config.hpp"
#include "wappa/config/redis_url.hpp"
#include "wappa/config/units.hpp"

using namespace wappa::config;

namespace {
bool has_problem(const LoadedConfig& c, const std::string& key, const std::string& text) {
    for (const auto& p : c.problems) {
        if (p.key == key && p.message.find(text) != std::string::npos) return true;
    }
    return false;
}
}  // namespace

TEST_CASE("durations, sizes and rates take numbers or strings with units") {
    CHECK(parse_duration("250ms")->count() == 250);
    CHECK(parse_duration("30s")->count() == 30'000);
    CHECK(parse_duration("5m")->count() == 300'000);
    CHECK(parse_duration("1h")->count() == 3'600'000);
    CHECK(parse_duration("1.5")->count() == 1'500);
    CHECK_FALSE(parse_duration("5 parsecs"));
    CHECK_FALSE(parse_duration("-1s"));
    CHECK(parse_size("512KiB")->value == 512 * 1024);
    CHECK(parse_size("1MiB")->value == 1024 * 1024);
    CHECK(parse_size("1000")->value == 1000);
    CHECK_FALSE(parse_size("12 apples"));
    CHECK(parse_rate("1/6")->per_second == doctest::Approx(1.0 / 6));
    CHECK(parse_rate("80")->per_second == 80);
    CHECK_FALSE(parse_rate("1/0"));
    CHECK(format_duration(Duration(250)) == "250ms");
    CHECK(format_duration(Duration(300'000)) == "5m");
    CHECK(format_duration(Duration(7LL * 86'400'000)) == "7d");
    CHECK(format_duration(Duration(36LL * 3'600'000)) == "36h");
    CHECK(format_size(Bytes{4 * 1024 * 1024}) == "4MiB");
}

TEST_CASE("addresses and redis URLs") {
    auto a = parse_address("127.0.0.1:8080");
    REQUIRE(a);
    CHECK(a->host == "127.0.0.1");
    CHECK(a->port == 8080);
    CHECK(parse_address("[::1]:9")->host == "::1");
    CHECK_FALSE(parse_address("localhost"));
    CHECK_FALSE(parse_address("host:99999"));

    auto u = parse_redis_url("redis://user:s3cret@redis.local:6380/2");
    REQUIRE(u);
    CHECK(u->host == "redis.local");
    CHECK(u->port == 6380);
    CHECK(u->user == "user");
    CHECK(u->password == "s3cret");
    CHECK(u->db == 2);
    CHECK(parse_redis_url("redis://localhost")->port == 6379);
    CHECK_FALSE(parse_redis_url("redis://localhost")->tls);
    auto secure = parse_redis_url("rediss://gateway:pw@cache.example.com:6380");
    REQUIRE(secure);
    CHECK(secure->tls);
    CHECK(secure->host == "cache.example.com");
    CHECK(secure->port == 6380);
    CHECK(secure->user == "gateway");
    CHECK_FALSE(parse_redis_url("http://localhost:6379"));
    auto cluster = parse_redis_url("redis+cluster://:pw@10.0.0.1:7000,10.0.0.2:7001,[::1]:7002");
    REQUIRE(cluster);
    CHECK(cluster->cluster);
    CHECK_FALSE(cluster->tls);
    CHECK(cluster->password == "pw");
    REQUIRE(cluster->seeds.size() == 3);
    CHECK(cluster->seeds[1] == std::pair<std::string, std::uint16_t>("10.0.0.2", 7001));
    CHECK(cluster->seeds[2].first == "::1");
    CHECK(cluster->host == "10.0.0.1");
    CHECK(cluster->port == 7000);
    CHECK(parse_redis_url("rediss+cluster://node-a:7000")->tls);
    CHECK(parse_redis_url("redis+cluster://node-a")->seeds.front().second == 6379);
    auto bad_seed = parse_redis_url("redis+cluster://:pw@10.0.0.1:7000,,10.0.0.3:7000");
    REQUIRE_FALSE(bad_seed);
    CHECK(bad_seed.error().message.find("seed node 2") != std::string::npos);
    CHECK(bad_seed.error().message.find("pw") == std::string::npos);
    CHECK_FALSE(parse_redis_url("redis+cluster://10.0.0.1:7000/3"));
    CHECK(mask_url_password("redis://user:s3cret@h:1") == "redis://user:****@h:1");
}

TEST_CASE("config show escapes control characters, so that what it prints loads again") {
    // Found by fuzz_config: a carriage return in a string value was printed raw.
    auto c = load_config_text("[server]\nlisten = \"odd\\r\\u0001\\\\\\\"host:0\"\n", "ctl.toml");
    REQUIRE(c.ok());
    CHECK(c.config.server.listen == "odd\r\x01\\\"host:0");
    const auto shown = render_config(c.config);
    CHECK(shown.find("listen = \"odd\\u000D\\u0001\\\\\\\"host:0\"") != std::string::npos);
    auto again = load_config_text(shown, "shown.toml");
    REQUIRE(again.ok());
    CHECK(again.config.server.listen == c.config.server.listen);
}

TEST_CASE("a duration or a size too large for 64 bits is refused, not wrapped around") {
    // Found by fuzz_config: 1e117 seconds became -9223372036854775808 ms, which config show
    // printed and which then did not load.
    auto c = load_config_text("[graph]\ntimeout = 1.1e117\n", "big.toml");
    REQUIRE_FALSE(c.ok());
    CHECK(c.problems.front().key == "graph.timeout");
    CHECK(c.problems.front().message.find("at most 100 years") != std::string::npos);
    auto s = load_config_text("[server]\nbody_limit = \"1e300GiB\"\n", "big.toml");
    REQUIRE_FALSE(s.ok());
    CHECK(s.problems.front().key == "server.body_limit");
    CHECK(load_config_text("[graph]\ntimeout = \"36500d\"\n", "ok.toml").ok());
}

TEST_CASE("defaults load without a file") {
    auto c = load_config_text("", "empty.toml");
    CHECK(c.ok());
    CHECK(c.config.server.listen == "0.0.0.0:8080");
    CHECK(c.config.redis.key_prefix == "wappa");
    CHECK(c.config.graph.base_url == "sandbox");
    CHECK(c.config.pubsub.publish_incoming);
    CHECK_FALSE(c.config.pubsub.publish_bot_replies);
    CHECK(c.config.outbound.rate_per_number.per_second == 80);
    CHECK(c.config.outbound.rate_per_recipient.per_second == doctest::Approx(1.0 / 6));
    CHECK(c.config.outbound.on_ambiguous == "fail");
    CHECK(c.config.bot.mode == "none");
}

TEST_CASE("a full config is read into typed settings") {
    auto c = load_config_text(R"(
[server]
listen = "127.0.0.1:9000"
body_limit = "1MiB"
read_timeout = "250ms"

[redis]
url = "redis://127.0.0.1:7000"
key_prefix = "gw"

[outbound]
rate_per_recipient = "1/6"
backoff_max = 60

[[tenants]]
id = "acme"
phone_number_id = "106540352242922"
app_secret = "s"
rate_per_number = 20
)", "wappa.toml");
    REQUIRE(c.ok());
    CHECK(c.config.server.listen == "127.0.0.1:9000");
    CHECK(c.config.server.body_limit.value == 1024 * 1024);
    CHECK(c.config.server.read_timeout.count() == 250);
    CHECK(c.config.redis.key_prefix == "gw");
    CHECK(c.config.outbound.backoff_max.count() == 60'000);
    REQUIRE(c.config.tenants.size() == 1);
    CHECK(c.config.tenants[0].rate_per_number->per_second == 20);
    CHECK(c.config.find_tenant_by_number("106540352242922") == &c.config.tenants[0]);
}

TEST_CASE("unknown keys are errors with file, line and the closest valid key") {
    auto c = load_config_text("[server]\nlisten = \"127.0.0.1:1\"\nbody_limt = 5\n", "conf/wappa.toml");
    REQUIRE(c.problems.size() == 1);
    CHECK(c.problems[0].key == "server.body_limt");
    CHECK(c.problems[0].where == "conf/wappa.toml:3:1");
    CHECK(c.problems[0].message.find("did you mean 'body_limit'") != std::string::npos);

    auto s = load_config_text("[serve]\n", "w.toml");
    REQUIRE_FALSE(s.ok());
    CHECK(s.problems[0].message.find("did you mean 'server'") != std::string::npos);
}

TEST_CASE("every problem is reported, each with its key") {
    auto c = load_config_text(R"(
[server]
listen = "nowhere"
threads = "many"
[outbound]
on_ambiguous = "maybe"
[bot]
mode = "chatty"
[[tenants]]
id = "a"
phone_number_id = "1"
[[tenants]]
id = "a"
phone_number_id = "1"
)", "w.toml");
    CHECK(has_problem(c, "server.listen", "host:port"));
    CHECK(has_problem(c, "server.threads", "not a whole number"));
    CHECK(has_problem(c, "outbound.on_ambiguous", "\"fail\" or \"retry\""));
    CHECK(has_problem(c, "bot.mode", "\"none\" or \"echo\""));
    CHECK(has_problem(c, "tenants[1].id", "duplicate tenant id"));
    CHECK(has_problem(c, "tenants[1].phone_number_id", "another tenant"));
}

TEST_CASE("syntax errors name the line") {
    auto c = load_config_text("[server\nlisten = 1\n", "bad.toml");
    REQUIRE_FALSE(c.ok());
    CHECK(c.problems[0].where.starts_with("bad.toml:1:"));
    CHECK(c.problems[0].message.find("TOML syntax error") != std::string::npos);
}

TEST_CASE("environment overrides and secret indirection") {
    ::setenv("WAPPA_REDIS_URL", "redis://10.1.2.3:6390", 1);
    ::setenv("WAPPA_SERVER_READ_TIMEOUT", "2s", 1);
    ::setenv("WAPPA_TEST_SECRET", "from-env", 1);
    {
        std::ofstream f("/tmp/wappa-test-secret.txt");
        f << "from-file\n";
    }
    auto c = load_config_text(R"(
[server]
admin_token = "env:WAPPA_TEST_SECRET"
[[tenants]]
id = "acme"
phone_number_id = "1"
app_secret = "file:/tmp/wappa-test-secret.txt"
access_token = "env:WAPPA_TEST_MISSING"
)", "w.toml");
    ::unsetenv("WAPPA_REDIS_URL");
    ::unsetenv("WAPPA_SERVER_READ_TIMEOUT");
    CHECK(c.config.redis.url == "redis://10.1.2.3:6390");
    CHECK(c.config.server.read_timeout.count() == 2000);
    CHECK(c.config.server.admin_token == "from-env");
    CHECK(c.config.tenants[0].app_secret == "from-file");
    CHECK(has_problem(c, "tenants[0].access_token", "WAPPA_TEST_MISSING"));

    ::setenv("WAPPA_SERVER_THREADS", "lots", 1);
    auto bad = load_config_text("", "w.toml");
    ::unsetenv("WAPPA_SERVER_THREADS");
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.problems[0].where == "environment WAPPA_SERVER_THREADS");
}

TEST_CASE("config show masks every secret") {
    auto c = load_config_text(R"(
[server]
admin_token = "topsecret-admin"
[redis]
url = "redis://:hunter2@127.0.0.1:6379"
[[tenants]]
id = "acme"
phone_number_id = "1"
app_secret = "topsecret-app"
access_token = "topsecret-access"
verify_token = "topsecret-verify"
api_token = "topsecret-api"
)", "w.toml");
    REQUIRE(c.ok());
    const auto shown = render_config(c.config);
    CHECK(shown.find("topsecret") == std::string::npos);
    CHECK(shown.find("hunter2") == std::string::npos);
    CHECK(shown.find("id = \"acme\"") != std::string::npos);
    CHECK(shown.find("[[tenants]]") != std::string::npos);
    // What show prints is itself a valid config.
    CHECK(load_config_text(shown, "shown.toml").ok());
}
