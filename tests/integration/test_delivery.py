"""Delivery under load and faults (issue 3, item 6): many tenants and kinds, HTTPS with
certificate verification, Redis restarted mid-run, rate limits across worker processes."""
import json
import os
import subprocess
import time
import unittest
from collections import Counter

from fake_graph import graph_error
from harness import FIXTURES, WAPPA, free_port, http_get, post_signed, run, status_webhook, wait_until
from outbound_case import OutboundCase

GAMMA = """
[[tenants]]
id = "gamma"
phone_number_id = "120000000000001"
waba_id = "120000000000009"
app_secret = "gamma-secret"
verify_token = "verify-gamma"
api_token = "api-gamma"
"""


def job_of_kind(i, tenant):
    """One job of each of the eight kinds (INTERFACE.md §5), addressed to a recipient of its own."""
    to = f"+1655{i:07d}"
    common = {"tenant": tenant, "to_number": to, "message_id": f"{tenant}-{i}"}
    return dict(common, **[
        {"type": "text_message", "text": f"hello {i}", "preview_url": False},
        {"type": "template_message", "template_name": "order_update", "language_code": "en_US",
         "components": [{"type": "body", "parameters": [{"type": "text", "text": str(i)}]}]},
        {"type": "media_message", "media_type": "image", "media_url": "https://example.com/a.png", "caption": "pic"},
        {"type": "interactive_buttons", "body_text": "Pick one", "buttons": [{"id": "y", "title": "Yes"}, {"id": "n", "title": "No"}]},
        {"type": "interactive_list", "body_text": "Menu", "button_text": "Open",
         "sections": [{"title": "Main", "rows": [{"id": "r1", "title": "One", "description": "first"}]}]},
        {"type": "location_message", "latitude": 37.48, "longitude": -122.14, "name": "HQ", "address": "1 Hacker Way"},
        {"type": "reaction_message", "target_message_id": f"wamid.TARGET{i}", "emoji": "👍"},
        {"type": "mark_as_read", "target_message_id": f"wamid.READ{i}"},
    ][i % 8])


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def fixture_keys(name):
    with open(os.path.join(FIXTURES, name)) as f:
        body = json.load(f)
    return set(body) - {"biz_opaque_callback_data", "context"}


