"""End-to-end with a real Docker engine: the compose stack (control plane
and data plane containers), replicas as containers on net1.

Images are built from LB_RELEASE_BUILD (make test builds it) with
tools/build-images.sh; the stack is the one `make up` starts, published on
a free loopback port."""
import json
import os
import subprocess
import time

import pytest
import requests

from lbdocker import build_images, docker, make_down, sh
from lbtest import ROOT, Load, free_port, wait_for
from lbtls import make_pair

COMPOSE = ["docker-compose", "-p", "lb", "-f",
           os.path.join(ROOT, "compose", "docker-compose.yml")]
# `make up TLS=1`'s addition: HTTPS on a published port.
COMPOSE_TLS = ["-f", os.path.join(ROOT, "compose", "docker-compose.tls.yml")]
INSTANCE = "lb"


def managed_containers():
    out = docker("ps", "-a", "--filter", f"label=lb.instance={INSTANCE}",
                 "--format", "{{.Names}}").stdout.split()
    return sorted(out)


class Compose:
    def __init__(self):
        self.port = free_port()
        self.site_port = free_port()
        self.metrics_port = free_port()
        self.prom_port = free_port()
        self.env = dict(os.environ, LB_PUBLISH=f"127.0.0.1:{self.port}",
                        LB_PAGES_PUBLISH=f"127.0.0.1:{self.site_port}",
                        LB_METRICS_PUBLISH=f"127.0.0.1:{self.metrics_port}",
                        LB_PROMETHEUS_PUBLISH=f"127.0.0.1:{self.prom_port}")

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def get(self, path):
        return requests.get(self.url(path), timeout=10)

    def rep(self):
        r = self.get("/rep")
        assert r.status_code == 200, r.text
        return r.json()["message"]

    def serving(self, n):
        """Waits until /rep lists n replicas, all running, and /home works."""
        def ok():
            m = self.rep()
            if m["N"] != n or managed_running() != sorted(m["replicas"]):
                return False
            return self.get("/home").status_code == 200
        wait_for(ok, 30, step=0.1, what=f"{n} replicas serving")


def managed_running():
    out = docker("ps", "--filter", f"label=lb.instance={INSTANCE}",
                 "--format", "{{.Names}}").stdout.split()
    return sorted(out)


def compose_up(tls_dir=None, **env):
    """`make up`'s stack on free loopback ports (with env on top), once it
    serves its three replicas; with tls_dir (cert.pem and key.pem), as
    `make up TLS=1` starts it."""
    build_images()
    make_down()
    c = Compose()
    c.env.update(env)
    files = []
    if tls_dir:
        c.tls_port = free_port()
        c.env.update(LB_TLS_HOST_DIR=tls_dir,
                     LB_TLS_PUBLISH=f"127.0.0.1:{c.tls_port}")
        files = COMPOSE_TLS
    up = sh(*COMPOSE, *files, "up", "-d", env=c.env, check=False)
    assert up.returncode == 0, up.stderr
    wait_for(lambda: c.get("/rep").status_code == 200, 60, step=0.2,
             what="data plane container answering")
    c.serving(3)
    return c


@pytest.fixture(scope="module")
def tls_dir(tmp_path_factory):
    """A pair made by openssl req -x509, its key readable by the data
    plane's group (65534), as tools/tls-cert.sh leaves it."""
    d = str(tmp_path_factory.mktemp("tls"))
    crt, key = make_pair(d, "cert")
    os.rename(crt, os.path.join(d, "cert.pem"))
    os.rename(key, os.path.join(d, "key.pem"))
    os.chown(os.path.join(d, "key.pem"), -1, 65534)
    os.chmod(os.path.join(d, "key.pem"), 0o640)
    os.chmod(d, 0o755)
    return d


@pytest.fixture(scope="module")
def stack(tls_dir):
    c = compose_up(tls_dir)
    yield c
    logs = sh(*COMPOSE, "logs", "--no-color", check=False).stdout
    make_down()
    for mark in ("runtime error:", "AddressSanitizer"):
        assert mark not in logs


