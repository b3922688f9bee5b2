#include "wappa/service/outbound_worker.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <chrono>
#include <limits>

#include "wappa/graph/transport.hpp"
#include "wappa/queue/outbound_queue.hpp"
#include "wappa/service/worker_metrics.hpp"

namespace wappa::service {
namespace {

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
constexpr std::int64_t never = std::numeric_limits<std::int64_t>::max();
// How long a claim of a lane is put off after Redis refused it.
constexpr std::int64_t claim_retry_ms = 250;
// The most messages one claim takes (one script call).
constexpr std::size_t max_per_claim = 256;
// How often the upkeep looks for a message left `sending` without a lease.
constexpr std::int64_t repair_every_ms = 60'000;
// How long an idle lane goes unclaimed at most: a wake lost by the pub/sub connection costs no
// more (an idle claim only reads).
constexpr std::int64_t idle_recheck_ms = 30'000;

std::int64_t system_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Outside the coroutines: GCC 12 cannot hold braced lists of literals in a coroutine frame.
void count_send(WorkerMetrics& m, std::string_view outcome, std::int64_t code) { m.sends.inc({outcome, std::to_string(code)}); }
void count_throttle(WorkerMetrics& m, std::int64_t code, std::string_view scope) { m.rate_limited.inc({std::to_string(code), scope}); }
void count_unrecorded(WorkerMetrics& m, std::string_view reason) { m.unrecorded.inc({reason}); }
void count_upkeep(WorkerMetrics& m, std::string_view action, std::int64_t n) {
    if (n > 0) m.sweeps.inc({action}, static_cast<std::uint64_t>(n));
}

std::string_view scope_name(graph::SendOutcome::Scope s) {
    return s == graph::SendOutcome::Scope::pair ? "pair" : s == graph::SendOutcome::Scope::sender ? "sender" : "tenant";
}

queue::ThrottleScope scope_of(graph::SendOutcome::Scope s) {
    return s == graph::SendOutcome::Scope::pair ? queue::ThrottleScope::pair
           : s == graph::SendOutcome::Scope::sender ? queue::ThrottleScope::sender : queue::ThrottleScope::tenant;
}

// The state a send's outcome leaves the message in, and the attempts spent by then (mirrors
// outcome.lua: a retry past max_attempts fails; not_sent, throttled and paused spend none).
OutboundWorker::Transition transition_after(const graph::SendOutcome& outcome, const queue::Claim& claim, std::int64_t max_attempts) {
    using Kind = graph::SendOutcome::Kind;
    OutboundWorker::Transition t{"queued", outcome.wamid, outcome.code, outcome.error, claim.attempt};
    switch (outcome.kind) {
        case Kind::sent: t.status = "sent"; break;
        case Kind::ambiguous: t.status = "unknown"; break;
        case Kind::permanent: t.status = "failed"; break;
        case Kind::transient: t.status = claim.attempt >= max_attempts ? "failed" : "queued"; break;
        case Kind::not_sent:
        case Kind::rate_limited:
        case Kind::auth: t.attempts = claim.attempt - 1; break;
    }
    return t;
}

// GCC 12 mishandles a coroutine parameter of this class type passed directly (a bad free when
// the frame is destroyed); wrapped in a struct it is copied into the frame correctly.
struct ClaimHolder {
    queue::Claim claim;
};

}  // namespace

struct OutboundWorker::State {
    struct LaneState {
        queue::Lane lane;
        double rate = 0;               // the sender's messages per second (0 = none)
        std::int64_t due = 0;          // queue clock, ms; `never` when nothing is queued
        bool claiming = false;
        std::int64_t woken = never;    // a wake that came while a claim was out (its answer may predate it)
    };
    struct TenantState {
        std::string id;
        std::int64_t upkeep_due = 0;
        std::int64_t repair_due = 0;
        bool sweeping = false;
        bool list_senders = true;
        bool listing = false;
    };

    State(const config::Config& c, queue::OutboundQueue& q, graph::Transport& t, std::size_t n, WorkerMetrics& m)
        : config(c), queue(q), transport(t), concurrency(std::max<std::size_t>(1, n)), metrics(m) {}

    const config::Config& config;
    queue::OutboundQueue& queue;
    graph::Transport& transport;
    std::size_t concurrency;
    WorkerMetrics& metrics;
    WorkerStats stats;
    TransitionHook transition_hook;

