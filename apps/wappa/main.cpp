// wappa: one binary, many roles. Global flags and exit codes live here; each command lives in
// its own cmd_<name>.cpp (options, setup, run).
#include <iostream>

#include "common.hpp"
#include "wappa/core/exit_codes.hpp"

int main(int argc, char** argv) {
    using namespace wappa;
    app::block_termination_signals();
    CLI::App app{"wappa: a WhatsApp Cloud API gateway (webhooks in, messages out, live events)", "wappa"};
    app.set_version_flag("-V,--version", std::string("wappa ") + WAPPA_VERSION);
    app.require_subcommand(1, 1);
    app.fallthrough();  // global options are accepted after the command too

    app::GlobalOptions global;
    app.add_option("-c,--config", global.config_path, "Config file (default ./wappa.toml, then /etc/wappa/wappa.toml)");
    app.add_option("--log-level", global.log_level, "trace|debug|info|warn|error")
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
    app.add_option("--log-format", global.log_format, "text|json")->check(CLI::IsMember({"text", "json"}));

    const app::Command commands[] = {
        app::setup_serve(app, global),
        app::setup_worker(app, global),
        app::setup_enqueue(app, global),
        app::setup_inspect(app, global),
        app::setup_requeue(app, global),
        app::setup_stats(app, global),
        app::setup_subscribe(app, global),
        app::setup_publish(app, global),
        app::setup_config(app, global),
    };

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
