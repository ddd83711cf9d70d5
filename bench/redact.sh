#!/usr/bin/env bash
# What redaction and the visible scope cost: socket-guard with GUARD_REDACT=on and =off, with
# GUARD_VISIBLE_LABELS=traefik.* (alone, and with redaction: the router preset's pair), side by
# side with HAProxy, all in front of the same stand-in daemon (nginx on a unix socket) answering a
# 50-container list (about 55 KiB; the same one every time at /v1.41, one of 64 different ones
# at /v1.40) and a long /events answer (20,000 event lines, one in ten an exec with a token in
# its command). Every request is forwarded (GUARD_COALESCE=0), so the
# cost is per request, not shared.
#
#   bench/redact.sh
#
# Knobs: BENCH_ROUNDS (3), BENCH_DURATION (10s), BENCH_WARMUP (3s). Needs nginx, haproxy,
# wrk, python3, cargo; no dockerd. Listens on 127.0.0.1 only; the trap stops what it started.
# The Markdown report goes to stdout and to bench/results/redact-<date>.md.

set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROUNDS=${BENCH_ROUNDS:-3}
DURATION=${BENCH_DURATION:-10s}
WARMUP=${BENCH_WARMUP:-3s}
THREADS=2
CONNS=16
[[ $ROUNDS =~ ^[1-9][0-9]?$ ]] || die "BENCH_ROUNDS=$ROUNDS: expected 1 to 99"
need_tools nginx haproxy wrk curl python3 cargo

log "building socket-guard (release)"
(cd "$ROOT" && cargo build --release -p socket-guard --quiet) || die "cargo build failed"

python3 "$BENCH/make_fixtures.py" "$TMP"
split=$(python3 -c 'print("\n".join(f"        1.56% {n};" for n in range(63)) + "\n        * 63;")')
python3 - "$BENCH/redact-nginx.conf.in" "$TMP" "$split" >"$TMP/nginx.conf" <<'EOF_CONF'
import sys
text = open(sys.argv[1]).read()
print(text.replace("@DIR@", sys.argv[2]).replace("@SPLIT@", sys.argv[3]))
EOF_CONF
SOCK=$TMP/docker.sock
start nginx nginx -e "$TMP/nginx-error.log" -p "$TMP" -c "$TMP/nginx.conf"
NGINX_PID=$LAST_PID
wait_for 10 test -S "$SOCK" || die "nginx did not create $SOCK"
# measure() counts the backend's CPU as "whoami"'s: here the stand-in daemon.
WHOAMI_PID=$NGINX_PID

read -r PORT_ON PORT_OFF PORT_SCOPED PORT_BOTH PORT_HAPROXY < <(free_ports 5)
guard() { # NAME PORT REDACT [VISIBLE_LABELS]
    start "$1" env -i PATH="$PATH" GUARD_LISTEN="127.0.0.1:$2" SOCKET_PATH="$SOCK" LOG_LEVEL=warn \
        CONTAINERS=1 EVENTS=1 GUARD_COALESCE=0 GUARD_REDACT="$3" GUARD_VISIBLE_LABELS="${4:-}" "$GUARD_BIN"
}
guard redact-on "$PORT_ON" on
ON_PID=$LAST_PID
guard redact-off "$PORT_OFF" off
OFF_PID=$LAST_PID
guard scoped "$PORT_SCOPED" off 'traefik.*'
SCOPED_PID=$LAST_PID
guard scoped+redact "$PORT_BOTH" on 'traefik.*'
BOTH_PID=$LAST_PID
start haproxy env -i PATH="$PATH" BENCH_HAPROXY_BIND="127.0.0.1:$PORT_HAPROXY" BENCH_UPSTREAM_SOCKET="$SOCK" \
    CONTAINERS=1 EVENTS=1 PING=1 VERSION=1 haproxy -db -f "$BENCH/haproxy.cfg"
HAPROXY_PID=$LAST_PID
for port in "$PORT_ON" "$PORT_OFF" "$PORT_SCOPED" "$PORT_BOTH" "$PORT_HAPROXY"; do
    wait_for 10 curl -sf -o /dev/null "http://127.0.0.1:$port/v1.41/containers/json" ||
        die "127.0.0.1:$port does not answer the container list"
done

