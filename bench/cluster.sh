#!/usr/bin/env bash
# Cluster mode beside a single router, on this machine, all discovering through one
# socket-guard in front of the real dockerd, all with the same 1,000-router dynamic file:
#   1. from `docker run -d` of a labelled container to its first 200 through a single router
#      and through each of three data planes (one run, the same containers);
#   2. with ten data planes: a router added to the file until all ten serve it, and the
#      controller's CPU for those publications and its memory;
#   3. the message itself at 1,000 containers (cargo run --example cluster_message).
#
#   bench/cluster.sh        (needs a dockerd and whoami:local; about 3 minutes after the build)
#
# Knobs (environment): BENCH_RUNS (10), BENCH_ROUTES (1000), BENCH_PLANES (10).
# Listens on 127.0.0.1 only; a trap stops what it started and removes its containers.

set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUNS=${BENCH_RUNS:-10}
ROUTES=${BENCH_ROUTES:-1000}
PLANES=${BENCH_PLANES:-10}
HOST=bench.test
[[ $RUNS =~ ^[1-9][0-9]?$ ]] || die "BENCH_RUNS=$RUNS: expected 1 to 99"
[[ $ROUTES =~ ^[1-9][0-9]{0,4}$ ]] || die "BENCH_ROUTES=$ROUTES: expected 1 to 99999"
[[ $PLANES =~ ^[3-9]$|^[1-2][0-9]$ ]] || die "BENCH_PLANES=$PLANES: expected 3 to 29"
need_tools curl python3 cargo docker
docker_ok || die "no dockerd answers"
need_image
build

read -r -a PORTS < <(free_ports $((PLANES + 4)))
PORT_GUARD=${PORTS[0]} PORT_SINGLE=${PORTS[1]} PORT_CTL_WEB=${PORTS[2]} PORT_CTL=${PORTS[3]}
setup_backend "$PORT_GUARD"
"$ROUTER_BIN" cluster-certs "$TMP/tls" localhost >/dev/null
FILE=$TMP/dynamic.yaml
python3 - "$ROUTES" "$UPSTREAM" >"$FILE" <<'PY'
import sys
n, upstream = int(sys.argv[1]), sys.argv[2]
print("http:\n  routers:")
for i in range(n):
    print(f"    r{i}:\n      rule: Host(`r{i}.test`)\n      service: pub")
print(f"  services:\n    pub:\n      loadBalancer:\n        servers:\n          - url: http://{upstream}")
PY
providers=(TRAEFIK_PROVIDERS_DOCKER=true TRAEFIK_PROVIDERS_DOCKER_EXPOSEDBYDEFAULT=false
    "TRAEFIK_PROVIDERS_DOCKER_NETWORK=$NETWORK" "TRAEFIK_PROVIDERS_FILE_FILENAME=$FILE")
tls_of() { echo "ROUTER_CONTROLLER_TLS_CA=$TMP/tls/ca.pem ROUTER_CONTROLLER_TLS_CERT=$TMP/tls/$1.pem ROUTER_CONTROLLER_TLS_KEY=$TMP/tls/$1-key.pem"; }

log "a single router on :$PORT_SINGLE and a controller (data planes on :$PORT_CTL), both with $ROUTES file routers"
start_router single "$PORT_SINGLE" "$PORT_GUARD" "${providers[@]}"
SINGLE_PID=$LAST_PID
# shellcheck disable=SC2046
start_router controller "$PORT_CTL_WEB" "$PORT_GUARD" "${providers[@]}" \
    ROUTER_CONTROLLER_LISTEN="127.0.0.1:$PORT_CTL" $(tls_of controller)
CTL_PID=$LAST_PID
start_plane() { # INDEX
    local port=${PORTS[$((4 + $1))]}
    # shellcheck disable=SC2046
    start "plane$1" env -i PATH="$PATH" ROUTER_CONTROLLER="localhost:$PORT_CTL" $(tls_of data-plane) \
        ROUTER_WEB_LISTEN="127.0.0.1:$port" ROUTER_WEBSECURE_LISTEN=off LOG_LEVEL=warn ROUTER_ACCESS_LOG=false "$ROUTER_BIN"
}
targets() { # FIRST LAST (data planes), plus the single router with "single"
    local t="" i
    [[ ${3:-} == single ]] && t="single=127.0.0.1:$PORT_SINGLE,"
    for ((i = $1; i <= $2; i++)); do t+="plane$i=127.0.0.1:${PORTS[$((4 + i))]},"; done
    echo "${t%,}"
}
for i in 0 1 2; do start_plane "$i"; done
answers() { [[ $(curl -s -o /dev/null -w '%{http_code}' -H "Host: r$((ROUTES - 1)).test" "http://$1/") == 200 ]]; }
for t in $(targets 0 2 single | tr ',' ' '); do
    wait_for 30 answers "${t#*=}" || die "${t%%=*} does not serve the file's routers"
