#!/usr/bin/env python3
"""Clients that hold a proxy's resources, and the probe client beside them, for bench/hold.sh.

    hold.py keepalive PORT N HOST    N clients each make one keep-alive request, then idle
    hold.py slowloris PORT N HOST    N clients send a head one byte every 5 s, never finishing
    hold.py slowread  PORT N HOST    N clients ask for /big (4 MiB) and read nothing
    hold.py zerowindow PORT N HOST   N HTTP/2 streams (100 per TLS connection) ask for /big
                                     with a flow-control window of zero, never opened
    hold.py probe     PORT N HOST    N requests, one connection each, 5 s timeout each

The holders print `held <n>` (how many connections are open and in the state asked for) on
stdout once they are all set up, then keep them until stdin closes. The probe prints
`probe <ok> <n> <p50 ms> <p99 ms>`. Only the standard library; every wait is bounded.
"""

import asyncio
import socket
import ssl
import sys
import time


def request(host, path="/"):
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()


async def read_answer(reader):
    """Reads one answer with a Content-Length; returns its status."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    await reader.readexactly(length)
    return int(lines[0].split()[1])


async def connect(port, rcvbuf=None):
    sock = socket.socket()
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    return await asyncio.open_connection(sock=sock, limit=1 << 20)


async def keepalive(port, host):
    reader, writer = await connect(port)
    writer.write(request(host))
    status = await read_answer(reader)
    return (reader, writer) if status == 200 else None


async def slowloris(port, host):
    reader, writer = await connect(port)
    writer.write(f"GET / HTTP/1.1\r\nHost: {host}\r\n".encode())
    return (reader, writer)


async def drip(conns):
    """Keeps the slowloris heads growing by one byte every 5 s."""
    while True:
        await asyncio.sleep(5)
        for _, w in conns:
            if not w.is_closing():
                w.write(b"X")


async def slowread(port, host):
    reader, writer = await connect(port, rcvbuf=4096)
    writer.write(request(host, "/big"))
    return (reader, writer)


STREAMS_PER_CONN = 100


def h2_frame(kind, flags, stream, payload):
    return len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big") + payload


async def zerowindow(port, host, streams):
    """One TLS connection (ALPN h2) whose SETTINGS give every stream a window of zero, and
    `streams` GET /big on it; the client then reads (and drops) what comes, and never opens a
    window."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["h2"])
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ctx, server_hostname=host)
    out = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    out += h2_frame(4, 0, 0, (4).to_bytes(2, "big") + (0).to_bytes(4, "big"))  # INITIAL_WINDOW_SIZE 0
    h = host.encode()
    block = bytes([0x82, 0x87, 0x04, 4]) + b"/big" + bytes([0x01, len(h)]) + h  # never indexed
    for i in range(streams):
        out += h2_frame(1, 0x05, 2 * i + 1, block)  # HEADERS, END_STREAM | END_HEADERS
    writer.write(out)

    async def drain():
        while await reader.read(65536):
            pass

    task = asyncio.ensure_future(drain())
    return (reader, writer, task)


async def still_open(conns):
    """How many of the held connections the proxy has not closed (a closed one reads EOF)."""
    n = 0
    for r, _ in conns:
        if r.at_eof():
            continue
        try:
            data = await asyncio.wait_for(r.read(1), 0.001)
            if data == b"" and r.at_eof():
                continue
        except asyncio.TimeoutError:
            pass
        except OSError:
            continue
        n += 1
    return n


async def hold(kind, port, n, host):
    if kind == "zerowindow":
        conns = []
        for start in range(0, n, STREAMS_PER_CONN):
            conns.append(await asyncio.wait_for(zerowindow(port, host, min(STREAMS_PER_CONN, n - start)), 10))
        await asyncio.sleep(2)  # the proxy opens its backend connections
        print(f"held {n}", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        for _, w, t in conns:
            t.cancel()
            w.close()
        return
    make = {"keepalive": keepalive, "slowloris": slowloris, "slowread": slowread}[kind]
    conns = []
    for start in range(0, n, 200):
        batch = await asyncio.gather(
            *(asyncio.wait_for(make(port, host), 10) for _ in range(start, min(n, start + 200))),
            return_exceptions=True,
        )
        conns += [c for c in batch if isinstance(c, tuple)]
    if kind == "slowread":
        await asyncio.sleep(2)  # the proxy fills the socket buffers
    print(f"held {len(conns)}", flush=True)
    dripping = asyncio.ensure_future(drip(conns)) if kind == "slowloris" else None
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    if kind != "slowread":
        print(f"open {await still_open(conns)}", flush=True)
    if dripping:
        dripping.cancel()
    for _, w in conns:
        w.close()


async def probe(port, n, host):
    ok, times = 0, []
    for _ in range(n):
        t0 = time.monotonic()
        try:
            reader, writer = await asyncio.wait_for(connect(port), 5)
            writer.write(request(host))
            if await asyncio.wait_for(read_answer(reader), 5) == 200:
                ok += 1
            writer.close()
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError):
            pass
        times.append(time.monotonic() - t0)
        await asyncio.sleep(0.02)
    times.sort()
    pick = lambda q: times[min(len(times) - 1, int(q * len(times)))] * 1000
    print(f"probe {ok} {n} {pick(0.5):.1f} {pick(0.99):.1f}", flush=True)


def main():
    kind, port, n, host = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    if kind == "probe":
        asyncio.run(probe(port, n, host))
    else:
        asyncio.run(hold(kind, port, n, host))


if __name__ == "__main__":
    main()
