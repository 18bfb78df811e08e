"""The upstream exchange against a replica that misbehaves on purpose
(bad_replica.py): strict framing of answers, interim answers, streaming of
large bodies both ways in bounded memory, and connections that are never
reused after a bad answer."""
import hashlib
import http.client
import os
import socket
import threading
import time

import pytest
import requests

from lbbodies import MiB, PATTERN, PatternFile, expected_sha, pattern_stream
from lbtest import BUILD, recv_all, wait_for
from lbtools import proc_status_kb

BAD = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                   "bad_replica.py")


@pytest.fixture(scope="module")
def bad_stack(tmp_path_factory):
    """One misbehaving replica (so every request reaches it) behind a data
    plane with a short upstream timeout."""
    from lbstack import Stack
    s = Stack(tmp_path_factory.mktemp("bad"), replicas=1, replica_bin=BAD,
              dp_env={"LB_UPSTREAM_TIMEOUT_MS": "1000"}).start()
    yield s
    s.stop()


def stats(stack):
    return requests.get(stack.url("/stats"), timeout=5).json()


def fetch(stack, path, method="GET"):
    """One request on a fresh connection: (status, headers, body, complete)
    where complete is False when the connection closed mid-answer."""
    c = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=10)
    try:
        c.request(method, path)
        r = c.getresponse()
        try:
            body, complete = r.read(), True
        except http.client.IncompleteRead as e:
            body, complete = e.partial, False
        return r.status, dict(r.getheaders()), body, complete
    finally:
        c.close()


REFUSED = ["bare-lf", "bare-lf-one", "head-too-big", "too-many-headers",
           "garbage-status", "garbage", "status-600", "status-099",
           "status-101", "cl-negative", "cl-nonnumeric", "cl-overflow",
           "cl-repeated", "cl-and-chunked", "te-unknown", "te-gzip-chunked",
           "chunk-overflow", "chunk-cut", "obs-fold", "name-space"]


@pytest.mark.parametrize("case", REFUSED)
def test_malformed_answer_is_a_clean_502_and_the_connection_closes(
        bad_stack, case):
    before = stats(bad_stack)
    t0 = time.monotonic()
    status, _, body, complete = fetch(bad_stack, f"/case/{case}")
    took = time.monotonic() - t0
    assert status == 502, body
    assert complete
    assert b"<Error> The replica's answer was refused" in body, body
    assert took < 1.0, took
    # The replica sees its connection closed, and never another request
    # on it.
    wait_for(lambda: stats(bad_stack)["closed_after_bad"] >
             before["closed_after_bad"], 2, what="connection closed")
    assert stats(bad_stack)["reused_after_bad"] == 0
    # And the data plane is still fine.
    assert bad_stack.get("/home").status_code == 200


def test_malformed_head_reason_is_named(bad_stack):
    _, _, body, _ = fetch(bad_stack, "/case/bare-lf")
    assert b"bare LF" in body
    _, _, body, _ = fetch(bad_stack, "/case/te-unknown")
    assert b"transfer coding 'gzip' is not supported" in body
    _, _, body, _ = fetch(bad_stack, "/case/too-many-headers")
    assert b"more than 100 header fields" in body
    _, _, body, _ = fetch(bad_stack, "/case/head-too-big")
    assert b"answer head over 65536 bytes" in body


@pytest.mark.parametrize("case", ["interim-100", "interim-102",
                                  "interim-103"])
def test_interim_answers_are_consumed(bad_stack, case):
    status, headers, body, complete = fetch(bad_stack, f"/case/{case}")
    assert (status, body, complete) == (200, b"final", True)
    assert "Link" not in headers  # the 103's fields stay with it