done

DATE=$(date -u +%Y-%m-%dT%H%M%SZ)
RUN=$TMP/run
mkdir -p "$RUN" "$BENCH/results"
log "1. first 200 after docker run: single router and three data planes ($RUNS runs)"
python3 "$BENCH/cluster_probe.py" first200 --targets "$(targets 0 2 single)" \
    --network "$NETWORK" --prefix "$BENCH_ID" --runs "$RUNS" >"$RUN/first200.json"

log "2. $PLANES data planes: publications of one more file router"
for ((i = 3; i < PLANES; i++)); do start_plane "$i"; done
for t in $(targets 0 $((PLANES - 1)) | tr ',' ' '); do
    wait_for 30 answers "${t#*=}" || die "${t%%=*} does not serve the file's routers"
done
sleep 2
c0=$(tree_ticks "$CTL_PID")
s0=$(tree_ticks "$SINGLE_PID")
python3 "$BENCH/cluster_probe.py" publish --targets "$(targets 0 $((PLANES - 1)) single)" \
    --file "$FILE" --rounds "$RUNS" >"$RUN/publish.json"
c1=$(tree_ticks "$CTL_PID")
s1=$(tree_ticks "$SINGLE_PID")
read -r CTL_RSS CTL_HWM _ < <(mem_of "$CTL_PID")
read -r SINGLE_RSS _ _ < <(mem_of "$SINGLE_PID")
cat >"$RUN/meta.env" <<META
CTL_TICKS=$((c1 - c0))
SINGLE_TICKS=$((s1 - s0))
CTL_RSS=$CTL_RSS
CTL_HWM=$CTL_HWM
SINGLE_RSS=$SINGLE_RSS
META

log "3. the message at $ROUTES containers"
(cd "$ROOT" && cargo run --release -q -p router --example cluster_message -- "$ROUTES") >"$RUN/message.txt"

python3 - "$RUN" "$DATE" "$(git -C "$ROOT" rev-parse --short HEAD)" "$RUNS" "$ROUTES" "$PLANES" "$CLK_TCK" \
    >"$BENCH/results/cluster-$DATE.md" <<'PY'
import json, sys
run, date, rev, runs, routes, planes, clk = sys.argv[1:]
first = json.load(open(f"{run}/first200.json"))
pub = json.load(open(f"{run}/publish.json"))
meta = dict(l.strip().split("=", 1) for l in open(f"{run}/meta.env") if "=" in l)
print(f"# Cluster mode, {date} (commit {rev})\n")
print(f"From `docker run -d` of a labelled container to its first 200 ({runs} runs; all with {routes} file routers besides):\n")
print("| router | median (s) | max (s) | missed |\n|---|---:|---:|---:|")
for name, v in first.items():
    print(f"| {name} | {v['median']} | {v['max']} | {v['missed']} |")
single = first["single"]["median"]
worst = max(v["median"] for n, v in first.items() if n != "single")
print(f"\nSlowest data plane's median minus the single router's: {1000 * (worst - single):.0f} ms.\n")
print(f"One router added to the {routes}-router file, until each of {planes} data planes (and the single router) serves it ({runs} rounds):\n")
print("| router | median (s) | max (s) | missed |\n|---|---:|---:|---:|")
for name, v in pub.items():
    print(f"| {name} | {v['median']} | {v['max']} | {v['missed']} |")
t = int(clk)
print(f"\nCPU over those {runs} publications: controller {int(meta['CTL_TICKS']) / t:.2f} s "
      f"({1000 * int(meta['CTL_TICKS']) / t / int(runs):.0f} ms each, {planes} data planes), "
      f"single router {int(meta['SINGLE_TICKS']) / t:.2f} s. Memory (RSS): controller "
      f"{int(meta['CTL_RSS']) / 1024:.1f} MiB (peak {int(meta['CTL_HWM']) / 1024:.1f}), single router "
      f"{int(meta['SINGLE_RSS']) / 1024:.1f} MiB.\n")
print(open(f"{run}/message.txt").read().strip())
PY
cp -r "$RUN" "$BENCH/results/cluster-$DATE.raw"
cat "$BENCH/results/cluster-$DATE.md"
log "report: bench/results/cluster-$DATE.md"
