// Each transition of the outbound queue against a real redis-server, with an injected clock and
// every script under the key guard (a key a script did not declare in KEYS is an error).
#include <doctest/doctest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <regex>

#include "support/redis_server.hpp"
#include "support/run_coro.hpp"
#include "wappa/queue/outbound/record.hpp"
#include "wappa/queue/outbound/scripts.hpp"
#include "wappa/queue/outbound_queue.hpp"
#include "wappa/redis/client.hpp"
#include "wappa/redis/script.hpp"
#include "wappa/redis/subscriber.hpp"

using namespace wappa;
using namespace std::chrono_literals;
using queue::Recorded;

namespace {

// Before any script is built: every script of these tests runs under the key guard.
const bool key_guard = (redis::Script::check_declared_keys(), true);

constexpr std::int64_t start_time = 1'800'000'000'000;
constexpr std::int64_t lease_ms = 10'000;
constexpr std::int64_t wait_ms = 60'000;
constexpr std::int64_t probe_ms = 30'000;

const queue::Lane acme{"acme", "111"};
const queue::Lane beta{"beta", "222"};

queue::EnqueueRequest job(const queue::Lane& lane, const std::string& id, const std::string& to = "16505550001", double pair_rate = 0) {
    queue::EnqueueRequest r;
    r.tenant = lane.tenant;
    r.phone_number_id = lane.sender;
    r.message_id = id;
    r.to_number = to;
    r.type = "text_message";
    r.graph_body = R"({"to":")" + to + R"(","text":{"body":")" + id + R"("}})";
    r.rate_per_recipient = pair_rate;
    return r;
}

queue::StatusReport report(const std::string& id, const std::string& status, const std::string& wamid = "") {
    return queue::StatusReport{id, wamid, status, status == "failed" ? "131026" : "", status == "failed" ? "Undeliverable" : ""};
}

// A private Redis and a queue whose every script sees the clock `now`.
struct QueueFixture {
    test::RedisServer server;
    net::io_context io;
    redis::Client client{io.get_executor(), test::settings_for(server)};
    std::int64_t now = start_time;
    queue::OutboundQueue queue{client, settings()};

    QueueFixture() {
        (void)key_guard;
        client.start();
        REQUIRE(test::run_coro(io, [&]() -> Task<bool> { co_return (co_await client.wait_connected(2s)).ok(); }));
    }
    ~QueueFixture() {
        client.stop();
        io.run_for(std::chrono::milliseconds(100));
    }

