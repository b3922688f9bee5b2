#include "wappa/redis/command.hpp"

namespace wappa::redis {

void Command::append_bulk(std::string_view value) {
    wire_ += '$';
    wire_ += std::to_string(value.size());
    wire_ += "\r\n";
    wire_ += value;
    wire_ += "\r\n";
}

Command& Command::arg(std::string_view value) {
    append_bulk(value);
    ++count_;
    return *this;
}

Command& Command::arg(std::int64_t value) {
    append_bulk(value);
    ++count_;
    return *this;
}

void Command::append_to(std::string& out) const {
    out += '*';
    out += std::to_string(count_);
    out += "\r\n";
    out += wire_;
}

std::string Command::wire() const {
    std::string out;
    append_to(out);
    return out;
}

}  // namespace wappa::redis
