#!/usr/bin/env bash
# Routing cost as the number of routes grows: the router (file provider) beside nginx (server
# names and locations) with N = 10, 100, 1,000 and 10,000 routes of a realistic mix (plain
# Host, Host + PathPrefix with a middleware, HostRegexp, PathPrefix-only; see
# bench/scale_config.py), both in front of the same backend (nginx answering `ok`). For each N,
# wrk loads the last route of each shape in turn; reported: CPU per request, requests/s and p99,
# and each relative to N = 10 in the same run, and the router's RSS.
#
#   bench/scale.sh
#
# Knobs: BENCH_SIZES ("10 100 1000 10000"), BENCH_DURATION (5s), BENCH_WARMUP (2s),
# BENCH_ROUNDS (1), BENCH_ROUTER_BIN (another router build to measure instead of this tree's). Needs nginx, wrk, python3, cargo, curl; no dockerd (the Docker provider's
# costs per event are not measured here). Listens on 127.0.0.1 only; the trap stops what it
# started. The Markdown report goes to stdout and to bench/results/scale-<date>.md.

set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SIZES=${BENCH_SIZES:-10 100 1000 10000}
DURATION=${BENCH_DURATION:-5s}
WARMUP=${BENCH_WARMUP:-2s}
ROUNDS=${BENCH_ROUNDS:-1}
THREADS=2
CONNS=16
need_tools nginx wrk python3 cargo curl
[[ $ROUNDS =~ ^[1-9]$ ]] || die "BENCH_ROUNDS=$ROUNDS: expected 1 to 9"
for n in $SIZES; do [[ $n =~ ^[1-9][0-9]{0,5}$ ]] || die "BENCH_SIZES: $n is not a route count"; done

if [[ -n ${BENCH_ROUTER_BIN:-} ]]; then
    ROUTER_BIN=$BENCH_ROUTER_BIN # another build, to compare
    [[ -x $ROUTER_BIN ]] || die "BENCH_ROUTER_BIN=$ROUTER_BIN is not an executable"
else
    log "building router (release)"
    (cd "$ROOT" && cargo build --release -p router --quiet) || die "cargo build failed"
fi

read -r PORT_BACKEND PORT_ROUTER PORT_NGINX < <(free_ports 3)
grep -v '# proxy$' "$BENCH/hold-nginx.conf.in" |
    sed -e "s#@DIR@#$TMP#g" -e "s#@ROLE@#backend#g" -e "s#@LISTEN@#127.0.0.1:$PORT_BACKEND#" >"$TMP/backend.conf"
head -c 16 /dev/zero >"$TMP/big"
start backend nginx -e "$TMP/backend-error.log" -p "$TMP" -c "$TMP/backend.conf"
WHOAMI_PID=$LAST_PID # measure() counts the backend's CPU apart
wait_for 10 curl -sf -o /dev/null "http://127.0.0.1:$PORT_BACKEND/" || die "the backend does not answer"

cat >"$TMP/router.yml" <<EOF_STATIC
entryPoints:
  web:
    address: "127.0.0.1:$PORT_ROUTER"
providers:
  file:
    filename: "$TMP/dynamic.yml"
EOF_STATIC
first=${SIZES%% *}
python3 "$BENCH/scale_config.py" "$first" "$TMP" "$PORT_BACKEND" "$PORT_NGINX" >/dev/null
cp "$TMP/dynamic-$first.yml" "$TMP/dynamic.yml"
start router env -i PATH="$PATH" LOG_LEVEL=warn ROUTER_ACCESS_LOG=false "$ROUTER_BIN" --configFile="$TMP/router.yml"
ROUTER_PID=$LAST_PID

