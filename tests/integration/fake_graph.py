"""A fake Graph API on loopback: records every send and answers as scripted (fault injection)."""
import json
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeGraph:
    def __init__(self, tls_dir=None):
        self.lock = threading.Lock()
        self.requests = []          # (path, authorization, body dict)
        self.times = []             # monotonic arrival time of each request
        self.script = {}            # recipient -> list of (status, body, headers) answered in turn
        self.counter = 0
        self.latency = 0.0          # seconds before answering
        graph = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                if graph.latency:
                    time.sleep(graph.latency)
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length))
                with graph.lock:
                    graph.requests.append((self.path, self.headers.get("Authorization"), body))
                    graph.times.append(time.monotonic())
                    graph.counter += 1
                    answers = graph.script.get(body.get("to") or body.get("message_id"), [])
                    answer = answers.pop(0) if answers else None
                    n = graph.counter
                if answer is None:
                    if body.get("status") == "read":
                        answer = (200, {"success": True}, {})
                    else:
                        answer = (200, {"messaging_product": "whatsapp",
                                        "contacts": [{"input": body["to"], "wa_id": body["to"]}],
                                        "messages": [{"id": f"wamid.FAKE{n}", "message_status": "accepted"}]}, {})
                if answer[0] == "hang":   # a Graph API that takes this long to answer
                    time.sleep(answer[1])
                    answer = answer[2]
                status, payload, headers = answer
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # a client killed mid-request (the kill -9 test) is expected, not news

        self.server = Server(("127.0.0.1", 0), Handler)
        self.ca_file = None
        if tls_dir:
            self.ca_file = self_signed_certificate(tls_dir)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.ca_file, self.ca_file.replace("cert.pem", "key.pem"))
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.scheme = "https" if tls_dir else "http"
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def sent_ids(self):
        with self.lock:
            return [b.get("biz_opaque_callback_data") for _, _, b in self.requests]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def graph_error(code, message="error", http=400):
    return (http, {"error": {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "X"}}, {})


def self_signed_certificate(directory, names="IP:127.0.0.1,DNS:localhost"):
    """A certificate for 127.0.0.1 that is its own CA: graph.ca_file trusts it."""
    cert, key = f"{directory}/cert.pem", f"{directory}/key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", f"subjectAltName={names}", "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    return cert
