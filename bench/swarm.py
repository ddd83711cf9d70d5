#!/usr/bin/env python3
"""swarm.yaml on the three-node cluster (scripts/cluster.sh), deployed by bench/swarm.sh:
what a steady HTTPS client to the router on worker 2 sees while the cluster changes.

    swarm.py --manager unix:///var/lib/sg-cluster/n1/docker.sock --router 192.168.213.12
             --dir DIR [--rounds 5]

1. Scale-up to first 200: ROUNDS times, whoami goes from 2 to 3 replicas (then back); from the
   `docker service scale` command, the time until the new task runs (its Status.Timestamp, the
   manager's clock, which is this host's) and until the client gets its first 200 from it (its
   hostname is new).
2. Rolling updates: ROUNDS `docker service update --force` in the default (stop-first) order and
   ROUNDS in start-first order; each one's client errors and its slowest answer.
3. A worker lost: whoami scaled to 4 (2 on each worker), then scripts/cluster.sh lose 3
   (daemon, tasks and link gone at once): errors and the slowest answer until Swarm has whoami
   whole again on worker 2, and how long that took.

Prints JSON on stdout. The client (swarm_client.py) runs in the cluster's switch namespace,
one request every 20 ms on a new connection, a 30 s timeout.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import datetime

STACK = "edge"
SERVICE = f"{STACK}_whoami"
HERE = os.path.dirname(os.path.abspath(__file__))


def docker(manager, *args, timeout=300):
    out = subprocess.run(["docker", "-H", manager, *args], capture_output=True, text=True,
                         timeout=timeout)
    if out.returncode != 0:
        sys.exit(f"docker {' '.join(args)}: {out.stderr.strip()}")
    return out.stdout.strip()


def parse_time(rfc3339):
    """Docker's RFC 3339 time with nanoseconds -> seconds since the epoch."""
    whole, _, frac = rfc3339.rstrip("Z").partition(".")
    base = datetime.fromisoformat(whole + "+00:00").timestamp()
    return base + (float("0." + frac) if frac else 0.0)


class Client:
    """The steady client's log: (start, seconds, status, hostname-or-error)."""

    def __init__(self, router, d):
        self.log_path = os.path.join(d, "client.log")
        self.stop = os.path.join(d, "client.stop")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", "sgc-sw", "python3", os.path.join(HERE, "swarm_client.py"),
             router, "whoami.localhost", self.stop], stdout=self.log)

    def lines(self, since=0.0):
        out = []
        with open(self.log_path) as f:
            for line in f:
                p = line.split()
                if len(p) == 4 and float(p[0]) >= since:
                    out.append((float(p[0]), float(p[1]), int(p[2]), p[3]))
        return out

    def close(self):
        open(self.stop, "w").close()
        self.proc.wait(timeout=60)
        self.log.close()


def running_tasks(manager):
    ids = docker(manager, "service", "ps", SERVICE, "-q", "--filter", "desired-state=running")
    out = {}
    for tid in ids.split():
        st = json.loads(docker(manager, "inspect", "-f", "{{json .Status}}", tid))
        cid = (st.get("ContainerStatus") or {}).get("ContainerID", "")
        if st.get("State") == "running" and cid:
            out[cid[:12]] = parse_time(st["Timestamp"])
    return out


def wait_replicas(manager, n, bound=120):
    end = time.time() + bound
    while len(running_tasks(manager)) != n:
        if time.time() > end:
            sys.exit(f"{SERVICE} did not reach {n} running tasks within {bound}s")
        time.sleep(0.5)


