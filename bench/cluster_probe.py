#!/usr/bin/env python3
"""Probes for bench/cluster.sh: when routers first answer 200 for a new host.

    cluster_probe.py first200 --targets NAME=HOST:PORT,... --network NET --prefix P [--runs 10]
    cluster_probe.py publish --targets NAME=HOST:PORT,... --file F [--rounds 10]

first200: each run starts a whoami container labelled with a new Host rule (`docker run -d`,
from the moment the command starts) and polls every target on its own thread, a fresh
connection every 5 ms, until each answers 200; then removes the container. publish: each
round appends one router for a new host to the dynamic configuration file F (written to a
temporary file and renamed, as an editor or a config tool does) and times until every target
answers 200 for it. Prints JSON: per target, every run's seconds and the median and maximum.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time

from first200 import status


def until_200(targets, host, t0, bound=30.0):
    """Seconds from t0 until each target answered 200 for host (None: not within bound)."""
    got = {}

    def poll(name, addr):
        while time.time() < t0 + bound:
            if status(addr, host) == 200:
                got[name] = time.time() - t0
                return
            time.sleep(0.005)

    threads = [threading.Thread(target=poll, args=(n, a)) for n, a in targets.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {n: got.get(n) for n in targets}


def summary(runs):
    out = {}
    for name in runs[0]:
        values = [r[name] for r in runs]
        ok = [v for v in values if v is not None]
        out[name] = {"runs": [None if v is None else round(v, 4) for v in values],
                     "median": round(statistics.median(ok), 4) if ok else None,
                     "max": round(max(ok), 4) if ok else None,
                     "missed": len(values) - len(ok)}
    return out


def first200(a, targets):
    runs = []
    for i in range(a.runs):
        name = f"{a.prefix}-lat{i}"
        host = f"lat{i}-{os.getpid()}.test"
        t0 = time.time()
        subprocess.Popen(["docker", "run", "-d", "--name", name, "--network", a.network,
                          "-l", "traefik.enable=true",
                          "-l", f"traefik.http.routers.lat{i}.rule=Host(`{host}`)",
                          "whoami:local"], stdout=subprocess.DEVNULL)
        runs.append(until_200(targets, host, t0))
        subprocess.run(["docker", "rm", "-f", name], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=60)
        time.sleep(1)
    return summary(runs)


def publish(a, targets):
    runs = []
    with open(a.file) as f:
        base = f.read()
    added = ""
    for i in range(a.rounds):
        host = f"pub{i}-{os.getpid()}.test"
        added += (f"    pub{i}:\n      rule: Host(`{host}`)\n      service: pub\n")
        text = base.replace("  routers:\n", "  routers:\n" + added, 1)
        tmp = a.file + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        t0 = time.time()
        os.replace(tmp, a.file)
        runs.append(until_200(targets, host, t0))
        time.sleep(0.5)
    return summary(runs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["first200", "publish"])
    ap.add_argument("--targets", required=True)
    ap.add_argument("--network")
    ap.add_argument("--prefix")
    ap.add_argument("--file")
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=10)
    a = ap.parse_args()
    targets = dict(t.split("=", 1) for t in a.targets.split(","))
    out = first200(a, targets) if a.mode == "first200" else publish(a, targets)
    json.dump(out, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    sys.exit(main())
