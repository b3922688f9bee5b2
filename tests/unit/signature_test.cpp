#include <doctest/doctest.h>

#include "support/fixtures.hpp"
#include "wappa/whatsapp/signature.hpp"

using namespace wappa::whatsapp;
using wappa::test::read_fixture;

namespace {
constexpr const char* secret = "wappa-test-app-secret";
}

TEST_CASE("the published vectors of the fixtures verify") {
    const std::pair<const char*, const char*> vectors[] = {
        {"text.json", "sha256=9fdbbeaaa023459c764399d48dc71bb40a52155a083430f4b82ec829b0813e33"},
        {"contacts.json", "sha256=30f6d5780e75567e721437c80b076466b442724c98a2aaa95e8103e69652eded"},
        {"status_failed.json", "sha256=6cdb0805d632e044532fbcdfa478a05bd8448218736e87fae6d6cbb6c676c288"},
        {"batch_multi_entry.json", "sha256=24ab98c8baafc46208f9b0a6f1b8ac832105109326bb7052f35f5147f3d445b6"},
    };
    for (const auto& [file, header] : vectors) {
        const auto body = read_fixture(file);
        CHECK_MESSAGE(verify_signature(header, body, secret), file);
        CHECK(sign_body(body, secret) == header);
    }
}

TEST_CASE("wrong, missing and malformed signatures are refused") {
    auto body = read_fixture("text.json");
    const auto good = sign_body(body, secret);
    CHECK_FALSE(verify_signature(good, body, "another-secret"));
    CHECK_FALSE(verify_signature("", body, secret));
    CHECK_FALSE(verify_signature(good.substr(7), body, secret));             // no "sha256=" prefix
    CHECK_FALSE(verify_signature("sha1=" + good.substr(7), body, secret));
    CHECK_FALSE(verify_signature(good.substr(0, good.size() - 2), body, secret));
    CHECK_FALSE(verify_signature(good, body, ""));
    body[body.size() / 2] ^= 1;                                               // one byte changed
    CHECK_FALSE(verify_signature(good, body, secret));
}

TEST_CASE("uppercase hex is accepted") {
    const auto body = read_fixture("text.json");
    auto header = sign_body(body, secret);
    for (std::size_t i = 7; i < header.size(); ++i) header[i] = static_cast<char>(std::toupper(header[i]));
    CHECK(verify_signature(header, body, secret));
}

TEST_CASE("a body signed in Meta's escaped-unicode form verifies from its raw UTF-8") {
    const std::string raw = "{\"name\":\"Luc\xc3\xad" "a \xf0\x9f\x91\x8d\"}";
    const std::string escaped = "{\"name\":\"Luc\\u00eda \\ud83d\\udc4d\"}";
    CHECK(escape_non_ascii(raw) == escaped);
    CHECK(verify_signature(sign_body(escaped, secret), raw, secret));
    CHECK_FALSE(verify_signature(sign_body(escaped, "x"), raw, secret));
}
