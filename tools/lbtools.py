"""What the tools' Python commands share (bench, soak, analysis): free
ports, waiting for a condition or an HTTP answer, a process's memory."""
import os
import socket
import time

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
