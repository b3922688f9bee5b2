#include "wappa/whatsapp/signature.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>

#include <array>
#include <optional>
#include <cstdio>
#include <string>
#include <vector>

namespace wappa::whatsapp {
namespace {

using Digest = std::array<unsigned char, 32>;

// One keyed HMAC context per secret and thread, reset for each body: OpenSSL 3's one-shot
// HMAC() fetches the algorithm and sets up the key on every call, which costs more than
// hashing a typical webhook.
class MacContexts {
public:
    MacContexts() : mac_(EVP_MAC_fetch(nullptr, "HMAC", nullptr)) {}
    ~MacContexts() {
        for (auto& [key, ctx] : contexts_) EVP_MAC_CTX_free(ctx);
        EVP_MAC_free(mac_);
    }
    MacContexts(const MacContexts&) = delete;
    MacContexts& operator=(const MacContexts&) = delete;

    EVP_MAC_CTX* keyed(std::string_view key) {
        for (auto& [k, ctx] : contexts_) {
            if (k == key) return EVP_MAC_init(ctx, nullptr, 0, nullptr) == 1 ? ctx : nullptr;
        }
        EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac_);
        char digest[] = "SHA256";
        const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                                     OSSL_PARAM_construct_end()};
        if (ctx == nullptr ||
            EVP_MAC_init(ctx, reinterpret_cast<const unsigned char*>(key.data()), key.size(), params) != 1) {
            EVP_MAC_CTX_free(ctx);
            return nullptr;
        }
        if (contexts_.size() >= 64) {  // bounded: secrets come from the config
            EVP_MAC_CTX_free(contexts_.front().second);
            contexts_.erase(contexts_.begin());
        }
        contexts_.emplace_back(std::string(key), ctx);
        return ctx;
    }

private:
    EVP_MAC* mac_;
    std::vector<std::pair<std::string, EVP_MAC_CTX*>> contexts_;
};

std::optional<Digest> hmac_sha256(std::string_view key, std::string_view body) {
    thread_local MacContexts contexts;
    Digest out{};
    std::size_t len = 0;
    EVP_MAC_CTX* ctx = contexts.keyed(key);
    if (ctx == nullptr || EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(body.data()), body.size()) != 1 ||
        EVP_MAC_final(ctx, out.data(), &len, out.size()) != 1 || len != out.size()) {
        return std::nullopt;
    }
    return out;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool decode_header(std::string_view header, Digest& out) {
    constexpr std::string_view prefix = "sha256=";
    if (!header.starts_with(prefix)) return false;
    header.remove_prefix(prefix.size());
    if (header.size() != 64) return false;
    for (std::size_t i = 0; i < 32; ++i) {
        const int hi = hex_value(header[2 * i]);
        const int lo = hex_value(header[2 * i + 1]);
        if (hi < 0 || lo < 0) return false;
        out[i] = static_cast<unsigned char>(hi * 16 + lo);
    }
    return true;
}

bool has_non_ascii(std::string_view s) {
    for (unsigned char c : s) {
        if (c >= 0x80) return true;
    }
    return false;
}

void append_escape(std::string& out, unsigned unit) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "\\u%04x", unit);
    out += buf;
}

}  // namespace

bool verify_signature(std::string_view header, std::string_view body, std::string_view app_secret) {
    Digest expected{};
    if (app_secret.empty() || !decode_header(header, expected)) return false;
    const auto actual = hmac_sha256(app_secret, body);
    if (!actual) return false;
    if (CRYPTO_memcmp(actual->data(), expected.data(), actual->size()) == 0) return true;
    if (!has_non_ascii(body)) return false;
    const auto escaped = hmac_sha256(app_secret, escape_non_ascii(body));
    return escaped && CRYPTO_memcmp(escaped->data(), expected.data(), escaped->size()) == 0;
}

std::string sign_body(std::string_view body, std::string_view app_secret) {
    static constexpr char digits[] = "0123456789abcdef";
    const auto digest = hmac_sha256(app_secret, body);
    if (!digest) return {};
    std::string out = "sha256=";
    for (unsigned char b : *digest) {
        out += digits[b >> 4];
        out += digits[b & 0xf];
    }
    return out;
}

std::string escape_non_ascii(std::string_view body) {
    std::string out;
    out.reserve(body.size() + body.size() / 4);
    for (std::size_t i = 0; i < body.size();) {
        const auto c = static_cast<unsigned char>(body[i]);
        if (c < 0x80) {
            out += static_cast<char>(c);
            ++i;
            continue;
        }
        const int extra = (c >= 0xF0 && c < 0xF8) ? 3 : (c >= 0xE0) ? 2 : (c >= 0xC0) ? 1 : -1;
        unsigned cp = extra == 3 ? (c & 0x07u) : extra == 2 ? (c & 0x0Fu) : (c & 0x1Fu);
        bool valid = extra > 0 && i + static_cast<std::size_t>(extra) < body.size();
        for (int k = 1; valid && k <= extra; ++k) {
            const auto cc = static_cast<unsigned char>(body[i + static_cast<std::size_t>(k)]);
            if ((cc & 0xC0) != 0x80) valid = false;
            cp = (cp << 6) | (cc & 0x3Fu);
        }
        if (!valid) {
            out += static_cast<char>(c);
            ++i;
            continue;
        }
        if (cp >= 0x10000) {
            cp -= 0x10000;
            append_escape(out, 0xD800 + (cp >> 10));
            append_escape(out, 0xDC00 + (cp & 0x3FF));
        } else {
            append_escape(out, cp);
        }
        i += static_cast<std::size_t>(extra) + 1;
    }
    return out;
}

}  // namespace wappa::whatsapp
