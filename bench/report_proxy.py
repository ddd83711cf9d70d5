#!/usr/bin/env python3
"""Turns the raw output of one bench/router.sh or bench/tls.sh run into a Markdown report.

    report_proxy.py RUN_DIR

RUN_DIR holds meta.txt (KEY=VALUE lines; KIND=router or KIND=tls), runs.tsv (one wrk run a
line: label, test, round, wrk output file, the proxy's CPU ticks, whoami's CPU ticks, wrk's CPU
ticks, hypervisor steal and CPU used by anything else, both in % of all CPUs), and for router
runs first200.json and rss-after-load.tsv, for TLS runs stime.tsv.

Each cell is the median over the rounds; the per-round requests/s follow so the spread is
visible. "CPU/req" is the proxy's user+system CPU time during the run (nginx: master and
workers) divided by the requests wrk completed, the same method as bench/report.py.
"""

import json
import os
import sys

from reportlib import fmt, load_meta, med, parse_wrk

RSS_TARGET_MIB = 30
FIRST200_TARGET_MS = 1000
FIRST200_AIM_MS = 300

LABELS = {
    "router": "router (LOG_LEVEL=warn, no access log)",
    "router-log": "router (access log on: LOG_LEVEL=info, ROUTER_ACCESS_LOG=true)",
    "nginx": "nginx, keep-alive upstream pool",
    "haproxy": "HAProxy, keep-alive upstream pool",
}
TESTS = {
    "http": "HTTP/1.1 keep-alive",
    "https": "HTTPS keep-alive (TLS once per connection)",
    "close": "HTTPS, `Connection: close` (a full handshake per request)",
}


def ratio(a, b):
    return a / b if a is not None and b else None


def verdict(ok):
    return "**met**" if ok else "**missed**"


