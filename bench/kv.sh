#!/usr/bin/env bash
# ROUTER_PUBLISH into Debian's etcd and Redis, on this machine: the publication's size for N
# routed containers, the time to build it, to write it whole (a first publication) and one
# container's change (one transaction each), and a consumer's whole read and compile
# (cargo run --example kv_publish). etcd runs with --max-txn-ops raised so that the first
# publication is one transaction too (its default, 128, splits it: see README).
#
#   bench/kv.sh             (needs etcd-server and redis-server; about a minute after the build)
#
# Knobs (environment): BENCH_ROUTES (1000).
# Listens on 127.0.0.1 only; a trap stops what it started.

set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROUTES=${BENCH_ROUTES:-1000}
[[ $ROUTES =~ ^[1-9][0-9]{0,4}$ ]] || die "BENCH_ROUTES=$ROUTES: expected 1 to 99999"
need_tools etcd etcdctl redis-server redis-cli cargo

read -r -a PORTS < <(free_ports 3)
start etcd etcd --name=bench --data-dir="$TMP/etcd" \
  --listen-client-urls="http://127.0.0.1:${PORTS[0]}" --advertise-client-urls="http://127.0.0.1:${PORTS[0]}" \
  --listen-peer-urls="http://127.0.0.1:${PORTS[1]}" --initial-advertise-peer-urls="http://127.0.0.1:${PORTS[1]}" \
  --initial-cluster="bench=http://127.0.0.1:${PORTS[1]}" --max-txn-ops=100000 --max-request-bytes=67108864
start redis redis-server --port "${PORTS[2]}" --bind 127.0.0.1 --save "" --appendonly no --dir "$TMP"
wait_for 30 etcdctl --endpoints="127.0.0.1:${PORTS[0]}" endpoint health || die "etcd does not answer"
wait_for 30 redis-cli -p "${PORTS[2]}" ping || die "redis does not answer"
log "etcd $(etcd --version | head -1 | awk '{print $3}'), redis $(redis-server --version | awk '{print $3}')"
ETCD=127.0.0.1:${PORTS[0]} REDIS=127.0.0.1:${PORTS[2]} \
  cargo run -q --release -p router --example kv_publish -- "$ROUTES"
