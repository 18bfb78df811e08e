#!/usr/bin/python3
"""A misbehaving replica for the upstream tests: it answers /heartbeat and
/home like lb-replica, and on other paths sends exactly the bytes of a
broken, hostile or merely unusual answer, so that a test can see what the
load balancer makes of them.  Started by the real control plane through
LB_REPLICA_BIN (same SERVER_ID / PORT / HOST as lb-replica).

  /case/<name>        the canned answer CASES[name]; then the connection is
                      left open, and whether the load balancer sends another
                      request on it (it must not) or closes it is counted
  /cut                a head with Content-Length 100000, 10,000 bytes, a
                      pause, then the connection is closed
  /silent             never answers
  /download?size=N&framing=length|chunked|close
                      N bytes of a known pattern
  /stream?size=N&rate=R
                      N bytes of the pattern (Content-Length), R bytes a
                      second: a long download
  /fail?on=ID         500 on the replica with SERVER_ID == ID (its
                      heartbeats still pass: a gray failure); elsewhere
                      the server id
  /upload             reads the body (length or chunked), answers its size
                      and SHA-256
  /drop?on=ID         on the replica with SERVER_ID == ID: reads the
                      request, then closes without answering; elsewhere
                      answers the server id and the body size
  /act?on=ID          counts the request (acted on), then on the replica
                      with SERVER_ID == ID closes without answering (it
                      "died before answering"); elsewhere answers the count
  /home?delay_ms=N    /home, answered after N ms
  /stats              what happened to connections after a bad answer

A replica whose name (LB_REPLICA_NAME, set by the process driver) starts
with "slow" takes SLOW_START_S seconds to start listening.  On SIGTERM it
dies at once, like many real servers: answers in flight are cut.
"""
import hashlib
import json
import os
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

SERVER_ID = os.environ.get("SERVER_ID", "0")
PATTERN = bytes(range(256)) * 256  # 64 KiB


def ok(body, extra=b""):
    return (b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n" % len(body) +
            extra + b"\r\n" + body)


