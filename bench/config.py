#!/usr/bin/env python3
"""The router's configuration paths, side by side with nginx: how fast a dynamic
configuration file change is in service, and how fast a static configuration with many entry
points starts.

    config.py --router BIN --nginx BIN --tmp DIR [--runs 20] [--entrypoints 20] [--poll-ms 2]

1. File change. The router runs with `--providers.file.filename=F` (watched) and one entry
   point; nginx runs with one server block per host. Each run adds a router for a new host
   (`Host(`nN.test`)` -> `noop@internal`) by writing F whole through a rename, and, from the
   rename, asks for that host every POLL_MS on a fresh connection until it answers 200. The
   same for nginx: its configuration gets a `server` for the new host, then `nginx -s reload`
   (from the rename, as the router's time is). The time is from the rename to the first 200.
2. Start-up. The router starts with ENTRYPOINTS entry points given as flags
   (`--entrypoints.eN.address=127.0.0.1:PORT`) and nothing else; nginx with as many `listen`
   servers. The time is from the process's start (fork and exec included) to the moment every
   port answers an HTTP request (any status: the router's empty table answers 404), polled
   every POLL_MS; then the process is stopped. Repeated RUNS times.

Prints JSON on stdout: every run's time and the median, p90 and maximum of each.
"""

import argparse
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time


def status(port, host, timeout=0.5):
    """The status code 127.0.0.1:PORT answers for GET / with Host: host, or None."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
            head = s.recv(64)
        return int(head.split(b" ", 2)[1])
    except (OSError, ValueError, IndexError):
        return None


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def write_atomically(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


def wait_status(port, host, want, poll, bound):
    """Seconds until PORT answers WANT for HOST (polled), or None after BOUND seconds."""
    start = time.monotonic()
    while time.monotonic() - start < bound:
        if status(port, host) == want:
            return time.monotonic() - start
        time.sleep(poll)
    return None


def summary(times):
    ms = sorted(t * 1000 for t in times)
    return {
        "runs": len(ms),
        "median_ms": round(statistics.median(ms), 1),
        "p90_ms": round(ms[min(len(ms) - 1, int(len(ms) * 0.9))], 1),
        "max_ms": round(ms[-1], 1),
        "all_ms": [round(t, 1) for t in ms],
    }


def stop(p):
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


ROUTER_ENV = {"PATH": os.environ.get("PATH", ""), "LOG_LEVEL": "error"}


def file_router(n):
    routers = "".join(
        f"    n{i}:\n      rule: Host(`n{i}.test`)\n      service: noop@internal\n"
        for i in range(n)
    )
    return "http:\n  routers:\n" + routers if routers else "http: {}\n"


def nginx_http(tmp, name, servers):
    """An nginx configuration (one worker, as the router has one process) with SERVERS."""
    return (f"daemon off;\npid {tmp}/nginx-{name}.pid;\n"
            f"error_log {tmp}/nginx-{name}-error.log warn;\nworker_processes 1;\n"
            "events { worker_connections 256; }\nhttp {\n  access_log off;\n"
            + servers + "}\n")


def nginx_conf(tmp, port, n):
    servers = f"  server {{ listen 127.0.0.1:{port} default_server; return 404; }}\n" + "".join(
        f"  server {{ listen 127.0.0.1:{port}; server_name n{i}.test; return 200; }}\n"
        for i in range(n)
    )
    return nginx_http(tmp, "config", servers)


def file_change(args):
    (port, nport) = free_ports(2)
    dyn = os.path.join(args.tmp, "dynamic.yml")
    write_atomically(dyn, file_router(0))
    router = subprocess.Popen(
        [args.router, f"--entrypoints.web.address=127.0.0.1:{port}",
         f"--providers.file.filename={dyn}"],
        env=ROUTER_ENV, stdout=subprocess.DEVNULL, stderr=open(os.path.join(args.tmp, "config-router.err"), "w"))
    conf = os.path.join(args.tmp, "nginx-config.conf")
    write_atomically(conf, nginx_conf(args.tmp, nport, 0))
    nginx = subprocess.Popen([args.nginx, "-p", args.tmp, "-c", conf],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if wait_status(port, "x.test", 404, 0.01, 10) is None:
            sys.exit("the router does not answer")
        if wait_status(nport, "x.test", 404, 0.01, 10) is None:
            sys.exit("nginx does not answer")
        out = {"router": [], "nginx": []}
        for i in range(1, args.runs + 1):
            start = time.monotonic()
            write_atomically(dyn, file_router(i))
            t = wait_status(port, f"n{i - 1}.test", 200, args.poll, 5)
            if t is None:
                sys.exit(f"run {i}: the router did not serve n{i - 1}.test within 5 s")
            out["router"].append(time.monotonic() - start)
            start = time.monotonic()
            write_atomically(conf, nginx_conf(args.tmp, nport, i))
            subprocess.run([args.nginx, "-p", args.tmp, "-c", conf, "-s", "reload"],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            t = wait_status(nport, f"n{i - 1}.test", 200, args.poll, 5)
            if t is None:
                sys.exit(f"run {i}: nginx did not serve n{i - 1}.test within 5 s")
            out["nginx"].append(time.monotonic() - start)
            # A random pause, so runs do not lock onto the router's polling phase.
            time.sleep(0.3 + random.random() * 0.25)
        return {k: summary(v) for k, v in out.items()}
    finally:
        stop(router)
        stop(nginx)


def all_answer(ports, poll, bound):
    start = time.monotonic()
    pending = list(ports)
    while pending and time.monotonic() - start < bound:
        pending = [p for p in pending if status(p, "x.test", timeout=0.2) is None]
        if pending:
            time.sleep(poll)
    return not pending


def startup(args):
    out = {"router": [], "nginx": []}
    for run in range(args.runs):
        ports = free_ports(args.entrypoints)
        flags = [f"--entrypoints.e{i}.address=127.0.0.1:{p}" for i, p in enumerate(ports)]
        start = time.monotonic()
        p = subprocess.Popen([args.router, *flags], env=ROUTER_ENV,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ok = all_answer(ports, args.poll, 10)
        elapsed = time.monotonic() - start
        stop(p)
        if not ok:
            sys.exit(f"run {run}: the router's {args.entrypoints} entry points did not all answer")
        out["router"].append(elapsed)

        ports = free_ports(args.entrypoints)
        conf = os.path.join(args.tmp, "nginx-start.conf")
        servers = "".join(f"  server {{ listen 127.0.0.1:{p}; return 404; }}\n" for p in ports)
        write_atomically(conf, nginx_http(args.tmp, "start", servers))
        start = time.monotonic()
        p = subprocess.Popen([args.nginx, "-p", args.tmp, "-c", conf],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ok = all_answer(ports, args.poll, 10)
        elapsed = time.monotonic() - start
        stop(p)
        if not ok:
            sys.exit(f"run {run}: nginx's {args.entrypoints} servers did not all answer")
        out["nginx"].append(elapsed)
    return {k: summary(v) for k, v in out.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--router", required=True)
    ap.add_argument("--nginx", required=True)
    ap.add_argument("--tmp", required=True)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--entrypoints", type=int, default=20)
    ap.add_argument("--poll-ms", type=float, default=2)
    args = ap.parse_args()
    args.poll = args.poll_ms / 1000
    result = {"file_change": file_change(args), "startup": startup(args),
              "entrypoints": args.entrypoints}
    json.dump(result, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
