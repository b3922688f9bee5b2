#include "wappa/service/outbound_jobs.hpp"

#include <random>

#include "wappa/core/time.hpp"
#include "wappa/pubsub/notification.hpp"

namespace wappa::service {

queue::OutboundSettings outbound_settings(const config::Config& config) {
    queue::OutboundSettings s;
    s.prefix = config.redis.key_prefix;
    s.event_log_max_len = config.pubsub.event_log_max_len;
    s.lease = config.outbound.visibility_timeout;
    s.max_attempts = config.outbound.max_attempts;
    s.backoff_base = config.outbound.backoff_base;
    s.backoff_max = config.outbound.backoff_max;
    s.retry_ambiguous = config.outbound.on_ambiguous == "retry";
    s.ambiguous_wait = config.outbound.ambiguous_wait;
    s.pause_probe = config.outbound.pause_probe;
    s.cooldown_base = config.outbound.cooldown_base;
    s.cooldown_max = config.outbound.cooldown_max;
    s.rate_global = config.outbound.rate_global.per_second;
    s.retention = config.outbound.retention;
    s.failed_max = config.outbound.failed_max;
    s.failed_max_age = config.outbound.failed_max_age;
    return s;
}

std::string new_message_id() {
    thread_local std::mt19937_64 random(std::random_device{}());
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (int i = 0; i < 2; ++i) {
        auto v = random();
        for (int j = 0; j < 16; ++j, v >>= 4) out += hex[v & 0xf];
    }
    return out;
}

std::variant<queue::EnqueueRequest, whatsapp::JobError> make_enqueue_request(const config::Config& config,
                                                                             whatsapp::OutboundJob job) {
    const auto* tenant = config.find_tenant(job.tenant);
    if (tenant == nullptr) return whatsapp::JobError{"tenant", "'" + job.tenant + "' is not a configured tenant"};
    if (job.phone_number_id.empty()) job.phone_number_id = tenant->phone_number_id;
    if (job.message_id.empty()) job.message_id = new_message_id();
    queue::EnqueueRequest r;
    r.message_id = job.message_id;
    r.tenant = job.tenant;
    r.phone_number_id = job.phone_number_id;
    r.to_number = job.to_number;
    r.type = job.type;
    r.graph_body = whatsapp::build_graph_body(job, job.message_id);
    r.rate_per_recipient = tenant->rate_per_recipient.value_or(config.outbound.rate_per_recipient).per_second;
    r.burst_per_recipient = tenant->burst_per_recipient.value_or(config.outbound.burst_per_recipient);
    if (job.type == "mark_as_read") {
        r.rate_per_recipient = 0;   // not a message to the user: no pair limit
        r.to_number = "read";
    } else if (config.pubsub.publish_outgoing) {
        pubsub::Notification n{std::string(pubsub::outgoing_message), job.tenant, job.to_number, now_utc(),
                               {{"message_id", job.message_id}, {"message_type", job.type}, {"recipient", job.to_number}}};
        r.notify_channel = pubsub::channel_name(config.redis.key_prefix, job.tenant, job.to_number, n.event);
        r.notify_payload = pubsub::render_payload(n);
    }
    return r;
}

}  // namespace wappa::service
