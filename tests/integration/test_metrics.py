"""Seeing inside: /metrics on both planes' own listeners, the JSON behind
the dashboard, the access log, and the admin token on those listeners."""
import http.client
import json
import os
import signal

import requests

from lbtest import wait_for

DP_FAMILIES = [
    "lb_requests_total", "lb_request_duration_seconds_bucket",
    "lb_upstream_retries_total", "lb_upstream_ejections_total",
    "lb_inflight_requests", "lb_upstream_connections", "lb_snapshot_version",
    "lb_snapshot_age_seconds", "lb_control_plane_connected",
    "lb_connections_refused_total", "lb_key_fallbacks_total"]
CP_FAMILIES = [
    "lb_replicas_desired", "lb_replicas_ready", "lb_heartbeats_total",
    "lb_replica_deaths_total", "lb_replacements_total",
    "lb_replacement_seconds_bucket", "lb_admin_requests_total",
    "lb_snapshots_published_total", "lb_engine_errors_total"]


def family_sum(metrics, name):
    return sum(v for k, v in metrics.items()
               if k == name or k.startswith(name + "{"))


def cp_metrics(stack):
    return stack.metrics(f"http://127.0.0.1:{stack.metrics_port}/metrics")


def test_both_planes_expose_their_metrics(stack):
    before = stack.metrics(stack.site_url("/metrics"))
    with requests.Session() as s:
        for _ in range(50):
            assert s.get(stack.url("/home"), timeout=5).status_code == 200
        assert s.get(stack.url("/missing"), timeout=5).status_code == 400
    dp = stack.metrics(stack.site_url("/metrics"))
    for f in DP_FAMILIES:
        assert any(k == f or k.startswith(f + "{") for k in dp), f
    assert family_sum(dp, "lb_requests_total") - \
        family_sum(before, "lb_requests_total") == 51
    assert sum(v for k, v in dp.items() if k.startswith(
        "lb_requests_total{") and 'code="400"' in k) == 1
    assert dp["lb_request_duration_seconds_count"] - \
        before["lb_request_duration_seconds_count"] == 51
    assert dp["lb_control_plane_connected"] == 1
    cp = cp_metrics(stack)
    for f in CP_FAMILIES:
        assert any(k == f or k.startswith(f + "{") for k in cp), f
    assert cp["lb_replicas_desired"] == 3 and cp["lb_replicas_ready"] == 3


def test_a_death_shows_in_metrics_and_state(stack):
    with open(stack.state_file()) as f:
        victim = [r for r in json.load(f)["replicas"]
                  if r["name"] == "server2"][0]["pid"]
    os.kill(victim, signal.SIGKILL)
    stack.wait_serving(3)

    def replaced():
        cp = cp_metrics(stack)
        return cp['lb_replica_deaths_total{cause="exited"}'] == 1 and \
            cp["lb_replacement_seconds_count"] == 1 and cp
    cp = wait_for(replaced, 5, what="death and replacement counted")
    assert cp["lb_replacements_total"] == 1
    state = requests.get(stack.site_url("/api/state"), timeout=5).json()
    by_name = {r["name"]: r for r in state["replicas"]}
    assert by_name["server2"]["state"] == "dead"
    new = [r for r in state["replicas"] if r["name"].startswith("srv-")]
    assert len(new) == 1 and new[0]["state"] == "up" and new[0]["in_ring"]
    kinds = [(e["kind"], e["name"]) for e in state["events"]]
    assert ("died", "server2") in kinds and ("up", new[0]["name"]) in kinds
    assert state["desired"] == 3 and state["ready"] == 3


def test_ring_json_covers_every_slot(shared_stack):
    ring = requests.get(shared_stack.site_url("/api/ring"), timeout=5).json()
    assert ring["slots"] == 512
    assert sum(a[1] for a in ring["arcs"]) == 512
    assert {a[2] for a in ring["arcs"]} == {1, 2, 3}
    assert len(ring["vnodes"]) == 27  # 3 replicas x 9 virtual servers


def test_dashboard_page_is_served_whole(shared_stack):
    r = requests.get(shared_stack.site_url("/"), timeout=5)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/html")
    assert "/api/state" in r.text and "<canvas" in r.text
    assert "http://" not in r.text and "https://" not in r.text  # no CDN


def test_client_port_paths_still_belong_to_the_replicas(shared_stack):
    # /metrics on :5000 is the replicas' (here: their 404, the
    # assignment's 400).
    r = shared_stack.get("/metrics")
    assert r.status_code == 400


def test_admin_token_guards_the_listeners(stack_factory):
    s = stack_factory(dp_env={"LB_ADMIN_TOKEN": "s3cret"},
                      cp_env={"LB_ADMIN_TOKEN": "s3cret"}).start()
    cpm = f"http://127.0.0.1:{s.metrics_port}/metrics"
    for url in (s.site_url("/api/state"), s.site_url("/metrics"), cpm):
        assert requests.get(url, timeout=5).status_code == 401
        assert requests.get(url, timeout=5, headers={
            "Authorization": "Bearer s3cret"}).status_code == 200
    assert requests.get(s.site_url("/?token=s3cret"),
                        timeout=5).status_code == 200
    o = stack_factory(dp_env={"LB_ADMIN_TOKEN": "s3cret",
                              "LB_METRICS_OPEN": "1"}).start()
    assert requests.get(o.site_url("/metrics"), timeout=5).status_code == 200
    assert requests.get(o.site_url("/api/state"),
                        timeout=5).status_code == 401


def test_access_log_has_one_line_per_request(stack_factory, tmp_path):
    log = tmp_path / "access.log"
    s = stack_factory(dp_env={"LB_ACCESS_LOG": str(log)}).start()
    skip = len(log.read_text().splitlines())  # the stack's own checks
    with requests.Session() as sess:
        for i in range(10):
            sess.get(s.url(f"/home?i={i}"), timeout=5)
    c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=5)
    c.request("POST", '/say"hi', body=b"12345")  # a quote, not encoded
    c.getresponse().read()
    c.close()
    wait_for(lambda: len(log.read_text().splitlines()) >= skip + 11, 5,
             what="11 more lines")
    lines = log.read_text().splitlines()[skip:]
    assert len(lines) == 11
    first = dict(f.split("=", 1) for f in lines[0].split(" "))
    for k in ("ts", "client", "method", "path", "status", "replica",
              "bytes_in", "bytes_out", "duration_ms", "retries",
              "request_id"):
        assert k in first, k
    assert first["method"] == "GET" and first["status"] == "200"
    assert first["replica"].startswith("server")
    assert int(first["bytes_out"]) > 0
    last = lines[-1]
    assert 'path="/say\\"hi"' in last, last
    assert "bytes_in=5" in last and "status=400" in last
    assert "bytes_out=0" not in last


def test_key_fallbacks_are_counted(stack_factory):
    s = stack_factory(cp_env={"LB_KEY": "header:X-User"}).start()
    before = s.metrics(s.site_url("/metrics"))["lb_key_fallbacks_total"]
    with requests.Session() as sess:
        for _ in range(7):
            assert sess.get(s.url("/home"), timeout=5).status_code == 200
        for _ in range(3):
            assert sess.get(s.url("/home"), timeout=5,
                            headers={"X-User": "u"}).status_code == 200
    dp = s.metrics(s.site_url("/metrics"))
    assert dp["lb_key_fallbacks_total"] - before == 7
