"""Minimal Server-Sent Events and WebSocket clients on raw sockets (standard library only), so
that the tests control every byte: a client that stops reading, a tiny receive buffer, a
thousand of them at once."""
import base64
import json
import os
import socket
import struct
import time


class _Raw:
    def __init__(self, port, path, headers, extra, rcvbuf=None):
        self.sock = socket.socket()
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.connect(("127.0.0.1", port))
        lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", *extra]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.buffer = b""
        head = self._read_until(b"\r\n\r\n", 10)
        status_line, *header_lines = head.decode().split("\r\n")
        self.status = int(status_line.split()[1])
        self.headers = {h.split(":", 1)[0].lower(): h.split(":", 1)[1].strip() for h in header_lines if ":" in h}
        if self.status >= 300:
            length = int(self.headers.get("content-length", "0"))
            while len(self.buffer) < length:
                self._fill(5)
            self.body = self.buffer[:length]

    def _fill(self, timeout):
        self.sock.settimeout(timeout)
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("connection closed")
        self.buffer += data

    def _read_until(self, marker, timeout):
        deadline = time.monotonic() + timeout
        while marker not in self.buffer:
            self._fill(max(0.01, deadline - time.monotonic()))
        head, self.buffer = self.buffer.split(marker, 1)
        return head

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class EventStream(_Raw):
    """GET /api/v1/events: next() returns {"id", "event", "data"} (data parsed as JSON)."""

    def __init__(self, port, path="/api/v1/events", headers=None):
        super().__init__(port, path, headers, ["Accept: text/event-stream"])
        self.comments = []

    def next(self, timeout=10):
        deadline = time.monotonic() + timeout
        while True:
            block = self._read_until(b"\n\n", max(0.01, deadline - time.monotonic())).decode()
            event, data = {}, []
            for line in block.split("\n"):
                if line.startswith(":"):
                    self.comments.append(line)
                elif line.startswith("data: "):
                    data.append(line[6:])
                elif line.startswith("id: "):
                    event["id"] = line[4:]
                elif line.startswith("event: "):
                    event["event"] = line[7:]
            if data:
                event["data"] = json.loads("\n".join(data))
                return event


class WebSocket(_Raw):
    """GET /api/v1/ws: recv() returns (opcode, payload bytes); next() the next text frame as JSON."""

    def __init__(self, port, path="/api/v1/ws", headers=None, rcvbuf=None):
        key = base64.b64encode(os.urandom(16)).decode()
        super().__init__(port, path, headers, ["Upgrade: websocket", "Connection: Upgrade", f"Sec-WebSocket-Key: {key}",
                                               "Sec-WebSocket-Version: 13"], rcvbuf)
        self.key = key

    def send(self, payload, opcode=1):
        if isinstance(payload, str):
            payload = payload.encode()
        mask = os.urandom(4)
        n = len(payload)
        head = bytes([0x80 | opcode])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack("!Q", n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(head + mask + masked)

    def send_json(self, obj):
        self.send(json.dumps(obj))

    def recv(self, timeout=10):
        deadline = time.monotonic() + timeout
        while True:
            if len(self.buffer) >= 2:
                b0, b1 = self.buffer[0], self.buffer[1]
                n, at = b1 & 0x7F, 2
                if n == 126 and len(self.buffer) >= 4:
                    n, at = struct.unpack("!H", self.buffer[2:4])[0], 4
                elif n == 127 and len(self.buffer) >= 10:
                    n, at = struct.unpack("!Q", self.buffer[2:10])[0], 10
                if (b1 & 0x7F) < 126 or at > 2:
                    if len(self.buffer) >= at + n:
                        payload, self.buffer = self.buffer[at:at + n], self.buffer[at + n:]
                        return b0 & 0x0F, payload
            self._fill(max(0.01, deadline - time.monotonic()))

    def next(self, timeout=10):
        deadline = time.monotonic() + timeout
        while True:
            opcode, payload = self.recv(max(0.01, deadline - time.monotonic()))
            if opcode == 1:
                return json.loads(payload)
            if opcode == 8:
                raise EOFError(f"closed: {struct.unpack('!H', payload[:2])[0] if len(payload) >= 2 else ''} {payload[2:].decode()}")

    def answer(self, key, timeout=10):
        """The next frame that holds `key` ("published", "error"): the events the socket also
        receives may come before it."""
        frame = self.next(timeout)
        while key not in frame:
            frame = self.next(timeout)
        return frame
