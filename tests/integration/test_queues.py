"""Queues that keep order: a replica is sent at most LB_REPLICA_MAX_CONNS
exchanges at once, the others wait in a first-in first-out line for up to
LB_QUEUE_TIMEOUT_MS (then 503 with Retry-After); and the timers that say
where a request's time went (access log, lb_request_phase_seconds)."""
import os
import threading
import time

import requests

from lbtest import wait_for

BAD = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                   "bad_replica.py")


def one_slow_replica(stack_factory, tmp_path, **dp):
    log = tmp_path / "access.log"
    env = {"LB_REPLICA_MAX_CONNS": "1", "LB_ACCESS_LOG": str(log)}
    env.update(dp)
    s = stack_factory(replicas=1, replica_bin=BAD, dp_env=env).start()
    return s, log


def hold(s, ms):
    """A request that keeps the replica's one connection for ms."""
    out = {}

    def run():
        out["r"] = requests.get(s.url(f"/home?delay_ms={ms}"), timeout=30)
    t = threading.Thread(target=run)
    t.start()
    return t, out


def queued(s):
    m = s.metrics(s.site_url("/metrics"))
    return sum(v for k, v in m.items() if k.startswith("lb_upstream_queue{"))


def active(s):
    m = s.metrics(s.site_url("/metrics"))
    return sum(v for k, v in m.items()
               if k.startswith("lb_upstream_connections{")
               and 'state="active"' in k)


def log_fields(line):
    return dict(f.split("=", 1) for f in line.split(" ") if "=" in f)


def test_waiting_requests_are_served_in_arrival_order(stack_factory,
                                                      tmp_path):
    s, log = one_slow_replica(stack_factory, tmp_path,
                              LB_QUEUE_TIMEOUT_MS="10000")
    t, held = hold(s, 1500)
    wait_for(lambda: active(s) == 1, 5, what="the slow request sent")
    statuses = {}

    def one(i):
        # i + 1 bytes of body: the access log, written as each answer
        # ends, tells the requests apart (bytes_in) in the order served.
        statuses[i] = requests.post(s.url("/home"), data=b"x" * (i + 1),
                                    timeout=30).status_code
    threads = []
    for i in range(6):
        th = threading.Thread(target=one, args=(i,))
        th.start()
        threads.append(th)
        # Each in line before the next arrives.
        wait_for(lambda: queued(s) == i + 1, 5, what=f"{i + 1} in line")
    for th in threads:
        th.join()
    t.join()
    assert held["r"].status_code == 200
    assert statuses == {i: 200 for i in range(6)}, statuses
    served = [log_fields(x) for x in log.read_text().splitlines()]
    served = [f for f in served if f["method"] == "POST"]
    assert [int(f["bytes_in"]) for f in served] == [1, 2, 3, 4, 5, 6]
    # Each says it waited: the timers see the line.
    assert all(float(f["queue_ms"]) > 100 for f in served), served


def test_a_wait_past_the_queue_timeout_is_503_with_retry_after(
        stack_factory, tmp_path):
    s, _ = one_slow_replica(stack_factory, tmp_path,
                            LB_QUEUE_TIMEOUT_MS="300")
    before = s.metrics(s.site_url("/metrics"))
    t, held = hold(s, 2000)
    wait_for(lambda: active(s) == 1, 5, what="the slow request sent")
    t0 = time.monotonic()
    r = requests.get(s.url("/home"), timeout=10)
    took = time.monotonic() - t0
    assert r.status_code == 503, r.text
    assert r.headers.get("Retry-After") == "1"
    assert "queue" in r.json()["message"], r.text
    assert 0.25 < took < 1.5, took
    t.join()
    assert held["r"].status_code == 200  # the one served is not cut
    after = s.metrics(s.site_url("/metrics"))
    key = 'lb_queue_timeouts_total{queue="replica"}'
    assert after[key] - before.get(key, 0) == 1
    # The replica's line is empty again, and serves.
    assert queued(s) == 0
    assert s.get("/home").status_code == 200


def test_a_full_line_refuses_at_once(stack_factory, tmp_path):
    s, _ = one_slow_replica(stack_factory, tmp_path,
                            LB_REPLICA_MAX_QUEUE="0")
    t, _ = hold(s, 1500)
    wait_for(lambda: active(s) == 1, 5, what="the slow request sent")
    t0 = time.monotonic()
    r = requests.get(s.url("/home"), timeout=10)
    assert r.status_code == 503 and r.headers.get("Retry-After") == "1"
    assert time.monotonic() - t0 < 0.5
    t.join()


def test_timers_say_where_the_time_went(stack_factory, tmp_path):
    s, log = one_slow_replica(stack_factory, tmp_path,
                              LB_REPLICA_MAX_CONNS="8")
    skip = len(log.read_text().splitlines())
    before = s.metrics(s.site_url("/metrics"))
    r = requests.get(s.url("/home?delay_ms=300"), timeout=10)
    assert r.status_code == 200
    wait_for(lambda: len(log.read_text().splitlines()) > skip, 5,
             what="the access log line")
    f = log_fields(log.read_text().splitlines()[skip])
    assert 300 <= float(f["response_ms"]) < 2000, f
    assert float(f["queue_ms"]) < 50, f
    assert float(f["connect_ms"]) < 100, f
    assert float(f["duration_ms"]) >= float(f["response_ms"]), f
    after = s.metrics(s.site_url("/metrics"))
    fam = "lb_request_phase_seconds"
    for phase in ("queue", "connect", "response", "total"):
        k = f'{fam}_count{{phase="{phase}"}}'
        assert after[k] - before.get(k, 0) >= 1, phase
    k = f'{fam}_sum{{phase="response"}}'
    assert after[k] - before.get(k, 0) >= 0.3


def test_admission_holds_a_place_only_while_a_request_works(stack_factory,
                                                            tmp_path):
    """LB_MAX_ACTIVE=1: one request at a time may work, but a request
    waiting for its replica holds no place: six slow requests at once take
    the time of one, not of six; and every way a request ends gives its
    place back."""
    s, _ = one_slow_replica(stack_factory, tmp_path, LB_MAX_ACTIVE="1",
                            LB_REPLICA_MAX_CONNS="16")
    # Two clients for one place: no line until there are more than twice
    # as many connections as places.
    def client():
        with requests.Session() as sess:
            for _ in range(100):
                assert sess.get(s.url("/home"), timeout=10).status_code == 200
    pair = [threading.Thread(target=client) for _ in range(2)]
    for th in pair:
        th.start()
    for th in pair:
        th.join()
    m = s.metrics(s.site_url("/metrics"))
    assert m["lb_admission_queued_total"] == 0
    t0 = time.monotonic()
    ts = [hold(s, 700) for _ in range(6)]
    for t, _ in ts:
        t.join()
    took = time.monotonic() - t0
    assert all(out["r"].status_code == 200 for _, out in ts)
    assert took < 6 * 0.7 * 0.6, took
    # Other endings: a 404 turned 400, a large body (given up before it
    # is sent), a replica that is gone.
    assert s.get("/missing").status_code == 400
    assert requests.post(s.url("/home"), data=b"y" * 200_000,
                         timeout=10).status_code == 200
    m = s.metrics(s.site_url("/metrics"))
    assert m["lb_admitted_requests"] == 0 and m["lb_admission_queue"] == 0
    assert m['lb_request_phase_seconds_count{phase="queue"}'] >= 9
    assert s.get("/home").status_code == 200
