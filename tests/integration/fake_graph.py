"""A fake Graph API on loopback: records every send and answers as scripted (fault injection)."""
import json
import socket
import ssl
import struct
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeGraph:
    """Answers are scripted per recipient: a list of (status, body, headers) answered in turn, or
    ("hang", seconds, answer) to answer late, ("reset",) to reset the connection once the request
    is read, ("garbage",) for a 200 whose body is not JSON. A token in `refused_tokens` gets the
    answer to an expired token (HTTP 401, code 190). `fault`, when set, answers what the script
    does not: fault(request_number, body) -> an answer, or None for the normal one."""

    def __init__(self, tls_dir=None, port=0, host="127.0.0.1", names="IP:127.0.0.1,DNS:localhost"):
        self.lock = threading.Lock()
        self.requests = []          # (path, authorization, body dict)
        self.times = []             # monotonic arrival time of each request
        self.script = {}            # recipient -> list of answers, in turn
        self.refused_tokens = set()
        self.counter = 0
        self.latency = 0.0          # seconds before answering
        self.fault = None
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
                    if answer is None and graph.fault:
                        answer = graph.fault(n, body)
                    if self.headers.get("Authorization", "").removeprefix("Bearer ") in graph.refused_tokens:
                        answer = (401, {"error": {"message": "Error validating access token: Session has expired",
                                                  "type": "OAuthException", "code": 190, "error_subcode": 463}}, {})
                if answer == ("reset",):
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.connection.close()
                    self.close_connection = True
                    return
                if answer == ("garbage",):
                    answer = (200, "<html>Service temporarily unavailable</html>", {})
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
                data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            # Python's default backlog of 5 leaves a burst of new connections unserved for
            # seconds; the Graph API accepts many at once.
            request_queue_size = 256

            def handle_error(self, request, client_address):
                pass  # a client killed mid-request (the kill -9 test) is expected, not news

        self.server = Server((host, port), Handler)
        self.ca_file = None
        if tls_dir:
            self.ca_file = self_signed_certificate(tls_dir, names)
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
