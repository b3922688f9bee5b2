#include "wappa/service/webhook_intake.hpp"

#include <spdlog/spdlog.h>

#include <set>

#include "wappa/core/time.hpp"
#include "wappa/queue/inbound_queue.hpp"
#include "wappa/queue/outbound_queue.hpp"
#include "wappa/core/secret.hpp"
#include "wappa/service/inbound_events.hpp"
#include "wappa/service/serve_metrics.hpp"
#include "wappa/whatsapp/parser.hpp"
#include "wappa/whatsapp/signature.hpp"

namespace wappa::service {
namespace {

std::string query_value(const http::Request& request, std::string_view dotted, std::string_view underscored) {
    auto v = request.query_param(dotted);
    return v.empty() ? request.query_param(underscored) : v;
}

}  // namespace

WebhookIntake::WebhookIntake(const config::Config& config, queue::InboundQueue& queue, queue::OutboundQueue& outbound,
                             ServeMetrics& metrics)
    : config_(config), queue_(queue), outbound_(outbound), metrics_(metrics) {}

http::Response WebhookIntake::verify(const http::Request& request, std::optional<std::string_view> tenant) const {
    const auto mode = query_value(request, "hub.mode", "hub_mode");
    const auto token = query_value(request, "hub.verify_token", "hub_verify_token");
    const auto challenge = query_value(request, "hub.challenge", "hub_challenge");
    if (mode != "subscribe") return http::Response::text(403, "hub.mode must be \"subscribe\"");
    bool matched = false;
    for (const auto& t : config_.tenants) {
        if (tenant && t.id != *tenant) continue;
        matched = same_secret(token, t.verify_token) || matched;
    }
    if (!matched) {
        spdlog::warn("webhook verification refused: wrong hub.verify_token tenant={}", tenant.value_or("*"));
        return http::Response::text(403, "wrong hub.verify_token");
    }
    spdlog::info("webhook verified by Meta tenant={}", tenant.value_or("*"));
    return http::Response::text(200, challenge);
}

Task<http::Response> WebhookIntake::receive(const http::Request& request, std::optional<std::string_view> tenant) {
    const auto signature = request.header("X-Hub-Signature-256");
    if (signature.empty()) {
        metrics_.webhook_rejected.inc({"missing_signature"});
        co_return http::Response::error(401, "missing X-Hub-Signature-256 header");
    }
    // Which app secrets could have signed this: the path's tenant, or any configured one.
    std::set<std::string_view> secrets;
    for (const auto& t : config_.tenants) {
        if ((!tenant || t.id == *tenant) && !t.app_secret.empty()) secrets.insert(t.app_secret);
    }
    std::string_view signing_secret;
    for (const auto secret : secrets) {
        if (whatsapp::verify_signature(signature, request.body, secret)) {
            signing_secret = secret;
            break;
        }
    }
    if (signing_secret.empty()) {
        metrics_.webhook_rejected.inc({"bad_signature"});
        spdlog::warn("webhook refused: signature does not match tenant={} bytes={}", tenant.value_or("*"), request.body.size());
        co_return http::Response::error(401, "X-Hub-Signature-256 does not match the body");
    }

    auto parsed = whatsapp::parse_webhook(request.body);
    if (!parsed) {
        metrics_.webhook_rejected.inc({"malformed"});
        spdlog::warn("webhook refused: {}", parsed.error().message);
        co_return http::Response::error(400, parsed.error().message);
    }
    // A tenant's events are accepted only under its own app secret (tenants may share an app).
    const auto accepts = [&](const config::TenantSettings& t) {
        return t.app_secret == signing_secret && (!tenant || t.id == *tenant);
    };
    auto batch = build_inbound_events(parsed.value(), config_, accepts, now_utc());
    for (const auto& number : batch.unknown_numbers) {
        metrics_.webhook_unknown.inc({number});
        spdlog::warn("webhook change for an unknown phone_number_id, not queued phone_number_id={}", number);
    }

    // Our sent messages' fate (and the resolution of sends whose outcome was unknown) is applied
    // after the events are queued. Doing both again changes nothing, so any failure is answered
    // 503 for Meta to retry.
    auto appended = co_await ingest(batch, queue_, outbound_);
    if (!appended) {
        metrics_.redis_errors.inc({appended.error().code});
        spdlog::error("webhook not acknowledged (Meta will retry): {}", appended.error().message);
        co_return http::Response::error(503, "events could not be queued; retry later");
    }
    for (const auto& type : batch.event_types) metrics_.webhook_events.inc({type});
    if (appended->duplicates > 0) metrics_.webhook_duplicates.inc({}, appended->duplicates);
    spdlog::debug("webhook accepted queued={} duplicates={}", appended->queued, appended->duplicates);
    co_return http::Response::json(200, "{\"status\":\"ok\",\"queued\":" + std::to_string(appended->queued) +
                                            ",\"duplicates\":" + std::to_string(appended->duplicates) + "}");
}

}  // namespace wappa::service
