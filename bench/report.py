#!/usr/bin/env python3
"""Turns the raw output of one bench/guard.sh run into a Markdown report on stdout.

    report.py RUN_DIR

RUN_DIR holds what guard.sh wrote: meta.txt (KEY=VALUE lines), runs.tsv (one wrk run a line:
label, path, round, wrk output file, proxy CPU ticks used during the run, hypervisor steal in %
of all CPUs, CPU used by other processes than proxy, nginx and wrk in % of all CPUs),
memory.json (from events_rss.py) and rss.tsv (label, VmRSS and VmHWM in KiB after the load).

Each cell is the median over the rounds; the per-round requests/s follow in their own table so
the spread is visible. "CPU/req" is the proxy process's user+system CPU time during the run
divided by the requests wrk completed: on a 2-core machine shared with wrk and nginx it is the
fairer measure of what a request costs the proxy.
"""

import json
import os
import sys

from reportlib import fmt, load_meta, med, parse_wrk

RPS_TARGET = 1.3
RSS_TARGET_KIB = 32 * 1024

LABELS = {
    "guard": "socket-guard (LOG_LEVEL=warn, as shipped: GUARD_COALESCE=1)",
    "haproxy": "HAProxy 2.6 (env-var ACLs)",
    "guard-alone": "socket-guard (LOG_LEVEL=warn, GUARD_COALESCE=0: every request forwarded)",
    "guard-info": "socket-guard (LOG_LEVEL=info, audit line per request)",
    "guard-real": "socket-guard (LOG_LEVEL=warn, as shipped: GUARD_COALESCE=1)",
    "haproxy-real": "HAProxy 2.6 (env-var ACLs)",
    "guard-real-alone": "socket-guard (LOG_LEVEL=warn, GUARD_COALESCE=0: every request forwarded)",
}
STAND_IN = ("guard", "haproxy", "guard-alone", "guard-info")
REAL = ("guard-real", "haproxy-real", "guard-real-alone")


def ratio_of(a, b):
    return a / b if a and b else None


def shared_line(meta, key):
    """How many of a guard's answers were another request's (GUARD_COALESCE), or None."""
    shared, served = meta.get(f"SHARED_{key}"), meta.get(f"SERVED_{key}")
    if not shared or not served or int(served) == 0:
        return None
    return (f"{int(shared):,} of the {int(served):,} requests this guard served (warm-up included) "
            f"were answered with the daemon's answer to an identical request of their group "
            f"({100 * int(shared) / int(served):.0f} %); the others were forwarded.")


