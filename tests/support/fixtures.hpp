#pragma once
#include <fstream>
#include <sstream>
#include <string>

namespace wappa::test {

inline std::string fixture_path(const std::string& name) { return std::string(WAPPA_FIXTURES_DIR) + "/" + name; }

inline std::string read_fixture(const std::string& name) {
    std::ifstream in(fixture_path(name), std::ios::binary);
    if (!in) throw std::runtime_error("missing fixture " + name);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

}  // namespace wappa::test
