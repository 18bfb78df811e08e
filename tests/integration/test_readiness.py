"""Ready means ready: when the data plane's port opens it routes and
answers /rep alike, and after a control-plane outage of any length the
admin path is back within a fraction of a second of the control plane's
return (every NNG dialer caps its reconnect interval)."""
import signal
import threading
import time

import requests

from lbstack import Stack
from lbtest import TIME_FACTOR, wait_for


def first_answer(url, timeout):
    """Polls url until anything answers; returns that answer.  The port
    opens while civetweb still makes its 2,048 workers (up to seconds
    under ASan on a busy machine): the first answer may wait for one, and
    what is tested is what it says, not how soon."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return requests.get(url, timeout=10)
        except requests.ConnectionError:
            time.sleep(0.005)
    raise AssertionError(f"{url} never answered")


def test_the_port_opens_ready_to_route_and_to_answer_rep(tmp_path):
    """The race of `make run`: both planes start together (here the data
    plane even first).  The first answer on the port is a routed /home,
    and /rep right after it is a 200."""
    s = Stack(tmp_path)
    try:
        dp, port = s.start_dp(wait=False)
        time.sleep(0.3)
        s.start_cp()
        r = first_answer(s.url("/home"), 20)
        assert r.status_code == 200, r.text
        rep = requests.get(s.url("/rep"), timeout=5)
        assert rep.status_code == 200, rep.text
        assert rep.json()["message"]["N"] == 3
    finally:
        s.stop()


def test_a_data_plane_alone_opens_after_its_bounded_wait(tmp_path):
    s = Stack(tmp_path, dp_env={"LB_READY_TIMEOUT_MS": "800"})
    try:
        t0 = time.monotonic()
        s.start_dp(wait=False)
        r = first_answer(s.url("/rep"), 10)
        assert r.status_code == 503
        assert 0.7 <= time.monotonic() - t0 < 5 * TIME_FACTOR
    finally:
        s.stop()


def test_admin_path_is_back_soon_after_a_long_outage(stack):
    stack.cp.stop(signal.SIGKILL)
    # Long enough for an uncapped backoff to grow well past a second.
    time.sleep(6)
    assert stack.get("/rep").status_code == 503
    back = {}

    def watch():
        def up():
            return requests.get(stack.url("/rep"), timeout=2).status_code \
                == 200
        wait_for(up, 20, step=0.01, what="admin back")
        back["t"] = time.monotonic()
    t = threading.Thread(target=watch)
    t.start()
    stack.start_cp()
    started = wait_for(lambda: "event=started" in open(stack.logs[-1]).read()
                       and time.monotonic(), 15, step=0.01,
                       what="control plane started")
    t.join()
    took = back["t"] - started
    assert took < 0.4 * TIME_FACTOR, f"admin back {took:.2f} s after start"
