#!/usr/bin/env bash
# Side-by-side TCP benchmark: the router's TCP routers against HAProxy in TCP mode, both in
# front of the same nginx, in two modes:
#   passthrough  a TLS connection routed by its SNI and relayed untouched (router:
#                `tls.passthrough=true`; HAProxy: `req_ssl_sni`), nginx terminates TLS;
#   terminate    TLS terminated by the proxy with the same certificate (router: a TCP router
#                with `tls`; HAProxy: `bind ... ssl`), the plain bytes relayed to nginx.
# Measures bulk throughput (4 parallel curl downloads of a 512 MiB file: MB/s, and the proxy's
# CPU time per GiB) and new connections per second (wrk with `Connection: close` on a small
# file: each request a new TCP connection and TLS handshake; the proxy's CPU per connection).
#
#   bench/tcp.sh
#
# Knobs (environment): BENCH_ROUNDS (3), BENCH_DURATION (10s), BENCH_SIZE_MB (512).
# Needs nginx (nginx-light), haproxy, wrk, curl, openssl, python3, cargo; no dockerd. Listens on
# 127.0.0.1 only; every wait is bounded; a trap stops what it started. The Markdown report goes
# to stdout and to bench/results/tcp-<date>.md, the raw output beside it.

set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROUNDS=${BENCH_ROUNDS:-3}
DURATION=${BENCH_DURATION:-10s}
SIZE_MB=${BENCH_SIZE_MB:-512}
PARALLEL=4
SNI=localhost
WARMUP=none
THREADS=2
CONNS=64

need_tools nginx haproxy wrk curl openssl python3 cargo
[[ $ROUNDS =~ ^[1-9][0-9]?$ ]] || die "BENCH_ROUNDS=$ROUNDS: expected 1 to 99"
[[ $SIZE_MB =~ ^[1-9][0-9]{0,4}$ ]] || die "BENCH_SIZE_MB=$SIZE_MB: expected 1 to 99999"
[[ $(getent hosts "$SNI" | awk '{print $1; exit}') == 127.0.0.1 ]] || die "$SNI does not resolve to 127.0.0.1 first"

log "building the router (release)"
(cd "$ROOT" && cargo build --release -p router --quiet) || die "cargo build failed"
read -r P_NGINX_TLS P_NGINX_PLAIN P_R_PT P_R_TERM P_H_PT P_H_TERM < <(free_ports 6)

# --- certificate, files, nginx ---------------------------------------------------------------------

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=$SNI" \
    -addext "subjectAltName=DNS:$SNI" -keyout "$TMP/cert.key" -out "$TMP/cert.crt" 2>"$TMP/openssl.err" ||
    die "openssl req failed: $(cat "$TMP/openssl.err")"
chmod 644 "$TMP/cert.key"
cat "$TMP/cert.crt" "$TMP/cert.key" >"$TMP/cert.pem"
mkdir -p "$TMP/www"
truncate -s "${SIZE_MB}M" "$TMP/www/big"
head -c 100 /dev/zero | tr '\0' x >"$TMP/www/small"
cat >"$TMP/nginx.conf" <<EOF
worker_processes 1;
error_log $TMP/nginx-error.log warn;
pid $TMP/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  keepalive_timeout 60s;
  server {
    listen 127.0.0.1:$P_NGINX_TLS ssl;
    ssl_certificate $TMP/cert.crt; ssl_certificate_key $TMP/cert.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    root $TMP/www;
  }
  server { listen 127.0.0.1:$P_NGINX_PLAIN; root $TMP/www; }
}
EOF
start nginx nginx -p "$TMP" -c "$TMP/nginx.conf" -g 'daemon off;'
NGINX_PID=$LAST_PID

# --- the router ----------------------------------------------------------------------------------

