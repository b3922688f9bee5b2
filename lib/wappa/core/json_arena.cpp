#include "wappa/core/json_arena.hpp"

#include <memory>

namespace wappa::json {
namespace {

constexpr std::size_t value_size = 64 * 1024, stack_size = 16 * 1024;

char* thread_arena() {
    thread_local const std::unique_ptr<char[]> arena(new char[value_size + stack_size]);
    return arena.get();
}

}  // namespace

ArenaDocument::ArenaDocument()
    : values_(thread_arena(), value_size), stack_(thread_arena() + value_size, stack_size), doc_(&values_, stack_size, &stack_) {}

}  // namespace wappa::json