def test_the_stack_serves_https_with_the_mounted_certificate(stack,
                                                             tls_dir):
    cert = os.path.join(tls_dir, "cert.pem")
    url = f"https://localhost:{stack.tls_port}"
    r = requests.get(url + "/home", verify=cert, timeout=10)
    assert r.status_code == 200 and "Hello from Server" in r.text
    r = requests.get(url + "/rep", verify=cert, timeout=10)
    assert r.json()["message"]["N"] == 3
    # Plain HTTP beside it, as before.
    assert stack.get("/home").status_code == 200


def test_rep_lists_server1_to_3(stack):
    m = stack.rep()
    assert m == {"N": 3, "replicas": ["server1", "server2", "server3"]}
    # Replicas are containers named like the hostnames, on net1, with
    # their name as a network alias.
    info = json.loads(docker("inspect", "server1").stdout)[0]
    net = info["NetworkSettings"]["Networks"]["net1"]
    assert "server1" in net["Aliases"]
    assert info["Config"]["Labels"]["lb.server_id"] == "1"
    assert "SERVER_ID=1" in info["Config"]["Env"]


def test_home_is_answered_by_replica_containers(stack):
    ids = set()
    with requests.Session() as s:
        for _ in range(200):
            r = s.get(stack.url("/home"), timeout=10)
            assert r.status_code == 200
            ids.add(int(r.json()["message"].split()[-1]))
    assert ids <= {1, 2, 3} and 1 in ids


def test_other_path_is_400(stack):
    r = stack.get("/other")
    assert r.status_code == 400
    assert r.json() == {"message": "<Error> '/other' endpoint does not exist "
                        "in server replicas", "status": "failure"}


def test_add_and_rm_assignment_examples(stack):
    r = requests.post(stack.url("/add"), timeout=120,
                      json={"n": 4, "hostnames": ["S5", "S4", "S10", "S11"]})
    assert r.status_code == 200, r.text
    assert r.json()["message"]["replicas"][-4:] == ["S5", "S4", "S10", "S11"]
    assert managed_running() == sorted(r.json()["message"]["replicas"])
    r = requests.post(stack.url("/add"), timeout=30,
                      json={"n": 1, "hostnames": ["S5", "S6"]})
    assert r.status_code == 400
    assert r.json()["message"] == ("<Error> Length of hostname list is more "
                                   "than newly added instances")
    r = requests.delete(stack.url("/rm"), timeout=120,
                        json={"n": 4, "hostnames": ["S5", "S4"]})
    assert r.status_code == 200, r.text
    left = r.json()["message"]["replicas"]
    assert len(left) == 3 and "S5" not in left and "S4" not in left
    wait_for(lambda: managed_containers() == sorted(left), 10,
             what="removed containers deleted")
    stack.serving(3)


def test_add_with_a_taken_container_name_is_clean(stack):
    """A name the engine refuses (a foreign container holds it): a clear
    error, and nothing half-made is left."""
    docker("create", "--name", "taken1", "lb-replica:latest")
    try:
        before = stack.rep()
        r = requests.post(stack.url("/add"), timeout=60,
                          json={"n": 2, "hostnames": ["fresh1", "taken1"]})
        assert r.status_code == 500, r.text
        assert "already exists" in r.json()["message"]
        assert stack.rep() == before
        assert "fresh1" not in managed_containers()
    finally:
        docker("rm", "-f", "taken1", check=False)


