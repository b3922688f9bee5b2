// wappa config check | show
#include <iostream>

#include "common.hpp"
#include "wappa/core/exit_codes.hpp"

namespace wappa::app {

Command setup_config(CLI::App& app, const GlobalOptions& global) {
    auto* cmd = app.add_subcommand("config", "Validate or print the configuration");
    cmd->require_subcommand(1, 1);
    auto* check = cmd->add_subcommand("check", "Validate the config and print every problem with its key");
    auto* show = cmd->add_subcommand("show", "Print the effective config (file + environment), secrets masked");
    return {cmd, [&global, check, show]() -> int {
                auto loaded = config::load_config(global.config_path);
                for (const auto& p : loaded.problems) std::cerr << "wappa: config error: " << config::format_problem(p) << "\n";
                if (!loaded.ok()) {
                    if (check->parsed()) std::cerr << loaded.problems.size() << " problem(s) in " << loaded.source << "\n";
                    return exit_code::config;
                }
                if (show->parsed()) {
                    std::cout << "# effective configuration from " << loaded.source << "\n" << config::render_config(loaded.config);
                } else {
                    std::cout << loaded.source << ": OK (" << loaded.config.tenants.size() << " tenant(s))\n";
                }
                return exit_code::ok;
            }};
}

}  // namespace wappa::app
