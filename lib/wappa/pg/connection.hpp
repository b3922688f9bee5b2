#pragma once
// One PostgreSQL connection driven by libpq's non-blocking API on an Asio descriptor: the
// connect poll, the flush loop and the consume loop wait on the socket, never block the event
// loop. Statements go in pipeline mode: several in one round trip. libpq stays in the .cpp.
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "wappa/core/asio.hpp"
#include "wappa/core/result.hpp"
#include "wappa/pg/rows.hpp"
#include "wappa/pg/settings.hpp"

namespace wappa::pg {

// A parameterised statement. Values travel apart from the SQL (never spliced into it), in
// text format; nullopt is NULL. `name` names it when prepared statements are on.
struct Query {
    std::string_view name;
    std::string_view sql;
    std::vector<std::optional<std::string>> params;
};

class Connection {
public:
    Connection(net::any_io_executor executor, const Settings& settings);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    // Within settings.connect_timeout; the error says what failed (never the password).
    Task<Status> connect();
    // False once the connection is lost: a pool replaces it.
    bool usable() const;

    // Runs the statements in one round trip. Without an explicit BEGIN they form one implicit
    // transaction: all take effect or none (after a failed one, the rest are skipped). One
    // result per statement; the error is the first statement's that failed.
    Task<Result<std::vector<Rows>>> run(std::span<const Query> queries);
    Task<Result<Rows>> run(const Query& query);
    // Several statements in one text, without parameters (the simple query protocol): a
    // migration. Without explicit BEGIN/COMMIT they run as one transaction.
    Task<Status> script(std::string_view sql);

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

// A PostgreSQL array literal of text values ({"a","b",NULL}), for `$n::text[]` parameters: a
// batch travels as a few arrays instead of a statement per row.
std::string array_literal(std::span<const std::optional<std::string>> values);
std::string array_literal(std::span<const std::string> values);

// Statement pipelines sent by this process so far (each one round trip): for benchmarks and
// /metrics.
std::uint64_t round_trips();

// The URL without its password, for messages.
std::string redact(std::string_view url);

}  // namespace wappa::pg
