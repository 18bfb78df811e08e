"""The windows into the system, with the real tools a user would point at
them: Debian's Prometheus scraping both planes, and Debian's Chromium (driven
by Selenium through chromedriver) watching the dashboard while a replica
dies.  The stacks are local processes (no Docker needed for these)."""
import json
import os
import shutil
import signal
import subprocess
import time

import pytest
import requests

from lbtest import ROOT, binary, free_port, wait_for

PROMETHEUS = "/usr/bin/prometheus"


@pytest.fixture
def prometheus(tmp_path):
    """Starts Prometheus with a scrape configuration; yields a function
    that takes the targets and returns the query URL."""
    procs = []

    def start(targets):
        assert os.access(PROMETHEUS, os.X_OK), \
            "prometheus is not installed (tools/setup.sh --test)"
        cfg = tmp_path / "prometheus.yml"
        jobs = "\n".join(
            f"  - job_name: {name}\n    scrape_interval: 1s\n"
            f"    static_configs:\n      - targets: ['{target}']"
            for name, target in targets.items())
        cfg.write_text(f"global:\n  scrape_interval: 1s\n"
                       f"scrape_configs:\n{jobs}\n")
        port = free_port()
        log = open(tmp_path / "prometheus.log", "wb")
        procs.append(subprocess.Popen(
            [PROMETHEUS, f"--config.file={cfg}",
             f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{port}"],
            stdout=log, stderr=subprocess.STDOUT))
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: requests.get(base + "/-/ready",
                                      timeout=2).status_code == 200, 30,
                 what="Prometheus ready")
        return base
    yield start
    for p in procs:
        p.terminate()
        p.wait(15)


def query(base, q):
    """The single value of an instant query, or None."""
    r = requests.get(base + "/api/v1/query", params={"query": q},
                     timeout=5).json()
    res = r["data"]["result"]
    return float(res[0]["value"][1]) if res else None


def test_prometheus_counts_what_the_load_generator_sent(stack, prometheus):
    base = prometheus({
        "dataplane": f"127.0.0.1:{stack.site_ports[0]}",
        "controlplane": f"127.0.0.1:{stack.metrics_port}"})
    wait_for(lambda: query(base, "up{job='dataplane'}") == 1 and
             query(base, "up{job='controlplane'}") == 1, 30,
             what="both planes scraped (see /api/v1/targets)")
    before = query(base, "sum(lb_requests_total)") or 0
    out = subprocess.run(
        [binary("tools/lb-load"), "--url", stack.url("/home"),
         "--requests", "2000", "--concurrency", "16", "--quiet", "1"],
        capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "requests 2000  ok 2000" in out.stdout
    wait_for(lambda: query(base, "sum(lb_requests_total)") == before + 2000,
             30, what="Prometheus to see 2,000 more requests")
    assert query(base, "lb_replicas_ready") == 3
    assert query(base, "lb_replicas_desired") == 3
    assert query(base, "sum(lb_request_duration_seconds_count)") >= 2000


def chrome():
    from lbbrowser import chromium
    return chromium()


def rows(driver):
    """The dashboard's replica rows: {name: state}."""
    return {r.get_attribute("data-name"): r.get_attribute("data-state")
            for r in driver.find_elements("css selector",
                                          "#replicas tbody tr")}


def test_dashboard_shows_a_death_and_the_replacement(stack, tmp_path):
    for _ in range(100):
        stack.get("/home")
    d = chrome()
    try:
        d.get(stack.site_url("/"))
        wait_for(lambda: rows(d) == {"server1": "up", "server2": "up",
                                     "server3": "up"}, 15,
                 what="three replicas on the dashboard")
        assert "512 slots" in d.find_element("id", "preset").text
        with open(stack.state_file()) as f:
            pid = [r["pid"] for r in json.load(f)["replicas"]
                   if r["name"] == "server2"][0]
        t0 = time.monotonic()
        os.kill(pid, signal.SIGKILL)

        def replaced():
            r = rows(d)
            new = [n for n, st in r.items()
                   if n.startswith("srv-") and st == "up"]
            return r.get("server2") == "dead" and len(new) == 1 and new
        wait_for(replaced, 10, what="server2 dead and a replacement up")
        took = time.monotonic() - t0
        assert took < 5, took
        events = d.find_element("id", "events").text
        assert "died" in events and "server2" in events
        shot = tmp_path / "dashboard.png"
        d.save_screenshot(str(shot))
        assert shot.stat().st_size > 10000
        if os.environ.get("LB_SCREENSHOT"):  # refreshes the README's
            shutil.copy(shot, os.path.join(ROOT, "docs", "dashboard.png"))
    finally:
        d.quit()
