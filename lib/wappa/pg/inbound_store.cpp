#include "wappa/pg/inbound_store.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "wappa/pg/pool.hpp"

namespace wappa::pg {
namespace {

// Every statement takes whole columns as arrays (unnest): a batch is a few statements, not a
// few per event, and no value is ever part of the SQL text.
// A batch of users' messages in one statement: the chats upserted (profile name), their open
// conversations opened or continued, the messages inserted once each. The later steps join the
// earlier ones' RETURNING (in memory), not the tables again. Answers a row per message stored
// now ('m', wamid) and per user of the batch ('c', tenant, user, open conversation).
constexpr std::string_view store_messages = R"sql(
WITH x AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::double precision[], $6::text[], $7::text[],
                       $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[])
         WITH ORDINALITY AS x(t, u, p, n, ts, w, k, txt, mm, ms, mu, mc, md, j, r, ord)),
chat AS (
  INSERT INTO chats AS c (tenant, platform, platform_user_id, phone_e164, first_name, last_inbound_at)
  SELECT DISTINCT ON (x.t, x.u) x.t, 'whatsapp', x.u, NULLIF(x.p, ''), NULLIF(x.n, ''), to_timestamp(x.ts)
  FROM x ORDER BY x.t, x.u, x.ts DESC
  ON CONFLICT (tenant, platform, platform_user_id) DO UPDATE
  SET phone_e164 = COALESCE(EXCLUDED.phone_e164, c.phone_e164),
      first_name = COALESCE(EXCLUDED.first_name, c.first_name),
      last_inbound_at = GREATEST(c.last_inbound_at, EXCLUDED.last_inbound_at),
      updated_at = now()
  RETURNING c.chat_id, c.tenant, c.platform_user_id),
conv AS (
  INSERT INTO conversations AS cv (chat_id, status, started_at, last_inbound_at, last_activity_at)
  SELECT chat.chat_id, 'open', min(to_timestamp(x.ts)), max(to_timestamp(x.ts)), max(to_timestamp(x.ts))
  FROM x JOIN chat ON chat.tenant = x.t AND chat.platform_user_id = x.u
  GROUP BY chat.chat_id
  ON CONFLICT (chat_id) WHERE status = 'open' DO UPDATE
  SET last_inbound_at = GREATEST(cv.last_inbound_at, EXCLUDED.last_inbound_at),
      last_activity_at = GREATEST(cv.last_activity_at, EXCLUDED.last_activity_at)
  RETURNING cv.conversation_id, cv.chat_id),
stored AS (
  INSERT INTO messages (conversation_id, chat_id, actor, kind, platform, platform_message_id, platform_timestamp, reply_to,
                        text_content, media_mime, media_sha256, media_url, media_caption, media_description, json_content)
  SELECT conv.conversation_id, chat.chat_id, 'user', x.k::message_kind_t, 'whatsapp', x.w, to_timestamp(x.ts), NULLIF(x.r, ''),
         NULLIF(x.txt, ''), NULLIF(x.mm, ''), NULLIF(x.ms, ''), NULLIF(x.mu, ''), NULLIF(x.mc, ''), NULLIF(x.md, ''), x.j::jsonb
  FROM x JOIN chat ON chat.tenant = x.t AND chat.platform_user_id = x.u JOIN conv ON conv.chat_id = chat.chat_id
  ORDER BY x.ord
  ON CONFLICT (platform, platform_message_id) DO NOTHING
  RETURNING platform_message_id)
SELECT 'm' AS what, platform_message_id AS a, NULL AS b, NULL AS c FROM stored
UNION ALL
SELECT 'c', chat.tenant, chat.platform_user_id, conv.conversation_id::text FROM conv JOIN chat ON chat.chat_id = conv.chat_id)sql";

constexpr std::string_view open_counts = R"sql(
SELECT ch.tenant, ch.platform_user_id, cv.conversation_id, count(m.message_id) AS messages,
       count(m.message_id) FILTER (WHERE m.actor = 'user') AS user_messages
FROM unnest($1::text[], $2::text[]) AS x(t, u)
JOIN chats ch ON ch.tenant = x.t AND ch.platform = 'whatsapp' AND ch.platform_user_id = x.u
JOIN conversations cv ON cv.chat_id = ch.chat_id AND cv.status = 'open'
LEFT JOIN messages m ON m.conversation_id = cv.conversation_id
GROUP BY ch.tenant, ch.platform_user_id, cv.conversation_id)sql";

