# Shared by bench/guard.sh, bench/router.sh and bench/tls.sh. Sourced, not run.
#
# Gives: logging, a temporary directory, background processes and containers that a trap
# stops and removes (also on Ctrl-C), bounded waits, free ports, the release build,
# socket-guard with the router preset, the router, whoami containers, and `measure`, one wrk
# run with the CPU it cost each process. Every container and the network are named
# sg-bench-<pid>-..., and the trap removes whatever has that prefix.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench
BENCH_ID=sg-bench-$$
NETWORK=$BENCH_ID
WHOAMI_IMAGE=${BENCH_WHOAMI_IMAGE:-whoami:local}
CLK_TCK=$(getconf CLK_TCK)

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

need_tools() {
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null || die "$tool not found (apt-get install -y nginx-light haproxy wrk curl python3 openssl docker.io)"
    done
}

# --- processes, containers and cleanup -------------------------------------------------------

TMP=$(mktemp -d "/tmp/$BENCH_ID.XXXXXX")
chmod 755 "$TMP" # nginx workers run as nobody
PIDS=()
LAST_PID=

# Starts "$@" in the background with its output in $TMP/NAME.{out,err}; sets LAST_PID.
start() {
    local name=$1
    shift
    "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
    LAST_PID=$!
    PIDS+=("$LAST_PID")
}

# Stops one process we started: TERM, up to 5 s, then KILL.
stop() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# Removes every container whose name starts with this run's prefix.
remove_containers() {
    local ids
    ids=$(timeout 30 docker ps -aq --filter "name=^$BENCH_ID-" 2>/dev/null || true)
    if [[ -n $ids ]]; then
        # shellcheck disable=SC2086
        timeout 60 docker rm -f $ids >/dev/null 2>&1 || log "could not remove containers $ids"
    fi
}

cleanup() {
    local i
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
        stop "${PIDS[i]}"
    done
    remove_containers
    timeout 30 docker network rm "$NETWORK" >/dev/null 2>&1 || true
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Polls until CMD succeeds, at most SECONDS seconds.
wait_for() {
    local seconds=$1 i
    shift
    for ((i = 0; i < seconds * 10; i++)); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}

alive() { kill -0 "$1" 2>/dev/null || die "$2 exited; its stderr: $(tail -n 5 "$TMP/$2.err" 2>/dev/null)"; }

# N free TCP ports on 127.0.0.1.
free_ports() {
    python3 -c '
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))' "$1"
}

# --- the build, socket-guard, the router -------------------------------------------------------

TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
ROUTER_BIN=$TARGET_DIR/release/router
GUARD_BIN=$TARGET_DIR/release/socket-guard

build() {
    log "building router and socket-guard (release)"
    (cd "$ROOT" && cargo build --release -p router -p socket-guard --quiet) || die "cargo build failed"
    [[ -x $ROUTER_BIN && -x $GUARD_BIN ]] || die "no binaries in $TARGET_DIR/release"
}

# socket-guard on 127.0.0.1:PORT in front of the real socket, with policies/presets/router.env.
start_guard() { # PORT
    local vars
    mapfile -t vars < <(grep -E '^[A-Z_]+=' "$ROOT/policies/presets/router.env")
    start guard env -i PATH="$PATH" "${vars[@]}" GUARD_LISTEN="127.0.0.1:$1" LOG_LEVEL=warn "$GUARD_BIN"
    GUARD_PID=$LAST_PID
    wait_for 10 curl -sf -o /dev/null "http://127.0.0.1:$1/_ping" || die "socket-guard does not answer on :$1: $(tail -n 5 "$TMP/guard.err")"
}

# The router, discovering through the guard. NAME WEB_PORT GUARD_PORT [VAR=VALUE ...]; the
# defaults are the benchmark's (warn, no access log, no websecure); later VAR=VALUE win.
start_router() {
    local name=$1 web=$2 guard=$3
    shift 3
    start "$name" env -i PATH="$PATH" DOCKER_HOST="tcp://127.0.0.1:$guard" ROUTER_WEB_LISTEN="127.0.0.1:$web" \
        ROUTER_WEBSECURE_LISTEN=off LOG_LEVEL=warn ROUTER_ACCESS_LOG=false "$@" "$ROUTER_BIN"
}

# --- docker ------------------------------------------------------------------------------------