# name -> the raw answer.  Each is a case of the upstream tests.
CASES = {
    "interim-100": b"HTTP/1.1 100 Continue\r\n\r\n" + ok(b"final"),
    "interim-102": b"HTTP/1.1 102 Processing\r\n\r\n" + ok(b"final"),
    "interim-103": (b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload"
                    b"\r\n\r\n" + ok(b"final")),
    "bare-lf": b"HTTP/1.1 200 OK\nContent-Length: 2\nX-A: y\r\n\r\nok",
    "bare-lf-one": b"HTTP/1.1 200 OK\r\nContent-Length: 2\nX-A: y\r\n\r\nok",
    "head-too-big": (b"HTTP/1.1 200 OK\r\n" +
                     b"".join(b"X-Filler-%05d: %s\r\n" % (i, b"v" * 1000)
                              for i in range(70)) +
                     b"Content-Length: 2\r\n\r\nok"),
    "too-many-headers": (b"HTTP/1.1 200 OK\r\n" +
                         b"".join(b"X-H%d: v\r\n" % i for i in range(101)) +
                         b"Content-Length: 2\r\n\r\nok"),
    "garbage-status": b"HTTP/1.1 2x0 OK\r\nContent-Length: 2\r\n\r\nok",
    "garbage": b"SSH-2.0-OpenSSH_9.2\r\n\r\n",
    "status-600": b"HTTP/1.1 600 Odd\r\nContent-Length: 2\r\n\r\nok",
    "status-099": b"HTTP/1.1 099 Odd\r\nContent-Length: 2\r\n\r\nok",
    "status-101": (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n"
                   b"Connection: upgrade\r\n\r\n"),
    "cl-negative": b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\nok",
    "cl-nonnumeric": b"HTTP/1.1 200 OK\r\nContent-Length: 2a\r\n\r\nok",
    "cl-overflow": (b"HTTP/1.1 200 OK\r\nContent-Length: "
                    b"184467440737095516160\r\n\r\nok"),
    "cl-repeated": (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                    b"Content-Length: 3\r\n\r\nok"),
    "cl-and-chunked": (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                       b"Transfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"),
    "te-unknown": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nokok",
    "te-gzip-chunked": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked"
                        b"\r\n\r\n2\r\nok\r\n0\r\n\r\n"),
    "chunk-overflow": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                       b"FFFFFFFFFFFFFFFFFFFF\r\nok\r\n0\r\n\r\n"),
    "chunk-cut": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"5\r\nabcdefgh\r\n0\r\n\r\n"),
    "obs-fold": (b"HTTP/1.1 200 OK\r\nX-A: one\r\n two\r\n"
                 b"Content-Length: 2\r\n\r\nok"),
    "name-space": b"HTTP/1.1 200 OK\r\nX A: b\r\nContent-Length: 2\r\n\r\nok",
    "extra-bytes": ok(b"first") + b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n"
                                  b"\r\nsecond",
    "no-content-with-body": (b"HTTP/1.1 204 No Content\r\nContent-Length: 5"
                             b"\r\n\r\n"),
    "not-modified-with-body": (b"HTTP/1.1 304 Not Modified\r\n"
                               b"Content-Length: 5\r\n\r\n"),
    "head-with-body": ok(b"hello"),  # for HEAD: the body is extra bytes
    "chunked-ok": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                   b"X-Case: chunked\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n"
                   b"X-Trailer: t\r\n\r\n"),
    "close-delimited": b"HTTP/1.1 200 OK\r\nX-Case: close\r\n\r\nuntil close",
    "hop-by-hop": (b"HTTP/1.1 200 OK\r\nConnection: X-Secret, keep-alive\r\n"
                   b"X-Secret: s\r\nKeep-Alive: timeout=5\r\nX-Kept: k\r\n"
                   b"Content-Length: 2\r\n\r\nok"),
    "teapot": (b"HTTP/1.1 418 I'm a teapot\r\nContent-Length: 15\r\n\r\n"
               b"short and stout"),
}
# Cases after which the connection is fine to use again.
CLEAN = {"interim-100", "interim-102", "interim-103", "chunked-ok",
         "hop-by-hop", "teapot", "no-content-with-body",
         "not-modified-with-body"}
# Cases whose connection the replica closes itself after the answer.
CLOSE_AFTER = {"close-delimited"}

stats = {"conns": 0, "reused_after_bad": 0, "closed_after_bad": 0,
         "uploads": 0, "acted": 0}
lock = threading.Lock()


