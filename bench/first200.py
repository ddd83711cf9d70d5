#!/usr/bin/env python3
"""Time from `docker run -d` of a new labelled whoami to its first 200 through the router.

    first200.py --router 127.0.0.1:PORT --network NET --prefix sg-bench-PID-lat [--runs 10]
                [--image whoami:local] [--timeout 10] [--poll-ms 5]

Each run starts a container named PREFIX-N on NET, labelled traefik.enable=true and
traefik.http.routers.latN.rule=Host(`latN-<pid>.test`) (a new name every run, so an earlier
container's route cannot answer), and from the moment `docker run -d` is started asks the router
for that host every POLL_MS on a fresh connection until it answers 200 (or TIMEOUT seconds
pass). It records when `docker run -d` returned (the daemon created and started the container),
when the first 200 came, and when the daemon says the container started (`State.StartedAt`,
on this host's clock, as `time.time()`), then removes the container and waits for its route to
go before the next run. Prints JSON on stdout: one entry per run and the medians and maxima.
"""

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone


def status(addr, host, timeout=0.5):
    """The status code the router answers for GET / with Host: host, or None."""
    h, p = addr.rsplit(":", 1)
    try:
        with socket.create_connection((h, int(p)), timeout=timeout) as s:
            s.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
            head = s.recv(64)
        return int(head.split(b" ", 2)[1])
    except (OSError, ValueError, IndexError):
        return None


def started_at(name):
    """The container's State.StartedAt as seconds since the epoch, or None."""
    try:
        out = subprocess.run(["docker", "inspect", "-f", "{{.State.StartedAt}}", name],
                             capture_output=True, text=True, timeout=30, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    # RFC 3339 with nanoseconds: keep microseconds for fromisoformat.
    if not out.endswith("Z") or "." not in out:
        return None
    whole, frac = out[:-1].split(".", 1)
    try:
        t = datetime.fromisoformat(f"{whole}.{frac[:6].ljust(6, '0')}").replace(tzinfo=timezone.utc)
    except ValueError:
        return None
    return t.timestamp()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--router", required=True)
    ap.add_argument("--network", required=True)
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--image", default="whoami:local")
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("--poll-ms", type=float, default=5.0)
    a = ap.parse_args()

    runs = []
    for n in range(a.runs):
        name = f"{a.prefix}-{n}"
        host = f"lat{n}-{os.getpid()}.test"
        cmd = ["docker", "run", "-d", "--name", name, "--network", a.network,
               "-l", "traefik.enable=true",
               "-l", f"traefik.http.routers.lat{n}.rule=Host(`{host}`)", a.image]
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        run_returned = None
        first_200 = None
        first_200_wall = None
        seen = {}
        polls = 0
        deadline = t0 + a.timeout
        while time.monotonic() < deadline:
            if run_returned is None and proc.poll() is not None:
                run_returned = time.monotonic() - t0
                if proc.returncode != 0:
                    break
            code = status(a.router, host)
            polls += 1
            seen[str(code)] = seen.get(str(code), 0) + 1
            if code == 200:
                first_200 = time.monotonic() - t0
                first_200_wall = time.time()
                break
            time.sleep(a.poll_ms / 1000)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        if run_returned is None:
            run_returned = time.monotonic() - t0
        err = proc.stderr.read().decode(errors="replace").strip() if proc.stderr else ""
        started = started_at(name)
        after_start = (None if first_200_wall is None or started is None
                       else round((first_200_wall - started) * 1000, 1))
        runs.append({
            "run": n,
            "ms_to_200": None if first_200 is None else round(first_200 * 1000, 1),
            "ms_docker_run_returned": round(run_returned * 1000, 1),
            "ms_after_docker_run": None if first_200 is None else round((first_200 - run_returned) * 1000, 1),
            "ms_after_start": after_start,
            "polls": polls,
            "answers_seen": seen,
            **({"docker_error": err} if proc.returncode else {}),
        })
        print(f"[first200] run {n}: first 200 after {runs[-1]['ms_to_200']} ms "
              f"(docker run -d returned after {runs[-1]['ms_docker_run_returned']} ms)", file=sys.stderr)
        subprocess.run(["docker", "rm", "-f", name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=60, check=False)
        # Let the removal reach the router before the next run (bounded).
        end = time.monotonic() + 5
        while time.monotonic() < end and status(a.router, host) == 200:
            time.sleep(0.05)
        time.sleep(0.3)

    ok = [r["ms_to_200"] for r in runs if r["ms_to_200"] is not None]
    after = [r["ms_after_docker_run"] for r in runs if r["ms_after_docker_run"] is not None]
    dock = [r["ms_docker_run_returned"] for r in runs]
    since_start = [r["ms_after_start"] for r in runs if r["ms_after_start"] is not None]
    out = {
        "runs_wanted": a.runs,
        "runs_ok": len(ok),
        "poll_ms": a.poll_ms,
        "median_ms": statistics.median(ok) if ok else None,
        "max_ms": max(ok) if ok else None,
        "min_ms": min(ok) if ok else None,
        "median_docker_run_ms": statistics.median(dock) if dock else None,
        "median_after_docker_run_ms": statistics.median(after) if after else None,
        "max_after_docker_run_ms": max(after) if after else None,
        "runs_with_start": len(since_start),
        "median_after_start_ms": statistics.median(since_start) if since_start else None,
        "max_after_start_ms": max(since_start) if since_start else None,
        "runs": runs,
    }
    json.dump(out, sys.stdout, indent=1)
    print()
    return 0 if len(ok) == a.runs else 1


if __name__ == "__main__":
    sys.exit(main())
