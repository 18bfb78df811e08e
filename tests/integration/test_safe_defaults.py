"""Safe by default: hostile clients, a hostile replica and a hostile
neighbour on the same host change nothing they should not.  (The Docker
deployment's side of the same rules is in tests/e2e/test_docker.py.)"""
import http.client
import os
import re
import socket

import requests

from lbtest import wait_for

LOG_LINE = 4096  # the access log's longest line


def raw_request(port, head, body=b"", timeout=10):
    """Sends bytes as they are; returns the status and the whole answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(head + body)
        data = b""
        while b"\r\n\r\n" not in data:
            piece = s.recv(65536)
            if not piece:
                break
            data += piece
    return int(data.split(b" ", 2)[1]), data


# ---- 1. the access log: every line whole, printable and bounded ----------

def test_access_log_lines_stay_whole_with_long_paths(stack_factory, tmp_path):
    log = tmp_path / "access.log"
    s = stack_factory(dp_env={"LB_ACCESS_LOG": str(log)}).start()
    skip = len(log.read_bytes().splitlines())
    lengths = [4000, 5000, 8000, 12000, 16000]
    for n in lengths:
        path = "/" + "a" * (n - 1)
        status, _ = raw_request(
            s.port, f"GET {path} HTTP/1.1\r\nHost: x\r\n"
            "Connection: close\r\n\r\n".encode())
        assert status == 400  # no replica serves it: the assignment's 400
    # Escaped characters take up to four bytes each in the line.
    quoted = "/" + '"' * 3000 + "%01" * 1000
    raw_request(s.port, f"GET {quoted} HTTP/1.1\r\nHost: x\r\n"
                "Connection: close\r\n\r\n".encode())
    # Only this test's requests: the stack's own readiness probes (200s)
    # may still be logged after the count above.
    def ours():
        return [ln for ln in log.read_bytes().splitlines()[skip:]
                if b" status=400 " in ln]
    wait_for(lambda: len(ours()) >= 6, 5, what="6 more lines")
    assert log.read_bytes().endswith(b"\n")
    lines = ours()
    assert len(lines) == 6, lines
    for line in lines:
        assert len(line) < LOG_LINE, len(line)
        assert all(0x20 <= c < 0x7f for c in line), line[:200]
        # whole: the last field is there, after the cut path
        assert re.search(rb" status=400 .* request_id=\d+$", line), line[-300:]
    for line, n in zip(lines, lengths):
        assert b'path="/aaaa' in line and b'..."' in line, line[:100]
        assert f"path_len={n}".encode() in line


# ---- 3. a request that is not idempotent runs at most once ---------------

BAD = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                   "bad_replica.py")


def acted(stack, on_port=None):
    """How many requests the (one) replica acted on."""
    return requests.get(stack.url("/act?on=none"), timeout=5).json()["acted"]


def test_post_that_breaks_a_pooled_connection_is_sent_once(stack_factory):
    # One replica that acts on /act and closes without answering; pooled
    # keep-alive connections to it exist (the /home requests made them).
    s = stack_factory(replicas=1, replica_bin=BAD).start()
    with requests.Session() as sess:
        for _ in range(20):
            assert sess.get(s.url("/home"), timeout=5).status_code == 200
    before = acted(s)
    outcomes = []
    for _ in range(5):
        with requests.Session() as sess:
            r = sess.post(s.url("/act?on=1"), data=b"pay once", timeout=10)
            outcomes.append(r.status_code)
            # Keep-alive connections back to the pool for the next POST.
            for _ in range(3):
                sess.get(s.url("/home"), timeout=5)
    assert outcomes == [502] * 5
    # The check itself is one more acted-on request.
    assert acted(s) - before == 5 + 1


def test_idempotent_request_still_goes_again_on_a_fresh_connection(
        stack_factory):
    s = stack_factory(replicas=1, replica_bin=BAD).start()
    with requests.Session() as sess:
        for _ in range(10):
            assert sess.get(s.url("/home"), timeout=5).status_code == 200
    before = acted(s)
    r = requests.put(s.url("/act?on=1"), data=b"same twice", timeout=10)
    assert r.status_code == 502
    # A PUT may be sent again (it is idempotent): on the pooled connection
    # that broke, then on a fresh one.
    assert acted(s) - before >= 2


# ---- 2. only the operator administers ------------------------------------

def request_from(source, port, method, path, body=None, headers=None):
    """One request from a given loopback address; (status, json)."""
    import json
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10,
                                   source_address=(source, 0))
    hdrs = {"Content-Type": "application/json"}
    hdrs.update(headers or {})
    c.request(method, path, body=json.dumps(body) if body is not None
              else None, headers=hdrs)
    r = c.getresponse()
    data = r.read()
    c.close()
    try:
        return r.status, json.loads(data)
    except ValueError:
        return r.status, data


def test_add_and_rm_answer_only_allowed_addresses(stack_factory):
    s = stack_factory(dp_env={"LB_ADMIN_ALLOW": "127.0.0.1"}).start()
    for method, path in (("POST", "/add"), ("DELETE", "/rm")):
        status, body = request_from("127.0.0.2", s.port, method, path,
                                    {"n": 1})
        assert status == 403, body
        assert body["status"] == "failure"
        assert body["message"].startswith("<Error> ")
        assert "127.0.0.2" in body["message"]
    assert s.rep()["message"]["N"] == 3
    # /rep and the replicas' paths stay open to everyone.
    assert request_from("127.0.0.2", s.port, "GET", "/rep")[0] == 200
    assert request_from("127.0.0.2", s.port, "GET", "/home")[0] == 200
    # The operator's address: the assignment's examples unchanged.
    status, body = request_from("127.0.0.1", s.port, "POST", "/add",
                                {"n": 1, "hostnames": ["S9"]})
    assert status == 200 and body["message"]["N"] == 4


def test_default_allows_loopback_only_by_default(stack):
    # The default (loopback, and the container host in a container):
    # every loopback address is the operator's own host.
    status, body = request_from("127.0.0.2", stack.port, "POST", "/add",
                                {"n": 1})
    assert status == 200, body
    assert stack.rm({"n": 1}).status_code == 200


def test_cross_site_browser_requests_are_refused(stack):
    evil = [{"Origin": "http://evil.example"},
            {"Origin": "null"},
            {"Origin": f"http://localhost:{stack.port + 1}"},
            {"Sec-Fetch-Site": "cross-site"},
            {"Sec-Fetch-Site": "same-site"},
            # DNS rebinding: a hostile name that resolves to 127.0.0.1
            {"Origin": f"http://evil.example:{stack.port}",
             "Host": f"evil.example:{stack.port}"}]
    for h in evil:
        r = stack.add({"n": 1}, headers=h)
        assert r.status_code == 403, (h, r.text)
        assert "another site" in r.json()["message"]
        assert stack.rm({"n": 1}, headers=h).status_code == 403
    assert stack.rep()["message"]["N"] == 3
    own = {"Origin": f"http://127.0.0.1:{stack.port}",
           "Sec-Fetch-Site": "same-origin"}
    assert stack.add({"n": 1}, headers=own).status_code == 200
    assert stack.rm({"n": 1}, headers=own).status_code == 200


def test_pages_of_both_planes_answer_only_allowed_addresses(stack_factory):
    s = stack_factory(dp_env={"LB_ADMIN_ALLOW": "127.0.0.1"},
                      cp_env={"LB_ADMIN_ALLOW": "127.0.0.1"}).start()
    site = s.site_ports[0]
    for port, path in ((site, "/metrics"), (site, "/"),
                       (site, "/api/state"), (s.metrics_port, "/metrics")):
        assert request_from("127.0.0.2", port, "GET", path)[0] == 403
        assert request_from("127.0.0.1", port, "GET", path)[0] == 200


def test_allow_beyond_this_host_needs_a_token():
    import subprocess
    from lbtest import binary

    def start(exe, **env):
        return subprocess.run([binary(exe)], capture_output=True, text=True,
                              timeout=20, env=dict(os.environ, **env))
    for exe in ("dataplane/lb-dataplane", "controlplane/lb-controlplane"):
        for spec in ("10.0.0.0/8", "loopback,0.0.0.0/0"):
            r = start(exe, LB_ADMIN_ALLOW=spec, LB_ADMIN_TOKEN="")
            assert r.returncode == 2, (exe, spec, r.stderr)
            assert "set LB_ADMIN_TOKEN too" in r.stderr, r.stderr
        r = start(exe, LB_ADMIN_ALLOW="10.0.0.0/33")
        assert r.returncode == 2 and "prefix" in r.stderr, r.stderr


def test_nng_admin_socket_checks_the_token(stack_factory):
    # The control plane has a token; a data plane without it is refused
    # on the admin socket (the data plane still routes from PUB).
    s = stack_factory(cp_env={"LB_ADMIN_TOKEN": "s3cret"},
                      dp_env={"LB_ADMIN_TOKEN": "s3cret"}).start()
    hdr = {"Authorization": "Bearer s3cret"}
    assert s.add({"n": 1}, headers=hdr).status_code == 200
    s.dp_env = {"LB_ADMIN_TOKEN": "wrong", "LB_READY_TIMEOUT_MS": "500"}
    _, port = s.start_dp(wait=False)
    wait_for(lambda: requests.get(f"http://127.0.0.1:{port}/rep",
                                  timeout=2).status_code == 401, 10,
             what="the second data plane refused by the control plane")
    r = requests.post(f"http://127.0.0.1:{port}/add", json={"n": 1},
                      headers={"Authorization": "Bearer wrong"}, timeout=10)
    assert r.status_code == 401, r.text
    assert r.json()["message"] == "<Error> Missing or wrong admin token"
    assert s.rep()["message"]["N"] == 4


# ---- 6. X-Forwarded-For cannot be forged ---------------------------------

ECHO = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                    "echo_replica.py")


def echoed_headers(stack, headers):
    r = requests.get(stack.url("/echo"), headers=headers, timeout=5)
    assert r.status_code == 200, r.text
    return r.json()["headers"]


def test_client_forwarded_for_is_replaced_by_default(stack_factory):
    s = stack_factory(replicas=1, replica_bin=ECHO).start()
    h = echoed_headers(s, {"X-Forwarded-For": "6.6.6.6",
                           "X-Forwarded-Proto": "https"})
    assert h["x-forwarded-for"] == "127.0.0.1"
    assert h["x-forwarded-proto"] == "http"
    h = echoed_headers(s, {})
    assert h["x-forwarded-for"] == "127.0.0.1"
    assert h["x-forwarded-proto"] == "http"


def test_trusted_forwarded_for_is_appended_and_keys_the_real_client(
        stack_factory):
    s = stack_factory(replicas=1, replica_bin=ECHO,
                      cp_env={"LB_TRUST_FORWARDED": "1", "LB_KEY": "ip"},
                      dp_env={"LB_TRUSTED_PROXIES":
                              "loopback,192.168.0.0/16"}).start()
    h = echoed_headers(s, {"X-Forwarded-For": "6.6.6.6, 10.0.0.7, "
                           "192.168.1.1"})
    assert h["x-forwarded-for"] == "6.6.6.6, 10.0.0.7, 192.168.1.1, 127.0.0.1"


def served_by_ip(stack, xff, n=4):
    from lbstack import server_id
    ids = set()
    for _ in range(n):
        r = requests.get(stack.url("/home"), headers={"X-Forwarded-For": xff},
                         timeout=5)
        ids.add(server_id(r))
    return ids


def test_routing_key_is_the_rightmost_untrusted_address(stack_factory):
    s = stack_factory(replicas=5,
                      cp_env={"LB_TRUST_FORWARDED": "1", "LB_KEY": "ip",
                              "LB_PRESET": "maglev"},
                      dp_env={"LB_TRUSTED_PROXIES":
                              "loopback,192.168.0.0/16"}).start()
    # A forged left-most address changes nothing: the proxy in front
    # (192.168.1.1, trusted) said the client was 10.0.0.7.
    seen = set()
    for forged in range(12):
        ids = served_by_ip(s, f"9.9.9.{forged}, 10.0.0.7, 192.168.1.1")
        assert len(ids) == 1
        seen |= ids
    assert len(seen) == 1
    # Real clients still spread.
    spread = set()
    for i in range(12):
        spread |= served_by_ip(s, f"10.0.0.{i}, 192.168.1.1", 1)
    assert len(spread) > 1


# ---- 7. the process driver's state directory is private ------------------

NOBODY = 65534


def start_cp_expecting_refusal(stack, what):
    import subprocess
    from lbtest import SAN_ENV, binary
    env = dict(os.environ, **SAN_ENV)
    env.update(stack.cp_env)
    r = subprocess.run([binary("controlplane/lb-controlplane")], env=env,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0, r.stderr
    assert "LB_STATE_DIR" in r.stderr and what in r.stderr, r.stderr
    return r


def plant_record(stack, port):
    """A process of another user that looks like a replica, and a record
    that names it."""
    import json
    import subprocess
    import sys
    fake = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"],
        env={"SERVER_ID": "1", "LB_INSTANCE": stack.instance},
        preexec_fn=lambda: (os.setgid(NOBODY), os.setuid(NOBODY)))
    with open(stack.state_file(), "w") as f:
        json.dump({"replicas": [{"name": "evil", "id": 1, "pid": fake.pid,
                                 "port": port}]}, f)
    return fake


def test_state_dir_of_another_user_is_refused(stack_factory):
    s = stack_factory()
    os.makedirs(s.state_dir)
    os.chown(s.state_dir, NOBODY, NOBODY)
    os.chmod(s.state_dir, 0o777)
    fake = plant_record(s, 1)
    try:
        start_cp_expecting_refusal(s, "owned by uid 65534")
    finally:
        fake.kill()
        fake.wait()


def test_state_dir_writable_by_others_is_refused(stack_factory):
    s = stack_factory()
    os.makedirs(s.state_dir)
    os.chmod(s.state_dir, 0o777)
    start_cp_expecting_refusal(s, "writable by others")


def test_state_dir_that_is_a_symlink_is_refused(stack_factory, tmp_path):
    s = stack_factory()
    real = tmp_path / "elsewhere"
    real.mkdir(mode=0o700)
    os.symlink(real, s.state_dir)
    start_cp_expecting_refusal(s, "symbolic link")


def test_state_dir_readable_by_others_is_made_private(stack_factory):
    s = stack_factory()
    os.makedirs(s.state_dir)
    os.chmod(s.state_dir, 0o755)
    s.start()
    assert os.stat(s.state_dir).st_mode & 0o777 == 0o700


def test_state_record_is_never_written_through_a_link(stack_factory,
                                                      tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    s = stack_factory()
    os.makedirs(s.state_dir, mode=0o700)
    os.symlink(victim, s.state_file() + ".tmp")
    s.start()
    assert s.add({"n": 1}).status_code == 200
    assert victim.read_text() == "precious\n"
    assert len(s.replica_pids()) == 4  # the record is there, and right


def test_record_of_a_process_of_another_user_is_not_adopted(stack_factory):
    s = stack_factory(replicas=0)
    os.makedirs(s.state_dir, mode=0o700)
    fake = plant_record(s, 1)
    try:
        s.start()
        assert s.rep()["message"]["N"] == 0
        assert "evil" not in s.cp.output().split("event=adopted")[-1]
    finally:
        fake.kill()
        fake.wait()


# ---- 8. names with control characters; a control plane whose clock went
# back -------------------------------------------------------------------

def test_names_with_control_characters_are_refused_and_never_echoed(stack):
    hostile = ["a\nts=forged level=error event=replica_dead", "b\r\x1b[2J",
               "c\x00d", "\x7f"]
    for name in hostile:
        for r in (stack.add({"n": 1, "hostnames": [name]}),
                  stack.rm({"n": 1, "hostnames": [name]})):
            assert r.status_code == 400, r.text
            msg = r.json()["message"]
            assert msg.startswith("<Error> ")
            assert all(0x20 <= ord(ch) < 0x7f for ch in msg), repr(msg)
    assert stack.rep()["message"]["N"] == 3
    # Every line either plane logged is one event: none was split or
    # forged by a name.
    for log in stack.logs:
        with open(log, "rb") as f:
            for line in f.read().splitlines():
                assert line.startswith(b"ts="), line
                assert b"forged" not in line


# ---- 4. slow uploads cost a worker, not a replica's connection slot -----

def test_slow_uploads_do_not_take_the_replicas_connection_slots(stack):
    """600 clients from 127.0.0.2 that send a POST head announcing 1 MiB,
    70 KB of it, then a byte a second: 20 fresh /home from 127.0.0.1 are
    all answered at once."""
    import selectors
    import time
    head = (b"POST /upload HTTP/1.1\r\nHost: x\r\n"
            b"Content-Length: 1048576\r\n\r\n")
    first = head + b"u" * 70_000
    slow = []
    try:
        for _ in range(600):
            s = socket.socket()
            s.bind(("127.0.0.2", 0))
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", stack.port))
            slow.append([s, 0])
        sel = selectors.DefaultSelector()
        for entry in slow:
            sel.register(entry[0], selectors.EVENT_WRITE, entry)
        end = time.monotonic() + 30
        pending = len(slow)
        while pending and time.monotonic() < end:
            for key, _ in sel.select(0.1):
                entry = key.data
                try:
                    entry[1] += entry[0].send(first[entry[1]:])
                except BlockingIOError:
                    continue
                except OSError:
                    entry[1] = len(first)
                if entry[1] >= len(first):
                    sel.unregister(entry[0])
                    pending -= 1
        sel.close()
        assert pending == 0
        # A byte a second, while fresh clients come.
        ticks = 0
        times = []
        for i in range(20):
            if i % 5 == 0:
                ticks += 1
                for entry in slow:
                    try:
                        entry[0].send(b"u")
                    except OSError:
                        pass
            t0 = time.monotonic()
            r = requests.get(stack.url("/home"), timeout=10,
                             headers={"Connection": "close"})
            times.append(time.monotonic() - t0)
            assert r.status_code == 200, r.text
            time.sleep(0.2)
        assert max(times) < 0.3, f"slowest {max(times) * 1000:.0f} ms"
    finally:
        for entry in slow:
            entry[0].close()


def test_body_slower_than_the_minimum_rate_is_408(stack_factory):
    import time
    s = stack_factory(dp_env={"LB_MIN_BODY_RATE": "1000"}).start()
    with socket.create_connection(("127.0.0.1", s.port), timeout=10) as c:
        c.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Length: 100000\r\n\r\n")
        t0 = time.monotonic()
        data = b""
        # 100 bytes a second, for up to 15 s: the rate is judged after
        # 2 s, between pieces of 512 bytes (civetweb's reads return only
        # when the piece is full).
        for _ in range(150):
            try:
                c.sendall(b"x" * 10)
            except OSError:
                break
            c.settimeout(0.1)
            try:
                data += c.recv(4096)
            except socket.timeout:
                pass
            if data:
                break
        assert data.startswith(b"HTTP/1.1 408"), data[:200]
        assert b"LB_MIN_BODY_RATE" in data
        assert time.monotonic() - t0 < 15


def test_untrusted_peer_forwarded_fields_never_reach_a_replica(stack_factory):
    s = stack_factory(replicas=1, replica_bin=ECHO,
                      cp_env={"LB_TRUST_FORWARDED": "1"},
                      dp_env={"LB_TRUSTED_PROXIES": "192.168.0.0/16"}).start()
    h = echoed_headers(s, {"X-Forwarded-For": "6.6.6.6",
                           "X-Forwarded-Proto": "https",
                           "Forwarded": "for=6.6.6.6",
                           "X-Real-IP": "6.6.6.6"})
    assert h["x-forwarded-for"] == "127.0.0.1"
    assert h["x-forwarded-proto"] == "http"
    assert "forwarded" not in h and "x-real-ip" not in h


def test_pages_refuse_a_rebound_host_name(stack):
    r = requests.get(stack.site_url("/api/state"), timeout=5,
                     headers={"Host": "evil.example"})
    assert r.status_code == 403
    assert "not a name" in r.json()["message"]
    for host in ("localhost", "127.0.0.1"):
        r = requests.get(stack.site_url("/api/state"), timeout=5,
                         headers={"Host": f"{host}:1234"})
        assert r.status_code == 200


def test_behind_a_trusted_proxy_the_client_it_names_is_judged(stack_factory):
    # A proxy on this host (trusted) forwards a client from elsewhere: not
    # the operator, whatever the proxy's own loopback address.
    s = stack_factory(cp_env={"LB_TRUST_FORWARDED": "1"}).start()
    r = s.add({"n": 1}, headers={"X-Forwarded-For": "10.9.9.9"})
    assert r.status_code == 403, r.text
    assert "not to 10.9.9.9" in r.json()["message"]
    assert s.rep()["message"]["N"] == 3
    r = s.add({"n": 1}, headers={"X-Forwarded-For": "127.0.0.1"})
    assert r.status_code == 200, r.text