def test_bytes_after_the_answer_never_reach_another_request(bad_stack):
    before = stats(bad_stack)
    with requests.Session() as s:
        r = s.get(bad_stack.url("/case/extra-bytes"), timeout=5)
        assert (r.status_code, r.content) == (200, b"first")
        # The next requests must not see "second" (the stray answer).
        for _ in range(5):
            r = s.get(bad_stack.url("/home"), timeout=5)
            assert r.status_code == 200 and b"Hello" in r.content
    wait_for(lambda: stats(bad_stack)["closed_after_bad"] >
             before["closed_after_bad"], 2, what="connection closed")
    assert stats(bad_stack)["reused_after_bad"] == 0


@pytest.mark.parametrize("case,status", [("no-content-with-body", 204),
                                         ("not-modified-with-body", 304)])
def test_204_and_304_have_no_body_whatever_the_headers_say(bad_stack, case,
                                                           status):
    t0 = time.monotonic()
    st, headers, body, complete = fetch(bad_stack, f"/case/{case}")
    assert (st, body, complete) == (status, b"", True)
    assert time.monotonic() - t0 < 1.0
    if status == 304:
        assert headers.get("Content-Length") == "5"
    else:
        assert "Content-Length" not in headers


def test_head_answer_has_no_body_and_its_length_travels(bad_stack):
    before = stats(bad_stack)
    status, headers, body, complete = fetch(bad_stack, "/case/head-with-body",
                                            method="HEAD")
    assert (status, body, complete) == (200, b"", True)
    assert headers["Content-Length"] == "5"
    # The replica's body bytes after a HEAD answer are stray: closed.
    wait_for(lambda: stats(bad_stack)["closed_after_bad"] >
             before["closed_after_bad"], 2, what="connection closed")


def test_answer_cut_after_its_head_closes_the_client(bad_stack):
    status, headers, body, complete = fetch(bad_stack, "/cut")
    assert status == 200
    assert headers["Content-Length"] == "100000"
    assert not complete and len(body) == 10000
    log = open(bad_stack.logs[1]).read()
    assert "event=answer_cut" in log and "before the end of the answer" in log


def test_silent_replica_is_a_504_and_others_are_served(bad_stack):
    result = {}

    def slow():
        t0 = time.monotonic()
        result["status"] = fetch(bad_stack, "/silent?seconds=5")[0]
        result["took"] = time.monotonic() - t0

    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.2)
    # Meanwhile others are served at once.
    for _ in range(20):
        r = bad_stack.get("/home", timeout=2)
        assert r.status_code == 200
    t.join()
    assert result["status"] == 504
    assert 0.9 <= result["took"] < 2.5, result


def test_chunked_and_close_delimited_answers_are_rechunked(bad_stack):
    status, headers, body, complete = fetch(bad_stack, "/case/chunked-ok")
    assert (status, body, complete) == (200, b"abcdefg", True)
    assert headers["X-Case"] == "chunked"
    assert headers["Transfer-Encoding"] == "chunked"
    assert "X-Trailer" not in headers
    status, headers, body, complete = fetch(bad_stack, "/case/close-delimited")
    assert (status, body, complete) == (200, b"until close", True)
    assert headers["Transfer-Encoding"] == "chunked"


def test_http10_client_gets_a_close_delimited_body(bad_stack):
    with socket.create_connection(("127.0.0.1", bad_stack.port), 5) as s:
        s.sendall(b"GET /case/chunked-ok HTTP/1.0\r\n\r\n")
        data = recv_all(s)
    head, body = data.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200")
    assert b"transfer-encoding" not in head.lower()
    assert body == b"abcdefg"


def test_hop_by_hop_fields_stay_behind(bad_stack):
    status, headers, body, _ = fetch(bad_stack, "/case/hop-by-hop")
    assert (status, body) == (200, b"ok")
    assert headers["X-Kept"] == "k"
    assert "X-Secret" not in headers and "Keep-Alive" not in headers


def test_reason_phrase_and_unusual_status_travel(bad_stack):
    c = http.client.HTTPConnection("127.0.0.1", bad_stack.port, timeout=5)
    c.request("GET", "/case/teapot")
    r = c.getresponse()
    assert (r.status, r.reason, r.read()) == (418, "I'm a teapot",
                                              b"short and stout")
    c.close()


