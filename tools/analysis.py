#!/usr/bin/python3
"""The assignment's Task 4 (A-1..A-4) and the keys that move (A-5),
regenerated with one command (make analysis).

Runs the load balancer (the Docker stack by default, or local processes
with --stack local), drives it with lb-load, and writes PNG charts, a JSON
file of every number, and markdown tables into docs/analysis/; the tables
are also written into docs/analysis.md between the analysis markers, so that
page always shows the figures of the last run.

Every load loop is bounded in count (10,000 requests a run) and time.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

import requests

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lbtools  # noqa: E402
from lbtools import ROOT, free_port  # noqa: E402
PRESETS = ["assignment", "mix", "maglev"]
REQUESTS = 10000
CONCURRENCY = 32


def wait_for(pred, timeout, what):
    return lbtools.wait_for(pred, timeout, what, hint=(
        f" (the stack's log: {tempfile.gettempdir()}/lb-analysis-stack.log)"))


class LocalStack:
    """Control plane (process driver) and data plane as local processes."""

    def __init__(self, build, preset, replicas, extra=None):
        self.build = build
        self.port = free_port()
        self.site_port = free_port()  # the data plane's pages (events)
        self.tmp = tempfile.mkdtemp(prefix="lb-analysis-")
        ctl = f"tcp://127.0.0.1:{free_port()}"
        pub = f"tcp://127.0.0.1:{free_port()}"
        env = dict(os.environ, LB_CTL_URL=ctl, LB_PUB_URL=pub,
                   LB_PRESET=preset, LB_REPLICAS=str(replicas),
                   LB_STATE_DIR=self.tmp, LB_LOG_LEVEL="warn",
                   LB_PORT=str(self.port), LB_HOST="127.0.0.1",
                   LB_PAGES_LISTEN=f"127.0.0.1:{self.site_port}",
                   LB_METRICS_LISTEN="",
                   **(extra or {}))
        log = open(os.path.join(self.tmp, "stack.log"), "ab")
        self.procs = [
            subprocess.Popen([os.path.join(build, "controlplane",
                                           "lb-controlplane")],
                             env=env, stdout=log, stderr=log),
            subprocess.Popen([os.path.join(build, "dataplane",
                                           "lb-dataplane")],
                             env=env, stdout=log, stderr=log),
        ]

    def kill_replica(self, name):
        with open(os.path.join(self.tmp, "lb.json")) as f:
            for r in json.load(f)["replicas"]:
                if r["name"] == name:
                    os.kill(r["pid"], signal.SIGKILL)
                    return "kill -9 <pid>"
        raise SystemExit(f"analysis: no replica {name}")

    def stop(self):
        for p in reversed(self.procs):
            p.send_signal(signal.SIGTERM)
            p.wait(10)


class DockerStack:
    """The compose stack of `make up`, published on a free port."""
    COMPOSE = ["docker-compose", "-p", "lb", "-f",
               os.path.join(ROOT, "compose", "docker-compose.yml")]

    def __init__(self, build, preset, replicas, extra=None):
        self.port = free_port()
        self.site_port = free_port()
        down()
        env = dict(os.environ, LB_PRESET=preset, LB_REPLICAS=str(replicas),
                   LB_PUBLISH=f"127.0.0.1:{self.port}",
                   LB_PAGES_PUBLISH=f"127.0.0.1:{self.site_port}",
                   LB_METRICS_PUBLISH=f"127.0.0.1:{free_port()}",
                   **(extra or {}))
        subprocess.run(self.COMPOSE + ["up", "-d"], env=env, check=True,
                       capture_output=True)

    def kill_replica(self, name):
        subprocess.run(["docker", "kill", name], check=True,
                       capture_output=True)
        return f"docker kill {name}"

    def stop(self):
        # Kept for a look when something went wrong.
        logs = subprocess.run(self.COMPOSE + ["logs", "--no-color"],
                              capture_output=True, text=True).stdout
        with open(os.path.join(tempfile.gettempdir(),
                               "lb-analysis-stack.log"), "w") as f:
            f.write(logs)
        down()


def down():
    subprocess.run(["make", "-s", "-C", ROOT, "down"], capture_output=True)


class Client:
    def __init__(self, port, build):
        self.base = f"http://127.0.0.1:{port}"
        self.load_bin = os.path.join(build, "tools", "lb-load")

    def rep(self):
        return requests.get(self.base + "/rep", timeout=10).json()["message"]

    def wait_serving(self, n):
        def ok():
            r = requests.get(self.base + "/rep", timeout=5)
            if r.status_code != 200 or r.json()["message"]["N"] != n:
                return False
            return requests.get(self.base + "/home",
                                timeout=5).status_code == 200
        wait_for(ok, 60, f"{n} replicas serving")

    def call(self, method, path, body=None):
        r = requests.request(method, self.base + path, json=body, timeout=120)
        return r.status_code, r.text

    def warm_up(self):
        """Opens the keep-alive connections (client to data plane, data
        plane to replicas) so that the measured run does not pay for it."""
        self.load(requests_=2000)

    def load(self, requests_=REQUESTS, concurrency=CONCURRENCY, key=None):
        """lb-load's results; key=(spec, K) sends K distinct key values."""
        out = tempfile.mktemp(suffix=".json")
        extra = ["--key", key[0], "--keys", str(key[1])] if key else []
        subprocess.run([self.load_bin, "--url", self.base + "/home",
                        "--requests", str(requests_), "--concurrency",
                        str(concurrency), "--json", out, "--quiet", "1",
                        "--max-seconds", "120"] + extra, capture_output=True)
        with open(out) as f:
            res = json.load(f)
        os.unlink(out)
        return res

    def key_map(self, keys=REQUESTS):
        """Which server answers each of `keys` users (X-User: k<n>)."""
        out = tempfile.mktemp(suffix=".csv")
        subprocess.run([self.load_bin, "--url", self.base + "/home",
                        "--requests", str(keys), "--concurrency",
                        str(CONCURRENCY), "--key", "header:X-User", "--keys",
                        str(keys), "--key-map", out, "--quiet", "1",
                        "--max-seconds", "120"], capture_output=True)
        with open(out) as f:
            rows = dict(line.strip().split(",") for line in f
                        if not line.startswith("key,"))
        os.unlink(out)
        return rows


