#pragma once
#include <cstddef>
#include <string>

#include "wappa/config/units.hpp"

namespace wappa::pg {

struct Settings {
    std::string url;                              // postgresql://... or key=value pairs
    std::size_t pool_size = 4;                    // connections at most
    bool prepared_statements = true;              // false behind PgBouncer in transaction mode
    config::Duration connect_timeout{5'000};
    config::Duration acquire_timeout{5'000};      // waiting for a free connection
    config::Duration query_timeout{30'000};       // one round trip of statements
    std::string name = "postgres";                // for log lines
};

}  // namespace wappa::pg
