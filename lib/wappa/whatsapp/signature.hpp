#pragma once
// X-Hub-Signature-256: "sha256=" + lowercase hex HMAC-SHA256(app secret, raw body) (SPEC §1.2).
#include <string>
#include <string_view>

namespace wappa::whatsapp {

// Constant-time check of the header against the body. Hex digits are accepted in either case.
// If the raw bytes do not match and the body has non-ASCII bytes, the check is repeated over
// the body with non-ASCII escaped as \uXXXX, the form Meta documents signing.
bool verify_signature(std::string_view header, std::string_view body, std::string_view app_secret);

// "sha256=<hex>" for a body: used by tests, the benchmark and `wappa` tooling.
std::string sign_body(std::string_view body, std::string_view app_secret);

// The body with every non-ASCII code point written as lowercase \uXXXX (surrogate pairs beyond
// the BMP). Invalid UTF-8 bytes are left as they are.
std::string escape_non_ascii(std::string_view body);

}  // namespace wappa::whatsapp
