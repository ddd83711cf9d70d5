#!/usr/bin/env python3
"""Docker discovery at scale: the router's Docker provider against a stand-in Docker API.

The stand-in serves what the router reads (`/_ping`, `/version`, `/containers/json` with the
`id` filter, `/events` streamed one event per chunk as dockerd flushes them) for N containers
of a realistic mix (`Host`, `Host && PathPrefix` with a `headers` middleware, `HostRegexp`,
`PathPrefix` alone, one in four each: the shapes of `router/examples/shapes`), every one
routed to the same backend. For each N it starts the router (its own process, a static
configuration whose Docker endpoint is the stand-in), waits until the last container of each
shape answers 200, then measures:

- event to first 200: a new container's `start` event sent, its host asked for every half
  millisecond until it answers 200 (repeated, p50 and max);
- CPU per event: the router's CPU time (the sum of its threads' `schedstat`, nanoseconds)
  over a series of `start` events 400 ms apart, less its CPU over as long without events;
- three storms: 200 containers started at once (200 events back to back): the time from the
  last event until every one of them answers 200 (the median of the three and each), and the p99 of a steady load (500 requests a
  second from another process) on an existing route during the storm against the same load
  without it;
- the router's RSS at rest.

    bench/discovery.py ROUTER_BIN BACKEND_PORT [--sizes 10,1000,10000] [--events 20]

Prints one JSON object per N on stdout (bench/discovery.sh turns them into the report).
"""

import argparse
import asyncio
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

API = "1.45"


def container(i, port, prefix="c"):
    """The list entry of container `i` (the daemon's `GET /containers/json` shape)."""
    name = f"{prefix}{i}"
    shape = i % 4
    if shape == 0:
        rule = f"Host(`{name}.example.com`)"
    elif shape == 1:
        rule = f"Host(`{name}.example.com`) && PathPrefix(`/api`)"
    elif shape == 2:
        rule = f"HostRegexp(`^{name}\\.[a-z]+\\.example\\.com$`)"
    else:
        rule = f"PathPrefix(`/{name}/`)"
    labels = {
        "traefik.enable": "true",
        f"traefik.http.routers.{name}.rule": rule,
        f"traefik.http.services.{name}.loadbalancer.server.port": str(port),
        "com.docker.compose.project": "bench",
    }
    if shape == 1:
        labels[f"traefik.http.middlewares.{name}-h.headers.customrequestheaders.X-Bench"] = "1"
        labels[f"traefik.http.routers.{name}.middlewares"] = f"{name}-h"
    cid = f"{prefix}{i:x}".encode().hex().ljust(64, "0")[:64]
    return cid, {
        "Id": cid,
        "Names": [f"/{name}"],
        "Image": "whoami:local",
        "ImageID": "sha256:" + "0" * 64,
        "Command": "/whoami",
        "Created": 1700000000,
        "Ports": [{"PrivatePort": port, "Type": "tcp"}],
        "Labels": labels,
        "State": "running",
        "Status": "Up 5 minutes",
        "HostConfig": {"NetworkMode": "bench"},
        "NetworkSettings": {
            "Networks": {
                "bench": {
                    "NetworkID": "1" * 64,
                    "EndpointID": "2" * 64,
                    "Gateway": "127.0.0.1",
                    "IPAddress": "127.0.0.1",
                    "IPPrefixLen": 8,
                }
            }
        },
        "Mounts": [],
    }


def probe(i, prefix="c"):
    """The Host header and path that reach container `i`'s route."""
    name = f"{prefix}{i}"
    return [
        (f"{name}.example.com", "/"),
        (f"{name}.example.com", "/api/x"),
        (f"{name}.x.example.com", "/"),
        ("any.example.com", f"/{name}/x"),
    ][i % 4]


