"""lb-load's open loop (--rate): requests go out on a fixed schedule
whatever the answers' speed, and each one's latency counts from when it was
due, so a server that falls behind shows it (no coordinated omission)."""
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from lbtest import lb_load


class Slow(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    delay = 0.0

    def log_message(self, *args):
        pass

    def do_GET(self):
        time.sleep(self.delay)
        body = b'{"message": "Hello from Server: 7"}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def load(port, tmp_path, *args):
    t0 = time.monotonic()
    res = lb_load(f"http://127.0.0.1:{port}/home", tmp_path, *args,
                  timeout=60)
    return res, time.monotonic() - t0


def serve(delay):
    handler = type("H", (Slow,), {"delay": delay})
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def test_rate_sends_on_schedule(tmp_path):
    srv = serve(0)
    try:
        res, took = load(srv.server_port, tmp_path, "--rate", "200",
                         "--requests", "400", "--concurrency", "8")
    finally:
        srv.shutdown()
    assert res["ok"] == 400 and res["rate"] == 200
    assert 1.9 < took < 4, took  # 400 at 200/s: 2 s, not as fast as it can
    assert res["servers"] == {"7": 400}


def test_a_server_that_falls_behind_shows_in_the_latency(tmp_path):
    """One connection, 100 ms answers, 20 due a second: each request waits
    for the ones before it.  A closed loop would report 100 ms for all."""
    srv = serve(0.1)
    try:
        closed, _ = load(srv.server_port, tmp_path, "--requests", "20",
                         "--concurrency", "1")
        opened, _ = load(srv.server_port, tmp_path, "--rate", "20",
                         "--requests", "20", "--concurrency", "1")
    finally:
        srv.shutdown()
    assert closed["latency_ms"]["p99"] < 400, closed
    # The 20th was due at 0.95 s and answered near 2 s: ~1 s late.
    assert opened["latency_ms"]["max"] > 800, opened
    assert opened["latency_ms"]["p50"] > 300, opened
