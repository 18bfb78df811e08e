#!/usr/bin/python3
"""make bench: our data plane against HAProxy and nginx, on the same three
replicas, in one run.

Starts a control plane (process driver, `maglev` preset so that every proxy
spreads evenly) with three replicas, our data plane, HAProxy and nginx from
bench/*.in (consistent hashing of a random key, upstream keep-alive), and
optionally a second data plane from another build (--baseline, say the
previous commit's), all following the same replicas.  Then:

- the sweep: wrk on `/home` at 1, 8, 32, 256 and 1,024 connections against
  each target, targets alternated, --rounds rounds, medians;
- held clients: 1,000 sockets that hold a partial request head, then 1,000
  idle keep-alive clients, each time 20 fresh requests from 127.0.0.2:
  how many are answered, and the slowest;
- latency against rate: lb-load's open loop at 20, 50 and 80 % of
  HAProxy's saturation (lb-load's closed loop against it), for every
  target and one replica directly (the latency each proxy adds);
- HTTPS: ours and HAProxy terminating TLS with the same certificate (a
  self-signed P-256 one), keep-alive requests/s at 1, 32 and 256
  connections, and new handshakes/s (a connection per request);
- lb-microbench and lb-upstream-bench (the costs of the parts);

and writes docs/bench/results.{json,md}, the sweep chart
(docs/bench/sweep.png) and the tables of docs/performance.md (between its
bench markers; --no-docs leaves that file alone).

Bounded: every wrk run lasts --duration seconds; every held-client case is
bounded in count and time.
"""
import argparse
import json
import os
import re
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lbclients import held_clients_case  # noqa: E402
from lbtools import ROOT, free_port, rss_kb, wait_http  # noqa: E402

OURS, HAPROXY, NGINX = "lb (ours)", "HAProxy", "nginx"
TLS_CONNS = [1, 32, 256]
HANDSHAKE_CONNS = [32]


def render(template, out, **values):
    with open(os.path.join(ROOT, "bench", template)) as f:
        text = f.read()
    for k, v in values.items():
        text = text.replace(f"@{k}@", str(v))
    with open(out, "w") as f:
        f.write(text)
    return out


def wrk(port, duration, connections, scheme="http", close=False):
    """wrk on /home; close: a new connection per request."""
    threads = 1 if connections == 1 else 2
    extra = ["-H", "Connection: close"] if close else []
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s",
         "--timeout", "5s", "--latency", *extra,
         f"{scheme}://127.0.0.1:{port}/home"],
        capture_output=True, text=True, timeout=duration + 60).stdout

    def ms(label):
        m = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not m:
            return float("nan")
        v = float(m.group(1))
        return {"us": v / 1000, "ms": v, "s": v * 1000}[m.group(2)]
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write "
                     r"(\d+), timeout (\d+)", out)
    return {"rps": float(rps.group(1)) if rps else 0.0,
            "p50": ms("50%"), "p99": ms("99%"),
            "errors": (int(non2xx.group(1)) if non2xx else 0) +
            (sum(int(x) for x in sock.groups()) if sock else 0)}