constexpr std::string_view insert_statuses = R"sql(
INSERT INTO status_events (wamid, status, tenant, recipient, occurred_at, error_code, error_title)
SELECT x.w, x.s, x.t, NULLIF(x.rc, ''), to_timestamp(NULLIF(x.ts, '')::double precision), NULLIF(x.c, '')::integer, NULLIF(x.ti, '')
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) AS x(w, s, t, rc, ts, c, ti)
ON CONFLICT (wamid, status) DO NOTHING)sql";

// The statuses of a batch, the furthest per wamid: the source of the updates below.
#define WAPPA_BATCH_STATUSES \
    "(SELECT DISTINCT ON (x.w) x.w, x.st, x.c, x.ti, x.t, x.cb, x.ts " \
    "FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) AS x(w, st, c, ti, t, cb, ts) " \
    "WHERE delivery_rank(x.st) > 0 ORDER BY x.w, delivery_rank(x.st) DESC) s "

// Our messages in `messages` (the bot's replies) move forward only, joined by our id
// (biz_opaque_callback_data) within the status's tenant, then by the wamid: two statements,
// each an index lookup per status (one statement with an OR between them scans the table).
#define WAPPA_ADVANCE_MESSAGE \
    "UPDATE messages m " \
    "SET delivery_status = s.st::delivery_status_t, " \
    "    platform_message_id = COALESCE(m.platform_message_id, s.w), " \
    "    error_code = CASE WHEN s.st = 'failed' THEN NULLIF(s.c, '')::integer ELSE m.error_code END, " \
    "    error_message = CASE WHEN s.st = 'failed' THEN NULLIF(s.ti, '') ELSE m.error_message END " \
    "FROM " WAPPA_BATCH_STATUSES ", chats ch " \
    "WHERE ch.chat_id = m.chat_id AND ch.tenant = s.t " \
    "  AND delivery_rank(s.st) > delivery_rank(COALESCE(m.delivery_status::text, 'queued')) "
constexpr std::string_view advance_messages_by_id =
    WAPPA_ADVANCE_MESSAGE "AND s.cb <> '' AND m.outbound_message_id = s.cb";
constexpr std::string_view advance_messages_by_wamid =
    WAPPA_ADVANCE_MESSAGE "AND m.platform = 'whatsapp' AND m.platform_message_id = s.w";

#define WAPPA_ADVANCE_OUTBOUND \
    "UPDATE outbound_messages o " \
    "SET status = s.st::outbound_status_t, " \
    "    wamid = COALESCE(o.wamid, s.w), " \
    "    updated_at = now(), " \
    "    sent_at = COALESCE(o.sent_at, to_timestamp(NULLIF(s.ts, '')::double precision), now()), " \
    "    delivered_at = CASE WHEN s.st IN ('delivered', 'read', 'played') " \
    "                   THEN COALESCE(o.delivered_at, to_timestamp(NULLIF(s.ts, '')::double precision)) ELSE o.delivered_at END, " \
    "    read_at = CASE WHEN s.st IN ('read', 'played') " \
    "              THEN COALESCE(o.read_at, to_timestamp(NULLIF(s.ts, '')::double precision)) ELSE o.read_at END, " \
    "    failed_at = CASE WHEN s.st = 'failed' THEN now() ELSE o.failed_at END, " \
    "    last_error_code = CASE WHEN s.st = 'failed' THEN NULLIF(s.c, '')::integer ELSE o.last_error_code END, " \
    "    last_error = CASE WHEN s.st = 'failed' THEN NULLIF(s.ti, '') ELSE o.last_error END " \
    "FROM " WAPPA_BATCH_STATUSES \
    "WHERE o.tenant = s.t AND delivery_rank(s.st) > delivery_rank(o.status::text) "
constexpr std::string_view advance_outbound_by_id = WAPPA_ADVANCE_OUTBOUND "AND s.cb <> '' AND o.message_id = s.cb";
constexpr std::string_view advance_outbound_by_wamid = WAPPA_ADVANCE_OUTBOUND "AND o.wamid = s.w";
#undef WAPPA_ADVANCE_OUTBOUND
#undef WAPPA_ADVANCE_MESSAGE
#undef WAPPA_BATCH_STATUSES

