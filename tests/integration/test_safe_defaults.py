"""Safe by default: hostile clients, a hostile replica and a hostile
neighbour on the same host change nothing they should not.  (The Docker
deployment's side of the same rules is in tests/e2e/test_docker.py.)"""
import http.client
import os
import re
import socket

import requests

from lbtest import wait_for

LOG_LINE = 4096  # the access log's longest line


def raw_request(port, head, body=b"", timeout=10):
    """Sends bytes as they are; returns the status and the whole answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(head + body)
        data = b""
        while b"\r\n\r\n" not in data:
            piece = s.recv(65536)
            if not piece:
                break
            data += piece
    return int(data.split(b" ", 2)[1]), data


# ---- 1. the access log: every line whole, printable and bounded ----------

def test_access_log_lines_stay_whole_with_long_paths(stack_factory, tmp_path):
    log = tmp_path / "access.log"
    s = stack_factory(dp_env={"LB_ACCESS_LOG": str(log)}).start()
    skip = len(log.read_bytes().splitlines())
    lengths = [4000, 5000, 8000, 12000, 16000]
    for n in lengths:
        path = "/" + "a" * (n - 1)
        status, _ = raw_request(
            s.port, f"GET {path} HTTP/1.1\r\nHost: x\r\n"
            "Connection: close\r\n\r\n".encode())
        assert status == 400  # no replica serves it: the assignment's 400
    # Escaped characters take up to four bytes each in the line.
    quoted = "/" + '"' * 3000 + "%01" * 1000
    raw_request(s.port, f"GET {quoted} HTTP/1.1\r\nHost: x\r\n"
                "Connection: close\r\n\r\n".encode())
    wait_for(lambda: len(log.read_bytes().splitlines()) >= skip + 6, 5,
             what="6 more lines")
    data = log.read_bytes()
    assert data.endswith(b"\n")
    lines = data.splitlines()[skip:]
    assert len(lines) == 6, lines
    for line in lines:
        assert len(line) < LOG_LINE, len(line)
        assert all(0x20 <= c < 0x7f for c in line), line[:200]
        # whole: the last field is there, after the cut path
        assert re.search(rb" status=400 .* request_id=\d+$", line), line[-300:]
    for line, n in zip(lines, lengths):
        assert b'path="/aaaa' in line and b'..."' in line, line[:100]
        assert f"path_len={n}".encode() in line


# ---- 3. a request that is not idempotent runs at most once ---------------

BAD = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                   "bad_replica.py")


def acted(stack, on_port=None):
    """How many requests the (one) replica acted on."""
    return requests.get(stack.url("/act?on=none"), timeout=5).json()["acted"]


def test_post_that_breaks_a_pooled_connection_is_sent_once(stack_factory):
    # One replica that acts on /act and closes without answering; pooled
    # keep-alive connections to it exist (the /home requests made them).
    s = stack_factory(replicas=1, replica_bin=BAD).start()
    with requests.Session() as sess:
        for _ in range(20):
            assert sess.get(s.url("/home"), timeout=5).status_code == 200
    before = acted(s)
    outcomes = []
    for _ in range(5):
        with requests.Session() as sess:
            r = sess.post(s.url("/act?on=1"), data=b"pay once", timeout=10)
            outcomes.append(r.status_code)
            # Keep-alive connections back to the pool for the next POST.
            for _ in range(3):
                sess.get(s.url("/home"), timeout=5)
    assert outcomes == [502] * 5
    # The check itself is one more acted-on request.
    assert acted(s) - before == 5 + 1


def test_idempotent_request_still_goes_again_on_a_fresh_connection(
        stack_factory):
    s = stack_factory(replicas=1, replica_bin=BAD).start()
    with requests.Session() as sess:
        for _ in range(10):
            assert sess.get(s.url("/home"), timeout=5).status_code == 200
    before = acted(s)
    r = requests.put(s.url("/act?on=1"), data=b"same twice", timeout=10)
    assert r.status_code == 502
    # A PUT may be sent again (it is idempotent): on the pooled connection
    # that broke, then on a fresh one.
    assert acted(s) - before >= 2