DATE=$(date -u +%Y-%m-%dT%H%M%SZ)
mkdir -p "$BENCH/results"
RUN=$TMP/run
mkdir -p "$RUN"
: >"$RUN/runs.tsv"
: >"$RUN/rss.tsv"
NGINX_PID=
answers() { [[ $(curl -s -o /dev/null -w '%{http_code}' -H "Host: $2" "http://127.0.0.1:$1$3") == 200 ]]; }
for n in $SIZES; do
    log "N = $n routes"
    mapfile -t PROBES < <(python3 "$BENCH/scale_config.py" "$n" "$TMP" "$PORT_BACKEND" "$PORT_NGINX")
    cp "$TMP/dynamic-$n.yml" "$TMP/dynamic.new" && mv "$TMP/dynamic.new" "$TMP/dynamic.yml"
    [[ -n $NGINX_PID ]] && stop "$NGINX_PID"
    start "nginx-$n" nginx -e "$TMP/nginx-$n-error.log" -p "$TMP" -c "$TMP/nginx-$n.conf"
    NGINX_PID=$LAST_PID
    for probe in "${PROBES[@]}"; do
        read -r _ host path <<<"$probe"
        wait_for 60 answers "$PORT_ROUTER" "$host" "$path" || die "the router does not route $host$path at N=$n"
        wait_for 30 answers "$PORT_NGINX" "$host" "$path" || die "nginx does not route $host$path at N=$n"
    done
    # A route that exists in no configuration is answered 404 by both (nothing matches by accident).
    answers "$PORT_ROUTER" none.test /none && die "the router answered an unrouted request"
    printf '%s\t%s\n' "$n" "$(mem_of "$ROUTER_PID" | awk '{print $1}')" >>"$RUN/rss.tsv"
    for ((round = 1; round <= ROUNDS; round++)); do
        for probe in "${PROBES[@]}"; do
            read -r shape host path <<<"$probe"
            for entry in "router:$ROUTER_PID:$PORT_ROUTER" "nginx:$NGINX_PID:$PORT_NGINX"; do
                IFS=: read -r label pid port <<<"$entry"
                timeout 60 wrk -t"$THREADS" -c"$CONNS" -d"$WARMUP" -H "Host: $host" "http://127.0.0.1:$port$path" >/dev/null 2>&1 || true
                measure "$label" "$shape-$n" "$round" "$pid" "http://127.0.0.1:$port$path" -H "Host: $host"
            done
        done
    done
done
alive "$ROUTER_PID" router

python3 - "$RUN" "$CLK_TCK" "$(git -C "$ROOT" rev-parse --short HEAD)" "$SIZES" <<'EOF_REPORT' | tee "$BENCH/results/scale-$DATE.md"
import re, statistics, sys, time
run, clk, rev, sizes = sys.argv[1], int(sys.argv[2]), sys.argv[3], [int(x) for x in sys.argv[4].split()]
rows = {}
for line in open(f"{run}/runs.tsv"):
    label, test, rnd, f, proxy_ticks = line.split("\t")[:5]
    text = open(f"{run}/{f}").read()
    reqs = int(re.search(r"(\d+) requests in", text).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    m = re.search(r"99%\s+([\d.]+)(us|ms|s)", text)
    p99 = float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)]
    shape, n = test.rsplit("-", 1)
    cpu = int(proxy_ticks) / clk * 1e6 / max(reqs, 1)
    rows.setdefault((label, shape, int(n)), []).append((cpu, rps, p99))
rss = dict(line.split() for line in open(f"{run}/rss.tsv"))
print(f"# Routing cost by number of routes, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} at {rev}\n")
print("CPU per request (µs), requests/s and p99 of the last route of each shape; in brackets, relative to N = "
      f"{sizes[0]} in the same run (medians of the rounds). wrk -t2 -c16.\n")
print("| proxy | shape | " + " | ".join(f"N = {n:,}" for n in sizes) + " |")
print("| --- | --- | " + " | ".join("---:" for _ in sizes) + " |")
for label in ["router", "nginx"]:
    for shape in ["host", "hostpath", "regex", "path"]:
        base = rows.get((label, shape, sizes[0]))
        cells = []
        for n in sizes:
            r = rows.get((label, shape, n))
            if not r:
                cells.append("-")
                continue
            cpu, rps, p99 = (statistics.median(x[i] for x in r) for i in range(3))
            b = statistics.median(x[0] for x in base)
            cells.append(f"{cpu:.1f} µs ({cpu / b:.2f}x), {rps:,.0f}/s, p99 {p99:.2f} ms")
        print(f"| {label} | {shape} | " + " | ".join(cells) + " |")
print("\nRouter RSS after the table is in service: " + ", ".join(f"N = {int(n):,}: {int(k) / 1024:.1f} MiB" for n, k in rss.items()) + ".")
EOF_REPORT
