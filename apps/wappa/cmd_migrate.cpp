// wappa migrate: create or upgrade the PostgreSQL schema (versioned, idempotent).
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <iostream>

#include "common.hpp"
#include "wappa/core/exit_codes.hpp"
#include "wappa/pg/connection.hpp"
#include "wappa/pg/migrate.hpp"

namespace wappa::app {
namespace {

struct MigrateOptions {
    bool status = false;
};

int run_migrate(const GlobalOptions& global, const MigrateOptions& o) {
    auto config = load_config_or_report(global);
    if (!config) return exit_code::config;
    if (config->postgres.url.empty()) {
        std::cerr << "wappa migrate: postgres.url is empty: there is no database to migrate\n";
        return exit_code::config;
    }
    const auto settings = postgres_settings(*config);
    net::io_context io;
    pg::Connection connection(io.get_executor(), settings);
    int code = exit_code::ok;
    auto work = [&]() -> Task<void> {
        if (auto connected = co_await connection.connect(); !connected) {
            std::cerr << "wappa migrate: " << connected.error().message << " (postgres.url)\n";
            code = exit_code::unavailable;
            co_return;
        }
        const auto latest = pg::migrations().back().version;
        if (o.status) {
            auto applied = co_await pg::applied_migrations(connection);
            if (!applied) {
                std::cerr << "wappa migrate: " << applied.error().message << "\n";
                code = exit_code::unavailable;
                co_return;
            }
            const int version = applied->empty() ? 0 : applied->back().version;
            std::cout << "schema version " << version << " (this wappa's latest: " << latest << ")"
                      << (version < latest ? ": run `wappa migrate`" : "") << "\n";
            for (const auto& a : applied.value()) std::cout << "  " << a.version << "  " << a.name << "  applied " << a.applied_at << "\n";
            co_return;
        }
        auto done = co_await pg::migrate(connection);
        if (!done) {
            std::cerr << "wappa migrate: " << done.error().message << "\n";
            code = done.error().transient ? exit_code::unavailable : exit_code::failure;
            co_return;
        }
        if (done->empty()) std::cout << "schema up to date (version " << latest << ")\n";
        for (const auto v : done.value()) {
            for (const auto& m : pg::migrations()) {
                if (m.version == v) std::cout << "applied migration " << v << " (" << m.name << ")\n";
            }
        }
    };
    auto finished = net::co_spawn(io, work(), net::use_future);
    io.run();
    finished.get();
    return code;
}

}  // namespace

Command setup_migrate(CLI::App& app, const GlobalOptions& global) {
    auto o = std::make_shared<MigrateOptions>();
    auto* cmd = app.add_subcommand("migrate", "Create or upgrade the PostgreSQL schema");
    cmd->add_flag("--status", o->status, "Print the applied schema version; change nothing");
    return {cmd, [&global, o] { return run_migrate(global, *o); }};
}

}  // namespace wappa::app
