#!/usr/bin/env bash
# Side-by-side benchmark: socket-guard against HAProxy configured like the env-var socket
# proxies, both in front of the same stand-in daemon (nginx on a unix socket), then both in
# front of the real dockerd, then the guard's memory with 500 open /events streams.
#
#   bench/guard.sh            (or: make bench)
#
# Knobs (environment): BENCH_ROUNDS (3), BENCH_DURATION (10s), BENCH_WARMUP (3s),
# BENCH_STREAMS (500), BENCH_DOCKER_SOCKET (/var/run/docker.sock).
# Needs nginx (nginx-light), haproxy, wrk, curl, python3, cargo. Listens on 127.0.0.1 only;
# every loop is bounded; everything it starts is stopped on exit. The Markdown report goes to
# stdout and to bench/results/guard-<date>.md, the raw wrk output beside it.
# See bench/README.md for what each number means.

set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROUNDS=${BENCH_ROUNDS:-3}
DURATION=${BENCH_DURATION:-10s}
WARMUP=${BENCH_WARMUP:-3s}
STREAMS=${BENCH_STREAMS:-500}
REAL_SOCKET=${BENCH_DOCKER_SOCKET:-/var/run/docker.sock}
THREADS=2
CONNS=32
PATHS=(/_ping /v1.41/containers/json)

need_tools nginx haproxy wrk curl python3 cargo
[[ $ROUNDS =~ ^[1-9][0-9]?$ ]] || die "BENCH_ROUNDS=$ROUNDS: expected 1 to 99"
[[ $STREAMS =~ ^[1-9][0-9]{0,3}$ ]] || die "BENCH_STREAMS=$STREAMS: expected 1 to 9999"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# --- 1. build --------------------------------------------------------------------------------

log "building socket-guard (release)"
(cd "$ROOT" && cargo build --release -p socket-guard --quiet) || die "cargo build failed"
[[ -x $GUARD_BIN ]] || die "no binary at $GUARD_BIN"

read -r PORT_GUARD PORT_HAPROXY PORT_INFO PORT_REAL PORT_HAPROXY_REAL PORT_MEM PORT_ALONE PORT_REAL_ALONE \
    PORT_ADMIN PORT_REAL_ADMIN < <(free_ports 10)

# --- 2. the stand-in daemon ------------------------------------------------------------------

cp "$BENCH/fixtures/containers.json" "$TMP/containers.json"
sed "s#@DIR@#$TMP#g" "$BENCH/nginx.conf.in" >"$TMP/nginx.conf"
SOCK=$TMP/docker.sock
log "starting nginx on $SOCK"
start nginx nginx -e "$TMP/nginx-error.log" -p "$TMP" -c "$TMP/nginx.conf"
NGINX_PID=$LAST_PID
wait_for 10 test -S "$SOCK" || die "nginx did not create $SOCK: $(cat "$TMP/nginx-error.log" "$TMP/nginx.err" 2>/dev/null)"
alive "$NGINX_PID" nginx

# --- 3. HAProxy --------------------------------------------------------------------------------

log "starting haproxy on 127.0.0.1:$PORT_HAPROXY"
start haproxy env -i PATH="$PATH" BENCH_HAPROXY_BIND="127.0.0.1:$PORT_HAPROXY" BENCH_UPSTREAM_SOCKET="$SOCK" \
    CONTAINERS=1 EVENTS=1 PING=1 VERSION=1 haproxy -db -f "$BENCH/haproxy.cfg"
HAPROXY_PID=$LAST_PID

# --- 4. socket-guard -------------------------------------------------------------------------

guard() { # NAME PORT SOCKET LOG_LEVEL(or "") [VAR=VALUE ...]
    local name=$1 port=$2 socket=$3 level=$4
    shift 4
    start "$name" env -i PATH="$PATH" GUARD_LISTEN="127.0.0.1:$port" SOCKET_PATH="$socket" \
        ${level:+LOG_LEVEL=$level} "$@" "$GUARD_BIN"
}
# Redaction is off here (bench/redact.sh measures it): the proxy path alone is compared.
# "guard" runs as shipped (identical concurrent reads share one daemon answer, GUARD_COALESCE=1);
# "guard-alone" forwards every request (GUARD_COALESCE=0), the proxy path alone.
log "starting socket-guard on 127.0.0.1:$PORT_GUARD (warn), 127.0.0.1:$PORT_ALONE (warn, GUARD_COALESCE=0) and 127.0.0.1:$PORT_INFO (info)"
guard guard "$PORT_GUARD" "$SOCK" warn CONTAINERS=1 GUARD_REDACT=off GUARD_ADMIN_LISTEN="127.0.0.1:$PORT_ADMIN"
GUARD_PID=$LAST_PID
guard guard-alone "$PORT_ALONE" "$SOCK" warn CONTAINERS=1 GUARD_REDACT=off GUARD_COALESCE=0
ALONE_PID=$LAST_PID
guard guard-info "$PORT_INFO" "$SOCK" info CONTAINERS=1 GUARD_REDACT=off
INFO_PID=$LAST_PID

