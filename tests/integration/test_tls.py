"""HTTPS for clients (the data plane terminates TLS): the contract over TLS
1.2 and 1.3 with curl and openssl s_client as clients, what is refused,
start-up refusals, certificate rotation without a restart, several names
(SNI), what replicas are told, redirects, hostile TLS clients, large
streams, and a browser."""
import hashlib
import http.client
import json
import os
import re
import selectors
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time

import pytest
import requests

from lbbodies import MiB, PATTERN, PatternFile, expected_sha
from lbstack import Stack
from lbtest import BUILD, SAN_ENV, binary, free_port, recv_all, wait_for
from lbtls import (client_context, der, https_get, make_expired, make_pair,
                   presented, unverified_context)

HERE = os.path.dirname(os.path.abspath(__file__))
ECHO = os.path.join(HERE, "echo_replica.py")
BAD = os.path.join(HERE, "bad_replica.py")


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    """One pair made as the issue says: openssl req -x509, key and
    certificate in separate files."""
    return make_pair(str(tmp_path_factory.mktemp("certs")), "server")


def tls_env(certs, **more):
    env = {"LB_TLS_CERT": certs[0], "LB_TLS_KEY": certs[1]}
    env.update(more)
    return env


@pytest.fixture(scope="module")
def tls_stack(tmp_path_factory, certs):
    s = Stack(tmp_path_factory.mktemp("tls"), dp_env=tls_env(certs)).start()
    yield s
    s.stop()


def curl(*args):
    """curl as a client: (status, body, verbose text)."""
    p = subprocess.run(["curl", "-sS", "-v", "--max-time", "20", "-w",
                        "\n%{http_code}", *args], capture_output=True,
                       text=True, timeout=30)
    body, _, code = p.stdout.rpartition("\n")
    return int(code or 0), body, p.stderr


def s_client(port, *args, stdin=b""):
    """openssl s_client against the data plane: (exit status, output)."""
    p = subprocess.run(["openssl", "s_client", "-connect",
                        f"127.0.0.1:{port}", "-servername", "localhost",
                        *args], input=stdin, capture_output=True,
                       timeout=20)
    return p.returncode, (p.stdout + p.stderr).decode(errors="replace")


# ---- the contract over HTTPS ---------------------------------------------

@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_the_contract_answers_over_https(tls_stack, certs, version):
    pin = ["--cacert", certs[0], f"--tlsv{version}", "--tls-max", version]
    url = tls_stack.https_url
    code, body, verbose = curl(*pin, url("/home", "localhost"))
    assert code == 200 and "Hello from Server" in body, (body, verbose)
    assert f"SSL connection using TLSv{version}" in verbose, verbose
    assert "ALPN: server accepted http/1.1" in verbose, verbose
    code, body, _ = curl(*pin, url("/rep", "localhost"))
    assert code == 200 and json.loads(body)["message"]["N"] == 3
    name = f"tls{version.replace('.', '')}"
    code, body, _ = curl(*pin, "-X", "POST", "-H",
                         "Content-Type: application/json", "-d",
                         json.dumps({"n": 1, "hostnames": [name]}),
                         url("/add", "localhost"))
    assert code == 200, body
    assert name in json.loads(body)["message"]["replicas"]
    code, body, _ = curl(*pin, "-X", "DELETE", "-H",
                         "Content-Type: application/json", "-d",
                         json.dumps({"n": 1, "hostnames": [name]}),
                         url("/rm", "localhost"))
    assert code == 200, body
    assert name not in json.loads(body)["message"]["replicas"]
    # Plain HTTP still answers beside it.
    assert tls_stack.get("/home").status_code == 200


