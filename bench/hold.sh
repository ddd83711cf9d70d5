#!/usr/bin/env bash
# Connections that cost little and cannot be held: the router and nginx, each a reverse proxy
# in front of the same backend (nginx answering a short body at / and 4 MiB at /big), each
# in turn held by
#   - 10,000 keep-alive clients that made one request and then sit idle,
#   - 1,000 slowloris clients (a request head that grows by a byte every 5 s),
#   - 100 slow readers (4 MiB asked for, nothing read, 4 KiB receive buffers),
#   - 200 HTTP/2 streams over TLS (100 per connection) asking for 4 MiB with a flow-control
#     window of zero, never opened (both proxies' TLS entry points have 5 s idle/send timers;
#     the descriptors and kernel TCP memory are read again 12 s later),
# while a probe client makes 200 requests on new connections beside them. Reported: the
# proxy's RSS and descriptors at rest and while held (RSS per held connection), the kernel's
# TCP memory, the probe's successes and p50/p99, and how many held connections the proxy still
# had open when the hold ended.
#
#   bench/hold.sh
#
# Knobs: BENCH_KEEPALIVE (10000), BENCH_SLOWLORIS (1000), BENCH_SLOWREAD (100),
# BENCH_ZEROWINDOW (200), BENCH_PROBES (200). Needs nginx, python3, cargo; no dockerd. Listens on 127.0.0.1 only; the trap stops
# what it started. The Markdown report goes to stdout and to bench/results/hold-<date>.md.

set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KEEPALIVE=${BENCH_KEEPALIVE:-10000}
SLOWLORIS=${BENCH_SLOWLORIS:-1000}
SLOWREAD=${BENCH_SLOWREAD:-100}
ZEROWINDOW=${BENCH_ZEROWINDOW:-200}
PROBES=${BENCH_PROBES:-200}
HOST=hold.test
need_tools nginx python3 cargo curl openssl
for n in "$KEEPALIVE" "$SLOWLORIS" "$SLOWREAD" "$ZEROWINDOW" "$PROBES"; do
    [[ $n =~ ^[1-9][0-9]{0,4}$ ]] || die "a count of $n: expected 1 to 99999"
done
ulimit -n "$(ulimit -Hn)"

log "building router (release)"
(cd "$ROOT" && cargo build --release -p router --quiet) || die "cargo build failed"

read -r PORT_BACKEND PORT_ROUTER PORT_NGINX PORT_ROUTER_TLS PORT_NGINX_TLS < <(free_ports 5)
head -c $((4 << 20)) /dev/zero >"$TMP/big"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=$HOST" \
    -addext "subjectAltName=DNS:$HOST" -keyout "$TMP/key.pem" -out "$TMP/cert.pem" 2>"$TMP/openssl.err" ||
    die "openssl req failed: $(cat "$TMP/openssl.err")"
nginx_conf() { # ROLE LISTEN
    grep -v "# $([[ $1 == proxy ]] && echo backend || echo proxy)\$" "$BENCH/hold-nginx.conf.in" |
        sed -e "s#@DIR@#$TMP#g" -e "s#@ROLE@#$1#g" -e "s#@LISTEN@#$2#" -e "s#@LISTEN_TLS@#127.0.0.1:$PORT_NGINX_TLS#" -e "s#@UPSTREAM@#127.0.0.1:$PORT_BACKEND#" \
            >"$TMP/nginx-$1.conf"
}
nginx_conf backend "127.0.0.1:$PORT_BACKEND"
start backend nginx -e "$TMP/nginx-backend-error.log" -p "$TMP" -c "$TMP/nginx-backend.conf"
nginx_conf proxy "127.0.0.1:$PORT_NGINX"
start nginx nginx -e "$TMP/nginx-proxy-error.log" -p "$TMP" -c "$TMP/nginx-proxy.conf"
NGINX_PID=$LAST_PID

cat >"$TMP/router.yml" <<EOF_STATIC
entryPoints:
  web:
    address: "127.0.0.1:$PORT_ROUTER"
  websecure:
    address: "127.0.0.1:$PORT_ROUTER_TLS"
    transport:
      respondingTimeouts:
        idleTimeout: 5s
providers:
  file:
    filename: "$TMP/dynamic.yml"
EOF_STATIC
cat >"$TMP/dynamic.yml" <<EOF_DYNAMIC
http:
  routers:
    hold:
      rule: "Host(\`$HOST\`)"
      entryPoints: [web]
      service: backend
    holdtls:
      rule: "Host(\`$HOST\`)"
      entryPoints: [websecure]
      service: backend
      tls: {}
  services:
    backend:
      loadBalancer:
        servers:
          - url: "http://127.0.0.1:$PORT_BACKEND"
tls:
  certificates:
    - certFile: "$TMP/cert.pem"
      keyFile: "$TMP/key.pem"
EOF_DYNAMIC
start router env -i PATH="$PATH" LOG_LEVEL=warn "$ROUTER_BIN" --configFile="$TMP/router.yml"
ROUTER_PID=$LAST_PID
for port in "$PORT_BACKEND" "$PORT_ROUTER" "$PORT_NGINX"; do
    wait_for 10 curl -sf -o /dev/null -H "Host: $HOST" "http://127.0.0.1:$port/" || die "127.0.0.1:$port does not answer"
