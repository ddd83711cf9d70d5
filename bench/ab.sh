#!/usr/bin/env bash
# The router against an earlier build of itself, side by side in one run: is a change a
# regression? Both routers route the same whoami container (Host: bench.test) through the
# same socket-guard; wrk loads each in turn, the order turning every round.
#
#   bench/ab.sh BASE_ROUTER_BINARY
#
# Build the base in a worktree, for instance:
#   git worktree add /tmp/base <rev> && (cd /tmp/base && cargo build --release -p router)
#   bench/ab.sh /tmp/base/target/release/router
#
# Knobs: BENCH_ROUNDS (4), BENCH_DURATION (8s), AB_NEW_ENV (VAR=value words added to the new
# router's environment, to compare a setting). Needs what router.sh needs (a dockerd, the
# whoami:local image, wrk, curl, python3, cargo). Prints a table: req/s, p99 and CPU per
# request of each round, and the medians.

set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BASE=${1:-}
[[ -x $BASE ]] || die "usage: bench/ab.sh BASE_ROUTER_BINARY (an executable router built from another revision)"
ROUNDS=${BENCH_ROUNDS:-4}
DURATION=${BENCH_DURATION:-8s}
THREADS=2
CONNS=64
HOST=bench.test
need_tools wrk curl python3 cargo docker
docker_ok || die "no dockerd answers"
need_image
build
read -r PORT_GUARD PORT_NEW PORT_BASE < <(free_ports 3)
setup_backend "$PORT_GUARD"
start_router new "$PORT_NEW" "$PORT_GUARD" ${AB_NEW_ENV:-}
NEW_PID=$LAST_PID
ROUTER_BIN=$BASE start_router base "$PORT_BASE" "$PORT_GUARD"
BASE_PID=$LAST_PID
answers() { [[ $(curl -s -o /dev/null -w '%{http_code}' -H "Host: $HOST" "http://127.0.0.1:$1/") == 200 ]]; }
wait_for 15 answers "$PORT_NEW" || die "the new router does not route $HOST"
wait_for 15 answers "$PORT_BASE" || die "the base router does not route $HOST"
RUN=$TMP/run
mkdir -p "$RUN"
: >"$RUN/runs.tsv"
for port in "$PORT_NEW" "$PORT_BASE"; do
    timeout 60 wrk -t"$THREADS" -c"$CONNS" -d3s -H "Host: $HOST" "http://127.0.0.1:$port/" >/dev/null 2>&1 || true
done
ENTRIES=("new:$NEW_PID:$PORT_NEW" "base:$BASE_PID:$PORT_BASE")
for ((round = 1; round <= ROUNDS; round++)); do
    for ((i = 0; i < 2; i++)); do
        IFS=: read -r label pid port <<<"${ENTRIES[(i + round - 1) % 2]}"
        measure "$label" http "$round" "$pid" "http://127.0.0.1:$port/" -H "Host: $HOST"
    done
done
alive "$NEW_PID" new
alive "$BASE_PID" base
python3 - "$RUN" "$CLK_TCK" "$(git -C "$ROOT" rev-parse --short HEAD)" "$BASE" <<'EOF'
import os, re, statistics, sys
run, clk, rev, base = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
rows = {}
for line in open(os.path.join(run, "runs.tsv")):
    label, _, rnd, f, proxy_ticks = line.split("\t")[:5]
    text = open(os.path.join(run, f)).read()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    total = int(re.search(r"(\d+) requests in", text).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", text)
    p99 = float(p99.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[p99.group(2)]
    cpu = int(proxy_ticks) / clk / total * 1e6
    rows.setdefault(label, []).append((int(rnd), rps, p99, cpu))
print(f"new: the working tree at {rev}; base: {base}\n")
print("| router | round | req/s | p99 ms | CPU/req µs |\n| --- | ---: | ---: | ---: | ---: |")
for label in ("new", "base"):
    for rnd, rps, p99, cpu in sorted(rows[label]):
        print(f"| {label} | {rnd} | {rps:,.0f} | {p99:.2f} | {cpu:.1f} |")
med = {l: [statistics.median(x[i] for x in rows[l]) for i in (1, 2, 3)] for l in rows}
for label in ("new", "base"):
    rps, p99, cpu = med[label]
    print(f"| {label} | median | {rps:,.0f} | {p99:.2f} | {cpu:.1f} |")
n, b = med["new"], med["base"]
print(f"\nnew / base: req/s {n[0] / b[0]:.2f}x, p99 {n[1] / b[1]:.2f}x, CPU per request {n[2] / b[2]:.2f}x")
EOF
