"""`wappa serve`: Meta's webhook in, Redis queue and notifications out (INTERFACE.md §3, §4)."""
import json
import os
import socket
import time
import unittest

from harness import ServeCase, TENANT_A, Redis, Serve, Subscriber, fixture, free_port, run, sign, wait_until, write_config

STREAM_A = "wappa:{acme}:inbound"
STREAM_B = "wappa:{beta}:inbound"


class ServeTest(ServeCase):
    def xlen(self, stream):
        return int(self.redis.cli("XLEN", stream) or 0)

    def test_signed_fixture_is_queued_and_notified(self):
        sub = Subscriber(self.serve.config, "--json", "--count", "1", "--timeout", "10")
        status, body = self.serve.post_webhook(fixture("text.json"))
        self.assertEqual(status, 200, body)
        code, notes = sub.finish()
        self.assertEqual(code, 0)
        self.assertEqual(self.xlen(STREAM_A), 1)
        entry = json.loads(self.redis.cli("XRANGE", STREAM_A, "-", "+").splitlines()[-1])
        self.assertEqual(entry["kind"], "message")
        self.assertEqual(entry["tenant"], "acme")
        self.assertEqual(entry["message"]["text"]["body"], "Hi, is my order #4821 ready for pickup?")
        self.assertEqual(notes, [{
            "event": "incoming_message", "tenant": "acme", "inbox": "acme", "user_id": "16505551234",
            "platform": "whatsapp",
            "data": {"message_id": "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTFCN0QwRTVDOUEzRjJFNkQ4MQA=",
                     "message_type": "text"},
            "timestamp": "2025-06-16T09:00:00Z", "v": "1"}])

    def test_every_fixture_is_accepted(self):
        names = ["text", "text_reply_context", "image", "audio_voice", "video", "document", "sticker", "location",
                 "contacts", "interactive_button_reply", "interactive_list_reply", "button_template_reply",
                 "reaction", "reaction_removed", "unsupported", "status_sent", "status_delivered", "status_read",
                 "status_failed"]
        for name in names:
            status, body = self.serve.post_webhook(fixture(name + ".json"))
            self.assertEqual(status, 200, f"{name}: {body}")
        self.assertEqual(self.xlen(STREAM_A) + self.xlen(STREAM_B), len(names))

    def test_bad_or_missing_signature_is_401_and_nothing_is_queued(self):
        body = fixture("text.json")
        self.assertEqual(self.serve.post_webhook(body, signature="sha256=" + "0" * 64)[0], 401)
        self.assertEqual(self.serve.post_webhook(body, signature=False)[0], 401)
        self.assertEqual(self.serve.post_webhook(body, signature=sign(body)[7:])[0], 401)
        self.assertEqual(self.serve.post_webhook(body, secret="another-secret")[0], 401)
        tampered = body.replace(b"pickup", b"pickuP")
        self.assertEqual(self.serve.post_webhook(tampered, signature=sign(body))[0], 401)
        self.assertEqual(self.xlen(STREAM_A), 0)

    def test_redis_down_means_503_then_accepted_again(self):
        self.redis.stop()
        status, _ = self.serve.post_webhook(fixture("text.json"))
        self.assertEqual(status, 503)
        self.assertEqual(self.serve.request("GET", "/api/admin/health")[0], 503)
        self.redis.start()
        wait_until(lambda: self.serve.post_webhook(fixture("text.json"))[0] == 200, timeout=15,
                   what="serve to accept webhooks after redis came back")
        self.assertEqual(self.xlen(STREAM_A), 1)
        self.assertEqual(self.serve.request("GET", "/api/admin/health")[0], 200)

    def test_batch_of_two_tenants_queues_and_notifies_every_event(self):
        sub = Subscriber(self.serve.config, "--json", "--count", "8", "--timeout", "10")
        status, body = self.serve.post_webhook(fixture("batch_multi_entry.json"))
        self.assertEqual(status, 200, body)
        code, notes = sub.finish()
        self.assertEqual(code, 0)
        self.assertEqual(self.xlen(STREAM_A), 4)
        self.assertEqual(self.xlen(STREAM_B), 4)
        self.assertEqual(sorted(n["tenant"] for n in notes), ["acme"] * 4 + ["beta"] * 4)
        events = sorted((n["event"], n["data"].get("status", n["data"].get("message_type"))) for n in notes)
        self.assertIn(("status_change", "failed"), events)
        self.assertIn(("incoming_message", "reaction"), events)
        failed = next(n for n in notes if n["data"].get("status") == "failed")
        self.assertEqual(failed["data"]["error_code"], 131026)

    def test_duplicate_delivery_is_queued_once(self):
        body = fixture("batch_multi_entry.json")
        for _ in range(3):
            self.assertEqual(self.serve.post_webhook(body)[0], 200)
        self.assertEqual(self.xlen(STREAM_A), 4)
        self.assertEqual(self.xlen(STREAM_B), 4)
        metrics = self.serve.request("GET", "/metrics")[1].decode()
        self.assertIn("wappa_webhook_duplicates_total 16", metrics)

    def test_tenant_path_uses_that_tenants_secret(self):
        self.assertEqual(self.serve.post_webhook(fixture("text.json"), path="/webhook/acme")[0], 200)
        self.assertEqual(self.serve.post_webhook(fixture("text.json"), path="/webhook/nobody")[0], 404)
        # beta's path does not accept acme's number: counted, not queued.
        self.assertEqual(self.serve.post_webhook(fixture("text_reply_context.json"), path="/webhook/beta")[0], 200)
        self.assertEqual(self.xlen(STREAM_A), 1)

    def test_unknown_phone_number_is_counted_not_queued(self):
        body = fixture("text.json").replace(TENANT_A.encode(), b"999999999999999")
        self.assertEqual(self.serve.post_webhook(body)[0], 200)
        self.assertEqual(self.xlen(STREAM_A), 0)
        metrics = self.serve.request("GET", "/metrics")[1].decode()
        self.assertIn('wappa_webhook_unknown_number_total{phone_number_id="999999999999999"} 1', metrics)

    def test_malformed_json_is_400_and_oversized_body_is_413(self):
        status, body = self.serve.post_webhook(b'{"entry": [')
        self.assertEqual(status, 400)
        self.assertIn(b"malformed JSON", body)
        big = b'{"entry":[],"pad":"' + b"x" * (70 * 1024) + b'"}'
        self.assertEqual(self.serve.post_webhook(big)[0], 413)

    def raw(self, data):
        """Sends bytes as they are; the whole answer until the server closes or goes quiet."""
        with socket.create_connection(("127.0.0.1", self.serve.port), timeout=5) as c:
            c.sendall(data)
            out = b""
            try:
                while chunk := c.recv(65536):
                    out += chunk
            except socket.timeout:
                pass
            return out

    def test_http_limits_and_smuggling_attempts_are_refused(self):
        body = fixture("text.json")
        signed = sign(body)
        cases = [
            # Content-Length and Transfer-Encoding together: the request-smuggling shape
            (b"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", b" 400 "),
            (b"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde", b" 400 "),
            (b"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", b" 400 "),
            (b"POST /webhook HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked, identity\r\n\r\n", b" 400 "),
            (b"GET /" + b"a" * 10_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", b" 414 "),
            (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"v" * 70_000 + b"\r\n\r\n", b" 431 "),
            (b"GET / HTTP/1.1\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(150)) + b"\r\n", b" 431 "),
            (b"GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n", b" 400 "),
        ]
        for request, status in cases:
            answer = self.raw(request)
            self.assertIn(status, answer.split(b"\r\n", 1)[0], request[:60])
        self.assertEqual(self.xlen(STREAM_A), 0, "nothing refused was queued")
        # A smuggled second request after a valid one in the same bytes is read as its own request
        # (and refused on its own merits), never as part of the first one's body.
        smuggled = (b"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Hub-Signature-256: " +
                    signed.encode() + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body +
                    b"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
        answers = self.raw(smuggled)
        self.assertEqual(answers.count(b"HTTP/1.1 "), 2, answers)
        self.assertIn(b"HTTP/1.1 200", answers)
        self.assertIn(b"HTTP/1.1 401", answers)
        self.assertEqual(self.xlen(STREAM_A), 1)

    def test_redis_acl_login_and_a_refused_password_never_printed(self):
        self.serve.stop()
        self.redis.cli("ACL", "SETUSER", "gateway", "on", ">s3cret-pass", "~*", "&*", "+@all")
        self.redis.cli("ACL", "SETUSER", "default", "off")

        class Login:
            url = self.redis.url_as("gateway", "s3cret-pass")

        self.serve = Serve(Login())
        self.assertEqual(self.serve.post_webhook(fixture("text.json"))[0], 200)
        self.assertEqual(self.redis.cli_as("gateway", "s3cret-pass", "XLEN", STREAM_A), "1")

        Login.url = self.redis.url_as("gateway", "wrong-pass")
        config = os.path.join(self.serve.dir.name, "wrong.toml")
        write_config(self.serve.dir.name, Login.url, free_port())
        os.replace(os.path.join(self.serve.dir.name, "wappa.toml"), config)
        r = run("-c", config, "stats")
        self.assertEqual(r.returncode, 69, r.stderr)
        self.assertIn("redis", r.stderr.lower())
        self.assertNotIn("wrong-pass", r.stderr)
        shown = run("-c", config, "config", "show")
        self.assertNotIn("wrong-pass", shown.stdout + shown.stderr)

    def test_verification_handshake(self):
        ok = "/webhook?hub.mode=subscribe&hub.verify_token=verify-acme&hub.challenge=1158201444"
        self.assertEqual(self.serve.request("GET", ok), (200, b"1158201444"))
        self.assertEqual(self.serve.request("GET", ok.replace("/webhook?", "/webhook/acme?"))[0], 200)
        self.assertEqual(self.serve.request("GET", ok.replace("/webhook?", "/webhook/beta?"))[0], 403)
        self.assertEqual(self.serve.request("GET", ok.replace("verify-acme", "wrong"))[0], 403)
        self.assertEqual(self.serve.request("GET", ok.replace("subscribe", "unsubscribe"))[0], 403)

    def test_health_and_metrics(self):
        status, body = self.serve.request("GET", "/api/admin/health")
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body)["checks"]["redis"]["status"], "up")
        self.serve.post_webhook(fixture("status_read.json"))
        metrics = self.serve.request("GET", "/metrics")[1].decode()
        self.assertIn('wappa_webhook_events_total{type="status:read"} 1', metrics)
        self.assertIn("wappa_webhook_duration_seconds_count", metrics)

    def test_sigterm_stops_promptly(self):
        self.serve.proc.terminate()
        start = time.monotonic()
        self.assertEqual(self.serve.proc.wait(timeout=15), 0)
        self.assertLess(time.monotonic() - start, 5)


if __name__ == "__main__":
    unittest.main()