    std::vector<LaneState> lanes;
    std::vector<TenantState> tenants;
    std::size_t in_flight = 0;        // sends running
    std::size_t reserved = 0;         // slots held by claims not yet answered
    std::size_t next_lane = 0;        // where the next round of claims starts (fairness)
    std::int64_t clock_offset = 0;    // the queue's clock minus this host's, as last seen
    std::int64_t global_due = 0;      // the global rate allows the next send then
    std::int64_t upkeep_interval = 5'000;
    bool stopping = false;
    std::unique_ptr<net::steady_timer> signal;   // the scheduler sleeps on it; cancel() wakes it
    bool poked = false;                          // something changed since the last round

    std::int64_t now() const { return system_ms() + clock_offset; }
    void saw_queue_clock(std::int64_t queue_now) {
        if (queue_now > 0) clock_offset = queue_now - system_ms();
    }
    void poke() {
        poked = true;
        if (signal) signal->cancel();
    }

    std::size_t lane_index(const std::string& tenant, const std::string& sender) {
        for (std::size_t i = 0; i < lanes.size(); ++i) {
            if (lanes[i].lane.tenant == tenant && lanes[i].lane.sender == sender) return i;
        }
        const auto* t = config.find_tenant(tenant);
        const auto rate = t ? t->rate_per_number.value_or(config.outbound.rate_per_number).per_second : 0;
        lanes.push_back({{tenant, sender}, rate, 0, false, never});
        return lanes.size() - 1;
    }

    std::vector<std::string> senders_of(const std::string& tenant) const {
        std::vector<std::string> out;
        for (const auto& l : lanes) {
            if (l.lane.tenant == tenant) out.push_back(l.lane.sender);
        }
        return out;
    }

