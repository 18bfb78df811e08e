"""The Docker engine itself stops and starts again, under a control plane
(docker driver) and a data plane running on the host: admin errors say
what is wrong, and the system heals by itself when the engine is back.

Runs after test_docker.py (its compose stack is down by then): stopping
dockerd stops every container."""
import os
import signal
import subprocess


from lbtest import ROOT, TIME_FACTOR, wait_for

INSTANCE = "e2eengine"
NETWORK = "lbtest-engine"


def docker_up():
    return subprocess.run(["docker", "info"], capture_output=True,
                          timeout=30).returncode == 0


def stop_engine():
    pids = subprocess.run(["pgrep", "-x", "dockerd"], capture_output=True,
                          text=True).stdout.split()
    assert pids, "no dockerd process to stop"
    for pid in pids:
        os.kill(int(pid), signal.SIGTERM)
    wait_for(lambda: not docker_up() and subprocess.run(
        ["pgrep", "-x", "dockerd"], capture_output=True).returncode != 0,
        60, step=0.2, what="dockerd stopped")


def start_engine():
    r = subprocess.run([os.path.join(ROOT, "tools", "setup.sh"), "--docker"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def managed():
    """Every labelled container, running or not: none may be left over."""
    out = subprocess.run(["docker", "ps", "-a", "--filter",
                          f"label=lb.instance={INSTANCE}", "--format",
                          "{{.Names}}"], capture_output=True, text=True)
    return sorted(out.stdout.split())


def test_engine_stop_and_start(stack_factory):
    assert docker_up()
    s = stack_factory(cp_env={"LB_DRIVER": "docker", "LB_INSTANCE": INSTANCE,
                              "LB_NETWORK": NETWORK,
                              "LB_IMAGE": "lb-replica:latest"})
    try:
        s.start()
        before = s.rep()["message"]["replicas"]
        assert managed() == sorted(before)

        stop_engine()
        try:
            # Admin changes fail with the engine named as the reason.
            r = s.add({"n": 1}, timeout=60)
            assert 500 <= r.status_code < 600, r.text
            msg = r.json()["message"]
            assert msg.startswith("<Error> ") and "Docker engine" in msg, msg
            # The control plane still answers; N is unchanged.
            assert s.rep()["message"]["N"] == 3
        finally:
            start_engine()

        # Back by itself: three replicas running and serving, every one
        # of them listed, the dead ones replaced and deleted.
        def healed():
            m = s.rep()["message"]
            return (m["N"] == 3 and managed() == sorted(m["replicas"]) and
                    sorted(s.routable()) == sorted(m["replicas"]) and
                    s.get("/home").status_code == 200)
        wait_for(healed, 60 * TIME_FACTOR, step=0.5,
                 what="three replicas serving again")
    finally:
        ids = subprocess.run(["docker", "ps", "-aq", "--filter",
                              f"label=lb.instance={INSTANCE}"],
                             capture_output=True, text=True).stdout.split()
        s.cp and s.cp.stop()
        if ids:
            subprocess.run(["docker", "rm", "-f"] + ids, capture_output=True)
        subprocess.run(["docker", "network", "rm", NETWORK],
                       capture_output=True)
