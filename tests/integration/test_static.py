"""LB_DRIVER=static: balancing servers the balancer did not start.  The
backends here are lb-replica processes that the test itself runs."""
import os
import signal

import pytest
import requests

from lbstack import server_id
from lbtest import Proc, binary, free_port, wait_for


@pytest.fixture
def backends(tmp_path):
    """Starts backends on demand: start(server_id) -> (port, Proc); all
    stopped at the end."""
    procs = []

    def start(sid, port=None):
        port = port or free_port()
        p = Proc([binary("replica/lb-replica")],
                 {"SERVER_ID": str(sid), "PORT": str(port),
                  "HOST": "127.0.0.1", "LOG_LEVEL": "warn"},
                 str(tmp_path / f"backend{sid}-{port}.log"))
        procs.append(p)
        wait_for(lambda: requests.get(f"http://127.0.0.1:{port}/heartbeat",
                                      timeout=1).status_code == 200, 10,
                 what="backend up")
        return port, p
    yield start
    for p in procs:
        p.stop()


def static_stack(stack_factory, specs, **cp):
    env = {"LB_DRIVER": "static", "LB_BACKENDS": ",".join(specs),
           "LB_RISE": "2"}
    env.update(cp)
    return stack_factory(replicas=len(specs), cp_env=env).start()


def test_backends_are_balanced_added_and_removed(stack_factory, backends):
    pa, _ = backends(11)
    pb, _ = backends(12)
    s = static_stack(stack_factory, [f"a=127.0.0.1:{pa}",
                                     f"b=127.0.0.1:{pb}"],
                     LB_PRESET="maglev")
    assert s.rep()["message"] == {"N": 2, "replicas": ["a", "b"]}
    ids = {server_id(s.get("/home")) for _ in range(60)}
    assert ids == {11, 12}
    pc, pcproc = backends(13)
    r = s.add({"n": 1, "hostnames": [f"c=127.0.0.1:{pc}"]})
    assert r.status_code == 200, r.text
    assert r.json()["message"]["replicas"] == ["a", "b", "c"]
    wait_for(lambda: 13 in {server_id(s.get("/home")) for _ in range(60)},
             5, what="c serving")
    r = s.rm({"n": 1, "hostnames": ["c"]})
    assert r.status_code == 200, r.text
    assert r.json()["message"]["replicas"] == ["a", "b"]
    assert pcproc.alive()  # deregistered, not stopped: not ours
    assert 13 not in {server_id(s.get("/home")) for _ in range(60)}


@pytest.mark.parametrize("body,needle", [
    ({"n": 2, "hostnames": ["x=127.0.0.1:1"]}, "'n' must equal"),
    ({"n": 1}, "'n' must equal"),
    ({"n": 1, "hostnames": ["x"]}, "is not name=host:port"),
    ({"n": 1, "hostnames": ["x=bad host:80"]}, "is not a host"),
    ({"n": 1, "hostnames": ["x=127.0.0.1:99999"]}, "port must be"),
    ({"n": 1, "hostnames": ["bad name=127.0.0.1:80"]}, "not a valid name"),
    ({"n": 1, "hostnames": ["a=127.0.0.1:80"]}, "already exists"),
])
def test_bad_static_adds_change_nothing(stack_factory, backends, body,
                                        needle):
    pa, _ = backends(11)
    s = static_stack(stack_factory, [f"a=127.0.0.1:{pa}"])
    r = s.add(body)
    assert r.status_code == 400, r.text
    assert needle in r.json()["message"]
    assert s.rep()["message"] == {"N": 1, "replicas": ["a"]}


def test_adding_a_backend_that_does_not_answer_adds_nothing(stack_factory,
                                                           backends):
    pa, _ = backends(11)
    s = static_stack(stack_factory, [f"a=127.0.0.1:{pa}"],
                     LB_START_TIMEOUT_MS="1000", LB_HEALTH_PATH="/home")
    r = s.add({"n": 1, "hostnames": [f"x=127.0.0.1:{free_port()}"]})
    assert r.status_code == 504, r.text
    assert r.json()["message"] == (
        "<Error> Could not add replicas: 1 of 1 new replicas did not "
        "answer /home within 1000 ms")
    assert s.rep()["message"] == {"N": 1, "replicas": ["a"]}
    assert s.routable() == ["a"]


