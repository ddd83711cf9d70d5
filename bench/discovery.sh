#!/usr/bin/env bash
# Docker discovery at scale: the router's Docker provider against a stand-in Docker API
# (bench/discovery.py) with N = 10, 1,000 and 10,000 routed containers of a realistic mix. For
# each N: the time from a container's `start` event to its first 200, the router's CPU per
# event, a 200-container storm's convergence after its last event with the p99 of a steady
# load beside it, and the router's RSS. nginx and HAProxy have no Docker discovery: nothing is
# beside the router here (bench/scale.sh has them for the routing cost at the same N).
#
#   bench/discovery.sh
#
# Knobs: BENCH_SIZES ("10 1000 10000"), BENCH_EVENTS (20), BENCH_ROUTER_BIN (another router
# build to measure instead of this tree's); the allocator's MIMALLOC_* variables reach the
# router. Needs nginx, python3, cargo, curl; no dockerd.
# Listens on 127.0.0.1 only; the trap stops what it started. The Markdown report goes to
# stdout and to bench/results/discovery-<date>.md.

set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SIZES=${BENCH_SIZES:-10 1000 10000}
EVENTS=${BENCH_EVENTS:-20}
need_tools nginx python3 cargo curl
for n in $SIZES; do [[ $n =~ ^[1-9][0-9]{0,5}$ ]] || die "BENCH_SIZES: $n is not a container count"; done
[[ $EVENTS =~ ^[1-9][0-9]{0,2}$ ]] || die "BENCH_EVENTS=$EVENTS: expected 1 to 999"

if [[ -n ${BENCH_ROUTER_BIN:-} ]]; then
    ROUTER_BIN=$BENCH_ROUTER_BIN
    [[ -x $ROUTER_BIN ]] || die "BENCH_ROUTER_BIN=$ROUTER_BIN is not an executable"
else
    log "building router (release)"
    (cd "$ROOT" && cargo build --release -p router --quiet) || die "cargo build failed"
fi

read -r PORT_BACKEND < <(free_ports 1)
grep -v '# proxy$' "$BENCH/hold-nginx.conf.in" |
    sed -e "s#@DIR@#$TMP#g" -e "s#@ROLE@#backend#g" -e "s#@LISTEN@#127.0.0.1:$PORT_BACKEND#" >"$TMP/backend.conf"
head -c 16 /dev/zero >"$TMP/big"
start backend nginx -e "$TMP/backend-error.log" -p "$TMP" -c "$TMP/backend.conf"
wait_for 10 curl -sf -o /dev/null "http://127.0.0.1:$PORT_BACKEND/" || die "the backend does not answer"

DATE=$(date -u +%Y-%m-%dT%H%M%SZ)
mkdir -p "$BENCH/results"
log "measuring N = $SIZES (this takes a minute or two per size)"
python3 "$BENCH/discovery.py" "$ROUTER_BIN" "$PORT_BACKEND" --sizes "${SIZES// /,}" --events "$EVENTS" >"$TMP/results.jsonl" ||
    die "discovery.py failed"

python3 - "$TMP/results.jsonl" "$(git -C "$ROOT" rev-parse --short HEAD)" "$EVENTS" <<'EOF_REPORT' | tee "$BENCH/results/discovery-$DATE.md"
import json, statistics, sys, time
rows = [json.loads(l) for l in open(sys.argv[1])]
rev, events = sys.argv[2], sys.argv[3]
print(f"# Docker discovery at scale, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} at {rev}\n")
print(f"The router against a stand-in Docker API; {events} events for each figure of the first three columns.\n")
print("| containers | event to first 200, p50 (max) | CPU per event | lists per event | storm of 200: converged after its last event, median (each) | steady load p99, quiet / storm | RSS at rest |")
print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for r in rows:
    f = r["first200_ms"]
    print(f"| {r['n']:,} | {statistics.median(f):.1f} ms ({max(f):.1f} ms) | {r['cpu_per_event_ms']:.2f} ms "
          f"| {r['lists_per_event']:.0f} | {r['storm_converged_ms']:.0f} ms ({', '.join(f'{x:.0f}' for x in r['storms_converged_ms'])}) | {r['p99_quiet_ms']:.2f} / {r['p99_storm_ms']:.2f} ms "
          f"| {r['rss_kib'] / 1024:.1f} MiB |")
bad = sum(r["load_not_200"] for r in rows)
lost = sum(r["threads_lost"] for r in rows)
resynced = sum(r.get("cpu_readings_with_resync", 0) for r in rows)
print(f"\nAnswers other than 200 to the steady load: {bad}. Router threads gone during a CPU reading: {lost}. "
      f"CPU readings taken again for a resync in them: {resynced}.")
EOF_REPORT
