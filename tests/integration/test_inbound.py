"""The inbound worker against a real private PostgreSQL: what users send is stored once with every
field its type carries, statuses move our messages forward only, the echo bot answers (and cannot
be drawn into a loop), notifications follow the commit, and nothing is lost while PostgreSQL is
down."""
import json
import os
import subprocess
import time
import unittest

from harness import (PgBouncer, Postgres, Redis, Serve, Subscriber, WAPPA, fixture, free_port, http_get, run, status_webhook,
                     wait_until)

MESSAGE_FIXTURES = ["text.json", "image.json", "audio_voice.json", "video.json", "document.json", "sticker.json",
                    "location.json", "contacts.json", "interactive_button_reply.json", "interactive_list_reply.json",
                    "button_template_reply.json", "reaction.json", "text_reply_context.json", "unsupported.json"]


def message_webhook(name="text.json", **changes):
    """A fixture's webhook with its (first) message changed: `wamid`, `text`, `sender` (wa_id), or
    `drop` (keys removed from the message)."""
    body = json.loads(fixture(name))
    value = body["entry"][0]["changes"][0]["value"]
    message = value["messages"][0]
    if "wamid" in changes:
        message["id"] = changes["wamid"]
    if "text" in changes:
        message["text"] = {"body": changes["text"]}
    if "sender" in changes:
        message["from"] = changes["sender"]
        value["contacts"][0]["wa_id"] = changes["sender"]
    if "name" in changes:
        value["contacts"][0]["profile"]["name"] = changes["name"]
    for key in changes.get("drop", ()):
        message.pop(key, None)
    return json.dumps(body).encode()


def text_from(sender, wamid, text):
    return message_webhook("text.json", wamid=wamid, text=text, sender=sender)


class PostgresCase(unittest.TestCase):
    """Redis, PostgreSQL (migrated) and `wappa serve --with-worker` on them, per test."""
    extra = ""
    postgres_extra = ""
    bot = "none"

    def setUp(self):
        self.redis = Redis()
        self.pg = Postgres()
        self.config_extra = f"""
[postgres]
url = "{self.pg.url}"
{self.postgres_extra}

[bot]
mode = "{self.bot}"
{self.extra}"""
        self.serve = None
        self.start_serve()

    def start_serve(self):
        self.serve = Serve(self.redis, self.config_extra, args=("--with-worker",))
        migrated = run("-c", self.serve.config, "migrate")
        self.assertEqual(migrated.returncode, 0, migrated.stderr)

    def tearDown(self):
        if self.serve:
            self.serve.stop()
        self.pg.close()
        self.redis.stop()

    def cli(self, *args, **kw):
        return run("-c", self.serve.config, *args, **kw)

    def post(self, body):
        code, reply = self.serve.post_webhook(body)
        self.assertEqual(code, 200, reply)

    def count(self, query):
        return int(self.pg.sql(query)[0][0])

    def wait_rows(self, query, expected, timeout=20):
        wait_until(lambda: self.count(query) >= expected, timeout=timeout, what=f"{expected} rows of {query}")
        time.sleep(0.3)
        self.assertEqual(self.count(query), expected, query)

    def user_messages(self):
        return "select count(*) from messages where actor = 'user'"


