#include "wappa/service/inbound_events.hpp"

#include <openssl/evp.h>

#include <charconv>

#include "wappa/core/json.hpp"
#include "wappa/core/time.hpp"
#include "wappa/pubsub/notification.hpp"

namespace wappa::service {
namespace {

using whatsapp::Change;

std::string digest_hex(std::string_view a, std::string_view b) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
    EVP_DigestUpdate(ctx, a.data(), a.size());
    EVP_DigestUpdate(ctx, b.data(), b.size());
    EVP_DigestFinal_ex(ctx, md, &len);
    EVP_MD_CTX_free(ctx);
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < 16 && i < len; ++i) {
        out += hex[md[i] >> 4];
        out += hex[md[i] & 0xf];
    }
    return out;
}

// Meta's unix-seconds string as RFC 3339; the receive time when it is missing or malformed.
std::string event_time(std::string_view unix_seconds, std::string_view received_at) {
    long long secs = 0;
    const auto [ptr, ec] = std::from_chars(unix_seconds.data(), unix_seconds.data() + unix_seconds.size(), secs);
    if (unix_seconds.empty() || ec != std::errc{} || secs <= 0) return std::string(received_at);
    return format_utc(std::chrono::sys_seconds(std::chrono::seconds(secs)));
}

void append_field(std::string& out, std::string_view key, std::string_view value) {
    out += ',';
    json::append_string(out, key);
    out += ':';
    json::append_string(out, value);
}

std::string entry_head(std::string_view dedup_id, std::string_view kind, const config::TenantSettings& tenant,
                       const Change& change, std::string_view received_at) {
    std::string out;
    out.reserve(1024);
    out = "{\"id\":";
    json::append_string(out, dedup_id);
    append_field(out, "kind", kind);
    append_field(out, "tenant", tenant.id);
    append_field(out, "waba_id", change.waba_id);
    append_field(out, "phone_number_id", change.phone_number_id);
    append_field(out, "display_phone_number", change.display_phone_number);
    append_field(out, "received_at", received_at);
    return out;
}

struct Builder {
    const config::Config& config;
    std::string_view received_at;
    InboundBatch batch;

    void add(const config::TenantSettings& tenant, std::string dedup_id, std::string entry, std::string type,
             const pubsub::Notification* notification) {
        queue::InboundEvent event;
        event.tenant = tenant.id;
        event.dedup_id = std::move(dedup_id);
        event.entry = std::move(entry);
        if (notification != nullptr) {
            event.channel = pubsub::channel_name(config.redis.key_prefix, tenant.id, notification->user_id,
                                                 notification->event);
            event.notification = pubsub::render_payload(*notification);
        }
        batch.events.push_back(std::move(event));
        batch.event_types.push_back(std::move(type));
    }

    void message(const config::TenantSettings& tenant, const Change& change, const whatsapp::Message& m) {
        const auto dedup_id = "msg:" + (m.id.empty() ? digest_hex(m.raw, {}) : m.id);
        auto entry = entry_head(dedup_id, "message", tenant, change, received_at);
        if (const auto* contact = change.contact_for(m.from)) {
            entry += ",\"contact\":{\"wa_id\":";
            json::append_string(entry, contact->wa_id);
            append_field(entry, "user_id", contact->user_id);
            append_field(entry, "name", contact->name);
            entry += '}';
        }
        entry.append(",\"message\":").append(m.raw).append("}");
        pubsub::Notification n{std::string(pubsub::incoming_message), tenant.id,
                               m.from.empty() ? m.from_user_id : m.from, event_time(m.timestamp, received_at),
                               {{"message_id", m.id}, {"message_type", m.type}}};
        add(tenant, dedup_id, std::move(entry), "message:" + (m.type.empty() ? std::string("unknown") : m.type),
            config.pubsub.publish_incoming ? &n : nullptr);
    }

    void status(const config::TenantSettings& tenant, const Change& change, const whatsapp::StatusUpdate& s) {
        const auto dedup_id = "status:" + s.id + ":" + s.status;
        auto entry = entry_head(dedup_id, "status", tenant, change, received_at);
        entry.append(",\"status\":").append(s.raw).append("}");
        const auto recipient = s.recipient_id.empty() ? s.recipient_user_id : s.recipient_id;
        pubsub::Notification n{std::string(pubsub::status_change), tenant.id, recipient,
                               event_time(s.timestamp, received_at),
                               {{"message_id", s.id}, {"status", s.status}, {"recipient", recipient}}};
        if (!s.errors.empty()) {
            n.data.push_back({"error_code", s.errors.front().code});
            n.data.push_back({"error_title", s.errors.front().title});
        }
        if (!s.biz_opaque_callback_data.empty()) n.data.push_back({"biz_opaque_callback_data", s.biz_opaque_callback_data});
        batch.statuses[tenant.id].push_back({s.biz_opaque_callback_data, s.id, s.status,
                                             s.errors.empty() ? std::string() : std::to_string(s.errors.front().code),
                                             s.errors.empty() ? std::string() : s.errors.front().title});
        add(tenant, dedup_id, std::move(entry), "status:" + (s.status.empty() ? std::string("unknown") : s.status),
            config.pubsub.publish_status ? &n : nullptr);
    }

    // value.errors and fields other than "messages": kept whole, deduplicated by content.
    void raw_change(const config::TenantSettings& tenant, const Change& change) {
        const bool is_error = change.field == "messages" || change.field.empty();
        const auto kind = is_error ? "error" : "change";
        const auto dedup_id = std::string(kind) + ":" + digest_hex(change.waba_id + "|" + change.field, change.raw_value);
        auto entry = entry_head(dedup_id, kind, tenant, change, received_at);
        append_field(entry, "field", change.field);
        entry += ",\"value\":" + change.raw_value + "}";
        add(tenant, dedup_id, std::move(entry), is_error ? "error" : "change:" + change.field, nullptr);
    }
};

const config::TenantSettings* resolve_tenant(const config::Config& config, const Change& change) {
    if (!change.phone_number_id.empty()) return config.find_tenant_by_number(change.phone_number_id);
    for (const auto& t : config.tenants) {
        if (!t.waba_id.empty() && t.waba_id == change.waba_id) return &t;
    }
    return nullptr;
}

}  // namespace

InboundBatch build_inbound_events(const whatsapp::Webhook& webhook, const config::Config& config,
                                  const std::function<bool(const config::TenantSettings&)>& accepts,
                                  std::string_view received_at) {
    Builder builder{config, received_at, {}};
    for (const auto& change : webhook.changes) {
        const auto* tenant = resolve_tenant(config, change);
        if (tenant == nullptr || !accepts(*tenant)) {
            builder.batch.unknown_numbers.push_back(change.phone_number_id.empty() ? "waba:" + change.waba_id
                                                                                   : change.phone_number_id);
            continue;
        }
        for (const auto& m : change.messages) builder.message(*tenant, change, m);
        for (const auto& s : change.statuses) builder.status(*tenant, change, s);
        if (!change.raw_value.empty()) builder.raw_change(*tenant, change);
    }
    return std::move(builder.batch);
}

}  // namespace wappa::service