def main():
    run_dir = sys.argv[1]
    meta = load_meta(run_dir)
    kind = meta["KIND"]
    clk = int(meta.get("CLK_TCK", "100"))

    runs = {}
    for line in open(os.path.join(run_dir, "runs.tsv")):
        label, test, rnd, wrk_file, proxy, whoami, wrk, steal, other = line.rstrip("\n").split("\t")
        r = parse_wrk(os.path.join(run_dir, wrk_file))
        r["round"] = int(rnd)
        r["noise"] = f"{steal} / {other}"
        n = r["requests"]
        r["cpu"] = int(proxy) / clk * 1e6 / n if n else None
        r["whoami_cpu"] = int(whoami) / clk * 1e6 / n if n else None
        r["wrk_cpu"] = int(wrk) / clk * 1e6 / n if n else None
        runs.setdefault((label, test), []).append(r)

    def summary(label, test):
        rs = sorted(runs.get((label, test), []), key=lambda r: r["round"])
        return {
            "rps": med([r["rps"] for r in rs]),
            "p50": med([r["lat"].get("50") for r in rs]),
            "p99": med([r["lat"].get("99") for r in rs]),
            "cpu": med([r["cpu"] for r in rs]),
            "whoami_cpu": med([r["whoami_cpu"] for r in rs]),
            "wrk_cpu": med([r["wrk_cpu"] for r in rs]),
            "non2xx": sum(r["non2xx"] for r in rs),
            "sockerr": sum(r["sockerr"] for r in rs),
            "rounds": [(r["rps"], r["noise"]) for r in rs],
        }

    labels = [l for l in ("router", "nginx", "haproxy", "router-log") if any(k[0] == l for k in runs)]
    tests = [t for t in ("http", "https", "close") if any(k[1] == t for k in runs)]
    out = []
    w = out.append
    title = "router benchmark" if kind == "router" else "router TLS benchmark"
    w(f"# {title}, {meta['DATE']}")
    w("")
    w(f"- command: `{meta['COMMAND']}`")
    w(f"- machine: {meta['NPROC']} CPUs, {meta['CPU_MODEL']}, {meta['MEM']}; kernel {meta['KERNEL']}")
    w(f"- versions: router and socket-guard at {meta['REV']} (rustc {meta['RUSTC']}); {meta['NGINX']}; "
      f"{meta['HAPROXY']}; {meta['WRK']}; {meta['OPENSSL']}; dockerd {meta['DOCKER']}")
    w(f"- load: `wrk -t{meta['THREADS']} -c{meta['CONNS']} -d{meta['DURATION']} --latency -H 'Host: {meta['HOST']}'`, "
      f"after a {meta['WARMUP']} warm-up per proxy, {meta['ROUNDS']} rounds interleaved, the order turning each round "
      f"({', '.join(labels)}), median of the rounds shown")
    w(f"- backend: one whoami container at {meta['UPSTREAM']} (bridge network); answer sizes: "
      + ", ".join(f"{l} {meta[k]} B" for l in labels for k in [f"BYTES_{l}"] if k in meta))
    if kind == "tls":
        w(f"- TLS: {meta.get('TLS_CERT', '?')}; negotiated with the router: {meta.get('TLS_ROUTER', '?')}; "
          f"with nginx: {meta.get('TLS_NGINX', '?')}")
    if "OTHER_ROUTES" in meta:
        w(f"- the router also saw {meta['OTHER_ROUTES']} route(s) of other containers on this daemon")
    w("")

    targets = []
    for test in tests:
        w(f"## {TESTS[test]}")
        w("")
        w("| proxy | req/s | p50 ms | p99 ms | CPU/req µs | whoami CPU/req µs | non-2xx | socket errors |")
        w("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for label in labels:
            if (label, test) not in runs:
                continue
            s = summary(label, test)
            w(f"| {LABELS[label]} | {fmt(s['rps'])} | {fmt(s['p50'], 2)} | {fmt(s['p99'], 2)} | {fmt(s['cpu'], 1)} "
              f"| {fmt(s['whoami_cpu'], 1)} | {s['non2xx']} | {s['sockerr']} |")
        w("")
        r = summary("router", test)
        for other in ("nginx", "haproxy"):
            if (other, test) not in runs:
                continue
            o = summary(other, test)
            rr, pr, cr = ratio(r["rps"], o["rps"]), ratio(r["p99"], o["p99"]), ratio(r["cpu"], o["cpu"])
            w(f"- router / {other}: req/s {fmt(rr, 2, 'x')}, p99 {fmt(pr, 2, 'x')}, CPU per request {fmt(cr, 2, 'x')}")
            name = {"http": "HTTP", "https": "HTTPS keep-alive", "close": "TLS handshakes (Connection: close)"}[test]
            targets.append((f"{name}: router req/s >= {other}'s", f"{fmt(r['rps'])} vs {fmt(o['rps'])} ({fmt(rr, 2, 'x')})",
                            rr is not None and rr >= 1))
            if other == "nginx" and kind == "router":
                targets.append((f"{name}: router p99 <= nginx's", f"{fmt(r['p99'], 2)} vs {fmt(o['p99'], 2)} ms",
                                r["p99"] is not None and o["p99"] is not None and r["p99"] <= o["p99"]))
        if ("router-log", test) in runs:
            g = summary("router-log", test)
            w(f"- access log on: req/s {fmt((ratio(g['rps'], r['rps']) or 1) * 100 - 100, 1, ' %', sign=True)}, "
              f"CPU per request {fmt((ratio(g['cpu'], r['cpu']) or 1) * 100 - 100, 1, ' %', sign=True)} "
              f"({meta.get('ACCESS_LOG_LINES', '?')} log lines written during the measured rounds)")
        w("")
        w("Requests/s per round, with (steal % / CPU used by other processes than the proxy, whoami and wrk, "
          "in % of all CPUs):")
        w("")
        w("| proxy | " + " | ".join(f"round {i + 1}" for i in range(int(meta["ROUNDS"]))) + " |")
        w("| --- | " + " | ".join("---:" for _ in range(int(meta["ROUNDS"]))) + " |")
        for label in labels:
            if (label, test) in runs:
                cells = (f"{fmt(v)} ({n})" for v, n in summary(label, test)["rounds"])
                w(f"| {label} | " + " | ".join(cells) + " |")
        w("")

    stime = os.path.join(run_dir, "stime.tsv")
    if os.path.exists(stime):
        w("## Sequential handshakes (`openssl s_time -new`)")
        w("")
        w(f"`openssl s_time -connect 127.0.0.1:PORT -new -time {meta.get('STIME_SECONDS', '?')}`: one connection at a "
          "time, a full TLS handshake each, no HTTP request, no SNI (the router then picks the certificate "
          "for `localhost`, the same file); the rate is connections per wall-clock second of the s_time process "
          "(timed by the script: s_time's own figure counts whole seconds). One handshake at a time measures "
          "the handshake's latency, client included, more than the server's capacity.")
        w("")
        by = {}
        for line in open(stime):
            label, rnd, conns, secs = line.rstrip("\n").split("\t")
            rate = int(conns) / float(secs) if conns.isdigit() and float(secs) > 0 else None
            by.setdefault(label, []).append(rate)
        w("| proxy | handshakes/s (median) | rounds |")
        w("| --- | ---: | --- |")
        for label in ("router", "nginx"):
            if label in by:
                w(f"| {label} | {fmt(med(by[label]))} | {', '.join(fmt(v) for v in by[label])} |")
        if "router" in by and "nginx" in by:
            a, b = med(by["router"]), med(by["nginx"])
            targets.append(("sequential handshakes (s_time): router >= nginx", f"{fmt(a)} vs {fmt(b)} per s ({fmt(ratio(a, b), 2, 'x')})",
                            a is not None and b is not None and a >= b))
        w("")

    if kind == "router":
        w("## From `docker run -d` to the first 200 through the router")
        w("")
        f = os.path.join(run_dir, "first200.json")
        if os.path.exists(f) and os.path.getsize(f) > 0:
            m = json.load(open(f))
            w(f"{m['runs_ok']} of {m['runs_wanted']} runs got their 200 (polled every {m['poll_ms']:g} ms, a new "
              "connection per poll, from the moment `docker run -d` was started).")
            w("")
            w(f"- to the first 200: median **{fmt(m['median_ms'])} ms**, max **{fmt(m['max_ms'])} ms**, min {fmt(m['min_ms'])} ms")
            w(f"- of which `docker run -d` itself (create + start, until the CLI returned): median {fmt(m['median_docker_run_ms'])} ms")
            w(f"- from `docker run -d` returning to the first 200: median {fmt(m['median_after_docker_run_ms'])} ms, "
              f"max {fmt(m['max_after_docker_run_ms'])} ms")
            w(f"- from the container's start (the daemon's `State.StartedAt`, same host clock) to the first 200: "
              f"median **{fmt(m.get('median_after_start_ms'))} ms**, max **{fmt(m.get('max_after_start_ms'))} ms**")
            w("")
            w("| run | first 200 ms | docker run returned ms | start to first 200 ms | answers before the 200 |")
            w("| ---: | ---: | ---: | ---: | --- |")
            for r in m["runs"]:
                seen = ", ".join(f"{k}: {v}" for k, v in sorted(r["answers_seen"].items()) if k != "200")
                w(f"| {r['run']} | {fmt(r['ms_to_200'])} | {fmt(r['ms_docker_run_returned'])} | "
                  f"{fmt(r.get('ms_after_start'))} | {seen or '-'} |")
            ok = m["runs_ok"] == m["runs_wanted"] and m.get("runs_with_start") == m["runs_wanted"]
            start_med, start_max = m.get("median_after_start_ms"), m.get("max_after_start_ms")
            targets.append(("container start -> first 200 < 1 s (every run)",
                            f"median {fmt(start_med)} ms, max {fmt(start_max)} ms",
                            ok and start_max is not None and start_max < FIRST200_TARGET_MS))
            targets.append(("container start -> first 200, aim 300 ms (median)", f"median {fmt(start_med)} ms",
                            start_med is not None and start_med <= FIRST200_AIM_MS))
        else:
            w("not measured")
        w("")

        w("## Memory with 100 routes")
        w("")
        if "RSS_WITH_ROUTES" in meta:
            b = [int(x) for x in meta["RSS_BEFORE"].split()]
            r = [int(x) for x in meta["RSS_WITH_ROUTES"].split()]
            a = [int(x) for x in meta["RSS_AFTER_REQUESTS"].split()]
            w(f"A fresh router (warn, no access log) with the bench route, then {meta['RSS_CONTAINERS']} whoami "
              f"containers with 10 routers each (`traefik.http.routers.r<i>x<n>.rule=Host(\\`h<n>-<i>.test\\`)`, "
              f"all on one service `rss`). `/api/routers` listed {meta['RSS_ROUTES_OURS']} of those routes "
              f"({meta['RSS_ROUTES_TOTAL']} routes in all) {meta['RSS_SECONDS_TO_ROUTES']} s after the first "
              f"`docker run`; {meta['RSS_ISSUES']} issue(s); {meta['RSS_ROUTED_OK']} of {meta['RSS_WANT_ROUTES']} "
              "hosts then answered 200.")
            w("")
            w("| | VmRSS | VmHWM | threads |")
            w("| --- | ---: | ---: | ---: |")
            for name, v in (("before the containers", b), ("with the routes", r), ("after one request per route", a)):
                w(f"| {name} | {v[0] / 1024:.1f} MiB | {v[1] / 1024:.1f} MiB | {v[2]} |")
            okr = int(meta["RSS_ROUTES_OURS"]) == int(meta["RSS_WANT_ROUTES"])
            worst = max(r[0], a[0])
            targets.append((f"RSS with {meta['RSS_WANT_ROUTES']} routes < {RSS_TARGET_MIB} MiB",
                            f"{worst / 1024:.1f} MiB" + ("" if okr else f" (only {meta['RSS_ROUTES_OURS']} routes)"),
                            okr and worst < RSS_TARGET_MIB * 1024))
        else:
            w("not measured")
        w("")
        f = os.path.join(run_dir, "rss-after-load.tsv")
        if os.path.exists(f):
            w("Resident memory after the load runs (nginx: master and workers summed):")
            w("")
            w("| process | VmRSS | VmHWM |")
            w("| --- | ---: | ---: |")
            for line in open(f):
                label, rss, hwm, _ = line.rstrip("\n").split("\t")
                w(f"| {label} | {int(rss) / 1024:.1f} MiB | {int(hwm) / 1024:.1f} MiB |")
            w("")

    w("## Against the targets")
    w("")
    w("| target | measured | |")
    w("| --- | --- | --- |")
    for name, measured, ok in targets:
        w(f"| {name} | {measured} | {verdict(ok)} |")
    print("\n".join(out))


if __name__ == "__main__":
    main()