class StorageTest(PostgresCase):
    def test_every_fixture_type_is_stored_with_its_columns(self):
        for name in MESSAGE_FIXTURES:
            self.post(fixture(name))
        self.wait_rows(self.user_messages(), len(MESSAGE_FIXTURES))
        rows = {}
        for row in self.pg.sql("select kind, coalesce(text_content,''), coalesce(media_mime,''), coalesce(media_caption,''), "
                               "coalesce(media_description,''), coalesce(media_url,''), coalesce(media_sha256,''), "
                               "json_content::text, coalesce(reply_to,''), platform_message_id from messages where actor = 'user'"):
            rows.setdefault(row[0], []).append(row[1:])
        self.assertEqual(sorted(rows), sorted(["text", "image", "audio", "video", "document", "sticker", "location", "contact",
                                               "interactive", "button", "reaction", "unsupported"]))
        texts = {r[0] for r in rows["text"]}
        self.assertIn("Hi, is my order #4821 ready for pickup?", texts)
        image = json.loads(fixture("image.json"))["entry"][0]["changes"][0]["value"]["messages"][0]["image"]
        self.assertEqual(rows["image"][0][1:6], [image["mime_type"], image.get("caption", ""), "", image["id"], image["sha256"]])
        document = json.loads(fixture("document.json"))["entry"][0]["changes"][0]["value"]["messages"][0]["document"]
        self.assertEqual(rows["document"][0][3], document["filename"])
        location = json.loads(rows["location"][0][6])
        self.assertAlmostEqual(location["latitude"], 37.44221496582)
        self.assertEqual(location["name"], "Philz Coffee")
        contact = json.loads(rows["contact"][0][6])["contacts"][0]
        self.assertEqual(contact["name"]["formatted_name"], "Marta Ruiz")
        selections = sorted(json.loads(r[6])["type"] for r in rows["interactive"])
        self.assertEqual(selections, ["button_reply", "list_reply"])
        self.assertEqual(json.loads(rows["reaction"][0][6])["emoji"], "👍")
        reply_context = json.loads(fixture("text_reply_context.json"))["entry"][0]["changes"][0]["value"]["messages"][0]["context"]
        self.assertIn(reply_context["id"], {r[7] for r in rows["text"]})
        # Chats carry the profile name; every message sits in its chat's one open conversation.
        self.assertIn(["acme", "16505551234", "Ana Souza"],
                      self.pg.sql("select tenant, platform_user_id, first_name from chats"))
        self.assertEqual(self.count("select count(*) from messages m join conversations c using (conversation_id) "
                                    "where c.status <> 'open' or c.chat_id <> m.chat_id"), 0)
        self.assertEqual(self.count("select count(*) from (select chat_id from conversations where status = 'open' "
                                    "group by chat_id having count(*) > 1) x"), 0)
        # A delivered batch of several entries is stored whole.
        self.post(fixture("batch_multi_entry.json"))
        batch = json.loads(fixture("batch_multi_entry.json"))
        wamids = [m["id"] for e in batch["entry"] for c in e["changes"] for m in c["value"].get("messages", [])]
        self.wait_rows(f"select count(*) from messages where platform_message_id in ({','.join(repr(w) for w in wamids)})", len(wamids))

    def test_a_redelivered_event_is_stored_once(self):
        body = text_from("16505550001", "wamid.REDELIVERED", "once")
        self.post(body)
        self.wait_rows(self.user_messages(), 1)
        # Past serve's dedup window (its keys gone), Meta delivers it again: the worker knows it.
        for key in self.redis.cli("--scan", "--pattern", "wappa:*:seen:*").split():
            self.redis.cli("DEL", key)
        self.post(body)
        self.post(text_from("16505550001", "wamid.AFTER", "after"))
        self.wait_rows(self.user_messages(), 2)
        self.assertEqual(self.count("select count(*) from messages where platform_message_id = 'wamid.REDELIVERED'"), 1)
        metrics = self.serve.request("GET", "/metrics")[1].decode()
        self.assertIn('wappa_inbound_events_total{kind="message",outcome="duplicate"} 1', metrics)

    def test_sql_injection_in_every_text_field_is_stored_verbatim(self):
        evil = "Robert'); DROP TABLE messages; -- \\\" $1 %s \u0000".replace("\u0000", "")
        body = json.loads(text_from("16505550002", "wamid.EVIL1", evil))
        body["entry"][0]["changes"][0]["value"]["contacts"][0]["profile"]["name"] = evil
        self.post(json.dumps(body).encode())
        image = json.loads(fixture("image.json"))
        msg = image["entry"][0]["changes"][0]["value"]["messages"][0]
        msg["id"], msg["image"]["caption"] = "wamid.EVIL2", evil
        self.post(json.dumps(image).encode())
        location = json.loads(fixture("location.json"))
        loc = location["entry"][0]["changes"][0]["value"]["messages"][0]
        loc["id"], loc["location"]["name"], loc["location"]["address"] = "wamid.EVIL3", evil, evil
        self.post(json.dumps(location).encode())
        self.wait_rows(self.user_messages(), 3)
        self.assertEqual(self.pg.sql("select text_content from messages where platform_message_id = 'wamid.EVIL1'"), [[evil]])
        self.assertEqual(self.pg.sql("select media_caption from messages where platform_message_id = 'wamid.EVIL2'"), [[evil]])
        self.assertEqual(self.pg.sql("select json_content->>'name', json_content->>'address' from messages "
                                     "where platform_message_id = 'wamid.EVIL3'"), [[evil, evil]])
        self.assertEqual(self.pg.sql("select first_name from chats where platform_user_id = '16505550002'"), [[evil]])

    def test_a_message_without_type_is_typed_by_its_content(self):
        sub = Subscriber(self.serve.config, "--event", "incoming_message", "--count", "1", "--json")
        self.post(message_webhook("location.json", wamid="wamid.NOTYPE", drop=("type",)))
        code, events = sub.finish()
        self.assertEqual(events[0]["data"]["message_type"], "location")
        self.wait_rows("select count(*) from messages where platform_message_id = 'wamid.NOTYPE' and kind = 'location'", 1)


