#include "wappa/service/inbound_worker.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>

#include "wappa/core/time.hpp"
#include "wappa/pg/inbound_store.hpp"
#include "wappa/pubsub/event_log.hpp"
#include "wappa/pubsub/notification.hpp"
#include "wappa/queue/inbound_stream.hpp"
#include "wappa/queue/outbound_queue.hpp"
#include "wappa/redis/client.hpp"
#include "wappa/service/bot.hpp"
#include "wappa/service/notifications.hpp"
#include "wappa/service/outbound_jobs.hpp"
#include "wappa/service/redis_metrics.hpp"
#include "wappa/whatsapp/inbound_record.hpp"
#include "wappa/whatsapp/outbound.hpp"

namespace wappa::service {
namespace {

using whatsapp::IncomingMessage;
using whatsapp::StatusEvent;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
using namespace boost::asio::experimental::awaitable_operators;
constexpr std::int64_t trim_every_ms = 5'000;
constexpr std::int64_t max_backoff_ms = 30'000;

std::int64_t steady_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct Parsed {
    queue::StreamEntry entry;
    whatsapp::InboundRecord record;
};

enum class Outcome { done, retry };

// Outside the coroutines: GCC 12 cannot hold braced lists of literals in a coroutine frame.
void count_event(InboundMetrics& m, std::string_view kind, std::string_view outcome) { m.events.inc({kind, outcome}); }
void count_reply(InboundMetrics& m, std::string_view command) { m.bot_replies.inc({command}); }
void count_retry(InboundMetrics& m, std::string_view why) { m.retries.inc({why}); }

// A reply's text stays within the Graph API's 4096 characters however long the echoed text:
// cut at a character boundary.
std::string bounded(std::string text) {
    constexpr std::size_t limit = 3'800;
    if (text.size() <= limit) return text;
    std::size_t cut = limit;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    text.resize(cut);
    return text + "…";
}

// The bot's reply to `m`, queued like any message (rate limits and retries apply). It is
// announced as bot_reply, and only when asked: never as outgoing_message, so that nothing
// listening can answer it into a loop.
std::optional<queue::EnqueueRequest> reply_request(const config::Config& config, const IncomingMessage& m, std::string text) {
    whatsapp::OutboundJob job;
    job.type = "text_message";
    job.message_id = bot_reply_id(m);
    job.tenant = m.tenant;
    job.phone_number_id = m.phone_number_id;   // the number it was sent to (else the tenant's)
    job.to_number = m.user_id;                 // a phone number, or Meta's business-scoped user id
    job.content = whatsapp::TextJob{std::move(text), std::nullopt};
    auto made = make_enqueue_request(config, std::move(job));
    auto* request = std::get_if<queue::EnqueueRequest>(&made);
    if (request == nullptr) return std::nullopt;
    request->notify_channel.clear();
    request->notify_payload.clear();
    if (config.pubsub.publish_bot_replies) {
        const pubsub::Notification n{std::string(pubsub::bot_reply), m.tenant, m.user_id, now_utc(),
                                     {{"message_id", request->message_id}, {"message_type", request->type}, {"recipient", m.user_id}}};
        request->notify_channel = pubsub::channel_name(config.redis.key_prefix, m.tenant, m.user_id, n.event);
        request->notify_payload = pubsub::render_payload(n);
    }
    return std::move(*request);
}

}  // namespace

InboundMetrics::InboundMetrics(metrics::Registry& r)
    : events(r.counter("wappa_inbound_events_total", "Inbound events handled by the inbound worker, by kind and outcome.",
                       {"kind", "outcome"})),
      bot_replies(r.counter("wappa_bot_replies_total", "Replies of the built-in bot, by command (echo, history, close).", {"command"})),
      retries(r.counter("wappa_inbound_retries_total", "Inbound batches tried again, by cause (postgres, redis).", {"cause"})),
      event_time(r.histogram("wappa_inbound_event_duration_seconds",
                             "Time to store one inbound event: its batch's time from read to acknowledgement over its size.")) {
    count_redis_cluster_events(r);
}

struct InboundWorker::State {
    State(const config::Config& c, queue::InboundStream& s, queue::OutboundQueue& o, redis::Client& r, pg::InboundStore* st,
          InboundMetrics& m)
        : config(c), stream(s), outbound(o), client(r), store(st), metrics(m) {}

