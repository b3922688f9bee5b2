"""Outbound: `wappa enqueue` → queue → `wappa worker` → (fake) Graph API (INTERFACE.md §1, §5)."""
import json
import os
import time
import unittest
from collections import Counter

from fake_graph import graph_error
from harness import run, wait_until
from outbound_case import OutboundCase


class OutboundTest(OutboundCase):
    def test_every_message_is_sent_exactly_once(self):
        jobs = []
        for i in range(300):
            tenant = "acme" if i % 2 else "beta"
            jobs.append({"type": "text_message", "tenant": tenant, "to_number": f"+1650555{i:04d}",
                         "text": f"message {i}", "message_id": f"m{i}"})
        r = self.enqueue_json(jobs)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(r.stdout.splitlines()), 300)
        self.worker("--concurrency", "16")
        wait_until(lambda: len(self.graph.requests) >= 300, timeout=60, what="300 sends")
        time.sleep(0.5)
        counts = Counter(self.graph.sent_ids())
        self.assertEqual(len(counts), 300)
        self.assertEqual(max(counts.values()), 1)
        path, auth, body = self.graph.requests[0]
        self.assertRegex(path, r"^/v23\.0/(106540352242922|110011223344556)/messages$")
        self.assertEqual(body["messaging_product"], "whatsapp")
        self.assertEqual(body["type"], "text")
        wait_until(lambda: self.inspect("m7")["status"] == "sent", what="m7 recorded as sent")
        state = self.inspect("m7")
        self.assertTrue(state["wamid"].startswith("wamid.FAKE"))
        self.assertEqual(state["attempts"], 1)

    def test_permanent_transient_and_rate_limited_answers(self):
        self.graph.script = {
            "16505550001": [graph_error(131026, "Message undeliverable")],
            "16505550002": [(500, {"error": {"message": "oops", "code": 2, "is_transient": True}}, {})],
            "16505550003": [graph_error(130429, "Rate limit hit", http=429)] * 2,
            "16505550004": [graph_error(131000, "Something went wrong", http=500)] * 5,
        }
        jobs = [{"type": "text_message", "tenant": "acme", "to_number": f"1650555000{i}", "text": "hi",
                 "message_id": f"f{i}"} for i in range(1, 5)]
        self.assertEqual(self.enqueue_json(jobs).returncode, 0)
        self.worker()
        wait_until(lambda: all(self.inspect(f"f{i}")["status"] in ("sent", "failed") for i in range(1, 5)),
                   timeout=30, what="every message settled")
        permanent = self.inspect("f1")
        self.assertEqual(permanent["status"], "failed")
        self.assertEqual(permanent["last_error_code"], "131026")
        transient = self.inspect("f2")
        self.assertEqual((transient["status"], transient["attempts"]), ("sent", 2))
        limited = self.inspect("f3")
        self.assertEqual(limited["status"], "sent")
        self.assertEqual(limited["attempts"], 1, "a rate-limit answer must not spend an attempt")
        exhausted = self.inspect("f4")
        self.assertEqual(exhausted["status"], "failed")
        self.assertIn("attempts exhausted", exhausted["last_error"])
        self.assertEqual(Counter(self.graph.sent_ids())["f4"], 3)

    def test_requeue_and_stats(self):
        self.graph.script = {"16505550001": [graph_error(131026, "Message undeliverable")],
                             "16505550002": [graph_error(131047, "Re-engagement message")]}
        jobs = [{"type": "text_message", "tenant": t, "to_number": f"1650555000{i}", "text": "hi", "message_id": f"r{i}"}
                for i, t in ((1, "acme"), (2, "beta"), (3, "acme"))]
        self.enqueue_json(jobs)
        w = self.worker()
        wait_until(lambda: all(self.inspect(f"r{i}")["status"] in ("sent", "failed") for i in (1, 2, 3)),
                   timeout=20, what="r1..r3 settled")
        stats = json.loads(run("-c", self.config, "stats", "--json").stdout)
        self.assertEqual(stats["outbound"]["failed"], 2)
        self.assertEqual(stats["totals"]["sent"], 1)
        self.assertEqual(stats["by_tenant"]["acme"]["failed"], 1)
        table = run("-c", self.config, "stats").stdout
        self.assertIn("failed", table)

        lines = [json.loads(l) for l in run("-c", self.config, "requeue", "--error-code", "131026", "--dry-run", "--json").stdout.splitlines()]
        self.assertEqual(lines[0], {"tenant": "acme", "message_id": "r1"}, "each message on its own line, then the summary")
        dry = lines[-1]
        self.assertEqual((len(lines), dry["requeued"], dry["message_ids"]), (2, 1, ["r1"]))
        self.assertEqual(self.inspect("r1")["status"], "failed")
        r = run("-c", self.config, "requeue", "--tenant", "acme")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("requeued 1 message(s)", r.stdout)
        wait_until(lambda: self.inspect("r1")["status"] == "sent", timeout=20, what="r1 sent after requeue")
        # A sent message is never requeued: --all only moves r2, which fails again only if scripted.
        r = json.loads(run("-c", self.config, "requeue", "--all", "--json").stdout)
        self.assertEqual(r["message_ids"], ["r2"])
        wait_until(lambda: self.inspect("r2")["status"] == "sent", timeout=20, what="r2 sent after requeue")
        self.assertEqual(Counter(self.graph.sent_ids()), Counter({"r1": 2, "r2": 2, "r3": 1}))
        self.assertEqual(run("-c", self.config, "requeue").returncode, 64)

    def test_enqueue_is_idempotent_and_refuses_conflicts(self):
        job = {"type": "text_message", "tenant": "acme", "to_number": "16505551234", "text": "once", "message_id": "same"}
        first = self.enqueue_json([job])
        again = self.enqueue_json([job])
        self.assertEqual(json.loads(first.stdout)["outcome"], "queued")
        self.assertEqual(json.loads(again.stdout)["outcome"], "exists")
        conflict = self.enqueue_json([dict(job, text="different")])
        self.assertEqual(conflict.returncode, 65)
        self.assertIn("different body", conflict.stderr)
        self.worker()
        wait_until(lambda: len(self.graph.requests) >= 1, what="the send")
        time.sleep(0.5)
        self.assertEqual(self.graph.sent_ids(), ["same"])

    def test_mixed_file_reports_every_line_in_order(self):
        # Two tenants interleaved, an id repeated in the same file (the same job, then another
        # body), and an id used by both tenants: each output line answers its own input line.
        def job(i, tenant, to, text):
            return {"type": "text_message", "tenant": tenant, "to_number": to, "text": text, "message_id": i}
        jobs = [job("x1", "acme", "16505550001", "a"), job("x2", "beta", "16505550002", "b"),
                job("x1", "acme", "16505550001", "a"), job("x3", "beta", "16505550003", "c"),
                job("x2", "acme", "16505550002", "other"), job("x4", "acme", "16505550004", "d"),
                job("x3", "beta", "16505550003", "changed")]
        r = self.enqueue_json(jobs)
        self.assertEqual(r.returncode, 65, r.stderr)
        self.assertIn("message_id x3 already exists with a different body", r.stderr)
        lines = [json.loads(line) for line in r.stdout.splitlines()]
        self.assertEqual([(x["message_id"], x["outcome"], x["status"]) for x in lines],
                         [("x1", "queued", "queued"), ("x2", "queued", "queued"), ("x1", "exists", "queued"),
                          ("x3", "queued", "queued"), ("x2", "queued", "queued"), ("x4", "queued", "queued"),
                          ("x3", "conflict", "queued")])
        self.worker()
        wait_until(lambda: len(self.graph.requests) >= 5, what="five sends")
        wait_until(lambda: self.inspect("x1")["status"] == "sent", what="x1 recorded as sent")
        # x2 is two messages: one per tenant, each with its own body.
        beta = json.loads(run("-c", self.config, "inspect", "x2", "--tenant", "beta", "--json").stdout)
        acme = json.loads(run("-c", self.config, "inspect", "x2", "--tenant", "acme", "--json").stdout)
        self.assertEqual((beta["body"]["text"]["body"], acme["body"]["text"]["body"]), ("b", "other"))
        self.assertEqual(run("-c", self.config, "inspect", "x2").returncode, 64, "several tenants hold x2: --tenant needed")
        # Once sent, the same job is still known and another body refused.
        again = self.enqueue_json([jobs[0], job("x1", "acme", "16505550001", "changed")])
        self.assertEqual([(x["outcome"], x["status"]) for x in map(json.loads, again.stdout.splitlines())],
                         [("exists", "sent"), ("conflict", "sent")])
        time.sleep(0.5)
        self.assertEqual(Counter(self.graph.sent_ids()), Counter({"x1": 1, "x2": 2, "x3": 1, "x4": 1}))

    def test_invalid_lines_are_reported_and_nothing_is_queued(self):
        jobs = [{"type": "text_message", "tenant": "acme", "to_number": "16505551234", "text": "ok"},
                {"type": "text_message", "tenant": "acme", "to_number": "12", "text": "bad number"},
                {"type": "text_message", "tenant": "nobody", "to_number": "16505551234", "text": "bad tenant"}]
        r = self.enqueue_json(jobs)
        self.assertEqual(r.returncode, 65)
        self.assertIn("-:2: invalid job: to_number", r.stderr)
        self.assertIn("-:3: invalid job: tenant", r.stderr)
        self.assertEqual(self.redis.cli("KEYS", "wappa:*"), "")
        r = self.enqueue_json(jobs, "--skip-invalid")
        self.assertEqual(r.returncode, 0)
        self.assertEqual(len(r.stdout.splitlines()), 1)

    def test_a_large_file_is_checked_whole_then_queued_in_line_order(self):
        # Large enough (over 4 MiB) for the bulk path: validation threads, pipelined lanes and the
        # restart with a huge-page heap. One bad line in the middle: nothing queued, its line named.
        jobs = [{"type": "text_message", "tenant": "acme" if i % 3 else "beta", "to_number": f"+1650{i:07d}",
                 "text": f"Your order #{i} is ready for pickup at the counter by the door.", "message_id": f"big{i}"}
                for i in range(40000)]
        path = os.path.join(self.dir.name, "jobs.ndjson")
        with open(path, "w") as f:
            for i, job in enumerate(jobs):
                f.write(json.dumps(dict(job, to_number="12") if i == 23456 else job) + "\n")
        self.assertGreater(os.path.getsize(path), 4 << 20)
        r = run("-c", self.config, "enqueue", "--json", path, timeout=120)
        self.assertEqual(r.returncode, 65, r.stderr)
        self.assertIn(f"{path}:23457: invalid job: to_number", r.stderr)
        self.assertEqual(self.redis.cli("DBSIZE"), "0")
        with open(path, "w") as f:
            f.write("".join(json.dumps(job) + "\n" for job in jobs))
        r = run("-c", self.config, "enqueue", "--json", path, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = [json.loads(line) for line in r.stdout.splitlines()]
        self.assertEqual([x["message_id"] for x in lines], [f"big{i}" for i in range(40000)])
        self.assertTrue(all(x["outcome"] == "queued" for x in lines))
        self.assertEqual(self.stats()["outbound"]["queued"], 40000)
        self.assertEqual(self.inspect("big30001")["to"], "16500030001")

    def test_sub_forms_and_exit_codes(self):
        r = run("-c", self.config, "enqueue", "text", "--tenant", "acme", "--to", "+16505551234", "--text", "hi")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout.strip(), r"^[0-9a-f]{32}$")
        r = run("-c", self.config, "enqueue", "buttons", "--tenant", "acme", "--to", "16505551234", "--body", "Pick",
                "--button", "a:One", "--button", "b:Two")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(run("-c", self.config, "enqueue", "text", "--tenant", "acme").returncode, 64)
        r = run("-c", self.config, "enqueue", "media", "--tenant", "acme", "--to", "16505551234", "--media-type", "audio",
                "--media-id", "1", "--caption", "no")
        self.assertEqual(r.returncode, 65)
        self.assertIn("caption", r.stderr)
        self.assertEqual(run("-c", self.config, "inspect", "missing").returncode, 1)
        self.redis.stop()
        r = run("-c", self.config, "enqueue", "text", "--tenant", "acme", "--to", "16505551234", "--text", "hi")
        self.assertEqual(r.returncode, 69)

    def test_pair_limit_spaces_messages_to_one_recipient(self):
        self.edit_config("rate_per_recipient = 100000", "rate_per_recipient = 2")
        jobs = [{"type": "text_message", "tenant": "acme", "to_number": "16505551234", "text": f"n{i}",
                 "message_id": f"p{i}"} for i in range(3)]
        # Workers running, as in production: the pair limit is planned when the jobs are queued.
        # (A backlog that built up while no worker ran is not re-paced at send time yet.)
        self.worker()
        time.sleep(1)
        self.enqueue_json(jobs)
        wait_until(lambda: len(self.graph.requests) >= 3, timeout=10, what="3 sends")
        gaps = [b - a for a, b in zip(self.graph.times, self.graph.times[1:])]
        self.assertTrue(all(g >= 0.4 for g in gaps), f"2 messages/s to one user: gaps {gaps}")
        self.assertEqual(self.graph.sent_ids(), ["p0", "p1", "p2"])

    def test_pair_limit_plans_a_long_backlog_across_calls(self):
        # One message per 100 s to one user: eight queued at once reach 700 s ahead, past the
        # 10-minute generation of pair states, and the next call must continue that schedule.
        self.edit_config("rate_per_recipient = 100000", 'rate_per_recipient = "1/100"')
        def jobs(start, count, to="16505551234"):
            return [{"type": "text_message", "tenant": "acme", "to_number": to, "text": f"n{i}",
                     "message_id": f"long{to[-1]}{i}"} for i in range(start, start + count)]
        self.assertEqual(self.enqueue_json(jobs(0, 8)).returncode, 0)
        self.assertEqual(self.enqueue_json(jobs(8, 2) + jobs(0, 2, to="16505550000")).returncode, 0)
        planned = [self.inspect(f"long4{i}")["not_before"] for i in range(10)]
        gaps = [b - a for a, b in zip(planned, planned[1:])]
        self.assertTrue(all(99_000 <= g <= 101_000 for g in gaps), f"not_before gaps (ms): {gaps}")
        other = [self.inspect(f"long0{i}")["not_before"] for i in range(2)]
        self.assertLess(other[0] - planned[0], 5_000, "another recipient is not held back")
        self.assertEqual(int(self.redis.cli("HLEN", "wappa:{acme}:out:pairs:long")), 1)
        self.assertEqual(self.inspect("long49")["status"], "queued")

    def test_rate_per_number_is_kept(self):
        self.edit_config("rate_per_number = 100000", "rate_per_number = 50")
        jobs = [{"type": "text_message", "tenant": "acme", "to_number": f"+1650557{i:04d}", "text": "x"} for i in range(100)]
        self.assertEqual(self.enqueue_json(jobs).returncode, 0)
        self.worker("--concurrency", "32")
        wait_until(lambda: len(self.graph.requests) >= 100, timeout=30, what="100 sends")
        self.assert_rate_near(50, "one sender")

    def test_kill_9_mid_run_never_sends_twice(self):
        self.edit_config("max_attempts = 3", 'max_attempts = 3\nvisibility_timeout = "2s"\nambiguous_wait = "1s"')
        self.graph.latency = 0.02
        jobs = [{"type": "text_message", "tenant": "acme", "to_number": f"+1650556{i:04d}", "text": "x",
                 "message_id": f"k{i}"} for i in range(400)]
        self.assertEqual(self.enqueue_json(jobs).returncode, 0)
        first = self.worker("--concurrency", "8")
        wait_until(lambda: len(self.graph.requests) >= 100, timeout=30, what="100 sends")
        first.kill()
        first.wait()
        self.worker("--concurrency", "8")
        wait_until(lambda: self.drained() and self.stats()["outbound"]["unknown"] == 0, timeout=60, what="the queue to drain")
        counts = Counter(self.graph.sent_ids())
        self.assertEqual(max(counts.values()), 1, "a message reached the Graph API twice")
        totals = json.loads(run("-c", self.config, "stats", "--json").stdout)["totals"]
        # Only the sends in flight at the kill (at most the concurrency) are of unknown outcome:
        # no status webhook came for them within ambiguous_wait, so they failed.
        self.assertLessEqual(totals.get("failed", 0), 8)
        self.assertEqual(totals["sent"] + totals.get("failed", 0), 400)
        self.assertGreaterEqual(len(counts), totals["sent"])
        if totals.get("failed"):
            # They may have reached the user: requeue skips them unless told otherwise.
            skipped = json.loads(run("-c", self.config, "requeue", "--error-code", "-1", "--dry-run", "--json").stdout.splitlines()[-1])
            self.assertEqual((skipped["requeued"], skipped["skipped_unknown"]), (0, totals["failed"]))
            unknown = json.loads(run("-c", self.config, "requeue", "--error-code", "-1", "--include-unknown", "--dry-run",
                                     "--json").stdout.splitlines()[-1])
            self.assertEqual(unknown["requeued"], totals["failed"])

    def test_sigterm_stops_the_worker_within_grace(self):
        w = self.worker("--grace", "5")
        self.wait_running(w)
        w.terminate()
        self.assertEqual(w.wait(timeout=10), 0)


if __name__ == "__main__":
    unittest.main()
