"""Chaos (issue 12), bounded and on loopback: under sustained load from "Meta" (webhooks, each
retried until it gets 200, as Meta does) and from an API client (sends, each retried until 202),
Redis is killed and restarted, PostgreSQL is killed and restarted, the Graph API hangs, answers
garbage and resets connections, and Redis runs out of memory. Each ends with the audit: every
acknowledged webhook is in PostgreSQL exactly once, every acknowledged send reached a final state,
and no message reached Meta twice."""
import json
import os
import re
import sys
import tempfile
import threading
import time
import unittest
from collections import Counter

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))

from fake_graph import FakeGraph  # noqa: E402
from harness import Postgres, Redis, RedisCluster, Serve, fixture, post_signed, run, wait_until  # noqa: E402

LOAD_SECONDS = float(os.environ.get("WAPPA_CHAOS_SECONDS", "4"))   # longer runs: WAPPA_CHAOS_SECONDS=60


def text_webhook(wamid, text):
    body = json.loads(fixture("text.json"))
    message = body["entry"][0]["changes"][0]["value"]["messages"][0]
    message["id"] = wamid
    message["text"] = {"body": text}
    return json.dumps(body).encode()


class Load(threading.Thread):
    """Sends one new item after another; each is retried until acknowledged, even after stop():
    what was started is finished, so that the audit knows exactly what was acknowledged."""

    def __init__(self, name, attempt):
        super().__init__(daemon=True, name=name)
        self.attempt = attempt        # attempt(i, tries so far) -> (acknowledged, status)
        self.acked = []
        self.refusals = Counter()     # status (0 = no answer) -> count
        self.stopping = threading.Event()
        self.stuck = None

    def run(self):
        i = 0
        while not self.stopping.is_set():
            deadline = None
            tries = 0
            while True:
                acked, status = self.attempt(i, tries)
                tries += 1
                if acked:
                    self.acked.append(i)
                    break
                self.refusals[status] += 1
                if self.stopping.is_set():
                    deadline = deadline or time.monotonic() + 60
                    if time.monotonic() > deadline:
                        self.stuck = i
                        return
                time.sleep(0.05)
            i += 1
            time.sleep(0.004)

    def finish(self):
        self.stopping.set()
        self.join(timeout=90)
        assert not self.is_alive() and self.stuck is None, f"{self.name}: item {self.stuck} never acknowledged"


