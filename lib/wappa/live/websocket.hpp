#pragma once
// The parts of RFC 6455 a server needs: the handshake's accept key, frames out (unmasked, so one
// encoding of an event serves every client) and frames in (masked, possibly fragmented).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace wappa::live {

enum class Opcode : std::uint8_t { continuation = 0, text = 1, binary = 2, close = 8, ping = 9, pong = 10 };

// base64(SHA-1(key + the RFC's GUID)).
std::string websocket_accept(std::string_view key);

// One final, unmasked frame.
std::string websocket_frame(Opcode opcode, std::string_view payload);
// A close frame with a status code and a reason (cut to fit a control frame).
std::string websocket_close_frame(std::uint16_t code, std::string_view reason);

// Reassembles a client's messages from the bytes it sent.
class FrameReader {
public:
    explicit FrameReader(std::size_t max_message) : max_message_(max_message) {}

    struct Message {
        Opcode opcode;
        std::string payload;
    };
    // Appends received bytes.
    void feed(std::string_view bytes) { buffer_.append(bytes); }
    // The next complete message (control frames as they come), nullopt when more bytes are
    // needed. A protocol violation sets error() and the close code to send.
    std::optional<Message> next();
    const std::string& error() const { return error_; }
    std::uint16_t error_code() const { return error_code_; }

private:
    std::size_t max_message_;
    std::string buffer_;
    std::string partial_;
    Opcode partial_opcode_ = Opcode::text;
    bool in_message_ = false;
    std::string error_;
    std::uint16_t error_code_ = 0;
};

}  // namespace wappa::live
