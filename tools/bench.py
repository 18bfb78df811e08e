#!/usr/bin/python3
"""make bench: our data plane against HAProxy and nginx, on the same three
replicas, in one run.

Starts a control plane (process driver, `maglev` preset so that every proxy
spreads evenly) with three replicas, our data plane, HAProxy and nginx from
bench/*.in (consistent hashing of a random key, upstream keep-alive), and
runs wrk against each and against one replica directly, several rounds in a
rotating order.  Prints a table of medians (requests/s, p50, p99, ratio to
HAProxy), runs lb-microbench, measures the idle data plane's memory, and
writes docs/bench/results.md and the README's performance tables.

Bounded: every wrk run lasts --duration seconds; nothing else loops.
"""
import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lbtools import ROOT, free_port, rss_kb, wait_http  # noqa: E402

def render(template, out, **values):
    with open(os.path.join(ROOT, "bench", template)) as f:
        text = f.read()
    for k, v in values.items():
        text = text.replace(f"@{k}@", str(v))
    with open(out, "w") as f:
        f.write(text)
    return out

def wrk(port, duration, connections, threads):
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s",
         "--latency", f"http://127.0.0.1:{port}/home"],
        capture_output=True, text=True, timeout=duration + 30).stdout

    def ms(label):
        m = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not m:
            return float("nan")
        v = float(m.group(1))
        return {"us": v / 1000, "ms": v, "s": v * 1000}[m.group(2)]
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: (.*)", out)
    return {"rps": float(rps.group(1)) if rps else 0.0,
            "p50": ms("50%"), "p99": ms("99%"),
            "non2xx": int(errors.group(1)) if errors else 0,
            "socket_errors": sock.group(1) if sock else ""}