def count(key):
    with lock:
        stats[key] += 1


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def setup(self):
        super().setup()
        self.bad = False
        count("conns")

    def finish(self):
        if self.bad:
            count("closed_after_bad")
        super().finish()

    def handle_one_request(self):
        if self.bad:
            # Anything more on a connection after a bad answer is a
            # request the load balancer should not have sent here.
            line = self.rfile.readline(65537)
            if line:
                count("reused_after_bad")
            self.close_connection = True
            return
        super().handle_one_request()

    def raw(self, data):
        self.wfile.write(data)
        self.wfile.flush()

    def send(self, status, body, ctype="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def read_body(self):
        """Yields the request body as it arrives (length or chunked)."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b""):
                        pass
                    return
                left = size
                while left:
                    piece = self.rfile.read(min(left, 1 << 20))
                    if not piece:
                        raise ConnectionError("chunk cut short")
                    left -= len(piece)
                    yield piece
                self.rfile.readline()
        left = int(self.headers.get("Content-Length") or 0)
        while left:
            piece = self.rfile.read(min(left, 1 << 20))
            if not piece:
                raise ConnectionError("body cut short")
            left -= len(piece)
            yield piece

    def answer(self):
        url = urlsplit(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        path = url.path
        if path == "/drop":
            n = sum(len(p) for p in self.read_body())
            if q.get("on") == SERVER_ID:
                self.close_connection = True
                return
            return self.send(200, json.dumps(
                {"server": int(SERVER_ID), "bytes": n}).encode())
        if path == "/act":
            for _ in self.read_body():
                pass
            count("acted")
            if q.get("on") == SERVER_ID:
                self.close_connection = True
                return
            return self.send(200, json.dumps(stats).encode())
        if path != "/upload":
            for _ in self.read_body():
                pass
        if path == "/heartbeat":
            return self.send(200, b"")
        if path == "/home":
            time.sleep(int(q.get("delay_ms", "0")) / 1000)
            return self.send(200, json.dumps(
                {"message": f"Hello from Server: {SERVER_ID}",
                 "status": "successful"}).encode())
        if path == "/stats":
            with lock:
                return self.send(200, json.dumps(stats).encode())
        if path.startswith("/case/"):
            name = path[len("/case/"):]
            self.raw(CASES[name])
            if name in CLOSE_AFTER:
                self.close_connection = True
            else:
                self.bad = name not in CLEAN
            return
        if path == "/cut":
            self.raw(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" +
                     PATTERN[:10000])
            time.sleep(0.3)
            self.close_connection = True
            return
        if path == "/silent":
            time.sleep(float(q.get("seconds", "30")))
            self.close_connection = True
            return
        if path == "/download":
            return self.download(int(q["size"]), q.get("framing", "length"))
        if path == "/stream":
            return self.stream(int(q["size"]), int(q["rate"]))
        if path == "/fail":
            if q.get("on") == SERVER_ID:
                return self.send(500, b'{"message":"gray","status":"failure"}')
            return self.send(200, json.dumps(
                {"server": int(SERVER_ID)}).encode())
        if path == "/upload":
            h, n = hashlib.sha256(), 0
            for piece in self.read_body():
                h.update(piece)
                n += len(piece)
            count("uploads")
            return self.send(200, json.dumps(
                {"bytes": n, "sha256": h.hexdigest()}).encode())
        self.send(404, b'{"message":"no","status":"failure"}')

    def stream(self, size, rate):
        self.raw(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream"
                 b"\r\nContent-Length: %d\r\n\r\n" % size)
        piece = max(1, min(len(PATTERN), rate // 20))
        sent, t0 = 0, time.monotonic()
        while sent < size:
            n = min(piece, size - sent)
            self.wfile.write(PATTERN[:n])
            self.wfile.flush()
            sent += n
            ahead = sent / rate - (time.monotonic() - t0)
            if ahead > 0:
                time.sleep(ahead)

    def download(self, size, framing):
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
        if framing == "length":
            head += b"Content-Length: %d\r\n" % size
        elif framing == "chunked":
            head += b"Transfer-Encoding: chunked\r\n"
        else:
            head += b"Connection: close\r\n"
        self.raw(head + b"\r\n")
        left = size
        while left:
            piece = PATTERN[:min(left, len(PATTERN))]
            if framing == "chunked":
                self.wfile.write(b"%x\r\n" % len(piece) + piece + b"\r\n")
            else:
                self.wfile.write(piece)
            left -= len(piece)
        if framing == "chunked":
            self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
        if framing == "close":
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = \
        do_HEAD = answer


SLOW_START_S = 4.0


def main():
    if os.environ.get("LB_REPLICA_NAME", "").startswith("slow"):
        time.sleep(SLOW_START_S)
    # A backlog that takes the data plane's pool opening at once (the
    # default of 5 would refuse connections under a burst).
    ThreadingHTTPServer.request_queue_size = 256
    srv = ThreadingHTTPServer((os.environ.get("HOST", "127.0.0.1"),
                               int(os.environ["PORT"])), Handler)
    srv.daemon_threads = True
    srv.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    srv.serve_forever()


if __name__ == "__main__":
    main()
