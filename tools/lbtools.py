"""What the tools' Python commands share (bench, soak, analysis): free
ports, waiting for a condition or an HTTP answer, a process's memory."""
import os
import random
import socket
import time

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


_handed_out = set()


def _ephemeral_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = (int(x) for x in f.read().split())
            return lo, hi
    except (OSError, ValueError):
        return 32768, 60999


def free_port():
    """A port nobody listens on, below the kernel's ephemeral range: a port
    the kernel hands out (bind to 0) may be taken by any outgoing connection
    before the program it is meant for binds it, which failed a test with
    "Address already in use". A port is not handed out twice."""
    lo, hi = _ephemeral_range()
    first = 10000 if lo > 12000 else 1024
    # Where the ephemeral range leaves too little below it, above it.
    span = (first, lo) if lo - first >= 1000 else (hi + 1, 65536)
    if span[1] - span[0] < 1000:
        raise RuntimeError(f"no port range outside the ephemeral {lo}..{hi}")
    for _ in range(1000):
        port = random.randrange(*span)
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free port in {span[0]}..{span[1] - 1}")


def wait_for(pred, timeout, what, hint=""):
    """Polls pred (a server that is not up yet may raise) until it returns
    a true value; exits the program with a message after timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            v = pred()
            if v:
                return v
        except requests.RequestException:
            pass
        time.sleep(0.05)
    raise SystemExit(f"timed out waiting for {what}{hint}")


def wait_http(url, timeout=15):
    wait_for(lambda: requests.get(url, timeout=2).status_code == 200,
             timeout, f"{url} to answer 200")


def proc_status_kb(pid, field):
    """A kB figure of /proc/<pid>/status: VmRSS (resident now), VmHWM (its
    peak)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def rss_kb(pid):
    return proc_status_kb(pid, "VmRSS")