constexpr std::string_view insert_replies = R"sql(
WITH replies AS (
  INSERT INTO messages (conversation_id, chat_id, actor, kind, platform, text_content, delivery_status, outbound_message_id, reply_to)
  SELECT cv.conversation_id, cv.chat_id, 'agent', 'text', 'whatsapp', x.txt, 'queued', x.o, NULLIF(x.r, '')
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS x(conv, txt, o, r)
  JOIN conversations cv ON cv.conversation_id = x.conv::uuid
  WHERE NOT EXISTS (SELECT 1 FROM messages e WHERE e.outbound_message_id = x.o AND e.chat_id = cv.chat_id)
  RETURNING chat_id)
UPDATE chats SET last_outbound_at = now(), updated_at = now() WHERE chat_id IN (SELECT chat_id FROM replies))sql";

constexpr std::string_view close_open = R"sql(
WITH closing AS (
  SELECT cv.conversation_id, cv.chat_id,
         (SELECT count(*) FROM messages m WHERE m.conversation_id = cv.conversation_id) AS n
  FROM conversations cv JOIN chats ch ON ch.chat_id = cv.chat_id
  WHERE ch.tenant = $1 AND ch.platform = 'whatsapp' AND ch.platform_user_id = $2 AND cv.status = 'open'
  FOR UPDATE OF cv),
closed AS (
  UPDATE conversations cv
  SET status = 'closed', closed_at = now(), last_activity_at = now(),
      conversation_summary = 'Conversation with ' || closing.n || ' messages'
  FROM closing WHERE cv.conversation_id = closing.conversation_id
  RETURNING cv.conversation_id, cv.chat_id, closing.n),
summary AS (
  UPDATE chats ch SET last_conversation_summary = 'Conversation with ' || closed.n || ' messages', updated_at = now()
  FROM closed WHERE ch.chat_id = closed.chat_id)
SELECT conversation_id, n FROM closed)sql";

constexpr std::string_view delivery_by_tenant = R"sql(
SELECT ch.tenant, COALESCE(m.delivery_status::text, 'none') AS status, count(*) AS n
FROM messages m JOIN chats ch ON ch.chat_id = m.chat_id
WHERE m.actor <> 'user'
GROUP BY 1, 2
UNION ALL
SELECT tenant, 'outbound:' || status::text, count(*) FROM outbound_messages GROUP BY 1, 2)sql";

using Column = std::vector<std::optional<std::string>>;

std::optional<std::string> array(const Column& values) { return array_literal(values); }

std::string seconds(std::string_view unix_seconds) { return unix_seconds.empty() ? std::string("0") : std::string(unix_seconds); }

}  // namespace

Task<Result<StoredBatch>> InboundStore::store(std::span<const whatsapp::IncomingMessage* const> messages,
                                              std::span<const whatsapp::StatusEvent* const> statuses, bool count) {
    std::vector<Query> queries;
    Column t, u, p, n, ts, w, k, txt, mm, ms, mu, mc, md, j, r;
    Column users_t, users_u;
    std::set<UserKey> users;
    for (const auto* m : messages) {
        t.push_back(m->tenant);
        u.push_back(m->user_id);
        p.push_back(m->phone);
        n.push_back(m->profile_name);
        ts.push_back(seconds(m->timestamp));
        w.push_back(m->wamid);
        k.push_back(m->kind);
        txt.push_back(m->text);
        mm.push_back(m->media_mime);
        ms.push_back(m->media_sha256);
        mu.push_back(m->media_url);
        mc.push_back(m->media_caption);
        md.push_back(m->media_description);
        j.push_back(m->json_content);
        r.push_back(m->reply_to);
        if (users.insert({m->tenant, m->user_id}).second) {
            users_t.push_back(m->tenant);
            users_u.push_back(m->user_id);
        }
    }
    if (!messages.empty()) {
        queries.push_back({"wappa_store_messages", store_messages,
                           {array(t), array(u), array(p), array(n), array(ts), array(w), array(k), array(txt), array(mm), array(ms),
                            array(mu), array(mc), array(md), array(j), array(r)}});
    }
    if (!statuses.empty()) {
        Column sw, ss, st, src, sts, sc, sti, scb;
        for (const auto* s : statuses) {
            sw.push_back(s->wamid);
            ss.push_back(s->status);
            st.push_back(s->tenant);
            src.push_back(s->recipient);
            sts.push_back(s->timestamp);
            sc.push_back(s->error_code);
            sti.push_back(s->error_title);
            scb.push_back(s->callback);
        }
        queries.push_back({"wappa_insert_statuses", insert_statuses, {array(sw), array(ss), array(st), array(src), array(sts), array(sc), array(sti)}});
        const std::vector<std::optional<std::string>> columns{array(sw), array(ss), array(sc), array(sti), array(st), array(scb), array(sts)};
        queries.push_back({"wappa_advance_messages_by_id", advance_messages_by_id, columns});
        queries.push_back({"wappa_advance_messages_by_wamid", advance_messages_by_wamid, columns});
        queries.push_back({"wappa_advance_outbound_by_id", advance_outbound_by_id, columns});
        queries.push_back({"wappa_advance_outbound_by_wamid", advance_outbound_by_wamid, columns});
    }
    if (!messages.empty() && count) queries.push_back({"wappa_open_counts", open_counts, {array(users_t), array(users_u)}});
    StoredBatch out;
    out.fresh.assign(messages.size(), false);
    if (queries.empty()) co_return out;
    auto rows = co_await pool_.run(queries);
    if (!rows) co_return rows.error();
    if (!messages.empty()) {
        const auto& answered = rows->front();
        std::set<std::string_view> fresh;
        for (std::size_t i = 0; i < answered.size(); ++i) {
            if (answered.text(i, 0) == "m") {
                fresh.insert(answered.text(i, 1));
            } else {
                out.conversations[{std::string(answered.text(i, 1)), std::string(answered.text(i, 2))}].conversation_id = answered.text(i, 3);
            }
        }
        for (std::size_t i = 0; i < messages.size(); ++i) out.fresh[i] = fresh.count(messages[i]->wamid) > 0;
        if (count) {
            const auto& counts = rows->back();
            for (std::size_t i = 0; i < counts.size(); ++i) {
                out.conversations[{std::string(counts.text(i, 0)), std::string(counts.text(i, 1))}] =
                    OpenConversation{std::string(counts.text(i, 2)), counts.integer(i, 3), counts.integer(i, 4)};
            }
        }
        // Two messages of one batch with the same wamid: the first is the fresh one.
        std::set<std::string_view> seen;
        for (std::size_t i = 0; i < messages.size(); ++i) {
            if (out.fresh[i] && !seen.insert(messages[i]->wamid).second) out.fresh[i] = false;
        }
    }
    const auto stored_now = static_cast<std::size_t>(std::count(out.fresh.begin(), out.fresh.end(), true));
    co_await analyze_when_grown(stored_now);
    co_return out;
}

