#!/usr/bin/env bash
# The router's middlewares and HTTPS backends against nginx doing the same work, same run:
#   chain  a `chain` of forwardauth + headers + ratelimit (from a dynamic file) in front of the
#          bench whoami, against nginx with auth_request, proxy_set_header/add_header and
#          limit_req; both ask the same authentication server (nginx, 200 with X-Auth-User);
#   https  a backend over HTTPS (nginx with a self-signed certificate; the router through a
#          servers transport with insecureSkipVerify), against nginx proxying to it with a
#          keep-alive pool and TLS session reuse.
#
#   bench/middlewares.sh
#
# Knobs: BENCH_ROUNDS (3), BENCH_PAIRED (3: rounds with both proxies loaded at once),
# BENCH_DURATION (10s), BENCH_WARMUP (3s). Needs a dockerd and the
# whoami:local image, nginx, wrk, curl, openssl, python3, cargo. Listens on 127.0.0.1 only;
# the trap stops what it started. The Markdown report goes to stdout and to
# bench/results/middlewares-<date>.md.

set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROUNDS=${BENCH_ROUNDS:-3}
PAIRED=${BENCH_PAIRED:-3}
DURATION=${BENCH_DURATION:-10s}
WARMUP=${BENCH_WARMUP:-3s}
THREADS=2
CONNS=64
HOST=bench.test
[[ $ROUNDS =~ ^[1-9][0-9]?$ ]] || die "BENCH_ROUNDS=$ROUNDS: expected 1 to 99"
[[ $PAIRED =~ ^[0-9][0-9]?$ ]] || die "BENCH_PAIRED=$PAIRED: expected 0 to 99"
need_tools nginx wrk curl openssl python3 cargo docker
docker_ok || die "no dockerd answers"
need_image
build

read -r PORT_GUARD PORT_ROUTER PORT_NGINX PORT_NGINX_TLS PORT_AUTH PORT_TLS < <(free_ports 6)
setup_backend "$PORT_GUARD"

log "the authentication server (:$PORT_AUTH) and the HTTPS backend (:$PORT_TLS)"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=backend.bench \
    -keyout "$TMP/backend.key" -out "$TMP/backend.crt" >/dev/null 2>&1 || die "openssl could not make a certificate"
sed -e "s#@DIR@#$TMP#g" -e "s#@AUTH@#127.0.0.1:$PORT_AUTH#" -e "s#@TLS@#127.0.0.1:$PORT_TLS#" \
    -e "s#@CERT@#$TMP/backend.crt#" -e "s#@KEY@#$TMP/backend.key#" \
    "$BENCH/middlewares-servers.conf.in" >"$TMP/servers.conf"
start servers nginx -e "$TMP/servers-error.log" -p "$TMP" -c "$TMP/servers.conf"
SERVERS_PID=$LAST_PID
wait_for 10 curl -sf -o /dev/null "http://127.0.0.1:$PORT_AUTH/verify" || die "the authentication server does not answer"