class DeliveryTest(OutboundCase):
    def test_2000_mixed_messages_across_3_tenants(self):
        with open(self.config, "a") as f:
            f.write(GAMMA)
        permanent = {f"1655{i:07d}" for i in range(0, 2000, 97) if i % 8 != 7}   # not the read receipts
        self.graph.script = {to: [graph_error(131026, "Message undeliverable")] for to in permanent}
        jobs = [job_of_kind(i, ("acme", "beta", "gamma")[i % 3]) for i in range(2000)]
        r = self.enqueue_json(jobs)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(r.stdout.split()), 2000)
        self.worker("--concurrency", "32")
        self.worker("--concurrency", "32")
        wait_until(self.drained, timeout=120, what="2000 messages settled")
        keys = [b.get("biz_opaque_callback_data") or b.get("message_id") for _, _, b in self.graph.requests]
        counts = Counter(keys)
        self.assertEqual(len(counts), 2000, "every message reached the Graph API")
        self.assertEqual(max(counts.values()), 1, "no message reached it twice")
        shapes = {"text": "send_text.json", "template": "send_template.json", "image": "send_image_link.json",
                  "location": "send_location.json", "reaction": "send_reaction.json"}
        for path, auth, body in self.graph.requests:
            if "status" in body:
                self.assertEqual(set(body), fixture_keys("send_mark_read.json"))
            elif body["type"] in shapes:
                self.assertEqual(set(body) - {"biz_opaque_callback_data"}, fixture_keys(shapes[body["type"]]))
            else:
                self.assertEqual(body["type"], "interactive")
                self.assertIn(body["interactive"]["type"], ("button", "list"))
        stats = self.stats()
        self.assertEqual(stats["outbound"]["failed"], len(permanent))
        self.assertEqual(stats["totals"]["sent"], 2000 - len(permanent))
        self.assertEqual(set(stats["by_tenant"]), {"acme", "beta", "gamma"})
        failed = self.inspect(f"{('acme', 'beta', 'gamma')[97 % 3]}-97")
        self.assertEqual((failed["status"], failed["last_error_code"]), ("failed", "131026"))

    def test_one_throttled_sender_does_not_slow_another(self):
        self.edit_config('api_token = "api-acme"', 'api_token = "api-acme"\nrate_per_number = 5')
        slow = [{"type": "text_message", "tenant": "acme", "to_number": f"+1656{i:07d}", "text": "slow"} for i in range(50)]
        fast = [{"type": "text_message", "tenant": "beta", "to_number": f"+1657{i:07d}", "text": "fast"} for i in range(300)]
        self.assertEqual(self.enqueue_json(slow + fast).returncode, 0)
        start = time.monotonic()
        self.worker("--concurrency", "16")
        wait_until(lambda: sum(1 for p, _, _ in self.graph.requests if "110011223344556" in p) >= 300, timeout=20,
                   what="the fast sender's 300 messages")
        elapsed = time.monotonic() - start
        slow_sent = sum(1 for p, _, _ in self.graph.requests if "106540352242922" in p)
        self.assertLess(slow_sent, 50, "the throttled sender is still sending")
        self.assertLess(elapsed, 8, f"the fast sender took {elapsed:.1f}s behind a throttled one")

    def test_rate_per_number_holds_with_two_worker_processes(self):
        self.edit_config("rate_per_number = 100000", "rate_per_number = 40")
        jobs = [{"type": "text_message", "tenant": "acme", "to_number": f"+1658{i:07d}", "text": "x"} for i in range(120)]
        self.assertEqual(self.enqueue_json(jobs).returncode, 0)
        supervisor = self.worker("--processes", "2", "--concurrency", "16")
        wait_until(lambda: len(self.graph.requests) >= 120, timeout=30, what="120 sends")
        self.assert_rate_near(40, "over 2 processes")
        # The worker processes do not outlive their supervisor, even when it is killed.
        children = subprocess.run(["pgrep", "-P", str(supervisor.pid)], capture_output=True, text=True).stdout.split()
        self.assertEqual(len(children), 2)
        supervisor.kill()
        supervisor.wait()
        wait_until(lambda: not any(alive(c) for c in children), timeout=10, what="the workers to exit with their supervisor")

    def test_global_rate_holds_across_senders(self):
        self.edit_config("rate_per_number = 100000", "rate_per_number = 100000\nrate_global = 30")
        jobs = [{"type": "text_message", "tenant": ("acme", "beta")[i % 2], "to_number": f"+1661{i:07d}", "text": "x"}
                for i in range(90)]
        self.assertEqual(self.enqueue_json(jobs).returncode, 0)
        self.worker("--concurrency", "16")
        wait_until(lambda: len(self.graph.requests) >= 90, timeout=30, what="90 sends")
        self.assert_rate_near(30, "over two senders, global limit")

    def test_memory_is_bounded(self):
        self.edit_config("max_attempts = 3", 'max_attempts = 3\nretention = "2s"\nfailed_max = 2')
        self.graph.script = {f"1662000000{i}": [graph_error(131026, "Message undeliverable")] for i in range(4)}
        jobs = [{"type": "text_message", "tenant": "acme", "to_number": f"1662000000{i}", "text": "x", "message_id": f"cap{i}"}
                for i in range(5)]
        self.assertEqual(self.enqueue_json(jobs).returncode, 0)
        self.worker()
        wait_until(lambda: self.inspect("cap4")["status"] == "sent", timeout=10, what="cap4 sent")
        # The failed set keeps its newest 2; the 2 oldest are dropped with their state.
        wait_until(lambda: self.stats()["outbound"]["failed"] == 2, timeout=10, what="the failed set trimmed to 2")
        self.assertEqual(self.stats()["totals"]["dropped"], 2)
        kept = [i for i in range(4) if run("-c", self.config, "inspect", f"cap{i}").returncode == 0]
        self.assertEqual(len(kept), 2)
        # A sent message's state lives for `retention`, then it is gone.
        wait_until(lambda: run("-c", self.config, "inspect", "cap4").returncode == 1, timeout=10, what="cap4 expired")
        for part in ("jobs", "state", "hist", "wamids"):
            self.assertNotIn("cap4", self.redis.cli("HKEYS", f"wappa:{{acme}}:out:{part}"), f"cap4 left in {part}")
        self.assertEqual(self.redis.cli("LLEN", "wappa:{acme}:out:done"), "0")

    def test_a_status_webhook_before_the_graph_answer(self):
        # Meta's "sent" webhook may arrive before the answer to the send itself: both record the
        # same send, once, and nothing is reported as fenced.
        ok = (200, {"messaging_product": "whatsapp", "messages": [{"id": "wamid.RACE"}]}, {})
        self.graph.script = {"16630000001": [("hang", 1.5, ok)]}
        serve = subprocess.Popen([WAPPA, "-c", self.config, "serve"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            metrics_port = free_port()
            self.enqueue_json([{"type": "text_message", "tenant": "acme", "to_number": "16630000001", "text": "x",
                                "message_id": "race1"}])
            self.worker("--metrics-listen", f"127.0.0.1:{metrics_port}")
            wait_until(lambda: len(self.graph.requests) == 1, timeout=10, what="the send to reach the Graph API")
            body = status_webhook("race1", "wamid.RACE", "sent")
            wait_until(lambda: post_signed(self.port, body) == 200, timeout=10, what="the status webhook accepted")
            self.assertEqual(self.inspect("race1")["status"], "sent")
            metrics = lambda: http_get(metrics_port, "/metrics")[1]
            wait_until(lambda: 'wappa_outbound_sends_total{outcome="sent",code="0"} 1' in metrics(), timeout=10,
                       what="the worker to record its send")
            self.assertNotIn('reason="fenced"', metrics())
            state = self.inspect("race1")
            self.assertEqual((state["status"], state["wamid"], state["attempts"]), ("sent", "wamid.RACE", 1))
            self.assertEqual(self.stats()["totals"]["sent"], 1)
            self.assertEqual(http_get(metrics_port, "/api/admin/health")[0], 200)
        finally:
            serve.terminate()
            serve.wait(timeout=15)

    def test_a_timeout_is_never_sent_twice(self):
        # The request left and no answer came in time: Meta may have it. It is not sent again;
        # it waits for its status webhook, and without one fails after ambiguous_wait.
        self.edit_config("[outbound]", '[outbound]\nvisibility_timeout = "2s"\nambiguous_wait = "3s"')
        self.edit_config('base_url = "http', 'timeout = "300ms"\nbase_url = "http')
        ok = (200, {"messaging_product": "whatsapp", "messages": [{"id": "wamid.LATE"}]}, {})
        self.graph.script = {"16590000001": [("hang", 1.0, ok)], "16590000002": [("hang", 1.0, ok)]}
        jobs = [{"type": "text_message", "tenant": "acme", "to_number": f"1659000000{i}", "text": "x", "message_id": f"t{i}"}
                for i in (1, 2)]
        self.enqueue_json(jobs)
        serve = subprocess.Popen([WAPPA, "-c", self.config, "serve"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            self.worker()
            wait_until(lambda: all(self.inspect(f"t{i}")["status"] == "unknown" for i in (1, 2)), timeout=10,
                       what="both sends of unknown outcome")
            self.assertEqual(self.inspect("t1")["attempts"], 1)
            # t1's status webhook resolves it: it did go out.
            body = status_webhook("t1", "wamid.T1", "delivered")
            wait_until(lambda: post_signed(self.port, body) == 200, timeout=10, what="the status webhook accepted")
            self.assertEqual((self.inspect("t1")["status"], self.inspect("t1")["wamid"]), ("delivered", "wamid.T1"))
            # t2 hears nothing: after ambiguous_wait it fails, flagged as of unknown outcome.
            wait_until(lambda: self.inspect("t2")["status"] == "failed", timeout=15, what="t2 to fail after the wait")
            self.assertTrue(self.inspect("t2")["unknown_outcome"])
            time.sleep(1)
            self.assertEqual(Counter(self.graph.sent_ids()), Counter({"t1": 1, "t2": 1}), "a send of unknown outcome went again")
        finally:
            serve.terminate()
            serve.wait(timeout=15)


class RedisRestartTest(OutboundCase):
    durable_redis = True

    def test_workers_reconnect_and_finish_when_redis_restarts(self):
        self.edit_config("max_attempts = 3", 'max_attempts = 3\nambiguous_wait = "1s"')
        self.graph.latency = 0.005
        jobs = [{"type": "text_message", "tenant": ("acme", "beta")[i % 2], "to_number": f"+1659{i:07d}", "text": "x",
                 "message_id": f"rr{i}"} for i in range(600)]
        self.assertEqual(self.enqueue_json(jobs).returncode, 0)
        self.worker("--concurrency", "8")
        wait_until(lambda: len(self.graph.requests) >= 100, timeout=30, what="100 sends")
        self.redis.stop()
        time.sleep(1.5)
        self.redis.start()
        wait_until(lambda: self.drained() and self.stats()["outbound"]["unknown"] == 0, timeout=90,
                   what="the queue to drain after the restart")
        counts = Counter(self.graph.sent_ids())
        self.assertEqual(max(counts.values()), 1, "a message reached the Graph API twice")
        totals = self.stats()["totals"]
        # Sends whose outcome could not be recorded while Redis was down end as "outcome unknown"
        # (on_ambiguous = "fail"); every other message was sent exactly once. Nothing is lost.
        self.assertEqual(totals["sent"] + totals.get("failed", 0), 600)
        self.assertLessEqual(totals.get("failed", 0), 8)
        self.assertGreaterEqual(len(counts), totals["sent"])
        unknown = json.loads(run("-c", self.config, "requeue", "--error-code", "-1", "--dry-run", "--json").stdout.splitlines()[-1])
        self.assertEqual(unknown["skipped_unknown"], totals.get("failed", 0), "only sends of unknown outcome may fail")


class HttpsTest(OutboundCase):
    graph_tls = True

    def test_https_with_certificate_verification(self):
        self.edit_config('base_url = "https', f'ca_file = "{self.graph.ca_file}"\nbase_url = "https')
        jobs = [{"type": "text_message", "tenant": "acme", "to_number": f"+1660{i:07d}", "text": "tls", "message_id": f"s{i}"}
                for i in range(50)]
        self.assertEqual(self.enqueue_json(jobs).returncode, 0)
        self.worker("--concurrency", "4")
        wait_until(self.drained, timeout=30, what="50 sends over HTTPS")
        self.assertEqual(Counter(self.graph.sent_ids()), Counter({f"s{i}": 1 for i in range(50)}))
        self.assertEqual(self.graph.requests[0][0], "/v23.0/106540352242922/messages")

    def test_an_untrusted_certificate_is_refused(self):
        # A failed TLS handshake certainly sent nothing: no attempt is spent, the message waits
        # and is tried again (a certificate problem is fixed by the operator, not by failing).
        self.edit_config("max_attempts = 3", "max_attempts = 1")
        self.enqueue_json([{"type": "text_message", "tenant": "acme", "to_number": "16600000001", "text": "x", "message_id": "u1"}])
        w = self.worker()
        wait_until(lambda: self.inspect("u1")["deferrals"] >= 2, timeout=20, what="u1 to be tried twice")
        state = self.inspect("u1")
        self.assertIn(state["status"], ("queued", "sending"))   # waiting, or being tried again
        self.assertEqual(state["attempts"], 0)
        self.assertIn("certificate verify failed", state["last_error"])
        self.assertEqual(self.graph.requests, [], "nothing may reach a server whose certificate is not trusted")
        self.assertIsNone(w.poll())


if __name__ == "__main__":
    unittest.main()