# The redacting guard really redacts, and the others pass the tokens.
curl -s "http://127.0.0.1:$PORT_ON/v1.41/containers/json" | grep -q 'secret' && die "redact-on leaked a token"
curl -s "http://127.0.0.1:$PORT_ON/v1.41/events" | grep -q 'secret' && die "redact-on leaked a token in events"
curl -s "http://127.0.0.1:$PORT_OFF/v1.41/containers/json" | grep -q 'secret' || die "redact-off redacted"
curl -s "http://127.0.0.1:$PORT_BOTH/v1.41/containers/json" | grep -q 'secret' && die "scoped+redact leaked a token"
for port in "$PORT_ON" "$PORT_OFF" "$PORT_SCOPED" "$PORT_BOTH" "$PORT_HAPROXY"; do
    n=$(curl -s "http://127.0.0.1:$port/v1.41/events" | wc -l)
    [[ $n == 20000 ]] || die "127.0.0.1:$port gave $n event lines, not 20000"
done

DATE=$(date -u +%Y-%m-%dT%H%M%SZ)
mkdir -p "$BENCH/results"
RUN=$TMP/run
mkdir -p "$RUN"
: >"$RUN/runs.tsv"
ENTRIES=("redact-on:$ON_PID:$PORT_ON" "redact-off:$OFF_PID:$PORT_OFF" "scoped:$SCOPED_PID:$PORT_SCOPED"
    "scoped+redact:$BOTH_PID:$PORT_BOTH" "haproxy:$HAPROXY_PID:$PORT_HAPROXY")
for path in /v1.41/containers/json /v1.40/containers/json /v1.41/events; do
    for entry in "${ENTRIES[@]}"; do
        IFS=: read -r label pid port <<<"$entry"
        timeout 60 wrk -t"$THREADS" -c"$CONNS" -d"$WARMUP" "http://127.0.0.1:$port$path" >/dev/null 2>&1 || true
    done
    case $path in
        /v1.41/containers/json) test=list-same ;;
        /v1.40/containers/json) test=list-changing ;;
        *) test=events ;;
    esac
    for ((round = 1; round <= ROUNDS; round++)); do
        n=${#ENTRIES[@]}
        for ((i = 0; i < n; i++)); do
            IFS=: read -r label pid port <<<"${ENTRIES[(i + round - 1) % n]}"
            measure "$label" "$test" "$round" "$pid" "http://127.0.0.1:$port$path"
        done
    done
done
for entry in "${ENTRIES[@]}"; do
    IFS=: read -r label pid _ <<<"$entry"
    alive "$pid" "$label"
done

REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
python3 - "$RUN" "$CLK_TCK" "$REV" "$(date -u '+%Y-%m-%d %H:%M UTC')" "$ROUNDS" "$DURATION" \
    >"$BENCH/results/redact-$DATE.md" <<'EOF'
import os, re, statistics, sys
run, clk, rev, date, rounds, duration = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
rows = {}
for line in open(os.path.join(run, "runs.tsv")):
    label, test, rnd, f, proxy_ticks, backend_ticks = line.split("\t")[:6]
    text = open(os.path.join(run, f)).read()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    total = int(re.search(r"(\d+) requests in", text).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    rows.setdefault((test, label), []).append(
        (rps, int(proxy_ticks) / clk / max(total, 1) * 1e6, int(errors.group(1)) if errors else 0))
print(f"# Redaction cost, {date} at {rev}\n")
print(f"`bench/redact.sh`: wrk -t2 -c16 -d{duration}, {rounds} rounds, order turning; every request forwarded (GUARD_COALESCE=0).\n")
for test, what in (("list-same", "50-container list (55 KiB), the same answer every time"),
                   ("list-changing", "50-container list (55 KiB), one of 64 different answers each time"),
                   ("events", "/events, 20,000 lines (2,000 exec lines rewritten)")):
    print(f"## {what}\n")
    print("| proxy | req/s | CPU/req µs | non-2xx |\n| --- | ---: | ---: | ---: |")
    med = {}
    for label in ("redact-on", "redact-off", "scoped", "scoped+redact", "haproxy"):
        r = rows.get((test, label), [])
        if not r:
            continue
        rps = statistics.median(x[0] for x in r)
        cpu = statistics.median(x[1] for x in r)
        med[label] = (rps, cpu)
        print(f"| {label} | {rps:,.0f} | {cpu:,.1f} | {sum(x[2] for x in r)} |")
    if "redact-on" in med and "redact-off" in med:
        on, off = med["redact-on"], med["redact-off"]
        print(f"\nredaction on / off: CPU per request {on[1] / off[1]:.2f}x, req/s {on[0] / off[0]:.2f}x")
    for label in ("scoped", "scoped+redact"):
        if label in med and "redact-off" in med:
            print(f"{label} / redact-off: CPU per request {med[label][1] / med['redact-off'][1]:.2f}x")
    if "haproxy" in med and "redact-on" in med:
        print(f"redact-on / HAProxy: CPU per request {med['redact-on'][1] / med['haproxy'][1]:.2f}x\n")
EOF
cat "$BENCH/results/redact-$DATE.md"