# ---- streaming, both ways, in bounded memory ----------------------------

def peak_rss_kb(pid):
    return proc_status_kb(pid, "VmHWM")


@pytest.fixture(scope="module")
def release_stack(tmp_path_factory):
    """The release build (no sanitizer shadow memory distorting the
    resident size), one misbehaving replica."""
    from lbstack import Stack
    build = os.environ.get("LB_RELEASE_BUILD", BUILD)
    s = Stack(tmp_path_factory.mktemp("rel"), replicas=1, replica_bin=BAD,
              build=build).start()
    yield s
    s.stop()


@pytest.mark.parametrize("framing", ["length", "chunked", "close"])
def test_100_mib_download_streams_in_bounded_memory(release_stack, framing):
    size = 100 * MiB
    dp = release_stack.dps[0][0]
    before = peak_rss_kb(dp.pid)
    h, n = hashlib.sha256(), 0
    with requests.get(release_stack.url(
            f"/download?size={size}&framing={framing}"), stream=True,
            timeout=60) as r:
        assert r.status_code == 200
        if framing == "length":
            assert r.headers["Content-Length"] == str(size)
        else:
            assert r.headers["Transfer-Encoding"] == "chunked"
        for piece in r.iter_content(MiB):
            h.update(piece)
            n += len(piece)
    assert n == size
    want = hashlib.sha256()
    left = size
    while left:
        p = PATTERN[:min(left, len(PATTERN))]
        want.update(p)
        left -= len(p)
    assert h.hexdigest() == want.hexdigest()
    grew = peak_rss_kb(dp.pid) - before
    assert grew < 32 * 1024, f"peak RSS grew by {grew} KiB"


@pytest.mark.parametrize("chunked", [False, True])
def test_100_mib_upload_streams_in_bounded_memory(release_stack, chunked):
    size = 100 * MiB
    dp = release_stack.dps[0][0]
    before = peak_rss_kb(dp.pid)
    data = pattern_stream(size) if chunked else PatternFile(size)
    r = requests.post(release_stack.url("/upload"), data=data, timeout=60)
    assert r.status_code == 200, r.text
    assert r.json() == {"bytes": size, "sha256": expected_sha(size)}
    grew = peak_rss_kb(dp.pid) - before
    assert grew < 32 * 1024, f"peak RSS grew by {grew} KiB"


def test_small_chunked_upload_goes_with_a_length(bad_stack):
    """A chunked body that fits the replay buffer travels with a plain
    length (replicas that know no chunking still get it)."""
    r = requests.post(bad_stack.url("/upload"),
                      data=iter([b"abc", b"defg"]), timeout=5)
    assert r.json() == {"bytes": 7,
                        "sha256": hashlib.sha256(b"abcdefg").hexdigest()}


