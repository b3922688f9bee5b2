#include "wappa/pg/migrate.hpp"

#include <algorithm>

namespace wappa::pg {
namespace sql {
extern const std::string_view v001_schema;
extern const std::string_view v002_hot_updates;
}

namespace {

// Any number all wappa processes agree on.
constexpr std::string_view lock_sql = "SELECT pg_advisory_lock(7386911)";
constexpr std::string_view unlock_sql = "SELECT pg_advisory_unlock(7386911)";

constexpr std::string_view create_table = R"sql(
CREATE TABLE IF NOT EXISTS schema_migrations (
  version integer PRIMARY KEY,
  name text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
))sql";

}  // namespace

std::span<const Migration> migrations() {
    static const Migration all[] = {
        {1, "schema", sql::v001_schema},
        {2, "hot_updates", sql::v002_hot_updates},
    };
    return all;
}

Task<Result<std::vector<AppliedMigration>>> applied_migrations(Connection& c) {
    const Query exists{{}, "SELECT to_regclass('schema_migrations') IS NOT NULL AS present", {}};
    auto present = co_await c.run(exists);
    if (!present) co_return present.error();
    std::vector<AppliedMigration> out;
    if (present->text(0, 0) != "t") co_return out;
    const Query list{{}, "SELECT version, name, to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS applied_at "
                         "FROM schema_migrations ORDER BY version", {}};
    auto rows = co_await c.run(list);
    if (!rows) co_return rows.error();
    for (std::size_t i = 0; i < rows->size(); ++i) {
        out.push_back({static_cast<int>(rows->integer(i, 0)), std::string(rows->text(i, 1)), std::string(rows->text(i, 2))});
    }
    co_return out;
}

Task<Result<std::vector<int>>> migrate(Connection& c) {
    const Query lock{{}, lock_sql, {}};
    if (auto locked = co_await c.run(lock); !locked) co_return locked.error();
    std::vector<int> done;
    auto result = [&]() -> Task<Result<std::vector<int>>> {
        if (auto made = co_await c.script(create_table); !made) co_return made.error();
        auto applied = co_await applied_migrations(c);
        if (!applied) co_return applied.error();
        for (const auto& m : migrations()) {
            const bool has = std::any_of(applied->begin(), applied->end(), [&](const auto& a) { return a.version == m.version; });
            if (has) continue;
            // The migration and its record, one transaction (one simple query).
            std::string text(m.sql);
            text += ";\nINSERT INTO schema_migrations (version, name) VALUES (" + std::to_string(m.version) + ", '" +
                    std::string(m.name) + "');";
            if (auto ran = co_await c.script(text); !ran) {
                co_return Error{"migration " + std::to_string(m.version) + " (" + std::string(m.name) + ") failed: " + ran.error().message,
                                ran.error().code};
            }
            done.push_back(m.version);
        }
        co_return done;
    };
    auto out = co_await result();
    const Query unlock{{}, unlock_sql, {}};
    (void)co_await c.run(unlock);
    co_return out;
}

}  // namespace wappa::pg
