#pragma once
// Typed settings of wappa.toml. Every field has its documented default (wappa.toml.example);
// load_config() is the only place that reads TOML or the environment.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "wappa/config/units.hpp"

namespace wappa::config {

struct ServerSettings {
    std::string listen = "0.0.0.0:8080";
    Bytes body_limit{4 * 1024 * 1024};    // Meta batches can reach ~3 MB
    std::int64_t threads = 0;             // 0 = one per CPU core
    std::string admin_token;              // empty = admin API refused
    Duration read_timeout{30'000};
    Duration write_timeout{30'000};
    Duration dedup_ttl{8 * 86'400'000};   // Meta retries for up to 7 days
};

struct RedisSettings {
    std::string url = "redis://127.0.0.1:6379";
    std::string key_prefix = "wappa";
    std::int64_t pool_size = 1;           // connections per event-loop thread (commands pipeline)
    Duration connect_timeout{5'000};
    Duration command_timeout{5'000};
    // rediss:// only: an extra trusted CA, and a client certificate for servers that ask for one.
    std::string tls_ca_file;
    std::string tls_cert_file;
    std::string tls_key_file;
};

struct PostgresSettings {
    std::string url;                      // empty = no persistence
    std::int64_t pool_size = 4;
    bool prepared_statements = true;      // false for PgBouncer transaction mode
    Duration connect_timeout{5'000};
};

struct GraphSettings {
    std::string base_url = "sandbox";
    std::string api_version = "v23.0";
    Duration timeout{15'000};
    std::int64_t max_connections = 64;
    std::string ca_file;                  // extra trusted CA (PEM); empty = the system's store
    Duration sandbox_latency{0};          // "sandbox": how long each fake send takes
    double sandbox_error_rate = 0;        // "sandbox": share of sends answered with a transient error
    bool sandbox_statuses = false;        // "sandbox": each sent message gets Meta's sent/delivered/read webhooks
};

struct PubsubSettings {
    bool publish_incoming = true;
    bool publish_outgoing = true;
    bool publish_bot_replies = false;
    bool publish_status = true;
    // The durable event log: every notification is also appended to its tenant's capped stream
    // (0 = no log: nothing to replay).
    std::int64_t event_log_max_len = 10'000;
    // Live clients (SSE, WebSocket): events waiting per client before it is cut off as too slow,
    // and the keep-alive ping of an idle connection.
    std::int64_t client_queue_limit = 1'024;
    Duration client_ping_interval{15'000};
};

struct OutboundSettings {
    // 20 attempts, backoff from 1 s to 2 min with equal jitter: at least 13 minutes between the
    // first and the last, so that a 10-minute outage of Meta is ridden out.
    std::int64_t max_attempts = 20;
    Duration backoff_base{1'000};
    Duration backoff_max{120'000};
    Duration visibility_timeout{60'000};
    Rate rate_per_number{80};
    Rate rate_global{0};
    Rate rate_per_recipient{1.0 / 6.0};
    std::int64_t burst_per_recipient = 1;
    std::string on_ambiguous = "fail";
    Duration ambiguous_wait{600'000};          // an unknown outcome waits this long for its status webhook
    Duration pause_probe{60'000};              // a paused tenant (token refused) probes this often
    Duration cooldown_base{1'000};             // throttled without Retry-After: base * 4^n ...
    Duration cooldown_max{300'000};            // ... up to this
    Duration retention{7LL * 86'400'000};      // a sent message's state and history
    std::int64_t failed_max = 100'000;         // failed messages kept, oldest dropped first
    Duration failed_max_age{30LL * 86'400'000};
};

struct InboundSettings {
    std::string consumer_group = "wappa";
    std::int64_t batch = 512;                  // events per read (and per PostgreSQL transaction)
    Duration claim_idle{60'000};               // a dead consumer's pending events are taken over after this
    std::int64_t max_deliveries = 5;           // an event that fails this often (PostgreSQL up) goes to the failed set
    std::int64_t failed_max = 10'000;          // each tenant's inbound failed set, oldest dropped first
    std::int64_t stream_max_len = 100'000;     // with neither [postgres] url nor a bot, serve caps each stream here
    Duration conversation_ttl{86'400'000};     // the active-conversation cache's sliding TTL
};

struct BotSettings {
    std::string mode = "none";
};

struct TenantSettings {
    std::string id;
    std::string phone_number_id;
    std::string waba_id;
    std::string access_token;
    std::string app_secret;
    std::string verify_token;
    std::string api_token;
    std::optional<Rate> rate_per_number;
    std::optional<Rate> rate_per_recipient;
    std::optional<std::int64_t> burst_per_recipient;
};

struct Config {
    ServerSettings server;
    RedisSettings redis;
    PostgresSettings postgres;
    GraphSettings graph;
    PubsubSettings pubsub;
    OutboundSettings outbound;
    InboundSettings inbound;
    BotSettings bot;
    std::vector<TenantSettings> tenants;

    const TenantSettings* find_tenant(std::string_view id) const;
    const TenantSettings* find_tenant_by_number(std::string_view phone_number_id) const;
};

struct Problem {
    std::string where;    // "wappa.toml:12:1", "environment", "wappa.toml"
    std::string key;      // "server.listen", "tenants[1].app_secret"
    std::string message;
};

struct LoadedConfig {
    Config config;
    std::string source;   // the file read, or "(built-in defaults)"
    std::vector<Problem> problems;
    bool ok() const { return problems.empty(); }
};

// Reads `explicit_path` if given (it must exist), else ./wappa.toml, else /etc/wappa/wappa.toml,
// else the defaults; then WAPPA_<SECTION>_<KEY> overrides; then validates. Never throws.
LoadedConfig load_config(const std::optional<std::string>& explicit_path);
LoadedConfig load_config_text(std::string_view toml_text, std::string source_name);

// The effective configuration as TOML, every secret masked.
std::string render_config(const Config& config);

std::string format_problem(const Problem& problem);

}  // namespace wappa::config