class Daemon:
    """The stand-in Docker API: containers by id (each kept as its JSON text) and the open
    event streams."""

    def __init__(self, port):
        self.port = port
        self.containers = {}
        self.streams = set()
        self.lists = 0
        self.listed = 0
        self.whole_lists = 0

    def set(self, n):
        self.containers = {}
        for i in range(n):
            self.add(i)

    def add(self, i, prefix="c"):
        cid, c = container(i, self.port, prefix)
        self.containers[cid] = json.dumps(c, separators=(",", ":")).encode()
        return cid

    def event(self, cid, action="start"):
        """Sends `action` for `cid` to every open stream, at once."""
        now = time.time()
        ev = {
            "status": action,
            "id": cid,
            "from": "whoami:local",
            "Type": "container",
            "Action": action,
            "Actor": {"ID": cid, "Attributes": {"image": "whoami:local"}},
            "scope": "local",
            "time": int(now),
            "timeNano": int(now * 1e9),
        }
        line = json.dumps(ev).encode() + b"\n"
        chunk = b"%x\r\n%s\r\n" % (len(line), line)
        for w in list(self.streams):
            w.write(chunk)

    def list_body(self, query):
        filters = json.loads(query.get("filters", ["{}"])[0] or "{}")
        unknown = set(filters) - {"id"}
        if unknown:
            raise ValueError(f"the stand-in does not filter by {sorted(unknown)}")
        ids = filters.get("id")
        if isinstance(ids, dict):  # the older map form
            ids = [k for k, v in ids.items() if v]
        if ids is None:
            items = self.containers.values()
            self.whole_lists += 1
        elif all(len(p) == 64 for p in ids):
            # Full ids (what the router asks for after an event) are looked up, not matched
            # against 10,000 ids in Python: milliseconds the daemon does not take.
            items = [self.containers[p] for p in ids if p in self.containers]
        else:
            items = [v for k, v in self.containers.items() if any(k.startswith(p) for p in ids)]
        self.lists += 1
        self.listed += len(items)
        return b"[" + b",".join(items) + b"]"

    async def serve(self, reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                line = head.split(b"\r\n", 1)[0].decode()
                method, target, _ = line.split(" ", 2)
                url = urllib.parse.urlsplit(target)
                path = re.sub(r"^/v[0-9.]+", "", url.path)
                query = urllib.parse.parse_qs(url.query)
                if path == "/events" and method == "GET":
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                 b"Api-Version: " + API.encode() + b"\r\n"
                                 b"Transfer-Encoding: chunked\r\n\r\n")
                    await writer.drain()
                    self.streams.add(writer)
                    try:
                        await reader.read()  # until the client goes
                    finally:
                        self.streams.discard(writer)
                    return
                if path == "/_ping":
                    status, body, kind = 200, b"OK", b"text/plain"
                elif path == "/version":
                    status, kind = 200, b"application/json"
                    body = json.dumps({"ApiVersion": API, "MinAPIVersion": "1.24",
                                       "Version": "27.0.0", "Os": "linux",
                                       "Arch": "amd64"}).encode()
                elif path == "/containers/json" and method == "GET":
                    status, kind = 200, b"application/json"
                    body = self.list_body(query)
                else:
                    status, kind = 404, b"application/json"
                    body = json.dumps({"message": f"stand-in: no {method} {path}"}).encode()
                writer.write(b"HTTP/1.1 %d X\r\nContent-Type: %s\r\nApi-Version: %s\r\n"
                             b"Content-Length: %d\r\n\r\n" % (status, kind, API.encode(), len(body))
                             + body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()


def cpu_ns(pid):
    """The router's CPU time so far: its threads' schedstat (nanoseconds), and the set of
    threads read (a thread gone between two readings took its time with it)."""
    total, tids = 0, set()
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
            tids.add(tid)
        except OSError:
            pass
    return total, tids


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


class Client:
    """One keep-alive HTTP/1.1 connection to the router."""

    def __init__(self, port):
        self.port = port
        self.reader = self.writer = None

    async def status(self, host, path):
        for _ in range(2):
            try:
                if self.writer is None:
                    self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
                self.writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
                head = await self.reader.readuntil(b"\r\n\r\n")
                status = int(head.split(b" ", 2)[1])
                m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
                if m:
                    await self.reader.readexactly(int(m.group(1)))
                else:  # not kept alive
                    await self.reader.read()
                    self.close()
                return status
            except (ConnectionError, asyncio.IncompleteReadError, OSError):
                self.close()
                await asyncio.sleep(0.01)
        return 0

    def close(self):
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def until_routed(client, targets, deadline):
    """Polls every (host, path) of `targets` until each answers 200; the time each first did."""
    left = dict.fromkeys(targets)
    done = {}
    while left:
        if time.monotonic() > deadline:
            raise TimeoutError(f"not routed in time: {list(left)[:3]} ...")
        for t in list(left):
            if await client.status(*t) == 200:
                done[t] = time.monotonic()
                del left[t]
        if left:
            await asyncio.sleep(0.0005)
    return done


LOADER = r"""
import re, socket, sys, time
port, host, path, rate, seconds = int(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5])
req = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
s = socket.create_connection(("127.0.0.1", port))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
lat, bad, buf = [], 0, b""
start = time.monotonic()
k = 0
while True:
    due = start + k / rate
    now = time.monotonic()
    if due - start > seconds:
        break
    if due > now:
        time.sleep(due - now)
    t = time.monotonic()
    s.sendall(req)
    while b"\r\n\r\n" not in buf:
        buf += s.recv(65536)
    head, buf = buf.split(b"\r\n\r\n", 1)
    n = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))
    while len(buf) < n:
        buf += s.recv(65536)
    buf = buf[n:]
    lat.append(time.monotonic() - max(t, due))
    bad += head.split(b" ", 2)[1] != b"200"
    k += 1
lat.sort()
print(len(lat), bad, lat[len(lat) // 2] * 1e3, lat[int(len(lat) * 0.99)] * 1e3, lat[-1] * 1e3)
"""


async def steady_load(port, host, path, seconds, during=None):
    """Requests on one route at a steady 500 a second from another process (latency counted
    from when each was due, so a stall counts for every request it delayed); its p99 in ms.
    `during` runs 1.5 s into it."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", LOADER, str(port), host, path, "500", str(seconds),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    extra = None
    if during is not None:
        await asyncio.sleep(1.5)
        extra = await during()
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"the steady load failed: {err.decode()}")
    count, bad, p50, p99, worst = out.split()
    return float(p99), int(count), int(bad), float(worst), extra


async def measure(router_bin, backend_port, n, events, tmp):
    daemon = Daemon(backend_port)
    daemon.set(n)
    server = await asyncio.start_server(daemon.serve, "127.0.0.1", 0)
    api_port = server.sockets[0].getsockname()[1]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        web_port = s.getsockname()[1]
    conf = os.path.join(tmp, f"router-{n}.yml")
    with open(conf, "w") as f:
        f.write(f"entryPoints:\n  web:\n    address: \"127.0.0.1:{web_port}\"\n"
                f"providers:\n  docker:\n    endpoint: \"tcp://127.0.0.1:{api_port}\"\n"
                f"    exposedByDefault: false\n"
                f"log:\n  level: {os.environ.get('BENCH_LOG_LEVEL', 'warn').upper()}\n")
    err = open(os.path.join(tmp, f"router-{n}.err"), "w")
    router = subprocess.Popen(
        [router_bin, f"--configFile={conf}"], stdout=subprocess.DEVNULL, stderr=err,
        # The allocator's own settings (MIMALLOC_*) pass through, to measure their effect.
        env={"PATH": os.environ.get("PATH", ""), "ROUTER_ACCESS_LOG": "false",
             **{k: v for k, v in os.environ.items() if k.startswith("MIMALLOC_")}})
    result = {"n": n}
    client = Client(web_port)
    try:
        last = [max(i for i in range(n) if i % 4 == s) for s in range(4) if s < n]
        t = time.monotonic()
        await until_routed(client, [probe(i) for i in last], t + 120)
        result["first_table_s"] = time.monotonic() - t
        await asyncio.sleep(1.0)
        result["rss_kib"] = rss_kib(router.pid)

        # Event to first 200: one new container at a time, its host polled.
        lat = []
        for k in range(events):
            cid = daemon.add(k * 4, prefix="e")
            target = probe(k * 4, prefix="e")  # a plain Host shape
            t0 = time.monotonic()
            daemon.event(cid)
            done = await until_routed(client, [target], t0 + 30)
            lat.append((done[target] - t0) * 1e3)
            await asyncio.sleep(0.4)
        result["first200_ms"] = lat

        # CPU per event: events 400 ms apart, nothing polled, against as long a quiet spell.
        # The router lists every container once a minute whatever happens (its resync, about
        # as much CPU as a hundred events at 10,000): a reading with one in either spell is
        # taken again (up to three times), and the count of such readings reported.
        gap = 0.4
        result["cpu_readings_with_resync"] = 0
        for attempt in range(4):
            await asyncio.sleep(0.5)
            whole0 = daemon.whole_lists
            c0, t0s = cpu_ns(router.pid)
            await asyncio.sleep(gap * events)
            c1, t1s = cpu_ns(router.pid)
            quiet = c1 - c0
            for k in range(events):
                daemon.event(daemon.add(k, prefix=f"f{attempt}x"))
                await asyncio.sleep(gap)
            c2, t2s = cpu_ns(router.pid)
            busy = c2 - c1
            if os.environ.get("BENCH_TRACE"):
                print(f"cpu window {attempt}: quiet {time.monotonic() - 2 * gap * events:.3f} "
                      f"busy {time.monotonic() - gap * events:.3f} to {time.monotonic():.3f}",
                      file=sys.stderr)
            if daemon.whole_lists == whole0 or attempt == 3:
                break
            result["cpu_readings_with_resync"] += 1
        result["cpu_per_event_ms"] = (busy - quiet) / events / 1e6
        result["cpu_quiet_ms"] = quiet / 1e6
        result["threads_lost"] = len((t0s | t1s) - t2s)
        lists0, listed0 = daemon.lists, daemon.listed
        for k in range(events):
            daemon.event(daemon.add(k, prefix=f"f{attempt}x"))  # the same containers, again
            await asyncio.sleep(gap)
        await asyncio.sleep(0.5)
        result["lists_per_event"] = (daemon.lists - lists0) / events
        result["listed_per_event"] = (daemon.listed - listed0) / events

        # A storm: 200 containers at once, beside a steady load on an existing route.
        host, path = probe(last[0])
        quiet_p99, quiet_reqs, quiet_bad, quiet_worst, _ = await steady_load(web_port, host, path, 4)

        async def storm(prefix):
            ids = [daemon.add(k, prefix=prefix) for k in range(200)]
            targets = [probe(k, prefix=prefix) for k in range(200)]
            for cid in ids:
                daemon.event(cid)
            t_last = time.monotonic()
            if os.environ.get("BENCH_TRACE"):
                print(f"storm {prefix}: last event at {time.time():.4f}", file=sys.stderr)
            # The container of the last event answers: the table in service has every
            # container of the storm unless some other is still missing, which a sweep of
            # all of them (eight connections at once) then finds and waits for.
            seen = await until_routed(Client(web_port), [targets[-1]], t_last + 60)
            at = seen[targets[-1]]
            chunks = [targets[j::8] for j in range(8)]
            later = await asyncio.gather(
                *(until_routed(Client(web_port), c, t_last + 60) for c in chunks))
            late = [t for d in later for t in d.values() if t > at]
            sweep = max(t for d in later for t in d.values()) - at
            return (max([at] + late) - t_last) * 1e3, sweep * 1e3, len(late)

        # Three storms, each in a load of its own; the figures are their medians.
        runs = []
        for k in range(3):
            await asyncio.sleep(0.5)
            runs.append(await steady_load(web_port, host, path, 4,
                                          during=lambda k=k: storm(f"s{k}x")))
        result["storms_converged_ms"] = [r[4][0] for r in runs]
        result["storm_converged_ms"] = statistics.median(r[4][0] for r in runs)
        result["storm_sweep_ms"] = statistics.median(r[4][1] for r in runs)
        result["p99_quiet_ms"] = quiet_p99
        result["p99_storm_ms"] = statistics.median(r[0] for r in runs)
        result["worst_quiet_ms"] = quiet_worst
        result["worst_storm_ms"] = max(r[3] for r in runs)
        result["load_not_200"] = quiet_bad + sum(r[2] for r in runs)
        result["rss_after_kib"] = rss_kib(router.pid)
        if router.poll() is not None:
            raise RuntimeError(f"the router exited: see {err.name}")
    finally:
        client.close()
        router.terminate()
        try:
            router.wait(10)
        except subprocess.TimeoutExpired:
            router.kill()
        server.close()
        for w in list(daemon.streams):
            w.close()
    return result


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("router_bin")
    ap.add_argument("backend_port", type=int)
    ap.add_argument("--sizes", default="10,1000,10000")
    ap.add_argument("--events", type=int, default=20)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="sg-discovery-") as tmp:
        tmp = os.environ.get("BENCH_KEEP", tmp)
        for n in [int(x) for x in a.sizes.split(",")]:
            r = await measure(a.router_bin, a.backend_port, n, a.events, tmp)
            print(json.dumps(r), flush=True)


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
