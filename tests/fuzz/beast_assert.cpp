// Boost's assertions in the fuzz build: each one aborts (so that the fuzzer reports it), except
// one that is known to be wrong. Beast 1.81's chunked-body parser asserts `n >= 5` when the
// final chunk's bytes arrive a few at a time, although the code after it handles that case
// (boostorg/beast#2861, fixed after 1.81). serve is built with NDEBUG in Release, where the
// assertion does not exist.
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace boost {

void assertion_failed(char const* expr, char const* function, char const* file, long line) {
    if (std::strcmp(expr, "n >= 5") == 0 && std::strstr(file, "beast/http/impl/basic_parser.ipp") != nullptr) return;
    std::fprintf(stderr, "%s:%ld: %s: Assertion `%s' failed.\n", file, line, function, expr);
    std::abort();
}

void assertion_failed_msg(char const* expr, char const* msg, char const* function, char const* file, long line) {
    std::fprintf(stderr, "%s:%ld: %s: Assertion `%s' failed: %s\n", file, line, function, expr, msg);
    std::abort();
}

}  // namespace boost
