#!/usr/bin/python3
"""make soak: 1,000 concurrent keep-alive clients for 30 s through the load
balancer (local processes); passes when no client saw an error and the data
plane's memory stayed flat.  Bounded in time (--seconds) and count."""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lbtools import ROOT, free_port, rss_kb, wait_http  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--clients", type=int, default=1000)
    ap.add_argument("--seconds", type=int, default=30)
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    tmp = tempfile.mkdtemp(prefix="lb-soak-")
    log = open(os.path.join(tmp, "soak.log"), "ab")
    env = dict(os.environ, LB_CTL_URL=f"tcp://127.0.0.1:{free_port()}",
               LB_PUB_URL=f"tcp://127.0.0.1:{free_port()}",
               LB_PAGES_LISTEN="", LB_METRICS_LISTEN="",
               LB_LOG_LEVEL="warn", LB_STATE_DIR=tmp, LB_INSTANCE="soak",
               LB_PRESET="maglev")
    port = free_port()
    procs = [subprocess.Popen([os.path.join(build, "controlplane",
                                            "lb-controlplane")],
                              env=env, stdout=log, stderr=log)]
    dp = subprocess.Popen([os.path.join(build, "dataplane", "lb-dataplane")],
                          env=dict(env, LB_PORT=str(port),
                                   LB_THREADS=str(args.clients + 64)),
                          stdout=log, stderr=log)
    procs.append(dp)
    samples = []
    try:
        wait_http(f"http://127.0.0.1:{port}/home")
        stop = threading.Event()

        def sample():
            while not stop.wait(1.0):
                samples.append(rss_kb(dp.pid))
        t = threading.Thread(target=sample)
        t.start()
        out = os.path.join(tmp, "load.json")
        subprocess.run([os.path.join(build, "tools", "lb-load"),
                        "--url", f"http://127.0.0.1:{port}/home",
                        "--requests", "100000000", "--concurrency",
                        str(args.clients), "--max-seconds",
                        str(args.seconds), "--quiet", "1", "--json", out],
                       timeout=args.seconds + 60)
        stop.set()
        t.join()
        with open(out) as f:
            res = json.load(f)
    finally:
        for p in reversed(procs):
            p.send_signal(signal.SIGTERM)
            p.wait(15)
    warm = samples[len(samples) // 4:] or samples
    growth = (max(warm) - min(warm)) / 1024 if warm else 0.0
    print(f"{args.clients} clients for {res['seconds']:.0f} s: "
          f"{res['requests']:,} requests, {res['errors']} errors, "
          f"{res['rps']:,.0f} req/s, p99 {res['latency_ms']['p99']:.1f} ms")
    print(f"data plane memory (MB): start {samples[0] / 1024:.1f}, "
          f"end {samples[-1] / 1024:.1f}, max {max(samples) / 1024:.1f}; "
          f"after warm-up it moved by {growth:.1f} MB")
    ok = res["errors"] == 0 and growth < 16
    print("soak: " + ("passed" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
