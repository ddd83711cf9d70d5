#!/usr/bin/env bash
# Side-by-side benchmark of the router against nginx and HAProxy as plain reverse proxies, all
# three in front of the same whoami container; then the time from `docker run -d` of a new
# labelled container to its first 200 through the router, and the router's memory with 100
# routes.
#
#   bench/router.sh           (make bench runs it after bench/guard.sh)
#
# Knobs (environment): BENCH_ROUNDS (3), BENCH_DURATION (10s), BENCH_WARMUP (3s),
# BENCH_LATENCY_RUNS (10), BENCH_RSS_CONTAINERS (10; each carries 10 routers).
# Needs a dockerd and the whoami:local image (make images), nginx (nginx-light), haproxy, wrk,
# curl, python3, cargo. Listens on 127.0.0.1 only; every loop and wait is bounded; a trap stops
# what it started and removes its containers and network (all named sg-bench-<pid>-...).
# The Markdown report goes to stdout and to bench/results/router-<date>.md, the raw output
# beside it. See bench/README.md for what each number means.

set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROUNDS=${BENCH_ROUNDS:-3}
DURATION=${BENCH_DURATION:-10s}
WARMUP=${BENCH_WARMUP:-3s}
LATENCY_RUNS=${BENCH_LATENCY_RUNS:-10}
RSS_CONTAINERS=${BENCH_RSS_CONTAINERS:-10}
ROUTERS_PER_CONTAINER=10
THREADS=2
CONNS=64
HOST=bench.test

need_tools nginx haproxy wrk curl python3 cargo docker
[[ $ROUNDS =~ ^[1-9][0-9]?$ ]] || die "BENCH_ROUNDS=$ROUNDS: expected 1 to 99"
[[ $LATENCY_RUNS =~ ^[1-9][0-9]?$ ]] || die "BENCH_LATENCY_RUNS=$LATENCY_RUNS: expected 1 to 99"
[[ $RSS_CONTAINERS =~ ^[1-9][0-9]?$ ]] || die "BENCH_RSS_CONTAINERS=$RSS_CONTAINERS: expected 1 to 99"
docker_ok || die "no dockerd answers (the router discovers containers through socket-guard and the real daemon)"
need_image

# --- 1. build, whoami, socket-guard ------------------------------------------------------------

build
read -r PORT_GUARD PORT_ROUTER PORT_LOG PORT_NGINX PORT_HAPROXY PORT_ADMIN PORT_RSS PORT_RSS_ADMIN < <(free_ports 8)

setup_backend "$PORT_GUARD"

# --- 2. the proxies ------------------------------------------------------------------------------

log "router on 127.0.0.1:$PORT_ROUTER (warn, no access log) and :$PORT_LOG (access log on)"
start_router router "$PORT_ROUTER" "$PORT_GUARD" ROUTER_ADMIN_LISTEN="127.0.0.1:$PORT_ADMIN"
ROUTER_PID=$LAST_PID
start_router router-log "$PORT_LOG" "$PORT_GUARD" LOG_LEVEL=info ROUTER_ACCESS_LOG=true
LOG_PID=$LAST_PID

log "nginx on 127.0.0.1:$PORT_NGINX and haproxy on 127.0.0.1:$PORT_HAPROXY, both to $UPSTREAM"
sed -e "s#@DIR@#$TMP#g" -e "s#@UPSTREAM@#$UPSTREAM#" -e "s#@LISTEN@#127.0.0.1:$PORT_NGINX#" -e "s#@TLS@##" \
    "$BENCH/nginx-proxy.conf.in" >"$TMP/nginx.conf"
start nginx nginx -e "$TMP/nginx-error.log" -p "$TMP" -c "$TMP/nginx.conf"
NGINX_PID=$LAST_PID
start haproxy env -i PATH="$PATH" BENCH_HAPROXY_BIND="127.0.0.1:$PORT_HAPROXY" BENCH_UPSTREAM="$UPSTREAM" \
    haproxy -db -f "$BENCH/haproxy-proxy.cfg"
HAPROXY_PID=$LAST_PID

answers() { [[ $(curl -s -o /dev/null -w '%{http_code}' -H "Host: $HOST" "http://127.0.0.1:$1/") == 200 ]]; }
for port in "$PORT_ROUTER" "$PORT_LOG" "$PORT_NGINX" "$PORT_HAPROXY"; do
    wait_for 15 answers "$port" || die "no 200 for Host: $HOST on 127.0.0.1:$port"
