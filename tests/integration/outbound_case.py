"""The outbound test fixture: a private Redis, a fake Graph API, workers as processes."""
import json
import os
import subprocess
import tempfile
import unittest

from fake_graph import FakeGraph
from harness import WAPPA, Redis, free_port, run, wait_until, write_config

class OutboundCase(unittest.TestCase):
    """A private Redis, a fake Graph API and a config pointing at both; workers started on demand."""

    graph_tls = False
    durable_redis = False

    def setUp(self):
        self.redis = Redis(durable=self.durable_redis)
        self.dir = tempfile.TemporaryDirectory()
        self.graph = FakeGraph(self.dir.name if self.graph_tls else None)
        self.port = free_port()   # server.listen, for a `wappa serve` on this config
        self.config = write_config(self.dir.name, self.redis.url, self.port, extra=f"""
[graph]
base_url = "{self.graph.scheme}://127.0.0.1:{self.graph.port}"

[outbound]
rate_per_number = 100000
rate_per_recipient = 100000
backoff_base = "20ms"
backoff_max = "100ms"
max_attempts = 3
""")
        self.workers = []

    def tearDown(self):
        for w in self.workers:
            if w.poll() is None:
                w.kill()
                w.wait()
            w.log.close()
        self.graph.stop()
        self.redis.stop()
        if self.redis.dir:
            self.redis.dir.cleanup()
        self.dir.cleanup()

    def edit_config(self, old, new):
        with open(self.config) as f:
            text = f.read()
        self.assertIn(old, text)
        with open(self.config, "w") as f:
            f.write(text.replace(old, new))

    def worker(self, *args):
        log = open(os.path.join(self.dir.name, f"worker{len(self.workers)}.log"), "w+")
        proc = subprocess.Popen([WAPPA, "-c", self.config, "worker", "--role", "outbound", *args],
                                stdout=subprocess.DEVNULL, stderr=log)
        proc.log = log
        self.workers.append(proc)
        return proc

    @staticmethod
    def wait_running(proc):
        def running():
            proc.log.flush()
            with open(proc.log.name) as f:
                return "outbound worker running" in f.read()
        wait_until(running, timeout=20, what="the worker to start")

    def enqueue_json(self, jobs, *args):
        text = "".join(json.dumps(j) + "\n" for j in jobs)
        return run("-c", self.config, "enqueue", "--json", "-", *args, input=text, timeout=60)

    def assert_rate_near(self, limit, what):
        """The send rate the fake Graph API saw is within 10% of `limit` messages/s."""
        times = self.graph.times
        rate = (len(times) - 1) / (times[-1] - times[0])
        self.assertLess(abs(rate - limit) / limit, 0.10, f"measured {rate:.1f} messages/s ({what}) for a limit of {limit}")

    def stats(self):
        return json.loads(run("-c", self.config, "stats", "--json").stdout)

    def drained(self):
        q = self.stats()["outbound"]
        return q["queued"] + q["delayed"] + q["in_flight"] == 0

    def inspect(self, message_id):
        r = run("-c", self.config, "inspect", message_id, "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)
