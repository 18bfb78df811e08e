"""End-to-end on a real single-node Docker Swarm: `tools/swarm.sh up` (what
`make swarm-up` runs) deploys the stack: the control plane with
LB_DRIVER=swarm, two data planes on free loopback ports, and replicas as
Swarm services on the overlay network net1.  `tools/swarm.sh down` must
leave the engine as it found it.

Runs after test_docker.py, whose compose stack (with a bridge net1) is
down by then; the fixture makes sure of it."""
import json
import os
import re
import time

import pytest
import requests

from lbcontract import Answer, doc_claim, verify
from lbdocker import build_images, docker, make_down, sh
from lbtest import ROOT, Load, free_port, wait_for

SWARM = os.path.join(ROOT, "tools", "swarm.sh")
INSTANCE = "lbswarm"
STACK = "lbswarm"
ASSIGNMENT_400 = ("<Error> '/other' endpoint does not exist in server "
                  "replicas")


def engine_state():
    """What swarm-down must give back: swarm state, services, containers
    and networks (by name, ids of services and containers)."""
    swarm = docker("info", "--format",
                   "{{.Swarm.LocalNodeState}}").stdout.strip()
    services, secrets = [], []
    if swarm == "active":
        services = docker("service", "ls", "-q").stdout.split()
        secrets = docker("secret", "ls", "-q").stdout.split()
    return {
        "swarm": swarm,
        "services": sorted(services),
        "secrets": sorted(secrets),
        "containers": sorted(docker("ps", "-aq").stdout.split()),
        "networks": sorted(docker("network", "ls", "--format",
                                  "{{.Name}}").stdout.split()),
    }


def services():
    """The replica services the control plane made, by name."""
    return sorted(docker("service", "ls", "--filter",
                         f"label=lb.instance={INSTANCE}", "--format",
                         "{{.Name}}").stdout.split())


def task_container(service):
    """The running container of a service's task, or None."""
    ids = docker("ps", "-q", "--filter",
                 f"label=com.docker.swarm.service.name={service}"
                 ).stdout.split()
    return ids[0] if ids else None


class Swarm:
    """`make swarm-up TLS=1`'s stack: HTTPS too, the certificate made by
    tools/tls-cert.sh in tls_dir and given to the data plane as secrets."""

    def __init__(self, tls_dir):
        self.ports = (free_port(), free_port())
        self.tls_port = free_port()
        self.tls_dir = tls_dir
        self.env = dict(os.environ, LB_SWARM_PORT=str(self.ports[0]),
                        LB_SWARM_PORT2=str(self.ports[1]), LB_TLS="1",
                        LB_TLS_DIR=tls_dir,
                        LB_SWARM_TLS_PORT=str(self.tls_port))

    def url(self, path, plane=0):
        return f"http://127.0.0.1:{self.ports[plane]}{path}"

    def rep(self, plane=0):
        r = requests.get(self.url("/rep", plane), timeout=10)
        assert r.status_code == 200, r.text
        return r.json()["message"]

    def serving(self, n, plane=0):
        """/rep lists n replicas, each a service with a running task."""
        m = self.rep(plane)
        names = sorted(m["replicas"])
        return (m["N"] == n and services() == names and
                all(task_container(s) for s in names))

    def script(self, verb):
        return sh(SWARM, verb, env=self.env, check=False, timeout=300)


@pytest.fixture(scope="module")
def swarm(tmp_path_factory):
    build_images()
    make_down()
    before = engine_state()
    s = Swarm(str(tmp_path_factory.mktemp("tls")))
    s.before = before
    up = s.script("up")
    assert up.returncode == 0, up.stdout + up.stderr
    for plane in (0, 1):
        wait_for(lambda: s.serving(3, plane), 60, step=0.2,
                 what=f"data plane {plane} serving 3 replicas")
    yield s
    s.script("down")


def test_contract_through_each_data_plane(swarm):
    for plane in (0, 1):
        assert swarm.rep(plane) == {
            "N": 3, "replicas": ["server1", "server2", "server3"]}
        ids = set()
        with requests.Session() as sess:
            for _ in range(100):
                r = sess.get(swarm.url("/home", plane), timeout=10)
                assert r.status_code == 200, r.text
                ids.add(int(r.json()["message"].split()[-1]))
        assert ids <= {1, 2, 3} and ids
        r = requests.get(swarm.url("/other", plane), timeout=10)
        assert r.status_code == 400
        assert r.json() == {"message": ASSIGNMENT_400, "status": "failure"}