@pytest.mark.parametrize("how", [["kill"], ["stop", "-t", "1"], ["rm", "-f"]])
def test_replica_death_is_replaced_without_client_errors(stack, how):
    victim = stack.rep()["replicas"][1]
    with Load(stack.url("/home"), clients=4, max_seconds=60) as load:
        wait_for(lambda: load.ok > 100, 10, what="load running")
        t0 = time.monotonic()
        docker(*how, victim)

        def replaced():
            m = stack.rep()
            names = m["replicas"]
            if m["N"] != 3 or victim in names:
                return None
            if managed_running() != sorted(names):
                return None
            return names
        names = wait_for(replaced, 5, step=0.05,
                         what="replacement listed and running")
        took = time.monotonic() - t0
        new = names[-1]
        before = load.ok
        wait_for(lambda: load.ok > before + 100, 10, what="load continuing")
    assert load.errors == [], load.errors[:5]
    assert took < 5.0
    assert new.startswith("srv-")
    # The replacement serves: its id shows up in answers.
    info = json.loads(docker("inspect", new).stdout)[0]
    new_id = int(info["Config"]["Labels"]["lb.server_id"])
    assert new_id > 3
    assert victim not in managed_containers()


def test_control_plane_restart_adopts_same_replicas(stack):
    names = stack.rep()["replicas"]
    ids = {n: json.loads(docker("inspect", n).stdout)[0]["Id"] for n in names}
    docker("restart", "-t", "2", "lb-controlplane")
    wait_for(lambda: stack.get("/rep").status_code == 200, 30, step=0.1,
             what="admin back after restart")
    assert stack.rep()["replicas"] == names
    for n in names:
        info = json.loads(docker("inspect", n).stdout)[0]
        assert info["Id"] == ids[n]
        # What a restarted control plane reads each one's weight from.
        assert info["Config"]["Labels"]["lb.weight"] == "1"
    assert managed_containers() == sorted(names)  # no duplicate, no orphan


def test_control_plane_down_data_plane_routes(stack):
    docker("stop", "-t", "2", "lb-controlplane")
    try:
        for _ in range(50):
            assert stack.get("/home").status_code == 200
        r = stack.get("/rep")
        assert r.status_code == 503
        assert r.json()["message"].startswith("<Error> Control plane")
    finally:
        docker("start", "lb-controlplane")
    wait_for(lambda: stack.get("/rep").status_code == 200, 30, step=0.1,
             what="admin back")


def container_ip(name, network):
    info = json.loads(docker("inspect", name).stdout)[0]
    return info["NetworkSettings"]["Networks"][network]["IPAddress"]


def nng_list_from(pid, url, tmp_path):
    """Sends an admin LIST request (protobuf: op = 1, a request id) with
    nngcat from inside the network namespace of process pid.  Returns the
    raw reply, or None when no answer came within 5 s (a dial to an
    address that is not routed waits for TCP's own timeout)."""
    req = tmp_path / "list.bin"
    req.write_bytes(b"\x08\x01\x11" + os.urandom(8))
    try:
        r = subprocess.run(
            ["nsenter", "-t", str(pid), "-n", "nngcat", "--req", "--dial",
             url, "--file", str(req), "--format", "raw", "--recv-timeout",
             "2", "--send-timeout", "2"], capture_output=True, timeout=5)
    except subprocess.TimeoutExpired:
        return None
    return r.stdout if r.returncode == 0 and r.stdout else None


def test_replicas_cannot_reach_the_admin_socket(stack, tmp_path):
    """Code brought as a replica shares net1 with the planes: it must not
    be able to send admin requests past LB_ADMIN_TOKEN.  The planes' NNG
    traffic stays on lbctl, which replicas do not join."""
    replica = stack.rep()["replicas"][0]
    rpid = json.loads(docker("inspect", replica).stdout)[0]["State"]["Pid"]
    dpid = json.loads(docker("inspect", "lb-dataplane").stdout)[0][
        "State"]["Pid"]
    ctl_ip = container_ip("lb-controlplane", "lbctl")
    net1_ip = container_ip("lb-controlplane", "net1")
    info = json.loads(docker("inspect", replica).stdout)[0]
    assert list(info["NetworkSettings"]["Networks"]) == ["net1"]
    # The data plane reaches it (so this probe can succeed) ...
    ok = nng_list_from(dpid, f"tcp://{ctl_ip}:5101", tmp_path)
    assert ok and ok.startswith(b"\x08\xc8\x01")  # status 200
    # ... a replica reaches it neither on net1 nor across to lbctl.
    assert nng_list_from(rpid, f"tcp://{net1_ip}:5101", tmp_path) is None
    assert nng_list_from(rpid, f"tcp://{ctl_ip}:5101", tmp_path) is None


