"""Many clients at once, for the capacity tests and `make bench`: sockets
that hold a partial request head or sit idle after one request, and fresh
requests from another loopback address that must still be served.

Every wait is bounded: a server that stops accepting cannot stall the
caller."""
import selectors
import socket
import time

HEAD = b"GET /home HTTP/1.1\r\nHost: x\r\n"


def open_many(port, n, data, deadline_s=20, source="127.0.0.1"):
    """n connections from source that each send data once writable
    (non-blocking connects; b"" sends nothing).  Returns the sockets."""
    sel = selectors.DefaultSelector()
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind((source, 0))
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        sel.register(s, selectors.EVENT_WRITE)
        socks.append(s)
    pending = set(socks)
    end = time.monotonic() + deadline_s
    while pending and time.monotonic() < end:
        for key, _ in sel.select(0.1):
            s = key.fileobj
            try:
                if data:
                    s.send(data)
            except OSError:
                pass
            sel.unregister(s)
            pending.discard(s)
    sel.close()
    return socks


def read_answers(socks, timeout=20):
    """The first bytes each socket got (b"" when none within timeout)."""
    sel = selectors.DefaultSelector()
    got = {}
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
    end = time.monotonic() + timeout
    while len(got) < len(socks) and time.monotonic() < end:
        for key, _ in sel.select(0.1):
            try:
                got[key.fileobj] = key.fileobj.recv(4096)
            except OSError:
                got[key.fileobj] = b""
            sel.unregister(key.fileobj)
    sel.close()
    return [got.get(s, b"") for s in socks]


def fresh_requests(port, n=20, timeout=2.0):
    """n requests from 127.0.0.2, one after another, each on a new
    connection: [(status line, seconds)]; an empty line when no answer
    came within timeout."""
    out = []
    for _ in range(n):
        t0 = time.monotonic()
        s = socket.socket()
        s.settimeout(timeout)
        s.bind(("127.0.0.2", 0))
        line = b""
        try:
            s.connect(("127.0.0.1", port))
            s.sendall(HEAD + b"Connection: close\r\n\r\n")
            data = b""
            while b"\r\n" not in data:
                piece = s.recv(4096)
                if not piece:
                    break
                data += piece
            line = data.split(b"\r\n", 1)[0]
        except OSError:
            pass
        finally:
            s.close()
        out.append((line, time.monotonic() - t0))
    return out


def accept_queue(port):
    """Connections waiting in the kernel for the listener on port to accept
    them (the rx_queue of its LISTEN line in /proc/net/tcp)."""
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[1].endswith(f":{port:04X}"):
                return int(fields[4].split(":")[1], 16)
    return 0


def wait_accepted(port, timeout=20):
    """Waits until the server on port has accepted every connection made
    to it (bounded)."""
    end = time.monotonic() + timeout
    while accept_queue(port) and time.monotonic() < end:
        time.sleep(0.05)


def close_all(socks):
    for s in socks:
        s.close()


def held_clients_case(port, kind, n=1000, fresh=20):
    """The two cases of a server under held connections: `partial` (n
    sockets that send part of a head and wait) or `idle` (n keep-alive
    clients that send one request, read the answer, then wait).  Returns
    (fresh answered with 200, fresh total, slowest fresh seconds)."""
    data = HEAD if kind == "partial" else HEAD + b"\r\n"
    held = open_many(port, n, data)
    try:
        if kind == "idle":
            read_answers(held)
        else:
            time.sleep(0.3)  # let the server take them
        res = fresh_requests(port, fresh)
        ok = sum(line.startswith(b"HTTP/1.1 200") for line, _ in res)
        return ok, len(res), max(t for _, t in res)
    finally:
        close_all(held)
