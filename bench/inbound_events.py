#!/usr/bin/env python3
"""Posts N inbound events to `wappa serve` as signed webhooks, a realistic mix of types (from the
test fixtures): texts, media, locations, contacts, interactive selections, reactions, and status
webhooks about our messages. One user per 20 events (so a conversation holds about 20), 50
events per webhook (Meta batches under load). Standard library only.

    bench/inbound_events.py --port P --secret S --events N --fixtures tests/fixtures
"""
import argparse
import copy
import hashlib
import hmac
import http.client
import json
import os
import random

MIX = [("text.json", 45), ("image.json", 8), ("audio_voice.json", 4), ("document.json", 3), ("location.json", 4),
       ("contacts.json", 2), ("interactive_button_reply.json", 5), ("interactive_list_reply.json", 3), ("reaction.json", 4),
       ("text_reply_context.json", 4), ("status_delivered.json", 9), ("status_read.json", 9)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--secret", required=True)
    ap.add_argument("--events", type=int, default=100000)
    ap.add_argument("--per-webhook", type=int, default=50)
    ap.add_argument("--fixtures", default="tests/fixtures")
    ap.add_argument("--phone-number-id", default="106540352242922")
    a = ap.parse_args()
    rng = random.Random(7)
    shapes = {}
    for name, _ in MIX:
        with open(os.path.join(a.fixtures, name)) as f:
            shapes[name] = json.load(f)["entry"][0]["changes"][0]["value"]
    names = [n for n, w in MIX for _ in range(w)]
    users = max(1, a.events // 20)
    conn = http.client.HTTPConnection("127.0.0.1", a.port, timeout=30)
    counts = {"messages": 0, "statuses": 0}
    sent = 0
    while sent < a.events:
        n = min(a.per_webhook, a.events - sent)
        value = {"messaging_product": "whatsapp",
                 "metadata": {"display_phone_number": "15551234567", "phone_number_id": a.phone_number_id},
                 "contacts": [], "messages": [], "statuses": []}
        for i in range(n):
            k = sent + i
            shape = shapes[rng.choice(names)]
            user = f"1555{rng.randrange(users):07d}"
            if "statuses" in shape:
                status = copy.deepcopy(shape["statuses"][0])
                status["id"] = f"wamid.BENCHOUT{k}"
                status["recipient_id"] = user
                value["statuses"].append(status)
                counts["statuses"] += 1
            else:
                message = copy.deepcopy(shape["messages"][0])
                message["id"], message["from"] = f"wamid.BENCHIN{k}", user
                value["messages"].append(message)
                value["contacts"].append({"profile": {"name": f"User {user}"}, "wa_id": user})
                counts["messages"] += 1
        body = json.dumps({"object": "whatsapp_business_account",
                           "entry": [{"id": "102290129340398", "changes": [{"value": value, "field": "messages"}]}]}).encode()
        signature = "sha256=" + hmac.new(a.secret.encode(), body, hashlib.sha256).hexdigest()
        conn.request("POST", "/webhook", body, {"X-Hub-Signature-256": signature, "Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            raise SystemExit(f"webhook answered {response.status}")
        sent += n
    print(json.dumps(counts))


if __name__ == "__main__":
    main()
