"""Shared test helpers: real processes on 127.0.0.1, their logs, and a check
that no sanitizer report appeared in any of them.

LB_BUILD points at the build to test (make test uses the ASan+UBSan build).
"""
import json
import os
import signal
import subprocess
import threading
import time

import pytest
import requests

from lbtools import free_port  # noqa: F401 (the tests take it from here)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.abspath(os.path.join(ROOT, os.environ.get("LB_BUILD", "build")))

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                   "runtime error:", "SUMMARY: UndefinedBehaviorSanitizer",
                   "WARNING: ThreadSanitizer")

# Deadlines in tests are the product's promises (a dead replica is gone in
# 1.5 s); under ThreadSanitizer everything runs several times slower, so
# the TSan pass stretches them by this factor.
TIME_FACTOR = float(os.environ.get("LB_TIME_FACTOR", "1"))

# Sanitizer settings for every process a test starts: stop at the first
# error, so that a report is never missed.
SAN_ENV = {
    "ASAN_OPTIONS": "halt_on_error=1:detect_leaks=1:abort_on_error=0",
    "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1",
    # Thread leaks are not reported: a replica or data plane whose idle
    # keep-alive connections outlive its stop grace ends with _exit() while
    # civetweb's threads still run, on purpose.
    "TSAN_OPTIONS": "halt_on_error=0:report_thread_leaks=0:suppressions=" +
    os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "tsan.supp"),
}


def binary(rel, build=None):
    path = os.path.join(os.path.abspath(build) if build else BUILD, rel)
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} is missing: build first (make build-asan)")
    return path


def lb_load(url, out_dir, *args, timeout=120):
    """tools/lb-load against url, quietly (args: its options): its JSON
    result."""
    out = os.path.join(str(out_dir), f"load{os.urandom(3).hex()}.json")
    subprocess.run([binary("tools/lb-load"), "--url", url, "--quiet", "1",
                    "--json", out, *args],
                   check=True, timeout=timeout, capture_output=True)
    with open(out) as f:
        return json.load(f)


def lb_load_key_map(url, path, keys, concurrency=32, timeout=120):
    """Sends each of `keys` keys once (X-User: k0, k1, ...) through
    lb-load: which server answered each, {key: server id} (-2: none)."""
    subprocess.run([binary("tools/lb-load"), "--url", url,
                    "--requests", str(keys), "--concurrency",
                    str(concurrency), "--key", "header:X-User",
                    "--keys", str(keys), "--key-map", str(path),
                    "--quiet", "1"],
                   check=True, timeout=timeout, capture_output=True)
    with open(path) as f:
        rows = [line.split(",") for line in f.read().split()[1:]]
    return {k: int(s) for k, s in rows}


def recv_all(sock):
    """Everything a socket receives until the peer closes it."""
    data = b""
    while True:
        piece = sock.recv(65536)
        if not piece:
            return data
        data += piece


def wait_for(pred, timeout, step=0.02, what="condition"):
    """Polls pred until it returns a true value or timeout passes."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = pred()
            if last:
                return last
        except Exception as e:  # a server that is not up yet
            last = e
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} "
                         f"(last: {last!r})")


class Proc:
    """A real process with its output in a log file."""

    def __init__(self, argv, env, log_path):
        self.argv = argv
        self.log_path = log_path
        self.log = open(log_path, "ab")
        full_env = dict(os.environ)
        full_env.update(SAN_ENV)
        full_env.update(env)
        self.p = subprocess.Popen(argv, env=full_env, stdout=self.log,
                                  stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL)

    @property
    def pid(self):
        return self.p.pid

    def alive(self):
        return self.p.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.alive():
            self.p.send_signal(sig)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.log.close()
        return self.p.returncode

    def output(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")


def assert_no_sanitizer_reports(paths):
    for path in paths:
        if not os.path.exists(path):
            continue
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
        for mark in SANITIZER_MARKS:
            assert mark not in text, f"sanitizer report in {path}:\n{text[-4000:]}"


def pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (FileNotFoundError, IndexError):
        return False


def replica_pids(state_file):
    """The replica processes a process-driver control plane recorded."""
    try:
        with open(state_file) as f:
            return [r["pid"] for r in json.load(f)["replicas"]]
    except (FileNotFoundError, ValueError):
        return []


class Load:
    """Keep-alive clients sending GET /home until stopped (bounded in count
    and time), recording every failure a client would see."""

    def __init__(self, url, clients=4, max_requests=20000, max_seconds=30):
        self.url = url
        self.errors = []
        self.ok = 0
        self.stop_flag = threading.Event()
        self.lock = threading.Lock()
        self.deadline = time.monotonic() + max_seconds
        self.budget = max_requests
        self.threads = [threading.Thread(target=self.run)
                        for _ in range(clients)]

    def run(self):
        with requests.Session() as s:
            while not self.stop_flag.is_set() and \
                    time.monotonic() < self.deadline:
                with self.lock:
                    if self.budget <= 0:
                        return
                    self.budget -= 1
                try:
                    r = s.get(self.url, timeout=10)
                    good = r.status_code == 200
                    err = None if good else f"{r.status_code} {r.text}"
                except requests.RequestException as e:
                    err = repr(e)
                with self.lock:
                    if err:
                        self.errors.append(err)
                    else:
                        self.ok += 1

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop_flag.set()
        for t in self.threads:
            t.join()
