"""A whole load balancer on 127.0.0.1 for one test: a control plane with
the process driver, and one or more data planes, on free ports."""
import json
import os
import signal

import requests

from lbtest import (TIME_FACTOR, Proc, assert_no_sanitizer_reports, binary,
                    free_port, pid_alive, replica_pids, wait_for)


class Stack:
    def __init__(self, tmp_path, replicas=3, cp_env=None, dp_env=None,
                 replica_bin=None, build=None):
        self.tmp = tmp_path
        self.build = build  # None: LB_BUILD
        self.ctl_url = f"tcp://127.0.0.1:{free_port()}"
        self.pub_url = f"tcp://127.0.0.1:{free_port()}"
        self.metrics_port = free_port()  # the control plane's /metrics
        self.state_dir = str(tmp_path / "state")
        self.instance = "t" + os.urandom(4).hex()
        self.cp_env = {
            "LB_CTL_URL": self.ctl_url,
            "LB_PUB_URL": self.pub_url,
            "LB_REPLICAS": str(replicas),
            "LB_STATE_DIR": self.state_dir,
            "LB_INSTANCE": self.instance,
            "LB_REPUBLISH_MS": "200",
            "LB_METRICS_LISTEN": f"127.0.0.1:{self.metrics_port}",
        }
        if replica_bin:
            self.cp_env["LB_REPLICA_BIN"] = replica_bin
        self.cp_env.update(cp_env or {})
        self.dp_env = dp_env or {}
        self.cp = None
        self.dps = []
        self.site_ports = []
        self.logs = []
        self.port = None
        self.tls_port = None  # the first data plane's, when it has TLS
        self.tls_ca = True    # what requests verifies HTTPS with
        self.plain = True     # the first data plane serves plain HTTP

    # -- processes ---------------------------------------------------------
    def start_cp(self):
        log = str(self.tmp / f"cp{len(self.logs)}.log")
        self.logs.append(log)
        self.cp = Proc([binary("controlplane/lb-controlplane", self.build)], self.cp_env,
                       log)
        return self.cp

    def start_dp(self, port=None, wait=True):
        port = port or free_port()
        site = free_port()  # the data plane's own pages
        env = {"LB_CTL_URL": self.ctl_url, "LB_PUB_URL": self.pub_url,
               "LB_PORT": str(port), "LB_HOST": "127.0.0.1",
               "LB_PAGES_LISTEN": f"127.0.0.1:{site}"}
        env.update(self.dp_env)
        tls = bool(env.get("LB_TLS_CERT"))
        if tls:
            env.setdefault("LB_TLS_PORT", str(free_port()))
            if self.tls_port is None:
                self.tls_port = int(env["LB_TLS_PORT"])
                self.tls_ca = env["LB_TLS_CERT"]  # self-signed: its own CA
        plain = not tls or env.get("LB_TLS_ONLY") != "1" or \
            env.get("LB_HTTP_REDIRECT") == "1"
        log = str(self.tmp / f"dp{len(self.logs)}.log")
        self.logs.append(log)
        dp = Proc([binary("dataplane/lb-dataplane", self.build)], env, log)
        self.dps.append((dp, port))
        self.site_ports.append(site)
        if self.port is None:
            self.port = port
        if not wait:
            return dp, port
        first = f"http://127.0.0.1:{port}/rep" if plain else \
            f"https://127.0.0.1:{env['LB_TLS_PORT']}/rep"
        if self.port == port:
            self.plain = plain
        wait_for(lambda: requests.get(first, timeout=2, verify=self.tls_ca)
                 .status_code in (200, 503),
                 10 * TIME_FACTOR, what="data plane listening")
        return dp, port

    def start(self, ready=True):
        try:
            self.start_cp()
            self.start_dp()
            if ready:
                self.wait_serving()
        except BaseException:
            # A stack that failed to come up leaves no process behind
            # (a module fixture gets no teardown when its setup fails).
            self.stop()
            raise
        return self

    def wait_serving(self, n=None, timeout=10):
        """Waits until /rep lists n replicas (default: LB_REPLICAS) and
        /home is answered by a replica."""
        want = int(self.cp_env["LB_REPLICAS"]) if n is None else n

        def ready():
            body = self.rep()
            if body["message"]["N"] != want:
                return False
            if want == 0:
                return True
            return self.get("/home").status_code == 200 and \
                len(self.routable()) == want
        wait_for(ready, timeout, what=f"{want} replicas serving")

    def routable(self):
        """Replicas in the ring, from the snapshot stream (lb-watch)."""
        import subprocess
        out = subprocess.run(
            [binary("tools/lb-watch"), "--pub-url", self.pub_url,
             "--count", "1", "--timeout-ms", "3000"],
            capture_output=True, text=True, timeout=10).stdout
        return [r["name"] for r in json.loads(out)["replicas"]]

    def state_file(self):
        return os.path.join(self.state_dir, f"{self.instance}.json")

    def replica_pids(self):
        return replica_pids(self.state_file())

    def stop(self):
        for dp, _ in self.dps:
            dp.stop()
        if self.cp:
            self.cp.stop()
        # Whatever a killed control plane left, no test leaves behind.
        for pid in replica_pids(self.state_file()):
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
        assert_no_sanitizer_reports(self.logs)

    # -- HTTP --------------------------------------------------------------
    def url(self, path, port=None):
        if not port and not self.plain:
            return self.https_url(path)
        return f"http://127.0.0.1:{port or self.port}{path}"

    def https_url(self, path, host="127.0.0.1"):
        return f"https://{host}:{self.tls_port}{path}"

    def site_url(self, path, i=0):
        """A page of data plane i's own listener (LB_PAGES_LISTEN)."""
        return f"http://127.0.0.1:{self.site_ports[i]}{path}"

    def metrics(self, url):
        """A /metrics page parsed: {"name{labels}": value}."""
        out = {}
        for line in requests.get(url, timeout=5).text.splitlines():
            if line and not line.startswith("#"):
                k, v = line.rsplit(" ", 1)
                out[k] = float(v)
        return out

    def get(self, path, **kw):
        kw.setdefault("timeout", 10)
        kw.setdefault("verify", self.tls_ca)  # after a redirect to HTTPS
        return requests.get(self.url(path), **kw)

    def rep(self):
        r = self.get("/rep")
        assert r.status_code == 200, r.text
        return r.json()

    def add(self, body, **kw):
        kw.setdefault("timeout", 60)
        return requests.post(self.url("/add"), json=body, **kw)

    def rm(self, body, **kw):
        kw.setdefault("timeout", 60)
        return requests.delete(self.url("/rm"), json=body, **kw)


def pid_of(stack, name):
    """The pid of replica `name`, from the process driver's state file."""
    with open(stack.state_file()) as f:
        for r in json.load(f)["replicas"]:
            if r["name"] == name:
                return r["pid"]
    raise AssertionError(f"{name} not in the state file")


def server_id(resp):
    """The client's bucketing rule: the last token of message."""
    return int(resp.json()["message"].split()[-1])


def count_replica_processes(instance):
    """Live processes whose environment marks them as this instance's."""
    n = 0
    want = f"LB_INSTANCE={instance}".encode()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                env = f.read().split(b"\0")
                # The control plane carries LB_INSTANCE too; replicas also
                # carry SERVER_ID.
                if want in env and any(e.startswith(b"SERVER_ID=")
                                       for e in env) and pid_alive(int(pid)):
                    n += 1
        except OSError:
            pass
    return n
