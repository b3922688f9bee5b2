#include "wappa/service/bot.hpp"

#include <cctype>
#include <cstdio>

namespace wappa::service {
namespace {

std::string upper_trimmed(std::string_view text) {
    const auto first = text.find_first_not_of(" \t\r\n");
    const auto last = text.find_last_not_of(" \t\r\n");
    std::string out(first == std::string_view::npos ? std::string_view() : text.substr(first, last - first + 1));
    for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
}

std::string coordinate(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return buf;
}

std::string with(std::string_view head, std::string_view detail) {
    std::string out(head);
    if (!detail.empty()) out.append(" ").append(detail);
    return out;
}

}  // namespace

BotCommand bot_command(const whatsapp::IncomingMessage& message) {
    if (message.type != "text") return BotCommand::none;
    const auto text = upper_trimmed(message.text);
    if (text == "/HISTORY") return BotCommand::history;
    if (text == "/CLOSE") return BotCommand::close;
    return BotCommand::none;
}

std::string echo_of(const whatsapp::IncomingMessage& m) {
    using namespace whatsapp;
    const auto& content = m.message.content;
    if (m.type == "text") return "Echo: " + m.text;
    if (const auto* media = std::get_if<MediaContent>(&content)) {
        if (m.type == "image") return with("[Image]", media->caption);
        if (m.type == "video") return with("[Video]", media->caption);
        if (m.type == "audio") return media->voice ? "[Voice message]" : "[Audio]";
        if (m.type == "document") return with("[Document]", !media->filename.empty() ? media->filename : media->caption);
        return media->animated ? "[Animated sticker]" : "[Sticker]";
    }
    if (const auto* l = std::get_if<LocationContent>(&content)) {
        const auto place = !l->name.empty() ? l->name : l->address;
        return with("[Location]", place) + " (" + coordinate(l->latitude) + ", " + coordinate(l->longitude) + ")";
    }
    if (const auto* c = std::get_if<ContactsContent>(&content)) {
        if (c->cards.empty()) return "[Contact]";
        const auto& card = c->cards.front();
        auto name = !card.formatted_name.empty() ? card.formatted_name : card.first_name + " " + card.last_name;
        if (c->cards.size() > 1) name += " and " + std::to_string(c->cards.size() - 1) + " more";
        return with("[Contact]", name);
    }
    if (const auto* i = std::get_if<InteractiveContent>(&content)) {
        if (!i->title.empty()) return "[Selected] " + i->title;
        return with("[Interactive]", i->name.empty() ? i->type : i->name);
    }
    if (const auto* b = std::get_if<ButtonContent>(&content)) return with("[Button]", b->text);
    if (const auto* r = std::get_if<ReactionContent>(&content)) return r->removed() ? "[Reaction removed]" : "[Reaction] " + r->emoji;
    if (const auto* o = std::get_if<OrderContent>(&content)) return "[Order] " + std::to_string(o->items.size()) + " item(s)";
    return "[" + (m.type.empty() ? std::string("Unsupported message") : m.type) + "]";
}

std::string echo_reply(const whatsapp::IncomingMessage& message, std::int64_t number) {
    return echo_of(message) + "\nMessage #" + std::to_string(number) +
           " in this conversation\nSend /HISTORY to see the count, /CLOSE to close the conversation.";
}

std::string history_reply(std::int64_t messages) {
    return "This conversation has " + std::to_string(messages) + " message(s).\nSend /CLOSE to close it.";
}

std::string close_reply(std::int64_t messages, bool persisted) {
    if (persisted) return "Conversation closed: " + std::to_string(messages) + " message(s) persisted to the database.";
    return "Conversation closed: " + std::to_string(messages) + " message(s) (no database is configured: nothing was persisted).";
}

std::string bot_reply_id(const whatsapp::IncomingMessage& message) { return "bot-" + message.wamid; }

}  // namespace wappa::service
