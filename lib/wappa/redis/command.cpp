#include "wappa/redis/command.hpp"

#include <charconv>

namespace wappa::redis {

void Command::append_bulk(std::string_view value) {
    char header[24];
    header[0] = '$';
    auto [end, ec] = std::to_chars(header + 1, header + sizeof header - 2, value.size());
    *end++ = '\r';
    *end++ = '\n';
    wire_.reserve(wire_.size() + static_cast<std::size_t>(end - header) + value.size() + 2);
    wire_.append(header, end);
    wire_.append(value);
    wire_.append("\r\n", 2);
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

std::vector<std::string_view> Command::arguments() const {
    std::vector<std::string_view> out;
    out.reserve(count_);
    std::size_t at = 0;
    while (at < wire_.size() && wire_[at] == '$') {
        const auto line_end = wire_.find("\r\n", at);
        std::size_t length = 0;
        std::from_chars(wire_.data() + at + 1, wire_.data() + line_end, length);
        out.emplace_back(wire_.data() + line_end + 2, length);
        at = line_end + 2 + length + 2;
    }
    return out;
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