done
alive "$ROUTER_PID" router
alive "$LOG_PID" router-log
alive "$NGINX_PID" nginx
alive "$HAPROXY_PID" haproxy
want="Hostname: $(docker inspect -f '{{.Config.Hostname}}' "$BENCH_ID-w")"
for port in "$PORT_ROUTER" "$PORT_LOG" "$PORT_NGINX" "$PORT_HAPROXY"; do
    body=$(curl -s -H "Host: $HOST" "http://127.0.0.1:$port/")
    [[ $body == "$want"* ]] || die ":$port did not answer with the bench whoami's page"
    grep -qi "^host: $HOST" <<<"$body" || die ":$port did not pass Host: $HOST on"
done
log "all four answer 200 with the same whoami behind them"

# --- results directory and metadata --------------------------------------------------------------

DATE=$(date -u +%Y-%m-%dT%H%M%SZ)
mkdir -p "$BENCH/results"
RUN=$TMP/run
mkdir -p "$RUN"
{
    echo "KIND=router"
    echo "COMMAND=$(env | grep -E '^BENCH_' | sort | tr '\n' ' ')bench/router.sh"
    common_meta
    echo "HOST=$HOST"
    echo "UPSTREAM=$UPSTREAM"
    for entry in "router:$PORT_ROUTER" "nginx:$PORT_NGINX" "haproxy:$PORT_HAPROXY"; do
        echo "BYTES_${entry%%:*}=$(curl -s -H "Host: $HOST" "http://127.0.0.1:${entry#*:}/" | wc -c)"
    done
    echo "OTHER_ROUTES=$(curl -s "http://127.0.0.1:$PORT_ADMIN/api/routers" |
        python3 -c 'import json,sys; print(sum(1 for r in json.load(sys.stdin)["routers"] if r["name"] != "b@docker"))' 2>/dev/null || echo '?')"
} >"$RUN/meta.txt"
: >"$RUN/runs.tsv"

# --- 3. load --------------------------------------------------------------------------------------

PROXIES=("router:$ROUTER_PID:$PORT_ROUTER" "nginx:$NGINX_PID:$PORT_NGINX" "haproxy:$HAPROXY_PID:$PORT_HAPROXY"
    "router-log:$LOG_PID:$PORT_LOG")
log "warm-up: $WARMUP per proxy"
for entry in "${PROXIES[@]}"; do
    IFS=: read -r label pid port <<<"$entry"
    timeout 60 wrk -t"$THREADS" -c"$CONNS" -d"$WARMUP" -H "Host: $HOST" "http://127.0.0.1:$port/" >/dev/null 2>&1 || true
