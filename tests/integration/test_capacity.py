"""Thousands of clients and slow clients, within civetweb's model (one
worker per open connection): enough workers, a short head timeout, a cap
per client address, and idle connections given back first when workers run
short.  Fresh clients from another address must be served at once."""
import socket
import time

import requests

from lbclients import (HEAD, close_all, fresh_requests, open_many,
                       read_answers)
from lbtest import TIME_FACTOR, wait_for


def assert_fresh_served(port):
    res = fresh_requests(port)
    bad = [r for r in res if r[0] != b"HTTP/1.1 200 OK"]
    slowest = max(t for _, t in res)
    assert not bad, bad[:3]
    assert slowest < 0.2 * TIME_FACTOR, f"slowest {slowest * 1000:.0f} ms"


def test_1000_partial_heads_from_one_address_do_not_block_others(stack):
    held = open_many(stack.port, 1000, HEAD)
    try:
        time.sleep(0.3)  # let the workers take them
        assert_fresh_served(stack.port)
    finally:
        close_all(held)


def test_1000_idle_keepalive_clients_do_not_block_others(stack):
    held = open_many(stack.port, 1000, HEAD + b"\r\n")
    try:
        answers = read_answers(held)
        # Each was answered (the cap of one address, LB_MAX_CONNS_PER_IP,
        # is 1,024 by default).
        ok = sum(a.startswith(b"HTTP/1.1 200") for a in answers)
        assert ok == 1000
        assert_fresh_served(stack.port)
    finally:
        close_all(held)


def test_cap_per_address_refuses_at_once(stack_factory):
    s = stack_factory(dp_env={"LB_MAX_CONNS_PER_IP": "5"}).start()
    sessions = [requests.Session() for _ in range(5)]
    try:
        for sess in sessions:  # five keep-alive connections, held
            assert sess.get(s.url("/home"), timeout=5).status_code == 200
        t0 = time.monotonic()
        r = requests.get(s.url("/home"), timeout=5)
        assert time.monotonic() - t0 < 0.5
        assert r.status_code == 503
        assert r.headers["Connection"] == "close"
        assert "LB_MAX_CONNS_PER_IP=5" in r.json()["message"]
        # Another address is not affected.
        assert fresh_requests(s.port, 1)[0][0] == b"HTTP/1.1 200 OK"
        log = open(s.logs[1]).read()
        assert "event=connection_refused reason=max_conns_per_ip" in log
        sessions.pop().close()  # one connection fewer: room again
        wait_for(lambda: requests.get(s.url("/home"), timeout=5)
                 .status_code == 200, 5, what="admitted again")
    finally:
        for sess in sessions:
            sess.close()


def test_head_timeout_frees_a_worker(stack_factory):
    s = stack_factory(dp_env={"LB_HEAD_TIMEOUT_MS": "500"}).start()
    c = socket.create_connection(("127.0.0.1", s.port), 5)
    c.sendall(HEAD)  # and never the rest
    t0 = time.monotonic()
    c.settimeout(5)
    data = b""
    try:
        while True:
            piece = c.recv(4096)
            if not piece:
                break
            data += piece
    finally:
        c.close()
    took = time.monotonic() - t0
    # civetweb answers 400 and closes; its deadline is loose (a client
    # that dribbles can stretch it to about twice).
    assert 0.4 < took < 1.5 * TIME_FACTOR, took
    assert data.startswith(b"HTTP/1.0 400") or data == b""


def test_idle_connections_are_given_back_when_workers_run_short(
        stack_factory):
    s = stack_factory(dp_env={"LB_THREADS": "16",
                              "LB_MAX_CONNS_PER_IP": "0"}).start()
    # One keep-alive client after another, each answered before the next
    # connects: the k-th finds k workers taken (civetweb holds one per open
    # connection).  Opened all at once, the first request could be read
    # only after all had been taken, and the order would be a race.
    held, answers = [], []
    try:
        for _ in range(13):  # over 3/4 of 16
            held += open_many(s.port, 1, HEAD + b"\r\n")
            answers += read_answers(held[-1:])
        assert all(a.startswith(b"HTTP/1.1 200") for a in answers)
        # The first found workers to spare and kept their connections
        # (a probe of the stack's start may still hold one for a moment).
        assert not any(b"Connection: close" in a for a in answers[:8])
        # The 13th took a worker beyond 3/4: told to close after it.
        assert b"Connection: close" in answers[12]
    finally:
        close_all(held)