def scale_rounds(manager, client, rounds):
    out = []
    for _ in range(rounds):
        wait_replicas(manager, 2)
        time.sleep(2)
        before = set(running_tasks(manager))
        t0 = time.time()
        docker(manager, "service", "scale", "--detach", f"{SERVICE}=3")
        first = None
        while first is None and time.time() < t0 + 120:
            for start, took, status, name in client.lines(t0):
                if status == 200 and name not in before and name != "-":
                    first = (start + took, name)
                    break
            time.sleep(0.05)
        if first is None:
            sys.exit("no 200 from the new task within 120 s")
        running = running_tasks(manager).get(first[1])
        out.append({"to_running": running - t0 if running else None,
                    "to_first_200": first[0] - t0,
                    "running_to_first_200": first[0] - running if running else None})
        docker(manager, "service", "scale", "--detach", f"{SERVICE}=2")
    return out


def errors_between(client, t0, t1):
    got = [x for x in client.lines(t0) if x[0] <= t1]
    errs = [x for x in got if x[2] != 200]
    return {"requests": len(got), "errors": len(errs),
            "slowest_s": round(max((x[1] for x in got), default=0.0), 3),
            "over_1s": sum(1 for x in got if x[1] > 1.0),
            "error_samples": [f"{x[2]} {x[3]}" for x in errs[:5]]}


def update_rounds(manager, client, rounds, order):
    out = []
    for _ in range(rounds):
        t0 = time.time()
        docker(manager, "service", "update", "--force", "--detach=false", "--no-resolve-image",
               "--update-monitor", "1s", "--update-order", order, SERVICE)
        time.sleep(2)
        out.append(errors_between(client, t0, time.time()))
    return out


def on_nodes(manager):
    tasks = docker(manager, "service", "ps", SERVICE, "--filter", "desired-state=running",
                   "--format", "{{.Node}} {{.CurrentState}}").splitlines()
    return [t.split()[0] for t in tasks if " Running " in f"{t} "]


def node_loss(manager, client, replicas=4):
    # Replicas on both workers first (the scheduler spreads a service's tasks over nodes).
    docker(manager, "service", "scale", "--detach=false", f"{SERVICE}={replicas}")
    end = time.time() + 120
    while sorted(set(on_nodes(manager))) != ["sgc-node2", "sgc-node3"] or len(on_nodes(manager)) != replicas:
        if time.time() > end:
            sys.exit(f"{SERVICE} is not on both workers: {on_nodes(manager)}")
        time.sleep(0.5)
    on_lost = on_nodes(manager).count("sgc-node3")
    time.sleep(3)
    t0 = time.time()
    subprocess.run([os.path.join(HERE, "..", "scripts", "cluster.sh"), "lose", "3"], check=True)
    end = t0 + 180
    while True:
        nodes = on_nodes(manager)
        if len(nodes) == replicas and all(n == "sgc-node2" for n in nodes):
            break
        if time.time() > end:
            sys.exit("whoami was not whole on worker 2 within 180 s of worker 3's loss")
        time.sleep(0.5)
    whole = time.time() - t0
    time.sleep(3)
    r = errors_between(client, t0, time.time())
    r["whole_again_s"] = round(whole, 1)
    r["replicas_lost"] = on_lost
    r["replicas"] = replicas
    return r


def summary(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": round(statistics.median(values), 3), "max": round(max(values), 3),
            "min": round(min(values), 3)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--manager", required=True)
    ap.add_argument("--router", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    client = Client(a.router, a.dir)
    try:
        time.sleep(3)
        scale = scale_rounds(a.manager, client, a.rounds)
        wait_replicas(a.manager, 2)
        stop_first = update_rounds(a.manager, client, a.rounds, "stop-first")
        start_first = update_rounds(a.manager, client, a.rounds, "start-first")
        loss = node_loss(a.manager, client)
        overall = errors_between(client, 0, time.time())
    finally:
        client.close()
    json.dump({
        "rounds": a.rounds,
        "scale_up": {"runs": scale,
                     "to_running": summary([r["to_running"] for r in scale]),
                     "to_first_200": summary([r["to_first_200"] for r in scale]),
                     "running_to_first_200": summary([r["running_to_first_200"] for r in scale])},
        "update_stop_first": stop_first,
        "update_start_first": start_first,
        "node_loss": loss,
        "overall": overall,
    }, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    sys.exit(main())
