"""Redis Cluster (`redis+cluster://`, INTERFACE.md §2): three masters with a replica each, the
slot ranges chosen so that tenant "acme" lives on one master, "beta" on another and the global
keys on the third. The same binary serves webhooks, stores them (the inbound worker reads both
tenants' streams, on two masters, in one blocking read), sends through the Graph API, reports,
and streams live events and their replay across the masters. The failover under load is in
tests/chaos (RedisClusterChaosTest)."""
import json
import subprocess
import tempfile
import time
import unittest

from fake_graph import FakeGraph
from harness import TENANT_B, WAPPA, Postgres, RedisCluster, Serve, Subscriber, fixture, post_signed, run, wait_until, write_config
from live_clients import EventStream

ADMIN = {"Authorization": "Bearer admin-secret"}
LIVE_USER = "15550001234"   # the sender of the live test's webhooks, whose replay it checks


def webhook(wamid, text, phone_number_id=None, sender=None):
    body = json.loads(fixture("text.json"))
    value = body["entry"][0]["changes"][0]["value"]
    if phone_number_id:
        value["metadata"]["phone_number_id"] = phone_number_id
    if sender:
        value["messages"][0]["from"] = sender
        for contact in value.get("contacts", []):
            contact["wa_id"] = sender
    value["messages"][0]["id"] = wamid
    value["messages"][0]["text"] = {"body": text}
    return json.dumps(body).encode()


class RedisClusterTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = RedisCluster()
        cls.pg = Postgres()
        cls.graph = FakeGraph()
        cls.serve = Serve(cls.cluster, f"""
[postgres]
url = "postgresql://wappa@127.0.0.1:{cls.pg.port}/postgres"

[graph]
base_url = "http://127.0.0.1:{cls.graph.port}"
""", args=("--with-worker",))
        migrated = run("-c", cls.serve.config, "migrate")
        assert migrated.returncode == 0, migrated.stderr

    @classmethod
    def tearDownClass(cls):
        cls.serve.stop()
        cls.graph.stop()
        cls.pg.close()
        cls.cluster.stop()
        cls.cluster.dir.cleanup()

    def test_the_tenants_live_on_different_masters(self):
        acme, beta = self.cluster.master_of("wappa:{acme}:inbound"), self.cluster.master_of("wappa:{beta}:inbound")
        self.assertNotEqual(acme, beta)
        self.assertNotIn(self.cluster.master_of("wappa:{global}:out:rate"), (acme, beta))

    def test_a_dead_replica_stops_slowing_the_writes(self):
        """Writes wait for the replica (WAIT); when it dies, the ones in flight wait out their
        bound and are counted, and once the cluster marks it failed they wait no more."""
        master = self.cluster.master_of("wappa:{acme}:inbound")
        roles = {p: self.cluster.node_cli(p, "ROLE").split() for p in self.cluster.ports}
        replica = next(p for p, role in roles.items() if role[0] == "slave" and role[2] == str(master))
        self.cluster.kill(replica)

        def webhook_seconds(n):
            started = time.monotonic()
            self.assertEqual(post_signed(self.serve.port, webhook(f"wamid.REPL{n}", "replica gone")), 200)
            return time.monotonic() - started
        self.assertGreater(webhook_seconds(0), 0.3, "the first write after the kill waits for the replica")
        wait_until(lambda: webhook_seconds(time.monotonic_ns()) < 0.2, timeout=15, what="writes that no longer wait")
        metrics = self.serve.request("GET", "/metrics")[1].decode()
        self.assertRegex(metrics, r'wappa_redis_cluster_events_total\{event="replica_wait_timeout"\} [1-9]')

    def test_webhooks_of_both_tenants_are_queued_deduplicated_and_stored(self):
        for wamid, tenant in (("wamid.CLA1", None), ("wamid.CLB1", TENANT_B)):
            body = webhook(wamid, "hello " + wamid, tenant)
            self.assertEqual(post_signed(self.serve.port, body), 200)
            self.assertEqual(post_signed(self.serve.port, body), 200)   # Meta's retry: recognised
        stored = lambda: self.pg.sql("select platform_message_id from messages where platform_message_id like 'wamid.CL_1'")
        wait_until(lambda: len(stored()) >= 2, what="both tenants' messages in PostgreSQL")
        time.sleep(1)
        self.assertEqual(sorted(r[0] for r in stored()), ["wamid.CLA1", "wamid.CLB1"])
        # The dedup marks sit on each tenant's own master (the streams are trimmed once read).
        for tenant, wamid in (("acme", "wamid.CLA1"), ("beta", "wamid.CLB1")):
            key = f"wappa:{{{tenant}}}:seen:msg:{wamid}"
            self.assertEqual(self.cluster.cli("EXISTS", key), "1", key)
            self.assertEqual(self.cluster.node_cli(self.cluster.master_of(key), "EXISTS", key), "1")

    def test_sends_of_both_tenants_reach_the_graph_api_once(self):
        for tenant, to in (("acme", "+16505550101"), ("beta", "+16505550102")):
            r = run("-c", self.serve.config, "enqueue", "text", "--tenant", tenant, "--to", to, "--text", "hi",
                    "--message-id", f"cluster-{tenant}")
            self.assertEqual(r.returncode, 0, r.stderr)

        def status(tenant):
            r = run("-c", self.serve.config, "inspect", f"cluster-{tenant}", "--tenant", tenant, "--json")
            return json.loads(r.stdout)["status"] if r.returncode == 0 else r.stderr
        wait_until(lambda: status("acme") == "sent" and status("beta") == "sent", what="both sends sent")
        with self.graph.lock:
            tokens = sorted(auth for path, auth, body in self.graph.requests if body.get("to") in ("16505550101", "16505550102"))
        self.assertEqual(tokens, ["Bearer token-acme", "Bearer token-beta"])
        stats = run("-c", self.serve.config, "stats", "--json")
        self.assertEqual(stats.returncode, 0, stats.stderr)
        self.assertIn("beta", stats.stdout)

    def test_live_events_and_their_replay_span_the_masters(self):
        stream = EventStream(self.serve.port, "/api/v1/events", ADMIN)
        live = Subscriber(self.serve.config, "--json", "--event", "incoming_message", "--count", "2", "--timeout", "20")
        try:
            time.sleep(0.5)   # the admin stream is positioned
            for wamid, tenant in (("wamid.CLA2", None), ("wamid.CLB2", TENANT_B)):
                self.assertEqual(post_signed(self.serve.port, webhook(wamid, "live " + wamid, tenant, LIVE_USER)), 200)
            seen = set()
            while len(seen) < 2:
                event = stream.next(timeout=10)
                if event["data"].get("event") == "incoming_message":
                    seen.add(event["data"]["data"]["message_id"])
            self.assertEqual(seen, {"wamid.CLA2", "wamid.CLB2"})
            code, events = live.finish()
            self.assertEqual(code, 0, live.stderr_lines)
            self.assertEqual({e["data"]["message_id"] for e in events}, {"wamid.CLA2", "wamid.CLB2"})
        finally:
            stream.close()
            if live.proc.poll() is None:
                live.proc.kill()
        # The durable log of each tenant, on its own master, replayed in one sequence.
        replay = subprocess.run([WAPPA, "-c", self.serve.config, "subscribe", "--json", "--since", "1h", "--event",
                                 "incoming_message", "--user", LIVE_USER, "--count", "2", "--timeout", "10", "--tenant", "*"],
                                capture_output=True, text=True, timeout=30)
        self.assertEqual(replay.returncode, 0, replay.stderr)
        replayed = {(json.loads(line)["tenant"], json.loads(line)["data"]["message_id"]) for line in replay.stdout.splitlines()}
        self.assertEqual(replayed, {("acme", "wamid.CLA2"), ("beta", "wamid.CLB2")}, replay.stdout)

    def test_an_unreachable_cluster_and_a_bad_url_say_so(self):
        with tempfile.TemporaryDirectory() as d:
            config = write_config(d, "redis+cluster://:pw@127.0.0.1:1,127.0.0.1:2", 0)
            r = run("-c", config, "stats")
            self.assertEqual(r.returncode, 69, r.stderr)
            self.assertIn("cluster", r.stderr)
            self.assertNotIn("pw", r.stderr)
            shown = run("-c", config, "config", "show")
            self.assertIn("redis+cluster://:****@127.0.0.1:1,127.0.0.1:2", shown.stdout)
            bad = write_config(d, "redis+cluster://127.0.0.1:7000,,127.0.0.1:7001", 0)
            r = run("-c", bad, "stats")
            self.assertEqual(r.returncode, 78, r.stderr)
            self.assertIn("redis.url", r.stderr)
            self.assertIn("seed node 2", r.stderr)


