#!/usr/bin/env python3
"""Fixtures for bench/redact.sh, written into DIR:

    make_fixtures.py DIR

- containers-50.json: a list of 50 containers, each bench/fixtures/containers.json's
  containers again with its own id, name, command line (with a token in it) and labels: the
  shape and size (about 1.1 KiB a container) of a real daemon's answer.
- containers-50-N.json, N from 0 to 63: the same list, each with other ids and tokens: 64
  answers that differ, for a list that keeps changing.
- events.jsonl: 20,000 container events as the daemon writes them, one per line; one in ten
  is an exec_create or exec_start whose command carries a token (what redaction rewrites),
  the others are start, die, health_status and network events (passed as they are); each
  carries its container's `traefik.enable` label, as the daemon's events do.
"""

import json
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
out = sys.argv[1]
base = json.load(open(os.path.join(here, "fixtures", "containers.json")))

def containers(variant):
    out = []
    for i in range(50):
        c = json.loads(json.dumps(base[i % len(base)]))
        c["Id"] = f"{variant:02x}{i:04x}" + c["Id"][6:]
        c["Names"] = [f"/app-{i}"]
        c["Command"] = f"/entrypoint.sh --token tok{variant:02d}{i:06d}secret --listen :8080"
        c.setdefault("Labels", {})[f"traefik.http.routers.app{i}.rule"] = f"Host(`app{i}.example.com`)"
        out.append(c)
    return out


for name, variant in [("containers-50.json", 0)] + [(f"containers-50-{n}.json", n) for n in range(64)]:
    with open(os.path.join(out, name), "w") as f:
        json.dump(containers(variant), f)
        f.write("\n")

actions = ["start", "die", "health_status: healthy", "connect", "disconnect", "kill", "stop", "create", "destroy"]
with open(os.path.join(out, "events.jsonl"), "w") as f:
    for n in range(20000):
        cid = f"{n % 50:04x}" + "c" * 60
        if n % 10 == 0:
            action = f"exec_{'create' if n % 20 == 0 else 'start'}: sh -c 'curl -H \"Authorization: Bearer tok{n:06d}secret\" localhost'"
        else:
            action = actions[n % len(actions)]
        e = {
            "status": action,
            "id": cid,
            "from": "whoami:local",
            "Type": "container",
            "Action": action,
            "Actor": {"ID": cid, "Attributes": {"image": "whoami:local", "name": f"app-{n % 50}",
                                                "traefik.enable": "true"}},
            "scope": "local",
            "time": 1764700000 + n,
            "timeNano": (1764700000 + n) * 1000000000,
        }
        f.write(json.dumps(e, separators=(",", ":")) + "\n")
