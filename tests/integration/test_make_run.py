"""tools/run.py (what `make run` starts): the whole system in the
foreground, supervised like the Docker stack's restart policy, and a Ctrl-C
(SIGINT to its process group) that leaves no process behind."""
import os
import signal
import subprocess
import time

import pytest
import requests

from lbstack import count_replica_processes
from lbtest import BUILD, SAN_ENV, ROOT, free_port, pid_alive, wait_for

PYTHON = "/usr/bin/python3"


@pytest.fixture
def run(tmp_path):
    """Starts tools/run.py in a session of its own; yields (proc, port,
    instance, env); stops it (SIGKILL to its group) if a test left it."""
    port = free_port()
    instance = "run" + os.urandom(3).hex()
    env = dict(os.environ, **SAN_ENV, LB_PORT=str(port),
               LB_CTL_URL=f"tcp://127.0.0.1:{free_port()}",
               LB_PUB_URL=f"tcp://127.0.0.1:{free_port()}",
               LB_PAGES_LISTEN=f"127.0.0.1:{free_port()}",
               LB_METRICS_LISTEN=f"127.0.0.1:{free_port()}",
               LB_STATE_DIR=str(tmp_path / "state"), LB_INSTANCE=instance)
    log = open(tmp_path / "run.log", "wb")
    started = []

    def start(argv=None, **extra):
        argv = argv or [PYTHON, os.path.join(ROOT, "tools", "run.py"), BUILD]
        p = subprocess.Popen(argv, env=dict(env, **extra), stdout=log,
                             stderr=subprocess.STDOUT,
                             start_new_session=True)
        started.append(p)
        return p
    yield start, port, instance, tmp_path / "run.log"
    for p in started:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
    log.close()


def group_alive(pgid):
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


def serving(port):
    r = requests.get(f"http://127.0.0.1:{port}/rep", timeout=2)
    return r.status_code == 200 and r.json()["message"] == {
        "N": 3, "replicas": ["server1", "server2", "server3"]}


def control_plane_pid(instance):
    """The control plane of this run (it carries LB_INSTANCE but no
    SERVER_ID)."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read()
            with open(f"/proc/{pid}/environ", "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if b"lb-controlplane" in cmd and \
                f"LB_INSTANCE={instance}".encode() in env:
            return int(pid)
    return None


def start_serving(start, port):
    """make run's stack, once it serves the three replicas."""
    p = start()
    wait_for(lambda: serving(port), 15, what="make run's stack serving")
    return p


def ctrl_c_leaves_nothing(p, instance, ok=(0,)):
    """Ctrl-C (SIGINT to the group) ends run.py cleanly, with no replica
    (each runs in a session of its own) and nothing of the script's
    process group (the two planes) left."""
    os.killpg(p.pid, signal.SIGINT)
    assert p.wait(20) in ok
    assert count_replica_processes(instance) == 0
    assert not group_alive(p.pid)


def test_run_starts_all_and_ctrl_c_stops_all(run):
    start, port, instance, _ = run
    p = start_serving(start, port)
    assert requests.get(f"http://127.0.0.1:{port}/home",
                        timeout=5).status_code == 200
    assert count_replica_processes(instance) == 3
    ctrl_c_leaves_nothing(p, instance)


def test_a_killed_control_plane_is_restarted_and_adopts(run):
    start, port, instance, log = run
    p = start_serving(start, port)
    before = requests.get(f"http://127.0.0.1:{port}/rep", timeout=5).json()
    os.kill(control_plane_pid(instance), signal.SIGKILL)
    t0 = time.monotonic()
    with requests.Session() as s:
        codes = [s.get(f"http://127.0.0.1:{port}/home", timeout=5).status_code
                 for _ in range(100)]
    assert codes == [200] * 100
    wait_for(lambda: requests.get(f"http://127.0.0.1:{port}/rep",
                                  timeout=2).json() == before,
             5, what="/rep with the same replicas")
    assert time.monotonic() - t0 < 5
    assert count_replica_processes(instance) == 3
    assert "the control plane exited" in open(log).read()
    # And Ctrl-C still leaves nothing behind.
    ctrl_c_leaves_nothing(p, instance)