for port in "$PORT_HAPROXY" "$PORT_GUARD" "$PORT_ALONE" "$PORT_INFO"; do
    wait_for 10 curl -sf -o /dev/null "http://127.0.0.1:$port/_ping" || die "nothing answers on 127.0.0.1:$port"
done
alive "$HAPROXY_PID" haproxy
alive "$GUARD_PID" guard
alive "$INFO_PID" guard-info
alive "$ALONE_PID" guard-alone

# --- sanity: same answers, same refusals -----------------------------------------------------

status() { curl -s -o /dev/null -w '%{http_code}' -X "$1" "$2"; }
want=$(cat "$BENCH/fixtures/containers.json")
for port in "$PORT_GUARD" "$PORT_ALONE" "$PORT_HAPROXY"; do
    for path in /_ping /v1.41/_ping /containers/json /v1.41/containers/json; do
        [[ $(status GET "http://127.0.0.1:$port$path") == 200 ]] || die "GET $path on :$port is not 200"
    done
    [[ $(curl -s "http://127.0.0.1:$port/v1.41/containers/json") == "$want" ]] || die ":$port changed the body"
    [[ $(curl -s -D - -o /dev/null "http://127.0.0.1:$port/_ping" | tr -d '\r' | grep -ci '^api-version: 1.41$') == 1 ]] ||
        die ":$port lost the Api-Version header"
    [[ $(status GET "http://127.0.0.1:$port/v1.41/images/json") == 403 ]] || die "GET /images/json on :$port is not 403"
    [[ $(status POST "http://127.0.0.1:$port/v1.41/containers/create") == 403 ]] || die "POST on :$port is not 403"
done
log "every proxy answers 200 on the benchmarked paths and 403 outside the allow-list"

# --- results directory and metadata ----------------------------------------------------------

