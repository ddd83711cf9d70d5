#!/usr/bin/env python3
"""Opens N concurrent `GET /v1.41/events` streams through a proxy and reads the proxy's memory.

Used by bench/guard.sh. Steps, each bounded by --timeout seconds:
  1. reads VmRSS and the open file descriptors of --pid (idle);
  2. opens --streams connections to --addr and sends `GET <path>` on each;
  3. waits until every stream has its `200` response head (the daemon flushes it at once);
  4. with --event-cmd, runs it (it should make the daemon emit one event) and waits until every
     stream has received body bytes: then they are all really streaming, end to end;
  5. reads VmRSS, VmHWM, threads and file descriptors of --pid;
  6. closes every stream and reads them again once the proxy has let go of its upstream ends.
Prints one JSON object on stdout. Exits 1 if a stream failed to open.
"""

import argparse
import json
import os
import selectors
import shlex
import socket
import subprocess
import sys
import time


def proc_status(pid):
    """VmRSS, VmHWM (KiB) and Threads of a process, plus its open file descriptors."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
            elif key == "Threads":
                out[key] = int(value)
    out["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    return out


class Stream:
    def __init__(self, sock):
        self.sock = sock
        self.head = b""
        self.status = None
        self.body_bytes = 0

    def feed(self, data):
        if self.status is None:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                if len(self.head) > 16384:
                    self.status = -1
                return
            line = self.head.split(b"\r\n", 1)[0].split()
            self.status = int(line[1]) if len(line) > 1 and line[1].isdigit() else -1
            self.body_bytes += len(self.head) - end - 4
        else:
            self.body_bytes += len(data)


def pump(sel, deadline, done):
    """Reads whatever arrives until done() or the deadline."""
    while not done() and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.2):
            stream = key.data
            try:
                data = stream.sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if not data:
                sel.unregister(stream.sock)
                if stream.status is None:
                    stream.status = -1
                continue
            stream.feed(data)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", required=True, help="HOST:PORT of the proxy")
    ap.add_argument("--pid", required=True, type=int, help="the proxy's process id")
    ap.add_argument("--streams", type=int, default=500)
    ap.add_argument("--path", default="/v1.41/events")
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--event-cmd", default="", help="a shell command that makes the daemon emit an event")
    args = ap.parse_args()
    host, port = args.addr.rsplit(":", 1)
    result = {"streams_wanted": args.streams, "idle": proc_status(args.pid)}

    sel = selectors.DefaultSelector()
    streams = []
    request = f"GET {args.path} HTTP/1.1\r\nHost: docker\r\nUser-Agent: sg-bench\r\n\r\n".encode()
    deadline = time.monotonic() + args.timeout
    for _ in range(args.streams):
        if time.monotonic() > deadline:
            break
        try:
            sock = socket.create_connection((host, int(port)), timeout=5)
            sock.sendall(request)
            sock.setblocking(False)
        except OSError as e:
            result["connect_error"] = str(e)
            break
        stream = Stream(sock)
        streams.append(stream)
        sel.register(sock, selectors.EVENT_READ, stream)

    pump(sel, deadline, lambda: all(s.status is not None for s in streams))
    result["streams_opened"] = len(streams)
    result["streams_200"] = sum(1 for s in streams if s.status == 200)
    result["seconds_to_open"] = round(args.timeout - (deadline - time.monotonic()), 2)

    if args.event_cmd:
        subprocess.run(shlex.split(args.event_cmd), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=args.timeout, check=False)
        deadline = time.monotonic() + args.timeout
        pump(sel, deadline, lambda: all(s.body_bytes > 0 for s in streams if s.status == 200))
        result["streams_with_event"] = sum(1 for s in streams if s.status == 200 and s.body_bytes > 0)

    result["streaming"] = proc_status(args.pid)

    for s in streams:
        try:
            sel.unregister(s.sock)
        except (KeyError, ValueError):
            pass
        s.sock.close()
    # The proxy closes its upstream ends when it notices; wait (bounded) for its fds to settle.
    deadline = time.monotonic() + 10
    after = proc_status(args.pid)
    while after["fds"] > result["idle"]["fds"] + 2 and time.monotonic() < deadline:
        time.sleep(0.2)
        after = proc_status(args.pid)
    time.sleep(0.5)
    result["closed"] = proc_status(args.pid)

    json.dump(result, sys.stdout)
    print()
    return 0 if result["streams_200"] == args.streams else 1


if __name__ == "__main__":
    sys.exit(main())