def spread(counts, n, total):
    loads = [counts.get(i, 0) for i in range(1, n + 1)]
    mean = total / n
    var = sum((x - mean) ** 2 for x in loads) / n
    return {"loads": loads, "mean": mean, "min": min(loads),
            "max": max(loads), "std": var ** 0.5,
            "max_over_mean": max(loads) / mean}


def a1(stack_cls, build, preset):
    s = stack_cls(build, preset, 3)
    try:
        c = Client(s.port, build)
        c.wait_serving(3)
        c.warm_up()
        res = c.load()
        counts = {int(k): v for k, v in res["servers"].items()}
        return {"counts": counts, "ok": res["ok"], "errors": res["errors"],
                "seconds": res["seconds"], "rps": res["rps"],
                "latency_ms": res["latency_ms"]}
    finally:
        s.stop()


def a2(stack_cls, build, preset):
    """N = 2..6: start with server1..2, /add one at a time (server ids
    1..N), 10,000 requests at each N; then /rm back down to 2."""
    s = stack_cls(build, preset, 2)
    rows = []
    try:
        c = Client(s.port, build)
        c.wait_serving(2)
        for n in range(2, 7):
            if n > 2:
                st, body = c.call("POST", "/add",
                                  {"n": 1, "hostnames": [f"server{n}"]})
                assert st == 200, body
                c.wait_serving(n)
            res = c.load()
            counts = {int(k): v for k, v in res["servers"].items()}
            row = spread(counts, n, res["ok"])
            row.update({"n": n, "errors": res["errors"]})
            rows.append(row)
        for n in range(6, 2, -1):
            st, body = c.call("DELETE", "/rm",
                              {"n": 1, "hostnames": [f"server{n}"]})
            assert st == 200, body
        assert c.rep()["N"] == 2
        return rows
    finally:
        s.stop()


