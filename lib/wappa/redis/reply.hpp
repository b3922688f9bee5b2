#pragma once
// A Redis reply, owned and independent of hiredis (which stays inside this module's .cpp files).
#include <cstdint>
#include <string>
#include <vector>

namespace wappa::redis {

struct Reply {
    enum class Type { nil, string, status, error, integer, array };
    Type type = Type::nil;
    std::string str;               // string, status and error text
    std::int64_t integer = 0;
    std::vector<Reply> elements;   // array

    bool is_error() const { return type == Type::error; }
    bool is_nil() const { return type == Type::nil; }
};

}  // namespace wappa::redis
