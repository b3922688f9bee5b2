"""`wappa subscribe` and `wappa publish` (INTERFACE.md §1, §4)."""
import json
import subprocess
import tempfile
import time
import unittest

from harness import WAPPA, Redis, Subscriber, run, write_config, free_port, wait_until


class SubscribeTest(unittest.TestCase):
    def setUp(self):
        self.redis = Redis()
        self.dir = tempfile.TemporaryDirectory()
        self.config = write_config(self.dir.name, self.redis.url, free_port())

    def tearDown(self):
        self.redis.stop()
        self.dir.cleanup()

    def publish(self, channel, payload):
        r = run("-c", self.config, "publish", channel, payload)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_filters_select_tenant_user_and_event(self):
        sub = Subscriber(self.config, "--tenant", "acme", "--event", "status_change", "--count", "1", "--timeout", "10")
        self.publish("wappa:notify:beta:1:status_change", '{"n":"other tenant"}')
        self.publish("wappa:notify:acme:1:incoming_message", '{"n":"other event"}')
        self.publish("wappa:notify:acme:1:status_change", '{"n":"wanted"}')
        code, lines = sub.finish()
        self.assertEqual(code, 0)
        self.assertEqual(lines, [{"n": "wanted"}])

    def test_raw_channels_and_patterns(self):
        sub = Subscriber(self.config, "--channel", "custom:a", "--pattern", "custom:p:*", "--count", "2",
                         "--timeout", "10", "--json")
        self.publish("custom:b", '{"n":0}')
        self.publish("custom:a", '{"n":1}')
        self.publish("custom:p:x", '{"n":2}')
        code, lines = sub.finish()
        self.assertEqual(code, 0)
        self.assertEqual(lines, [{"n": 1}, {"n": 2}])

    def test_publish_reads_stdin(self):
        sub = Subscriber(self.config, "--channel", "custom:stdin", "--count", "1", "--timeout", "10")
        r = run("-c", self.config, "publish", "custom:stdin", "-", input='{\n "multi": "line"\n}\n')
        self.assertEqual(r.returncode, 0, r.stderr)
        code, lines = sub.finish()
        self.assertEqual(lines, [{"multi": "line"}])

    def test_timeout_with_nothing_exits_1(self):
        start = time.monotonic()
        r = run("-c", self.config, "subscribe", "--timeout", "1")
        self.assertEqual(r.returncode, 1)
        self.assertLess(time.monotonic() - start, 5)
        self.assertIn("timed out", r.stderr)

    def test_reconnects_when_redis_restarts(self):
        sub = Subscriber(self.config, "--channel", "custom:r", "--count", "2", "--timeout", "20")
        self.publish("custom:r", '{"n":1}')
        self.redis.stop()
        time.sleep(0.5)
        self.redis.start()
        # Published until the resubscribed tail has seen it: Pub/Sub is at-most-once.
        deadline = time.monotonic() + 15
        while sub.proc.poll() is None and time.monotonic() < deadline:
            run("-c", self.config, "publish", "custom:r", '{"n":2}')
            time.sleep(0.2)
        code, lines = sub.finish()
        self.assertEqual(code, 0)
        self.assertEqual(lines[:2], [{"n": 1}, {"n": 2}])
        err = "".join(sub.stderr_lines)
        self.assertIn("reconnecting", err)
        self.assertIn("reconnected", err)

    def test_publish_rejects_invalid_json_and_reports_redis_down(self):
        r = run("-c", self.config, "publish", "c", "{not json")
        self.assertEqual(r.returncode, 65)
        self.assertIn("not valid JSON", r.stderr)
        self.redis.stop()
        r = run("-c", self.config, "publish", "c", "{}")
        self.assertEqual(r.returncode, 69)
        self.assertIn("redis", r.stderr)


if __name__ == "__main__":
    unittest.main()
