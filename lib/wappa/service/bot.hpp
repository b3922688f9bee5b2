#pragma once
// The built-in echo bot ([bot] mode = "echo"): a type-specific echo of every message, with the
// message's number in its conversation; /HISTORY answers with the number of messages in the
// active conversation; /CLOSE closes it. Pure logic: the inbound worker stores and sends.
#include <cstdint>
#include <string>

#include "wappa/whatsapp/inbound_record.hpp"

namespace wappa::service {

enum class BotCommand { none, history, close };

// "/HISTORY" or "/CLOSE" (any case, surrounding blanks ignored) in a text message.
BotCommand bot_command(const whatsapp::IncomingMessage& message);

// "Echo: hello", "[Image] a caption", "[Location] HQ (37.48, -122.14)", "[Contact] Jane Doe"...
std::string echo_of(const whatsapp::IncomingMessage& message);

// The echo, then "Message #N in this conversation" and how to use the commands.
std::string echo_reply(const whatsapp::IncomingMessage& message, std::int64_t number);
std::string history_reply(std::int64_t messages);
// `persisted`: the conversation went to the database (else there is none configured).
std::string close_reply(std::int64_t messages, bool persisted);

// The outbound message id of the bot's reply to a message: a repeated delivery of the message
// queues the same id, which the queue recognises.
std::string bot_reply_id(const whatsapp::IncomingMessage& message);

}  // namespace wappa::service