done
log_lines0=$(wc -l <"$TMP/router-log.err")
for ((round = 1; round <= ROUNDS; round++)); do
    log "round $round of $ROUNDS: wrk -t$THREADS -c$CONNS -d$DURATION --latency, Host: $HOST"
    # The order turns each round, so that no proxy is always measured first.
    n=${#PROXIES[@]}
    order=()
    for ((i = 0; i < n; i++)); do order+=("${PROXIES[(i + round - 1) % n]}"); done
    for entry in "${order[@]}"; do
        IFS=: read -r label pid port <<<"$entry"
        measure "$label" http "$round" "$pid" "http://127.0.0.1:$port/" -H "Host: $HOST"
    done
done
{
    echo "ACCESS_LOG_LINES=$(($(wc -l <"$TMP/router-log.err") - log_lines0))"
    echo "ACCESS_LOG_SAMPLE=$(grep -m1 '"target":"access"' "$TMP/router-log.err" | head -c 600)"
} >>"$RUN/meta.txt"
for entry in "${PROXIES[@]}"; do
    IFS=: read -r label pid port <<<"$entry"
    alive "$pid" "$label"
    read -r rss hwm threads < <(mem_of "$pid")
    if [[ $label == nginx ]]; then # master + workers
        rss=0 hwm=0 threads=0
        for p in "$pid" $(cat "/proc/$pid/task/"*/children 2>/dev/null); do
            read -r r h t < <(mem_of "$p")
            rss=$((rss + r)) hwm=$((hwm + h)) threads=$((threads + 1))
        done
    fi
    printf '%s\t%s\t%s\t%s\n' "$label" "$rss" "$hwm" "$threads"
done >"$RUN/rss-after-load.tsv"
stop "$LOG_PID"
stop "$HAPROXY_PID"
stop "$NGINX_PID"

# --- 4. docker run -> first 200 ---------------------------------------------------------------------

log "time from docker run -d to the first 200 through the router, $LATENCY_RUNS runs"
timeout 600 python3 "$BENCH/first200.py" --router "127.0.0.1:$PORT_ROUTER" --network "$NETWORK" \
    --prefix "$BENCH_ID-lat" --runs "$LATENCY_RUNS" --image "$WHOAMI_IMAGE" >"$RUN/first200.json" ||
    log "not every run got its 200 (see the report)"
alive "$ROUTER_PID" router
stop "$ROUTER_PID"

# --- 5. memory with 100 routes ------------------------------------------------------------------------

WANT_ROUTES=$((RSS_CONTAINERS * ROUTERS_PER_CONTAINER))
log "memory: a fresh router, then $RSS_CONTAINERS containers with $ROUTERS_PER_CONTAINER routers each"
start_router router-rss "$PORT_RSS" "$PORT_GUARD" ROUTER_ADMIN_LISTEN="127.0.0.1:$PORT_RSS_ADMIN"
RSS_PID=$LAST_PID
wait_for 15 answers "$PORT_RSS" || die "router-rss does not route $HOST"
sleep 2
read -r rss0 hwm0 thr0 < <(mem_of "$RSS_PID")
routes_of() { # prints "OURS TOTAL"
    curl -s --max-time 5 "http://127.0.0.1:$PORT_RSS_ADMIN/api/routers" | python3 -c '
import json, re, sys
rs = json.load(sys.stdin)["routers"]
print(sum(1 for r in rs if re.fullmatch(r"r\d+x\d+@docker", r["name"])), len(rs))'
}
t_start=$(date +%s.%N)
for ((i = 0; i < RSS_CONTAINERS; i++)); do
    labels=(-l traefik.enable=true -l traefik.http.services.rss.loadbalancer.server.port=8080)
    for ((n = 0; n < ROUTERS_PER_CONTAINER; n++)); do
        labels+=(-l "traefik.http.routers.r${i}x${n}.rule=Host(\`h$n-$i.test\`)" -l "traefik.http.routers.r${i}x${n}.service=rss")
    done
    run_whoami "rss-$i" "${labels[@]}"
done
has_all_routes() { read -r ours _ < <(routes_of) && [[ $ours == "$WANT_ROUTES" ]]; }
wait_for 30 has_all_routes || log "the router did not list $WANT_ROUTES bench routes within 30 s"
t_routes=$(date +%s.%N)
read -r ours total < <(routes_of)
issues=$(curl -s --max-time 5 "http://127.0.0.1:$PORT_RSS_ADMIN/api/issues" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["issues"]))' || echo '?')
sleep 2
read -r rss1 hwm1 thr1 < <(mem_of "$RSS_PID")
ok=0
for ((i = 0; i < RSS_CONTAINERS; i++)); do
    for ((n = 0; n < ROUTERS_PER_CONTAINER; n++)); do
        [[ $(curl -s -o /dev/null --max-time 5 -w '%{http_code}' -H "Host: h$n-$i.test" "http://127.0.0.1:$PORT_RSS/") == 200 ]] && ok=$((ok + 1))
    done
done
read -r rss2 hwm2 thr2 < <(mem_of "$RSS_PID")
alive "$RSS_PID" router-rss
{
    echo "RSS_WANT_ROUTES=$WANT_ROUTES"
    echo "RSS_CONTAINERS=$RSS_CONTAINERS"
    echo "RSS_ROUTES_OURS=$ours"
    echo "RSS_ROUTES_TOTAL=$total"
    echo "RSS_ISSUES=$issues"
    echo "RSS_ROUTED_OK=$ok"
    echo "RSS_SECONDS_TO_ROUTES=$(python3 -c "print(round($t_routes - $t_start, 1))")"
    echo "RSS_BEFORE=$rss0 $hwm0 $thr0"
    echo "RSS_WITH_ROUTES=$rss1 $hwm1 $thr1"
    echo "RSS_AFTER_REQUESTS=$rss2 $hwm2 $thr2"
} >>"$RUN/meta.txt"
stop "$RSS_PID"

# --- 6. report ------------------------------------------------------------------------------------------

python3 "$BENCH/report_proxy.py" "$RUN" >"$BENCH/results/router-$DATE.md"
mkdir -p "$BENCH/results/router-$DATE.raw"
cp "$RUN"/* "$BENCH/results/router-$DATE.raw/"
cat "$BENCH/results/router-$DATE.md"
log "report: bench/results/router-$DATE.md (raw output in bench/results/router-$DATE.raw/)"