class Rig:
    """The processes of one run: replicas, our data plane(s), HAProxy and
    nginx.  Stopped when the run ends, whatever happens."""

    def __init__(self, build, baselines, tmp):
        self.tmp = tmp
        self.procs = []
        self.log = open(os.path.join(tmp, "bench.log"), "ab")
        try:
            self.start(build, baselines)
        except BaseException:
            self.stop()  # a rig that did not come up leaves nothing
            raise

    def start(self, build, baselines):
        tmp = self.tmp
        ctl = f"tcp://127.0.0.1:{free_port()}"
        pub = f"tcp://127.0.0.1:{free_port()}"
        # The former names too, for a baseline built before the rename.
        common = {"LB_CTL_URL": ctl, "LB_PUB_URL": pub,
                  "LB_ADMIN_URL": ctl, "LB_ADMIN_LISTEN": "",
                  "LB_LOG_LEVEL": "warn", "LB_PAGES_LISTEN": "",
                  "LB_METRICS_LISTEN": ""}
        # Replicas with threads to spare (each civetweb worker holds one
        # connection, and the proxies open up to one per request in
        # flight), so that the proxies are measured, not the replicas.
        # Heartbeats that tolerate saturation: at 1,024 connections a
        # replica may answer one late, and a replacement (on a new port)
        # would leave HAProxy and nginx, configured once, with a dead
        # server.  The run checks at its end that none was replaced.
        self.spawn([os.path.join(build, "controlplane", "lb-controlplane")],
                   dict(common, LB_PRESET="maglev", LB_REPLICAS="3",
                        LB_STATE_DIR=tmp, LB_INSTANCE="bench",
                        LB_REPLICA_THREADS="4096",
                        LB_HEARTBEAT_MS="2000",
                        LB_HEARTBEAT_TIMEOUT_MS="2000",
                        LB_FAIL_THRESHOLD="10"))
        # Ours may open as many connections per replica as the others
        # (they have no cap).
        common["LB_REPLICA_MAX_CONNS"] = "1024"
        self.targets = {}
        self.tls_targets = {}
        cert, key = self.certificate()
        ours, ours_tls = free_port(), free_port()
        self.dp = self.spawn([os.path.join(build, "dataplane",
                                           "lb-dataplane")],
                             dict(common, LB_PORT=str(ours),
                                  LB_TLS_PORT=str(ours_tls),
                                  LB_TLS_CERT=cert, LB_TLS_KEY=key))
        self.tls_targets[OURS] = ours_tls
        wait_http(f"http://127.0.0.1:{ours}/home")
        self.targets[OURS] = ours
        self.replicas = self.replica_ports()
        s = dict(zip(("S1", "S2", "S3"), self.replicas))
        hap, hap_tls = free_port(), free_port()
        pem = os.path.join(tmp, "haproxy.pem")
        with open(pem, "w") as out:
            for part in (cert, key):
                with open(part) as f:
                    out.write(f.read())
        self.spawn(["haproxy", "-db", "-f", render(
            "haproxy.cfg.in", os.path.join(tmp, "haproxy.cfg"), PORT=hap,
            TLS_PORT=hap_tls, PEM=pem, **s)])
        self.targets[HAPROXY] = hap
        self.tls_targets[HAPROXY] = hap_tls
        ngx = free_port()
        self.spawn(["nginx", "-c", render(
            "nginx.conf.in", os.path.join(tmp, "nginx.conf"), PORT=ngx,
            DIR=tmp, **s), "-g", "daemon off;"])
        self.targets[NGINX] = ngx
        for spec in baselines:
            label, _, path = spec.rpartition("=")
            base = free_port()
            self.spawn([os.path.join(os.path.abspath(path), "dataplane",
                                     "lb-dataplane")],
                       dict(common, LB_PORT=str(base)))
            self.targets[f"lb ({label or 'baseline'})"] = base
        for port in self.targets.values():
            wait_http(f"http://127.0.0.1:{port}/home")

    def certificate(self):
        """A self-signed pair for localhost, made as `make run TLS=1`
        makes it."""
        subprocess.run([os.path.join(ROOT, "tools", "tls-cert.sh"),
                        os.path.join(self.tmp, "tls")], check=True,
                       env=dict(os.environ, LB_TLS_CERT="", LB_TLS_KEY=""),
                       stdout=subprocess.DEVNULL)
        return (os.path.join(self.tmp, "tls", "cert.pem"),
                os.path.join(self.tmp, "tls", "key.pem"))

    def replica_ports(self):
        with open(os.path.join(self.tmp, "bench.json")) as f:
            return [r["port"] for r in json.load(f)["replicas"]]

    def spawn(self, argv, env=None):
        p = subprocess.Popen(argv, env=dict(os.environ, **(env or {})),
                             stdout=self.log, stderr=self.log)
        self.procs.append(p)
        return p

    def stop(self):
        for p in reversed(self.procs):
            p.send_signal(signal.SIGTERM)
        for p in reversed(self.procs):
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


def sweep(targets, conns, rounds, duration, **how):
    """wrk against each target at each connection count (how: wrk's
    scheme and close), targets alternated: (runs, medians)."""
    runs = {n: {c: [] for c in conns} for n in targets}
    names = list(targets)
    label = how.get("scheme", "http") + (" close" if how.get("close") else "")
    for c in conns:
        for n in names:
            wrk(targets[n], 1, c, **how)  # warm-up: connections, pools
        for r in range(rounds):
            order = names[r % len(names):] + names[:r % len(names)]
            for n in order:
                res = wrk(targets[n], duration, c, **how)
                runs[n][c].append(res)
                print(f"{label} c={c:<5} round {r + 1} {n:14s} "
                      f"{res['rps']:9.0f} "
                      f"req/s  p99 {res['p99']:8.2f} ms  errors "
                      f"{res['errors']}", flush=True)
    med = {n: {c: {k: statistics.median(x[k] for x in runs[n][c])
                   for k in ("rps", "p50", "p99", "errors")}
               for c in conns} for n in targets}
    return runs, med


