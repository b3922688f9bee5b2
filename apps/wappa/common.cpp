#include "common.hpp"

#include <csignal>
#include <iostream>

#include "wappa/config/redis_url.hpp"
#include "wappa/log/log.hpp"

namespace wappa::app {

std::optional<config::Config> load_config_or_report(const GlobalOptions& options) {
    const log::Settings log_settings{options.log_level,
                                     options.log_format == "json" ? log::Format::json : log::Format::text};
    if (auto status = log::setup(log_settings); !status) {
        std::cerr << "wappa: --log-level: " << status.error().message << "\n";
        return std::nullopt;
    }
    auto loaded = config::load_config(options.config_path);
    if (!loaded.ok()) {
        for (const auto& p : loaded.problems) std::cerr << "wappa: config error: " << config::format_problem(p) << "\n";
        return std::nullopt;
    }
    return std::move(loaded.config);
}

namespace {
sigset_t termination_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    return set;
}
}  // namespace

void block_termination_signals() {
    const auto set = termination_signals();
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

void allow_termination_signals() {
    const auto set = termination_signals();
    pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
}

redis::Settings redis_settings(const config::Config& config, std::string name) {
    redis::Settings s;
    s.endpoint = config::parse_redis_url(config.redis.url).value();  // validated by load_config
    s.connect_timeout = config.redis.connect_timeout;
    s.command_timeout = config.redis.command_timeout;
    s.tls = {config.redis.tls_ca_file, config.redis.tls_cert_file, config.redis.tls_key_file};
    s.name = std::move(name);
    return s;
}

pg::Settings postgres_settings(const config::Config& config) {
    pg::Settings s;
    s.url = config.postgres.url;
    s.pool_size = static_cast<std::size_t>(config.postgres.pool_size);
    s.prepared_statements = config.postgres.prepared_statements;
    s.connect_timeout = config.postgres.connect_timeout;
    return s;
}

std::int64_t inbound_stream_cap(const config::Config& config) {
    return config.postgres.url.empty() && config.bot.mode == "none" ? config.inbound.stream_max_len : 0;
}

}  // namespace wappa::app