def a3(stack_cls, build):
    """Every endpoint with its answer; then a replica killed under load."""
    s = stack_cls(build, "assignment", 3)
    out = {"endpoints": []}
    try:
        c = Client(s.port, build)
        c.wait_serving(3)
        calls = [
            ("GET", "/rep", None),
            ("POST", "/add", {"n": 4, "hostnames": ["S5", "S4", "S10", "S11"]}),
            ("POST", "/add", {"n": 2, "hostnames": ["S6", "S7", "S8"]}),
            ("POST", "/add", {"n": 1, "hostnames": ["bad name"]}),
            ("DELETE", "/rm", {"n": 3, "hostnames": ["S5", "S4"]}),
            ("DELETE", "/rm", {"n": 1, "hostnames": ["S5", "S4"]}),
            ("DELETE", "/rm", {"n": 1, "hostnames": ["nope"]}),
            ("GET", "/home", None),
            ("GET", "/other", None),
            ("POST", "/rep", None),
        ]
        for method, path, body in calls:
            st, text = c.call(method, path, body)
            out["endpoints"].append({"request": f"{method} {path}" + (
                f" {json.dumps(body)}" if body else ""), "status": st,
                "answer": text})
        # Back to three replicas for the kill (/rm picked a random third).
        ids_made = 3 + 4  # server1..3, then S5, S4, S10, S11
        names = c.rep()["replicas"]
        if len(names) > 3:
            st, body = c.call("DELETE", "/rm", {"n": len(names) - 3,
                                                "hostnames": names[3:]})
            assert st == 200, body
        elif len(names) < 3:
            st, body = c.call("POST", "/add", {"n": 3 - len(names)})
            assert st == 200, body
            ids_made += 3 - len(names)
        c.wait_serving(3)
        victim = c.rep()["replicas"][1]
        result = {}

        def run_load():
            result.update(c.load(requests_=40000, concurrency=16))
        t = threading.Thread(target=run_load)
        t.start()
        time.sleep(0.5)
        t0 = time.monotonic()
        how = s.kill_replica(victim)
        listed = wait_for(lambda: victim not in c.rep()["replicas"] and
                          c.rep()["N"] == 3 and c.rep(), 10,
                          "replacement listed")
        t_listed = time.monotonic() - t0
        new = listed["replicas"][-1]
        # Serving: a request answered by the replacement, whose server id
        # is the next one after every id made so far.
        def served():
            r = requests.get(c.base + "/home", timeout=5)
            return int(r.json()["message"].split()[-1]) > ids_made
        wait_for(served, 10, "replacement serving")
        t_serving = time.monotonic() - t0
        t.join()
        out["kill"] = {"how": how, "replacement": new,
                       "listed_s": round(t_listed, 3),
                       "serving_s": round(t_serving, 3),
                       "requests": result.get("requests"),
                       "errors": result.get("errors"),
                       "rps": result.get("rps")}
        return out
    finally:
        s.stop()


TIMELINE_S = 14  # the A-3 timeline's length
TIMELINE_BIN = 0.25


def timeline_load(base, seconds, clients=8):
    """Keep-alive clients sending GET /home for `seconds` (bounded in count
    too): [(seconds from start, server id or None, status)]."""
    t0 = time.monotonic()
    rows, lock = [], threading.Lock()

    def client():
        with requests.Session() as s:
            for _ in range(200000):
                t = time.monotonic() - t0
                if t >= seconds:
                    return
                try:
                    r = s.get(base + "/home", timeout=5)
                    sid = int(r.json()["message"].split()[-1]) \
                        if r.status_code == 200 else None
                    row = (t, sid, r.status_code)
                except (requests.RequestException, ValueError):
                    row = (t, None, 0)
                with lock:
                    rows.append(row)
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for th in threads:
        th.start()
    return t0, threads, rows


