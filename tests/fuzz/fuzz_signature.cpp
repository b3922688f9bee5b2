// X-Hub-Signature-256 on arbitrary headers and bodies: a signature we made always verifies, and
// an arbitrary header verifies only if it is that signature (in either hex case); an empty
// app secret verifies nothing.
#include <fuzzer/FuzzedDataProvider.h>

#include <cctype>
#include <cstdlib>
#include <string>

#include "wappa/whatsapp/signature.hpp"

namespace {
std::string lowercase(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace wappa::whatsapp;
    FuzzedDataProvider input(data, size);
    const auto secret = input.ConsumeRandomLengthString(64);
    const auto header = input.ConsumeRandomLengthString(100);
    const auto body = input.ConsumeRemainingBytesAsString();

    const auto signature = sign_body(body, secret);
    // No app secret configured: nothing verifies, not even a signature made with an empty key.
    if (verify_signature(signature, body, secret) != !secret.empty()) std::abort();
    const bool accepted = verify_signature(header, body, secret);
    // Meta may sign the \uXXXX-escaped form of a non-ASCII body: the header may match either.
    const bool expected = !secret.empty() && (lowercase(header) == signature ||
                                              lowercase(header) == sign_body(escape_non_ascii(body), secret));
    if (accepted != expected) std::abort();
    return 0;
}