def test_ctrl_c_while_the_control_plane_is_down_stops_its_replicas(run):
    start, port, instance, _ = run
    p = start_serving(start, port)
    os.kill(control_plane_pid(instance), signal.SIGKILL)
    ctrl_c_leaves_nothing(p, instance)  # before the restart


def test_a_plane_that_keeps_crashing_is_given_up_on(run):
    start, port, instance, log = run
    # A control plane that cannot start: its address is not one.
    p = start(LB_CTL_URL="tcp://256.0.0.1:1")
    assert p.wait(30) == 1
    text = open(log).read()
    assert "the control plane exited 5 times in 60 s" in text
    assert "giving up" in text
    assert not group_alive(p.pid)


def test_a_stopped_data_plane_is_restarted_within_3_s(run):
    start, port, instance, log = run
    p = start_serving(start, port)
    dp = [int(x) for x in os.listdir("/proc") if x.isdigit() and
          _cmdline_has(int(x), b"lb-dataplane") and
          _env_has(int(x), f"LB_INSTANCE={instance}".encode())]
    assert len(dp) == 1
    os.kill(dp[0], signal.SIGTERM)  # a graceful stop: exit status 0
    t0 = time.monotonic()
    wait_for(lambda: requests.get(f"http://127.0.0.1:{port}/home",
                                  timeout=1).status_code == 200 and
             not pid_alive(dp[0]), 10, step=0.05,
             what="the data plane back")
    assert time.monotonic() - t0 < 3
    assert "the data plane exited (status 0)" in open(log).read()
    ctrl_c_leaves_nothing(p, instance)


def _cmdline_has(pid, what):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return what in f.read()
    except OSError:
        return False


def _env_has(pid, what):
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return what in f.read().split(b"\0")
    except OSError:
        return False


def test_make_run_tls_makes_a_certificate_and_serves_https(run, tmp_path):
    """`make run TLS=1`: a self-signed certificate for localhost made in
    TLS_DIR, where it is and its fingerprint printed, HTTPS served with it
    beside plain HTTP; a second run keeps the same certificate."""
    start, port, instance, log = run
    tls_dir, tls_port = str(tmp_path / "tls"), free_port()
    argv = ["make", "-s", "-C", ROOT, "run", "TLS=1", f"TLS_DIR={tls_dir}",
            f"BUILD={BUILD}"]
    p = start(argv, LB_TLS_PORT=str(tls_port), LB_TLS_CERT="",
              LB_TLS_KEY="")
    wait_for(lambda: serving(port), 60, what="make run TLS=1 serving")
    cert = os.path.join(tls_dir, "cert.pem")
    r = requests.get(f"https://localhost:{tls_port}/home", verify=cert,
                     timeout=5)
    assert r.status_code == 200 and "Hello from Server" in r.text
    fp = subprocess.run(["openssl", "x509", "-in", cert, "-noout",
                         "-fingerprint", "-sha256"], capture_output=True,
                        text=True, check=True).stdout.strip()
    out = log.read_text()
    assert f"tls: certificate {cert}" in out and fp in out, out
    assert oct(os.stat(os.path.join(tls_dir, "key.pem")).st_mode & 0o777) \
        == "0o600"
    # make passes the Ctrl-C on, then ends by it (-SIGINT) itself.
    ctrl_c_leaves_nothing(p, instance, ok=(0, -signal.SIGINT))
    p = start(argv, LB_TLS_PORT=str(tls_port), LB_TLS_CERT="",
              LB_TLS_KEY="")
    wait_for(lambda: serving(port), 60, what="the second run serving")
    assert log.read_text().count(fp) == 2
    assert "made a self-signed" in out and \
        log.read_text().count("made a self-signed") == 1
    ctrl_c_leaves_nothing(p, instance, ok=(0, -signal.SIGINT))