def a3_timeline(stack_cls, build):
    """Requests per second per replica through a kill and an /rm under
    load, with the control plane's events (its dashboard's list) marked."""
    s = stack_cls(build, "assignment", 3)
    try:
        c = Client(s.port, build)
        c.wait_serving(3)
        c.warm_up()
        t0, threads, rows = timeline_load(c.base, TIMELINE_S)
        wall0 = time.time() - (time.monotonic() - t0)
        time.sleep(3)
        victim = c.rep()["replicas"][0]
        how = s.kill_replica(victim)
        t_kill = time.monotonic() - t0
        time.sleep(4)
        gone = c.rep()["replicas"][0]
        t_rm = time.monotonic() - t0
        st, _ = c.call("DELETE", "/rm", {"n": 1, "hostnames": [gone]})
        t_rm_done = time.monotonic() - t0
        for th in threads:
            th.join()
        events = requests.get(f"http://127.0.0.1:{s.site_port}/api/state",
                              timeout=5).json().get("events", [])
        marks = [{"t": round(t_kill, 3), "what": f"{how}"},
                 {"t": round(t_rm, 3), "what": f"/rm {gone}"},
                 {"t": round(t_rm_done, 3), "what": f"/rm answered ({st})"}]
        for e in events:
            t = e["time_ms"] / 1000 - wall0
            if 0 <= t <= TIMELINE_S and e["kind"] in (
                    "died", "replacing", "up", "removed", "drained",
                    "stopped"):
                marks.append({"t": round(t, 3),
                              "what": f"{e['kind']} {e['name']}"})
        bins = int(TIMELINE_S / TIMELINE_BIN)
        series, errors = {}, [0] * bins
        for t, sid, status in rows:
            b = min(bins - 1, int(t / TIMELINE_BIN))
            if sid is None:
                errors[b] += 1
                continue
            series.setdefault(sid, [0] * bins)[b] += 1
        return {"victim": victim, "removed": gone, "bin_s": TIMELINE_BIN,
                "series": {str(k): v for k, v in sorted(series.items())},
                "errors": errors, "requests": len(rows),
                "failed": sum(errors), "marks": sorted(
                    marks, key=lambda m: m["t"])}
    finally:
        s.stop()


def chart_a3(tl, path):
    fig, ax = plt.subplots(figsize=(9, 4.2))
    bin_s = tl["bin_s"]
    for sid, counts in tl["series"].items():
        xs = [i * bin_s for i in range(len(counts))]
        ax.plot(xs, [c / bin_s for c in counts], label=f"server id {sid}")
    if any(tl["errors"]):
        ax.plot([i * bin_s for i in range(len(tl["errors"]))],
                [e / bin_s for e in tl["errors"]], color="red",
                label="failed requests")
    top = ax.get_ylim()[1]
    for i, m in enumerate(tl["marks"]):
        ax.axvline(m["t"], color="gray", ls=":", lw=1)
        ax.text(m["t"], top * (0.97 - 0.07 * (i % 6)), " " + m["what"],
                fontsize=7, va="top")
    ax.set_xlabel("seconds")
    ax.set_ylabel("requests per second")
    ax.set_title(f"A-3: a replica killed, then one removed, under load "
                 f"({tl['requests']:,} requests, {tl['failed']} failed)")
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


SLOW_START_MS = 10000
SLOW_START_RUN_S = 16
SLOW_START_AT_S = 2