cat >"$TMP/dynamic.yml" <<EOF_DYN
http:
  routers:
    mw:
      rule: Host(\`mw.test\`)
      service: whoami
      middlewares: [chain]
    tls:
      rule: Host(\`tls.test\`)
      service: tlsbackend
  middlewares:
    chain:
      chain:
        middlewares: [auth, hdr, limit]
    auth:
      forwardAuth:
        address: http://127.0.0.1:$PORT_AUTH/verify
        authResponseHeaders: [X-Auth-User]
    hdr:
      headers:
        customRequestHeaders:
          X-Bench: "1"
        customResponseHeaders:
          X-Frame-Options: DENY
    limit:
      rateLimit:
        average: 1000000
        burst: 1000000
  serversTransports:
    insecure:
      insecureSkipVerify: true
  services:
    whoami:
      loadBalancer:
        servers:
          - url: http://$UPSTREAM
    tlsbackend:
      loadBalancer:
        serversTransport: insecure
        servers:
          - url: https://127.0.0.1:$PORT_TLS
EOF_DYN
log "router on 127.0.0.1:$PORT_ROUTER with the dynamic file"
start router env -i PATH="$PATH" DOCKER_HOST="tcp://127.0.0.1:$PORT_GUARD" ROUTER_WEB_LISTEN="127.0.0.1:$PORT_ROUTER" \
    ROUTER_WEBSECURE_LISTEN=off LOG_LEVEL=warn ROUTER_ACCESS_LOG=false "$ROUTER_BIN" \
    --providers.docker=true "--providers.file.filename=$TMP/dynamic.yml"
ROUTER_PID=$LAST_PID
sed -e "s#@DIR@#$TMP#g" -e "s#@UPSTREAM@#$UPSTREAM#" -e "s#@AUTH@#127.0.0.1:$PORT_AUTH#" \
    -e "s#@TLSUP@#127.0.0.1:$PORT_TLS#" -e "s#@LISTEN@#127.0.0.1:$PORT_NGINX#" -e "s#@LISTEN_TLS@#127.0.0.1:$PORT_NGINX_TLS#" \
    "$BENCH/middlewares-nginx.conf.in" >"$TMP/nginx.conf"
start nginx nginx -e "$TMP/nginx-error.log" -p "$TMP" -c "$TMP/nginx.conf"
NGINX_PID=$LAST_PID

# Both answer both tests the same way before anything is measured.
body() { curl -s -i -H "Host: $2" "http://127.0.0.1:$1/x"; }
for port in "$PORT_ROUTER" "$PORT_NGINX"; do
    wait_for 20 bash -c "curl -s -H 'Host: mw.test' http://127.0.0.1:$port/x | grep -qi '^X-Auth-User: alice'" ||
        die ":$port: the chain did not reach whoami with X-Auth-User: alice: $(body "$port" mw.test | head -c 600)"
    body "$port" mw.test | grep -qi '^X-Frame-Options: DENY' || die ":$port: no X-Frame-Options on the answer"
done
for port in "$PORT_ROUTER" "$PORT_NGINX_TLS"; do
    wait_for 20 bash -c "curl -s -H 'Host: tls.test' http://127.0.0.1:$port/ | grep -q 'hello from the https backend'" ||
        die ":$port does not reach the HTTPS backend: $(body "$port" tls.test | head -c 400)"
done
alive "$ROUTER_PID" router
alive "$NGINX_PID" nginx
log "both proxies answer both tests"

DATE=$(date -u +%Y-%m-%dT%H%M%SZ)
mkdir -p "$BENCH/results"
RUN=$TMP/run
mkdir -p "$RUN"
{
    echo "KIND=middlewares"
    echo "COMMAND=$(env | grep -E '^BENCH_' | sort | tr '\n' ' ')bench/middlewares.sh"
    echo "PAIRED=$PAIRED"
    common_meta
} >"$RUN/meta.txt"
: >"$RUN/runs.tsv"

TESTS=("chain:mw.test:$WHOAMI_PID" "https:tls.test:$SERVERS_PID")
PROXIES=("router:$ROUTER_PID:$PORT_ROUTER:$PORT_ROUTER" "nginx:$NGINX_PID:$PORT_NGINX:$PORT_NGINX_TLS")
log "warm-up: $WARMUP per proxy and test"
for t in "${TESTS[@]}"; do
    IFS=: read -r test host _ <<<"$t"
    for entry in "${PROXIES[@]}"; do
        IFS=: read -r label pid port tls_port <<<"$entry"
        [[ $test == https ]] && port=$tls_port
        timeout 60 wrk -t"$THREADS" -c"$CONNS" -d"$WARMUP" -H "Host: $host" "http://127.0.0.1:$port/" >/dev/null 2>&1 || true
    done
done
for ((round = 1; round <= ROUNDS; round++)); do
    for t in "${TESTS[@]}"; do
        IFS=: read -r test host backend_pid <<<"$t"
        # measure() counts the backend's CPU apart: whoami, or the HTTPS server.
        WHOAMI_PID=$backend_pid
        n=${#PROXIES[@]}
        for ((i = 0; i < n; i++)); do
            IFS=: read -r label pid port tls_port <<<"${PROXIES[(i + round - 1) % n]}"
            [[ $test == https ]] && port=$tls_port
            measure "$label" "$test" "$round" "$pid" "http://127.0.0.1:$port/" -H "Host: $host"
        done
    done
done
# Both at once: each proxy loaded by its own wrk (one thread, half the connections) over the
# same interval, so the machine's slow and fast phases weigh on both alike; the ratio of their
# CPU per request is then steadier than across the rounds above, run one after the other.
: >"$RUN/paired.tsv"
for ((round = 1; round <= PAIRED; round++)); do
    for t in "${TESTS[@]}"; do
        IFS=: read -r test host _ <<<"$t"
        nport=$PORT_NGINX
        [[ $test == https ]] && nport=$PORT_NGINX_TLS
        r0=$(tree_ticks "$ROUTER_PID")
        n0=$(tree_ticks "$NGINX_PID")
        timeout 120 wrk -t1 -c$((CONNS / 2)) -d"$DURATION" --latency -H "Host: $host" \
            "http://127.0.0.1:$PORT_ROUTER/" >"$RUN/paired-router-$test-$round.txt" 2>&1 &
        wr=$!
        timeout 120 wrk -t1 -c$((CONNS / 2)) -d"$DURATION" --latency -H "Host: $host" \
            "http://127.0.0.1:$nport/" >"$RUN/paired-nginx-$test-$round.txt" 2>&1 &
        wn=$!
        wait "$wr" "$wn" || log "a wrk of the paired round $round ($test) exited with an error"
        printf '%s\t%s\t%s\t%s\n' "$test" "$round" "$(($(tree_ticks "$ROUTER_PID") - r0))" \
            "$(($(tree_ticks "$NGINX_PID") - n0))" >>"$RUN/paired.tsv"
        log "  both at once, $test round $round"
    done
done
alive "$ROUTER_PID" router
alive "$NGINX_PID" nginx

python3 - "$RUN" "$BENCH" >"$BENCH/results/middlewares-$DATE.md" <<'EOF_PY'
import os, sys
sys.path.insert(0, sys.argv[2])
from reportlib import fmt, load_meta, med, parse_wrk
run = sys.argv[1]
meta = load_meta(run)
rows = [l.rstrip("\n").split("\t") for l in open(os.path.join(run, "runs.tsv"))]
clk = int(meta["CLK_TCK"])
cells = {}
for label, test, rnd, f, proxy, whoami, wrk, steal, other in rows:
    w = parse_wrk(os.path.join(run, f))
    c = cells.setdefault((test, label), {"rps": [], "p99": [], "cpu": [], "bad": 0})
    c["rps"].append(w["rps"])
    c["p99"].append(w["lat"].get("99"))
    c["cpu"].append(int(proxy) / clk / w["requests"] * 1e6 if w["requests"] else None)
    c["bad"] += w["non2xx"] + w["sockerr"]
names = {"chain": "chain: forwardauth + headers + ratelimit", "https": "a backend over HTTPS (keep-alive)"}
print(f"```\n{meta['COMMAND']}   # {meta['DATE']} at {meta['REV']}\n```\n")
print(f"{meta['NPROC']} CPUs ({meta['CPU_MODEL']}), {meta['NGINX']}, {meta['WRK']} -t{meta['THREADS']} -c{meta['CONNS']} -d{meta['DURATION']}, medians of {meta['ROUNDS']} rounds.\n")
print("| test | proxy | requests/s | p99 | CPU per request | errors | requests/s per round |")
print("| --- | --- | ---: | ---: | ---: | ---: | --- |")
for test in ("chain", "https"):
    for label in ("router", "nginx"):
        c = cells.get((test, label))
        if not c:
            continue
        per = ", ".join(fmt(r) for r in c["rps"])
        print(f"| {names[test]} | {label} | {fmt(med(c['rps']))} | {fmt(med(c['p99']), 2, ' ms')} | {fmt(med(c['cpu']), 1, ' µs')} | {c['bad']} | {per} |")
paired = [l.rstrip("\n").split("\t") for l in open(os.path.join(run, "paired.tsv"))]
if paired:
    print(f"\nBoth at once ({meta['PAIRED']} rounds, wrk -t1 -c{int(meta['CONNS']) // 2} each, same interval): medians, and the router's CPU per request over nginx's per round.\n")
    print("| test | router req/s | nginx req/s | router p99 | nginx p99 | router CPU/req | nginx CPU/req | CPU ratio per round |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for test in ("chain", "https"):
        rows = [r for r in paired if r[0] == test]
        if not rows:
            continue
        got = {"router": [], "nginx": []}
        ratios, bad = [], 0
        for _, rnd, rt, nt in rows:
            per = {}
            for label, ticks in (("router", int(rt)), ("nginx", int(nt))):
                w = parse_wrk(os.path.join(run, f"paired-{label}-{test}-{rnd}.txt"))
                bad += w["non2xx"] + w["sockerr"]
                cpu = ticks / clk / w["requests"] * 1e6 if w["requests"] else None
                got[label].append((w["rps"], w["lat"].get("99"), cpu))
                per[label] = cpu
            if per["router"] and per["nginx"]:
                ratios.append(per["router"] / per["nginx"])
        col = lambda label, i: med([x[i] for x in got[label]])
        print(f"| {names[test]} | {fmt(col('router', 0))} | {fmt(col('nginx', 0))} | {fmt(col('router', 1), 2, ' ms')} | {fmt(col('nginx', 1), 2, ' ms')} | {fmt(col('router', 2), 1, ' µs')} | {fmt(col('nginx', 2), 1, ' µs')} | {', '.join(f'{r:.2f}x' for r in ratios)} |")
    if bad:
        print(f"\n{bad} errors in the paired rounds.")
EOF_PY
cat "$BENCH/results/middlewares-$DATE.md"