def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "bench"))
    ap.add_argument("--baseline", help="another build's data plane to "
                    "measure in the same run (say, the previous commit's), "
                    "following the same control plane")
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    tmp = tempfile.mkdtemp(prefix="lb-bench-")
    os.makedirs(args.out, exist_ok=True)
    procs = []
    log = open(os.path.join(tmp, "bench.log"), "ab")

    def spawn(argv, env=None):
        p = subprocess.Popen(argv, env=dict(os.environ, **(env or {})),
                             stdout=log, stderr=log)
        procs.append(p)
        return p

    try:
        admin = f"tcp://127.0.0.1:{free_port()}"
        pub = f"tcp://127.0.0.1:{free_port()}"
        common = {"LB_ADMIN_URL": admin, "LB_PUB_URL": pub,
                  "LB_LOG_LEVEL": "warn"}
        spawn([os.path.join(build, "controlplane", "lb-controlplane")],
              dict(common, LB_PRESET="maglev", LB_REPLICAS="3",
                   LB_STATE_DIR=tmp, LB_INSTANCE="bench"))
        ours = free_port()
        dp = spawn([os.path.join(build, "dataplane", "lb-dataplane")],
                   dict(common, LB_PORT=str(ours)))
        wait_http(f"http://127.0.0.1:{ours}/home")
        base_port = None
        if args.baseline:
            base_port = free_port()
            spawn([os.path.join(os.path.abspath(args.baseline), "dataplane",
                                "lb-dataplane")],
                  dict(common, LB_PORT=str(base_port)))
            wait_http(f"http://127.0.0.1:{base_port}/home")
        time.sleep(1.0)
        idle_rss = rss_kb(dp.pid)
        with open(os.path.join(tmp, "bench.json")) as f:
            ports = [r["port"] for r in json.load(f)["replicas"]]
        hap = free_port()
        spawn(["haproxy", "-db", "-f",
               render("haproxy.cfg.in", os.path.join(tmp, "haproxy.cfg"),
                      PORT=hap, S1=ports[0], S2=ports[1], S3=ports[2])])
        ngx = free_port()
        spawn(["nginx", "-c",
               render("nginx.conf.in", os.path.join(tmp, "nginx.conf"),
                      PORT=ngx, S1=ports[0], S2=ports[1], S3=ports[2],
                      DIR=tmp), "-g", "daemon off;"])
        targets = {"lb (ours)": ours, "HAProxy": hap, "nginx": ngx,
                   "direct (1 replica)": ports[0]}
        if base_port:
            targets["lb (baseline)"] = base_port
        for name, port in targets.items():
            wait_http(f"http://127.0.0.1:{port}/home")
            wrk(port, 1, args.connections, args.threads)  # warm-up
        runs = {name: [] for name in targets}
        names = list(targets)
        for r in range(args.rounds):
            order = names[r % len(names):] + names[:r % len(names)]
            for name in order:
                res = wrk(targets[name], args.duration, args.connections,
                          args.threads)
                runs[name].append(res)
                print(f"round {r + 1} {name:20s} {res['rps']:9.0f} req/s  "
                      f"p50 {res['p50']:.2f} ms  p99 {res['p99']:.2f} ms",
                      flush=True)
        micro = json.loads(subprocess.run(
            [os.path.join(build, "tools", "lb-microbench")],
            capture_output=True, text=True, check=True).stdout)
        upstream = json.loads(subprocess.run(
            [os.path.join(build, "tools", "lb-upstream-bench"),
             "--port", str(ports[0]), "--requests", "40000"],
            capture_output=True, text=True, check=True).stdout)
    finally:
        for p in reversed(procs):
            p.send_signal(signal.SIGTERM)
        for p in reversed(procs):
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()

    med = {n: {k: statistics.median(x[k] for x in v)
               for k in ("rps", "p50", "p99")} for n, v in runs.items()}
    base = med["HAProxy"]["rps"]
    cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo"],
                         capture_output=True, text=True).stdout
    cpu = cpu.split(":", 1)[-1].strip() or "unknown"
    md = [f"_`make bench` on {time.strftime('%Y-%m-%d')}: {os.cpu_count()} "
          f"cores ({cpu}), wrk -t{args.threads} -c{args.connections} "
          f"-d{args.duration}s on `/home`, medians of {args.rounds} rounds, "
          f"everything on this one machine._\n",
          "| target | requests/s | p50 | p99 | vs HAProxy |",
          "| --- | --- | --- | --- | --- |"]
    for n in targets:
        m = med[n]
        md.append(f"| {n} | {m['rps']:,.0f} | {m['p50']:.2f} ms | "
                  f"{m['p99']:.2f} ms | {m['rps'] / base:.2f}× |")
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
    md.append(f"| data plane resident memory, idle | {idle_rss / 1024:.1f} MB |")
    o, c = upstream["ours"], upstream["libcurl"]
    md.append(f"| one upstream exchange, `/home`, ours (pooled socket, "
              f"http-parser) | {o['cpu_us']:.1f} µs CPU, {o['wall_us']:.1f} "
              f"µs wall |")
    md.append(f"| one upstream exchange, `/home`, libcurl (one reused "
              f"handle) | {c['cpu_us']:.1f} µs CPU, {c['wall_us']:.1f} µs "
              f"wall ({c['cpu_us'] / o['cpu_us']:.1f}× the CPU) |")
    text = "\n".join(md)
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write(text + "\n")
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({"runs": runs, "medians": med, "micro": micro,
                   "upstream": upstream, "idle_rss_kb": idle_rss}, f,
                  indent=1)
    readme = os.path.join(ROOT, "README.md")
    with open(readme) as f:
        r = f.read()
    b, e = "<!-- bench:begin -->", "<!-- bench:end -->"
    if b in r and e in r:
        head, rest = r.split(b, 1)
        with open(readme, "w") as f:
            f.write(head + b + "\n" + text + "\n" + e + rest.split(e, 1)[1])
    print("\n" + text)

if __name__ == "__main__":
    sys.exit(main())
