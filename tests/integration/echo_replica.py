#!/usr/bin/python3
"""A stand-in replica for proxy tests: answers /heartbeat, 404s /missing,
and echoes everything else (method, path, headers, body) as JSON, so a test
can see exactly what the load balancer sent.  Started by the real control
plane through LB_REPLICA_BIN, like lb-replica (same SERVER_ID/PORT/HOST)."""
import json
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SERVER_ID = os.environ["SERVER_ID"]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = self.path.split("?")[0]
        if path == "/heartbeat":
            return self._send(200, b"")
        if path == "/missing":
            return self._send(404, b'{"message":"no","status":"failure"}')
        if path == "/teapot":
            return self._send(418, b"short and stout",
                              [("X-Teapot", "yes"), ("Content-Type", "text/plain")])
        out = {"message": f"Echo from Server: {SERVER_ID}",
               "method": self.command, "path": self.path,
               "headers": {k.lower(): v for k, v in self.headers.items()},
               "body": body.decode("latin-1")}
        self._send(200, json.dumps(out).encode(),
                   [("Content-Type", "application/json"), ("X-Echo", "1")])

    def _send(self, status, body, headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = \
        do_HEAD = _answer


def main():
    srv = ThreadingHTTPServer((os.environ.get("HOST", "127.0.0.1"),
                               int(os.environ["PORT"])), Handler)
    srv.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    srv.serve_forever()


if __name__ == "__main__":
    main()