done
for port in "$PORT_ROUTER_TLS" "$PORT_NGINX_TLS"; do
    wait_for 10 curl -skf --http2 -o /dev/null --resolve "$HOST:$port:127.0.0.1" "https://$HOST:$port/" ||
        die "127.0.0.1:$port does not answer over TLS"
done

# RSS (KiB) of PID and its children, and their open descriptors.
tree_rss() { local p s=0; for p in "$1" $(cat "/proc/$1/task/"*/children 2>/dev/null); do
    s=$((s + $(awk '/^VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0))); done; echo "$s"; }
tree_fds() { local p s=0; for p in "$1" $(cat "/proc/$1/task/"*/children 2>/dev/null); do
    s=$((s + $(find "/proc/$p/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l))); done; echo "$s"; }
tcp_mem_kib() { awk -v page="$(getconf PAGESIZE)" '/^TCP:/ {for (i = 1; i < NF; i++) if ($i == "mem") print $(i + 1) * page / 1024}' /proc/net/sockstat; }

RESULTS=$TMP/results.tsv
: >"$RESULTS"
# One hold: PROXY_NAME PID PORT KIND N [PROBE_PORT]. Appends a line to $RESULTS.
one_hold() {
    local name=$1 pid=$2 port=$3 kind=$4 n=$5 probe_port=${6:-$3} rss0 fds0 tcp0 held rss1 fds1 tcp1 probe open
    local fds2=- tcp2=-
    sleep 1
    rss0=$(tree_rss "$pid") fds0=$(tree_fds "$pid") tcp0=$(tcp_mem_kib)
    mkfifo "$TMP/in" "$TMP/out"
    python3 "$BENCH/hold.py" "$kind" "$port" "$n" "$HOST" <"$TMP/in" >"$TMP/out" &
    local holder=$!
    exec 7>"$TMP/in" 8<"$TMP/out"
    read -r -t 300 _ held <&8 || die "$kind clients against $name did not set up"
    sleep 1.5
    rss1=$(tree_rss "$pid") fds1=$(tree_fds "$pid") tcp1=$(tcp_mem_kib)
    probe=$(python3 "$BENCH/hold.py" probe "$probe_port" "$PROBES" "$HOST")
    if [[ $kind == zerowindow ]]; then
        sleep 12
        fds2=$(tree_fds "$pid") tcp2=$(tcp_mem_kib)
    fi
    exec 7>&-
    open=-
    [[ $kind == slowread || $kind == zerowindow ]] || read -r -t 60 _ open <&8 || open='?'
    exec 8<&-
    wait "$holder" || true
    rm -f "$TMP/in" "$TMP/out"
    alive "$pid" "$name"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$kind" "$n" "$held" "$rss0" "$rss1" \
        "$fds0" "$fds1" "$tcp0" "$tcp1" "${probe#probe }" "$open" | tr ' ' '\t' >>"$RESULTS"
    sed -i "\$s/\$/\t$fds2\t$tcp2/" "$RESULTS"
    log "  $name $kind: $held held, RSS $rss0 -> $rss1 KiB, fds $fds0 -> $fds1 (later $fds2), probe ${probe#probe }, open at the end $open"
}

for kind in keepalive slowloris slowread; do
    case $kind in keepalive) n=$KEEPALIVE ;; slowloris) n=$SLOWLORIS ;; slowread) n=$SLOWREAD ;; esac
    log "$kind x $n"
    one_hold router "$ROUTER_PID" "$PORT_ROUTER" "$kind" "$n"
    one_hold nginx "$NGINX_PID" "$PORT_NGINX" "$kind" "$n"
done
log "zerowindow x $ZEROWINDOW"
one_hold router "$ROUTER_PID" "$PORT_ROUTER_TLS" zerowindow "$ZEROWINDOW" "$PORT_ROUTER"
one_hold nginx "$NGINX_PID" "$PORT_NGINX_TLS" zerowindow "$ZEROWINDOW" "$PORT_NGINX"

DATE=$(date -u +%Y-%m-%dT%H%M%SZ)
mkdir -p "$BENCH/results"
{
    echo "# Held connections, $(date -u '+%Y-%m-%d %H:%M UTC') at $(git -C "$ROOT" rev-parse --short HEAD)"
    echo
    echo "$(nproc) CPUs, $(nginx -v 2>&1 | sed 's/^nginx version: //'), probe: $PROBES requests on new connections (5 s timeout)."
    echo
    echo "| proxy | held by | held | RSS at rest | RSS held | per held conn | fds at rest | fds held | kernel TCP mem held | probe ok | probe p50 | probe p99 | still open at the end | fds 12 s later | kernel TCP mem 12 s later |"
    echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    awk -F'\t' '{
        per = $4 > 0 ? ($6 - $5) * 1024 / $4 : 0
        later = $17 == "-" ? "-" : sprintf("%.1f MiB", $17 / 1024)
        printf "| %s | %s | %d of %d | %.1f MiB | %.1f MiB | %.1f KiB | %d | %d | %.1f MiB | %d/%d | %s ms | %s ms | %s | %s | %s |\n",
            $1, $2, $4, $3, $5 / 1024, $6 / 1024, per / 1024, $7, $8, $10 / 1024, $11, $12, $13, $14, $15, $16, later
    }' "$RESULTS"
} | tee "$BENCH/results/hold-$DATE.md"
