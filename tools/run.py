#!/usr/bin/python3
"""make run: the whole system in the foreground, supervised.

Starts the control plane and the data plane from BUILD (default: build)
with the LB_* settings of the environment (docs/operations.md), and keeps them
running the way the Docker stack's restart policy does: a plane that dies
is started again after a short backoff (0.25 s, doubling up to 5 s).  A
restarted control plane adopts the replicas that still run (the process
driver's state file), while the data plane routes on with its last ring.
After 5 crashes of one plane within 60 s the supervisor gives up, says so,
and stops everything.

Ctrl-C (or SIGTERM) stops both planes; the control plane stops its
replicas, and any replica that a dead control plane left behind is stopped
here, so nothing is left running.
"""
import json
import os
import signal
import subprocess
import sys
import time

BACKOFF_FIRST = 0.25
BACKOFF_MAX = 5.0
CRASH_WINDOW = 60.0
CRASH_LIMIT = 5
STOP_GRACE = 10.0


def say(msg):
    print(f"lb-run: {msg}", file=sys.stderr, flush=True)


class Plane:
    """One supervised program."""

    def __init__(self, name, argv):
        self.name = name
        self.argv = argv
        self.proc = None
        self.crashes = []      # times of recent unexpected exits
        self.restart_at = None

    def start(self):
        self.proc = subprocess.Popen(self.argv)
        self.restart_at = None

    def check(self, now):
        """Called periodically: notices an exit and schedules a restart.
        Returns False when the plane crashed too often."""
        if self.proc and self.proc.poll() is not None:
            code = self.proc.returncode
            self.proc = None
            self.crashes = [t for t in self.crashes
                            if now - t < CRASH_WINDOW] + [now]
            if len(self.crashes) >= CRASH_LIMIT:
                say(f"the {self.name} exited {len(self.crashes)} times in "
                    f"{CRASH_WINDOW:.0f} s (last status {code}); giving up")
                return False
            delay = min(BACKOFF_FIRST * 2 ** (len(self.crashes) - 1),
                        BACKOFF_MAX)
            say(f"the {self.name} exited (status {code}); starting it "
                f"again in {delay:.2f} s")
            self.restart_at = now + delay
        if self.proc is None and self.restart_at is not None and \
                now >= self.restart_at:
            self.start()
        return True

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def wait(self, deadline):
        if not self.proc:
            return
        try:
            self.proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            say(f"the {self.name} did not stop; killing it")
            self.proc.kill()
            self.proc.wait()


def replica_pids_left(state_file, instance):
    """Replicas recorded by the process driver that still run and are
    ours (their environment says so: a recycled pid is left alone)."""
    try:
        with open(state_file) as f:
            recorded = json.load(f).get("replicas", [])
    except (OSError, ValueError):
        return []
    pids = []
    for r in recorded:
        pid = r.get("pid")
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                env = f.read().split(b"\0")
        except (OSError, TypeError):
            continue
        if f"LB_INSTANCE={instance}".encode() in env and \
                any(e.startswith(b"SERVER_ID=") for e in env):
            pids.append(pid)
    return pids


def stop_orphans(state_file, instance):
    pids = replica_pids_left(state_file, instance)
    if not pids:
        return
    say(f"stopping {len(pids)} replica(s) left by the control plane")
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and \
            replica_pids_left(state_file, instance):
        time.sleep(0.05)
    for pid in replica_pids_left(state_file, instance):
        os.kill(pid, signal.SIGKILL)


def main():
    build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
    os.environ.setdefault("LB_STATE_DIR", "/tmp/lb-state")
    instance = os.environ.setdefault("LB_INSTANCE", "lb")
    state_file = os.path.join(os.environ["LB_STATE_DIR"], f"{instance}.json")
    planes = [Plane("control plane",
                    [os.path.join(build, "controlplane", "lb-controlplane")]),
              Plane("data plane",
                    [os.path.join(build, "dataplane", "lb-dataplane")])]
    stopping = []
    signal.signal(signal.SIGINT, lambda *_: stopping.append(True))
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    for p in planes:
        p.start()
    code = 0
    while not stopping:
        now = time.monotonic()
        if not all(p.check(now) for p in planes):
            code = 1
            break
        time.sleep(0.05)
    for p in planes:
        p.stop()
    deadline = time.monotonic() + STOP_GRACE
    for p in planes:
        p.wait(deadline)
    stop_orphans(state_file, instance)
    return code


if __name__ == "__main__":
    sys.exit(main())
