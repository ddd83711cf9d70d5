#!/usr/bin/env bash
# swarm.yaml across the three-node test cluster (scripts/cluster.sh): the time from
# `docker service scale` to the new task's first routed 200, and a steady HTTPS client's errors
# through rolling updates (stop-first and start-first) and through a worker's loss.
#
#   bench/swarm.sh          (needs root, a dockerd, make images; about 6 minutes)
#
# Knobs (environment): BENCH_ROUNDS (5). The stack runs with the router's default refresh
# (ROUTER_SWARM_REFRESH 5s). The Markdown report goes to stdout and to
# bench/results/swarm-<date>.md, the raw JSON beside it. A trap removes the cluster (the host
# is left as before, as in the test), also on Ctrl-C.

set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROUNDS=${BENCH_ROUNDS:-5}
[[ $ROUNDS =~ ^[1-9][0-9]?$ ]] || die "BENCH_ROUNDS=$ROUNDS: expected 1 to 99"
need_tools docker python3 ip nsenter
[[ $(id -u) == 0 ]] || die "the cluster needs root (network namespaces, dockerd)"
docker_ok || die "no dockerd answers (the cluster's images come from it)"
for image in socket-guard:local router:local whoami:local; do
    docker image inspect "$image" >/dev/null 2>&1 || die "$image is missing: run make images"
done

CLUSTER="$ROOT/scripts/cluster.sh"
cluster_down() { "$CLUSTER" down || true; cleanup; }
trap cluster_down EXIT
trap 'exit 130' INT TERM

log "cluster up (3 nodes)"
"$CLUSTER" up >&2
MANAGER=unix:///var/lib/sg-cluster/n1/docker.sock
cat >"$TMP/workers-only.yaml" <<'EOF'
version: "3.8"
services:
  whoami:
    deploy:
      placement:
        constraints: ["node.role == worker"]
EOF
log "deploying swarm.yaml (whoami on the workers, a router on each worker)"
DOCKER_GID=$(stat -c %g /var/run/docker.sock) STACK_NAME=edge HTTP_PORT=80 HTTPS_PORT=443 \
    docker -H "$MANAGER" stack deploy --resolve-image never -c "$ROOT/swarm.yaml" \
    -c "$TMP/workers-only.yaml" edge >&2
answers() {
    [[ $(ip netns exec sgc-sw curl -sk --max-time 2 --resolve whoami.localhost:443:192.168.213.12 \
        -o /dev/null -w '%{http_code}' https://whoami.localhost/) == 200 ]]
}
wait_for 120 answers || die "the router on worker 2 did not serve whoami within 120 s"

DATE=$(date -u +%Y-%m-%dT%H%M%SZ)
mkdir -p "$BENCH/results"
log "measuring ($ROUNDS rounds each)"
python3 "$BENCH/swarm.py" --manager "$MANAGER" --router 192.168.213.12 --dir "$TMP" \
    --rounds "$ROUNDS" >"$TMP/swarm.json"
cp "$TMP/swarm.json" "$BENCH/results/swarm-$DATE.json"
cp "$TMP/client.log" "$BENCH/results/swarm-$DATE.client.log"

python3 - "$TMP/swarm.json" "$DATE" "$(git -C "$ROOT" rev-parse --short HEAD)" >"$BENCH/results/swarm-$DATE.md" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"# Swarm across three nodes, {sys.argv[2]} (commit {sys.argv[3]})\n")
s = r["scale_up"]
print(f"Scale-up 2 -> 3 replicas, {r['rounds']} rounds (seconds from `docker service scale`):\n")
print("| | median | min | max |\n|---|---:|---:|---:|")
for key, name in [("to_running", "the new task runs (Swarm)"),
                  ("to_first_200", "its first 200 through the router"),
                  ("running_to_first_200", "running -> first 200 (the router's part)")]:
    v = s[key]
    print(f"| {name} | {v['median']:.2f} | {v['min']:.2f} | {v['max']:.2f} |")
print("\nA steady HTTPS client (a request every 20 ms, a new connection each):\n")
print("| change | requests | errors | answers over 1 s | slowest (s) |\n|---|---:|---:|---:|---:|")
for key, name in [("update_stop_first", "update --force, stop-first"),
                  ("update_start_first", "update --force, start-first")]:
    for i, u in enumerate(r[key], 1):
        print(f"| {name} #{i} | {u['requests']} | {u['errors']} | {u['over_1s']} | {u['slowest_s']} |")
n = r["node_loss"]
print(f"| worker 3 lost with {n['replicas_lost']} of {n['replicas']} replicas (whole again after {n['whole_again_s']} s) | {n['requests']} | {n['errors']} | {n['over_1s']} | {n['slowest_s']} |")
o = r["overall"]
print(f"| the whole run | {o['requests']} | {o['errors']} | {o['over_1s']} | {o['slowest_s']} |")
EOF
cat "$BENCH/results/swarm-$DATE.md"
log "report: bench/results/swarm-$DATE.md"
