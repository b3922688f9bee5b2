"""`wappa serve --with-worker` on the sandbox, the admin routes (INTERFACE.md §3) and status
webhooks that advance or resolve our sent messages (issue 3, item 2)."""
import json
import subprocess
import unittest

from harness import WAPPA, Redis, Serve, run, status_webhook, wait_until


def call(serve, method, path, token=None, body=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    status, data = serve.request(method, path, json.dumps(body).encode() if body is not None else None, headers)
    return status, json.loads(data) if data else None


class WorkerInServeCase(unittest.TestCase):
    extra = ""

    def setUp(self):
        self.redis = Redis()
        self.serve = Serve(self.redis, self.extra, args=["--with-worker"])

    def tearDown(self):
        self.serve.stop()
        self.redis.stop()

    def cli(self, *args):
        return run("-c", self.serve.config, *args)

    def inspect(self, message_id):
        r = self.cli("inspect", message_id, "--json")
        return json.loads(r.stdout) if r.returncode == 0 else None

    def queue(self, token, **job):
        status, body = call(self.serve, "POST", "/api/v1/messages", token, dict({"type": "text_message", "text": "hi"}, **job))
        self.assertEqual(status, 202, body)
        return body["message_id"]


class SandboxTest(WorkerInServeCase):
    def test_messages_go_out_through_the_sandbox(self):
        r = self.cli("enqueue", "text", "--tenant", "acme", "--to", "+16505551234", "--text", "hello")
        self.assertEqual(r.returncode, 0, r.stderr)
        message_id = r.stdout.strip()
        wait_until(lambda: self.inspect(message_id)["status"] == "sent", timeout=10, what="the sandbox send")
        self.assertTrue(self.inspect(message_id)["wamid"].startswith("wamid."))
        health = lambda: call(self.serve, "GET", "/api/admin/health")
        wait_until(lambda: health()[0] == 200, timeout=10, what="health 200")
        self.assertEqual(health()[1]["checks"]["outbound_worker"], {"status": "running"})
        status, metrics = self.serve.request("GET", "/metrics")
        self.assertIn(b'wappa_outbound_sends_total{outcome="sent",code="0"} 1', metrics)
        # SIGTERM stops the server and its worker cleanly.
        self.serve.proc.terminate()
        self.assertEqual(self.serve.proc.wait(timeout=15), 0)

    def test_status_webhooks_advance_the_state_in_order(self):
        sent = self.queue("api-acme", to_number="16505551234", message_id="st1")
        wait_until(lambda: self.inspect(sent)["status"] == "sent", timeout=10, what="st1 sent")
        wamid = self.inspect(sent)["wamid"]
        for status, expected in (("delivered", "delivered"), ("read", "read"), ("delivered", "read")):
            code, _ = self.serve.post_webhook(status_webhook(sent, wamid, status))
            self.assertEqual(code, 200)
            self.assertEqual(self.inspect(sent)["status"], expected)
        # Joined by wamid when biz_opaque_callback_data is absent; a delivery failure is kept.
        other = self.queue("api-acme", to_number="16505551235", message_id="st2")
        wait_until(lambda: self.inspect(other)["status"] == "sent", timeout=10, what="st2 sent")
        code, _ = self.serve.post_webhook(status_webhook("", self.inspect(other)["wamid"], "failed", error=131026))
        self.assertEqual(code, 200)
        state = self.inspect(other)
        self.assertEqual((state["status"], state["last_error_code"]), ("failed", "131026"))
        stats = json.loads(self.cli("stats", "--json").stdout)
        self.assertEqual((stats["totals"]["read"], stats["outbound"]["failed"]), (1, 1))


class QueuedStatusTest(WorkerInServeCase):
    def setUp(self):
        self.redis = Redis()
        self.serve = Serve(self.redis)   # no worker yet: the messages stay queued

    def test_a_status_for_a_message_never_claimed_resolves_it(self):
        jobs = "".join(json.dumps({"type": "text_message", "tenant": "acme", "to_number": f"1650555000{i}", "text": "x",
                                   "message_id": f"q{i}"}) + "\n" for i in range(3))
        self.assertEqual(run("-c", self.serve.config, "enqueue", "--json", "-", input=jobs).returncode, 0)
        stats = json.loads(self.cli("stats", "--json").stdout)["outbound"]
        self.assertEqual((stats["queued"], stats["delayed"]), (3, 0))
        code, _ = self.serve.post_webhook(status_webhook("q1", "wamid.EARLY", "sent"))
        self.assertEqual(code, 200)
        self.assertEqual((self.inspect("q1")["status"], self.inspect("q1")["wamid"]), ("sent", "wamid.EARLY"))
        worker = subprocess.Popen([WAPPA, "-c", self.serve.config, "worker", "--role", "outbound"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_until(lambda: all(self.inspect(f"q{i}")["status"] == "sent" for i in (0, 2)), timeout=10, what="q0, q2 sent")
        finally:
            worker.terminate()
            worker.wait(timeout=15)
        q1 = self.inspect("q1")   # queued with the others, but never sent: Meta already had it
        self.assertEqual((q1["wamid"], q1["attempts"]), ("wamid.EARLY", 0))
        self.assertEqual(json.loads(self.cli("stats", "--json").stdout)["outbound"]["queued"], 0)


class AmbiguousTest(WorkerInServeCase):
    # Each sandbox send outlasts its lease: the worker "hangs" after the request left. Long
    # enough that the sandbox's own status webhooks (once it answers) cannot resolve the send
    # before the test has seen it unknown.
    extra = """
[graph]
sandbox_latency = "6s"

[outbound]
visibility_timeout = "1s"
"""

    def test_a_status_webhook_resolves_a_send_of_unknown_outcome(self):
        message_id = self.queue("api-acme", to_number="16505551234", message_id="amb1")
        # The lease expires while the send hangs: its outcome is unknown, and it waits for its
        # status webhook (ambiguous_wait) instead of failing or going out again.
        wait_until(lambda: self.inspect(message_id)["status"] == "unknown", timeout=10, what="the lease to expire")
        state = self.inspect(message_id)
        self.assertEqual(state["last_error_code"], "-1")
        self.assertIn("outcome unknown", state["last_error"])
        self.assertTrue(state["unknown_outcome"])
        self.assertEqual(json.loads(self.cli("stats", "--json").stdout)["outbound"]["unknown"], 1)
        code, _ = self.serve.post_webhook(status_webhook(message_id, "wamid.RESOLVED", "sent"))
        self.assertEqual(code, 200)
        state = self.inspect(message_id)
        self.assertEqual((state["status"], state["wamid"]), ("sent", "wamid.RESOLVED"))
        self.assertTrue(any(h["event"] == "resolved" for h in state["history"]))
        self.assertEqual(json.loads(self.cli("stats", "--json").stdout)["outbound"]["failed"], 0)
        # Requeue cannot send it again now.
        self.assertEqual(json.loads(self.cli("requeue", "--all", "--json").stdout)["requeued"], 0)


class AdminRoutesTest(WorkerInServeCase):
    # Every sandbox send fails: the messages land in the failed set for the admin routes.
    extra = """
[graph]
sandbox_error_rate = 1

[outbound]
max_attempts = 1
"""

    def test_admin_routes_match_the_cli_and_respect_tenants(self):
        ids = [self.queue("api-acme", to_number="16505550001"), self.queue("api-acme", to_number="16505550002"),
               self.queue("api-beta", to_number="16505550003")]
        wait_until(lambda: all(self.inspect(i)["status"] == "failed" for i in ids), timeout=10, what="3 failures")

        self.assertEqual(call(self.serve, "GET", "/api/admin/queues/stats")[0], 401)
        self.assertEqual(call(self.serve, "GET", "/api/admin/queues/stats", "wrong")[0], 401)
        status, stats = call(self.serve, "GET", "/api/admin/queues/stats", "admin-secret")
        self.assertEqual(status, 200)
        self.assertEqual(stats, json.loads(self.cli("stats", "--json").stdout))
        self.assertEqual(stats["outbound"]["failed"], 3)
        status, mine = call(self.serve, "GET", "/api/admin/queues/stats", "api-acme")
        self.assertEqual((status, set(mine["by_tenant"]), set(mine["tenants"])), (200, {"acme"}, {"acme"}))
        self.assertEqual((mine["tenant"], mine["outbound"]["failed"]), ("acme", 2), "a tenant sees its own queue only")

        status, state = call(self.serve, "GET", f"/api/admin/messages/{ids[0]}", "admin-secret")
        self.assertEqual((status, state), (200, self.inspect(ids[0])))
        self.assertEqual(state["last_error_code"], "131000")
        self.assertEqual(call(self.serve, "GET", f"/api/admin/messages/{ids[0]}", "api-acme")[0], 200)
        self.assertEqual(call(self.serve, "GET", f"/api/admin/messages/{ids[0]}", "api-beta")[0], 404)
        self.assertEqual(call(self.serve, "GET", "/api/admin/messages/nope", "admin-secret")[0], 404)

        status, counts = call(self.serve, "GET", "/api/admin/messages/stats", "admin-secret")
        self.assertEqual((status, counts["by_status"]["failed"]), (200, 3))
        self.assertEqual(counts["by_tenant"]["acme"]["failed"], 2)

        requeue = "/api/admin/messages/requeue"
        status, body = call(self.serve, "POST", requeue, "admin-secret", {})
        self.assertEqual(status, 400)
        self.assertIn("say which messages", body["error"])
        self.assertEqual(call(self.serve, "POST", requeue, "admin-secret", {"older_than": "soon"})[0], 400)
        status, body = call(self.serve, "POST", requeue, "admin-secret", {"tenant": "acme", "dry_run": True})
        self.assertEqual((status, body["requeued"], sorted(body["message_ids"])), (200, 2, sorted(ids[:2])))
        self.assertEqual(call(self.serve, "POST", requeue, "api-beta", {"tenant": "acme"})[0], 403)
        status, body = call(self.serve, "POST", requeue, "api-beta", {"all": True, "dry_run": True})
        self.assertEqual(body["message_ids"], [ids[2]])
        status, body = call(self.serve, "POST", requeue, "admin-secret", {"ids": [ids[1]], "error_code": 131000})
        self.assertEqual((status, body["requeued"], body["dry_run"]), (200, 1, False))
        self.assertEqual(self.inspect(ids[1])["history"][-1]["event"] in ("requeued", "claimed", "failed"), True)
        self.assertEqual(call(self.serve, "GET", "/api/admin/queues/stats", "admin-secret")[0], 200)
        self.assertEqual(call(self.serve, "POST", "/api/admin/queues/stats", "admin-secret", {})[0], 405)


if __name__ == "__main__":
    unittest.main()
