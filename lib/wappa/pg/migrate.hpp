#pragma once
// Versioned, idempotent schema migrations (lib/wappa/pg/migrations/vNNN_*.sql, embedded at
// build time), each applied in its own transaction and recorded in schema_migrations, under an
// advisory lock so that two `wappa migrate` at once do not collide.
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "wappa/core/asio.hpp"
#include "wappa/core/result.hpp"
#include "wappa/pg/connection.hpp"

namespace wappa::pg {

struct Migration {
    int version;
    std::string_view name;
    std::string_view sql;
};

// Every migration this binary knows, oldest first.
std::span<const Migration> migrations();

struct AppliedMigration {
    int version;
    std::string name;
    std::string applied_at;
};

// What the database holds (empty when it never was migrated).
Task<Result<std::vector<AppliedMigration>>> applied_migrations(Connection& connection);
// Applies what is missing; returns the versions applied now (none when up to date).
Task<Result<std::vector<int>>> migrate(Connection& connection);

}  // namespace wappa::pg
