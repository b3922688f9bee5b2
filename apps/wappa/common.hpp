#pragma once
// What every command shares: the global options, loading the config, setting up logs.
#include <CLI/CLI.hpp>

#include <optional>
#include <string>

#include "wappa/config/config.hpp"
#include "wappa/pg/settings.hpp"
#include "wappa/redis/settings.hpp"

namespace wappa::app {

struct GlobalOptions {
    std::optional<std::string> config_path;
    std::string log_level = "info";
    std::string log_format = "text";
};

// A command: its CLI11 subcommand and what runs when it was chosen. Returns an exit code.
struct Command {
    CLI::App* cli = nullptr;
    std::function<int()> run;
    // Long-running commands install their own SIGTERM/SIGINT handling and then call
    // allow_termination_signals(); until then a signal waits instead of killing the process.
    bool handles_signals = false;
};

// SIGTERM and SIGINT are blocked from the start of main(), so that a signal arriving during
// start-up is not lost to the default action; this lets them through again.
void block_termination_signals();
void allow_termination_signals();

// Loads the config and sets up logging; prints every problem and returns nullopt (exit 78).
std::optional<config::Config> load_config_or_report(const GlobalOptions& options);
redis::Settings redis_settings(const config::Config& config, std::string name);
pg::Settings postgres_settings(const config::Config& config);
// The inbound streams' cap: nothing consumes them without a database or a bot (0 = uncapped).
std::int64_t inbound_stream_cap(const config::Config& config);

Command setup_serve(CLI::App& app, const GlobalOptions& global);
Command setup_subscribe(CLI::App& app, const GlobalOptions& global);
Command setup_publish(CLI::App& app, const GlobalOptions& global);
Command setup_config(CLI::App& app, const GlobalOptions& global);
Command setup_enqueue(CLI::App& app, const GlobalOptions& global);
Command setup_worker(CLI::App& app, const GlobalOptions& global);
Command setup_inspect(CLI::App& app, const GlobalOptions& global);
Command setup_requeue(CLI::App& app, const GlobalOptions& global);
Command setup_stats(CLI::App& app, const GlobalOptions& global);
Command setup_migrate(CLI::App& app, const GlobalOptions& global);

}  // namespace wappa::app
