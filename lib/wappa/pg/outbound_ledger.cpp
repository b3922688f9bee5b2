#include "wappa/pg/outbound_ledger.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <chrono>
#include <vector>

#include "wappa/metrics/metrics.hpp"
#include "wappa/pg/pool.hpp"

namespace wappa::pg {
namespace {

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
constexpr std::chrono::milliseconds gather_for{100};   // transitions written together
constexpr std::size_t batch_max = 5'000;
constexpr std::size_t buffer_max = 200'000;          // beyond, while PostgreSQL is away, the oldest are dropped

// The last transition of each message in the batch wins (DISTINCT ON ... ord DESC). A status
// webhook's progress (delivered, read, played) is never undone by a late engine write; anything
// else the engine says is its current state (a requeued failed message goes back to sending).
// Status webhooks that came before the wamid was written here are applied now.
constexpr std::string_view upsert = R"sql(
WITH x AS (
  SELECT DISTINCT ON (t, id) t, id, num, ty, st, att, NULLIF(w, '') AS w, ec, er, cr, p
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[], $8::integer[], $9::text[],
              $10::bigint[], $11::text[]) WITH ORDINALITY AS u(t, id, num, ty, st, att, w, ec, er, cr, p, ord)
  ORDER BY t, id, ord DESC),
-- With the wamid known: the status webhooks that came before (kept in status_events).
y AS (
  SELECT x.*, s.status AS ws, s.occurred_at AS wat, s.error_code AS wec, s.error_title AS wer,
         CASE WHEN s.status IS NOT NULL AND delivery_rank(s.status) > delivery_rank(x.st) THEN s.status ELSE x.st END AS final
  FROM x LEFT JOIN LATERAL (
    SELECT e.status, e.occurred_at, e.error_code, e.error_title FROM status_events e
    WHERE x.w IS NOT NULL AND e.wamid = x.w AND e.tenant = x.t ORDER BY delivery_rank(e.status) DESC LIMIT 1) s ON true)
INSERT INTO outbound_messages AS o (tenant, message_id, to_number, type, payload, status, attempts, wamid, last_error_code, last_error,
                                    created_at, sent_at, delivered_at, read_at, failed_at)
SELECT t, id, num, ty, NULLIF(p, '')::jsonb, final::outbound_status_t, att, w,
       CASE WHEN final = ws AND ws = 'failed' THEN wec ELSE ec END, CASE WHEN final = ws AND ws = 'failed' THEN wer ELSE NULLIF(er, '') END,
       to_timestamp(cr / 1000.0),
       CASE WHEN delivery_rank(final) >= 1 THEN now() END,
       CASE WHEN final IN ('delivered', 'read', 'played') THEN COALESCE(wat, now()) END,
       CASE WHEN final IN ('read', 'played') THEN COALESCE(wat, now()) END,
       CASE WHEN final = 'failed' THEN now() END
FROM y
ON CONFLICT (tenant, message_id) DO UPDATE
SET status = CASE WHEN delivery_rank(o.status::text) >= 2 AND delivery_rank(EXCLUDED.status::text) < delivery_rank(o.status::text)
                  THEN o.status ELSE EXCLUDED.status END,
    attempts = GREATEST(o.attempts, EXCLUDED.attempts),
    wamid = COALESCE(EXCLUDED.wamid, o.wamid),
    payload = COALESCE(o.payload, EXCLUDED.payload),
    last_error_code = COALESCE(EXCLUDED.last_error_code, o.last_error_code),
    last_error = COALESCE(EXCLUDED.last_error, o.last_error),
    sent_at = COALESCE(o.sent_at, EXCLUDED.sent_at),
    delivered_at = COALESCE(o.delivered_at, EXCLUDED.delivered_at),
    read_at = COALESCE(o.read_at, EXCLUDED.read_at),
    failed_at = CASE WHEN EXCLUDED.status = 'failed' THEN now() ELSE o.failed_at END,
    updated_at = now())sql";

}  // namespace

struct OutboundLedger::State {
    State(Pool& p, metrics::Registry& r)
        : pool(p),
          written(r.counter("wappa_outbound_ledger_total",
                            "Outbound state transitions mirrored into PostgreSQL's outbound_messages, by outcome (written, dropped).",
                            {"outcome"})) {}
    Pool& pool;
    metrics::Counter& written;
    std::vector<OutboundTransition> buffer;
    std::unique_ptr<net::steady_timer> timer;
    bool waiting = false, stopping = false;
    std::int64_t backoff_ms = 0;

