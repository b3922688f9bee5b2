"""The outbound engine's promises in ordinary bad weather (issue 9): a send whose outcome is
unknown is never repeated blindly, errors that sent nothing cost no attempt, a refused token
pauses one tenant only, throttling slows the sender and keeps order, tenants are kept apart,
a full Redis publishes nothing it did not store and recovers, and an idle worker writes nothing."""
import json
import subprocess
import time
import unittest
from collections import Counter

from fake_graph import FakeGraph, graph_error
from harness import TENANT_A, TENANT_B, WAPPA, Subscriber, free_port, http_get, post_signed, run, status_webhook, wait_until
from outbound_case import OutboundCase


def text_job(tenant, message_id, to):
    return {"type": "text_message", "tenant": tenant, "to_number": to, "text": message_id, "message_id": message_id}


class GuaranteesTest(OutboundCase):
    def serve(self):
        proc = subprocess.Popen([WAPPA, "-c", self.config, "serve"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: (proc.terminate(), proc.wait(timeout=15)))
        wait_until(lambda: get_status(self.port) == 200, timeout=10, what="wappa serve to answer")
        return proc

    def sends_to(self, recipient):
        return [(t, b.get("biz_opaque_callback_data")) for t, (_, _, b) in zip(self.graph.times, self.graph.requests)
                if b.get("to") == recipient]

    def test_errors_that_sent_nothing_spend_no_attempt(self):
        # The Graph API is unreachable (connection refused): no request left, so no attempt is
        # spent, however long it lasts; once it is back the message goes out, once.
        port = self.graph.port
        self.graph.stop()
        self.enqueue_json([text_job("acme", "g1", "16640000001")])
        self.worker()
        wait_until(lambda: self.inspect("g1")["deferrals"] >= 3, timeout=20, what="three tries that sent nothing")
        state = self.inspect("g1")
        self.assertEqual(state["attempts"], 0)
        self.assertIn("cannot connect", state["last_error"])
        self.graph = FakeGraph(port=port)
        wait_until(lambda: self.inspect("g1")["status"] == "sent", timeout=20, what="g1 sent once the API is back")
        self.assertEqual(self.inspect("g1")["attempts"], 1)
        self.assertEqual(self.graph.sent_ids(), ["g1"])

    def test_a_reset_or_an_unreadable_answer_is_never_sent_again(self):
        self.edit_config("[outbound]", '[outbound]\nambiguous_wait = "2s"')
        self.graph.script = {"16640000002": [("reset",)], "16640000003": [("garbage",)]}
        self.enqueue_json([text_job("acme", "r1", "16640000002"), text_job("acme", "r2", "16640000003")])
        self.serve()
        self.worker()
        wait_until(lambda: all(self.inspect(i)["status"] == "unknown" for i in ("r1", "r2")), timeout=10,
                   what="two sends of unknown outcome")
        # r1 did reach Meta: its status webhook says so.
        self.assertEqual(post_signed(self.port, status_webhook("r1", "wamid.R1", "delivered")), 200)
        self.assertEqual(self.inspect("r1")["status"], "delivered")
        wait_until(lambda: self.inspect("r2")["status"] == "failed", timeout=10, what="r2 failed after the wait")
        self.assertTrue(self.inspect("r2")["unknown_outcome"])
        time.sleep(1)
        self.assertEqual(Counter(self.graph.sent_ids()), Counter({"r1": 1, "r2": 1}))

    def test_a_refused_token_pauses_that_tenant_alone(self):
        self.edit_config("[outbound]", '[outbound]\npause_probe = "1s"')
        self.graph.refused_tokens = {"token-acme"}
        jobs = [text_job(t, f"{t}{i}", f"166{1 if t == 'acme' else 2}000{i:04d}") for t in ("acme", "beta") for i in range(20)]
        self.assertEqual(self.enqueue_json(jobs).returncode, 0)
        metrics_port = free_port()
        worker = self.worker("--metrics-listen", f"127.0.0.1:{metrics_port}")
        # One `stats` per poll (20 `inspect` processes a poll took most of the timeout on a loaded
        # machine), then each message once.
        wait_until(lambda: self.stats()["by_tenant"].get("beta", {}).get("sent", 0) >= 20, timeout=20,
                   what="the other tenant's 20 messages sent", interval=0.2)
        self.assertTrue(all(self.inspect(f"beta{i}")["status"] == "sent" for i in range(20)))
        wait_until(lambda: self.stats()["paused"], timeout=10, what="acme paused")
        paused = self.stats()["paused"]
        self.assertEqual([(p["tenant"], p["code"]) for p in paused], [("acme", "190")])
        self.assertEqual(self.stats()["outbound"]["queued"] + self.stats()["outbound"]["in_flight"], 20)
        self.assertTrue(all(self.inspect(f"acme{i}")["attempts"] == 0 for i in range(20)), "a refused token spends no attempt")
        # Health and metrics show it; the log says so.
        wait_until(lambda: '"status":"paused"' in http_get(metrics_port, "/api/admin/health")[1], timeout=10, what="health to show it")
        health = json.loads(http_get(metrics_port, "/api/admin/health")[1])
        self.assertEqual((health["checks"]["tenants"]["acme"]["code"], health["checks"]["tenants"]["beta"]["status"]),
                         ("190", "sending"))
        self.assertIn('wappa_outbound_tenant_paused{tenant="acme",code="190"} 1', http_get(metrics_port, "/metrics")[1])
        worker.log.flush()
        with open(worker.log.name) as f:
            self.assertIn("tenant acme PAUSED", f.read())
        # While paused: one probe per pause_probe, not the backlog at full rate.
        refused = lambda: sum(1 for _, auth, _ in self.graph.requests if auth == "Bearer token-acme")
        before = refused()
        time.sleep(3.2)
        self.assertLessEqual(refused() - before, 4, "a paused tenant sends one probe per second")
        # A new token works: the next probe is accepted, the tenant resumes, nothing is lost.
        self.graph.refused_tokens = set()
        wait_until(lambda: self.drained() and not self.stats()["paused"], timeout=20, what="acme resumed and drained")
        accepted = Counter(i for i in self.graph.sent_ids() if i.startswith("acme"))
        self.assertEqual(len(accepted), 20)
        with open(worker.log.name) as f:
            self.assertIn("tenant acme resumed", f.read())

    def test_a_throttled_sender_cools_down_and_keeps_order(self):
        self.edit_config("[outbound]", '[outbound]\ncooldown_base = "300ms"')
        self.graph.script = {"16630000001": [graph_error(130429, "Rate limit hit", http=429)] * 2}
        jobs = [text_job("acme", f"m{i}", "16630000001") for i in range(3)] + \
               [text_job("acme", f"o{i}", f"1663100000{i}") for i in range(4)]
        self.assertEqual(self.enqueue_json(jobs).returncode, 0)
        self.worker("--concurrency", "1")
        wait_until(lambda: len(self.graph.requests) >= 9, timeout=20, what="every message sent")
        # The recipient's messages in order; the throttled one was tried again first.
        self.assertEqual([i for _, i in self.sends_to("16630000001")], ["m0", "m0", "m0", "m1", "m2"])
        times = self.graph.times
        throttled = [i for i, (_, _, b) in enumerate(self.graph.requests) if b.get("to") == "16630000001"][:2]
        # After each throttling answer the whole sender waits: the cool-down grows (300 ms, 1.2 s).
        self.assertGreater(times[throttled[0] + 1] - times[throttled[0]], 0.25)
        self.assertGreater(times[throttled[1] + 1] - times[throttled[1]], 1.1)
        self.assertEqual(self.inspect("m0")["attempts"], 1, "throttling spends no attempt")
        self.assertEqual(Counter(self.graph.sent_ids())["m0"], 3)

    def test_a_throttled_pair_holds_only_that_recipient(self):
        self.edit_config("[outbound]", '[outbound]\ncooldown_base = "1s"')
        self.graph.script = {"16650000001": [graph_error(131056, "Pair rate limit hit", http=429)]}
        jobs = [text_job("acme", "x0", "16650000001"), text_job("acme", "x1", "16650000001")] + \
               [text_job("acme", f"y{i}", f"1665100000{i}") for i in range(5)]
        self.assertEqual(self.enqueue_json(jobs).returncode, 0)
        self.worker("--concurrency", "1")
        wait_until(lambda: len(self.graph.requests) >= 8, timeout=20, what="every message sent")
        to_x = self.sends_to("16650000001")
        self.assertEqual([i for _, i in to_x], ["x0", "x0", "x1"])
        self.assertGreater(to_x[1][0] - to_x[0][0], 0.9, "the recipient waited its cool-down")
        others = [t for t, (_, _, b) in zip(self.graph.times, self.graph.requests) if b.get("to") != "16650000001"]
        self.assertLess(max(others) - to_x[0][0], 0.8, "the other recipients were not held back")

    def test_tenants_are_kept_apart(self):
        self.edit_config("max_attempts = 3", "max_attempts = 1\nfailed_max = 2")
        # beta floods its failed set; acme's one failure stays.
        self.graph.script = {f"1667000000{i}": [graph_error(131026, "Message undeliverable")] for i in range(6)}
        jobs = [text_job("beta", f"order-{i}", f"1667000000{i}") for i in range(5)] + [text_job("acme", "order-0", "16670000005")]
        self.assertEqual(self.enqueue_json(jobs).returncode, 0)
        self.worker()
        wait_until(lambda: self.stats()["tenants"]["beta"]["failed"] == 2 and self.stats()["tenants"]["acme"]["failed"] == 1,
                   timeout=20, what="each tenant's failed set within its own cap")
        acme = json.loads(run("-c", self.config, "inspect", "order-0", "--tenant", "acme", "--json").stdout)
        self.assertEqual(acme["status"], "failed")
        # A status that arrives for beta's number never touches acme's messages, whatever it names.
        self.enqueue_json([text_job("acme", "keep-1", "16670000009")])
        wait_until(lambda: self.inspect("keep-1")["status"] == "sent", timeout=10, what="keep-1 sent")
        wamid = self.inspect("keep-1")["wamid"]
        self.serve()
        forged = json.loads(status_webhook("keep-1", wamid, "failed", error=131026))
        forged["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] = TENANT_B
        body = json.dumps(forged).encode()
        self.assertEqual(post_signed(self.port, body), 200)
        self.assertEqual(post_signed(self.port, status_webhook("", wamid, "read").replace(TENANT_A.encode(), TENANT_B.encode())), 200)
        self.assertEqual(self.inspect("keep-1")["status"], "sent")
        self.assertEqual(self.stats()["tenants"]["acme"]["failed"], 1)
        # From acme's own number, it applies.
        self.assertEqual(post_signed(self.port, status_webhook("keep-1", wamid, "read")), 200)
        self.assertEqual(self.inspect("keep-1")["status"], "read")

    def test_an_idle_worker_writes_only_its_heartbeat(self):
        self.worker()
        time.sleep(1.5)   # started, first upkeep done
        dirty = lambda: self.redis.info_total("persistence", "rdb_changes_since_last_save")
        calls = lambda: self.redis.info_total("stats", "total_commands_processed")
        before, commands = dirty(), calls()
        time.sleep(5)
        # One HSET of its heartbeat every 5 s (the workers health reports), nothing else.
        self.assertLessEqual(dirty() - before, 2, "an idle worker wrote to Redis")
        self.assertEqual(len(self.redis.cli("HKEYS", "wappa:workers").split()), 1)
        # Upkeep reads every few seconds per tenant, and the queue figures for /metrics: a few
        # dozen commands (polling every 10 ms would be hundreds).
        self.assertLess(calls() - commands, 200, "an idle worker polls Redis")
        # And it still wakes at once for new work.
        self.enqueue_json([text_job("acme", "w1", "16680000001")])
        start = time.monotonic()   # once queued (the enqueue process's own start is not the worker's)
        wait_until(lambda: len(self.graph.requests) == 1, timeout=5, what="the send")
        self.assertLess(time.monotonic() - start, 1.0)


def get_status(port):
    try:
        return http_get(port, "/api/admin/health")[0]
    except OSError:
        return 0


class FullRedisTest(OutboundCase):
    def test_a_full_redis_stores_and_publishes_nothing_and_recovers(self):
        self.edit_config("max_attempts = 3", 'max_attempts = 3\nretention = "8s"')
        with open(self.config) as f:
            text = f.read()
        self.assertNotIn("publish_outgoing = false", text)
        jobs = [dict(text_job("acme", f"fill{i}", f"+1669{i:07d}"), text="x" * 1000) for i in range(300)]
        self.assertEqual(self.enqueue_json(jobs).returncode, 0)
        self.worker()
        wait_until(self.drained, timeout=30, what="300 sends")
        self.assertGreater(int(self.redis.cli("HLEN", "wappa:{acme}:out:jobs")), 250, "sent messages kept for their retention")
        self.redis.fill_up()
        subscriber = Subscriber(self.config, "--tenant", "acme", "--event", "outgoing_message", "--json", "--timeout", "2")
        r = run("-c", self.config, "enqueue", "text", "--tenant", "acme", "--to", "+16690009999", "--text", "too much",
                "--message-id", "refused")
        self.assertEqual(r.returncode, 69, r.stderr)
        self.assertIn("OOM", r.stderr)
        code, notes = subscriber.finish()
        self.assertEqual((code, notes), (1, []), "a notification went out for a job that was not stored")
        self.assertEqual(run("-c", self.config, "inspect", "refused").returncode, 1)
        # The sent messages leave with their retention even on a full Redis: it recovers.
        wait_until(lambda: run("-c", self.config, "enqueue", "text", "--tenant", "acme", "--to", "+16690009999", "--text",
                               "fits again", "--message-id", "later").returncode == 0, timeout=30, what="room again")
        wait_until(lambda: self.inspect("later")["status"] == "sent", timeout=10, what="the new message sent")


if __name__ == "__main__":
    unittest.main()
