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
    done, lock = [], threading.Lock()

    def one(i):
        r = requests.get(s.url(f"/home?i={i}"), timeout=30)
        with lock:
            done.append((i, r.status_code))
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
    assert done == [(i, 200) for i in range(6)], done
    # The log says who waited: the six, not the one they waited for.
    waits = [float(f["queue_ms"]) for f in map(
        log_fields, log.read_text().splitlines()) if f["path"] == "/home"]
    assert len([w for w in waits if w > 100]) == 6, waits


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