docker_ok() { timeout 10 docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

make_network() {
    timeout 30 docker network create "$NETWORK" >/dev/null || die "cannot create the network $NETWORK"
}

# A whoami container on the bench network. NAME [docker run options ...]; prints nothing.
run_whoami() {
    local name=$1
    shift
    timeout 60 docker run -d --name "$BENCH_ID-$name" --network "$NETWORK" "$@" "$WHOAMI_IMAGE" >/dev/null ||
        die "docker run $name failed"
}
container_ip() { docker inspect -f "{{(index .NetworkSettings.Networks \"$NETWORK\").IPAddress}}" "$BENCH_ID-$1"; }
container_pid() { docker inspect -f '{{.State.Pid}}' "$BENCH_ID-$1"; }

need_image() {
    timeout 30 docker image inspect "$WHOAMI_IMAGE" >/dev/null 2>&1 && return 0
    log "$WHOAMI_IMAGE missing: building it (make images)"
    (cd "$ROOT" && make images) || die "make images failed"
}

# The bench network, one whoami labelled for Host: $HOST, and socket-guard with the router
# preset on 127.0.0.1:PORT in front of the real socket. Sets WHOAMI_IP, WHOAMI_PID, UPSTREAM.
setup_backend() { # PORT
    make_network
    log "whoami on the network $NETWORK"
    run_whoami w -l traefik.enable=true -l "traefik.http.routers.b.rule=Host(\`$HOST\`)"
    WHOAMI_IP=$(container_ip w)
    WHOAMI_PID=$(container_pid w)
    UPSTREAM=$WHOAMI_IP:8080
    wait_for 10 curl -sf -o /dev/null "http://$UPSTREAM/health" || die "whoami does not answer on $UPSTREAM"
    log "socket-guard on 127.0.0.1:$1 (policies/presets/router.env) in front of the real socket"
    start_guard "$1"
}

# --- measuring -----------------------------------------------------------------------------------

# CPU ticks (user + system) of PID and its children (nginx's workers).
tree_ticks() {
    local pid=$1 sum=0 p
    for p in "$pid" $(cat "/proc/$pid/task/"*/children 2>/dev/null); do
        sum=$((sum + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
    done
    echo "$sum"
}

# Ticks of the whole machine from /proc/stat: "TOTAL BUSY STEAL" (busy excludes idle, iowait, steal).
machine_ticks() {
    awk '/^cpu / {t = $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9; print t, t - $5 - $6 - $9, $9}' /proc/stat
}

# RSS, peak RSS (KiB) and threads of PID: "RSS HWM THREADS".
mem_of() { awk '/^VmRSS/ {r = $2} /^VmHWM/ {h = $2} /^Threads/ {t = $2} END {print r, h, t}' "/proc/$1/status"; }

# One wrk run. Writes the output to $RUN/FILE and appends a line to $RUN/runs.tsv: label, test,
# round, file, the proxy's CPU ticks, whoami's CPU ticks, wrk's CPU ticks, hypervisor steal
# and the CPU used by anything else (both in % of all CPUs).
# LABEL TEST ROUND PROXY_PID URL [wrk options ...]; uses $THREADS $CONNS $DURATION $WHOAMI_PID.
measure() {
    local label=$1 test=$2 round=$3 pid=$4 url=$5 file p0 p1 w0 w1 m0 m1 wrk_s TIMEFORMAT='%3U %3S'
    shift 5
    file="wrk-$label-$test-$round.txt"
    p0=$(tree_ticks "$pid")
    w0=$(tree_ticks "$WHOAMI_PID")
    read -r -a m0 < <(machine_ticks)
    wrk_s=$({ time timeout 120 wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "$@" "$url" \
        >"$RUN/$file" 2>&1; } 2>&1) || log "wrk against $label ($test) exited with an error (see $file)"
    p1=$(tree_ticks "$pid")
    w1=$(tree_ticks "$WHOAMI_PID")
    read -r -a m1 < <(machine_ticks)
    python3 - "$label" "$test" "$round" "$file" "$((p1 - p0))" "$((w1 - w0))" "$((m1[0] - m0[0]))" \
        "$((m1[1] - m0[1]))" "$((m1[2] - m0[2]))" "$wrk_s" "$CLK_TCK" >>"$RUN/runs.tsv" <<'EOF'
import sys
label, test, rnd, f, proxy, whoami, total, busy, steal, wrk_s, clk = sys.argv[1:]
proxy, whoami, total, busy, steal, clk = map(int, (proxy, whoami, total, busy, steal, clk))
wrk = round(sum(float(x) for x in wrk_s.split()) * clk)
other = max(0, busy - proxy - whoami - wrk)
pct = lambda t: f"{100 * t / total:.0f}" if total else "?"
print("\t".join([label, test, rnd, f, str(proxy), str(whoami), str(wrk), pct(steal), pct(other)]))
EOF
    log "  $label $test round $round: $(awk '/Requests\/sec/ {print $2}' "$RUN/$file") req/s"
}

# Metadata common to router.sh and tls.sh, as KEY=VALUE lines on stdout.
common_meta() {
    local rev
    rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
    if [[ -n $(git -C "$ROOT" status --porcelain -- router socket-guard policies Cargo.toml Cargo.lock 2>/dev/null) ]]; then
        rev="$rev+uncommitted changes"
    fi
    echo "DATE=$(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "NPROC=$(nproc)"
    echo "CPU_MODEL=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "MEM=$(awk '/MemTotal/ {printf "%.0f GiB RAM", $2 / 1048576}' /proc/meminfo)"
    echo "KERNEL=$(uname -r)"
    echo "REV=$rev"
    echo "RUSTC=$(rustc --version 2>/dev/null | awk '{print $2}')"
    echo "NGINX=$(nginx -v 2>&1 | sed 's/^nginx version: //')"
    echo "HAPROXY=$(haproxy -v | head -n1 | awk '{print "HAProxy " $3}')"
    echo "WRK=wrk $(wrk -v 2>&1 | head -n1 | awk '{print $2}')"
    echo "OPENSSL=$(openssl version | awk '{print $1, $2}')"
    echo "DOCKER=$(timeout 10 docker version --format '{{.Server.Version}} API {{.Server.APIVersion}}' 2>/dev/null || echo unavailable)"
    echo "CLK_TCK=$CLK_TCK"
    echo "ROUNDS=$ROUNDS"
    echo "DURATION=$DURATION"
    echo "WARMUP=$WARMUP"
    echo "THREADS=$THREADS"
    echo "CONNS=$CONNS"
}