Task<void> InboundStore::analyze_when_grown(std::size_t stored) {
    stored_ += stored;
    if (!may_analyze_ || stored_ < next_analyze_) co_return;
    next_analyze_ = stored_ * 4;
    const Query analyze{{}, "ANALYZE chats, conversations, messages", {}};
    auto done = co_await pool_.run(analyze);
    if (!done) {
        // Not the tables' owner, say: autovacuum will do, later.
        spdlog::warn("ANALYZE of the inbound tables failed (the planner waits for autovacuum): {}", done.error().message);
        may_analyze_ = !done.error().transient ? false : may_analyze_;
        co_return;
    }
    spdlog::debug("inbound tables analyzed after {} messages stored", stored_);
}

Task<Status> InboundStore::store_replies(std::span<const StoredReply> replies) {
    if (replies.empty()) co_return Status{};
    Column conv, txt, o, r;
    for (const auto& reply : replies) {
        conv.push_back(reply.conversation_id);
        txt.push_back(reply.text);
        o.push_back(reply.outbound_id);
        r.push_back(reply.reply_to);
    }
    const Query q{"wappa_insert_replies", insert_replies, {array(conv), array(txt), array(o), array(r)}};
    auto rows = co_await pool_.run(q);
    if (!rows) co_return rows.error();
    co_return Status{};
}

Task<Result<ClosedConversation>> InboundStore::close_conversation(const std::string& tenant, const std::string& user) {
    const Query q{"wappa_close_conversation", close_open, {tenant, user}};
    auto rows = co_await pool_.run(q);
    if (!rows) co_return rows.error();
    ClosedConversation out;
    if (!rows->empty()) out = {std::string(rows->text(0, 0)), rows->integer(0, 1)};
    co_return out;
}

Task<Result<std::map<std::string, std::map<std::string, std::int64_t>>>> InboundStore::delivery_counts() {
    const Query q{"wappa_delivery_counts", delivery_by_tenant, {}};
    auto rows = co_await pool_.run(q);
    if (!rows) co_return rows.error();
    std::map<std::string, std::map<std::string, std::int64_t>> out;
    for (std::size_t i = 0; i < rows->size(); ++i) out[std::string(rows->text(i, 0))][std::string(rows->text(i, 1))] = rows->integer(i, 2);
    co_return out;
}

}  // namespace wappa::pg
