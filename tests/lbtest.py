"""Shared test helpers: real processes on 127.0.0.1, their logs, and a check
that no sanitizer report appeared in any of them.

LB_BUILD points at the build to test (make test uses the ASan+UBSan build).
"""
import json
import os
import signal
import socket
import subprocess
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.abspath(os.path.join(ROOT, os.environ.get("LB_BUILD", "build")))

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                   "runtime error:", "SUMMARY: UndefinedBehaviorSanitizer")

# Sanitizer settings for every process a test starts: stop at the first
# error, so that a report is never missed.
SAN_ENV = {
    "ASAN_OPTIONS": "halt_on_error=1:detect_leaks=0:abort_on_error=0",
    "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1",
}


def binary(rel):
    path = os.path.join(BUILD, rel)
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} is missing: build first (make build-asan)")
    return path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
