"""Hostile input to the data plane: malformed admin bodies beyond the
contract tables, malformed HTTP, slow clients.  Each gets a clean 4xx or a
close; nothing crashes and everyone else is still served."""
import socket
import threading
import time

import pytest
import requests

from lbtest import wait_for

DEEP = "[" * 5000 + "]" * 5000

MORE_BAD_ADD = [
    ("", "must be a JSON object"),
    (" ", "must be a JSON object"),
    ("null", "must be a JSON object"),
    ("true", "must be a JSON object"),
    ("3", "must be a JSON object"),
    ('{"n": 2', "must be a JSON object"),
    ('{"n": 2,}', "must be a JSON object"),
    ('{"n": [2]}', "'n' must be an integer"),
    ('{"n": {"v": 2}}', "'n' must be an integer"),
    ('{"n": 1e20}', "too large"),
    ('{"n": -1e20}', "at least 1"),
    ('{"n": 0.0}', "at least 1"),
    ('{"n": 2.5, "hostnames": []}', "'n' must be an integer"),
    ('{"N": 2}', "'n' is missing"),
    ('{"n": 1, "hostnames": [null]}', "array of strings"),
    ('{"n": 1, "hostnames": [["S1"]]}', "array of strings"),
    ('{"n": 1, "hostnames": {"a": "S1"}}', "array of strings"),
    ('{"n": 1, "hostnames": ["S\\u0000x"]}', "NUL"),
    ('{"n": 1, "hostnames": ["\\ud83d\\ude00"]}', "not a valid replica name"),
    ('{"n": 1, "hostnames": ["../etc"]}', "not a valid replica name"),
    ('{"n": 1, "hostnames": ["a;rm -rf /"]}', "not a valid replica name"),
    ('{"n": 1, "hostnames": ["' + "b" * 5000 + '"]}',
     "not a valid replica name"),
    ('{"n": 3, "hostnames": ["A", "B", "A"]}', "listed twice"),
    ('{"n": 2, "hostnames": ["server1", "new1"]}', "already exists"),
    ('{"n": 999999999}', "maximum of 50"),
    (DEEP, "must be a JSON object"),
    ('{"a":' * 3000 + "1" + "}" * 3000, "must be a JSON object"),
]


@pytest.mark.parametrize("body,needle", MORE_BAD_ADD,
                         ids=[f"add{i}" for i in range(len(MORE_BAD_ADD))])
def test_more_bad_add_bodies(shared_stack, body, needle):
    r = requests.post(shared_stack.url("/add"), data=body.encode(),
                      timeout=10)
    assert 400 <= r.status_code < 500, r.text
    j = r.json()
    assert j["status"] == "failure" and needle in j["message"], j
    assert shared_stack.rep()["message"]["N"] == 3


def raw(port, data, timeout=5):
    """Sends raw bytes; returns what came back before the server closed
    (or the timeout)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        out = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
        except socket.timeout:
            pass
        return out


@pytest.mark.parametrize("data", [
    b"GARBAGE\r\n\r\n",
    b"GET\r\n\r\n",
    b"GET /home HTTP/9.9\r\n\r\n",
    b"GET /home HTTP/1.1\r\n" + b"X-Big: " + b"a" * 40000 + b"\r\n\r\n",
    b"GET /" + b"p" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    b"POST /home HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
    b"POST /home HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
    b"\x00\x01\x02\x03\xff\xfe\r\n\r\n",
    b"GET /home HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n",
], ids=["garbage", "no-target", "bad-version", "huge-header", "long-path",
        "negative-length", "huge-length", "binary", "bad-chunk"])
def test_malformed_http_gets_4xx_or_close(shared_stack, data):
    out = raw(shared_stack.port, data, timeout=3)
    if out:
        status = int(out.split(b" ", 2)[1])
        # A client error, or 505 for an HTTP version nobody speaks.
        assert 400 <= status < 500 or status == 505, out[:200]
    # Whatever happened, everyone else is still served.
    assert shared_stack.get("/home").status_code == 200


def test_slow_clients_do_not_stop_service(shared_stack):
    """Clients that open a request and never finish it hold a connection
    each; others are still served meanwhile."""
    socks = []
    try:
        for _ in range(20):
            s = socket.create_connection(("127.0.0.1", shared_stack.port))
            s.sendall(b"GET /home HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            socks.append(s)
        t0 = time.monotonic()
        with requests.Session() as sess:
            for _ in range(50):
                assert sess.get(shared_stack.url("/home"),
                                timeout=5).status_code == 200
        assert time.monotonic() - t0 < 5
    finally:
        for s in socks:
            s.close()


def test_concurrent_adds_and_removes_stay_consistent(stack):
    """100 concurrent /add and /rm: whatever order they land in, the end
    state is consistent: N == len(replicas) == running replica processes,
    and every listed replica serves."""
    from lbstack import count_replica_processes
    results = []
    lock = threading.Lock()

    def worker(i):
        if i % 2:
            r = stack.add({"n": 1})
        else:
            r = stack.rm({"n": 1})
        with lock:
            results.append(r.status_code)
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert all(code in (200, 400) for code in results), results
    m = stack.rep()["message"]
    assert m["N"] == len(m["replicas"]) == len(set(m["replicas"]))
    # Removed replicas stop once drained (nothing was in flight).
    wait_for(lambda: count_replica_processes(stack.instance) == m["N"], 10,
             what="removed replicas stopped")
    assert sorted(stack.routable()) == sorted(m["replicas"])
    added = results.count(200)
    assert added > 50  # most succeeded; a /rm at N = 0 may be refused
