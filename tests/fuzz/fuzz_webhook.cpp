// The webhook parser on arbitrary bodies: it must answer every input with a Webhook or an error,
// never crash, leak or read out of bounds.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "wappa/whatsapp/parser.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view body(reinterpret_cast<const char*>(data), size);
    auto webhook = wappa::whatsapp::parse_webhook(body);
    (void)webhook.ok();
    auto message = wappa::whatsapp::parse_message_json(body);
    (void)message.ok();
    auto status = wappa::whatsapp::parse_status_json(body);
    (void)status.ok();
    return 0;
}
