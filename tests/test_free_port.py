"""The tests' ports: a port handed to a program to listen on must not be
one the kernel may give any outgoing connection meanwhile (CI once failed
with "Address already in use" on 127.0.0.1:42357, inside the ephemeral
range), and must not be handed out twice."""
import socket

from lbtest import free_port
from lbtools import _ephemeral_range


def test_ports_are_below_the_ephemeral_range_and_distinct():
    lo, _ = _ephemeral_range()
    ports = [free_port() for _ in range(200)]
    assert all(p < lo for p in ports), [p for p in ports if p >= lo]
    assert len(set(ports)) == len(ports)


def test_a_port_in_use_is_not_handed_out():
    taken = []
    try:
        for _ in range(50):
            p = free_port()
            s = socket.socket()
            s.bind(("127.0.0.1", p))
            s.listen()
            taken.append(s)
        with_listeners = {s.getsockname()[1] for s in taken}
        assert not with_listeners & {free_port() for _ in range(200)}
    finally:
        for s in taken:
            s.close()