cat >"$TMP/dynamic.yml" <<EOF
tcp:
  routers:
    pt:
      rule: HostSNI(\`$SNI\`)
      entryPoints: [pt]
      service: nginx-tls
      tls: {passthrough: true}
    term:
      rule: HostSNI(\`$SNI\`)
      entryPoints: [term]
      service: nginx-plain
      tls: {}
  services:
    nginx-tls:
      loadBalancer: {servers: [{address: "127.0.0.1:$P_NGINX_TLS"}]}
    nginx-plain:
      loadBalancer: {servers: [{address: "127.0.0.1:$P_NGINX_PLAIN"}]}
tls:
  certificates:
    - {certFile: $TMP/cert.crt, keyFile: $TMP/cert.key}
EOF
start router env -i PATH="$PATH" "$ROUTER_BIN" --entrypoints.pt.address="127.0.0.1:$P_R_PT" \
    --entrypoints.term.address="127.0.0.1:$P_R_TERM" --providers.file.filename="$TMP/dynamic.yml" \
    --log.level=WARN
ROUTER_PID=$LAST_PID

# --- HAProxy -------------------------------------------------------------------------------------

cat >"$TMP/haproxy.cfg" <<EOF
global
  maxconn 8000
  nbthread $(nproc)
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend pt
  bind 127.0.0.1:$P_H_PT
  tcp-request inspect-delay 5s
  tcp-request content accept if { req_ssl_hello_type 1 }
  use_backend nginx_tls if { req_ssl_sni -i $SNI }
backend nginx_tls
  server s1 127.0.0.1:$P_NGINX_TLS
frontend term
  bind 127.0.0.1:$P_H_TERM ssl crt $TMP/cert.pem
  default_backend nginx_plain
backend nginx_plain
  server s1 127.0.0.1:$P_NGINX_PLAIN
EOF
start haproxy haproxy -db -f "$TMP/haproxy.cfg"
HAPROXY_PID=$LAST_PID

ok() { [[ $(curl -sk --http1.1 -o /dev/null -w '%{http_code}' "https://$SNI:$1/small") == 200 ]]; }
for port in "$P_R_PT" "$P_R_TERM" "$P_H_PT" "$P_H_TERM"; do
    wait_for 15 ok "$port" || { for f in "$TMP"/*.err; do echo "== $f"; tail -n 20 "$f"; done; die "no 200 from https://$SNI:$port/small"; }
done
alive "$ROUTER_PID" router
alive "$HAPROXY_PID" haproxy
alive "$NGINX_PID" nginx
# Passthrough really passes through: the certificate is nginx's own either way (one file here),
# so check that the proxy did not terminate: nginx's server header comes back over TLS from it.
for port in "$P_R_PT" "$P_H_PT"; do
    [[ $(curl -sk --http1.1 -D - -o /dev/null "https://$SNI:$port/small" | tr -d '\r' | awk -F': ' 'tolower($1) == "server" {print $2}') == nginx* ]] ||
        die ":$port did not answer with nginx"
done
log "router (:$P_R_PT passthrough, :$P_R_TERM terminate) and HAProxy (:$P_H_PT, :$P_H_TERM) answer 200"

DATE=$(date -u +%Y-%m-%dT%H%M%SZ)
mkdir -p "$BENCH/results"
RUN=$TMP/run
mkdir -p "$RUN"
{
    echo "COMMAND=$(env | grep -E '^BENCH_' | sort | tr '\n' ' ')bench/tcp.sh"
    common_meta
    echo "SIZE_MB=$SIZE_MB"
    echo "PARALLEL=$PARALLEL"
} >"$RUN/meta.txt"
: >"$RUN/runs.tsv"

# --- load ----------------------------------------------------------------------------------------

# LABEL MODE ROUND PID PORT: PARALLEL downloads of /big; appends "label mode round bulk bytes
# seconds proxy-ticks".
bulk() {
    local label=$1 mode=$2 round=$3 pid=$4 port=$5 p0 p1 t0 t1 i bytes=0 b
    p0=$(tree_ticks "$pid")
    t0=$(date +%s.%N)
    local curls=()
    for ((i = 0; i < PARALLEL; i++)); do
        timeout 300 curl -sk --http1.1 -o /dev/null -w '%{size_download}\n' "https://$SNI:$port/big" >"$RUN/bulk-$label-$mode-$round-$i.txt" &
        curls+=($!)
    done
    wait "${curls[@]}"
    t1=$(date +%s.%N)
    p1=$(tree_ticks "$pid")
    for ((i = 0; i < PARALLEL; i++)); do
        b=$(cat "$RUN/bulk-$label-$mode-$round-$i.txt")
        bytes=$((bytes + ${b%.*}))
    done
    printf '%s\t%s\t%s\tbulk\t%s\t%s\t%s\n' "$label" "$mode" "$round" "$bytes" "$(python3 -c "print(round($t1 - $t0, 3))")" "$((p1 - p0))" >>"$RUN/runs.tsv"
    log "  $label $mode bulk: $((bytes / 1048576)) MiB in $(python3 -c "print(round($t1 - $t0, 2))") s"
}

# LABEL MODE ROUND PID PORT: wrk with a new connection per request; appends "label mode round
# conns requests seconds proxy-ticks".
conns() {
    local label=$1 mode=$2 round=$3 pid=$4 port=$5 p0 p1 f="wrk-$1-$2-$3.txt" reqs
    p0=$(tree_ticks "$pid")
    timeout 120 wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" -H "Connection: close" "https://$SNI:$port/small" >"$RUN/$f" 2>&1 ||
        log "wrk against $label $mode exited with an error (see $f)"
    p1=$(tree_ticks "$pid")
    reqs=$(awk '/requests in/ {print $1; exit}' "$RUN/$f")
    secs=$(awk '/requests in/ {sub(/s,/, "", $4); print $4; exit}' "$RUN/$f")
    printf '%s\t%s\t%s\tconns\t%s\t%s\t%s\n' "$label" "$mode" "$round" "${reqs:-0}" "${secs:-0}" "$((p1 - p0))" >>"$RUN/runs.tsv"
    log "  $label $mode conns: $(awk '/Requests\/sec/ {print $2}' "$RUN/$f") connections/s"
}

for ((round = 1; round <= ROUNDS; round++)); do
    log "round $round of $ROUNDS"
    for entry in "router:$ROUTER_PID:$P_R_PT:$P_R_TERM" "haproxy:$HAPROXY_PID:$P_H_PT:$P_H_TERM"; do
        IFS=: read -r label pid pt term <<<"$entry"
        bulk "$label" passthrough "$round" "$pid" "$pt"
        bulk "$label" terminate "$round" "$pid" "$term"
        conns "$label" passthrough "$round" "$pid" "$pt"
        conns "$label" terminate "$round" "$pid" "$term"
    done
done
alive "$ROUTER_PID" router
alive "$HAPROXY_PID" haproxy

# --- report --------------------------------------------------------------------------------------

python3 - "$RUN" "$CLK_TCK" >"$BENCH/results/tcp-$DATE.md" <<'EOF'
import statistics, sys
run, clk = sys.argv[1], int(sys.argv[2])
meta = dict(l.rstrip("\n").split("=", 1) for l in open(f"{run}/meta.txt") if "=" in l)
rows = [l.rstrip("\n").split("\t") for l in open(f"{run}/runs.tsv")]
def med(xs):
    return statistics.median(xs) if xs else float("nan")
print(f"# TCP routers: router vs HAProxy (TCP mode), {meta['DATE']}\n")
print(f"`{meta['COMMAND']}` on {meta['NPROC']} CPUs ({meta['CPU_MODEL']}), {meta['MEM']}, kernel {meta['KERNEL']}; "
      f"router {meta['REV']} (rustc {meta['RUSTC']}), {meta['HAPROXY']}, backend {meta['NGINX']}. Medians of the rounds.\n")
print(f"Bulk: {meta['PARALLEL']} parallel downloads of {meta['SIZE_MB']} MiB; connections: wrk -t2 -c64 with `Connection: close` "
      "(each request a new connection and TLS handshake) on a 100-byte file.\n")
print("| mode | proxy | bulk MB/s | proxy CPU s per GiB | connections/s | proxy CPU µs per connection |")
print("|---|---|---:|---:|---:|---:|")
for mode in ("passthrough", "terminate"):
    for label in ("router", "haproxy"):
        b = [r for r in rows if r[0] == label and r[1] == mode and r[3] == "bulk"]
        c = [r for r in rows if r[0] == label and r[1] == mode and r[3] == "conns"]
        mbs = med([int(r[4]) / 1e6 / float(r[5]) for r in b if float(r[5]) > 0])
        cpu_gib = med([int(r[6]) / clk / (int(r[4]) / 2**30) for r in b if int(r[4]) > 0])
        cps = med([int(r[4]) / float(r[5]) for r in c if float(r[5]) > 0])
        cpu_conn = med([int(r[6]) / clk * 1e6 / int(r[4]) for r in c if int(r[4]) > 0])
        print(f"| {mode} | {label} | {mbs:,.0f} | {cpu_gib:.3f} | {cps:,.0f} | {cpu_conn:,.0f} |")
EOF
mkdir -p "$BENCH/results/tcp-$DATE.raw"
cp "$RUN"/* "$BENCH/results/tcp-$DATE.raw/"
cat "$BENCH/results/tcp-$DATE.md"
log "report: bench/results/tcp-$DATE.md (raw output in bench/results/tcp-$DATE.raw/)"
