#!/usr/bin/env bash
# Side-by-side TLS benchmark: the router's websecure entry point against nginx, both with the
# same P-256 certificate and key, both proxying to the same whoami container. Measures HTTPS
# requests/s over keep-alive connections, full handshakes per second under load (wrk with
# `Connection: close`: a new connection and handshake per request), and sequential handshakes
# (`openssl s_time -new`).
#
#   bench/tls.sh              (make bench runs it after bench/router.sh)
#
# Knobs (environment): BENCH_ROUNDS (3), BENCH_DURATION (10s), BENCH_WARMUP (3s),
# BENCH_STIME (10: seconds per s_time run; 0 skips s_time).
# Needs a dockerd and the whoami:local image (make images), nginx (nginx-light), wrk, openssl,
# curl, python3, cargo. Listens on 127.0.0.1 only; every loop and wait is bounded; a trap stops
# what it started and removes its container and network (named sg-bench-<pid>-...).
# The Markdown report goes to stdout and to bench/results/tls-<date>.md, the raw output beside
# it. See bench/README.md for what each number means.

set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROUNDS=${BENCH_ROUNDS:-3}
DURATION=${BENCH_DURATION:-10s}
WARMUP=${BENCH_WARMUP:-3s}
STIME=${BENCH_STIME:-10}
THREADS=2
CONNS=64
HOST=bench.test
# wrk sends the URL's host name as SNI and cannot resolve bench.test: it connects to
# `localhost` (127.0.0.1 in /etc/hosts), and the certificate names both.
SNI=localhost

need_tools nginx wrk openssl curl python3 cargo docker
[[ $ROUNDS =~ ^[1-9][0-9]?$ ]] || die "BENCH_ROUNDS=$ROUNDS: expected 1 to 99"
[[ $STIME =~ ^[0-9]{1,3}$ ]] || die "BENCH_STIME=$STIME: expected 0 to 999 seconds"
[[ $(getent hosts "$SNI" | awk '{print $1; exit}') == 127.0.0.1 ]] || die "$SNI does not resolve to 127.0.0.1 first"
docker_ok || die "no dockerd answers (the router discovers containers through socket-guard and the real daemon)"
need_image

# --- 1. build, certificate, whoami, socket-guard -----------------------------------------------

build
read -r PORT_GUARD PORT_WEB PORT_ROUTER PORT_NGINX < <(free_ports 4)

CERTS=$TMP/certs
mkdir -p "$CERTS"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=$HOST" \
    -addext "subjectAltName=DNS:$HOST,DNS:$SNI" -keyout "$CERTS/$HOST.key" -out "$CERTS/$HOST.crt" 2>"$TMP/openssl.err" ||
    die "openssl req failed: $(cat "$TMP/openssl.err")"
chmod 644 "$CERTS/$HOST.key" # nginx reads it as root, the router as this user; a throwaway key
FINGERPRINT=$(openssl x509 -in "$CERTS/$HOST.crt" -noout -fingerprint -sha256 | cut -d= -f2)

setup_backend "$PORT_GUARD"

# --- 2. the proxies ------------------------------------------------------------------------------

log "router websecure on 127.0.0.1:$PORT_ROUTER (certificates from $CERTS), nginx on 127.0.0.1:$PORT_NGINX"
start_router router "$PORT_WEB" "$PORT_GUARD" ROUTER_WEBSECURE_LISTEN="127.0.0.1:$PORT_ROUTER" ROUTER_CERTS_DIR="$CERTS"
ROUTER_PID=$LAST_PID
tls_lines="ssl_certificate $CERTS/$HOST.crt; ssl_certificate_key $CERTS/$HOST.key; ssl_protocols TLSv1.2 TLSv1.3;"
sed -e "s#@DIR@#$TMP#g" -e "s#@UPSTREAM@#$UPSTREAM#" -e "s#@LISTEN@#127.0.0.1:$PORT_NGINX ssl#" -e "s#@TLS@#$tls_lines#" \
    "$BENCH/nginx-proxy.conf.in" >"$TMP/nginx.conf"
start nginx nginx -e "$TMP/nginx-error.log" -p "$TMP" -c "$TMP/nginx.conf"
NGINX_PID=$LAST_PID

answers() {
    [[ $(curl -sk -o /dev/null -w '%{http_code}' --resolve "$HOST:$1:127.0.0.1" "https://$HOST:$1/") == 200 ]]
}
for port in "$PORT_ROUTER" "$PORT_NGINX"; do
    wait_for 15 answers "$port" || die "no 200 from https://$HOST:$port/"
done
alive "$ROUTER_PID" router
alive "$NGINX_PID" nginx
served() { # PORT SNI|"" -> the SHA-256 fingerprint of the certificate served
    timeout 10 openssl s_client -connect "127.0.0.1:$1" ${2:+-servername "$2"} </dev/null 2>/dev/null |
        openssl x509 -noout -fingerprint -sha256 2>/dev/null | cut -d= -f2
}
for port in "$PORT_ROUTER" "$PORT_NGINX"; do
    for name in "$HOST" "$SNI"; do
        [[ $(served "$port" "$name") == "$FINGERPRINT" ]] || die ":$port does not serve the bench certificate for SNI $name"
    done