class ChaosCase(unittest.TestCase):
    """Durable Redis (AOF, fsync always), crash-safe PostgreSQL, a fake Graph API that records what
    each send was answered, and `wappa serve --with-worker` on them."""

    serve_args = ("--with-worker",)
    serve_count = 1
    backend_address = "127.0.0.1"   # where Redis, PostgreSQL and the fake Graph API listen

    def setUp(self):
        self.redis = self.make_redis()
        self.pg = Postgres(crash_safe=True, listen="*" if self.backend_address != "127.0.0.1" else "127.0.0.1")
        self.dir = tempfile.TemporaryDirectory()
        # Over HTTPS (its own CA, graph.ca_file) when processes reach it from other hosts: the
        # Graph API is plain HTTP only on loopback.
        self.graph = FakeGraph(self.dir.name if self.backend_address != "127.0.0.1" else None, host=self.backend_address,
                               names=self.graph_names())
        self.answers = {}             # message id -> answers that may have sent it (accepted, ambiguous)
        self.answer_lock = threading.Lock()
        self.fault = lambda n: None
        self.graph.fault = self.record
        # Behind a load balancer when there are several: each item goes to the next serve, and a
        # refused or unanswered attempt is tried at the next one.
        self.serves = [self.start_serve(i) for i in range(self.serve_count)]
        self.serve = self.serves[0]
        migrated = run("-c", self.serve.config, "migrate")
        self.assertEqual(migrated.returncode, 0, migrated.stderr)
        self.loads = []

    def make_redis(self):
        return Redis(durable=True, bind=self.backend_address)

    def config_for(self, gateway="127.0.0.1"):
        """The config's tail for a process that reaches the backends at `gateway`."""
        return f"""
[postgres]
url = "postgresql://wappa@{gateway}:{self.pg.port}/postgres"

[graph]
base_url = "{self.graph.scheme}://{gateway}:{self.graph.port}"
ca_file = "{self.graph.ca_file or ''}"
timeout = "1s"

[outbound]
rate_per_number = 100000
rate_per_recipient = 100000
burst_per_recipient = 100
backoff_base = "50ms"
backoff_max = "300ms"
max_attempts = 50
visibility_timeout = "10s"
ambiguous_wait = "2s"

[inbound]
claim_idle = "5s"
"""

    def start_serve(self, index):
        return Serve(self.redis, self.config_for(), args=self.serve_args)

    def graph_names(self):
        return "IP:127.0.0.1,DNS:localhost"

    def tearDown(self):
        for load in self.loads:
            load.stopping.set()
        for serve in self.serves:
            serve.stop()
        self.graph.stop()
        self.pg.close()
        self.redis.stop()
        self.redis.dir.cleanup()
        self.dir.cleanup()

    # -- the fake Graph API's answers, as the audit counts them --------------------------------
    def record(self, n, body):
        answer = self.fault(n)
        kind = "refused" if answer and isinstance(answer[0], int) and answer[0] >= 400 else \
               "ambiguous" if answer else "accepted"
        if kind != "refused":
            with self.answer_lock:
                self.answers.setdefault(body.get("biz_opaque_callback_data"), []).append(kind)
        return answer

    # -- load ------------------------------------------------------------------------------------
    def start_webhooks(self):
        def attempt(i, tries):
            door = self.door(i + tries)
            status = post_signed(door.port, text_webhook(f"wamid.CHAOS{i}", f"chaos {i}"), host=door.host)
            return status == 200, status
        return self.start(Load("webhooks", attempt))

    def start_sends(self):
        def attempt(i, tries):
            job = {"type": "text_message", "tenant": "acme", "to_number": f"+1555{i:07d}", "text": f"send {i}",
                   "message_id": f"chaos-{i}"}
            try:
                status, _ = self.door(i + tries).request("POST", "/api/v1/messages", json.dumps(job),
                                               {"Authorization": "Bearer api-acme", "Content-Type": "application/json"})
            except OSError:
                status = 0
            return status == 202, status
        return self.start(Load("sends", attempt))

    def door(self, n):
        return self.serves[n % len(self.serves)]

    def start(self, load):
        self.loads.append(load)
        load.start()
        return load

    # -- audits ----------------------------------------------------------------------------------
    def audit_webhooks(self, load):
        """Every acknowledged webhook is stored in PostgreSQL, exactly once."""
        acked = {f"wamid.CHAOS{i}" for i in load.acked}
        self.assertGreater(len(acked), 50, "too little load to mean anything")
        count = lambda: int(self.pg.sql("select count(*) from messages where platform_message_id like 'wamid.CHAOS%'")[0][0])
        wait_until(lambda: count() >= len(acked), timeout=90, what=f"{len(acked)} acknowledged webhooks in PostgreSQL")
        time.sleep(1)
        stored = [r[0] for r in self.pg.sql("select platform_message_id from messages where platform_message_id like 'wamid.CHAOS%'")]
        self.assertEqual([w for w, c in Counter(stored).items() if c > 1], [], "stored twice")
        self.assertEqual(acked - set(stored), set(), "acknowledged but lost")

    def status(self, message_id):
        serve = next(s for s in self.serves if s.proc.poll() is None)
        code, body = serve.request("GET", f"/api/admin/messages/{message_id}", headers={"Authorization": "Bearer admin-secret"})
        return json.loads(body)["status"] if code == 200 else f"http {code}"

    def audit_sends(self, load):
        """Every acknowledged send reached a final state, and none reached Meta twice."""
        ids = [f"chaos-{i}" for i in load.acked]
        self.assertGreater(len(ids), 50, "too little load to mean anything")
        final = {"sent", "delivered", "read", "failed"}
        pending = list(ids)

        def settled():
            pending[:] = [i for i in pending if self.status(i) not in final]
            return not pending
        wait_until(settled, timeout=90, what=f"every send final (left: {pending[:5]})")
        time.sleep(1)   # a second send, if any were coming, has had time to arrive
        with self.answer_lock:
            twice = {i: a for i, a in self.answers.items() if len(a) > 1}
            never = [i for i in ids if self.status(i) == "sent" and self.answers.get(i) != ["accepted"]]
        self.assertEqual(twice, {}, "reached Meta more than once")
        self.assertEqual(never, [], "marked sent without one accepted send")
        statuses = {i: self.status(i) for i in ids}
        outcomes = Counter(statuses.values())
        with self.answer_lock:
            failed = {i: self.answers.get(i, []) for i, s in statuses.items() if s == "failed"}
        print(f"  sends: {dict(outcomes)}; what Meta answered the failed ones: "
              f"{dict(Counter(','.join(a) or 'never asked' for a in failed.values()))}", file=sys.stderr)
        self.failed_answers = failed
        return outcomes

    def assert_no_known_outcome_lost(self):
        """A send Meta accepted is recorded as sent, through a Redis that was down or full for
        seconds (the worker tries again within its lease). What failed is only what never reached
        Meta: a claim whose answer was lost with the connection, settled as of unknown outcome."""
        accepted = [i for i, a in self.failed_answers.items() if "accepted" in a]
        self.assertEqual(accepted, [], "accepted by Meta, yet recorded as failed")

    def run_load(self, *loads, fault_at=None, seconds=LOAD_SECONDS):
        """Runs the loads for `seconds`, calling fault_at() a third of the way in."""
        time.sleep(seconds / 3)
        if fault_at:
            fault_at()
        time.sleep(seconds * 2 / 3)
        for load in loads:
            load.finish()
            print(f"\n  {load.name}: {len(load.acked)} acknowledged, refused {dict(load.refusals)}", file=sys.stderr)