class UsersWithoutPhoneNumberTest(PostgresCase):
    bot = "echo"

    def test_a_business_scoped_user_gets_the_id_everywhere(self):
        scoped = "US.13491208655302741918"
        body = json.loads(fixture("text.json"))
        value = body["entry"][0]["changes"][0]["value"]
        message = value["messages"][0]
        del message["from"]
        message["from_user_id"], message["id"] = scoped, "wamid.SCOPED"
        value["contacts"] = [{"profile": {"name": "Sam"}, "user_id": scoped}]
        sub = Subscriber(self.serve.config, "--channel", f"wappa:notify:acme:{scoped}:incoming_message", "--count", "1", "--json")
        self.post(json.dumps(body).encode())
        code, events = sub.finish()
        self.assertEqual((code, events[0]["user_id"]), (0, scoped))
        self.wait_rows(f"select count(*) from chats where platform_user_id = '{scoped}' and first_name = 'Sam' and phone_e164 is null", 1)
        wait_until(lambda: self.pg.sql("select to_number, status from outbound_messages where message_id = 'bot-wamid.SCOPED'")
                   == [[scoped, "sent"]], timeout=15, what="the bot's reply sent to the scoped id")
        self.assertEqual(self.redis.cli("HGET", f"wappa:{{acme}}:conversation:{scoped}", "user_messages").strip(), "1")


class StatusTest(PostgresCase):
    def test_statuses_move_forward_only(self):
        queued = self.cli("enqueue", "text", "--tenant", "acme", "--to", "+16505551234", "--text", "hello", "--message-id", "st-1")
        self.assertEqual(queued.returncode, 0, queued.stderr)
        wait_until(lambda: self.pg.sql("select status from outbound_messages where message_id = 'st-1'") == [["sent"]],
                   timeout=15, what="st-1 sent in outbound_messages")
        wamid = self.pg.sql("select wamid from outbound_messages where message_id = 'st-1'")[0][0]
        self.assertTrue(wamid.startswith("wamid."))
        for status in ("read", "delivered", "sent"):   # late ones after read
            self.post(status_webhook("st-1", wamid, status))
        self.wait_rows("select count(*) from status_events where wamid = '%s'" % wamid, 3)
        time.sleep(1)   # the ledger gathers for 100 ms: give a wrong move time to happen
        self.assertEqual(self.pg.sql("select status, read_at is not null, delivered_at is not null from outbound_messages "
                                     "where message_id = 'st-1'"), [["read", "t", "t"]])
        self.post(status_webhook("st-1", wamid, "played"))
        wait_until(lambda: self.pg.sql("select status from outbound_messages where message_id = 'st-1'") == [["played"]],
                   timeout=10, what="played after read")
        # A status for a wamid nobody knows is kept, and applied when the message appears.
        self.post(status_webhook("", "wamid.UNKNOWN", "delivered"))
        self.wait_rows("select count(*) from status_events where wamid = 'wamid.UNKNOWN'", 1)
        health = json.loads(self.serve.request("GET", "/api/admin/health", headers={"Authorization": "Bearer admin-secret"})[1])
        self.assertEqual(health["checks"]["postgres"]["status"], "up")
        stats = json.loads(self.cli("stats", "--json").stdout)
        self.assertEqual(stats["delivery"]["acme"].get("outbound:played"), 1)