def test_admin_is_back_soon_after_the_control_plane_returns(stack):
    """After an outage, the data plane's dialers retry at most every
    250 ms, so /rep answers soon after the control plane is back."""
    docker("stop", "-t", "2", "lb-controlplane")
    time.sleep(5)
    docker("start", "lb-controlplane")
    t0 = time.monotonic()
    wait_for(lambda: stack.get("/rep").status_code == 200, 30, step=0.05,
             what="admin back")
    took = time.monotonic() - t0
    logs = docker("logs", "--since", "30s", "lb-controlplane").stderr
    assert "event=started" in logs
    assert took < 5.0, took


def test_planes_pages_are_published_on_loopback(stack):
    r = requests.get(f"http://127.0.0.1:{stack.site_port}/api/state",
                     timeout=5)
    assert r.status_code == 200 and r.json()["control_plane"] is True
    m = requests.get(f"http://127.0.0.1:{stack.metrics_port}/metrics",
                     timeout=5).text
    assert "lb_replicas_ready 3" in m


def test_monitoring_profile_scrapes_both_planes(stack, tmp_path):
    """make up MONITORING=1: a Prometheus container (FROM scratch, Debian's
    binary) on the host's network, scraping both planes at their published
    loopback ports (here free ones, so its configuration is the test's)."""
    cfg = tmp_path / "prometheus.yml"
    cfg.write_text(
        "global: {scrape_interval: 1s}\nscrape_configs:\n"
        f"  - job_name: dataplane\n    static_configs: [{{targets: "
        f"['127.0.0.1:{stack.site_port}']}}]\n"
        f"  - job_name: controlplane\n    static_configs: [{{targets: "
        f"['127.0.0.1:{stack.metrics_port}']}}]\n")
    cfg.chmod(0o644)
    tmp_path.chmod(0o755)
    env = dict(stack.env, LB_PROMETHEUS_CONFIG=str(cfg))
    up = sh(*COMPOSE, "--profile", "monitoring", "up", "-d", "prometheus",
            env=env, check=False)
    assert up.returncode == 0, up.stderr
    base = f"http://127.0.0.1:{stack.prom_port}"
    try:
        def both_up():
            r = requests.get(base + "/api/v1/query",
                             params={"query": "sum(up)"}, timeout=2).json()
            res = r["data"]["result"]
            return res and float(res[0]["value"][1]) == 2
        wait_for(both_up, 60, step=0.5, what="Prometheus scraping both")
        r = requests.get(base + "/api/v1/query",
                         params={"query": "lb_replicas_ready"},
                         timeout=5).json()
        assert float(r["data"]["result"][0]["value"][1]) == 3
    finally:
        sh(*COMPOSE, "--profile", "monitoring", "rm", "-sf", "prometheus",
           env=env, check=False)


def net1_address(container):
    info = json.loads(docker("inspect", container).stdout)[0]
    return info["NetworkSettings"]["Networks"]["net1"]["IPAddress"]