class RedisChaosTest(ChaosCase):
    def test_redis_killed_and_restarted_under_load(self):
        webhooks, sends = self.start_webhooks(), self.start_sends()

        def kill_and_restart():
            self.redis.stop()        # kill -9
            time.sleep(1.5)
            self.redis.start()       # the same port and AOF
        self.run_load(webhooks, sends, fault_at=kill_and_restart)
        self.assertGreater(sum(webhooks.refusals.values()), 0, "the webhooks never saw Redis down")
        self.assertGreater(sum(sends.refusals.values()), 0, "the sends never saw Redis down")
        self.audit_webhooks(webhooks)
        outcomes = self.audit_sends(sends)
        self.assertGreater(outcomes["sent"], len(sends.acked) * 0.9, outcomes)
        self.assert_no_known_outcome_lost()

    def test_redis_out_of_memory_under_load(self):
        webhooks, sends = self.start_webhooks(), self.start_sends()

        def fill_up():
            used = int(re.search(r"used_memory:(\d+)", self.redis.cli("INFO", "memory")).group(1))
            self.redis.cli("CONFIG", "SET", "maxmemory-policy", "noeviction")
            self.redis.cli("CONFIG", "SET", "maxmemory", str(used))
            time.sleep(2)
            self.redis.cli("CONFIG", "SET", "maxmemory", "0")
        self.run_load(webhooks, sends, fault_at=fill_up)
        self.assertGreater(webhooks.refusals[503], 0, "no webhook was refused while Redis was full")
        self.assertGreater(sends.refusals[503], 0, "no send was refused while Redis was full")
        self.audit_webhooks(webhooks)
        outcomes = self.audit_sends(sends)
        self.assertGreater(outcomes["sent"], len(sends.acked) * 0.9, outcomes)
        self.assert_no_known_outcome_lost()


class RedisClusterChaosTest(ChaosCase):
    """A Redis Cluster of three masters, each with a replica; the master that holds the loaded
    tenant ("acme") is killed and its replica takes over."""

    def make_redis(self):
        return RedisCluster(durable=True)

    def test_cluster_master_killed_under_load(self):
        webhooks, sends = self.start_webhooks(), self.start_sends()
        master = self.redis.master_of("wappa:{acme}:inbound")
        self.assertIsNotNone(master)
        self.run_load(webhooks, sends, fault_at=lambda: self.redis.kill(master), seconds=LOAD_SECONDS + 2)
        wait_until(self.redis.healthy_without_failed, timeout=30, what="a replica to take over")
        self.assertNotEqual(self.redis.master_of("wappa:{acme}:inbound"), master)
        self.assertGreater(sum(webhooks.refusals.values()), 0, "the webhooks never saw the master gone")
        self.audit_webhooks(webhooks)
        outcomes = self.audit_sends(sends)
        self.assertGreater(outcomes["sent"], len(sends.acked) * 0.9, outcomes)
        self.assert_no_known_outcome_lost()
        # Serving and sending resumed on the promoted replica, which the logs and metrics show.
        self.assertIn("slot map: masters", self.serve.output())
        metrics = self.serve.request("GET", "/metrics")[1].decode()
        self.assertRegex(metrics, r'wappa_redis_cluster_events_total\{event="map_change"\} [1-9]')


class PostgresChaosTest(ChaosCase):
    def test_postgres_killed_and_restarted_under_load(self):
        webhooks = self.start_webhooks()

        def kill_and_restart():
            self.pg.stop("immediate")   # SIGQUIT: no checkpoint, as after a crash
            time.sleep(2)
            self.pg.start()
        self.run_load(webhooks, fault_at=kill_and_restart)
        self.audit_webhooks(webhooks)
        metrics = self.serve.request("GET", "/metrics")[1].decode()
        self.assertRegex(metrics, r'wappa_inbound_retries_total\{cause="postgres"\} [1-9]')


class GraphChaosTest(ChaosCase):
    def test_graph_hangs_answers_garbage_and_resets_under_load(self):
        transient = (503, {"error": {"message": "Service temporarily unavailable", "type": "OAuthException",
                                     "code": 2, "fbtrace_id": "chaos"}}, {})
        faults = {0: ("hang", 2.0, None), 1: ("garbage",), 2: ("reset",), 3: transient}

        def fault(n):
            answer = faults.get(n % 8)
            if answer and answer[0] == "hang":
                return ("hang", 2.0, (200, {"messaging_product": "whatsapp", "messages": [{"id": f"wamid.LATE{n}"}]}, {}))
            return answer
        self.fault = fault
        sends = self.start_sends()
        self.run_load(sends)
        outcomes = self.audit_sends(sends)
        # Hung, garbled and reset sends have an unknown outcome: never sent again, failed after the
        # wait. Refused ones (503, code 2) are retried and sent.
        self.assertGreater(outcomes["failed"], 0, outcomes)
        self.assertGreater(outcomes["sent"], len(sends.acked) / 2, outcomes)
        with self.answer_lock:
            ambiguous = sum(1 for a in self.answers.values() if a == ["ambiguous"])
        self.assertEqual(outcomes["failed"], ambiguous, "a failed send that was not of unknown outcome")


if __name__ == "__main__":
    unittest.main()