done
# s_time sends no SNI: the router then looks up `localhost`, nginx has a single certificate.
want="Hostname: $(docker inspect -f '{{.Config.Hostname}}' "$BENCH_ID-w")"
for port in "$PORT_ROUTER" "$PORT_NGINX"; do
    body=$(curl -sk --resolve "$HOST:$port:127.0.0.1" "https://$HOST:$port/")
    [[ $body == "$want"* ]] || die ":$port did not answer with the bench whoami's page"
    [[ $(curl -sk -o /dev/null -w '%{http_code}' -H "Host: $HOST" "https://$SNI:$port/") == 200 ]] ||
        die ":$port does not route SNI $SNI with Host: $HOST"
done
log "both serve the bench certificate and answer 200 with the same whoami behind them"

# --- results directory and metadata --------------------------------------------------------------

DATE=$(date -u +%Y-%m-%dT%H%M%SZ)
mkdir -p "$BENCH/results"
RUN=$TMP/run
mkdir -p "$RUN"
negotiated() { # PORT -> "TLSv1.3 TLS_AES_256_GCM_SHA384, X25519, ecdsa_secp256r1_sha256"
    timeout 10 openssl s_client -connect "127.0.0.1:$1" -servername "$SNI" -brief </dev/null 2>&1 | awk -F': ' '
        /^Protocol version/ {p = $2} /^Ciphersuite/ {c = $2} /^Signature type/ {s = $2} /^Hash used/ {h = $2}
        /^(Server|Negotiated) Temp Key|^Negotiated TLS1.3 group/ {k = $2}
        END {printf "%s %s, key exchange %s, signature %s with %s", p, c, k, s, h}'
}
{
    echo "KIND=tls"
    echo "COMMAND=$(env | grep -E '^BENCH_' | sort | tr '\n' ' ')bench/tls.sh"
    common_meta
    echo "HOST=$HOST"
    echo "UPSTREAM=$UPSTREAM"
    echo "TLS_CERT=self-signed ECDSA P-256 certificate for $HOST and $SNI (openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256); wrk connects to https://$SNI:PORT/ with Host: $HOST"
    echo "TLS_ROUTER=$(negotiated "$PORT_ROUTER")"
    echo "TLS_NGINX=$(negotiated "$PORT_NGINX")"
    echo "STIME_SECONDS=$STIME"
    for entry in "router:$PORT_ROUTER" "nginx:$PORT_NGINX"; do
        echo "BYTES_${entry%%:*}=$(curl -sk -H "Host: $HOST" "https://$SNI:${entry#*:}/" | wc -c)"
    done
} >"$RUN/meta.txt"
: >"$RUN/runs.tsv"

# --- 3. load --------------------------------------------------------------------------------------

PROXIES=("router:$ROUTER_PID:$PORT_ROUTER" "nginx:$NGINX_PID:$PORT_NGINX")
log "warm-up: $WARMUP per proxy"
for entry in "${PROXIES[@]}"; do
    IFS=: read -r label pid port <<<"$entry"
    timeout 60 wrk -t"$THREADS" -c"$CONNS" -d"$WARMUP" -H "Host: $HOST" "https://$SNI:$port/" >/dev/null 2>&1 || true
done
for ((round = 1; round <= ROUNDS; round++)); do
    log "round $round of $ROUNDS: wrk -t$THREADS -c$CONNS -d$DURATION --latency over HTTPS, keep-alive then Connection: close"
    for test in https close; do
        for entry in "${PROXIES[@]}"; do
            IFS=: read -r label pid port <<<"$entry"
            extra=(-H "Host: $HOST")
            [[ $test == close ]] && extra+=(-H "Connection: close")
            measure "$label" "$test" "$round" "$pid" "https://$SNI:$port/" "${extra[@]}"
        done
    done
done

: >"$RUN/stime.tsv"
if ((STIME > 0)); then
    for ((round = 1; round <= ROUNDS; round++)); do
        log "round $round of $ROUNDS: openssl s_time -new -time $STIME"
        for entry in "${PROXIES[@]}"; do
            IFS=: read -r label pid port <<<"$entry"
            # s_time's own "N connections in T real seconds" counts whole seconds: time it here.
            t0=$(date +%s.%N)
            timeout $((STIME + 60)) openssl s_time -connect "127.0.0.1:$port" -new -time "$STIME" \
                >"$RUN/stime-$label-$round.txt" 2>&1 || log "s_time against $label exited with an error"
            t1=$(date +%s.%N)
            conns=$(awk '/connections in [0-9.]+ real seconds/ {print $1; exit}' "$RUN/stime-$label-$round.txt")
            secs=$(python3 -c "print(round($t1 - $t0, 3))")
            printf '%s\t%s\t%s\t%s\n' "$label" "$round" "${conns:-0}" "${secs:-0}" >>"$RUN/stime.tsv"
            log "  $label s_time round $round: ${conns:-?} handshakes in $secs s"
        done
    done
fi
alive "$ROUTER_PID" router
alive "$NGINX_PID" nginx
grep -c 'self-signed' "$TMP/router.err" >/dev/null 2>&1 && echo "ROUTER_SELF_SIGNED_WARNINGS=$(grep -c 'self-signed' "$TMP/router.err")" >>"$RUN/meta.txt"

# --- 4. report ------------------------------------------------------------------------------------

python3 "$BENCH/report_proxy.py" "$RUN" >"$BENCH/results/tls-$DATE.md"
mkdir -p "$BENCH/results/tls-$DATE.raw"
cp "$RUN"/* "$BENCH/results/tls-$DATE.raw/"
cat "$BENCH/results/tls-$DATE.md"
log "report: bench/results/tls-$DATE.md (raw output in bench/results/tls-$DATE.raw/)"
