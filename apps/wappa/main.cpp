// wappa: one binary, many roles. Global flags and exit codes live here; each command lives in
// its own cmd_<name>.cpp (options, setup, run).
#include <cstdlib>
#include <iostream>
#include <string_view>
#include <utility>
#include <vector>

#include "common.hpp"
#include "wappa/core/exit_codes.hpp"
#include "wappa/redis/script.hpp"

int main(int argc, char** argv) {
    using namespace wappa;
    app::block_termination_signals();
    // The test suites run every queue script under the key guard (undeclared keys are errors).
    if (std::getenv("WAPPA_TEST_KEY_GUARD") != nullptr) redis::Script::check_declared_keys();
    CLI::App app{"wappa: a WhatsApp Cloud API gateway (webhooks in, messages out, live events)", "wappa"};
    app.set_version_flag("-V,--version", std::string("wappa ") + WAPPA_VERSION);
    app.require_subcommand(1, 1);
    app.fallthrough();  // global options are accepted after the command too

    app::GlobalOptions global;
    app.add_option("-c,--config", global.config_path, "Config file (default ./wappa.toml, then /etc/wappa/wappa.toml)");
    app.add_option("--log-level", global.log_level, "trace|debug|info|warn|error")
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
    app.add_option("--log-format", global.log_format, "text|json")->check(CLI::IsMember({"text", "json"}));

    // Only the command being run gets its options built: a one-shot `wappa enqueue` should not
    // pay for every command's flags at each start (CLI11's setup was ~15% of its user time).
    // Without a command on the line, all are built, for --help and the error message.
    using Setup = app::Command (*)(CLI::App&, const app::GlobalOptions&);
    static constexpr std::pair<std::string_view, Setup> setups[] = {
        {"serve", app::setup_serve},         {"worker", app::setup_worker},   {"enqueue", app::setup_enqueue},
        {"inspect", app::setup_inspect},     {"requeue", app::setup_requeue}, {"stats", app::setup_stats},
        {"subscribe", app::setup_subscribe}, {"publish", app::setup_publish}, {"config", app::setup_config},
        {"migrate", app::setup_migrate},
    };
    std::string_view named;
    for (int i = 1; i < argc && named.empty(); ++i) {
        const std::string_view arg = argv[i];
        if (arg == "-c" || arg == "--config" || arg == "--log-level" || arg == "--log-format") {
            ++i;   // skip its value
            continue;
        }
        for (const auto& [name, setup] : setups) {
            if (arg == name) named = name;
        }
    }
    std::vector<app::Command> commands;
    for (const auto& [name, setup] : setups) {
        if (named.empty() || name == named) commands.push_back(setup(app, global));
    }

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        app::allow_termination_signals();
        std::cerr << "wappa: " << e.what() << "\n" << "Run 'wappa --help' for usage.\n";
        return exit_code::usage;
    }
    for (const auto& command : commands) {
        if (command.cli->parsed()) {
            if (!command.handles_signals) app::allow_termination_signals();
            try {
                return command.run();
            } catch (const std::exception& e) {
                std::cerr << "wappa " << command.cli->get_name() << ": unexpected failure: " << e.what() << "\n";
                return exit_code::failure;
            }
        }
    }
    return exit_code::usage;
}
