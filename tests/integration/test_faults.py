"""Faults, for real: replicas killed under load, the control plane and the
data plane killed and restarted."""
import os
import signal
import time

import requests

from lbstack import count_replica_processes, pid_of, server_id
from lbtest import TIME_FACTOR, Load, pid_alive, wait_for


def test_kill9_replica_under_load_is_invisible(stack):
    victim = pid_of(stack, "server2")
    with Load(stack.url("/home")) as load:
        wait_for(lambda: load.ok > 200, 10, what="load running")
        t0 = time.monotonic()
        os.kill(victim, signal.SIGKILL)

        def replaced():
            reps = stack.rep()["message"]["replicas"]
            return "server2" not in reps and len(reps) == 3 and \
                sorted(stack.routable()) == sorted(reps) and reps
        reps = wait_for(replaced, 3 * TIME_FACTOR,
                        what="replacement listed and routed")
        took = time.monotonic() - t0
        before = load.ok
        wait_for(lambda: load.ok > before + 200, 10, what="load continuing")
    assert load.errors == [], load.errors[:5]
    assert took < 3.0 * TIME_FACTOR
    new = reps[-1]
    assert new.startswith("srv-") and reps[:2] == ["server1", "server3"]
    assert count_replica_processes(stack.instance) == 3


def test_hung_replica_is_detected_within_1_5_s(stack):
    victim = pid_of(stack, "server3")
    os.kill(victim, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        wait_for(lambda: "server3" not in stack.routable(), 5,
                 what="hung replica out of the ring")
        # + lb-watch's own delay
        assert time.monotonic() - t0 < (1.5 + 0.5) * TIME_FACTOR
        wait_for(lambda: len(stack.routable()) == 3, 5,
                 what="replacement in the ring")
    finally:
        if pid_alive(victim):
            os.kill(victim, signal.SIGCONT)
    assert stack.rep()["message"]["N"] == 3


def test_control_plane_killed_data_plane_routes_admin_503(stack):
    stack.cp.stop(signal.SIGKILL)
    with requests.Session() as s:
        for _ in range(100):
            r = s.get(stack.url("/home"), timeout=10)
            assert r.status_code == 200
            assert server_id(r) in (1, 2, 3)
    for method, path, body in [("GET", "/rep", None),
                               ("POST", "/add", {"n": 1}),
                               ("DELETE", "/rm", {"n": 1})]:
        t0 = time.monotonic()
        r = requests.request(method, stack.url(path), json=body, timeout=10)
        assert r.status_code == 503
        assert r.json()["message"].startswith("<Error> Control plane")
        # No waiting for a timeout.
        assert time.monotonic() - t0 < 1.0 * TIME_FACTOR


def test_control_plane_restart_adopts_without_orphans(stack):
    assert stack.add({"n": 1, "hostnames": ["extra1"],
                      "weight": 3}).status_code == 200
    names = stack.rep()["message"]["replicas"]
    pids = sorted(stack.replica_pids())
    stack.cp.stop(signal.SIGKILL)
    stack.start_cp()
    wait_for(lambda: stack.get("/rep").status_code == 200, 10,
             what="admin back")
    assert stack.rep()["message"]["replicas"] == names
    assert sorted(stack.replica_pids()) == pids  # same processes
    assert count_replica_processes(stack.instance) == 4
    # Their weights too: the ring is the one it was.
    state = requests.get(stack.site_url("/api/state"), timeout=5).json()
    weights = {r["name"]: r["weight"] for r in state["replicas"]}
    assert weights == {n: 3 if n == "extra1" else 1 for n in names}
    # New ids continue after the adopted ones: never reused.
    r = stack.add({"n": 1, "hostnames": ["after"]})
    assert r.status_code == 200
    ids = set()
    for _ in range(200):
        ids.add(server_id(stack.get("/home")))
    assert ids <= {1, 2, 3, 4, 5}


def test_graceful_control_plane_stop_leaves_no_process(stack):
    pids = stack.replica_pids()
    assert len(pids) == 3
    assert stack.cp.stop(signal.SIGINT) == 0
    assert [p for p in pids if pid_alive(p)] == []
    assert count_replica_processes(stack.instance) == 0


def test_data_plane_restart_routes_at_once(stack):
    dp, port = stack.dps[0]
    dp.stop(signal.SIGKILL)
    stack.dps.clear()
    stack.port = None
    stack.start_dp(port)
    # The very first proxied request after the port opens is served.
    r = requests.get(stack.url("/home"), timeout=10)
    assert r.status_code == 200


def test_two_data_planes_route_from_one_control_plane(stack):
    _, port2 = stack.start_dp()
    r = requests.get(stack.url("/rep", port2), timeout=10)
    assert r.json() == stack.rep()
    assert stack.add({"n": 1, "hostnames": ["S9"]}).status_code == 200

    def seen_on_second():
        ids = {server_id(requests.get(stack.url("/home", port2), timeout=5))
               for _ in range(200)}
        return 4 in ids
    # The second data plane learns of S9 (id 4) from the snapshot stream.
    wait_for(seen_on_second, 5, what="second data plane routes to S9")


def test_many_clients_do_not_starve_heartbeats(stack):
    """civetweb holds a thread per open connection: with 100 concurrent
    clients (each data-plane thread then keeps a connection to every
    replica), replicas must still accept heartbeats; nothing is replaced."""
    names = stack.rep()["message"]["replicas"]
    with Load(stack.url("/home"), clients=100, max_requests=6000,
              max_seconds=20) as load:
        wait_for(lambda: load.ok >= 3000, 20, what="3000 answers")
        time.sleep(1.5)  # three heartbeat rounds with every thread busy
    assert load.errors == []
    assert stack.rep()["message"]["replicas"] == names


def test_initial_replicas_that_cannot_start_are_retried(stack_factory,
                                                        tmp_path):
    """At boot the control plane starts server1..N before serving admin
    requests; when they cannot start it still comes up, lists them, and
    its repair thread keeps retrying."""
    never = tmp_path / "never_healthy.sh"
    never.write_text("#!/bin/sh\nexec sleep 30\n")
    never.chmod(0o755)
    s = stack_factory(replicas=1, replica_bin=str(never),
                      cp_env={"LB_START_TIMEOUT_MS": "300"})
    s.start(ready=False)
    wait_for(lambda: s.get("/rep").status_code == 200, 10, what="admin up")
    assert s.rep()["message"] == {"N": 1, "replicas": ["server1"]}
    assert s.get("/home").status_code == 503
    wait_for(lambda: s.cp.output().count("repair_failed") >= 2, 10,
             what="repair retrying")
    assert "initial_start_failed" in s.cp.output()


def test_a_death_is_repaired_while_a_slow_add_runs(stack_factory):
    """The orchestration lock is held only to check and change the state,
    never while replicas start: a replica that dies during a slow /add is
    replaced at once, and /rep answers at once meanwhile."""
    import threading
    bad = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       "bad_replica.py")
    s = stack_factory(replica_bin=bad).start()
    added = {}

    def slow_add():
        added["r"] = s.add({"n": 2, "hostnames": ["slow1", "slow2"]})
    t = threading.Thread(target=slow_add)
    t.start()
    time.sleep(0.5)
    t0 = time.monotonic()
    os.kill(pid_of(s, "server2"), signal.SIGKILL)

    def replaced():
        reps = s.routable()
        return "server2" not in reps and len(reps) == 3 and reps
    wait_for(replaced, 2.0 * TIME_FACTOR, step=0.05,
             what="the replacement serving during the /add")
    took = time.monotonic() - t0
    t1 = time.monotonic()
    assert s.get("/rep").status_code == 200
    assert time.monotonic() - t1 < 0.5 * TIME_FACTOR
    assert t.is_alive()  # the /add still runs
    t.join(30)
    assert added["r"].status_code == 200, added["r"].text
    assert added["r"].json()["message"]["replicas"][-2:] == ["slow1", "slow2"]
    assert took < 1.5 * TIME_FACTOR
