#pragma once
// The unit tests' configuration: tenant acme on the fixtures' first number, beta on the second.
#include <doctest/doctest.h>

#include "wappa/config/config.hpp"

namespace wappa::test {

inline config::Config two_tenants() {
    auto loaded = config::load_config_text(R"(
[[tenants]]
id = "acme"
phone_number_id = "106540352242922"
waba_id = "102290129340398"
app_secret = "secret-a"
[[tenants]]
id = "beta"
phone_number_id = "110011223344556"
app_secret = "secret-b"
)", "t.toml");
    REQUIRE(loaded.ok());
    return loaded.config;
}

}  // namespace wappa::test
