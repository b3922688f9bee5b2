#pragma once
// One description of every key per section, shared by the TOML loader, the environment
// overrides, `config show` and the "did you mean" hints, so that they cannot disagree.
#include "wappa/config/config.hpp"

namespace wappa::config::fields {

enum class Kind { plain, secret };

template <class Visit>
void visit(ServerSettings& s, Visit&& v) {
    v("listen", s.listen, Kind::plain);
    v("body_limit", s.body_limit, Kind::plain);
    v("threads", s.threads, Kind::plain);
    v("admin_token", s.admin_token, Kind::secret);
    v("read_timeout", s.read_timeout, Kind::plain);
    v("write_timeout", s.write_timeout, Kind::plain);
    v("dedup_ttl", s.dedup_ttl, Kind::plain);
}

template <class Visit>
void visit(RedisSettings& s, Visit&& v) {
    v("url", s.url, Kind::secret);
    v("key_prefix", s.key_prefix, Kind::plain);
    v("pool_size", s.pool_size, Kind::plain);
    v("connect_timeout", s.connect_timeout, Kind::plain);
    v("command_timeout", s.command_timeout, Kind::plain);
    v("tls_ca_file", s.tls_ca_file, Kind::plain);
    v("tls_cert_file", s.tls_cert_file, Kind::plain);
    v("tls_key_file", s.tls_key_file, Kind::plain);
}

template <class Visit>
void visit(PostgresSettings& s, Visit&& v) {
    v("url", s.url, Kind::secret);
    v("pool_size", s.pool_size, Kind::plain);
    v("prepared_statements", s.prepared_statements, Kind::plain);
    v("connect_timeout", s.connect_timeout, Kind::plain);
}

template <class Visit>
void visit(GraphSettings& s, Visit&& v) {
    v("base_url", s.base_url, Kind::plain);
    v("api_version", s.api_version, Kind::plain);
    v("timeout", s.timeout, Kind::plain);
    v("max_connections", s.max_connections, Kind::plain);
    v("ca_file", s.ca_file, Kind::plain);
    v("sandbox_latency", s.sandbox_latency, Kind::plain);
    v("sandbox_error_rate", s.sandbox_error_rate, Kind::plain);
    v("sandbox_statuses", s.sandbox_statuses, Kind::plain);
}

template <class Visit>
void visit(PubsubSettings& s, Visit&& v) {
    v("publish_incoming", s.publish_incoming, Kind::plain);
    v("publish_outgoing", s.publish_outgoing, Kind::plain);
    v("publish_bot_replies", s.publish_bot_replies, Kind::plain);
    v("publish_status", s.publish_status, Kind::plain);
    v("event_log_max_len", s.event_log_max_len, Kind::plain);
    v("client_queue_limit", s.client_queue_limit, Kind::plain);
    v("client_ping_interval", s.client_ping_interval, Kind::plain);
}

template <class Visit>
void visit(OutboundSettings& s, Visit&& v) {
    v("max_attempts", s.max_attempts, Kind::plain);
    v("backoff_base", s.backoff_base, Kind::plain);
    v("backoff_max", s.backoff_max, Kind::plain);
    v("visibility_timeout", s.visibility_timeout, Kind::plain);
    v("rate_per_number", s.rate_per_number, Kind::plain);
    v("rate_global", s.rate_global, Kind::plain);
    v("rate_per_recipient", s.rate_per_recipient, Kind::plain);
    v("burst_per_recipient", s.burst_per_recipient, Kind::plain);
    v("on_ambiguous", s.on_ambiguous, Kind::plain);
    v("ambiguous_wait", s.ambiguous_wait, Kind::plain);
    v("pause_probe", s.pause_probe, Kind::plain);
    v("cooldown_base", s.cooldown_base, Kind::plain);
    v("cooldown_max", s.cooldown_max, Kind::plain);
    v("retention", s.retention, Kind::plain);
    v("failed_max", s.failed_max, Kind::plain);
    v("failed_max_age", s.failed_max_age, Kind::plain);
}

template <class Visit>
void visit(InboundSettings& s, Visit&& v) {
    v("consumer_group", s.consumer_group, Kind::plain);
    v("batch", s.batch, Kind::plain);
    v("claim_idle", s.claim_idle, Kind::plain);
    v("max_deliveries", s.max_deliveries, Kind::plain);
    v("failed_max", s.failed_max, Kind::plain);
    v("stream_max_len", s.stream_max_len, Kind::plain);
    v("conversation_ttl", s.conversation_ttl, Kind::plain);
}

template <class Visit>
void visit(BotSettings& s, Visit&& v) {
    v("mode", s.mode, Kind::plain);
}

template <class Visit>
void visit(TenantSettings& s, Visit&& v) {
    v("id", s.id, Kind::plain);
    v("phone_number_id", s.phone_number_id, Kind::plain);
    v("waba_id", s.waba_id, Kind::plain);
    v("access_token", s.access_token, Kind::secret);
    v("app_secret", s.app_secret, Kind::secret);
    v("verify_token", s.verify_token, Kind::secret);
    v("api_token", s.api_token, Kind::secret);
    v("rate_per_number", s.rate_per_number, Kind::plain);
    v("rate_per_recipient", s.rate_per_recipient, Kind::plain);
    v("burst_per_recipient", s.burst_per_recipient, Kind::plain);
}

// Calls f(name, section) for every single-table section, in file order.
template <class F>
void for_each_section(Config& c, F&& f) {
    f("server", c.server);
    f("redis", c.redis);
    f("postgres", c.postgres);
    f("graph", c.graph);
    f("pubsub", c.pubsub);
    f("outbound", c.outbound);
    f("inbound", c.inbound);
    f("bot", c.bot);
}

}  // namespace wappa::config::fields