    Task<void> list_senders(std::size_t t);
    Task<void> upkeep(std::size_t t);
    Task<void> claim(std::size_t index, std::size_t slots);
    Task<void> process(ClaimHolder holder);
    Task<Result<queue::Recorded>> record(const queue::Claim& claim, const graph::SendOutcome& outcome);
    void schedule();
};

Task<void> OutboundWorker::State::list_senders(std::size_t t) {
    const auto tenant = tenants[t].id;
    auto senders = co_await queue.senders(tenant);
    tenants[t].listing = false;
    if (!senders) {
        spdlog::warn("listing the senders of tenant {} failed (retried): {}", tenant, senders.error().message);
        poke();
        co_return;
    }
    tenants[t].list_senders = false;
    for (const auto& s : senders.value()) lane_index(tenant, s);
    poke();
}

Task<void> OutboundWorker::State::upkeep(std::size_t t) {
    const auto tenant = tenants[t].id;
    const bool repair = now() >= tenants[t].repair_due;
    auto result = co_await queue.sweep(tenant, senders_of(tenant), repair);
    auto& ts = tenants[t];
    ts.sweeping = false;
    if (!result) {
        // Stopping closes the Redis client under an upkeep in progress: not a failure to report.
        if (!stopping) spdlog::error("queue upkeep of tenant {} failed (retried in 1s): {}", tenant, result.error().message);
        ts.upkeep_due = now() + 1000;
        poke();
        co_return;
    }
    const auto& r = result.value();
    saw_queue_clock(r.now);
    if (repair) ts.repair_due = r.now + repair_every_ms;
    // Also on a timer: another worker's leases can expire without anything telling us.
    ts.upkeep_due = std::min(r.next_due > 0 ? r.next_due : never, r.now + upkeep_interval);
    if (r.missing_sender) ts.list_senders = true;
    count_upkeep(metrics, "expired", r.expired);
    count_upkeep(metrics, "dropped", r.dropped);
    count_upkeep(metrics, "leases_expired", r.leases_expired);
    count_upkeep(metrics, "unknown_settled", r.unknown_settled);
    count_upkeep(metrics, "repaired", r.repaired);
    if (r.leases_expired > 0) {
        spdlog::warn("{} lease(s) of tenant {} expired while sending (a worker died or hung): outcome unknown, waiting for status "
                     "webhooks", r.leases_expired, tenant);
    }
    if (r.unknown_settled > 0) {
        spdlog::warn("{} send(s) of unknown outcome of tenant {} got no status webhook within outbound.ambiguous_wait: {}",
                     r.unknown_settled, tenant, config.outbound.on_ambiguous == "retry" ? "queued again" : "failed");
    }
    if (r.repaired > 0) spdlog::warn("{} message(s) of tenant {} were left sending without a lease: repaired", r.repaired, tenant);
    poke();
}

Task<void> OutboundWorker::State::claim(std::size_t index, std::size_t slots) {
    const auto lane = lanes[index].lane;
    const auto rate = lanes[index].rate;
    std::size_t granted = slots;
    if (config.outbound.rate_global.per_second > 0) {
        std::int64_t next_allowed = 0;
        auto taken = co_await queue.take_global(slots, next_allowed);
        granted = taken ? taken.value() : 0;
        if (granted == 0) {
            global_due = taken ? next_allowed : now() + claim_retry_ms;
            reserved -= slots;
            lanes[index].claiming = false;
            poke();
            co_return;
        }
    }
    auto result = co_await queue.claim(lane, granted, rate);
    reserved -= slots;
    auto& state = lanes[index];
    state.claiming = false;
    if (!result) {
        metrics.claim_errors.inc({});
        spdlog::error("claiming messages of tenant {} sender {} failed: {}", lane.tenant, lane.sender, result.error().message);
        state.due = now() + claim_retry_ms;
        if (granted > 0) co_await queue.give_back_global(granted);
        poke();
        co_return;
    }
    auto& claimed = result.value();
    saw_queue_clock(claimed.now);
    // An idle lane is looked at again after a while all the same; a wake that came meanwhile wins.
    state.due = std::min(claimed.next_due > 0 ? claimed.next_due : claimed.now + idle_recheck_ms, state.woken);
    state.woken = never;
    if (claimed.claims.size() < granted) co_await queue.give_back_global(granted - claimed.claims.size());
    auto executor = co_await net::this_coro::executor;
    for (auto& c : claimed.claims) {
        if (transition_hook) transition_hook(c, Transition{"sending", {}, 0, {}, c.attempt});
        ++in_flight;
        net::co_spawn(executor, process(ClaimHolder{std::move(c)}), net::detached);
    }
    metrics.busy = static_cast<double>(in_flight);
    poke();
}

// The queue's transition for a send's outcome (every one fenced by the claim's lease).
Task<Result<queue::Recorded>> OutboundWorker::State::record(const queue::Claim& claim, const graph::SendOutcome& outcome) {
    using Kind = graph::SendOutcome::Kind;
    Result<queue::Recorded> recorded = Error{"unknown send outcome"};
    switch (outcome.kind) {
        case Kind::sent: recorded = co_await queue.mark_sent(claim, outcome.wamid); break;
        case Kind::not_sent: recorded = co_await queue.not_sent(claim, outcome.error); break;
        case Kind::ambiguous: recorded = co_await queue.unknown(claim, outcome.code, outcome.error); break;
        case Kind::transient:
            recorded = co_await queue.retry(claim, outcome.code, outcome.error, outcome.retry_after);
            break;
        case Kind::rate_limited:
            recorded = co_await queue.throttle(claim, scope_of(outcome.scope), outcome.code, outcome.error, outcome.retry_after);
            break;
        case Kind::auth: recorded = co_await queue.pause(claim, outcome.code, outcome.error); break;
        case Kind::permanent: recorded = co_await queue.fail(claim, outcome.code, outcome.error); break;
    }
    co_return recorded;
}

Task<void> OutboundWorker::State::process(ClaimHolder holder) {
    const auto& claim = holder.claim;
    const auto* tenant = config.find_tenant(claim.tenant);
    // (A conditional expression's temporary inside a co_await statement is freed twice by GCC 12.)
    std::string access_token;
    if (tenant != nullptr) access_token = tenant->access_token;
    const auto started = std::chrono::steady_clock::now();
    const auto outcome = co_await transport.send(claim.sender, access_token, claim.graph_body);
    metrics.send_latency.observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    // The outcome is known now: a Redis that is down or full for a moment must not turn it into an
    // unknown one. Recording is tried again, each second at most, within three quarters of the
    // lease (fenced: once the lease is taken over, Redis refuses it), then left to its expiry.
    auto recorded = co_await record(claim, outcome);
    const auto give_up = started + std::chrono::milliseconds(config.outbound.visibility_timeout.count() * 3 / 4);
    net::steady_timer pause(co_await net::this_coro::executor);
    for (auto wait = std::chrono::milliseconds(100); !recorded && std::chrono::steady_clock::now() + wait < give_up;
         wait = std::min(wait * 2, std::chrono::milliseconds(1'000))) {
        pause.expires_after(wait);
        co_await pause.async_wait(use_tuple);
        recorded = co_await record(claim, outcome);
    }
    using Kind = graph::SendOutcome::Kind;
    switch (outcome.kind) {
        case Kind::sent:
            ++stats.sent;
            count_send(metrics, "sent", 0);
            if (recorded && recorded.value() == queue::Recorded::resumed_tenant) {
                spdlog::warn("tenant {} resumed: a probe send was accepted, its messages are being sent again", claim.tenant);
                for (auto& l : lanes) {
                    if (l.lane.tenant == claim.tenant) l.due = 0;   // no need to wait for the next probe time
                }
            }
            break;
        case Kind::not_sent:
            ++stats.not_sent;
            count_send(metrics, "not_sent", 0);
            spdlog::warn("send not made (no attempt spent, retried) tenant={} message_id={}: {}", claim.tenant, claim.message_id,
                         outcome.error);
            break;
        case Kind::ambiguous:
            ++stats.unknown;
            count_send(metrics, "unknown", outcome.code);
            spdlog::warn("send of unknown outcome tenant={} message_id={}: {} (waiting for its status webhook)", claim.tenant,
                         claim.message_id, outcome.error);
            break;
        case Kind::transient:
            ++stats.retried;
            count_send(metrics, "retry", outcome.code);
            spdlog::info("send will be retried tenant={} message_id={} attempt={} code={} error={}", claim.tenant, claim.message_id,
                         claim.attempt, outcome.code, outcome.error);
            break;
        case Kind::rate_limited:
            ++stats.throttled;
            count_send(metrics, "throttled", outcome.code);
            count_throttle(metrics, outcome.code, scope_name(outcome.scope));
            spdlog::info("throttled by the Graph API tenant={} message_id={} code={} scope={}: {}", claim.tenant, claim.message_id,
                         outcome.code, scope_name(outcome.scope), outcome.error);
            break;
        case Kind::auth:
            ++stats.paused;
            count_send(metrics, "paused", outcome.code);
            if (recorded && recorded.value() == queue::Recorded::paused_tenant) {
                spdlog::error("tenant {} PAUSED: the Graph API refused its access token (code {}: {}); its messages stay queued, "
                              "one probe send every {}", claim.tenant, outcome.code, outcome.error,
                              config::format_duration(config.outbound.pause_probe));
            }
            break;
        case Kind::permanent:
            ++stats.failed;
            count_send(metrics, "failed", outcome.code);
            spdlog::warn("message failed permanently tenant={} message_id={} code={} error={}", claim.tenant, claim.message_id,
                         outcome.code, outcome.error);
            break;
    }
    if (transition_hook && recorded && recorded.value() != queue::Recorded::fenced) {
        transition_hook(claim, transition_after(outcome, claim, config.outbound.max_attempts));
    }
    if (!recorded) {
        // The lease runs out and the upkeep treats the outcome as unknown; nothing is lost.
        count_unrecorded(metrics, "redis");
        spdlog::error("could not record the outcome of tenant={} message_id={}: {}", claim.tenant, claim.message_id,
                      recorded.error().message);
    } else if (recorded.value() == queue::Recorded::fenced) {
        count_unrecorded(metrics, "fenced");
        spdlog::warn("outcome of tenant={} message_id={} not recorded: its lease was taken over (fenced)", claim.tenant,
                     claim.message_id);
    }
    --in_flight;
    metrics.busy = static_cast<double>(in_flight);
    poke();
}

// One round of the scheduler: starts what is due, and sets the signal to wake at the next due time.
void OutboundWorker::State::schedule() {
    auto executor = signal->get_executor();
    const auto current = now();
    std::int64_t wake_at = never;
    for (std::size_t t = 0; t < tenants.size(); ++t) {
        auto& ts = tenants[t];
        if (ts.list_senders && !ts.listing) {
            ts.listing = true;
            net::co_spawn(executor, list_senders(t), net::detached);
        }
        if (!ts.sweeping && ts.upkeep_due <= current) {
            ts.sweeping = true;
            net::co_spawn(executor, upkeep(t), net::detached);
        }
        if (!ts.sweeping) wake_at = std::min(wake_at, ts.upkeep_due);
    }
    const std::size_t busy = in_flight + reserved;
    std::size_t free = busy < concurrency ? concurrency - busy : 0;
    // While sends are in flight, slots are handed out in batches: a claim of one message costs
    // Redis nearly what a claim of thirty does. An idle worker claims at once.
    const auto batch = busy == 0 ? 1 : std::max<std::size_t>(1, concurrency / 8);
    if (free >= batch && global_due <= current) {
        std::vector<std::size_t> due;
        for (std::size_t k = 0; k < lanes.size(); ++k) {
            const auto i = (next_lane + k) % lanes.size();
            if (!lanes[i].claiming && lanes[i].due <= current) due.push_back(i);
        }
        if (!due.empty()) next_lane = (next_lane + 1) % lanes.size();
        // Fair shares of the free slots, at least a batch each, the lanes served in turn.
        const auto share = std::clamp<std::size_t>(free / std::max<std::size_t>(1, due.size()), batch, max_per_claim);
        for (const auto i : due) {
            if (free < std::min(batch, share)) break;
            const auto n = std::min(share, free);
            lanes[i].claiming = true;
            lanes[i].woken = never;
            reserved += n;
            free -= n;
            net::co_spawn(executor, claim(i, n), net::detached);
        }
    }
    if (free >= batch) {
        for (const auto& l : lanes) {
            if (!l.claiming) wake_at = std::min(wake_at, std::max(l.due, global_due));
        }
    }
    // A bounded sleep all the same: a wake lost with a dropped subscription costs at most this.
    const auto sleep = std::clamp<std::int64_t>(wake_at == never ? 10'000 : wake_at - current, 0, 10'000);
    signal->expires_after(std::chrono::milliseconds(sleep));
}

OutboundWorker::OutboundWorker(const config::Config& config, queue::OutboundQueue& queue, graph::Transport& transport,
                               std::size_t concurrency, WorkerMetrics& metrics)
    : state_(std::make_unique<State>(config, queue, transport, concurrency, metrics)) {
    auto& s = *state_;
    s.upkeep_interval = std::clamp<std::int64_t>(config.outbound.visibility_timeout.count() / 2, 100, 5'000);
    for (const auto& t : config.tenants) {
        s.tenants.push_back({t.id, 0, 0, false, true, false});
        s.lane_index(t.id, t.phone_number_id);
    }
}

OutboundWorker::~OutboundWorker() = default;

const WorkerStats& OutboundWorker::stats() const { return state_->stats; }

void OutboundWorker::on_transition(TransitionHook hook) { state_->transition_hook = std::move(hook); }

void OutboundWorker::stop() {
    state_->stopping = true;
    state_->poke();
}

void OutboundWorker::wake(std::string_view payload) {
    auto& s = *state_;
    const auto a = payload.find('\x1f');
    const auto b = a == std::string_view::npos ? a : payload.find('\x1f', a + 1);
    if (b == std::string_view::npos) return;
    const std::string tenant(payload.substr(0, a)), sender(payload.substr(a + 1, b - a - 1));
    if (s.config.find_tenant(tenant) == nullptr) return;   // not ours to send
    const std::int64_t at = std::atoll(std::string(payload.substr(b + 1)).c_str());
    auto& lane = s.lanes[s.lane_index(tenant, sender)];
    lane.due = std::min(lane.due, at);
    if (lane.claiming) lane.woken = std::min(lane.woken, at);
    s.poke();
}

void OutboundWorker::resync() {
    auto& s = *state_;
    for (auto& l : s.lanes) {
        l.due = 0;
        if (l.claiming) l.woken = 0;
    }
    for (auto& t : s.tenants) {
        t.list_senders = true;
        t.upkeep_due = 0;
    }
    s.poke();
}

Task<void> OutboundWorker::run(config::Duration grace) {
    auto& s = *state_;
    s.signal = std::make_unique<net::steady_timer>(co_await net::this_coro::executor);
    while (!s.stopping) {
        s.poked = false;
        s.schedule();
        if (!s.poked) co_await s.signal->async_wait(use_tuple);
    }
    // Stopping: no new claims; the sends in flight (and claims being answered) finish.
    const auto deadline = std::chrono::steady_clock::now() + grace;
    while (s.in_flight + s.reserved > 0 && std::chrono::steady_clock::now() < deadline) {
        s.signal->expires_at(deadline);
        co_await s.signal->async_wait(use_tuple);
    }
    if (s.in_flight > 0) spdlog::warn("{} send(s) still in flight after the grace period: their leases will expire", s.in_flight);
    s.signal.reset();
}

}  // namespace wappa::service
