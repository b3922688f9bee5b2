#include "wappa/core/json_arena.hpp"

#include <memory>

namespace wappa::json {
namespace {

constexpr std::size_t value_size = 64 * 1024, stack_size = 16 * 1024;
// The parser's stack must fit in its buffer after the pool's chunk header: asked for the whole
// buffer, the pool would malloc a 64 KiB chunk for every document.
constexpr std::size_t parser_stack_capacity = stack_size / 2;

char* thread_arena() {
    thread_local const std::unique_ptr<char[]> arena(new char[value_size + stack_size]);
    return arena.get();
}

}  // namespace

ArenaDocument::ArenaDocument()
    : values_(thread_arena(), value_size), stack_(thread_arena() + value_size, stack_size), doc_(&values_, parser_stack_capacity, &stack_) {}

bool ArenaDocument::in_arena() const {
    // A pool's capacity is its buffer's less the chunk header until it adds a heap chunk.
    return values_.Capacity() < value_size && stack_.Capacity() < stack_size;
}

}  // namespace wappa::json