def from_replica_network(replica, script):
    """Runs a Python snippet in a replica container's network namespace
    (its address on net1, as user code in a replica would); returns its
    output lines."""
    pid = json.loads(docker("inspect", replica).stdout)[0]["State"]["Pid"]
    r = subprocess.run(["nsenter", "-t", str(pid), "-n", "/usr/bin/python3",
                        "-c", script], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


STATUS_OF = """
import sys, urllib.request
for method, url in [a.split(" ", 1) for a in sys.argv[1:]]:
    req = urllib.request.Request(url, method=method, data=b'{"n": 1}'
                                 if method != "GET" else None)
    try:
        print(urllib.request.urlopen(req, timeout=10).status)
    except urllib.error.HTTPError as e:
        print(e.code)
    except OSError as e:
        print("unreachable")
"""


def test_replicas_cannot_administer_or_read_the_planes_pages(stack):
    dp, cp = net1_address("lb-dataplane"), net1_address("lb-controlplane")
    targets = [f"DELETE http://{dp}:5000/rm", f"POST http://{dp}:5000/add",
               f"GET http://{dp}:5001/metrics",
               f"GET http://{dp}:5001/api/state",
               f"GET http://{cp}:5103/metrics",
               f"GET http://{dp}:5000/home"]
    script = STATUS_OF.replace("sys.argv[1:]", repr(targets))
    got = from_replica_network(managed_running()[0], script)
    assert got[:5] == ["403"] * 5, got
    assert got[5] == "200", got  # the replicas' own paths stay open
    assert stack.rep()["N"] == 3
    # From the host, through the published ports: the operator.
    r = requests.get(f"http://127.0.0.1:{stack.site_port}/metrics",
                     timeout=5)
    assert r.status_code == 200


def test_held_clients_do_not_block_others_in_the_docker_stack(stack):
    """The compose defaults pass the capacity tests of `make run`: 1,000
    partial heads, then 1,000 idle keep-alive clients, and 20 fresh
    clients from another address are all answered at once."""
    from lbclients import held_clients_case
    for kind in ("partial", "idle"):
        ok, total, slowest = held_clients_case(stack.port, kind)
        assert (ok, total) == (20, 20), kind
        assert slowest < 0.3, f"{kind}: slowest {slowest * 1000:.0f} ms"


def test_concurrent_adds_and_removes_match_containers(stack):
    """20 concurrent /add and /rm against the engine: the end state is
    consistent, N == len(replicas) == running labelled containers."""
    import threading
    codes = []

    def worker(i):
        method = "POST" if i % 2 else "DELETE"
        path = "/add" if i % 2 else "/rm"
        r = requests.request(method, stack.url(path), json={"n": 1},
                             timeout=120)
        codes.append(r.status_code)
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    assert all(c in (200, 400) for c in codes), codes
    m = stack.rep()
    assert m["N"] == len(m["replicas"]) == len(set(m["replicas"]))
    wait_for(lambda: managed_containers() == sorted(m["replicas"]), 10,
             what="containers match the list")
    assert managed_running() == sorted(m["replicas"])


def test_make_down_leaves_nothing(stack):
    r = make_down()
    assert r.returncode == 0, r.stderr
    assert managed_containers() == []
    assert docker("ps", "-a", "--filter", "name=lb-", "--format",
                  "{{.Names}}").stdout.split() == []
    nets = docker("network", "ls", "--format", "{{.Name}}").stdout.split()
    assert "net1" not in nets


def test_missing_image_is_a_clear_error_and_leaves_nothing(stack_factory):
    """A control plane (on the host, docker driver) whose image does not
    exist: /add answers 500 naming the image; no container is left."""
    s = stack_factory(replicas=0, cp_env={
        "LB_DRIVER": "docker", "LB_IMAGE": "lb-no-such-image:none",
        "LB_INSTANCE": "e2emissing", "LB_NETWORK": "lbtest-missing"}).start()
    try:
        r = s.add({"n": 1, "hostnames": ["ghost1"]})
        assert r.status_code == 500, r.text
        assert "image lb-no-such-image:none not found" in r.json()["message"]
        assert s.rep()["message"] == {"N": 0, "replicas": []}
        assert docker("ps", "-a", "--filter", "label=lb.instance=e2emissing",
                      "--format", "{{.Names}}").stdout.split() == []
    finally:
        docker("network", "rm", "lbtest-missing", check=False)