def main():
    run_dir = sys.argv[1]
    meta = load_meta(run_dir)
    clk_tck = int(meta.get("CLK_TCK", "100"))

    # (label, path) -> list of per-round results
    runs = {}
    for line in open(os.path.join(run_dir, "runs.tsv")):
        label, path, rnd, wrk_file, ticks, steal, other = line.rstrip("\n").split("\t")
        r = parse_wrk(os.path.join(run_dir, wrk_file))
        r["round"] = int(rnd)
        r["noise"] = f"{steal} / {other}"
        r["cpu_us_per_req"] = (int(ticks) / clk_tck * 1e6 / r["requests"]) if r["requests"] else None
        runs.setdefault((label, path), []).append(r)

    def summary(label, path):
        rs = runs.get((label, path), [])
        return {
            "rps": med([r["rps"] for r in rs]),
            "p50": med([r["lat"].get("50") for r in rs]),
            "p99": med([r["lat"].get("99") for r in rs]),
            "cpu": med([r["cpu_us_per_req"] for r in rs]),
            "non2xx": sum(r["non2xx"] for r in rs),
            "sockerr": sum(r["sockerr"] for r in rs),
            "rounds": [(r["rps"], r["noise"]) for r in sorted(rs, key=lambda r: r["round"])],
        }

    paths = meta["PATHS"].split()
    out = []
    w = out.append
    w(f"# socket-guard benchmark, {meta['DATE']}")
    w("")
    w(f"- command: `{meta['COMMAND']}`")
    w(f"- machine: {meta['NPROC']} CPUs, {meta['CPU_MODEL']}, {meta['MEM']}; kernel {meta['KERNEL']}")
    w(f"- versions: socket-guard {meta['REV']}; {meta['NGINX']}; {meta['HAPROXY']}; {meta['WRK']}; "
      f"dockerd {meta['DOCKER']}")
    w(f"- load: `wrk -t{meta['THREADS']} -c{meta['CONNS']} -d{meta['DURATION']} --latency`, "
      f"after a {meta['WARMUP']} warm-up per proxy and path, {meta['ROUNDS']} rounds interleaved "
      "(guard, haproxy, guard with GUARD_COALESCE=0, guard at info), median of the rounds shown")
    w(f"- stand-in daemon: nginx on a unix socket; response bodies: "
      + ", ".join(f"`{p}` {meta.get('BYTES_' + p.replace('/', '_').replace('.', '_'), '?')} B" for p in paths))
    w("")
    w("## Through the stand-in daemon (nginx)")
    w("")
    w("| path | proxy | req/s | p50 ms | p99 ms | CPU/req µs | non-2xx | socket errors |")
    w("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for path in paths:
        for label in STAND_IN:
            s = summary(label, path)
            w(f"| `{path}` | {LABELS[label]} | {fmt(s['rps'])} | {fmt(s['p50'], 2)} | {fmt(s['p99'], 2)} "
              f"| {fmt(s['cpu'], 1)} | {s['non2xx']} | {s['sockerr']} |")
    w("")
    w("| path | guard / HAProxy req/s | guard / HAProxy p99 | guard p99 <= HAProxy p99 "
      "| guard / HAProxy CPU/req | GUARD_COALESCE=0 / HAProxy: req/s, p99, CPU/req "
      "| audit log at info: req/s | audit log at info: CPU/req |")
    w("| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: |")
    verdicts = []
    for path in paths:
        g, h, gi = summary("guard", path), summary("haproxy", path), summary("guard-info", path)
        ga = summary("guard-alone", path)
        alone = " / ".join(fmt(ratio_of(ga[k], h[k]), 2, "x") for k in ("rps", "p99", "cpu"))
        ratio = ratio_of(g["rps"], h["rps"])
        p99r = ratio_of(g["p99"], h["p99"])
        info = (gi["rps"] / g["rps"] - 1) * 100 if gi["rps"] and g["rps"] else None
        info_cpu = (gi["cpu"] / g["cpu"] - 1) * 100 if gi["cpu"] and g["cpu"] else None
        cpur = ratio_of(g["cpu"], h["cpu"])
        p99_ok = g["p99"] is not None and h["p99"] is not None and g["p99"] <= h["p99"]
        w(f"| `{path}` | {fmt(ratio, 2, 'x')} | {fmt(p99r, 2, 'x')} | {'yes' if p99_ok else 'no'} "
          f"| {fmt(cpur, 2, 'x')} | {alone} | {fmt(info, 1, ' %', sign=True)} | {fmt(info_cpu, 1, ' %', sign=True)} |")
        verdicts.append((path, ratio, p99_ok, ratio_of(ga["rps"], h["rps"])))
    w("")
    w("Requests/s per round, with the machine's noise during the run as steal % / other load % "
      "(hypervisor steal, and CPU used by processes other than the proxy, nginx and wrk; both in % "
      "of all CPUs):")
    w("")
    w("| path | proxy | " + " | ".join(f"round {i + 1}" for i in range(int(meta["ROUNDS"]))) + " |")
    w("| --- | --- | " + " | ".join("---:" for _ in range(int(meta["ROUNDS"]))) + " |")
    for path in paths:
        for label in STAND_IN:
            cells = (f"{fmt(v)} ({noise})" for v, noise in summary(label, path)["rounds"])
            w(f"| `{path}` | {label} | " + " | ".join(cells) + " |")
    w("")
    line = shared_line(meta, "guard")
    if line:
        w(f"Shared answers (guard as shipped): {line}")
        w("")

    w("## In front of the real dockerd")
    w("")
    real_verdicts = []
    if (("guard-real", paths[0]) in runs):
        w("The same two proxies and load in front of the real daemon "
          f"(it lists {meta.get('REAL_CONTAINERS', '?')} container(s) on `/containers/json` at the time). "
          "The numbers include dockerd's own work, which competes with the proxy and wrk for the "
          "same CPUs; another process using the daemon at the same time shows up in them.")
        w("")
        w("| path | proxy | req/s | p50 ms | p99 ms | CPU/req µs | non-2xx | socket errors | body |")
        w("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for path in paths:
            body = meta.get("REAL_BYTES_" + path.replace("/", "_").replace(".", "_"), "?")
            for label in REAL:
                s = summary(label, path)
                w(f"| `{path}` | {LABELS[label]} | {fmt(s['rps'])} | {fmt(s['p50'], 2)} | {fmt(s['p99'], 2)} "
                  f"| {fmt(s['cpu'], 1)} | {s['non2xx']} | {s['sockerr']} | {body} B |")
        w("")
        w("| path | guard / HAProxy req/s | guard / HAProxy p99 | guard / HAProxy CPU/req "
          "| GUARD_COALESCE=0 / HAProxy: req/s, p99, CPU/req |")
        w("| --- | ---: | ---: | ---: | ---: |")
        for path in paths:
            g, h = summary("guard-real", path), summary("haproxy-real", path)
            ga = summary("guard-real-alone", path)
            alone = " / ".join(fmt(ratio_of(ga[k], h[k]), 2, "x") for k in ("rps", "p99", "cpu"))
            ratio = ratio_of(g["rps"], h["rps"])
            p99r = ratio_of(g["p99"], h["p99"])
            cpur = ratio_of(g["cpu"], h["cpu"])
            w(f"| `{path}` | {fmt(ratio, 2, 'x')} | {fmt(p99r, 2, 'x')} | {fmt(cpur, 2, 'x')} | {alone} |")
            p99_ok = g["p99"] is not None and h["p99"] is not None and g["p99"] <= h["p99"]
            real_verdicts.append((path, ratio, p99_ok, ratio_of(ga["rps"], h["rps"])))
        w("")
        w("Requests/s per round:")
        w("")
        w("| path | proxy | " + " | ".join(f"round {i + 1}" for i in range(int(meta["ROUNDS"]))) + " |")
        w("| --- | --- | " + " | ".join("---:" for _ in range(int(meta["ROUNDS"]))) + " |")
        for path in paths:
            for label in REAL:
                cells = (fmt(v) for v, _ in summary(label, path)["rounds"])
                w(f"| `{path}` | {label} | " + " | ".join(cells) + " |")
        line = shared_line(meta, "guard_real")
        if line:
            w("")
            w(f"Shared answers (guard as shipped): {line}")
    else:
        w(f"skipped: {meta.get('REAL_SKIPPED', 'no daemon socket')}")
    w("")

    w("## Memory")
    w("")
    mem_file = os.path.join(run_dir, "memory.json")
    rss_ok = None
    if os.path.exists(mem_file) and os.path.getsize(mem_file) > 0:
        m = json.load(open(mem_file))
        st = m["streaming"]
        rss_ok = st["VmRSS"] <= RSS_TARGET_KIB and m["streams_200"] == m["streams_wanted"]
        w(f"A fresh socket-guard in front of the real dockerd (defaults: EVENTS=1, LOG_LEVEL=info), "
          f"{m['streams_wanted']} concurrent `GET /v1.41/events`:")
        w("")
        w("| | VmRSS | VmHWM | threads | open fds |")
        w("| --- | ---: | ---: | ---: | ---: |")
        for key, name in (("idle", "idle, before"), ("streaming", "streams open"), ("closed", "streams closed")):
            s = m[key]
            w(f"| {name} | {s['VmRSS'] / 1024:.1f} MiB | {s['VmHWM'] / 1024:.1f} MiB | {s['Threads']} | {s['fds']} |")
        w("")
        w(f"- streams answered 200: {m['streams_200']} of {m['streams_wanted']} "
          f"(all heads in {m['seconds_to_open']} s)")
        if "streams_with_event" in m:
            w(f"- streams that then delivered a test event: {m['streams_with_event']} of {m['streams_200']}")
        if "connect_error" in m:
            w(f"- connect error: {m['connect_error']}")
    else:
        w(f"skipped: {meta.get('MEM_SKIPPED', 'no result')}")
    rss_after = os.path.join(run_dir, "rss.tsv")
    if os.path.exists(rss_after):
        w("")
        w("Resident memory after the load runs above:")
        w("")
        w("| process | VmRSS | VmHWM |")
        w("| --- | ---: | ---: |")
        for line in open(rss_after):
            label, rss, hwm = line.rstrip("\n").split("\t")
            w(f"| {LABELS.get(label, label)} | {int(rss) / 1024:.1f} MiB | {int(hwm) / 1024:.1f} MiB |")
    w("")

    w("## Against the targets")
    w("")
    for daemon, checks in (("stand-in", verdicts), ("real dockerd", real_verdicts)):
        for path, ratio, p99_ok, alone in checks:
            ok = ratio is not None and ratio >= RPS_TARGET and p99_ok
            w(f"- {daemon}, `{path}`: guard/HAProxy {fmt(ratio, 2, 'x')} req/s (target >= {RPS_TARGET}x), "
              f"p99 {'not above' if p99_ok else 'ABOVE'} HAProxy's: **{'met' if ok else 'missed'}** "
              f"(with GUARD_COALESCE=0, every request forwarded: {fmt(alone, 2, 'x')})")
    if rss_ok is None:
        w("- RSS with open /events streams: not measured")
    else:
        m = json.load(open(mem_file))
        w(f"- RSS with {m['streams_wanted']} open /events streams: {m['streaming']['VmRSS'] / 1024:.1f} MiB "
          f"(target <= 32 MiB): **{'met' if rss_ok else 'missed'}**")
    print("\n".join(out))


if __name__ == "__main__":
    main()