    Task<void> sleep(std::chrono::steady_clock::time_point until) {
        timer->expires_at(until);
        co_await timer->async_wait(use_tuple);
    }

    Task<bool> write(std::span<const OutboundTransition> batch) {
        using Column = std::vector<std::optional<std::string>>;
        Column t, id, num, ty, st, att, w, ec, er, cr, p;
        for (const auto& x : batch) {
            t.push_back(x.tenant);
            id.push_back(x.message_id);
            num.push_back(x.to_number);
            ty.push_back(x.type);
            st.push_back(x.status);
            att.push_back(std::to_string(x.attempts));
            w.push_back(x.wamid);
            ec.push_back(x.error_code ? std::optional<std::string>(std::to_string(*x.error_code)) : std::nullopt);
            er.push_back(x.error);
            cr.push_back(std::to_string(x.created_at_ms));
            p.push_back(x.payload);
        }
        const Query q{"wappa_outbound_ledger", upsert,
                      {array_literal(t), array_literal(id), array_literal(num), array_literal(ty), array_literal(st), array_literal(att),
                       array_literal(w), array_literal(ec), array_literal(er), array_literal(cr), array_literal(p)}};
        auto done = co_await pool.run(q);
        if (!done) {
            spdlog::warn("outbound states not written to PostgreSQL ({} waiting): {}", buffer.size() + batch.size(), done.error().message);
            co_return false;
        }
        co_return true;
    }
};

OutboundLedger::OutboundLedger(Pool& pool, metrics::Registry& registry) : state_(std::make_unique<State>(pool, registry)) {}

OutboundLedger::~OutboundLedger() = default;

void OutboundLedger::record(OutboundTransition transition) {
    auto& s = *state_;
    if (s.buffer.size() >= buffer_max) {
        // PostgreSQL has been away long: the engine (Redis) keeps the truth, the mirror skips.
        s.buffer.erase(s.buffer.begin(), s.buffer.begin() + static_cast<std::ptrdiff_t>(buffer_max / 10));
        s.written.inc({"dropped"}, buffer_max / 10);
        spdlog::error("PostgreSQL unavailable for long: {} outbound state transitions dropped from its mirror (Redis keeps them)",
                      buffer_max / 10);
    }
    s.buffer.push_back(std::move(transition));
    if (s.waiting && s.timer) s.timer->cancel();
}

void OutboundLedger::stop() {
    auto& s = *state_;
    s.stopping = true;
    if (s.timer) s.timer->expires_at(net::steady_timer::time_point::min());
}

Task<void> OutboundLedger::run() {
    auto& s = *state_;
    s.timer = std::make_unique<net::steady_timer>(co_await net::this_coro::executor);
    for (;;) {
        if (s.buffer.empty()) {
            if (s.stopping) break;
            s.waiting = true;
            co_await s.sleep(net::steady_timer::time_point::max());
            s.waiting = false;
            continue;
        }
        if (!s.stopping) co_await s.sleep(std::chrono::steady_clock::now() + std::max<std::chrono::milliseconds>(gather_for, std::chrono::milliseconds(s.backoff_ms)));
        const auto n = std::min(batch_max, s.buffer.size());
        std::vector<OutboundTransition> batch(std::make_move_iterator(s.buffer.begin()), std::make_move_iterator(s.buffer.begin() + static_cast<std::ptrdiff_t>(n)));
        s.buffer.erase(s.buffer.begin(), s.buffer.begin() + static_cast<std::ptrdiff_t>(n));
        const bool ok = co_await s.write(batch);
        if (ok) {
            s.written.inc({"written"}, n);
            s.backoff_ms = 0;
            continue;
        }
        if (s.stopping) {
            s.written.inc({"dropped"}, n + s.buffer.size());
            break;   // stopping: what could not be written stays only in Redis
        }
        // Back in front, in order, and tried again later.
        s.buffer.insert(s.buffer.begin(), std::make_move_iterator(batch.begin()), std::make_move_iterator(batch.end()));
        s.backoff_ms = std::clamp<std::int64_t>(s.backoff_ms * 2, 500, 10'000);
    }
    s.timer.reset();
}

}  // namespace wappa::pg