def post_chunked_whole(port, size):
    """POSTs a chunked body of size bytes, sending all of it before reading
    the answer, in pieces spread over a few hundred ms (as a client
    uploading does): the answer's status, or what broke."""
    piece = 20000
    with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
        try:
            c.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\n"
                      b"Transfer-Encoding: chunked\r\n\r\n")
            for _ in range(size // piece):
                c.sendall(b"%x\r\n" % piece + b"x" * piece + b"\r\n")
                time.sleep(0.01)
            c.sendall(b"0\r\n\r\n")
            head = c.recv(4096)
        except OSError as e:
            return type(e).__name__
    return int(head.split()[1]) if head else "closed"


def test_max_body_is_an_opt_in_cap(stack_factory):
    s = stack_factory(replicas=1, replica_bin=BAD,
                      dp_env={"LB_MAX_BODY": "100000"}).start()
    r = requests.post(s.url("/upload"), data=b"x" * 200000, timeout=10)
    assert r.status_code == 413
    assert "LB_MAX_BODY" in r.json()["message"]
    # A body that passes the cap while it streams, and goes on past it:
    # the client still gets its 413 (the rest is read and dropped, within
    # bounds), never a reset while it sends.
    for _ in range(5):
        assert post_chunked_whole(s.port, 600000) == 413
    r = s.get("/download?size=200000&framing=length")
    assert r.status_code == 502
    r = s.get("/download?size=50000&framing=chunked")
    assert (r.status_code, len(r.content)) == (200, 50000)


# ---- the retry rule, and what civetweb would otherwise get wrong ---------

@pytest.fixture(scope="module")
def two_bad(tmp_path_factory):
    """Two misbehaving replicas, server1 and server2 (the assignment's
    functions send most keys to server1 first)."""
    from lbstack import Stack
    # The retry rule, without outlier ejection taking server1 away.
    s = Stack(tmp_path_factory.mktemp("two"), replicas=2,
              replica_bin=BAD,
              dp_env={"LB_EJECT_CONSECUTIVE": "0"}).start()
    yield s
    s.stop()


def drop_round(stack, method, body, n=20):
    """Requests that server1 drops unanswered: their outcomes."""
    out = []
    for _ in range(n):
        r = requests.request(method, stack.url("/drop?on=1"), data=body,
                             timeout=10)
        out.append((r.status_code,
                    r.json().get("server") if r.status_code == 200 else None))
    return out


def test_small_idempotent_request_is_retried_on_the_next_replica(two_bad):
    out = drop_round(two_bad, "PUT", b"x" * 1000)
    assert out == [(200, 2)] * len(out)


def test_non_idempotent_request_is_not_retried(two_bad):
    out = drop_round(two_bad, "POST", b"x" * 1000)
    assert (502, None) in out  # server1 was first for some keys
    assert set(out) <= {(502, None), (200, 2)}


def test_body_past_the_replay_buffer_is_not_retried_once_sent(two_bad):
    out = drop_round(two_bad, "PUT", b"x" * (300 * 1024))  # > LB_BODY_BUFFER
    assert (502, None) in out
    assert set(out) <= {(502, None), (200, 2)}


def test_websocket_upgrade_is_a_clear_501(bad_stack):
    r = requests.get(bad_stack.url("/chat"), timeout=5, headers={
        "Upgrade": "websocket", "Connection": "Upgrade",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version": "13"})
    assert r.status_code == 501
    assert "WebSocket" in r.json()["message"]


def test_expect_100_continue_gets_its_interim_answer(bad_stack):
    with socket.create_connection(("127.0.0.1", bad_stack.port), 5) as s:
        s.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                  b"Expect: 100-continue\r\n\r\n")
        first = s.recv(100)
        assert first == b"HTTP/1.1 100 Continue\r\n\r\n"
        s.sendall(b"hello")
        data = b""
        while b"}" not in data:  # the JSON answer's end
            piece = s.recv(65536)
            assert piece
            data += piece
    assert data.startswith(b"HTTP/1.1 200")
    assert hashlib.sha256(b"hello").hexdigest().encode() in data


def test_a_head_with_64_fields_is_refused_not_cut(bad_stack):
    """civetweb keeps 64 fields and drops the rest: a field past them (a
    Content-Length, say) would be lost, so such a request is refused."""
    headers = {f"X-F{i}": "v" for i in range(70)}
    r = requests.get(bad_stack.url("/home"), headers=headers, timeout=5)
    assert r.status_code == 431


def test_cors_preflight_reaches_the_replica(tmp_path):
    from lbstack import Stack
    echo = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        "echo_replica.py")
    s = Stack(tmp_path, replicas=1, replica_bin=echo).start()
    try:
        r = requests.options(s.url("/api"), timeout=5, headers={
            "Origin": "http://example.test",
            "Access-Control-Request-Method": "PUT"})
        assert r.status_code == 200
        assert r.json()["method"] == "OPTIONS"  # the replica answered
    finally:
        s.stop()
