#include "wappa/live/websocket.hpp"

#include <openssl/evp.h>
#include <openssl/sha.h>

namespace wappa::live {

std::string websocket_accept(std::string_view key) {
    std::string input(key);
    input += "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    unsigned char digest[SHA_DIGEST_LENGTH];
    SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
    unsigned char encoded[4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1];
    const int n = EVP_EncodeBlock(encoded, digest, SHA_DIGEST_LENGTH);
    return std::string(reinterpret_cast<const char*>(encoded), static_cast<std::size_t>(n));
}

std::string websocket_frame(Opcode opcode, std::string_view payload) {
    std::string frame;
    frame.reserve(payload.size() + 10);
    frame += static_cast<char>(0x80 | static_cast<std::uint8_t>(opcode));
    const auto n = payload.size();
    if (n < 126) {
        frame += static_cast<char>(n);
    } else if (n < 65536) {
        frame += static_cast<char>(126);
        frame += static_cast<char>((n >> 8) & 0xff);
        frame += static_cast<char>(n & 0xff);
    } else {
        frame += static_cast<char>(127);
        for (int shift = 56; shift >= 0; shift -= 8) frame += static_cast<char>((static_cast<std::uint64_t>(n) >> shift) & 0xff);
    }
    frame.append(payload);
    return frame;
}

std::string websocket_close_frame(std::uint16_t code, std::string_view reason) {
    std::string payload;
    payload += static_cast<char>(code >> 8);
    payload += static_cast<char>(code & 0xff);
    payload.append(reason.substr(0, 123));   // a control frame carries at most 125 bytes
    return websocket_frame(Opcode::close, payload);
}

std::optional<FrameReader::Message> FrameReader::next() {
    while (error_.empty()) {
        if (buffer_.size() < 2) return std::nullopt;
        const auto b0 = static_cast<std::uint8_t>(buffer_[0]);
        const auto b1 = static_cast<std::uint8_t>(buffer_[1]);
        const bool fin = (b0 & 0x80) != 0;
        const auto opcode = static_cast<Opcode>(b0 & 0x0f);
        if ((b0 & 0x70) != 0) { error_ = "reserved bits set"; error_code_ = 1002; break; }
        if ((b1 & 0x80) == 0) { error_ = "client frame not masked"; error_code_ = 1002; break; }
        std::uint64_t length = b1 & 0x7f;
        std::size_t at = 2;
        if (length == 126 || length == 127) {
            const std::size_t bytes = length == 126 ? 2 : 8;
            if (buffer_.size() < at + bytes) return std::nullopt;
            length = 0;
            for (std::size_t i = 0; i < bytes; ++i) length = (length << 8) | static_cast<std::uint8_t>(buffer_[at + i]);
            at += bytes;
        }
        const bool control = (static_cast<std::uint8_t>(opcode) & 0x08) != 0;
        if (control && (length > 125 || !fin)) { error_ = "bad control frame"; error_code_ = 1002; break; }
        if (length > max_message_ || partial_.size() + length > max_message_) {
            error_ = "message over " + std::to_string(max_message_) + " bytes";
            error_code_ = 1009;
            break;
        }
        if (buffer_.size() < at + 4 + length) return std::nullopt;
        const char* mask = buffer_.data() + at;
        std::string payload = buffer_.substr(at + 4, length);
        for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(payload[i] ^ mask[i % 4]);
        buffer_.erase(0, at + 4 + length);
        if (control) return Message{opcode, std::move(payload)};
        if (opcode == Opcode::continuation) {
            if (!in_message_) { error_ = "continuation without a message"; error_code_ = 1002; break; }
            partial_ += payload;
        } else if (opcode == Opcode::text || opcode == Opcode::binary) {
            if (in_message_) { error_ = "new message inside a fragmented one"; error_code_ = 1002; break; }
            partial_ = std::move(payload);
            partial_opcode_ = opcode;
            in_message_ = true;
        } else {
            error_ = "unknown opcode " + std::to_string(static_cast<int>(opcode));
            error_code_ = 1002;
            break;
        }
        if (fin) {
            in_message_ = false;
            return Message{partial_opcode_, std::move(partial_)};
        }
    }
    return std::nullopt;
}

}  // namespace wappa::live
