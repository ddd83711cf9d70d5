#!/usr/bin/env python3
"""A steady HTTPS client for bench/swarm.py: one request every INTERVAL seconds, a new
connection each (certificates not checked: the router's default one), until STOP exists.

    swarm_client.py ADDR HOST STOP [--interval 0.02] [--timeout 30]

Prints one line per request, flushed: `start seconds status hostname` (status 0 and the
error in place of the hostname when no answer came), `start` on this host's clock.
"""

import argparse
import http.client
import os
import ssl
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("addr")
    ap.add_argument("host")
    ap.add_argument("stop")
    ap.add_argument("--interval", type=float, default=0.02)
    ap.add_argument("--timeout", type=float, default=30)
    a = ap.parse_args()
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    while not os.path.exists(a.stop):
        t = time.time()
        try:
            c = http.client.HTTPSConnection(a.addr, 443, context=ctx, timeout=a.timeout)
            c.request("GET", "/", headers={"Host": a.host})
            r = c.getresponse()
            body = r.read().decode(errors="replace")
            c.close()
            name = "-"
            for line in body.splitlines():
                if line.startswith("Hostname: "):
                    name = line.split(" ", 1)[1].strip()
                    break
            status = r.status
        except Exception as e:  # every failure is a result here
            status, name = 0, repr(str(e)).replace(" ", "_")
        took = time.time() - t
        print(f"{t:.3f} {took:.3f} {status} {name}", flush=True)
        time.sleep(max(0.0, a.interval - took))


if __name__ == "__main__":
    sys.exit(main())