    queue::OutboundSettings settings(bool retry_ambiguous = false) {
        queue::OutboundSettings s;
        s.lease = config::Duration(lease_ms);
        s.max_attempts = 3;
        s.backoff_base = config::Duration(100);
        s.backoff_max = config::Duration(1'000);
        s.retry_ambiguous = retry_ambiguous;
        s.ambiguous_wait = config::Duration(wait_ms);
        s.pause_probe = config::Duration(probe_ms);
        s.cooldown_base = config::Duration(1'000);
        s.cooldown_max = config::Duration(60'000);
        s.retention = config::Duration(3'600'000);
        s.failed_max = 2;
        s.clock = [this] { return now; };
        return s;
    }

    template <class T>
    T get(Result<T> r) {
        if (!r) FAIL(r.error().message);
        return std::move(r).value();
    }
    template <class Make>
    auto run(Make&& make) {
        return test::run_coro(io, std::forward<Make>(make));
    }

    void enqueue(const std::vector<queue::EnqueueRequest>& jobs) {
        const auto results = run([&]() -> Task<Result<std::vector<queue::EnqueueResult>>> { co_return co_await queue.enqueue(jobs); });
        REQUIRE(results);
        for (const auto& r : results.value()) CHECK(r.outcome == queue::EnqueueOutcome::queued);
    }
    queue::LaneClaim claim(const queue::Lane& lane, std::size_t max = 10, double rate = 0) {
        return get(run([&]() -> Task<Result<queue::LaneClaim>> { co_return co_await queue.claim(lane, max, rate); }));
    }
    std::vector<std::string> claimed_ids(const queue::Lane& lane, std::size_t max = 10) {
        std::vector<std::string> ids;
        for (const auto& c : claim(lane, max).claims) ids.push_back(c.message_id);
        return ids;
    }
    Recorded sent(const queue::Claim& c, const std::string& wamid = "wamid.X") {
        return get(run([&]() -> Task<Result<Recorded>> { co_return co_await queue.mark_sent(c, wamid); }));
    }
    template <class Transition>
    Recorded record(Transition&& transition) {
        return get(run([&]() -> Task<Result<Recorded>> { co_return co_await transition(); }));
    }
    queue::MessageState state(const queue::Lane& lane, const std::string& id) {
        auto found = get(run([&]() -> Task<Result<std::optional<queue::MessageState>>> { co_return co_await queue.inspect(lane.tenant, id); }));
        REQUIRE(found.has_value());
        return *found;
    }
    bool exists(const queue::Lane& lane, const std::string& id) {
        return get(run([&]() -> Task<Result<std::optional<queue::MessageState>>> { co_return co_await queue.inspect(lane.tenant, id); }))
            .has_value();
    }
    queue::SweepResult sweep(const queue::Lane& lane, bool repair = false) {
        const std::vector<std::string> senders(1, lane.sender);
        return get(run([&]() -> Task<Result<queue::SweepResult>> { co_return co_await queue.sweep(lane.tenant, senders, repair); }));
    }
    std::size_t statuses(const std::string& tenant, const std::vector<queue::StatusReport>& reports) {
        return get(run([&]() -> Task<Result<std::size_t>> { co_return co_await queue.apply_statuses(tenant, reports); }));
    }
    queue::TenantStats stats(const queue::Lane& lane) {
        const std::vector<std::string> tenants{"acme", "beta"};
        auto all = get(run([&]() -> Task<Result<queue::QueueStats>> { co_return co_await queue.stats(tenants); }));
        return all.tenants[lane.tenant];
    }
    queue::RequeueOutcome requeue(const queue::Lane& lane, const std::string& id, bool include_unknown = false) {
        const std::vector<std::string> ids(1, id);
        auto out = get(run([&]() -> Task<Result<std::vector<queue::RequeueOutcome>>> {
            co_return co_await queue.requeue(lane, ids, include_unknown, false);
        }));
        REQUIRE(out.size() == 1);
        return out.front();
    }
    std::string cli(const std::string& args) { return server.cli(args); }
};

}  // namespace

TEST_CASE_FIXTURE(QueueFixture, "claim then ack: queued, sending under a lease, sent") {
    enqueue({job(acme, "m1")});
    CHECK(state(acme, "m1").status == "queued");
    const auto claimed = claim(acme);
    REQUIRE(claimed.claims.size() == 1);
    const auto& c = claimed.claims.front();
    CHECK((c.message_id == "m1" && c.attempt == 1 && c.to_number == "16505550001"));
    CHECK(c.graph_body.find("\"m1\"") != std::string::npos);
    CHECK(claimed.next_due == 0);   // nothing else queued
    CHECK(claimed.now == start_time);
    const auto sending = state(acme, "m1");
    CHECK((sending.status == "sending" && sending.lease_until == start_time + lease_ms));
    CHECK(claim(acme).claims.empty());   // never claimed twice
    CHECK(sent(c, "wamid.1") == Recorded::recorded);
    const auto done = state(acme, "m1");
    CHECK((done.status == "sent" && done.attempts == 1 && done.wamid == "wamid.1" && done.sent_at == start_time));
    CHECK(stats(acme).counters["sent"] == 1);
}

TEST_CASE_FIXTURE(QueueFixture, "ids are per tenant: the same id in two tenants is two messages") {
    enqueue({job(acme, "order-42"), job(beta, "order-42", "16505559999")});
    CHECK(state(acme, "order-42").to == "16505550001");
    CHECK(state(beta, "order-42").to == "16505559999");
    // A conflict is a matter of one tenant only, and says nothing of the other.
    const std::vector<queue::EnqueueRequest> again{job(acme, "order-42", "16505550001"), job(beta, "order-42", "16505550001")};
    auto results = get(run([&]() -> Task<Result<std::vector<queue::EnqueueResult>>> { co_return co_await queue.enqueue(again); }));
    CHECK(results[0].outcome == queue::EnqueueOutcome::exists);
    CHECK(results[1].outcome == queue::EnqueueOutcome::conflict);
    const std::vector<std::string> both{"acme", "beta", "gamma"};
    const auto holders = get(run([&]() -> Task<Result<std::vector<std::string>>> { co_return co_await queue.tenants_holding(both, "order-42"); }));
    CHECK(holders == std::vector<std::string>{"acme", "beta"});
}

TEST_CASE_FIXTURE(QueueFixture, "an expired lease makes the outcome unknown; the late answer of that very send resolves it") {
    enqueue({job(acme, "m1")});
    const auto c = claim(acme).claims.at(0);
    now += lease_ms + 1;
    CHECK(sweep(acme).leases_expired == 1);
    auto s = state(acme, "m1");
    CHECK((s.status == "unknown" && s.unknown_outcome && s.attempts == 1 && s.unknown_until == now + wait_ms));
    CHECK(claim(acme).claims.empty());   // not sent again
    CHECK(record([&] { return queue.retry(c, 131000, "late error", config::Duration(0)); }) == Recorded::fenced);
    CHECK(sent(c, "wamid.LATE") == Recorded::recorded);
    s = state(acme, "m1");
    CHECK((s.status == "sent" && s.wamid == "wamid.LATE"));
    CHECK(stats(acme).unknown == 0);
}

TEST_CASE_FIXTURE(QueueFixture, "a transient answer spends an attempt and waits its backoff; exhausted attempts fail") {
    enqueue({job(acme, "m1")});
    for (std::int64_t attempt = 1; attempt <= 3; ++attempt) {
        const auto claimed = claim(acme);
        REQUIRE(claimed.claims.size() == 1);
        CHECK(claimed.claims[0].attempt == attempt);
        CHECK(record([&] { return queue.retry(claimed.claims[0], 131000, "Something went wrong", config::Duration(0)); }) ==
              Recorded::recorded);
        if (attempt < 3) {
            const auto waiting = claim(acme);
            CHECK(waiting.claims.empty());
            CHECK(waiting.next_due > now);   // the backoff: equal jitter, at least half of base * 2^(n-1)
            CHECK(waiting.next_due >= now + (100 << (attempt - 1)) / 2);
            now = waiting.next_due;
        }
    }
    const auto s = state(acme, "m1");
    CHECK((s.status == "failed" && s.attempts == 3 && s.last_error_code == "131000"));
    CHECK(s.last_error.find("attempts exhausted") != std::string::npos);
}

TEST_CASE_FIXTURE(QueueFixture, "a request that never left spends no attempt") {
    enqueue({job(acme, "m1")});
    const auto c = claim(acme).claims.at(0);
    CHECK(record([&] { return queue.not_sent(c, "cannot connect to the Graph API"); }) == Recorded::recorded);
    auto s = state(acme, "m1");
    CHECK((s.status == "queued" && s.attempts == 0 && s.deferrals == 1));
    now += 10'000;
    const auto again = claim(acme).claims.at(0);
    CHECK((again.attempt == 1 && again.deferrals == 1));
}

TEST_CASE_FIXTURE(QueueFixture, "a throttled sender waits its cool-down, growing, and the message keeps its place") {
    enqueue({job(acme, "a", "16505550001"), job(acme, "b", "16505550002"), job(acme, "c", "16505550003")});
    auto first = claim(acme, 1).claims.at(0);
    CHECK(first.message_id == "a");
    CHECK(record([&] { return queue.throttle(first, queue::ThrottleScope::sender, 130429, "Rate limit hit", config::Duration(0)); }) ==
          Recorded::recorded);
    auto held = claim(acme);
    CHECK(held.claims.empty());
    CHECK(held.next_due == now + 1'000);   // cool-down base
    CHECK(state(acme, "a").attempts == 0);
    now += 1'000;
    first = claim(acme, 1).claims.at(0);
    CHECK(first.message_id == "a");   // still first
    CHECK(record([&] { return queue.throttle(first, queue::ThrottleScope::sender, 130429, "Rate limit hit", config::Duration(0)); }) ==
          Recorded::recorded);
    CHECK(claim(acme).next_due == now + 4'000);   // base * 4: throttling went on
    now += 4'000;
    CHECK(claimed_ids(acme) == std::vector<std::string>{"a", "b", "c"});
    // Retry-After, when given, is the wait.
    enqueue({job(acme, "d", "16505550004")});
    const auto d = claim(acme).claims.at(0);
    CHECK(record([&] { return queue.throttle(d, queue::ThrottleScope::sender, 130429, "Rate limit hit", config::Duration(7'000)); }) ==
          Recorded::recorded);
    CHECK(claim(acme).next_due == now + 7'000);
}

TEST_CASE_FIXTURE(QueueFixture, "a throttled pair holds that recipient only, its messages in order") {
    enqueue({job(acme, "x1", "16505550001"), job(acme, "y1", "16505550002"), job(acme, "x2", "16505550001"),
             job(acme, "x3", "16505550001")});
    const auto x1 = claim(acme, 1).claims.at(0);
    CHECK(record([&] { return queue.throttle(x1, queue::ThrottleScope::pair, 131056, "Pair rate limit", config::Duration(0)); }) ==
          Recorded::recorded);
    CHECK(claimed_ids(acme) == std::vector<std::string>{"y1"});   // the other recipient goes on
    CHECK(state(acme, "x2").status == "queued");
    now += 1'000;
    CHECK(claimed_ids(acme) == std::vector<std::string>{"x1", "x2", "x3"});
}

TEST_CASE_FIXTURE(QueueFixture, "a refused token pauses the tenant: nothing spent, one probe per interval, others unaffected") {
    enqueue({job(acme, "a1"), job(acme, "a2", "16505550002"), job(beta, "b1")});
    const auto a1 = claim(acme, 1).claims.at(0);
    CHECK(record([&] { return queue.pause(a1, 190, "Error validating access token"); }) == Recorded::paused_tenant);
    const auto held = claim(acme);
    CHECK(held.claims.empty());
    CHECK(held.next_due == now + probe_ms);
    CHECK(claimed_ids(beta) == std::vector<std::string>{"b1"});   // another tenant sends on
    const auto paused = stats(acme).paused;
    REQUIRE(paused.has_value());
    CHECK((paused->code == "190" && paused->since == start_time && paused->probe_at == start_time + probe_ms));
    CHECK(!stats(beta).paused.has_value());
    CHECK((state(acme, "a1").status == "queued" && state(acme, "a1").attempts == 0));
    // The probe: one message, then nothing until the next probe time.
    now += probe_ms;
    auto probe = claim(acme);
    REQUIRE(probe.claims.size() == 1);
    CHECK(probe.claims[0].message_id == "a1");
    CHECK(record([&] { return queue.pause(probe.claims[0], 190, "still expired"); }) == Recorded::recorded);
    CHECK(stats(acme).paused->since == start_time);
    now += probe_ms;
    probe = claim(acme);
    REQUIRE(probe.claims.size() == 1);
    CHECK(sent(probe.claims[0]) == Recorded::resumed_tenant);
    CHECK(!stats(acme).paused.has_value());
    CHECK(claimed_ids(acme) == std::vector<std::string>{"a2"});
}

TEST_CASE_FIXTURE(QueueFixture, "a permanent failure; requeue sends it again; a sent message never moves") {
    enqueue({job(acme, "m1")});
    const auto c = claim(acme).claims.at(0);
    CHECK(record([&] { return queue.fail(c, 131026, "Message undeliverable"); }) == Recorded::recorded);
    CHECK(stats(acme).failed == 1);
    auto failed = get(run([&]() -> Task<Result<std::vector<queue::FailedMessage>>> { co_return co_await queue.failed("acme", 0, now); }));
    REQUIRE(failed.size() == 1);
    CHECK((failed[0].message_id == "m1" && failed[0].error_code == 131026 && failed[0].sender == "111" && !failed[0].unknown_outcome));
    CHECK(requeue(acme, "m1") == queue::RequeueOutcome::moved);
    const auto again = claim(acme).claims.at(0);
    CHECK(again.attempt == 1);
    CHECK(sent(again) == Recorded::recorded);
    CHECK(requeue(acme, "m1") == queue::RequeueOutcome::not_failed);
    CHECK(stats(acme).counters["requeued"] == 1);
}

TEST_CASE_FIXTURE(QueueFixture, "an unknown outcome waits for its status webhook, else fails; requeue skips it unless told") {
    enqueue({job(acme, "m1"), job(acme, "m2", "16505550002")});
    const auto claimed = claim(acme).claims;
    REQUIRE(claimed.size() == 2);
    for (const auto& c : claimed) CHECK(record([&] { return queue.unknown(c, 0, "no answer from the Graph API: timeout"); }) == Recorded::recorded);
    CHECK(stats(acme).unknown == 2);
    CHECK(claim(acme).claims.empty());
    // m1's status comes: Meta has it.
    CHECK(statuses("acme", {report("m1", "sent", "wamid.M1")}) == 1);
    auto s = state(acme, "m1");
    CHECK((s.status == "sent" && s.wamid == "wamid.M1" && s.unknown_outcome));
    // m2 hears nothing.
    now += wait_ms - 1;
    CHECK(sweep(acme).unknown_settled == 0);
    now += 1;
    CHECK(sweep(acme).unknown_settled == 1);
    s = state(acme, "m2");
    CHECK((s.status == "failed" && s.unknown_outcome && s.last_error_code == "-1"));
    CHECK(requeue(acme, "m2") == queue::RequeueOutcome::skipped_unknown);
    CHECK(requeue(acme, "m2", true) == queue::RequeueOutcome::moved);
    CHECK(claimed_ids(acme) == std::vector<std::string>{"m2"});
}

TEST_CASE_FIXTURE(QueueFixture, "on_ambiguous = retry queues an unknown outcome again after the wait") {
    queue::OutboundQueue retrying(client, settings(true));
    enqueue({job(acme, "m1")});
    const auto c = claim(acme).claims.at(0);
    CHECK(record([&] { return queue.unknown(c, 0, "reset after the write"); }) == Recorded::recorded);
    now += wait_ms;
    const std::vector<std::string> senders(1, "111");
    const auto settled = get(run([&]() -> Task<Result<queue::SweepResult>> { co_return co_await retrying.sweep("acme", senders, false); }));
    CHECK(settled.unknown_settled == 1);
    CHECK(state(acme, "m1").status == "queued");
    CHECK(claim(acme).claims.at(0).attempt == 2);
}

TEST_CASE_FIXTURE(QueueFixture, "a status changes only the messages of the tenant it came in for") {
    enqueue({job(acme, "order-1"), job(beta, "order-2")});
    const auto c = claim(acme).claims.at(0);
    CHECK(sent(c, "wamid.A") == Recorded::recorded);
    // beta's webhook names acme's message (by id and by wamid): nothing changes.
    CHECK(statuses("beta", {report("order-1", "failed"), report("", "read", "wamid.A")}) == 0);
    CHECK(state(acme, "order-1").status == "sent");
    CHECK(stats(acme).failed == 0);
    CHECK(statuses("acme", {report("", "delivered", "wamid.A")}) == 1);   // joined by wamid
    CHECK(state(acme, "order-1").status == "delivered");
}

TEST_CASE_FIXTURE(QueueFixture, "statuses only move forward, and a repeated one changes nothing") {
    enqueue({job(acme, "m1")});
    CHECK(sent(claim(acme).claims.at(0), "wamid.1") == Recorded::recorded);
    CHECK(statuses("acme", {report("m1", "delivered"), report("m1", "read")}) == 2);
    const auto before = state(acme, "m1");
    const auto history = cli("HGET 'wappa:{acme}:out:hist' m1");
    now += 1'000;
    CHECK(statuses("acme", {report("m1", "delivered"), report("m1", "read"), report("m1", "sent")}) == 3);
    const auto after = state(acme, "m1");
    CHECK((after.status == "read" && after.updated_at == before.updated_at && after.read_at == before.read_at));
    CHECK(cli("HGET 'wappa:{acme}:out:hist' m1") == history);
    CHECK(stats(acme).counters["read"] == 1);
    CHECK(statuses("acme", {report("m1", "played")}) == 1);
    CHECK(state(acme, "m1").status == "played");
}

TEST_CASE_FIXTURE(QueueFixture, "the failed-set cap is each tenant's own") {
    std::vector<queue::EnqueueRequest> jobs;
    for (int i = 0; i < 4; ++i) jobs.push_back(job(beta, "b" + std::to_string(i), "1650555000" + std::to_string(i)));
    jobs.push_back(job(acme, "a0"));
    enqueue(jobs);
    for (const auto* lane : {&acme, &beta}) {
        for (const auto& c : claim(*lane).claims) {
            CHECK(record([&] { return queue.fail(c, 131026, "undeliverable"); }) == Recorded::recorded);
            now += 1;
        }
    }
    CHECK(sweep(beta).dropped == 2);   // failed_max = 2: beta's flood keeps its newest two
    CHECK(sweep(acme).dropped == 0);
    CHECK((stats(acme).failed == 1 && stats(beta).failed == 2));
    CHECK(exists(acme, "a0"));
    CHECK((!exists(beta, "b0") && !exists(beta, "b1") && exists(beta, "b3")));
}

TEST_CASE_FIXTURE(QueueFixture, "every entry of a sent message leaves with retention; rounds past it leave the key count flat") {
    std::string keys_after_first;
    for (int round = 0; round < 4; ++round) {
        std::vector<queue::EnqueueRequest> jobs;
        for (int i = 0; i < 20; ++i) jobs.push_back(job(acme, "r" + std::to_string(round) + "-" + std::to_string(i), "165055" + std::to_string(10000 + i)));
        enqueue(jobs);
        for (const auto& c : claim(acme, 20).claims) CHECK(sent(c, "wamid." + c.message_id) == Recorded::recorded);
        CHECK(statuses("acme", {report("r" + std::to_string(round) + "-0", "failed")}) == 1);   // a delivery failure stays
        CHECK(statuses("acme", {report("r" + std::to_string(round) + "-1", "read")}) == 1);
        now += 3'600'000;
        const auto swept = sweep(acme);
        CHECK(swept.expired == 19);
        CHECK(swept.dropped == (round == 0 ? 0 : round == 1 ? 0 : 1));   // failed_max = 2
        const auto size = cli("HLEN 'wappa:{acme}:out:jobs'");
        CHECK(std::atoi(size.c_str()) == std::min(round + 1, 2));
        CHECK(cli("HLEN 'wappa:{acme}:out:wamids'") == size);
        CHECK(cli("LLEN 'wappa:{acme}:out:done'") == "0");
        const auto keys = cli("DBSIZE");
        if (round == 0) keys_after_first = keys;
        else CHECK(keys == keys_after_first);
    }
}

TEST_CASE_FIXTURE(QueueFixture, "a script failing part-way leaves every message findable") {
    enqueue({job(acme, "m1"), job(acme, "m2", "16505550002")});
    // The claim fails at its first write (the lease): the message is still in its lane.
    cli("SET 'wappa:{acme}:out:inflight' broken");
    CHECK_FALSE(run([&]() -> Task<bool> { co_return (co_await queue.claim(acme, 1, 0)).ok(); }));
    cli("DEL 'wappa:{acme}:out:inflight'");
    const auto c = claim(acme, 1).claims.at(0);
    CHECK(c.message_id == "m1");
    // An outcome fails at its first write: the message stays leased, and its lease's expiry
    // makes the outcome unknown (the request may have left).
    cli("SET 'wappa:{acme}:out:failed' broken");
    CHECK_FALSE(run([&]() -> Task<bool> { co_return (co_await queue.fail(c, 131026, "undeliverable")).ok(); }));
    cli("DEL 'wappa:{acme}:out:failed'");
    now += lease_ms + 1;
    CHECK(sweep(acme).leases_expired == 1);
    CHECK(state(acme, "m1").status == "unknown");
    // A message left `sending` without a lease (a failure between two lines) is repaired.
    const auto m2 = claim(acme, 1).claims.at(0);
    cli("ZREM 'wappa:{acme}:out:inflight' m2");
    CHECK(sweep(acme).leases_expired == 0);
    CHECK(sweep(acme, true).repaired == 1);
    CHECK(sweep(acme).leases_expired == 1);
    CHECK(state(acme, "m2").status == "unknown");
    (void)m2;
    // An enqueue that fails at its first write stores nothing.
    cli("SET 'wappa:{acme}:out:fifo:111' broken");
    const std::vector<queue::EnqueueRequest> refused{job(acme, "m3")};
    CHECK_FALSE(run([&]() -> Task<bool> { co_return (co_await queue.enqueue(refused)).ok(); }));
    CHECK(!exists(acme, "m3"));
}

TEST_CASE_FIXTURE(QueueFixture, "the key guard refuses a key a script did not declare") {
    const redis::Script sneaky("return call('GET', 'wappa:{acme}:out:jobs')");
    const std::vector<redis::ScriptCall> calls{redis::ScriptCall{}};
    const auto reply = get(run([&]() -> Task<Result<std::vector<redis::Reply>>> { co_return co_await redis::run_script(client, sneaky, calls); }));
    REQUIRE(reply.front().is_error());
    CHECK(reply.front().str.find("undeclared key") != std::string::npos);
}

TEST_CASE("the Lua and C++ sides read the state record the same way") {
    const std::string prelude(queue::lua::prelude);
    const std::regex list(R"(local STATE_FIELDS = \{([^}]*)\})");
    std::smatch m;
    REQUIRE(std::regex_search(prelude, m, list));
    std::vector<std::string> lua_fields;
    const std::string inside = m[1];
    const std::regex name(R"('([a-z_]+)')");
    for (auto it = std::sregex_iterator(inside.begin(), inside.end(), name); it != std::sregex_iterator(); ++it) lua_fields.push_back((*it)[1]);
    REQUIRE(lua_fields.size() == queue::state_fields.size());
    for (std::size_t i = 0; i < lua_fields.size(); ++i) CHECK(lua_fields[i] == queue::state_fields[i]);
    queue::StateRecord s;
    s.status = "delivered";
    s.attempts = 2;
    s.wamid = "wamid.Z";
    s.sent_at = 5;
    s.unknown = true;
    const auto back = queue::parse_state_record(queue::format_state_record(s));
    CHECK((back.status == "delivered" && back.attempts == 2 && back.wamid == "wamid.Z" && back.sent_at == 5 && back.unknown));
}

TEST_CASE_FIXTURE(QueueFixture, "an idle lane is woken by an enqueue, a busy one is not told again") {
    using namespace net::experimental::awaitable_operators;
    std::vector<std::string> wakes;
    redis::SubscriberEvents events;
    bool subscribed = false;
    events.on_message = [&](const redis::PubsubMessage& m) { wakes.push_back(m.payload); };
    events.on_subscribed = [&](bool) { subscribed = true; };
    auto listen = [&]() -> Task<void> {
        net::steady_timer limit(co_await net::this_coro::executor, 3s);
        co_await (redis::run_subscriber(test::settings_for(server), std::vector<std::string>(1, "wappa:out:wake"), std::vector<std::string>(),
                                        events) ||
                  limit.async_wait(net::use_awaitable));
    };
    auto done = net::co_spawn(io, listen(), net::use_future);
    while (!subscribed) io.run_one_for(10ms);
    enqueue({job(acme, "m1")});
    enqueue({job(acme, "m2", "16505550002")});   // the lane is already due now: no second wake
    now += 5;
    enqueue({job(beta, "b1")});
    const auto deadline = std::chrono::steady_clock::now() + 1s;
    while (std::chrono::steady_clock::now() < deadline) io.run_one_for(10ms);
    REQUIRE(wakes.size() == 2);
    CHECK(wakes[0] == "acme\x1f" "111\x1f" + std::to_string(start_time));
    CHECK(wakes[1] == "beta\x1f" "222\x1f" + std::to_string(start_time + 5));
    // The lane's next due time comes back with the claim: an idle lane needs no polling.
    // Two messages to one recipient at one per 10 s: the second is planned 10 s on.
    const std::vector<queue::EnqueueRequest> later{job(beta, "b2", "16505550077", 0.1), job(beta, "b3", "16505550077", 0.1)};
    enqueue(later);
    const auto claimed = claim(beta);
    CHECK(claimed.claims.size() == 2);   // b1 and b2
    CHECK(claimed.next_due == now + 10'000);
    while (done.wait_for(0s) != std::future_status::ready) io.run_one_for(10ms);
}

TEST_CASE_FIXTURE(QueueFixture, "the global rate grants sends within its rate and takes unused ones back") {
    auto s = settings();
    s.rate_global = 10;   // one per 100 ms, a burst of 100 ms
    queue::OutboundQueue limited(client, s);
    std::int64_t next = 0;
    CHECK(get(run([&]() -> Task<Result<std::size_t>> { co_return co_await limited.take_global(50, next); })) == 2);
    CHECK(get(run([&]() -> Task<Result<std::size_t>> { co_return co_await limited.take_global(50, next); })) == 0);
    CHECK(next == now + 100);
    CHECK(run([&]() -> Task<bool> { co_return (co_await limited.give_back_global(2)).ok(); }));
    CHECK(get(run([&]() -> Task<Result<std::size_t>> { co_return co_await limited.take_global(50, next); })) == 2);
}
