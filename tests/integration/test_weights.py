"""Weights: a replica's weight (1..100, default 1) scales its share of the
ring, given on /add ("weight") or in LB_BACKENDS (name=host:port@w), kept
by its replacement, shown in the STATUS reply and on the dashboard."""
import os
import subprocess

import pytest
import requests

from lbstack import count_replica_processes, pid_of
from lbtest import Proc, binary, free_port, lb_load, wait_for


def shares(stack, tmp_path, n=6000):
    """n requests (random keys) through lb-load: {server id: share}."""
    res = lb_load(stack.url("/home"), tmp_path, "--requests", str(n),
                  "--concurrency", "16")
    assert res["errors"] == 0, res
    return {k: v / n for k, v in res["servers"].items()}


def state_replicas(stack):
    r = requests.get(stack.site_url("/api/state"), timeout=5)
    assert r.status_code == 200, r.text
    return {x["name"]: x for x in r.json()["replicas"]}


def test_weight_3_takes_half_with_maglev(stack_factory, tmp_path):
    s = stack_factory(cp_env={"LB_PRESET": "maglev"}).start()
    r = s.add({"n": 1, "hostnames": ["big"], "weight": 3})
    assert r.status_code == 200, r.text
    # The assignment's answer, unchanged by the weight.
    assert r.json()["message"]["N"] == 4
    st = state_replicas(s)
    assert st["big"]["weight"] == 3
    assert all(st[n]["weight"] == 1 for n in st if n != "big")
    big_id = str(st["big"]["id"])
    got = shares(s, tmp_path)
    assert abs(got[big_id] - 0.5) <= 0.03, got
    for sid, share in got.items():
        if sid != big_id:
            assert abs(share - 1 / 6) <= 0.03, got


def test_a_replacement_keeps_the_weight(stack_factory, tmp_path):
    import signal
    s = stack_factory(replicas=1, cp_env={"LB_PRESET": "maglev"}).start()
    assert s.add({"n": 1, "hostnames": ["big"],
                  "weight": 4}).status_code == 200
    os.kill(pid_of(s, "big"), signal.SIGKILL)

    def replaced():
        st = state_replicas(s)
        up = [x for x in st.values() if x["state"] == "up"]
        return st["big"]["state"] == "dead" and len(up) == 2 and up
    up = wait_for(replaced, 20, what="big replaced")
    assert sorted(x["weight"] for x in up) == [1, 4]


@pytest.mark.parametrize("weight", [0, 101, 2.5, "3", -1, True])
def test_a_bad_weight_is_refused_and_changes_nothing(stack_factory, weight):
    s = stack_factory(replicas=1).start()
    before = s.rep()
    r = s.add({"n": 1, "weight": weight})
    assert r.status_code == 400, r.text
    assert "'weight' must be an integer from 1 to 100" in r.text
    assert s.rep() == before


def test_static_backends_take_their_weight(stack_factory, tmp_path):
    procs, specs = [], []
    try:
        for sid, w in ((21, ""), (22, "@3")):
            port = free_port()
            procs.append(Proc([binary("replica/lb-replica")],
                              {"SERVER_ID": str(sid), "PORT": str(port),
                               "HOST": "127.0.0.1", "LOG_LEVEL": "warn"},
                              str(tmp_path / f"b{sid}.log")))
            wait_for(lambda: requests.get(
                f"http://127.0.0.1:{port}/heartbeat",
                timeout=1).status_code == 200, 10, what="backend up")
            specs.append(f"b{sid}=127.0.0.1:{port}{w}")
        s = stack_factory(replicas=2, cp_env={
            "LB_DRIVER": "static", "LB_BACKENDS": ",".join(specs),
            "LB_PRESET": "maglev"}).start()
        assert state_replicas(s)["b22"]["weight"] == 3
        got = shares(s, tmp_path, 4000)
        assert abs(got["22"] - 0.75) <= 0.03, got
    finally:
        for p in procs:
            p.stop()


def test_a_bad_backend_weight_stops_the_start(tmp_path):
    r = subprocess.run([binary("controlplane/lb-controlplane")],
                       env=dict(os.environ, LB_DRIVER="static",
                                LB_BACKENDS="a=127.0.0.1:9@0",
                                LB_METRICS_LISTEN="",
                                LB_CTL_URL=f"tcp://127.0.0.1:{free_port()}",
                                LB_PUB_URL=f"tcp://127.0.0.1:{free_port()}"),
                       capture_output=True, text=True, timeout=10)
    assert r.returncode != 0
    assert "weight must be 1..100" in r.stderr, r.stderr


def test_a_weight_the_table_cannot_hold_is_refused_before_anything_starts(
        stack_factory):
    """The assignment's table: 512 slots, 9 virtual servers per unit of
    weight; three replicas hold 27.  Weight 60 needs 540."""
    s = stack_factory().start()
    before = s.rep()
    procs = count_replica_processes(s.instance)
    r = s.add({"n": 1, "hostnames": ["huge"], "weight": 60})
    assert r.status_code == 400, r.text
    assert "do not fit" in r.text and "LB_SLOTS" in r.text
    assert s.rep() == before
    assert count_replica_processes(s.instance) == procs
    # One that fits still goes in.
    assert s.add({"n": 1, "hostnames": ["big"],
                  "weight": 50}).status_code == 200
