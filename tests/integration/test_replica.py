"""The replica server over real HTTP (contract.md, "Replica")."""
import http.client
import json
import signal
import subprocess
import time

import pytest

from lbtest import Proc, binary, free_port, wait_for


@pytest.fixture
def replica(tmp_path):
    port = free_port()
    p = Proc([binary("replica/lb-replica"), "--port", str(port),
              "--host", "127.0.0.1"], {"SERVER_ID": "7"},
             str(tmp_path / "replica.log"))
    conn = wait_for(lambda: _connect(port), 5, what="replica up")
    yield p, port, conn
    conn.close()
    p.stop()


def _connect(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    c.request("GET", "/heartbeat")
    c.getresponse().read()
    return c


def test_home_exact_body(replica):
    _, _, c = replica
    c.request("GET", "/home")
    r = c.getresponse()
    assert r.status == 200
    assert r.getheader("Content-Type") == "application/json"
    assert r.read() == b'{"message":"Hello from Server: 7","status":"successful"}'


def test_heartbeat_empty_with_length(replica):
    _, _, c = replica
    c.request("GET", "/heartbeat")
    r = c.getresponse()
    assert r.status == 200
    assert r.getheader("Content-Length") == "0"
    assert r.read() == b""


@pytest.mark.parametrize("path", ["/other", "/home/x", "/", "/heartbeatz"])
def test_other_paths_are_json_404(replica, path):
    _, _, c = replica
    c.request("GET", path)
    r = c.getresponse()
    body = r.read()
    assert r.status == 404
    # contract.md, "Replica": an error's message starts with "<Error> ",
    # as every other error of the project does.
    assert json.loads(body) == {
        "message": f"<Error> '{path}' endpoint does not exist",
        "status": "failure"}
    assert r.getheader("Content-Type") == "application/json"
    assert int(r.getheader("Content-Length")) == len(body)


def test_keep_alive_reuses_one_connection(replica):
    _, _, c = replica
    for _ in range(20):
        c.request("GET", "/home")
        r = c.getresponse()
        assert r.status == 200
        r.read()
    # http.client would have opened a new socket if the server had closed.
    c.request("POST", "/nothing", body=b"x" * 1000)
    r = c.getresponse()
    r.read()
    c.request("GET", "/home")
    assert c.getresponse().status == 200


def test_sigterm_exits_fast(replica):
    p, _, c = replica
    c.request("GET", "/home")
    c.getresponse().read()  # an idle keep-alive connection stays open
    t0 = time.monotonic()
    p.p.send_signal(signal.SIGTERM)
    p.p.wait(5)
    assert time.monotonic() - t0 < 1.0
    assert p.p.returncode == 0


def test_server_id_7_on_port_5987(tmp_path):
    """The issue's check, literally."""
    p = Proc([binary("replica/lb-replica"), "--port", "5987"],
             {"SERVER_ID": "7"}, str(tmp_path / "r.log"))
    try:
        c = wait_for(lambda: _connect(5987), 5, what="replica on 5987")
        c.request("GET", "/home")
        assert c.getresponse().read() == \
            b'{"message":"Hello from Server: 7","status":"successful"}'
        c.close()
    finally:
        p.stop()


@pytest.mark.parametrize("args,env,needle", [
    (["--port", "99999"], {"SERVER_ID": "1"}, "--port=99999"),
    (["--port", "abc"], {"SERVER_ID": "1"}, "--port=abc"),
    ([], {"SERVER_ID": "1", "PORT": "-1"}, "PORT=-1"),
    ([], {}, "SERVER_ID"),
    ([], {"SERVER_ID": "x"}, "SERVER_ID=x"),
    (["--bogus"], {"SERVER_ID": "1"}, "--bogus"),
])
def test_bad_settings_stop_with_a_clear_message(args, env, needle):
    env = dict(env)
    env.setdefault("PORT", str(free_port()))
    r = subprocess.run([binary("replica/lb-replica")] + args, env=env,
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 2
    assert needle in r.stderr


def test_port_in_use_fails(tmp_path):
    port = free_port()
    a = Proc([binary("replica/lb-replica"), "--port", str(port),
              "--host", "127.0.0.1"], {"SERVER_ID": "1"}, str(tmp_path / "a"))
    try:
        wait_for(lambda: _connect(port), 5, what="first replica")
        r = subprocess.run([binary("replica/lb-replica"), "--port", str(port),
                            "--host", "127.0.0.1"], env={"SERVER_ID": "2"},
                           capture_output=True, text=True, timeout=10)
        assert r.returncode == 1
        assert "cannot listen" in r.stderr
    finally:
        a.stop()
