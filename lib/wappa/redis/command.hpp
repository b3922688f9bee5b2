#pragma once
// Builds commands in RESP wire form, ready to be appended to a connection's write buffer.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace wappa::redis {

class Command {
public:
    Command() = default;
    template <class... Args>
    explicit Command(std::string_view name, const Args&... args) {
        count_ = 1 + sizeof...(Args);
        wire_.reserve(64);
        header_and(name);
        (append_bulk(args), ...);
    }

    Command& arg(std::string_view value);
    Command& arg(std::int64_t value);

    // The RESP encoding: "*<n>\r\n" + one bulk string per argument.
    std::string wire() const;
    void append_to(std::string& out) const;
    std::size_t argument_count() const { return count_; }
    // The name and arguments, viewing this command's bytes: for routing on a Redis Cluster.
    std::vector<std::string_view> arguments() const;

private:
    void header_and(std::string_view name) { append_bulk(name); }
    void append_bulk(std::string_view value);
    void append_bulk(std::int64_t value) { append_bulk(std::string_view(std::to_string(value))); }
    void append_bulk(const std::string& value) { append_bulk(std::string_view(value)); }
    void append_bulk(const char* value) { append_bulk(std::string_view(value)); }

    std::string wire_;   // the arguments; the array header is added by wire()
    std::size_t count_ = 0;
};

}  // namespace wappa::redis