    const config::Config& config;
    queue::InboundStream& stream;
    queue::OutboundQueue& outbound;
    redis::Client& client;
    pg::InboundStore* store;
    InboundMetrics& metrics;
    InboundWorkerStats stats;
    bool stopping = false;
    std::unique_ptr<net::steady_timer> pause;   // backoff sleeps; stop() cuts them short
    std::int64_t backoff = 0;
    std::map<std::string, std::int64_t> failures;   // entry id → failures other than a lost database

    std::string conversation_key(const std::string& tenant, const std::string& user) const {
        return config.redis.key_prefix + ":{" + tenant + "}:conversation:" + user;
    }

    Task<void> sleep(std::int64_t ms) {
        pause->expires_after(std::chrono::milliseconds(ms));
        co_await pause->async_wait(use_tuple);
    }

    Task<Outcome> process(std::vector<queue::StreamEntry> entries);
    Task<Outcome> handle(std::span<const Parsed> group);
    Task<Outcome> give_up_or_retry(const Parsed& item, const Error& error);
    Task<void> publish_stored(std::span<const IncomingMessage* const> messages, const std::vector<bool>& fresh,
                              std::span<const StatusEvent* const> statuses);
    Task<Status> answer(std::span<const IncomingMessage* const> messages, const pg::StoredBatch* stored);
    Task<Status> refresh_cache(const pg::StoredBatch& stored);
};

InboundWorker::InboundWorker(const config::Config& config, queue::InboundStream& stream, queue::OutboundQueue& outbound,
                             redis::Client& client, pg::InboundStore* store, InboundMetrics& metrics)
    : state_(std::make_unique<State>(config, stream, outbound, client, store, metrics)) {}

InboundWorker::~InboundWorker() = default;

const InboundWorkerStats& InboundWorker::stats() const { return state_->stats; }

void InboundWorker::stop() {
    state_->stopping = true;
    if (state_->pause) state_->pause->cancel();
}

Task<void> InboundWorker::run() {
    auto& s = *state_;
    s.pause = std::make_unique<net::steady_timer>(co_await net::this_coro::executor);
    bool groups = false, own_pending = true;
    std::optional<std::vector<queue::StreamEntry>> prefetched;
    std::int64_t next_claim = 0, next_trim = 0;
    const auto failed_round = [&s](std::string_view why, const std::string& error) -> Task<void> {
        count_retry(s.metrics, why);
        s.backoff = std::clamp<std::int64_t>(s.backoff * 2, 1'000, max_backoff_ms);
        spdlog::warn("inbound events not stored ({}), tried again in {} ms: {}", why, s.backoff, error);
        co_await s.sleep(s.backoff);
    };
    while (!s.stopping) {
        if (!groups) {
            auto made = co_await s.stream.ensure_groups();
            if (!made) {
                co_await failed_round("redis", made.error().message);
                continue;
            }
            groups = true;
        }
        std::vector<queue::StreamEntry> batch;
        if (prefetched) {
            batch = std::move(*prefetched);
            prefetched.reset();
        } else {
            auto entries = co_await s.stream.read(own_pending);
            if (!entries) {
                co_await failed_round("redis", entries.error().message);
                continue;
            }
            batch = std::move(entries.value());
        }
        if (own_pending && batch.empty()) own_pending = false;
        const auto now = steady_ms();
        if (now >= next_claim) {
            // Entries a dead consumer was handed: taken over after claim_idle.
            for (const auto& tenant : s.stream.tenants()) {
                if (auto claimed = co_await s.stream.claim_idle(tenant)) {
                    if (!claimed->empty()) spdlog::warn("took over {} inbound event(s) of tenant {} from a consumer gone quiet", claimed->size(), tenant);
                    for (auto& e : claimed.value()) batch.push_back(std::move(e));
                }
            }
            next_claim = now + std::max<std::int64_t>(1'000, s.stream.settings().claim_idle.count() / 2);
        }
        if (!batch.empty()) {
            const auto started = std::chrono::steady_clock::now();
            const auto size = batch.size();
            // While a batch of new events is stored, the next one is read (on the reader's own
            // connection): PostgreSQL and Redis work at the same time. Its entries are pending
            // to this consumer, so after a failed batch they are read again with the rest.
            Outcome outcome = Outcome::retry;
            if (!own_pending) {
                auto both = co_await (s.process(std::move(batch)) && s.stream.read(false));
                outcome = std::get<0>(both);
                auto& next = std::get<1>(both);
                if (outcome == Outcome::done && next && !next->empty()) prefetched = std::move(next.value());
            } else {
                outcome = co_await s.process(std::move(batch));
            }
            if (outcome == Outcome::retry) {
                own_pending = true;   // what was not acknowledged is read again first
                co_await failed_round(s.store ? "postgres" : "redis", "see the line above");
                continue;
            }
            s.backoff = 0;
            const double each = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count() / static_cast<double>(size);
            for (std::size_t i = 0; i < size; ++i) s.metrics.event_time.observe(each);
        }
        if (steady_ms() >= next_trim) {
            for (const auto& tenant : s.stream.tenants()) {
                if (auto trimmed = co_await s.stream.trim(tenant); !trimmed) spdlog::warn("trimming {}'s inbound stream failed: {}", tenant, trimmed.error().message);
            }
            next_trim = steady_ms() + trim_every_ms;
        }
    }
    // A batch read ahead is stored before the worker leaves, not left pending to a consumer
    // name no one will use again (it would wait claim_idle for another worker).
    if (prefetched && !prefetched->empty()) {
        const auto outcome = co_await s.process(std::move(*prefetched));
        if (outcome == Outcome::retry) spdlog::warn("the last batch read was not stored: another worker takes it over after claim_idle");
    }
    s.pause.reset();
}

Task<Outcome> InboundWorker::State::process(std::vector<queue::StreamEntry> entries) {
    std::vector<Parsed> parsed;
    std::vector<queue::StreamEntry> unreadable;
    std::string why;
    for (auto& e : entries) {
        auto record = whatsapp::parse_inbound_entry(e.event);
        if (!record) {
            why = record.error().message;
            unreadable.push_back(std::move(e));
            continue;
        }
        parsed.push_back({std::move(e), std::move(record.value())});
    }
    if (!unreadable.empty()) {
        spdlog::error("{} inbound event(s) cannot be read and go to the failed set: {}", unreadable.size(), why);
        if (auto failed = co_await stream.fail(unreadable, why); !failed) co_return Outcome::retry;
        stats.failed += unreadable.size();
        for (std::size_t i = 0; i < unreadable.size(); ++i) count_event(metrics, "unreadable", "failed");
    }
    // A user's /CLOSE ends a group: what that user sends after it belongs to a new conversation.
    const bool bot = config.bot.mode == "echo";
    std::size_t start = 0;
    std::set<std::pair<std::string, std::string>> closed;
    for (std::size_t i = 0; i <= parsed.size(); ++i) {
        bool cut = i == parsed.size();
        const auto* m = i < parsed.size() ? std::get_if<IncomingMessage>(&parsed[i].record) : nullptr;
        if (!cut && m != nullptr && closed.count({m->tenant, m->user_id})) cut = true;
        if (cut && i > start) {
            const auto outcome = co_await handle(std::span<const Parsed>(parsed.data() + start, i - start));
            if (outcome == Outcome::retry) co_return Outcome::retry;
            start = i;
            closed.clear();
        }
        if (m != nullptr && bot && bot_command(*m) == BotCommand::close) closed.insert({m->tenant, m->user_id});
    }
    co_return Outcome::done;
}

Task<Outcome> InboundWorker::State::handle(std::span<const Parsed> group) {
    std::vector<const IncomingMessage*> messages;
    std::vector<const StatusEvent*> statuses;
    for (const auto& p : group) {
        if (const auto* m = std::get_if<IncomingMessage>(&p.record)) messages.push_back(m);
        else if (const auto* st = std::get_if<StatusEvent>(&p.record)) statuses.push_back(st);
    }
    std::optional<pg::StoredBatch> stored;
    if (store != nullptr && (!messages.empty() || !statuses.empty())) {
        const bool count = config.bot.mode == "echo";   // the bot's replies say the counts
        auto result = co_await store->store(messages, statuses, count);
        if (!result) {
            if (result.error().transient) {
                spdlog::warn("PostgreSQL: {}", result.error().message);
                co_return Outcome::retry;
            }
            // Something in the batch itself: each entry on its own finds which.
            if (group.size() > 1) {
                for (std::size_t i = 0; i < group.size(); ++i) {
                    const auto outcome = co_await handle(group.subspan(i, 1));
                    if (outcome == Outcome::retry) co_return Outcome::retry;
                }
                co_return Outcome::done;
            }
            co_return co_await give_up_or_retry(group.front(), result.error());
        }
        stored = std::move(result.value());
        co_await publish_stored(messages, stored->fresh, statuses);
        for (std::size_t i = 0; i < messages.size(); ++i) {
            stats.stored += stored->fresh[i] ? 1 : 0;
            stats.duplicates += stored->fresh[i] ? 0 : 1;
            count_event(metrics, "message", stored->fresh[i] ? "stored" : "duplicate");
        }
        for (std::size_t i = 0; i < statuses.size(); ++i) count_event(metrics, "status", "stored");
        stats.statuses += statuses.size();
    }
    if (config.bot.mode == "echo" && !messages.empty()) {
        if (auto answered = co_await answer(messages, stored ? &*stored : nullptr); !answered) {
            spdlog::warn("the bot's replies were not queued: {}", answered.error().message);
            co_return Outcome::retry;   // stored already: a repeat stores nothing twice and queues the same ids
        }
    } else if (stored) {
        if (auto cached = co_await refresh_cache(*stored); !cached) spdlog::warn("conversation cache not refreshed: {}", cached.error().message);
    }
    std::vector<queue::StreamEntry> done;
    for (const auto& p : group) {
        done.push_back(p.entry);
        failures.erase(p.entry.id);
        if (std::holds_alternative<whatsapp::OtherEvent>(p.record)) count_event(metrics, "other", "acknowledged");
    }
    if (auto acked = co_await stream.ack(done); !acked) {
        spdlog::warn("inbound events stored but not acknowledged (they will be seen again, and recognised): {}", acked.error().message);
        co_return Outcome::retry;
    }
    co_return Outcome::done;
}

Task<Outcome> InboundWorker::State::give_up_or_retry(const Parsed& item, const Error& error) {
    const auto tries = ++failures[item.entry.id];
    if (tries < config.inbound.max_deliveries) {
        spdlog::warn("inbound event {} of tenant {} not stored (try {} of {}): {}", item.entry.id, item.entry.tenant, tries,
                     config.inbound.max_deliveries, error.message);
        co_return Outcome::retry;
    }
    spdlog::error("inbound event {} of tenant {} failed {} times and goes to the failed set: {}", item.entry.id, item.entry.tenant, tries,
                  error.message);
    auto entry = item.entry;
    entry.deliveries = tries;
    if (auto failed = co_await stream.fail(std::vector<queue::StreamEntry>(1, entry), error.message); !failed) co_return Outcome::retry;
    failures.erase(item.entry.id);
    ++stats.failed;
    count_event(metrics, std::holds_alternative<IncomingMessage>(item.record) ? "message" : "status", "failed");
    co_return Outcome::done;
}

// With PostgreSQL the notifications wait for the commit, so that a subscriber reading the
// database on a notification finds the row. A failed publish is logged, never undone.
Task<void> InboundWorker::State::publish_stored(std::span<const IncomingMessage* const> messages, const std::vector<bool>& fresh,
                                                std::span<const StatusEvent* const> statuses) {
    // Per tenant: one script call logs and publishes that tenant's notifications.
    std::map<std::string, std::vector<std::pair<std::string, std::string>>> by_tenant;
    const auto received = now_utc();
    const auto& prefix = config.redis.key_prefix;
    if (config.pubsub.publish_incoming) {
        for (std::size_t i = 0; i < messages.size(); ++i) {
            if (!fresh[i]) continue;   // a repeated delivery was published when first stored
            const auto* m = messages[i];
            const auto n = incoming_notification(m->tenant, m->user_id, m->message, event_time(m->timestamp, received));
            by_tenant[m->tenant].emplace_back(pubsub::channel_name(prefix, m->tenant, m->user_id, n.event), pubsub::render_payload(n));
        }
    }
    if (config.pubsub.publish_status) {
        for (const auto* st : statuses) {
            const StatusFields fields{st->recipient, st->wamid, st->status, st->error_code, st->error_title, st->callback};
            const auto n = status_notification(st->tenant, fields, event_time(st->timestamp, received));
            by_tenant[st->tenant].emplace_back(pubsub::channel_name(prefix, st->tenant, st->recipient, n.event), pubsub::render_payload(n));
        }
    }
    for (auto& [tenant, notifications] : by_tenant) {
        auto published = co_await pubsub::publish_logged(client, prefix, config.pubsub.event_log_max_len, tenant, std::move(notifications));
        if (!published) spdlog::warn("notifications not published (the data is stored): {}", published.error().message);
    }
}

Task<Status> InboundWorker::State::refresh_cache(const pg::StoredBatch& stored) {
    std::vector<redis::Command> commands;
    const auto ttl = std::to_string(config.inbound.conversation_ttl.count());
    for (const auto& [user, conversation] : stored.conversations) {
        const auto key = conversation_key(user.first, user.second);
        if (conversation.messages < 0) {
            commands.emplace_back("HSET", key, std::string("conversation_id"), conversation.conversation_id);
        } else {
            commands.emplace_back("HSET", key, std::string("conversation_id"), conversation.conversation_id, std::string("messages"),
                                  std::to_string(conversation.messages), std::string("user_messages"),
                                  std::to_string(conversation.user_messages));
        }
        commands.emplace_back("PEXPIRE", key, ttl);
    }
    if (commands.empty()) co_return Status{};
    auto done = co_await client.exec(commands);
    if (!done) co_return done.error();
    co_return Status{};
}

// The bot's replies, in the order of the messages. With PostgreSQL the counts come from the
// stored conversation (and the replies are stored in it); without, from the Redis cache.
Task<Status> InboundWorker::State::answer(std::span<const IncomingMessage* const> messages, const pg::StoredBatch* stored) {
    const auto ttl = std::to_string(config.inbound.conversation_ttl.count());
    std::vector<queue::EnqueueRequest> replies;
    std::vector<pg::StoredReply> rows;
    std::vector<redis::Command> cache;
    // With a database: per user, the user messages stored now that come later in the batch.
    std::map<pg::UserKey, std::int64_t> later;
    if (stored) {
        for (std::size_t i = 0; i < messages.size(); ++i) {
            if (stored->fresh[i] && bot_command(*messages[i]) == BotCommand::none) ++later[{messages[i]->tenant, messages[i]->user_id}];
        }
    }
    for (std::size_t i = 0; i < messages.size(); ++i) {
        const auto& m = *messages[i];
        const pg::UserKey user{m.tenant, m.user_id};
        const auto key = conversation_key(m.tenant, m.user_id);
        const auto command = bot_command(m);
        std::string text, conversation_id;
        if (stored) {
            const auto found = stored->conversations.find(user);
            const auto open = found != stored->conversations.end() ? found->second : pg::OpenConversation{};
            conversation_id = open.conversation_id;
            if (command == BotCommand::none) {
                text = echo_reply(m, open.user_messages - (stored->fresh[i] ? --later[user] : 0));
            } else if (command == BotCommand::history) {
                text = history_reply(open.messages);
            } else {
                auto closed = co_await store->close_conversation(m.tenant, m.user_id);
                if (!closed) co_return closed.error();
                conversation_id = closed->conversation_id;
                text = close_reply(closed->messages, true);
                cache.emplace_back("DEL", key);
            }
        } else {
            // The cache is the conversation: counted as the messages come.
            const std::vector<redis::Command> count{
                redis::Command("HINCRBY", key, std::string("user_messages"), std::string(command == BotCommand::none ? "1" : "0")),
                redis::Command("HINCRBY", key, std::string("messages"), std::string("2")),   // the message and its reply
                redis::Command("PEXPIRE", key, ttl)};
            auto counted = co_await client.exec(count);
            if (!counted) co_return counted.error();
            const auto user_messages = counted->at(0).integer, all = counted->at(1).integer;
            if (command == BotCommand::none) text = echo_reply(m, user_messages);
            else if (command == BotCommand::history) text = history_reply(all - 1);
            else {
                text = close_reply(all - 1, false);
                auto cleared = co_await client.exec(redis::Command("DEL", key));
                if (!cleared) co_return cleared.error();
            }
        }
        count_reply(metrics, command == BotCommand::none ? "echo" : command == BotCommand::history ? "history" : "close");
        auto request = reply_request(config, m, bounded(text));
        if (!request) continue;   // a tenant no longer configured
        if (stored) rows.push_back({m.tenant, m.user_id, conversation_id, bounded(text), request->message_id, m.wamid});
        replies.push_back(std::move(*request));
    }
    if (stored) {
        if (auto saved = co_await store->store_replies(rows); !saved) co_return saved.error();
        pg::StoredBatch after = *stored;
        for (const auto& r : rows) {
            auto it = after.conversations.find({r.tenant, r.user});
            if (it != after.conversations.end() && it->second.conversation_id == r.conversation_id) ++it->second.messages;
        }
        if (auto cached = co_await refresh_cache(after); !cached) spdlog::warn("conversation cache not refreshed: {}", cached.error().message);
    }
    if (!cache.empty()) {
        if (auto cleared = co_await client.exec(cache); !cleared) co_return cleared.error();
    }
    auto queued = co_await outbound.enqueue(replies);
    if (!queued) co_return queued.error();
    stats.replies += replies.size();
    co_return Status{};
}

}  // namespace wappa::service