DATE=$(date -u +%Y-%m-%dT%H%M%SZ)
mkdir -p "$BENCH/results"
RUN=$TMP/run
mkdir -p "$RUN"
key() { local k=${1//\//_}; echo "${k//./_}"; }
{
    common_meta
    echo "COMMAND=$(env | grep -E '^BENCH_' | sort | tr '\n' ' ')bench/guard.sh"
    # The daemon measured here is the one at BENCH_DOCKER_SOCKET, which may not be the CLI's.
    echo "DOCKER=$(curl -s --max-time 5 --unix-socket "$REAL_SOCKET" http://d/version |
        python3 -c 'import json,sys; v=json.load(sys.stdin); print(v["Version"], "API", v["ApiVersion"])' 2>/dev/null || echo unavailable)"
    echo "PATHS=${PATHS[*]}"
    for path in "${PATHS[@]}"; do
        echo "BYTES_$(key "$path")=$(curl -s "http://127.0.0.1:$PORT_GUARD$path" | wc -c)"
    done
} >"$RUN/meta.txt"
: >"$RUN/runs.tsv"

# --- 5. load ---------------------------------------------------------------------------------

# Ticks of the whole machine from /proc/stat: "TOTAL BUSY STEAL" (busy excludes idle, iowait, steal).
machine_ticks() {
    awk '/^cpu / {t = $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9; print t, t - $5 - $6 - $9, $9}' /proc/stat
}
nginx_ticks() {
    local pid sum=0
    for pid in "$NGINX_PID" $(cat "/proc/$NGINX_PID/task/"*/children 2>/dev/null); do
        sum=$((sum + $(cpu_ticks "$pid" 2>/dev/null || echo 0)))
    done
    echo "$sum"
}

# One wrk run against LABEL's port. Records the proxy's CPU time over the run and, to show how
# noisy the machine was, the hypervisor's steal and the CPU used by anything other than the
# proxy, nginx and wrk (both in % of all CPUs).
measure() { # LABEL PID PORT PATH ROUND
    local label=$1 pid=$2 port=$3 path=$4 round=$5 file before after m0 m1 n0 n1 wrk_s TIMEFORMAT='%3U %3S'
    file="wrk-$label-$(key "$path")-$round.txt"
    before=$(cpu_ticks "$pid")
    read -r -a m0 < <(machine_ticks)
    n0=$(nginx_ticks)
    wrk_s=$({ time timeout 120 wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "http://127.0.0.1:$port$path" \
        >"$RUN/$file" 2>&1; } 2>&1) || log "wrk against $label $path exited with an error (see $file)"
    after=$(cpu_ticks "$pid")
    read -r -a m1 < <(machine_ticks)
    n1=$(nginx_ticks)
    python3 - "$label" "$path" "$round" "$file" "$((after - before))" "$((m1[0] - m0[0]))" "$((m1[1] - m0[1]))" \
        "$((m1[2] - m0[2]))" "$((n1 - n0))" "$wrk_s" "$CLK_TCK" >>"$RUN/runs.tsv" <<'PY'
import sys
label, path, rnd, file, proxy, total, busy, steal, nginx, wrk_s, hz = sys.argv[1:]
total = max(int(total), 1)
wrk = sum(float(x) for x in wrk_s.split()) * int(hz)
other = max(0.0, int(busy) - int(proxy) - int(nginx) - wrk)
print("\t".join([label, path, rnd, file, proxy, f"{100 * int(steal) / total:.0f}", f"{100 * other / total:.0f}"]))
PY
    log "$label $path round $round: $(grep -E 'Requests/sec' "$RUN/$file" | awk '{print $2}') req/s"
}
warm() { # PORT PATH
    timeout 60 wrk -t"$THREADS" -c"$CONNS" -d"$WARMUP" "http://127.0.0.1:$1$2" >/dev/null 2>&1 || true
}

log "warm-up ($WARMUP per proxy and path)"
for path in "${PATHS[@]}"; do
    for port in "$PORT_GUARD" "$PORT_ALONE" "$PORT_HAPROXY" "$PORT_INFO"; do
        warm "$port" "$path"
    done
done
for ((round = 1; round <= ROUNDS; round++)); do
    for path in "${PATHS[@]}"; do
        measure guard "$GUARD_PID" "$PORT_GUARD" "$path" "$round"
        measure haproxy "$HAPROXY_PID" "$PORT_HAPROXY" "$path" "$round"
        measure guard-alone "$ALONE_PID" "$PORT_ALONE" "$path" "$round"
        measure guard-info "$INFO_PID" "$PORT_INFO" "$path" "$round"
    done
done
alive "$GUARD_PID" guard
alive "$HAPROXY_PID" haproxy
alive "$ALONE_PID" guard-alone
alive "$INFO_PID" guard-info
# How many of the guard's answers were shared, over everything it served (warm-up included).
shared_counts() { # LABEL ADMIN_PORT
    curl -s --max-time 5 "http://127.0.0.1:$2/metrics" | awk -v l="$1" '
        /^socket_guard_shared_answers_total / {s = $2}
        /^socket_guard_requests_total\{/ {r += $2}
        END {printf "SHARED_%s=%d\nSERVED_%s=%d\n", l, s, l, r}' >>"$RUN/meta.txt"
}
shared_counts guard "$PORT_ADMIN"
{
    for entry in "guard:$GUARD_PID" "haproxy:$HAPROXY_PID" "guard-alone:$ALONE_PID" "guard-info:$INFO_PID"; do
        awk -v l="${entry%%:*}" '/^VmRSS/ {r = $2} /^VmHWM/ {h = $2} END {printf "%s\t%s\t%s\n", l, r, h}' \
            "/proc/${entry#*:}/status"
    done
} >"$RUN/rss.tsv"
# The idle proxies are no longer needed; the rest runs against the real daemon.
stop "$INFO_PID"
stop "$HAPROXY_PID"
stop "$ALONE_PID"
stop "$GUARD_PID"

# --- 6. the real dockerd ---------------------------------------------------------------------

if curl -sf --max-time 5 --unix-socket "$REAL_SOCKET" -o /dev/null http://d/_ping; then
    log "socket-guard (127.0.0.1:$PORT_REAL) and HAProxy (127.0.0.1:$PORT_HAPROXY_REAL) in front of the real dockerd ($REAL_SOCKET)"
    guard guard-real "$PORT_REAL" "$REAL_SOCKET" warn CONTAINERS=1 GUARD_ADMIN_LISTEN="127.0.0.1:$PORT_REAL_ADMIN"
    REAL_PID=$LAST_PID
    guard guard-real-alone "$PORT_REAL_ALONE" "$REAL_SOCKET" warn CONTAINERS=1 GUARD_COALESCE=0
    REAL_ALONE_PID=$LAST_PID
    start haproxy-real env -i PATH="$PATH" BENCH_HAPROXY_BIND="127.0.0.1:$PORT_HAPROXY_REAL" \
        BENCH_UPSTREAM_SOCKET="$REAL_SOCKET" CONTAINERS=1 EVENTS=1 PING=1 VERSION=1 haproxy -db -f "$BENCH/haproxy.cfg"
    HAPROXY_REAL_PID=$LAST_PID
    wait_for 10 curl -sf -o /dev/null "http://127.0.0.1:$PORT_REAL/_ping" || die "guard-real does not answer"
    wait_for 10 curl -sf -o /dev/null "http://127.0.0.1:$PORT_REAL_ALONE/_ping" || die "guard-real-alone does not answer"
    wait_for 10 curl -sf -o /dev/null "http://127.0.0.1:$PORT_HAPROXY_REAL/_ping" || die "haproxy-real does not answer"
    echo "REAL_CONTAINERS=$(curl -s "http://127.0.0.1:$PORT_REAL/v1.41/containers/json" |
        python3 -c 'import json, sys; print(len(json.load(sys.stdin)))' 2>/dev/null || echo '?')" >>"$RUN/meta.txt"
    for path in "${PATHS[@]}"; do
        echo "REAL_BYTES_$(key "$path")=$(curl -s "http://127.0.0.1:$PORT_REAL$path" | wc -c)" >>"$RUN/meta.txt"
        warm "$PORT_REAL" "$path"
        warm "$PORT_HAPROXY_REAL" "$path"
        warm "$PORT_REAL_ALONE" "$path"
    done
    for ((round = 1; round <= ROUNDS; round++)); do
        for path in "${PATHS[@]}"; do
            measure guard-real "$REAL_PID" "$PORT_REAL" "$path" "$round"
            measure haproxy-real "$HAPROXY_REAL_PID" "$PORT_HAPROXY_REAL" "$path" "$round"
            measure guard-real-alone "$REAL_ALONE_PID" "$PORT_REAL_ALONE" "$path" "$round"
        done
    done
    alive "$REAL_PID" guard-real
    alive "$HAPROXY_REAL_PID" haproxy-real
    alive "$REAL_ALONE_PID" guard-real-alone
    shared_counts guard_real "$PORT_REAL_ADMIN"
    stop "$HAPROXY_REAL_PID"
    stop "$REAL_ALONE_PID"
    stop "$REAL_PID"

    # --- 7. memory with open /events streams -------------------------------------------------

    log "memory: $STREAMS concurrent /v1.41/events streams through a fresh guard"
    guard guard-mem "$PORT_MEM" "$REAL_SOCKET" ""
    MEM_PID=$LAST_PID
    wait_for 10 curl -sf -o /dev/null "http://127.0.0.1:$PORT_MEM/_ping" || die "guard-mem does not answer"
    event_cmd=""
    if command -v docker >/dev/null; then
        vol="sg-bench-$$"
        event_cmd="sh -c 'docker -H unix://$REAL_SOCKET volume create $vol && docker -H unix://$REAL_SOCKET volume rm $vol'"
    fi
    timeout 120 python3 "$BENCH/events_rss.py" --addr "127.0.0.1:$PORT_MEM" --pid "$MEM_PID" \
        --streams "$STREAMS" --timeout 30 --event-cmd "$event_cmd" >"$RUN/memory.json" ||
        log "not every /events stream opened (see the report)"
    alive "$MEM_PID" guard-mem
    stop "$MEM_PID"
else
    log "no daemon answers on $REAL_SOCKET: skipping the real-daemon and memory runs"
    echo "REAL_SKIPPED=no daemon answered on $REAL_SOCKET" >>"$RUN/meta.txt"
    echo "MEM_SKIPPED=no daemon answered on $REAL_SOCKET" >>"$RUN/meta.txt"
fi

# --- 8. report -------------------------------------------------------------------------------

python3 "$BENCH/report.py" "$RUN" >"$BENCH/results/guard-$DATE.md"
mkdir -p "$BENCH/results/guard-$DATE.raw"
cp "$RUN"/* "$BENCH/results/guard-$DATE.raw/"
cat "$BENCH/results/guard-$DATE.md"
log "report: bench/results/guard-$DATE.md (raw wrk output in bench/results/guard-$DATE.raw/)"
