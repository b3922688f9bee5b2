// The TOML config loader on arbitrary files: every input is a config or a list of problems, each
// naming where and what; a config it accepts renders (`config show`) as TOML that loads again.
#include <cstdlib>
#include <string>
#include <string_view>

#include "wappa/config/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace wappa::config;
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    // "file:PATH" values would read this machine's files: not what is being tested here.
    if (text.find("file:") != std::string_view::npos) return -1;
    const auto loaded = load_config_text(text, "fuzz.toml");
    for (const auto& problem : loaded.problems) {
        if (problem.message.empty() || format_problem(problem).empty()) std::abort();
    }
    if (loaded.ok()) {
        const auto shown = render_config(loaded.config);
        if (load_config_text(shown, "rendered.toml").problems.size() > 0 && shown.find("****") == std::string::npos) {
            std::abort();   // `config show` printed something that is not a valid config
        }
    }
    return 0;
}