def test_https_with_the_certificate_given_as_a_secret(swarm):
    cert = os.path.join(swarm.tls_dir, "cert.pem")
    r = requests.get(f"https://localhost:{swarm.tls_port}/home",
                     verify=cert, timeout=10)
    assert r.status_code == 200 and "Hello from Server" in r.text
    spec = json.loads(docker("service", "inspect", f"{STACK}_dataplane")
                      .stdout)[0]["Spec"]["TaskTemplate"]["ContainerSpec"]
    assert sorted(x["SecretName"] for x in spec["Secrets"]) == [
        f"{STACK}_lb_tls_cert", f"{STACK}_lb_tls_key"]
    assert "LB_TLS_KEY=/run/secrets/lb_tls_key" in spec["Env"]


def test_replicas_are_services_the_control_plane_repairs(swarm):
    spec = json.loads(docker("service", "inspect", "server2").stdout)[0][
        "Spec"]
    assert spec["Labels"]["lb.instance"] == INSTANCE
    assert spec["Labels"]["lb.server_id"] == "2"
    assert spec["Mode"]["Replicated"]["Replicas"] == 1
    assert spec["TaskTemplate"]["RestartPolicy"]["Condition"] == "none"
    assert spec["EndpointSpec"]["Mode"] == "dnsrr"
    assert "SERVER_ID=2" in spec["TaskTemplate"]["ContainerSpec"]["Env"]
    net = json.loads(docker("network", "inspect", "net1").stdout)[0]
    assert net["Driver"] == "overlay" and net["Attachable"]


def control_plane_log():
    """Its log lines go to stderr; `docker service logs` keeps streams."""
    r = sh("docker", "service", "logs", "--raw", f"{STACK}_controlplane",
           check=False)
    return r.stdout + r.stderr


def replaced(swarm, victim):
    """The names once the victim is gone and a replacement serves."""
    m = swarm.rep()
    if m["N"] != 3 or victim in m["replicas"]:
        return None
    return m["replicas"] if swarm.serving(3) else None


@pytest.mark.parametrize("how", ["kill", "service-rm"])
def test_replica_task_lost_under_load_is_replaced(swarm, how):
    victim = swarm.rep()["replicas"][1]
    with Load(swarm.url("/home"), clients=4, max_seconds=60) as load:
        wait_for(lambda: load.ok > 100, 10, what="load running")
        t0 = time.monotonic()
        if how == "kill":
            docker("kill", task_container(victim))
        else:
            docker("service", "rm", victim)
        names = wait_for(lambda: replaced(swarm, victim), 5, step=0.05,
                         what="replacement listed and running")
        took = time.monotonic() - t0
        before = load.ok
        wait_for(lambda: load.ok > before + 100, 10, what="load continuing")
    print(f"\nswarm replica {how}: replaced in {took:.2f} s, "
          f"{load.ok} answers, {len(load.errors)} client errors")
    assert took < 5.0
    assert load.errors == [], load.errors[:5]
    assert names[-1].startswith("srv-") and victim not in services()
    # Seen by the engine's events, not only by failed heartbeats.
    event = "container_died" if how == "kill" else "service_removed"
    wait_for(lambda: f"event={event} name={victim}" in control_plane_log(),
             10, what=f"{event} in the control plane's log")
    # The replacement answers through the other data plane too.
    wait_for(lambda: swarm.rep(1)["replicas"] == names, 5,
             what="second data plane has the new ring")


def test_data_plane_task_killed_other_plane_unaffected(swarm):
    service = f"{STACK}_dataplane2"
    victim = task_container(service)
    assert victim
    with Load(swarm.url("/home", 0), clients=4, max_seconds=90) as other, \
            Load(swarm.url("/home", 1), clients=2, max_seconds=90) as hit:
        wait_for(lambda: other.ok > 100 and hit.ok > 50, 10,
                 what="load on both data planes")
        t0 = time.monotonic()
        docker("kill", victim)

        def back():
            c = task_container(service)
            if not c or c == victim:
                return False
            try:
                return requests.get(swarm.url("/home", 1),
                                    timeout=2).status_code == 200
            except requests.RequestException:
                return False
        wait_for(back, 60, step=0.05, what="Swarm's new data plane task")
        took = time.monotonic() - t0
        before = other.ok
        wait_for(lambda: other.ok > before + 100, 10, what="load continuing")
    print(f"\nswarm data plane killed: back in {took:.2f} s; other plane "
          f"{other.ok} answers, {len(other.errors)} errors; its own clients "
          f"{len(hit.errors)} errors")
    assert other.errors == [], other.errors[:5]
    assert took < 30.0


