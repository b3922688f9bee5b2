#include "wappa/service/inbound_events.hpp"

#include <openssl/evp.h>

#include <charconv>

#include "wappa/core/json.hpp"
#include "wappa/core/time.hpp"
#include "wappa/pubsub/notification.hpp"
#include "wappa/service/notifications.hpp"
#include "wappa/whatsapp/inbound_record.hpp"

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
        const auto n = incoming_notification(tenant.id, whatsapp::user_id_of(m, change.contact_for(m.from)), m,
                                             event_time(m.timestamp, received_at));
        // With PostgreSQL, the inbound worker publishes once the message is stored.
        add(tenant, dedup_id, std::move(entry), "message:" + (m.type.empty() ? std::string("unknown") : m.type),
            config.pubsub.publish_incoming && config.postgres.url.empty() ? &n : nullptr);
    }

    void status(const config::TenantSettings& tenant, const Change& change, const whatsapp::StatusUpdate& s) {
        const auto dedup_id = "status:" + s.id + ":" + s.status;
        auto entry = entry_head(dedup_id, "status", tenant, change, received_at);
        entry.append(",\"status\":").append(s.raw).append("}");
        const StatusFields fields{s.recipient_id.empty() ? s.recipient_user_id : s.recipient_id, s.id, s.status,
                                  s.errors.empty() ? std::string() : std::to_string(s.errors.front().code),
                                  s.errors.empty() ? std::string() : s.errors.front().title, s.biz_opaque_callback_data};
        const auto n = status_notification(tenant.id, fields, event_time(s.timestamp, received_at));
        batch.statuses[tenant.id].push_back({s.biz_opaque_callback_data, s.id, s.status, fields.error_code, fields.error_title});
        add(tenant, dedup_id, std::move(entry), "status:" + (s.status.empty() ? std::string("unknown") : s.status),
            config.pubsub.publish_status && config.postgres.url.empty() ? &n : nullptr);
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

Task<Result<queue::AppendResult>> ingest(const InboundBatch& batch, queue::InboundQueue& inbound, queue::OutboundQueue& outbound) {
    auto appended = co_await inbound.append(batch.events);
    if (!appended) co_return Error{"events not queued: " + appended.error().message, "inbound_append"};
    // Each tenant's statuses change that tenant's messages only: the tenant the webhook's phone
    // number belongs to, whatever the status names.
    for (const auto& [tenant, statuses] : batch.statuses) {
        auto applied = co_await outbound.apply_statuses(tenant, statuses);
        if (!applied) co_return Error{"statuses not applied: " + applied.error().message, "outbound_status"};
    }
    co_return appended;
}

}  // namespace wappa::service
