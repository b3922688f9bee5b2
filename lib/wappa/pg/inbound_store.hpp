#pragma once
// What the inbound worker writes to PostgreSQL: a batch of users' messages (their chats
// upserted, their conversations opened, each message once however often it is delivered) and
// of statuses of our messages (moving forward only), in one transaction and one round trip;
// the bot's replies; closing a conversation.
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "wappa/core/asio.hpp"
#include "wappa/core/result.hpp"
#include "wappa/whatsapp/inbound_record.hpp"

namespace wappa::pg {

class Pool;

// A user's open conversation after a batch.
struct OpenConversation {
    std::string conversation_id;
    // Counted only when asked (the bot needs them); -1 otherwise.
    std::int64_t messages = -1;        // all of them, the bot's replies included
    std::int64_t user_messages = -1;   // the user's
};

using UserKey = std::pair<std::string, std::string>;   // tenant, user id

struct StoredBatch {
    std::vector<bool> fresh;                           // per message: stored now (false: already stored)
    std::map<UserKey, OpenConversation> conversations; // the batch's users
};

struct StoredReply {
    std::string tenant;
    std::string user;
    std::string conversation_id;
    std::string text;
    std::string outbound_id;   // the outbound queue's message id
    std::string reply_to;      // the wamid it answers
};

struct ClosedConversation {
    std::string conversation_id;   // empty when the user had none open
    std::int64_t messages = 0;
};

class InboundStore {
public:
    explicit InboundStore(Pool& pool) : pool_(pool) {}

    // `count`: also count each open conversation's messages (one more statement).
    Task<Result<StoredBatch>> store(std::span<const whatsapp::IncomingMessage* const> messages,
                                    std::span<const whatsapp::StatusEvent* const> statuses, bool count);
    Task<Status> store_replies(std::span<const StoredReply> replies);
    // Closes the user's open conversation (one transaction): it keeps its messages, and says how many.
    Task<Result<ClosedConversation>> close_conversation(const std::string& tenant, const std::string& user);
    // Messages per delivery status, per tenant (our messages), for `wappa stats`.
    Task<Result<std::map<std::string, std::map<std::string, std::int64_t>>>> delivery_counts();

private:
    // Fresh tables have no statistics, and the planner, believing them nearly empty, joins a
    // batch to them by scanning them whole (per batch: slower as they grow). Autovacuum only
    // looks once a minute, so the store ANALYZEs its tables itself each time the messages it
    // stored have grown fourfold since it last did (from 2,000): a few times in a run.
    Task<void> analyze_when_grown(std::size_t stored);

    Pool& pool_;
    std::uint64_t stored_ = 0;
    std::uint64_t next_analyze_ = 2'000;
    bool may_analyze_ = true;
};

}  // namespace wappa::pg