def slow_start(stack_cls, build):
    """A replica added under load with LB_SLOW_START_MS: every replica's
    share of the requests, second by second (maglev, three replicas, a
    fourth of weight 1 added at 2 s)."""
    s = stack_cls(build, "maglev", 3,
                  {"LB_SLOW_START_MS": str(SLOW_START_MS)})
    try:
        c = Client(s.port, build)
        c.wait_serving(3)
        c.warm_up()
        t0, threads, rows = timeline_load(c.base, SLOW_START_RUN_S)
        time.sleep(SLOW_START_AT_S)
        st, text = c.call("POST", "/add", {"n": 1, "hostnames": ["late"]})
        t_added = time.monotonic() - t0
        if st != 200:
            raise SystemExit(f"analysis: /add answered {st}: {text}")
        state = requests.get(f"http://127.0.0.1:{s.site_port}/api/state",
                             timeout=5).json()
        new_id = next(r["id"] for r in state["replicas"]
                      if r["name"] == "late")
        for th in threads:
            th.join()
        bins = SLOW_START_RUN_S
        total, new = [0] * bins, [0] * bins
        for t, sid, _ in rows:
            b = min(bins - 1, int(t))
            total[b] += 1
            new[b] += sid == new_id
        return {"added_s": round(t_added, 3), "add_status": st,
                "ramp_s": SLOW_START_MS / 1000, "new_id": new_id,
                "share": [n / t if t else 0 for n, t in zip(new, total)],
                "requests": len(rows),
                "failed": sum(1 for r in rows if r[1] is None)}
    finally:
        s.stop()


