"""Proxying of every other path (contract.md, "Any other path")."""
import os
import socket

import pytest
import requests

from lbstack import server_id

ECHO = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                    "echo_replica.py")


@pytest.fixture(scope="module")
def echo_stack(tmp_path_factory):
    """Three echo replicas (they show what the load balancer sent)."""
    from lbstack import Stack
    s = Stack(tmp_path_factory.mktemp("echo"), replica_bin=ECHO).start()
    yield s
    s.stop()


def test_home_spreads_by_server_id(stack):
    ids = set()
    with requests.Session() as sess:  # keep-alive to the data plane
        for _ in range(300):
            r = sess.get(stack.url("/home"), timeout=10)
            assert r.status_code == 200
            assert r.json()["status"] == "successful"
            ids.add(server_id(r))
    assert ids <= {1, 2, 3}
    assert 1 in ids  # the assignment's functions favour server 1


def test_unknown_path_is_the_assignments_400(stack):
    r = stack.get("/other?x=1")
    assert r.status_code == 400
    assert r.json() == {
        "message": "<Error> '/other' endpoint does not exist in server replicas",
        "status": "failure"}


def test_replica_404_becomes_400_with_real_path(echo_stack):
    r = echo_stack.get("/missing?q=2")
    assert r.status_code == 400
    assert r.json()["message"] == \
        "<Error> '/missing' endpoint does not exist in server replicas"


def test_method_path_query_headers_body_travel(echo_stack):
    r = requests.post(echo_stack.url("/some/path?a=1&b=two"),
                      data=b"payload-bytes",
                      headers={"X-Custom": "v1", "Content-Type": "text/plain",
                               "X-Request-ID": "client-chosen"},
                      timeout=10)
    assert r.status_code == 200
    j = r.json()
    assert j["method"] == "POST"
    assert j["path"] == "/some/path?a=1&b=two"
    assert j["body"] == "payload-bytes"
    assert j["headers"]["x-custom"] == "v1"
    assert j["headers"]["content-type"] == "text/plain"
    # The key the ring used: a 6-digit request id drawn by the balancer.
    rid = j["headers"]["x-request-id"]
    assert rid.isdigit() and 100000 <= int(rid) <= 999999
    assert "connection" not in j["headers"] or \
        j["headers"]["connection"].lower() != "upgrade"
    assert r.headers["X-Echo"] == "1"


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH",
                                    "OPTIONS"])
def test_every_method_is_proxied(echo_stack, method):
    r = requests.request(method, echo_stack.url("/m"), data=b"x", timeout=10)
    assert r.status_code == 200
    assert r.json()["method"] == method


def test_head_is_proxied_without_body(echo_stack):
    r = requests.head(echo_stack.url("/h"), timeout=10)
    assert r.status_code == 200
    assert r.content == b""
    assert int(r.headers["Content-Length"]) > 0


def test_status_and_headers_come_back(echo_stack):
    r = echo_stack.get("/teapot")
    assert r.status_code == 418
    assert r.text == "short and stout"
    assert r.headers["X-Teapot"] == "yes"
    assert r.headers["Content-Type"] == "text/plain"


def test_oversized_request_body_is_413(stack_factory):
    s = stack_factory(replica_bin=ECHO, dp_env={"LB_MAX_BODY": "1000"}).start()
    r = requests.post(s.url("/x"), data=b"y" * 5000, timeout=10)
    assert r.status_code == 413
    assert s.get("/x").status_code == 200


def test_keep_alive_from_client(stack):
    with socket.create_connection(("127.0.0.1", stack.port), timeout=5) as c:
        for _ in range(5):
            c.sendall(b"GET /home HTTP/1.1\r\nHost: x\r\n\r\n")
            head = b""
            while b"\r\n\r\n" not in head:
                head += c.recv(4096)
            hdr, _, rest = head.partition(b"\r\n\r\n")
            length = int([l for l in hdr.split(b"\r\n")
                          if l.lower().startswith(b"content-length")][0]
                         .split(b":")[1])
            while len(rest) < length:
                rest += c.recv(4096)
            assert b"200 OK" in hdr.split(b"\r\n")[0]


def test_no_replica_is_503(stack_factory):
    s = stack_factory(replicas=0).start()
    r = s.get("/home")
    assert r.status_code == 503
    assert r.json() == {"message": "<Error> No server replicas available",
                        "status": "failure"}