def test_names_swarm_refuses_are_a_400(swarm):
    before = swarm.rep()
    r = requests.post(swarm.url("/add"), timeout=30,
                      json={"n": 1, "hostnames": ["S_1"]})
    assert r.status_code == 400
    assert r.json()["message"] == (
        "<Error> 'S_1' is not a valid Swarm service name "
        "(^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$)")
    assert swarm.rep() == before


def test_add_and_rm_create_and_remove_services(swarm):
    r = requests.post(swarm.url("/add"), timeout=120,
                      json={"n": 2, "hostnames": ["S5", "S4"]})
    assert r.status_code == 200, r.text
    names = r.json()["message"]["replicas"]
    assert names[-2:] == ["S5", "S4"]
    assert services() == sorted(names)
    assert task_container("S5") and task_container("S4")
    wait_for(lambda: swarm.rep(1)["replicas"] == names, 5,
             what="second data plane has S4 and S5")
    r = requests.delete(swarm.url("/rm", 1), timeout=120,
                        json={"n": 2, "hostnames": ["S5", "S4"]})
    assert r.status_code == 200, r.text
    left = r.json()["message"]["replicas"]
    assert "S5" not in left and "S4" not in left and len(left) == 3
    wait_for(lambda: services() == sorted(left) and not
             task_container("S5") and not task_container("S4"), 20,
             what="S4 and S5 services and containers gone")


def test_a_task_that_cannot_run_is_a_clear_error_and_leaves_nothing(
        swarm, stack_factory):
    """A control plane (on the host, swarm driver) whose image does not
    exist: Swarm rejects the task; /add answers as docs/contract.md's line
    says (a 500 with Swarm's reason) and deletes the service.  This is
    that line's check (test_contract_doc.py's ELSEWHERE)."""
    line = doc_claim("POST /add", r"the task of service")
    doc_name = re.search(r"of service (\S+) ", line.message).group(1)
    s = stack_factory(replicas=0, cp_env={
        "LB_DRIVER": "swarm", "LB_IMAGE": "lb-no-such-image:none",
        "LB_INSTANCE": "e2eswarmmissing",
        "LB_NETWORK": "lbtest-swarm-missing"}).start()
    try:
        r = s.add({"n": 1, "hostnames": ["ghost1"]})
        verify(line, Answer.of(r),
               subst={f"service {doc_name} ": "service ghost1 "})
        assert s.rep()["message"] == {"N": 0, "replicas": []}
        assert docker("service", "ls", "-q", "--filter",
                      "label=lb.instance=e2eswarmmissing").stdout == ""
    finally:
        docker("network", "rm", "lbtest-swarm-missing", check=False)


def test_swarm_down_leaves_what_was_there(swarm):
    down = swarm.script("down")
    assert down.returncode == 0, down.stdout + down.stderr
    assert engine_state() == swarm.before


def test_a_swarm_that_was_there_is_neither_taken_nor_left(tmp_path):
    """A swarm that swarm-up did not make, with someone else's service and
    network on it: up deploys beside them, down removes only the stack."""
    made_here = engine_state()["swarm"] != "active"
    if made_here:
        docker("swarm", "init", "--advertise-addr", "127.0.0.1")
    try:
        docker("network", "create", "-d", "overlay", "lbtest-foreign")
        docker("service", "create", "--name", "lbtest-foreign",
               "--replicas", "0", "--network", "lbtest-foreign",
               "lb-replica:latest")
        before = engine_state()
        s = Swarm(str(tmp_path))
        up = s.script("up")
        assert up.returncode == 0, up.stdout + up.stderr
        assert s.rep()["N"] == 3
        down = s.script("down")
        assert down.returncode == 0, down.stdout + down.stderr
        assert "leaving" not in down.stdout
        assert engine_state() == before  # swarm active, theirs still there
    finally:
        docker("service", "rm", "lbtest-foreign", check=False)
        docker("network", "rm", "lbtest-foreign", check=False)
        if made_here:
            docker("swarm", "leave", "--force", check=False)
            docker("network", "rm", "docker_gwbridge", check=False)
