#pragma once
// Comparing a presented secret (token, verify token) with a configured one in time that does not
// depend on where they differ. An empty configured secret never matches.
#include <openssl/crypto.h>

#include <string_view>

namespace wappa {

inline bool same_secret(std::string_view presented, std::string_view configured) {
    return !configured.empty() && presented.size() == configured.size() &&
           CRYPTO_memcmp(presented.data(), configured.data(), configured.size()) == 0;
}

}  // namespace wappa
