"""The message API of `wappa serve` (INTERFACE.md §3, §4)."""
import json
import unittest

from harness import ServeCase, Subscriber, run


def post(serve, path, body, token):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    status, data = serve.request("POST", path, json.dumps(body).encode(), headers)
    return status, json.loads(data) if data else None


class MessageApiTest(ServeCase):
    def test_queue_a_message_and_notify(self):
        sub = Subscriber(self.serve.config, "--event", "outgoing_message", "--count", "1", "--timeout", "10")
        job = {"type": "text_message", "to_number": "+16505551234", "text": "hello", "message_id": "api-1"}
        status, body = post(self.serve, "/api/v1/messages", job, "api-acme")
        self.assertEqual((status, body), (202, {"message_id": "api-1", "status": "queued"}))
        code, notes = sub.finish()
        self.assertEqual(code, 0)
        self.assertEqual(notes[0]["tenant"], "acme")
        self.assertEqual(notes[0]["user_id"], "16505551234")
        self.assertEqual(notes[0]["data"], {"message_id": "api-1", "message_type": "text_message", "recipient": "16505551234"})
        state = json.loads(run("-c", self.serve.config, "inspect", "api-1", "--json").stdout)
        self.assertEqual(state["status"], "queued")
        self.assertEqual(state["body"]["text"]["body"], "hello")
        # The same job again is not queued twice; another body under the same id is a conflict.
        self.assertEqual(post(self.serve, "/api/v1/messages", job, "api-acme")[0], 202)
        status, body = post(self.serve, "/api/v1/messages", dict(job, text="other"), "api-acme")
        self.assertEqual(status, 409)
        self.assertEqual(body["field"], "message_id")

    def test_auth_and_validation(self):
        job = {"type": "text_message", "tenant": "acme", "to_number": "16505551234", "text": "hi"}
        self.assertEqual(post(self.serve, "/api/v1/messages", job, None)[0], 401)
        self.assertEqual(post(self.serve, "/api/v1/messages", job, "wrong")[0], 401)
        self.assertEqual(post(self.serve, "/api/v1/messages", job, "api-beta")[0], 403)
        self.assertEqual(post(self.serve, "/api/v1/messages", job, "admin-secret")[0], 202)
        status, body = post(self.serve, "/api/v1/messages", dict(job, text=""), "api-acme")
        self.assertEqual((status, body["field"]), (400, "text"))
        status, body = post(self.serve, "/api/v1/messages", dict(job, to_number="12"), "api-acme")
        self.assertEqual((status, body["field"]), (400, "to_number"))
        status, body = post(self.serve, "/api/v1/messages", {k: v for k, v in job.items() if k != "tenant"}, "admin-secret")
        self.assertEqual((status, body["field"]), (400, "tenant"))

    def test_compatibility_route(self):
        status, body = post(self.serve, "/api/whatsapp/messages/text", {"recipient": "5511987654321", "text": "oi"}, "api-beta")
        self.assertEqual(status, 202, body)
        state = json.loads(run("-c", self.serve.config, "inspect", body["message_id"], "--json").stdout)
        self.assertEqual((state["tenant"], state["to"]), ("beta", "5511987654321"))


if __name__ == "__main__":
    unittest.main()