class BotTest(PostgresCase):
    bot = "echo"
    extra = """
[outbound]
rate_per_recipient = 100
burst_per_recipient = 10
"""

    def replies(self, user):
        return [r[0] for r in self.pg.sql(
            "select replace(m.text_content, chr(10), ' | ') from messages m join chats c using (chat_id) "
            f"where c.platform_user_id = '{user}' and m.actor = 'agent' order by m.created_at, m.message_id")]

    def test_history_and_close(self):
        user = "16505550010"
        for i, text in enumerate(["first", "second", "/HISTORY"]):
            self.post(text_from(user, f"wamid.H{i}", text))
            self.wait_rows("select count(*) from messages where actor = 'agent'", i + 1)
        replies = self.replies(user)
        self.assertTrue(replies[0].startswith("Echo: first | Message #1 in this conversation"), replies[0])
        self.assertTrue(replies[1].startswith("Echo: second | Message #2 in this conversation"), replies[1])
        self.assertTrue(replies[2].startswith("This conversation has 5 message(s)."), replies[2])
        self.assertEqual(self.redis.cli("HGET", f"wappa:{{acme}}:conversation:{user}", "user_messages").strip(), "3")   # /HISTORY is a message of the user too
        self.post(text_from(user, "wamid.H3", "/CLOSE"))
        self.wait_rows("select count(*) from messages where actor = 'agent'", 4)
        self.assertEqual(self.replies(user)[3], "Conversation closed: 7 message(s) persisted to the database.")
        self.assertEqual(self.pg.sql("select status, closed_at is not null from conversations"), [["closed", "t"]])
        self.assertEqual(self.count("select count(*) from messages where conversation_id = (select conversation_id from conversations)"), 8)
        self.assertEqual(self.redis.cli("EXISTS", f"wappa:{{acme}}:conversation:{user}").strip(), "0")
        # The next message opens a new conversation and counts from 1.
        self.post(text_from(user, "wamid.H4", "again"))
        self.wait_rows("select count(*) from messages where actor = 'agent'", 5)
        self.assertTrue(self.replies(user)[4].startswith("Echo: again | Message #1 in this conversation"))
        self.assertEqual(self.pg.sql("select status from conversations order by started_at"), [["closed"], ["open"]])
        # Every reply went through the outbound queue.
        wait_until(lambda: self.count("select count(*) from outbound_messages where status = 'sent' and message_id like 'bot-%'") == 5,
                   timeout=15, what="five replies sent")

    def test_a_subscriber_reacting_to_events_cannot_start_a_loop(self):
        # A naive integration: answer every notification but its own sends with a message.
        reactor = subprocess.Popen([WAPPA, "-c", self.serve.config, "subscribe", "--json"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.assertIn("subscribed to", reactor.stderr.readline())
        try:
            self.post(text_from("16505550020", "wamid.LOOP", "hello"))
            deadline, seen = time.time() + 8, []
            reactor_stdout = reactor.stdout
            import selectors
            sel = selectors.DefaultSelector()
            sel.register(reactor_stdout, selectors.EVENT_READ)
            while time.time() < deadline:
                if not sel.select(timeout=0.2):
                    continue
                line = reactor_stdout.readline()
                if not line:
                    break
                event = json.loads(line)
                seen.append(event["event"])
                if len(seen) > 50:
                    break
                if event["event"] == "outgoing_message":
                    continue   # its own sends, announced
                run("-c", self.serve.config, "enqueue", "text", "--tenant", event["tenant"], "--to", event["user_id"],
                    "--text", f"re: {event['event']}")
        finally:
            reactor.terminate()
            reactor.wait(timeout=10)
        # The user's message and the subscriber's own answer to it; the bot's reply is not announced.
        self.assertEqual(sorted(seen), ["incoming_message", "outgoing_message"], seen)
        self.assertEqual(self.count("select count(*) from outbound_messages where message_id like 'bot-%'"), 1)


class PostgresDownTest(PostgresCase):
    def test_nothing_is_lost_while_postgres_is_down(self):
        self.post(text_from("16505550030", "wamid.BEFORE", "before"))
        self.wait_rows(self.user_messages(), 1)
        self.pg.stop()
        health = lambda: self.serve.request("GET", "/api/admin/health", headers={"Authorization": "Bearer admin-secret"})
        wait_until(lambda: health()[0] == 503, timeout=10, what="health 503 with PostgreSQL down")
        self.assertEqual(json.loads(health()[1])["checks"]["postgres"]["status"], "down")
        stats = self.cli("stats")
        self.assertEqual(stats.returncode, 69, stats.stdout + stats.stderr)
        self.assertIn("PostgreSQL", stats.stderr)
        for i in range(40):
            self.post(text_from(f"1650555{i % 7:04d}", f"wamid.DOWN{i}", f"while down {i}"))
        time.sleep(3)   # the worker tries, fails, backs off
        pending = json.loads(self.cli("stats", "--json").stdout)["inbound"]
        self.assertGreaterEqual(pending["length"], 40)
        probe = self.cli("stats", "--json", "--max-depth", "10", "--max-age", "1h")
        self.assertEqual(probe.returncode, 69, probe.stderr)   # PostgreSQL down comes first; the limit is said too
        self.assertIn("inbound queue of tenant acme", probe.stderr)
        self.assertIn("> --max-depth 10", probe.stderr)
        self.pg.start()
        self.wait_rows(self.user_messages(), 41, timeout=60)
        self.assertEqual(self.count("select count(distinct platform_message_id) from messages"), 41)
        wait_until(lambda: health()[0] == 200, timeout=10, what="health 200 again")
        self.assertEqual(self.cli("stats", "--max-depth", "0").returncode, 0)
        metrics = self.serve.request("GET", "/metrics")[1].decode()
        self.assertRegex(metrics, r'wappa_inbound_retries_total\{cause="postgres"\} [1-9]')
        self.assertIn("wappa_inbound_event_duration_seconds_count", metrics)
        self.assertRegex(metrics, r'wappa_postgres_reconnects_total\{pool="[a-z]+"\} [1-9]')
        # The stream is trimmed of what was stored (every 5 s).
        wait_until(lambda: json.loads(self.cli("stats", "--json").stdout)["inbound"]["length"] == 0, timeout=15,
                   what="the inbound stream trimmed")


class RollbackTest(PostgresCase):
    extra = """
[inbound]
max_deliveries = 2
"""

    def test_a_rolled_back_event_publishes_nothing_and_goes_to_the_failed_set(self):
        self.pg.sql("""create function refuse_boom() returns trigger language plpgsql as $$
                       begin if new.text_content = 'boom' then raise exception 'refused by a test trigger'; end if;
                       return new; end $$;
                       create trigger refuse_boom before insert on messages for each row execute function refuse_boom();
                       select 1""")
        sub = Subscriber(self.serve.config, "--event", "incoming_message", "--json", "--timeout", "6")
        self.post(text_from("16505550040", "wamid.BOOM", "boom"))
        self.post(text_from("16505550041", "wamid.FINE", "fine"))
        try:
            self.wait_rows(self.user_messages(), 1)
        except AssertionError:
            print(self.serve.output()[-4000:])
            raise
        wait_until(lambda: json.loads(self.cli("stats", "--json").stdout)["inbound"]["failed"] == 1, timeout=20,
                   what="the refused event in the inbound failed set")
        sub.proc.terminate()
        _, events = sub.finish()
        self.assertEqual([e["data"]["message_id"] for e in events], ["wamid.FINE"])
        dry = self.cli("requeue", "--queue", "inbound", "--all", "--dry-run")
        self.assertEqual(dry.returncode, 0, dry.stderr)
        self.pg.sql("drop trigger refuse_boom on messages; select 1")
        sub = Subscriber(self.serve.config, "--event", "incoming_message", "--json", "--count", "1", "--timeout", "20")
        moved = self.cli("requeue", "--queue", "inbound", "--all", "--json")
        self.assertEqual((moved.returncode, json.loads(moved.stdout)["requeued"]), (0, 1), moved.stdout + moved.stderr)
        code, events = sub.finish(timeout=30)
        self.assertEqual([e["data"]["message_id"] for e in events], ["wamid.BOOM"])
        self.wait_rows(self.user_messages(), 2)
        self.assertEqual(json.loads(self.cli("stats", "--json").stdout)["inbound"]["failed"], 0)


class StandaloneInboundWorkerTest(PostgresCase):
    def start_serve(self):
        self.serve = Serve(self.redis, self.config_extra)   # intake only
        migrated = run("-c", self.serve.config, "migrate")
        self.assertEqual(migrated.returncode, 0, migrated.stderr)

    def test_an_inbound_worker_of_its_own_with_probes(self):
        port = free_port()
        worker = subprocess.Popen([WAPPA, "-c", self.serve.config, "worker", "--role", "inbound", "--metrics-listen", f"127.0.0.1:{port}"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            self.post(text_from("16505550060", "wamid.ALONE", "alone"))
            self.wait_rows(self.user_messages(), 1)
            wait_until(lambda: http_get(port, "/metrics")[0] == 200, timeout=10, what="the worker's /metrics")
            status, metrics = http_get(port, "/metrics")
            self.assertIn('wappa_inbound_events_total{kind="message",outcome="stored"} 1', metrics)
            status, health = http_get(port, "/api/admin/health")
            self.assertEqual((status, json.loads(health)["checks"]["postgres"]["status"]), (200, "up"))
            seen = json.loads(self.serve.request("GET", "/api/admin/health")[1])["checks"]["workers"]["seen"]
            self.assertEqual([w["role"] for w in seen], ["inbound"])
            self.pg.stop()
            wait_until(lambda: http_get(port, "/api/admin/health")[0] == 503, timeout=10, what="the worker's health 503")
        finally:
            worker.terminate()
            self.assertEqual(worker.wait(timeout=15), 0, worker.stderr.read())


class MigrateTest(unittest.TestCase):
    def test_migrate_is_versioned_and_idempotent(self):
        redis, pg = Redis(), Postgres()
        serve = None
        try:
            serve = Serve(redis, f'[postgres]\nurl = "{pg.url}"\n')
            status = run("-c", serve.config, "migrate", "--status")
            self.assertEqual(status.returncode, 0, status.stderr)
            self.assertIn("schema version 0", status.stdout)
            first = run("-c", serve.config, "migrate")
            self.assertEqual(first.returncode, 0, first.stderr)
            self.assertIn("applied migration 1", first.stdout)
            again = run("-c", serve.config, "migrate")
            self.assertEqual((again.returncode, again.stdout.strip()), (0, "schema up to date (version 2)"))
            self.assertEqual(pg.sql("select version from schema_migrations order by version"), [["1"], ["2"]])
            # Two at once: serialised, each version applied once.
            both = [subprocess.Popen([WAPPA, "-c", serve.config, "migrate"], stdout=subprocess.PIPE, text=True) for _ in range(2)]
            self.assertEqual([p.wait(timeout=30) for p in both], [0, 0])
            self.assertIn("schema version 2", run("-c", serve.config, "migrate", "--status").stdout)
            pg.stop()
            down = run("-c", serve.config, "migrate")
            self.assertEqual(down.returncode, 69)
            self.assertIn("postgres.url", down.stderr)
        finally:
            if serve:
                serve.stop()
            pg.close()
            redis.stop()
        redis = Redis()
        serve = Serve(redis, "")
        try:
            none = run("-c", serve.config, "migrate")
            self.assertEqual(none.returncode, 78)
            self.assertIn("postgres.url", none.stderr)
        finally:
            serve.stop()
            redis.stop()


class DeadConsumerTest(StandaloneInboundWorkerTest):
    extra = """
[inbound]
claim_idle = "1s"
"""

    def test_a_dead_workers_events_are_taken_over(self):
        self.pg.stop()   # the first worker reads, cannot store, keeps them pending
        first = subprocess.Popen([WAPPA, "-c", self.serve.config, "worker", "--role", "inbound"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for i in range(5):
            self.post(text_from("16505550070", f"wamid.DEAD{i}", f"pending {i}"))
        wait_until(lambda: json.loads(self.cli("stats", "--json").stdout)["inbound"]["pending"] == 5, timeout=10,
                   what="five events pending with the first worker")
        first.kill()
        first.wait()
        self.pg.start()
        second = subprocess.Popen([WAPPA, "-c", self.serve.config, "worker", "--role", "inbound"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            self.wait_rows(self.user_messages(), 5, timeout=30)
            self.assertEqual(self.count("select count(distinct platform_message_id) from messages"), 5)
            wait_until(lambda: json.loads(self.cli("stats", "--json").stdout)["inbound"]["pending"] == 0, timeout=10,
                       what="nothing pending")
        finally:
            second.terminate()
            second.wait(timeout=15)


class PgBouncerTest(unittest.TestCase):
    """Behind PgBouncer in transaction mode, with `prepared_statements = false`."""

    def run_behind_pgbouncer(self, prepared):
        # (With "true" it may or may not break, as the bouncer hands out server connections: no
        # test of that; the key exists for it.)
        redis, pg = Redis(), Postgres()
        bouncer = PgBouncer(pg)
        serve = None
        try:
            serve = Serve(redis, f'[postgres]\nurl = "{bouncer.url}"\nprepared_statements = {prepared}\n[bot]\nmode = "echo"\n',
                          args=("--with-worker",))
            # Migrations take a session lock: straight to the server.
            migrated = run("-c", serve.config, "migrate", env=dict(os.environ, WAPPA_POSTGRES_URL=pg.url))
            self.assertEqual(migrated.returncode, 0, migrated.stderr)
            for i in range(6):
                serve.post_webhook(text_from(f"165055500{80 + i % 3}", f"wamid.BOUNCE{i}", f"through the bouncer {i}"))
            try:
                wait_until(lambda: int(pg.sql("select count(*) from messages where actor = 'user'")[0][0]) == 6
                           and int(pg.sql("select count(*) from messages where actor = 'agent'")[0][0]) == 6,
                           timeout=20, what="six messages and six replies stored")
                return True, serve.output()
            except AssertionError:
                return False, serve.output()
        finally:
            if serve:
                serve.stop()
            bouncer.close()
            pg.close()
            redis.stop()

    def test_without_prepared_statements_it_works(self):
        stored, log = self.run_behind_pgbouncer("false")
        self.assertTrue(stored, log)
        self.assertNotIn("prepared statement", log)


class StatsLimitsTest(unittest.TestCase):
    """`wappa stats --max-depth / --max-age`: exit 1 past a limit, for cron and probes."""

    def test_limits(self):
        redis = Redis()
        serve = Serve(redis)   # no worker: what is queued waits
        try:
            jobs = "".join(json.dumps({"type": "text_message", "tenant": "acme", "to_number": f"1650555100{i}", "text": "x"}) + "\n"
                           for i in range(3))
            self.assertEqual(run("-c", serve.config, "enqueue", "--json", "-", input=jobs).returncode, 0)
            within = run("-c", serve.config, "stats", "--max-depth", "3", "--max-age", "1h")
            self.assertEqual(within.returncode, 0, within.stderr)
            deeper = run("-c", serve.config, "stats", "--max-depth", "2")
            self.assertEqual(deeper.returncode, 1)
            self.assertIn("outbound queue of tenant acme: 3 waiting > --max-depth 2", deeper.stderr)
            self.assertIn("queued", deeper.stdout)   # the figures are printed all the same
            time.sleep(1.2)
            older = run("-c", serve.config, "stats", "--json", "--max-age", "1s")
            self.assertEqual(older.returncode, 1)
            self.assertIn("oldest due message waiting", older.stderr)
            json.loads(older.stdout)
            bad = run("-c", serve.config, "stats", "--max-age", "soon")
            self.assertEqual(bad.returncode, 64)
            self.assertIn("--max-age", bad.stderr)
        finally:
            serve.stop()
            redis.stop()


class NoPersistenceTest(unittest.TestCase):
    """Without PostgreSQL and without a bot nothing consumes the streams: serve caps them."""

    def test_the_stream_is_capped(self):
        redis = Redis()
        serve = Serve(redis, "[inbound]\nstream_max_len = 50\n")
        try:
            for i in range(300):
                serve.post_webhook(text_from("16505550050", f"wamid.CAP{i}", "x"))
            length = int(redis.cli("XLEN", "wappa:{acme}:inbound").strip())
            self.assertGreater(length, 0)
            self.assertLess(length, 300)
        finally:
            serve.stop()
            redis.stop()


if __name__ == "__main__":
    unittest.main()