def test_old_protocols_weak_ciphers_and_other_alpn_are_refused(tls_stack):
    port = tls_stack.tls_port
    # TLS 1.1, even from a client willing to use it.
    rc, out = s_client(port, "-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0")
    assert rc != 0 and "alert protocol version" in out, out
    rc, out = s_client(port, "-tls1_2")
    assert rc == 0 and "New, TLSv1.2, Cipher" in out, out
    rc, out = s_client(port, "-tls1_3")
    assert rc == 0 and "New, TLSv1.3, Cipher" in out, out
    # A TLS 1.2 cipher in OpenSSL's default list but not in ours: CBC with
    # SHA-1 (the key exchange would be fine).
    rc, out = s_client(port, "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA")
    assert rc != 0 and "handshake failure" in out, out
    rc, out = s_client(port, "-tls1_2", "-cipher",
                       "ECDHE-ECDSA-AES128-GCM-SHA256")
    assert rc == 0, out
    rc, out = s_client(port, "-alpn", "h2,http/1.1")
    assert "ALPN protocol: http/1.1" in out, out
    rc, out = s_client(port, "-alpn", "h2")
    assert "No ALPN negotiated" in out, out


def test_plain_http_on_the_tls_port_gets_no_http_answer(tls_stack):
    """What a client that sends no ClientHello gets: the connection closed
    at once, no HTTP; and it took a worker only briefly."""
    for junk in (b"GET /home HTTP/1.1\r\nHost: x\r\n\r\n", os.urandom(300)):
        t0 = time.monotonic()
        with socket.create_connection(("127.0.0.1", tls_stack.tls_port),
                                      timeout=5) as s:
            s.sendall(junk)
            try:
                data = recv_all(s)
            except ConnectionResetError:
                data = b""
        assert b"HTTP/" not in data and b"Hello" not in data, data
        assert time.monotonic() - t0 < 1.0
    status, _ = https_get(tls_stack.tls_port)
    assert status.startswith(b"HTTP/1.1 200"), status


# ---- start-up: no TLS without a certificate that works ----------------