def test_a_dead_backend_leaves_the_ring_and_comes_back(stack_factory,
                                                       backends):
    pa, _ = backends(11)
    pb, pbproc = backends(12)
    s = static_stack(stack_factory, [f"a=127.0.0.1:{pa}",
                                     f"b=127.0.0.1:{pb}"])
    pbproc.stop(signal.SIGKILL)
    wait_for(lambda: s.routable() == ["a"], 3, step=0.1,
             what="b out of the ring")
    # Nothing to respawn: still listed, N unchanged, and every request
    # is served meanwhile.
    assert s.rep()["message"] == {"N": 2, "replicas": ["a", "b"]}
    assert {server_id(s.get("/home")) for _ in range(30)} == {11}
    backends(12, port=pb)  # the same server comes back
    wait_for(lambda: sorted(s.routable()) == ["a", "b"], 5, step=0.1,
             what="b back after LB_RISE good checks")
    state = requests.get(s.site_url("/api/state"), timeout=5).json()
    kinds = [(e["kind"], e["name"]) for e in state["events"]]
    assert ("down", "b") in kinds and ("up", "b") in kinds


def test_unhealthy_at_start_begins_down(stack_factory, backends):
    pa, _ = backends(11)
    dead = free_port()
    s = stack_factory(replicas=2, cp_env={
        "LB_DRIVER": "static",
        "LB_BACKENDS": f"a=127.0.0.1:{pa},z=127.0.0.1:{dead}"}).start(
            ready=False)
    wait_for(lambda: s.get("/rep").status_code == 200, 10, what="admin")
    assert s.rep()["message"] == {"N": 2, "replicas": ["a", "z"]}
    assert s.routable() == ["a"]


def test_health_path_and_statuses(stack_factory, backends):
    pa, _ = backends(11)
    # lb-replica answers /nope with 404: outside 200..399, so unhealthy.
    s = stack_factory(replicas=0, cp_env={
        "LB_DRIVER": "static", "LB_BACKENDS": f"a=127.0.0.1:{pa}",
        "LB_HEALTH_PATH": "/nope"}).start(ready=False)
    wait_for(lambda: s.get("/rep").status_code == 200, 10, what="admin")
    assert s.routable() == []
    t = stack_factory(replicas=1, cp_env={
        "LB_DRIVER": "static", "LB_BACKENDS": f"a=127.0.0.1:{pa}",
        "LB_HEALTH_PATH": "/nope", "LB_HEALTH_STATUS": "404"}).start()
    assert t.routable() == ["a"]


def test_keys_and_presets_work_with_static_backends(stack_factory,
                                                    backends):
    ports = [backends(sid)[0] for sid in (11, 12, 13)]
    s = static_stack(stack_factory, [f"b{i}=127.0.0.1:{p}"
                                     for i, p in enumerate(ports)],
                     LB_KEY="header:X-User", LB_PRESET="maglev")
    seen = set()
    for user in ("ann", "bo", "cy", "di", "ed", "flo", "gus"):
        ids = {server_id(s.get("/home", headers={"X-User": user}))
               for _ in range(10)}
        assert len(ids) == 1
        seen |= ids
    assert len(seen) > 1


def test_bad_backends_setting_stops_the_start(tmp_path):
    import subprocess
    for spec, needle in [("a=127.0.0.1", "LB_BACKENDS"),
                         ("a=127.0.0.1:1,a=127.0.0.1:2", "listed twice")]:
        r = subprocess.run([binary("controlplane/lb-controlplane")],
                           env=dict(os.environ, LB_DRIVER="static",
                                    LB_BACKENDS=spec,
                                    LB_METRICS_LISTEN="",
                                    LB_CTL_URL=f"tcp://127.0.0.1:"
                                    f"{free_port()}",
                                    LB_PUB_URL=f"tcp://127.0.0.1:"
                                    f"{free_port()}"),
                           capture_output=True, text=True, timeout=10)
        assert r.returncode != 0
        assert needle in r.stderr, r.stderr