RATE_FRACTIONS = [0.2, 0.5, 0.8]
# The rates are fractions of HAProxy's saturation with lb-load itself as
# the client: lb-load costs more CPU per request than wrk, and it shares
# the two cores with the proxies, so wrk's figure would put "50 %" past
# every proxy's knee.
DIRECT = "direct (one replica)"


def open_loop(build, port, rate, duration):
    """lb-load at a fixed rate (open loop: latency from when each request
    was due), or as fast as it can for duration s (rate 0): its JSON."""
    fd, out = tempfile.mkstemp(prefix="lb-rate-", suffix=".json")
    os.close(fd)
    how = (["--rate", str(rate), "--requests", str(rate * duration),
            "--max-seconds", str(duration + 30)] if rate else
           ["--requests", "100000000", "--max-seconds", str(duration)])
    r = subprocess.run([os.path.join(build, "tools", "lb-load"), "--url",
                    f"http://127.0.0.1:{port}/home", *how, "--concurrency",
                    "256", "--timeout-ms", "5000", "--quiet", "1",
                    "--json", out],
                   capture_output=True, text=True, timeout=duration + 90)
    if r.returncode not in (0, 3):  # 3: it ran, some requests failed
        sys.exit(f"lb-load failed: {r.stderr}")
    with open(out) as f:
        res = json.load(f)
    os.unlink(out)
    return res


def rates(build, targets, direct, saturation, duration):
    """Latency against rate: each target at RATE_FRACTIONS of HAProxy's
    saturation, and one replica directly at a third of it (what each of
    the three sees behind a proxy): {fraction: {name: result}}."""
    out = {}
    every = dict(targets, **{DIRECT: direct})
    for f in RATE_FRACTIONS:
        rate = max(3, int(saturation * f))
        out[f] = {"rate": rate}
        for n, port in every.items():
            res = open_loop(build, port, rate // 3 if n == DIRECT else rate,
                            duration)
            out[f][n] = {"p50": res["latency_ms"]["p50"],
                         "p99": res["latency_ms"]["p99"],
                         "errors": res["errors"]}
            print(f"rate {rate:6d}/s {n:22s} p50 {out[f][n]['p50']:7.2f} "
                  f"p99 {out[f][n]['p99']:8.2f} ms errors {res['errors']}",
                  flush=True)
    return out


def rates_markdown(curves):
    """Latency each proxy adds over the replica itself, per rate."""
    names = [n for n in curves[RATE_FRACTIONS[0]] if n not in
             ("rate", DIRECT)]
    md = ["", "Open loop (`lb-load --rate`, latency counted from when each "
          "request was due, 256 connections at most; HAProxy's saturation "
          f"with lb-load as the client: {curves['saturation']:,.0f}/s): "
          "p50 / p99 in ms, and "
          "in brackets what each proxy adds over one replica asked "
          "directly at a third of the rate (its share behind a proxy):", "",
          "| rate | " + " | ".join(names) + f" | {DIRECT} |",
          "|" + " --- |" * (len(names) + 2)]
    for f in RATE_FRACTIONS:
        row = curves[f]
        d = row[DIRECT]
        cells = [f"{row[n]['p50']:.2f} / {row[n]['p99']:.2f} "
                 f"({row[n]['p50'] - d['p50']:+.2f} / "
                 f"{row[n]['p99'] - d['p99']:+.2f})" for n in names]
        md.append(f"| {row['rate']:,}/s ({f:.0%} of HAProxy's saturation) "
                  f"| " + " | ".join(cells) +
                  f" | {d['p50']:.2f} / {d['p99']:.2f} |")
    return md


def held(targets):
    out = {}
    for n, port in targets.items():
        out[n] = {}
        for kind in ("partial", "idle"):
            ok, total, slowest = held_clients_case(port, kind)
            out[n][kind] = {"ok": ok, "total": total,
                            "slowest_ms": slowest * 1000}
            print(f"held {kind:8s} {n:14s} {ok}/{total} fresh answered, "
                  f"slowest {slowest * 1000:.0f} ms", flush=True)
            time.sleep(1)  # let the held sockets' close settle
    return out


