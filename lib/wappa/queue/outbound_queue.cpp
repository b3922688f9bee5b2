// The send path of the outbound queue: enqueue, claims, outcomes, statuses and upkeep.
#include "wappa/queue/outbound_queue.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <deque>
#include <random>

#include "wappa/pubsub/event_log.hpp"
#include "wappa/queue/outbound/keys.hpp"
#include "wappa/queue/outbound/record.hpp"
#include "wappa/queue/outbound/scripts.hpp"
#include "wappa/redis/client.hpp"
#include "wappa/redis/script.hpp"

namespace wappa::queue {
namespace {

const redis::Script enqueue_script(std::string(lua::prelude) + std::string(pubsub::event_log_lua()) + std::string(lua::enqueue));
const redis::Script claim_script(lua::prelude, lua::claim);
const redis::Script sent_script(lua::prelude, lua::sent);
const redis::Script outcome_script(lua::prelude, lua::outcome);
const redis::Script status_script(lua::prelude, lua::status);
const redis::Script sweep_script(lua::prelude, lua::sweep);
const redis::Script global_rate_script(lua::prelude, lua::global_rate);

constexpr std::size_t jobs_per_call = 256;
constexpr std::int64_t sweep_limit = 200;

std::string ms(double v) { return std::to_string(v); }

// Built outside coroutines: GCC 12 cannot put braced lists with literals in a coroutine frame.
template <class... Args>
std::vector<std::string> strings(const Args&... args) {
    return std::vector<std::string>{std::string(args)...};
}

redis::ScriptCall call_of(const std::vector<std::string>& keys, const std::vector<std::string>& args) {
    redis::ScriptCall call;
    call.keys.assign(keys.begin(), keys.end());
    call.args.assign(args.begin(), args.end());
    return call;
}

Task<Result<redis::Reply>> run_one(redis::Client& client, const redis::Script& script, const std::vector<std::string>& keys,
                                   const std::vector<std::string>& args, std::string_view what) {
    const std::vector<redis::ScriptCall> calls{call_of(keys, args)};
    auto replies = co_await redis::run_script(client, script, calls);
    if (!replies) co_return replies.error();
    auto& reply = replies->front();
    if (reply.is_error()) co_return Error{"redis refused the " + std::string(what) + ": " + reply.str};
    co_return std::move(reply);
}

// Random per process and thread (the workers fork: each seeds its own), then counted.
std::mt19937_64& random_engine() {
    thread_local std::mt19937_64 engine(std::random_device{}());
    return engine;
}

std::string new_token() {
    thread_local const auto prefix = [] {
        static constexpr char hex[] = "0123456789abcdef";
        std::string p;
        auto v = random_engine()();
        for (int i = 0; i < 12; ++i, v >>= 4) p += hex[v & 0xf];
        return p + ".";
    }();
    thread_local std::uint64_t counter = 0;
    return prefix + std::to_string(++counter);
}

std::int64_t backoff_ms(const OutboundSettings& s, std::int64_t n) {
    const auto range = backoff_range(s, n);
    return std::uniform_int_distribution<std::int64_t>(range.min_ms, range.max_ms)(random_engine());
}

bool same_profile(const EnqueueRequest& a, const EnqueueRequest& b) {
    return a.phone_number_id == b.phone_number_id && a.rate_per_recipient == b.rate_per_recipient &&
           a.burst_per_recipient == b.burst_per_recipient;
}

// Whether some value occurs twice (a call holds a few hundred jobs: sorting views is cheap).
bool has_repeats(std::vector<std::string_view>& values) {
    std::sort(values.begin(), values.end());
    return std::adjacent_find(values.begin(), values.end()) != values.end();
}

// A tenant's event log, where outgoing_message notifications are appended as they are published
// (views into the enqueue's storage).
struct EventLogKeys {
    std::string_view key, clock, cap;
};

// One script call for jobs of one tenant, in segments of one profile (sender and pair limit),
// every job with its pair key and text ready-made: whatever the client prepares, Redis does
// not. With an id repeated in the call (its first occurrence must win) the segments are the
// runs of one profile in line order. `order` receives the jobs' indices in argument order; the
// views point into the jobs and into `storage` (a deque: its strings never move).
redis::ScriptCall enqueue_call(const std::vector<const EnqueueRequest*>& jobs, const OutboundKeys& k, const std::string& now,
                               const std::string& wake, std::deque<std::string>& storage, std::vector<std::size_t>& order,
                               const std::vector<std::size_t>& indices, const EventLogKeys& log) {
    std::vector<std::string_view> ids, pairs;
    ids.reserve(jobs.size());
    for (const auto* j : jobs) ids.push_back(j->message_id);
    const bool repeated_ids = has_repeats(ids);
    std::vector<std::vector<std::size_t>> segments;
    for (std::size_t i = 0; i < jobs.size(); ++i) {
        std::size_t s = repeated_ids ? segments.size() - (segments.empty() ? 0 : 1) : 0;
        while (s < segments.size() && !same_profile(*jobs[segments[s].front()], *jobs[i])) ++s;
        if (s == segments.size()) segments.emplace_back();
        segments[s].push_back(i);
    }
    redis::ScriptCall call;
    for (const auto* key : {&k.jobs, &k.state, &k.counts, &k.lanes, &k.numbers, &k.pairs_even, &k.pairs_odd, &k.pairs_long,
                            &k.pairs_until}) {
        call.keys.push_back(*key);
    }
    bool notify = false;
    for (const auto* j : jobs) notify = notify || !j->notify_channel.empty();
    call.args.push_back(now);
    call.args.push_back(wake);
    call.args.push_back(jobs.front()->tenant);
    call.args.push_back(notify ? log.cap : std::string_view());
    const auto repeats_at = call.args.size();
    call.args.push_back("0");
    call.args.push_back(storage.emplace_back(std::to_string(segments.size())));
    pairs.reserve(jobs.size());
    for (const auto& segment : segments) {
        const auto& f = *jobs[segment.front()];
        call.keys.push_back(storage.emplace_back(k.fifo(f.phone_number_id)));
        call.keys.push_back(storage.emplace_back(k.ready(f.phone_number_id)));
        call.args.push_back(f.phone_number_id);
        call.args.push_back(storage.emplace_back(ms(f.rate_per_recipient > 0 ? 1000.0 / f.rate_per_recipient : 0)));
        call.args.push_back(storage.emplace_back(std::to_string(f.burst_per_recipient)));
        call.args.push_back(storage.emplace_back(std::to_string(segment.size())));
        for (const auto i : segment) {
            const auto& j = *jobs[i];
            order.push_back(indices[i]);
            auto& pair = storage.emplace_back();
            pair.reserve(j.phone_number_id.size() + 1 + j.to_number.size());
            pair.append(j.phone_number_id).append(1, ':').append(j.to_number);
            auto& text = storage.emplace_back();
            text.reserve(j.to_number.size() + j.type.size() + j.graph_body.size() + 2);
            text.append(j.to_number).append(1, record_separator).append(j.type).append(1, record_separator).append(j.graph_body);
            call.args.push_back(j.message_id);
            call.args.push_back(pair);
            call.args.push_back(text);
            if (notify) {
                call.args.push_back(j.notify_channel);
                call.args.push_back(j.notify_payload);
            }
            pairs.push_back(pair);
        }
    }
    if (repeated_ids || has_repeats(pairs)) call.args[repeats_at] = "1";
    if (notify) {   // last, after the segments' keys
        call.keys.push_back(log.key);
        call.keys.push_back(log.clock);
    }
    return call;
}

}  // namespace

Backoff backoff_range(const OutboundSettings& s, std::int64_t n) {
    const auto shift = std::clamp<std::int64_t>(n - 1, 0, 30);
    const auto full = std::min<std::int64_t>(s.backoff_max.count(), s.backoff_base.count() << shift);
    return {full / 2, std::max<std::int64_t>(full / 2, full)};
}

OutboundQueue::OutboundQueue(redis::Client& client, OutboundSettings settings)
    : client_(client), settings_(std::move(settings)), wake_channel_(wake_channel(settings_.prefix)) {}

OutboundQueue::~OutboundQueue() = default;

const OutboundKeys& OutboundQueue::keys(const std::string& tenant) {
    auto it = keys_.find(tenant);
    if (it == keys_.end()) it = keys_.emplace(tenant, std::make_unique<OutboundKeys>(settings_.prefix, tenant)).first;
    return *it->second;
}

std::string OutboundQueue::now_arg() const { return settings_.clock ? std::to_string(settings_.clock()) : std::string(); }

Task<Result<std::vector<EnqueueResult>>> OutboundQueue::enqueue(std::span<const EnqueueRequest> jobs) {
    // Per tenant (one slot per call), in line order, a few hundred jobs per call, all pipelined.
    std::map<std::string_view, std::vector<std::size_t>> by_tenant;
    std::vector<std::string_view> tenant_order;
    for (std::size_t i = 0; i < jobs.size(); ++i) {
        auto& list = by_tenant[jobs[i].tenant];
        if (list.empty()) tenant_order.push_back(jobs[i].tenant);
        list.push_back(i);
    }
    const auto now = now_arg();
    std::deque<std::string> storage;
    std::vector<redis::ScriptCall> calls;
    std::vector<std::size_t> order;   // the jobs in argument order, call after call
    std::vector<std::size_t> call_sizes;
    order.reserve(jobs.size());
    for (const auto tenant : tenant_order) {
        const auto& indices = by_tenant[tenant];
        const auto& k = keys(std::string(tenant));
        const EventLogKeys log{storage.emplace_back(pubsub::event_log_key(settings_.prefix, tenant)),
                               storage.emplace_back(pubsub::event_clock_key(settings_.prefix, tenant, client_.is_cluster())),
                               storage.emplace_back(std::to_string(std::max<std::int64_t>(0, settings_.event_log_max_len)))};
        for (std::size_t start = 0; start < indices.size(); start += jobs_per_call) {
            const auto end = std::min(indices.size(), start + jobs_per_call);
            std::vector<const EnqueueRequest*> part;
            const std::vector<std::size_t> part_indices(indices.begin() + static_cast<long>(start), indices.begin() + static_cast<long>(end));
            for (const auto i : part_indices) part.push_back(&jobs[i]);
            calls.push_back(enqueue_call(part, k, now, wake_channel_, storage, order, part_indices, log));
            call_sizes.push_back(part.size());
        }
    }
    std::vector<EnqueueResult> out(jobs.size(), EnqueueResult{EnqueueOutcome::queued, "queued"});
    if (calls.empty()) co_return out;
    auto replies = co_await redis::run_script(client_, enqueue_script, calls);
    if (!replies) co_return replies.error();
    std::size_t next = 0;   // in `order`
    for (std::size_t c = 0; c < replies->size(); ++c) {
        const auto& r = (*replies)[c];
        if (r.is_error()) co_return Error{"redis refused the enqueue: " + r.str};
        const auto in_call = call_sizes[c];
        if (r.str.empty()) {   // all queued
            next += in_call;
            continue;
        }
        std::size_t lines = 0;
        for (std::size_t start = 0; start < r.str.size() && lines < in_call;) {
            auto end = r.str.find('\n', start);
            if (end == std::string::npos) end = r.str.size();
            const std::string_view line(r.str.data() + start, end - start);
            if (!line.empty() && line != "q") {
                out[order[next]] = {line[0] == 'e' ? EnqueueOutcome::exists : EnqueueOutcome::conflict, std::string(line.substr(1))};
            }
            ++next, ++lines;
            start = end + 1;
        }
        if (lines != in_call) co_return Error{"redis answered the enqueue with the wrong number of results"};
    }
    co_return out;
}

Task<Result<LaneClaim>> OutboundQueue::claim(const Lane& lane, std::size_t max, double rate_per_number) {
    const auto& k = keys(lane.tenant);
    const auto token = new_token();
    const auto keys = strings(k.jobs, k.state, k.fifo(lane.sender), k.ready(lane.sender), k.lanes, k.rate, k.inflight, k.paused,
                              k.cool, k.paircool);
    const auto args = strings(now_arg(), lane.sender, std::to_string(std::max<std::size_t>(1, max)),
                              std::to_string(settings_.lease.count()), token,
                              ms(rate_per_number > 0 ? 1000.0 / rate_per_number : 0));
    auto reply = co_await run_one(client_, claim_script, keys, args, "claim");
    if (!reply) co_return reply.error();
    auto& e = reply->elements;
    if (e.size() < 2 || (e.size() - 2) % 5 != 0) co_return Error{"redis answered the claim with an unexpected reply"};
    LaneClaim out;
    out.next_due = e[0].integer;
    out.now = e[1].integer;
    for (std::size_t i = 2; i + 4 < e.size(); i += 5) {
        auto job = parse_job_record(e[i + 1].str);
        if (!job) co_return Error{"redis holds a malformed job record for message " + e[i].str};
        Claim c;
        c.tenant = lane.tenant;
        c.sender = lane.sender;
        c.message_id = std::move(e[i].str);
        c.token = token;
        c.attempt = e[i + 2].integer + 1;
        c.deferrals = e[i + 3].integer;
        c.graph_body = std::move(job->body);
        c.created_at = job->created_at;
        c.to_number = std::move(job->to);
        c.type = std::move(job->type);
        c.claimed_state = std::move(e[i + 4].str);
        out.claims.push_back(std::move(c));
    }
    co_return out;
}

// The acks of one tenant are written by one script call at a time: those that complete while a
// call is out wait for it and go together in the next, so that the busier the worker, the more
// acks share a call (per-call work is most of what a small call costs Redis).
struct OutboundQueue::AckBatch {
    explicit AckBatch(const net::any_io_executor& executor) : wake(executor, std::chrono::steady_clock::time_point::max()) {}
    std::vector<std::string> args;   // id, token, wamid, created_at, claimed state, attempt per ack
    std::vector<std::int64_t> results;
    bool resumed = false;
    std::optional<Error> error;
    bool done = false;
    net::steady_timer wake;          // cancelled when the batch is answered
};

struct OutboundQueue::AckLane {
    std::shared_ptr<AckBatch> next;  // filling
    bool flushing = false;           // a call is out
};

Task<Result<Recorded>> OutboundQueue::mark_sent(const Claim& c, std::string wamid) {
    auto executor = co_await net::this_coro::executor;
    auto& lane = acks_[c.tenant];
    if (!lane) lane = std::make_unique<AckLane>();
    if (!lane->next) lane->next = std::make_shared<AckBatch>(executor);
    const auto batch = lane->next;
    const std::size_t index = batch->args.size() / 6;
    batch->args.push_back(c.message_id);
    batch->args.push_back(c.token);
    batch->args.push_back(std::move(wamid));
    batch->args.push_back(std::to_string(c.created_at));
    batch->args.push_back(c.claimed_state);
    batch->args.push_back(std::to_string(c.attempt));
    if (!lane->flushing) {
        lane->flushing = true;
        net::co_spawn(executor, flush_acks(c.tenant), net::detached);
    }
    while (!batch->done) co_await batch->wake.async_wait(net::as_tuple(net::use_awaitable));
    if (batch->error) co_return *batch->error;
    if (index >= batch->results.size() || batch->results[index] != 1) co_return Recorded::fenced;
    // The first ack of the batch reports the end of a pause, once.
    if (batch->resumed && index == 0) co_return Recorded::resumed_tenant;
    co_return Recorded::recorded;
}

Task<void> OutboundQueue::flush_acks(std::string tenant) {
    co_await net::post(co_await net::this_coro::executor, net::use_awaitable);   // let this turn's acks join
    auto& lane = *acks_[tenant];
    const auto& k = keys(tenant);
    while (lane.next) {
        const auto batch = std::move(lane.next);
        lane.next.reset();
        auto args = strings(now_arg(), std::to_string(settings_.retention.count()));
        args.insert(args.end(), std::make_move_iterator(batch->args.begin()), std::make_move_iterator(batch->args.end()));
        auto reply = co_await run_one(client_, sent_script, strings(k.state, k.inflight, k.done, k.counts, k.paused, k.wamids, k.unknown),
                                      args, "send record");
        if (!reply) {
            batch->error = reply.error();
        } else {
            const auto& e = reply->elements;
            for (std::size_t i = 0; i + 1 < e.size(); ++i) batch->results.push_back(e[i].integer);
            batch->resumed = !e.empty() && e.back().integer == 1;
        }
        batch->done = true;
        batch->wake.cancel();
    }
    lane.flushing = false;
}

Task<Result<Recorded>> OutboundQueue::transition(const Claim& c, std::string_view outcome, std::int64_t code, std::string error,
                                                 std::int64_t delay_ms) {
    const auto& k = keys(c.tenant);
    const auto keys = strings(k.jobs, k.state, k.hist, k.inflight, k.ready(c.sender), k.lanes, k.failed, k.unknown, k.counts, k.cool,
                              k.paircool, k.paused);
    const auto args = strings(now_arg(), wake_channel_, c.tenant, c.message_id, c.token, outcome, std::to_string(code),
                              record_safe(error), std::to_string(delay_ms), std::to_string(settings_.max_attempts),
                              std::to_string(settings_.cooldown_base.count()), std::to_string(settings_.cooldown_max.count()),
                              std::to_string(settings_.pause_probe.count()), std::to_string(settings_.ambiguous_wait.count()));
    auto reply = co_await run_one(client_, outcome_script, keys, args, "queue transition");
    if (!reply) co_return reply.error();
    co_return reply->integer == 0 ? Recorded::fenced : reply->integer == 2 ? Recorded::paused_tenant : Recorded::recorded;
}

Task<Result<Recorded>> OutboundQueue::retry(const Claim& c, std::int64_t code, std::string error, config::Duration retry_after) {
    // Never sooner than the server asked.
    const auto delay = std::max(backoff_ms(settings_, c.attempt + c.deferrals), retry_after.count());
    co_return co_await transition(c, "retry", code, error, delay);
}

Task<Result<Recorded>> OutboundQueue::not_sent(const Claim& c, std::string error) {
    co_return co_await transition(c, "unsent", 0, error, backoff_ms(settings_, c.attempt + c.deferrals));
}

Task<Result<Recorded>> OutboundQueue::throttle(const Claim& c, ThrottleScope scope, std::int64_t code, std::string error,
                                               config::Duration retry_after) {
    const std::string_view outcome = scope == ThrottleScope::pair ? "throttle:pair" : scope == ThrottleScope::sender ? "throttle:sender"
                                                                                                                   : "throttle:tenant";
    co_return co_await transition(c, outcome, code, error, retry_after.count());
}

Task<Result<Recorded>> OutboundQueue::pause(const Claim& c, std::int64_t code, std::string error) {
    co_return co_await transition(c, "pause", code, error, 0);
}

Task<Result<Recorded>> OutboundQueue::fail(const Claim& c, std::int64_t code, std::string error) {
    co_return co_await transition(c, "fail", code, error, 0);
}

Task<Result<Recorded>> OutboundQueue::unknown(const Claim& c, std::int64_t code, std::string error) {
    co_return co_await transition(c, "unknown", code, error, 0);
}

Task<Result<std::size_t>> OutboundQueue::apply_statuses(const std::string& tenant, const std::vector<StatusReport>& reports) {
    if (reports.empty()) co_return std::size_t{0};
    const auto& k = keys(tenant);
    auto args = strings(now_arg(), std::to_string(settings_.retention.count()));
    for (const auto& r : reports) {
        args.push_back(r.message_id);
        args.push_back(r.wamid);
        args.push_back(r.status);
        args.push_back(r.error_code);
        args.push_back(record_safe(r.error_title));
    }
    auto reply = co_await run_one(client_, status_script,
                                  strings(k.jobs, k.state, k.hist, k.failed, k.unknown, k.done, k.counts, k.wamids), args, "status update");
    if (!reply) co_return reply.error();
    co_return static_cast<std::size_t>(reply->integer);
}

Task<Result<SweepResult>> OutboundQueue::sweep(const std::string& tenant, const std::vector<std::string>& senders, bool repair) {
    const auto& k = keys(tenant);
    auto keys = strings(k.jobs, k.state, k.hist, k.inflight, k.unknown, k.failed, k.done, k.counts, k.pairs_long, k.pairs_until,
                        k.repair, k.lanes, k.wamids);
    auto args = strings(now_arg(), wake_channel_, tenant, std::to_string(settings_.retention.count()),
                        std::to_string(settings_.failed_max), std::to_string(settings_.failed_max_age.count()),
                        std::to_string(settings_.ambiguous_wait.count()), settings_.retry_ambiguous ? "1" : "0",
                        std::to_string(sweep_limit), repair ? "1" : "0");
    for (const auto& s : senders) {
        keys.push_back(k.ready(s));
        args.push_back(s);
    }
    auto reply = co_await run_one(client_, sweep_script, keys, args, "sweep");
    if (!reply) co_return reply.error();
    const auto& e = reply->elements;
    if (e.size() != 8) co_return Error{"redis answered the sweep with an unexpected reply"};
    co_return SweepResult{e[0].integer, e[1].integer, e[2].integer, e[3].integer, e[4].integer, e[5].integer, e[6].integer, e[7].integer == 1};
}

Task<Result<std::vector<std::string>>> OutboundQueue::senders(const std::string& tenant) {
    auto reply = co_await client_.exec(redis::Command("SMEMBERS", keys(tenant).numbers));
    if (!reply) co_return reply.error();
    if (reply->is_error()) co_return Error{"redis refused SMEMBERS: " + reply->str};
    std::vector<std::string> out;
    for (auto& e : reply->elements) out.push_back(std::move(e.str));
    co_return out;
}

Task<Result<std::size_t>> OutboundQueue::take_global(std::size_t want, std::int64_t& next_allowed) {
    if (settings_.rate_global <= 0) co_return want;
    const auto args = strings(now_arg(), ms(1000.0 / settings_.rate_global), std::to_string(want));
    auto reply = co_await run_one(client_, global_rate_script, strings(global_rate_key(settings_.prefix)), args, "global rate");
    if (!reply) co_return reply.error();
    if (reply->elements.size() != 2) co_return Error{"redis answered the global rate with an unexpected reply"};
    next_allowed = reply->elements[1].integer;
    co_return static_cast<std::size_t>(reply->elements[0].integer);
}

Task<Status> OutboundQueue::give_back_global(std::size_t unused) {
    if (settings_.rate_global <= 0 || unused == 0) co_return Status{};
    const auto args = strings(now_arg(), ms(1000.0 / settings_.rate_global), std::to_string(-static_cast<long long>(unused)));
    auto reply = co_await run_one(client_, global_rate_script, strings(global_rate_key(settings_.prefix)), args, "global rate");
    if (!reply) co_return reply.error();
    co_return Status{};
}

}  // namespace wappa::queue
