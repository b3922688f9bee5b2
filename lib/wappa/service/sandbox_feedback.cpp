#include "wappa/service/sandbox_feedback.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <chrono>
#include <map>

#include "wappa/core/json.hpp"
#include "wappa/core/time.hpp"
#include "wappa/queue/inbound_queue.hpp"
#include "wappa/queue/outbound_queue.hpp"
#include "wappa/service/inbound_events.hpp"
#include "wappa/whatsapp/parser.hpp"

namespace wappa::service {
namespace {

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
// How long after the send each status comes, roughly like Meta's.
constexpr std::chrono::milliseconds sent_after{100}, delivered_after{400}, read_after{1'000};
constexpr std::size_t max_pending = 100'000;   // beyond, statuses are skipped (a benchmark, not a user)

bool all_digits(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

struct SandboxFeedback::State {
    State(const config::Config& c, queue::InboundQueue& i, queue::OutboundQueue& o) : config(c), inbound(i), outbound(o) {}
    const config::Config& config;
    queue::InboundQueue& inbound;
    queue::OutboundQueue& outbound;
    std::vector<SentMessage> pending;
    std::unique_ptr<net::steady_timer> timer;   // sleeps; expires early when work arrives or on stop
    bool waiting = false, stopping = false;
    std::uint64_t skipped = 0;

    Task<void> sleep_until(std::chrono::steady_clock::time_point at) {
        timer->expires_at(at);
        co_await timer->async_wait(use_tuple);
    }

    Task<void> deliver(const std::vector<SentMessage>& messages, std::string_view status) {
        const auto body = webhook_json(config, messages, status, unix_now());
        auto parsed = whatsapp::parse_webhook(body);
        if (!parsed) {
            spdlog::error("sandbox: the simulated {} statuses do not parse: {}", status, parsed.error().message);
            co_return;
        }
        auto batch = build_inbound_events(parsed.value(), config, [](const config::TenantSettings&) { return true; }, now_utc());
        auto taken = co_await ingest(batch, inbound, outbound);
        if (!taken) spdlog::warn("sandbox: {} simulated {} status(es) not taken in: {}", messages.size(), status, taken.error().message);
    }

    static std::int64_t unix_now() {
        return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    }
};

SandboxFeedback::SandboxFeedback(const config::Config& config, queue::InboundQueue& inbound, queue::OutboundQueue& outbound)
    : state_(std::make_unique<State>(config, inbound, outbound)) {}

SandboxFeedback::~SandboxFeedback() = default;

void SandboxFeedback::sent(SentMessage message) {
    auto& s = *state_;
    if (s.stopping) return;
    if (s.pending.size() >= max_pending) {
        if (s.skipped++ == 0) spdlog::warn("sandbox: more than {} sends await their statuses; statuses of further sends are skipped", max_pending);
        return;
    }
    s.pending.push_back(std::move(message));
    if (s.waiting && s.timer) s.timer->cancel();
}

void SandboxFeedback::stop() {
    auto& s = *state_;
    s.stopping = true;
    if (s.timer) s.timer->expires_at(net::steady_timer::time_point::min());
}

Task<void> SandboxFeedback::run() {
    auto& s = *state_;
    s.timer = std::make_unique<net::steady_timer>(co_await net::this_coro::executor);
    while (!s.stopping) {
        if (s.pending.empty()) {
            s.waiting = true;
            co_await s.sleep_until(net::steady_timer::time_point::max());
            s.waiting = false;
            continue;
        }
        // One round: what was sent until now gets its three statuses; later sends wait for the next.
        const auto start = std::chrono::steady_clock::now();
        co_await s.sleep_until(start + sent_after);
        auto round = std::move(s.pending);
        s.pending.clear();
        if (s.stopping) break;
        co_await s.deliver(round, "sent");
        co_await s.sleep_until(start + delivered_after);
        if (s.stopping) break;
        co_await s.deliver(round, "delivered");
        co_await s.sleep_until(start + read_after);
        if (s.stopping) break;
        co_await s.deliver(round, "read");
    }
    s.timer.reset();
}

std::string SandboxFeedback::webhook_json(const config::Config& config, const std::vector<SentMessage>& messages, std::string_view status,
                                          std::int64_t unix_seconds) {
    // One entry per tenant (its WABA), one change per sender number, as Meta groups them.
    std::map<std::string, std::map<std::string, std::vector<const SentMessage*>>> grouped;
    for (const auto& m : messages) grouped[m.tenant][m.sender].push_back(&m);
    std::string out = "{\"object\":\"whatsapp_business_account\",\"entry\":[";
    bool first_entry = true;
    for (const auto& [tenant, senders] : grouped) {
        const auto* t = config.find_tenant(tenant);
        out += first_entry ? "{\"id\":" : ",{\"id\":";
        first_entry = false;
        json::append_string(out, t != nullptr && !t->waba_id.empty() ? t->waba_id : tenant);
        out += ",\"changes\":[";
        bool first_change = true;
        for (const auto& [sender, sent] : senders) {
            out += first_change ? "{" : ",{";
            first_change = false;
            out += "\"field\":\"messages\",\"value\":{\"messaging_product\":\"whatsapp\",\"metadata\":{\"display_phone_number\":\"sandbox\",\"phone_number_id\":";
            json::append_string(out, sender);
            out += "},\"statuses\":[";
            for (std::size_t i = 0; i < sent.size(); ++i) {
                const auto& m = *sent[i];
                out += i == 0 ? "{\"id\":" : ",{\"id\":";
                json::append_string(out, m.wamid);
                out += ",\"status\":";
                json::append_string(out, status);
                out += ",\"timestamp\":\"" + std::to_string(unix_seconds) + "\",";
                // A business-scoped user id (no phone number) comes back as recipient_user_id.
                out += all_digits(m.recipient) ? "\"recipient_id\":" : "\"recipient_user_id\":";
                json::append_string(out, m.recipient);
                out += ",\"biz_opaque_callback_data\":";
                json::append_string(out, m.message_id);
                if (status != "read") {
                    out += ",\"pricing\":{\"billable\":true,\"pricing_model\":\"PMP\",\"category\":\"service\"}";
                }
                out += '}';
            }
            out += "]}}";
        }
        out += "]}";
    }
    return out + "]}";
}

}  // namespace wappa::service