def chart_slow_start(res, path):
    fig, ax = plt.subplots(figsize=(8, 3.8))
    xs = [i + 0.5 for i in range(len(res["share"]))]
    ax.plot(xs, [100 * v for v in res["share"]], marker="o",
            label=f"the new replica (server id {res['new_id']}), measured")
    a, ramp = res["added_s"], res["ramp_s"]
    ideal = [0 if x < a else 25 * min(1, 0.1 + 0.9 * (x - a) / ramp)
             for x in xs]
    ax.plot(xs, ideal, ls="--", color="gray",
            label="10 % → 100 % of its weight's 25 %")
    ax.axvline(a, color="gray", ls=":", lw=1)
    ax.set_xlabel("seconds")
    ax.set_ylabel("share of requests (%)")
    ax.set_title(f"Slow start: a 4th replica added at {a:.1f} s, a "
                 f"{ramp:g} s ramp ({res['requests']:,} requests, "
                 f"{res['failed']} failed)", fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def moved(a, b):
    return sum(a[k] != b[k] for k in a) / len(a)


def a5_moves(stack_cls, build, preset):
    """LB_KEY=header:X-User, 10,000 users: at N = 3..6, the share of users
    whose replica changes when one replica is added, and when it is removed
    again, beside the ideal (1/(N+1); the removed one's share)."""
    s = stack_cls(build, preset, 3, {"LB_KEY": "header:X-User"})
    rows = []
    try:
        c = Client(s.port, build)
        c.wait_serving(3)
        c.warm_up()
        for n in range(3, 7):
            if n > 3:  # grow to n for good
                st, body = c.call("POST", "/add",
                                  {"n": 1, "hostnames": [f"server{n}"]})
                assert st == 200, body
                c.wait_serving(n)
            before = c.key_map()
            st, body = c.call("POST", "/add", {"n": 1, "hostnames": ["probe"]})
            assert st == 200, body
            c.wait_serving(n + 1)
            added = c.key_map()
            probe_id = max(int(v) for v in added.values())
            share = sum(v == str(probe_id) for v in added.values()) / \
                len(added)
            st, body = c.call("DELETE", "/rm", {"n": 1, "hostnames": ["probe"]})
            assert st == 200, body
            c.wait_serving(n)
            back = c.key_map()
            rows.append({"n": n, "add_moved": moved(before, added),
                         "add_ideal": 1 / (n + 1),
                         "rm_moved": moved(added, back), "rm_ideal": share})
        return rows
    finally:
        s.stop()


def a5_hot(stack_cls, build, preset, factor):
    """One hot key (every request the same user), 32 in flight: the
    busiest replica's share."""
    extra = {"LB_KEY": "header:X-User"}
    if factor:
        extra["LB_BALANCE_FACTOR"] = str(factor)
    s = stack_cls(build, preset, 3, extra)
    try:
        c = Client(s.port, build)
        c.wait_serving(3)
        c.warm_up()
        res = c.load(key=("header:X-User", 1))
        counts = res["servers"].values()
        return max(counts) / max(1, sum(counts))
    finally:
        s.stop()


def chart_a5(results, path):
    presets = list(results)
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
    width = 0.8 / (len(presets) + 1)
    ns = [r["n"] for r in results[presets[0]]["moves"]]
    for ax, what, title in ((axes[0], "add", "one replica added"),
                            (axes[1], "rm", "that replica removed")):
        for i, p in enumerate(presets):
            rows = results[p]["moves"]
            ax.bar([x + i * width for x in range(len(ns))],
                   [100 * r[f"{what}_moved"] for r in rows], width, label=p)
        ideal = [100 * r[f"{what}_ideal"]
                 for r in results[presets[-1]]["moves"]]
        ax.bar([x + len(presets) * width for x in range(len(ns))], ideal,
               width, color="lightgray", label="ideal")
        ax.set_xticks([x + width * len(presets) / 2 for x in range(len(ns))])
        ax.set_xticklabels([f"N = {n}" for n in ns])
        ax.set_title(f"A-5: users whose replica changed, {title}")
    axes[0].set_ylabel("% of 10,000 users")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def chart_a1(results, path):
    fig, axes = plt.subplots(1, len(results), figsize=(4 * len(results), 3.6),
                             sharey=True, squeeze=False)
    axes = axes[0]
    for ax, (preset, r) in zip(axes, results.items()):
        ids = sorted(r["counts"])
        vals = [r["counts"][i] for i in ids]
        bars = ax.bar([f"server{i}" for i in ids], vals,
                      color=["#4c72b0", "#dd8452", "#55a868"])
        ax.bar_label(bars, fmt="%d")
        ax.set_title(f"{preset}")
        ax.axhline(REQUESTS / 3, color="gray", ls="--", lw=1)
    axes[0].set_ylabel(f"requests (of {REQUESTS:,}, N = 3)")
    fig.suptitle("A-1 / A-4: requests per server, N = 3 "
                 "(dashed: a fair share)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def percentile(values, q):
    """The q-th percentile (0..100) of values, interpolated between the
    two nearest ranks: always within min..max."""
    v = sorted(values)
    pos = (len(v) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


def chart_a2(results, path):
    """Each server's load at each N (dots), the min..max band, the
    25th..75th percentile band and the median: the spread without a value
    that no server had (a mean +- standard deviation dipped below 0)."""
    fig, axes = plt.subplots(1, len(results), figsize=(4 * len(results), 3.6),
                             sharey=True, squeeze=False)
    axes = axes[0]
    for ax, (preset, rows) in zip(axes, results.items()):
        ns = [r["n"] for r in rows]
        ax.fill_between(ns, [r["min"] for r in rows], [r["max"] for r in rows],
                        alpha=0.15, color="tab:blue", label="min..max")
        ax.fill_between(ns, [percentile(r["loads"], 25) for r in rows],
                        [percentile(r["loads"], 75) for r in rows],
                        alpha=0.35, color="tab:blue", label="p25..p75")
        ax.plot(ns, [percentile(r["loads"], 50) for r in rows], "-",
                color="tab:blue", label="median")
        ax.plot(ns, [r["mean"] for r in rows], "--", color="gray",
                label="fair share (10,000 / N)")
        for r in rows:
            ax.plot([r["n"]] * len(r["loads"]), r["loads"], ".",
                    color="black", ms=4)
        ax.set_title(preset)
        ax.set_xlabel("N (replicas)")
        ax.set_xticks(ns)
    axes[0].set_ylabel(f"requests per server (of {REQUESTS:,})")
    axes[0].legend(fontsize=8)
    fig.suptitle("A-2 / A-4: load per server as N grows")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def chart_a4(results, path):
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for preset, rows in results.items():
        ax.plot([r["n"] for r in rows], [r["max_over_mean"] for r in rows],
                "o-", label=preset)
    ax.axhline(1.0, color="gray", ls="--", lw=1)
    ax.set_xlabel("N (replicas)")
    ax.set_ylabel("busiest server / fair share")
    ax.set_xticks([r["n"] for r in next(iter(results.values()))])
    ax.set_title("A-4: imbalance by preset (1.0 = perfect)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def tables(res):
    md = []
    md.append("**A-1 / A-4: 10,000 requests on N = 3** (share of requests)\n")
    md.append("| preset | server1 | server2 | server3 | errors | time | throughput | p50 / p99 |")
    md.append("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for p, r in res["a1"].items():
        tot = sum(r["counts"].values()) or 1
        cells = [f"{r['counts'].get(i, 0)} ({100 * r['counts'].get(i, 0) / tot:.1f} %)"
                 for i in (1, 2, 3)]
        md.append(f"| `{p}` | " + " | ".join(cells) +
                  f" | {r['errors']} | {r['seconds']:.2f} s | "
                  f"{r['rps']:,.0f} req/s | {r['latency_ms']['p50']:.1f} / "
                  f"{r['latency_ms']['p99']:.1f} ms |")
    md.append("")
    md.append("**A-2 / A-4: N = 2..6, 10,000 requests each** "
              "(mean = 10,000 / N; min / max / std dev of the per-server "
              "counts; busiest / mean)\n")
    md.append("| preset | N | per-server counts | min | max | std dev | busiest / mean |")
    md.append("| --- | --- | --- | --- | --- | --- | --- |")
    for p, rows in res["a2"].items():
        for r in rows:
            md.append(f"| `{p}` | {r['n']} | {' / '.join(map(str, r['loads']))} "
                      f"| {r['min']} | {r['max']} | {r['std']:.0f} | "
                      f"{r['max_over_mean']:.2f} |")
    md.append("")
    md.append("**A-3: every endpoint** (through the load balancer)\n")
    md.append("| request | status | answer |")
    md.append("| --- | --- | --- |")
    for e in res["a3"]["endpoints"]:
        ans = e["answer"].strip().replace("|", "\\|")
        md.append(f"| `{e['request']}` | {e['status']} | `{ans}` |")
    if res.get("a5"):
        md.append("")
        md.append("**A-5: keys that move** (`LB_KEY=header:X-User`, 10,000 "
                  "users; the share of users whose replica changed when one "
                  "replica was added at N, and when it was removed again; "
                  "ideal: 1/(N+1), and the removed replica's share)\n")
        md.append("| preset | N | added: moved | ideal | removed: moved | "
                  "ideal |")
        md.append("| --- | --- | --- | --- | --- | --- |")
        for p, r in res["a5"].items():
            for m in r["moves"]:
                md.append(f"| `{p}` | {m['n']} | {100 * m['add_moved']:.1f} % "
                          f"| {100 * m['add_ideal']:.1f} % | "
                          f"{100 * m['rm_moved']:.1f} % | "
                          f"{100 * m['rm_ideal']:.1f} % |")
        md.append("")
        md.append("**A-5: one hot key** (every request the same user, 32 in "
                  "flight, N = 3): the busiest replica's share\n")
        md.append("| preset | no bound | `LB_BALANCE_FACTOR=1.25` |")
        md.append("| --- | --- | --- |")
        for p, r in res["a5"].items():
            md.append(f"| `{p}` | {100 * r['hot_plain']:.1f} % | "
                      f"{100 * r['hot_bounded']:.1f} % |")
    k = res["a3"]["kill"]
    md.append("")
    md.append(f"**A-3: a replica killed under load** (`{k['how']}` during "
              f"{k['requests']:,} requests at concurrency 16): the "
              f"replacement `{k['replacement']}` was listed by `/rep` after "
              f"{k['listed_s']:.2f} s and answered `/home` after "
              f"{k['serving_s']:.2f} s; client errors: **{k['errors']}**.")
    return "\n".join(md)


def doc_update(md, stack):
    path = os.path.join(ROOT, "docs", "analysis.md")
    begin, end = "<!-- analysis:begin -->", "<!-- analysis:end -->"
    with open(path) as f:
        text = f.read()
    if begin not in text or end not in text:
        print("analysis: docs/analysis.md has no analysis markers; "
              "not updated")
        return
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    note = (f"_Generated by `make analysis` on {time.strftime('%Y-%m-%d')} "
            f"against the {stack} stack._\n\n")
    with open(path, "w") as f:
        f.write(head + begin + "\n" + note + md + "\n" + end + tail)


def draw_charts(res, out):
    chart_a5(res["a5"], os.path.join(out, "a5-keys-moved.png"))
    chart_a1(res["a1"], os.path.join(out, "a1-requests-per-server.png"))
    chart_a2(res["a2"], os.path.join(out, "a2-load-vs-n.png"))
    chart_a4(res["a2"], os.path.join(out, "a4-imbalance.png"))


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--stack", choices=["docker", "local"], default="docker")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "analysis"))
    ap.add_argument("--only", choices=["a3-timeline", "slow-start", "charts"],
                    help="run one part alone (its chart and JSON only); "
                    "charts: draw the A-1, A-2, A-4, A-5 charts again from "
                    "OUT/results.json, running nothing")
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    os.makedirs(args.out, exist_ok=True)
    stack_cls = DockerStack if args.stack == "docker" else LocalStack
    if args.only == "charts":
        with open(os.path.join(args.out, "results.json")) as f:
            res = json.load(f)
        draw_charts(res, args.out)
        return 0
    # One part alone: (run, chart, what of its result to print).
    parts = {"slow-start": (slow_start, chart_slow_start, lambda r: r),
             "a3-timeline": (a3_timeline, chart_a3, lambda r: r["marks"])}
    if args.only in parts:
        run, chart, shown = parts[args.only]
        res = run(stack_cls, build)
        chart(res, os.path.join(args.out, f"{args.only}.png"))
        with open(os.path.join(args.out, f"{args.only}.json"), "w") as f:
            json.dump(res, f, indent=1)
        print(json.dumps(shown(res), indent=1))
        return 0
    res = {"stack": args.stack, "a1": {}, "a2": {}}
    t0 = time.monotonic()
    presets = os.environ.get("LB_ANALYSIS_PRESETS", " ".join(PRESETS)).split()
    for p in presets:
        print(f"A-1 {p} ...", flush=True)
        res["a1"][p] = a1(stack_cls, build, p)
        print(f"A-2 {p} ...", flush=True)
        res["a2"][p] = a2(stack_cls, build, p)
    print("A-3 ...", flush=True)
    res["a3"] = a3(stack_cls, build)
    print("A-3 timeline ...", flush=True)
    res["a3_timeline"] = a3_timeline(stack_cls, build)
    chart_a3(res["a3_timeline"], os.path.join(args.out, "a3-timeline.png"))
    res["a5"] = {}
    for p in presets:
        print(f"A-5 {p} ...", flush=True)
        res["a5"][p] = {"moves": a5_moves(stack_cls, build, p),
                        "hot_plain": a5_hot(stack_cls, build, p, 0),
                        "hot_bounded": a5_hot(stack_cls, build, p, 1.25)}
    draw_charts(res, args.out)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(res, f, indent=1)
    md = tables(res)
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write(md + "\n")
    doc_update(md, args.stack)
    print(md)
    print(f"\nanalysis: done in {time.monotonic() - t0:.0f} s; "
          f"charts and tables in {os.path.relpath(args.out, ROOT)}/")


if __name__ == "__main__":
    sys.exit(main())