class RedisClusterTopologyTest(unittest.TestCase):
    """A cluster of three masters without replicas whose shape changes under serve: a tenant's
    slot moves to another master, or a master dies for good."""

    def setUp(self):
        self.cluster = RedisCluster(replicas=False, full_coverage=False)
        self.serve = Serve(self.cluster, args=("--with-worker",))

    def tearDown(self):
        self.serve.stop()
        self.cluster.stop()
        self.cluster.dir.cleanup()

    def move_slot(self, slot, source, target):
        ids = {p: self.cluster.node_cli(p, "CLUSTER", "MYID") for p in (source, target)}
        self.assertEqual(self.cluster.node_cli(target, "CLUSTER", "SETSLOT", str(slot), "IMPORTING", ids[source]), "OK")
        self.assertEqual(self.cluster.node_cli(source, "CLUSTER", "SETSLOT", str(slot), "MIGRATING", ids[target]), "OK")
        while True:
            keys = self.cluster.node_cli(source, "CLUSTER", "GETKEYSINSLOT", str(slot), "100").split()
            if not keys:
                break
            self.cluster.node_cli(source, "MIGRATE", "127.0.0.1", str(target), "", "0", "5000", "KEYS", *keys)
        for port in self.cluster.ports:
            self.cluster.node_cli(port, "CLUSTER", "SETSLOT", str(slot), "NODE", ids[target])

    def test_a_tenant_moved_to_another_master_is_followed(self):
        """As `redis-cli --cluster reshard` moves a slot (IMPORTING/MIGRATING, MIGRATE of its
        keys, SETSLOT NODE): webhooks and sends carry on, following the old master's MOVED."""
        self.assertEqual(post_signed(self.serve.port, webhook("wamid.MV1", "before")), 200)
        r = run("-c", self.serve.config, "enqueue", "text", "--tenant", "acme", "--to", "+16505550111", "--text", "before",
                "--message-id", "moved-1")
        self.assertEqual(r.returncode, 0, r.stderr)
        source = self.cluster.master_of("wappa:{acme}:inbound")
        target = next(p for p in self.cluster.ports if p != source and p != self.cluster.master_of("wappa:{beta}:inbound"))
        self.move_slot(int(self.cluster.cli("CLUSTER", "KEYSLOT", "acme")), source, target)
        self.assertEqual(self.cluster.master_of("wappa:{acme}:inbound"), target)
        self.assertEqual(self.cluster.node_cli(target, "EXISTS", "wappa:{acme}:seen:msg:wamid.MV1"), "1")
        # serve's map is stale: its next command for acme gets MOVED from the old master.
        self.assertEqual(post_signed(self.serve.port, webhook("wamid.MV2", "after")), 200)
        self.assertEqual(post_signed(self.serve.port, webhook("wamid.MV2", "after")), 200)   # a redelivery
        self.assertEqual(self.cluster.node_cli(target, "EXISTS", "wappa:{acme}:seen:msg:wamid.MV2"), "1")
        r = run("-c", self.serve.config, "enqueue", "text", "--tenant", "acme", "--to", "+16505550112", "--text", "after",
                "--message-id", "moved-2")
        self.assertEqual(r.returncode, 0, r.stderr)

        def sent(message_id):
            r = run("-c", self.serve.config, "inspect", message_id, "--tenant", "acme", "--json")
            return r.returncode == 0 and json.loads(r.stdout)["status"] == "sent"
        wait_until(lambda: sent("moved-1") and sent("moved-2"), what="both sends sent by the worker")
        metrics = self.serve.request("GET", "/metrics")[1].decode()
        self.assertRegex(metrics, r'wappa_redis_cluster_events_total\{event="moved"\} [1-9]')
        self.assertRegex(metrics, r'wappa_redis_cluster_events_total\{event="map_change"\} [1-9]')
        self.assertIn("# TYPE wappa_redis_cluster_events_total counter", metrics)

    def test_a_dead_master_without_replica_fails_only_its_tenants(self):
        """With cluster-require-full-coverage no, the other masters go on serving their tenants."""
        self.cluster.kill(self.cluster.master_of("wappa:{acme}:inbound"))
        self.assertEqual(post_signed(self.serve.port, webhook("wamid.DEAD1", "beta lives", TENANT_B)), 200)
        self.assertEqual(post_signed(self.serve.port, webhook("wamid.DEAD2", "acme is gone")), 503)
        started = time.monotonic()
        beta = run("-c", self.serve.config, "enqueue", "text", "--tenant", "beta", "--to", "+16505550121", "--text", "hi")
        self.assertEqual(beta.returncode, 0, beta.stderr)
        self.assertLess(time.monotonic() - started, 4, "a one-shot command waited for the dead master")
        self.assertIn("unreachable", beta.stderr)
        acme = run("-c", self.serve.config, "enqueue", "text", "--tenant", "acme", "--to", "+16505550122", "--text", "hi")
        self.assertEqual(acme.returncode, 69, acme.stderr)
        self.assertIn("cluster node 127.0.0.1:", acme.stderr)


if __name__ == "__main__":
    unittest.main()
