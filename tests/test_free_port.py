"""The tests' ports: a port handed to a program to listen on must not be
one the kernel may give any outgoing connection meanwhile (CI once failed
with "Address already in use" on 127.0.0.1:42357, inside the ephemeral
range), must not be one something listens on, and must not be handed out
twice."""
import random
import socket

import lbtools
from lbtest import free_port
from lbtools import _ephemeral_range


def test_ports_are_outside_the_ephemeral_range_and_distinct():
    lo, hi = _ephemeral_range()
    ports = [free_port() for _ in range(200)]
    assert all(not lo <= p <= hi for p in ports), \
        [p for p in ports if lo <= p <= hi]
    assert len(set(ports)) == len(ports)


def test_a_port_something_listens_on_is_not_handed_out(monkeypatch):
    # A listener on a port free_port() never handed out, offered first.
    lo, _ = _ephemeral_range()
    with socket.socket() as s:
        for _ in range(100):
            port = random.randrange(10000, lo)
            if port in lbtools._handed_out:
                continue
            try:
                s.bind(("127.0.0.1", port))
                break
            except OSError:
                continue
        s.listen()
        offers = iter([port, port, port])
        real = random.randrange
        monkeypatch.setattr(random, "randrange",
                            lambda *a: next(offers, None) or real(*a))
        got = free_port()
        assert got != port
        assert port not in lbtools._handed_out