def chart(med, conns, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("no matplotlib: chart skipped", file=sys.stderr)
        return False
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    for n in med:
        a.plot(conns, [med[n][c]["rps"] for c in conns], marker="o", label=n)
        b.plot(conns, [med[n][c]["p99"] for c in conns], marker="o", label=n)
    for ax, title, unit in ((a, "throughput", "requests/s"),
                            (b, "p99 latency", "ms")):
        ax.set_xscale("log", base=2)
        ax.set_xticks(conns)
        ax.set_xticklabels([str(c) for c in conns])
        ax.set_xlabel("concurrent connections (wrk)")
        ax.set_ylabel(unit)
        ax.set_title(f"/home {title}, medians")
        ax.grid(alpha=0.3)
    b.set_yscale("log")
    a.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return True


def tls_markdown(tls):
    """The HTTPS rows: ours against HAProxy, each terminating TLS."""
    md = ["", "HTTPS (each terminates TLS with the same self-signed P-256 "
          "certificate; wrk negotiates TLS 1.3, AES-256-GCM):", "",
          f"| HTTPS, /home | {OURS} | {HAPROXY} | ratio | p99 ours vs "
          "HAProxy |", "| --- | --- | --- | --- | --- |"]
    for kind, label in (("keepalive", "keep-alive, {c} connections"),
                        ("handshakes", "a new handshake per request, {c} "
                         "connections")):
        for c, o in tls[kind][OURS].items():
            h = tls[kind][HAPROXY][c]
            ratio = o["rps"] / h["rps"] if h["rps"] else float("nan")
            md.append(f"| {label.format(c=c)} | {o['rps']:,.0f}/s | "
                      f"{h['rps']:,.0f}/s | {ratio:.2f}× | {o['p99']:.2f} "
                      f"vs {h['p99']:.2f} ms |")
    return md


def markdown(args, med, conns, held_res, micro, upstream, idle_rss, tls,
             curves):
    cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo"],
                         capture_output=True, text=True).stdout
    cpu = cpu.split(":", 1)[-1].strip() or "unknown"
    md = [f"_`make bench` on {time.strftime('%Y-%m-%d')}: {os.cpu_count()} "
          f"cores ({cpu}), wrk on `/home` for {args.duration} s per run, "
          f"targets alternated, medians of {args.rounds} rounds, everything "
          f"on this one machine (the replicas included)._\n"]
    names = list(med)
    md.append("Requests/s (in brackets: the ratio to HAProxy in the same "
              "run):\n")
    head = "| connections | " + " | ".join(names) + \
        " | p99 ours vs HAProxy |"
    md += [head, "|" + " --- |" * (len(names) + 2)]
    for c in conns:
        o, h = med[OURS][c], med[HAPROXY][c]
        row = [f"{c:,}"]
        for n in names:
            rps = med[n][c]["rps"]
            ratio = f" ({rps / h['rps']:.2f}×)" if h["rps"] and \
                n != HAPROXY else ""
            row.append(f"{rps:,.0f}{ratio}")
        row.append(f"{o['p99']:.2f} vs {h['p99']:.2f} ms")
        md.append("| " + " | ".join(row) + " |")
    md += tls_markdown(tls)
    md += rates_markdown(curves)
    errs = {n: sum(med[n][c]["errors"] for c in conns) for n in names}
    md.append("")
    md.append("Errors (non-2xx, socket errors; medians summed over the "
              "sweep): " + ", ".join(f"{n} {e:.0f}" for n, e in errs.items())
              + ".")
    md += ["", "| 20 fresh requests from 127.0.0.2 while 127.0.0.1 holds "
           "1,000 connections | " + " | ".join(names) + " |",
           "|" + " --- |" * (len(names) + 1)]
    for kind, label in (("partial", "1,000 partial request heads"),
                        ("idle", "1,000 idle keep-alive clients")):
        cells = []
        for n in names:
            h = held_res[n][kind]
            cells.append(f"{h['ok']}/{h['total']}, slowest "
                         f"{h['slowest_ms']:.0f} ms")
        md.append(f"| {label} | " + " | ".join(cells) + " |")
    lk = micro["lookup_ns"]
    md += ["", "| micro benchmark | result |", "| --- | --- |",
           f"| ring lookup, assignment (512 slots), N = 3 | "
           f"{lk['assignment_n3']:.1f} ns |",
           f"| ring lookup, maglev (65,537 slots), N = 1,000 | "
           f"{lk['maglev_n1000']:.1f} ns |"]
    for s in micro["snapshot"]:
        if "note" in s:
            md.append(f"| snapshot, {s['replicas']:,} replicas, "
                      f"{s['slots']:,} slots | {s['note']} |")
        else:
            md.append(f"| snapshot, {s['replicas']:,} replicas, "
                      f"{s['slots']:,} slots ({s['bytes']:,} B) | build "
                      f"{s['build_us']:.0f} µs, apply {s['apply_us']:.0f} µs |")
    pr = micro["propagation"]
    md.append(f"| propagation, publish to ring ready (NNG over TCP loopback) "
              f"| median {pr.get('median_us', 0):.0f} µs, p99 "
              f"{pr.get('p99_us', 0) / 1000:.1f} ms |")
    o, c = upstream["ours"], upstream["libcurl"]
    md.append(f"| one upstream exchange, `/home`, ours (pooled socket, "
              f"http-parser) | {o['cpu_us']:.1f} µs CPU, {o['wall_us']:.1f} "
              f"µs wall |")
    md.append(f"| one upstream exchange, `/home`, libcurl (one reused "
              f"handle) | {c['cpu_us']:.1f} µs CPU, {c['wall_us']:.1f} µs "
              f"wall ({c['cpu_us'] / o['cpu_us']:.1f}× the CPU) |")
    md.append(f"| data plane resident memory, idle (2,048 workers) | "
              f"{idle_rss / 1024:.1f} MB |")
    return "\n".join(md)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--baseline", action="append", default=[],
                    metavar="LABEL=BUILD",
                    help="another build's data plane to measure in the same "
                    "run (say, the previous commit's); repeatable")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--connections", default="1,8,32,256,1024")
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "bench"))
    ap.add_argument("--no-docs", action="store_true",
                    help="leave docs/performance.md as it is")
    args = ap.parse_args()
    conns = [int(c) for c in args.connections.split(",")]
    build = os.path.abspath(args.build)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    tmp = tempfile.mkdtemp(prefix="lb-bench-")
    os.makedirs(args.out, exist_ok=True)
    rig = None
    try:
        rig = Rig(build, args.baseline, tmp)
        time.sleep(1.0)
        idle_rss = rss_kb(rig.dp.pid)
        # The micro benchmarks first: a failure there costs no sweep.
        micro = json.loads(subprocess.run(
            [os.path.join(build, "tools", "lb-microbench")],
            capture_output=True, text=True, check=True).stdout)
        upstream = json.loads(subprocess.run(
            [os.path.join(build, "tools", "lb-upstream-bench"),
             "--port", str(rig.replicas[0]), "--requests", "40000"],
            capture_output=True, text=True, check=True).stdout)
        runs, med = sweep(rig.targets, conns, args.rounds, args.duration)
        tls = {"keepalive": sweep(rig.tls_targets, TLS_CONNS, args.rounds,
                                  args.duration, scheme="https")[1],
               "handshakes": sweep(rig.tls_targets, HANDSHAKE_CONNS,
                                   args.rounds, args.duration,
                                   scheme="https", close=True)[1]}
        sat = open_loop(build, rig.targets[HAPROXY], 0, args.duration)["rps"]
        curves = rates(build, rig.targets, rig.replicas[0], sat,
                       args.duration)
        curves["saturation"] = sat
        held_res = held(rig.targets)
        if rig.replica_ports() != rig.replicas:
            sys.exit("a replica was replaced during the run: HAProxy's and "
                     "nginx's figures after it are not comparable")
    finally:
        if rig:
            rig.stop()
    chart(med, conns, os.path.join(args.out, "sweep.png"))
    text = markdown(args, med, conns, held_res, micro, upstream, idle_rss,
                    tls, curves)
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write(text + "\n")
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({"runs": runs, "medians": med, "tls": tls,
                   "rates": curves,
                   "held": held_res,
                   "micro": micro, "upstream": upstream,
                   "idle_rss_kb": idle_rss}, f, indent=1)
    if not args.no_docs:
        doc = os.path.join(ROOT, "docs", "performance.md")
        with open(doc) as f:
            r = f.read()
        b, e = "<!-- bench:begin -->", "<!-- bench:end -->"
        if b in r and e in r:
            head, rest = r.split(b, 1)
            with open(doc, "w") as f:
                f.write(head + b + "\n" + text + "\n" + e +
                        rest.split(e, 1)[1])
        else:
            print("bench: docs/performance.md has no bench markers; "
                  "not updated")
    print("\n" + text)


if __name__ == "__main__":
    sys.exit(main())