def run_dataplane(env, exe=None, timeout=20):
    """The data plane alone, expected to refuse to start: (status, output).
    """
    full = dict(os.environ, **SAN_ENV, LB_PORT=str(free_port()),
                LB_TLS_PORT=str(free_port()), LB_READY_TIMEOUT_MS="0",
                LB_PAGES_LISTEN="",
                LB_CTL_URL=f"tcp://127.0.0.1:{free_port()}",
                LB_PUB_URL=f"tcp://127.0.0.1:{free_port()}")
    full.update(env)
    p = subprocess.run([exe or binary("dataplane/lb-dataplane")], env=full,
                       capture_output=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    return p.returncode, (p.stdout + p.stderr).decode(errors="replace")


def bad_case(case, d):
    good = make_pair(d, "good")
    other = make_pair(d, "other")
    if case == "missing certificate":
        return {"LB_TLS_CERT": d + "/none.crt", "LB_TLS_KEY": good[1]}, \
            r"none\.crt: No such file"
    if case == "directory pair without its key":
        os.makedirs(d + "/names")
        shutil.copy(other[0], d + "/names/a.example.crt")
        return {"LB_TLS_CERT": good[0], "LB_TLS_KEY": good[1],
                "LB_TLS_DIR": d + "/names"}, r"a\.example\.key: No such file"
    if case == "key of another certificate":
        return {"LB_TLS_CERT": good[0], "LB_TLS_KEY": other[1]}, \
            r"other\.key does not match the certificate"
    if case == "expired":
        crt, key = make_expired(d, "old")
        return {"LB_TLS_CERT": crt, "LB_TLS_KEY": key}, r"old\.crt: expired"
    if case == "not PEM":
        with open(d + "/junk.crt", "wb") as f:
            f.write(os.urandom(500))
        return {"LB_TLS_CERT": d + "/junk.crt", "LB_TLS_KEY": good[1]}, \
            r"junk\.crt: no PEM certificate"
    if case == "key locked by a passphrase":
        subprocess.run(["openssl", "pkey", "-in", good[1], "-aes256",
                        "-passout", "pass:secret", "-out", d + "/locked.key"],
                       check=True, capture_output=True)
        return {"LB_TLS_CERT": good[0], "LB_TLS_KEY": d + "/locked.key"}, \
            r"locked\.key: no PEM private key in it, or one locked"
    if case == "damaged chain":
        with open(good[0], "a") as f:
            f.write("-----BEGIN CERTIFICATE-----\nMIIBdamaged\n"
                    "-----END CERTIFICATE-----\n")
        return {"LB_TLS_CERT": good[0], "LB_TLS_KEY": good[1]}, \
            r"good\.crt: a certificate after the first is damaged"
    if case == "certificate without key":
        return {"LB_TLS_CERT": good[0]}, r"LB_TLS_CERT and LB_TLS_KEY go"
    if case == "redirect without certificate":
        return {"LB_HTTP_REDIRECT": "1"}, r"LB_HTTP_REDIRECT=1 needs"
    raise AssertionError(case)


@pytest.mark.parametrize("case", [
    "missing certificate", "directory pair without its key", "key of another certificate",
    "expired", "not PEM", "key locked by a passphrase", "damaged chain",
    "certificate without key", "redirect without certificate"])
def test_a_data_plane_that_cannot_serve_tls_does_not_start(tmp_path, case):
    env, reason = bad_case(case, str(tmp_path))
    status, out = run_dataplane(env)
    assert status == 2, out
    lines = [ln for ln in out.splitlines() if ln.startswith("lb-dataplane:")]
    assert len(lines) == 1 and re.search(reason, lines[0]), out
    assert "event=started" not in out


def test_without_the_shims_civetweb_has_no_tls_and_nothing_starts(
        tmp_path, certs):
    """The data plane copied without its two shims: civetweb cannot load
    OpenSSL, and that is said at start rather than found by a crash on the
    first request (dataplane/dp_tls_shim.c says why)."""
    exe = str(tmp_path / "lb-dataplane")
    shutil.copy(binary("dataplane/lb-dataplane"), exe)
    status, out = run_dataplane(tls_env(certs), exe=exe)
    assert status == 2, out
    assert re.search(r"lb-dataplane: TLS: cannot load .*"
                     r"lb-dataplane-libcrypto\.so", out), out
    # With them beside it, the same copy serves HTTPS (503: no control
    # plane here).
    for lib in ("lb-dataplane-libssl.so", "lb-dataplane-libcrypto.so"):
        shutil.copy(os.path.join(BUILD, "dataplane", lib), str(tmp_path))
    tls_port = free_port()
    p = subprocess.Popen([exe], env=dict(
        os.environ, **SAN_ENV, **tls_env(certs), LB_READY_TIMEOUT_MS="0",
        LB_PORT=str(free_port()), LB_TLS_PORT=str(tls_port),
        LB_PAGES_LISTEN="", LB_CTL_URL=f"tcp://127.0.0.1:{free_port()}",
        LB_PUB_URL=f"tcp://127.0.0.1:{free_port()}"),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        status = wait_for(lambda: https_get(tls_port)[0], 10,
                          what="HTTPS from the copy")
        assert status.startswith(b"HTTP/1.1 503"), status
    finally:
        p.send_signal(signal.SIGTERM)
        out = p.communicate(timeout=20)[0].decode(errors="replace")
    assert "event=https" in out, out


# ---- rotation: new certificates for new connections, no restart -------

class Handshakes:
    """New TLS connections one after another (GET /home on each), trusting
    the certificates given, until stopped: counts failures and which
    certificates were seen."""

    def __init__(self, port, *cafiles):
        self.port = port
        self.ctx = client_context(*cafiles)
        self.ok = 0
        self.failures = []
        self.seen = set()
        self.stop = threading.Event()
        self.t = threading.Thread(target=self.run, daemon=True)

    def run(self):
        end = time.monotonic() + 60  # bounded, whatever the test does
        while not self.stop.is_set() and time.monotonic() < end:
            try:
                with socket.create_connection(("127.0.0.1", self.port),
                                              timeout=5) as s:
                    with self.ctx.wrap_socket(
                            s, server_hostname="localhost") as t:
                        self.seen.add(t.getpeercert(binary_form=True))
                        t.sendall(b"GET /home HTTP/1.1\r\nHost: localhost"
                                  b"\r\nConnection: close\r\n\r\n")
                        line = t.recv(64)
                if not line.startswith(b"HTTP/1.1 200"):
                    self.failures.append(line)
                else:
                    self.ok += 1
            except (OSError, ssl.SSLError) as e:
                self.failures.append(repr(e))

    def __enter__(self):
        self.t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.t.join(10)


def overwrite(dst, src):
    """Writes src's bytes over dst in place, as `cp` does."""
    with open(src, "rb") as f:
        data = f.read()
    with open(dst, "wb") as f:
        f.write(data)


def log_of(stack):
    with open(stack.logs[1], errors="replace") as f:
        return f.read()


def serving_live_pair(stack_factory, tmp_path, spare):
    """A stack serving the pair in live/, and a second pair in spare/ to
    write over it: (stack, live, the live certificate's DER, spare)."""
    live = make_pair(str(tmp_path / "live"), "server")
    other = make_pair(str(tmp_path / spare), "server")
    s = stack_factory(dp_env=tls_env(live)).start()
    return s, live, der(live[0]), other


def test_a_certificate_written_over_the_files_is_taken_without_a_failed_handshake(
        stack_factory, tmp_path):
    s, live, old, new = serving_live_pair(stack_factory, tmp_path, "next")
    # A keep-alive connection made with the old certificate.
    kept = http.client.HTTPSConnection("127.0.0.1", s.tls_port, timeout=10,
                                       context=client_context(live[0]))
    kept.request("GET", "/home", headers={"Host": "localhost"})
    assert kept.getresponse().read() and \
        kept.sock.getpeercert(binary_form=True) == old
    with Handshakes(s.tls_port, live[0], new[0]) as hs:
        wait_for(lambda: hs.ok >= 20, 10, what="handshakes before")
        # Certificate first, key 0.3 s later: in between the files do not
        # match, and must not be served.
        overwrite(live[0], new[0])
        time.sleep(0.3)
        overwrite(live[1], new[1])
        wait_for(lambda: presented(s.tls_port, "localhost") == der(new[0]),
                 5, what="the new certificate served")
        n = hs.ok
        wait_for(lambda: hs.ok >= n + 20, 10, what="handshakes after")
    assert hs.failures == [], hs.failures[:5]
    assert hs.seen == {old, der(new[0])}
    # The connection in flight keeps its certificate, and still works.
    kept.request("GET", "/home", headers={"Host": "localhost"})
    assert kept.getresponse().status == 200
    assert kept.sock.getpeercert(binary_form=True) == old
    kept.close()
    m = s.metrics(s.site_url("/metrics"))
    assert m['lb_tls_certificate_reloads_total{result="ok"}'] >= 1
    assert "event=tls_reloaded" in log_of(s)


def test_a_bad_certificate_is_not_taken_and_sighup_rereads_at_once(
        stack_factory, tmp_path):
    s, live, old, other = serving_live_pair(stack_factory, tmp_path, "other")
    dp = s.dps[0][0]
    # A key that is not the certificate's: refused, the old pair stays.
    overwrite(live[1], other[1])
    wait_for(lambda: "event=tls_reload_failed" in log_of(s), 5,
             what="the refusal logged")
    assert "does not match the certificate" in log_of(s)
    assert presented(s.tls_port, "localhost") == old
    assert https_get(s.tls_port, ctx=client_context(live[0]))[0] \
        .startswith(b"HTTP/1.1 200")
    m = s.metrics(s.site_url("/metrics"))
    assert m['lb_tls_certificate_reloads_total{result="failed"}'] >= 1
    # The matching certificate arrives: taken.  Then the first pair again,
    # by rename, and SIGHUP: taken without waiting for the files to settle.
    overwrite(live[0], other[0])
    wait_for(lambda: presented(s.tls_port, "localhost") == der(other[0]), 5,
             what="the matching pair served")
    for src, dst in zip(make_pair(str(tmp_path / "third"), "server"), live):
        os.rename(src, dst)
    os.kill(dp.pid, signal.SIGHUP)
    wait_for(lambda: "sighup=1" in log_of(s), 2, what="a SIGHUP re-read")
    assert presented(s.tls_port, "localhost") == der(live[0])
    assert dp.alive()


# ---- several names (SNI) ----------------------------------------------

def test_each_name_gets_its_certificate_and_others_the_default(
        stack_factory, tmp_path, certs):
    names = str(tmp_path / "names")
    a = make_pair(names, "a.example", names=("a.example",), ips=())
    b = make_pair(names, "b.example", names=("b.example", "www.b.example"),
                  ips=())
    # A wildcard whose file sorts first, and an exact name under it.
    wild = make_pair(names, "0-wild", names=("*.wild.example",), ips=())
    exact = make_pair(names, "c.wild.example", names=("c.wild.example",),
                      ips=())
    # Two that cover the same name: the file first in name order wins.
    first = make_pair(names, "m1", names=("same.example",), ips=())
    make_pair(names, "m2", names=("same.example",), ips=())
    s = stack_factory(dp_env=tls_env(certs, LB_TLS_DIR=names)).start()
    port = s.tls_port
    assert presented(port, "a.example") == der(a[0])
    assert presented(port, "www.b.example") == der(b[0])
    assert presented(port, "x.wild.example") == der(wild[0])
    assert presented(port, "c.wild.example") == der(exact[0])
    assert presented(port, "same.example") == der(first[0])
    assert presented(port, "unknown.example") == der(certs[0])
    assert presented(port, None) == der(certs[0])
    # curl with the name's certificate as its only trust: verified.
    code, body, verbose = curl("--cacert", b[0], "--resolve",
                               f"www.b.example:{port}:127.0.0.1",
                               f"https://www.b.example:{port}/home")
    assert code == 200 and "Hello from Server" in body, verbose
    # A pair added to the directory is served without a restart.
    d = make_pair(str(tmp_path / "staging"), "d.example",
                  names=("d.example",), ips=())
    for src in d:
        shutil.copy(src, names)
    wait_for(lambda: presented(port, "d.example") == der(d[0]), 5,
             what="the added name served")


# ---- what replicas are told, and plain HTTP's place -------------------

def test_replicas_are_told_the_request_came_over_https(stack_factory, certs):
    s = stack_factory(replicas=1, replica_bin=ECHO,
                      dp_env=tls_env(certs)).start()
    r = requests.get(s.https_url("/echo", "localhost"), verify=certs[0],
                     headers={"X-Forwarded-Proto": "http"}, timeout=10)
    assert r.json()["headers"]["x-forwarded-proto"] == "https"
    r = s.get("/echo", headers={"X-Forwarded-Proto": "https"})
    assert r.json()["headers"]["x-forwarded-proto"] == "http"


def plain_get(port, path, host="localhost", source="127.0.0.1"):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10,
                                   source_address=(source, 0))
    try:
        c.request("GET", path, headers={"Host": host})
        r = c.getresponse()
        return r.status, r.getheader("Location"), r.read()
    finally:
        c.close()


def test_plain_http_is_redirected_except_the_operators_admin(
        stack_factory, certs):
    s = stack_factory(dp_env=tls_env(
        certs, LB_HTTP_REDIRECT="1", LB_TLS_ONLY="1",
        LB_ADMIN_ALLOW="127.0.0.1")).start()
    port, tls = s.port, s.tls_port
    status, loc, _ = plain_get(port, "/home?x=1&y=%20", "localhost:80")
    assert status == 308
    assert loc == f"https://localhost:{tls}/home?x=1&y=%20"
    status, loc, _ = plain_get(port, "/p", "[::1]:8080")
    assert (status, loc) == (308, f"https://[::1]:{tls}/p")
    # Following it, with the certificate trusted: served.
    r = requests.get(s.url("/home"), headers={"Host": "localhost"},
                     verify=certs[0], timeout=10)
    assert r.status_code == 200 and r.url.startswith("https://localhost")
    # A Host that cannot be redirected to.
    for host in ("bad host", "a/b", "x:y"):
        assert plain_get(port, "/home", host)[0] == 400
    # The operator's /rep on plain HTTP; anyone else's is redirected.
    status, _, body = plain_get(port, "/rep")
    assert status == 200 and json.loads(body)["message"]["N"] == 3
    assert plain_get(port, "/rep", source="127.0.0.2")[0] == 308


def test_tls_only_closes_plain_http(stack_factory, certs):
    s = stack_factory(dp_env=tls_env(certs, LB_TLS_ONLY="1")).start()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", s.port), timeout=5)
    status, _ = https_get(s.tls_port, ctx=client_context(certs[0]))
    assert status.startswith(b"HTTP/1.1 200")


# ---- slow and hostile TLS clients ------------------------------------

def client_hello():
    """The bytes of a real ClientHello (Python's ssl, in memory)."""
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = unverified_context().wrap_bio(inc, out, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    return out.read()


@pytest.fixture(scope="module")
def release_tls_stack(tmp_path_factory, certs):
    """The release build: a stalled handshake's worker wakes every 50 ms
    (civetweb's handshake loop), and under ASan 2,000 of them make a
    timing that is the sanitizer's, not the product's."""
    s = Stack(tmp_path_factory.mktemp("reltls"), dp_env=tls_env(certs),
              build=os.environ.get("LB_RELEASE_BUILD", BUILD)).start()
    yield s
    s.stop()


def test_stalled_handshakes_do_not_keep_fresh_https_clients_waiting(
        release_tls_stack, certs):
    """1,000 connections from 127.0.0.2 that never start a handshake and
    1,000 that stop half-way through their ClientHello; then 20 fresh
    HTTPS clients from 127.0.0.1, each on a new connection: all answered,
    the slowest under 300 ms."""
    from lbclients import close_all, open_many, wait_accepted
    port = release_tls_stack.tls_port
    hello = client_hello()
    ctx = client_context(certs[0])
    held = []
    try:
        held += open_many(port, 1000, b"", source="127.0.0.2")
        held += open_many(port, 1000, hello[:len(hello) // 2],
                          source="127.0.0.2")
        wait_accepted(port)
        time.sleep(0.3)  # and handed to workers
        times, statuses = [], []
        for _ in range(20):
            t0 = time.monotonic()
            try:
                status, body = https_get(port, ctx=ctx, timeout=2)
            except OSError as e:
                status = repr(e).encode()
            times.append(time.monotonic() - t0)
            statuses.append(status)
    finally:
        close_all(held)
    assert all(st.startswith(b"HTTP/1.1 200") for st in statuses), statuses
    assert max(times) < 0.3, times


# ---- large bodies both ways over TLS ----------------------------------

@pytest.fixture(scope="module")
def streaming_tls_stack(tmp_path_factory, certs):
    s = Stack(tmp_path_factory.mktemp("tlsbig"), replicas=1, replica_bin=BAD,
              dp_env=tls_env(certs)).start()
    yield s
    s.stop()


def test_100_mib_stream_whole_both_ways_over_tls(streaming_tls_stack, certs):
    s, size = streaming_tls_stack, 100 * MiB
    h, n = hashlib.sha256(), 0
    with requests.get(s.https_url(f"/download?size={size}&framing=chunked",
                                  "localhost"),
                      stream=True, verify=certs[0], timeout=120) as r:
        assert r.status_code == 200
        for piece in r.iter_content(MiB):
            h.update(piece)
            n += len(piece)
    assert (n, h.hexdigest()) == (size, expected_sha(size))
    r = requests.post(s.https_url("/upload", "localhost"),
                      data=PatternFile(size), verify=certs[0], timeout=120)
    assert r.status_code == 200, r.text
    assert r.json() == {"bytes": size, "sha256": expected_sha(size)}


# ---- a browser ------------------------------------------------------------

def spki_sha256(crt):
    """The base64 SHA-256 of a certificate's public key: what Chromium's
    --ignore-certificate-errors-spki-list trusts (that key, nothing
    else)."""
    pub = subprocess.run(["openssl", "x509", "-in", crt, "-noout", "-pubkey"],
                         check=True, capture_output=True).stdout
    spki = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"],
                          input=pub, check=True, capture_output=True).stdout
    import base64
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


def test_chromium_loads_a_page_through_the_balancer_over_https(
        tls_stack, certs):
    from lbbrowser import chromium
    url = tls_stack.https_url("/home", "localhost")
    d = chromium("--ignore-certificate-errors-spki-list=" +
                 spki_sha256(certs[0]))
    try:
        d.get(url)
        text = d.find_element("tag name", "body").text
        assert "Hello from Server" in text, text
        # A secure context: the browser took the certificate.
        assert d.execute_script("return window.isSecureContext") is True
        assert d.execute_script("return location.protocol") == "https:"
    finally:
        d.quit()
    # Without that trust the same page is refused (the test can fail).
    d = chromium()
    try:
        d.get(url)
        assert "Hello from Server" not in d.page_source
    finally:
        d.quit()


def test_failed_handshakes_leave_the_connection_count_right(tls_stack):
    """A handshake that fails never opened a connection for civetweb's
    hooks: it must not be counted as one closing."""
    site = tls_stack.site_url("/metrics")
    before = tls_stack.metrics(site)["lb_client_connections"]
    for _ in range(20):
        with socket.create_connection(("127.0.0.1", tls_stack.tls_port),
                                      timeout=5) as s:
            s.sendall(b"not a ClientHello\r\n\r\n")
            try:
                s.recv(100)
            except OSError:
                pass
    time.sleep(0.3)
    # The metrics request itself holds one connection on another listener.
    assert tls_stack.metrics(site)["lb_client_connections"] == before


def cpu_seconds(pid):
    """User + system CPU time a process has used."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_stalled_handshakes_cost_little_cpu(release_tls_stack):
    """2,000 stalled handshakes each hold a worker; waiting on them must
    not take a core (civetweb's handshake loop polls every 50 ms: 40,000
    wake-ups a second)."""
    from lbclients import close_all, open_many, wait_accepted
    port, pid = release_tls_stack.tls_port, release_tls_stack.dps[0][0].pid
    hello = client_hello()
    held = []
    try:
        held += open_many(port, 1000, b"", source="127.0.0.2")
        held += open_many(port, 1000, hello[:len(hello) // 2],
                          source="127.0.0.2")
        wait_accepted(port)
        time.sleep(0.5)
        c0, t0 = cpu_seconds(pid), time.monotonic()
        time.sleep(3)
        share = (cpu_seconds(pid) - c0) / (time.monotonic() - t0)
    finally:
        close_all(held)
    assert share < 0.25, f"{share:.0%} of a core"


def test_a_stalled_handshake_ends_at_the_head_timeout(stack_factory, certs):
    s = stack_factory(dp_env=tls_env(certs, LB_HEAD_TIMEOUT_MS="1000"))
    s.start()
    hello = client_hello()
    with socket.create_connection(("127.0.0.1", s.tls_port),
                                  timeout=10) as c:
        c.sendall(hello[:len(hello) // 2])
        t0 = time.monotonic()
        try:
            data = c.recv(100)
        except ConnectionResetError:
            data = b""
        took = time.monotonic() - t0
    assert data == b"" and 0.8 < took < 3.0, (data, took)
    # And a whole handshake still works.
    assert https_get(s.tls_port)[0].startswith(b"HTTP/1.1 200")
