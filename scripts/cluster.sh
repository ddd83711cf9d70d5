#!/usr/bin/env bash
# A real three-node Swarm cluster on this machine, for the multi-node tests.
#
#   scripts/cluster.sh up      # 3 dockerds (1 manager, 2 workers), swarm joined, images loaded
#   scripts/cluster.sh down    # everything removed; the host is as before
#   scripts/cluster.sh env N   # DOCKER_HOST=... for node N (1 = the manager)
#
# Each node is a dockerd in its own network, mount and UTS namespace: `ip netns` for the
# network, `unshare` for a private /run (so a service that mounts /var/run/docker.sock gets its
# own node's daemon) and hostname, its own --data-root, --exec-root and pidfile. The nodes are
# joined by veth pairs to a bridge in a separate "switch" namespace, on private addresses
# (192.168.213.0/24). Nothing is created in the host's root network namespace. Service virtual
# IPs and the ingress routing mesh (IPVS) and encrypted overlays (ESP) are not available on
# every kernel: the tests use neither (dnsrr endpoints, host-mode ports).
#
# Idempotent: `up` on a running cluster checks it; `down` removes whatever is left. Node logs
# are kept in $CLUSTER_DIR/nN/dockerd.log until `down` (the tests print them on failure).
set -euo pipefail

CLUSTER_DIR=${CLUSTER_DIR:-/var/lib/sg-cluster}
NODES=${CLUSTER_NODES:-3}
NET=192.168.213
SWITCH=sgc-sw
IMAGES=${CLUSTER_IMAGES:-"socket-guard:local router:local whoami:local"}

ns() { echo "sgc-n$1"; }
addr() { echo "$NET.$((10 + $1))"; }
sock() { echo "$CLUSTER_DIR/n$1/docker.sock"; }
d() { local n=$1; shift; docker -H "unix://$(sock "$n")" "$@"; }

die() { echo "cluster: $*" >&2; exit 1; }

node_up() {
	local n=$1 dir="$CLUSTER_DIR/n$1"
	mkdir -p "$dir/data" "$dir/exec"
	if ! ip netns list | grep -qw "$(ns "$n")"; then
		ip netns add "$(ns "$n")"
		ip link add "sgc$n-a" type veth peer name "sgc$n-b"
		ip link set "sgc$n-a" netns "$(ns "$n")"
		ip link set "sgc$n-b" netns "$SWITCH"
		ip netns exec "$SWITCH" ip link set "sgc$n-b" master br0 up
		ip netns exec "$(ns "$n")" ip link set "sgc$n-a" name eth0
		ip netns exec "$(ns "$n")" ip addr add "$(addr "$n")/24" dev eth0
		ip netns exec "$(ns "$n")" ip link set eth0 up
		ip netns exec "$(ns "$n")" ip link set lo up
		ip netns exec "$(ns "$n")" ip route add default via "$NET.1" dev eth0 2>/dev/null || true
	fi
	if [ -S "$(sock "$n")" ] && d "$n" version >/dev/null 2>&1; then
		return
	fi
	rm -f "$(sock "$n")" "$dir/docker.pid"
	# A private /run (and so /var/run) in a mount namespace of its own; the node's socket is
	# both there, for containers that mount /var/run/docker.sock, and in $dir, for the host.
	# nsenter, not `ip netns exec`, which remounts /sys and so hides the cgroup hierarchies.
	# No registry here: DOCKER_SERVICE_PREFER_OFFLINE_IMAGE makes a node start a task from its
	# own copy of the image instead of trying to pull it first (a DNS timeout of about 20 s).
	nsenter --net="/run/netns/$(ns "$n")" unshare --mount --uts --propagation private \
		sh -c "hostname sgc-node$n && mount -t tmpfs -o mode=755 tmpfs /run && mkdir -p /run/docker && DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1 exec dockerd \
			--data-root '$dir/data' --exec-root '$dir/exec' --pidfile '$dir/docker.pid' \
			-H 'unix://$(sock "$n")' -H unix:///run/docker.sock \
			--config-file '$CLUSTER_DIR/daemon.json' --storage-driver overlay2 --exec-opt native.cgroupdriver=cgroupfs \
			--cgroup-parent 'sgc-node$n' --bip 172.31.$((200 + n)).1/24 \
			--default-address-pool base=10.$((200 + n)).0.0/16,size=24 \
			--userland-proxy=false --log-level warn" \
		>"$dir/dockerd.log" 2>&1 &
	for _ in $(seq 1 100); do
		d "$n" version >/dev/null 2>&1 && return
		sleep 0.2
	done
	cat "$dir/dockerd.log" >&2
	die "node $n's dockerd did not start"
}

swarm_up() {
	local state
	state=$(d 1 info --format '{{.Swarm.LocalNodeState}}')
	if [ "$state" != active ]; then
		d 1 swarm init --advertise-addr "$(addr 1)" --default-addr-pool 10.99.0.0/16 >/dev/null
	fi
	local token
	token=$(d 1 swarm join-token -q worker)
	for n in $(seq 2 "$NODES"); do
		if [ "$(d "$n" info --format '{{.Swarm.LocalNodeState}}')" != active ]; then
			d "$n" swarm join --token "$token" --advertise-addr "$(addr "$n")" "$(addr 1):2377" >/dev/null
		fi
	done
	for _ in $(seq 1 100); do
		[ "$(d 1 node ls --filter role=worker --format '{{.Status}}' | grep -c Ready)" -ge $((NODES - 1)) ] && return
		sleep 0.2
	done
	d 1 node ls >&2
	die "the workers did not become ready"
}

images_in() {
	local missing=()
	for image in $IMAGES; do
		docker image inspect "$image" >/dev/null 2>&1 || die "image $image is missing: run make images"
	done
	for n in $(seq 1 "$NODES"); do
		missing=()
		for image in $IMAGES; do
			local want have
			want=$(docker image inspect -f '{{.Id}}' "$image")
			have=$(d "$n" image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)
			[ "$want" = "$have" ] || missing+=("$image")
		done
		if [ ${#missing[@]} -gt 0 ]; then
			docker save "${missing[@]}" | d "$n" load -q >/dev/null
		fi
	done
}

up() {
	[ "$(id -u)" = 0 ] || die "needs root (network namespaces, dockerd)"
	mkdir -p "$CLUSTER_DIR"
	# The host's /etc/docker/daemon.json (its data root, its storage driver) is not the nodes'.
	echo '{}' >"$CLUSTER_DIR/daemon.json"
	if ! ip netns list | grep -qw "$SWITCH"; then
		ip netns add "$SWITCH"
		ip netns exec "$SWITCH" ip link add br0 type bridge
		ip netns exec "$SWITCH" ip addr add "$NET.1/24" dev br0
		ip netns exec "$SWITCH" ip link set br0 up
		ip netns exec "$SWITCH" ip link set lo up
	fi
	for n in $(seq 1 "$NODES"); do node_up "$n"; done
	swarm_up
	images_in
	echo "cluster: $NODES nodes up (manager: unix://$(sock 1))"
}

down() {
	for n in $(seq 1 "$NODES"); do
		local dir="$CLUSTER_DIR/n$n"
		if [ -f "$dir/docker.pid" ]; then
			local pid
			pid=$(cat "$dir/docker.pid")
			kill "$pid" 2>/dev/null || true
			for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
			kill -9 "$pid" 2>/dev/null || true
		fi
		# Whatever the daemon left running in its namespace (containerd, shims) and of its
		# containers (a lost node's).
		for pid in $(task_pids "$n"); do kill -9 "$pid" 2>/dev/null || true; done
		if ip netns list | grep -qw "$(ns "$n")"; then
			for pid in $(ip netns pids "$(ns "$n")" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
			ip netns del "$(ns "$n")" 2>/dev/null || true
		fi
	done
	if ip netns list | grep -qw "$SWITCH"; then
		ip netns del "$SWITCH"
	fi
	# Mounts the nodes' containers left under the data roots, then the files.
	if [ -d "$CLUSTER_DIR" ]; then
		{ grep -o " $CLUSTER_DIR[^ ]*" /proc/mounts || true; } | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
		rm -rf "$CLUSTER_DIR"
	fi
	# The nodes' cgroups.
	for n in $(seq 1 "$NODES"); do
		find /sys/fs/cgroup -depth -type d -path "*sgc-node$n*" -exec rmdir {} \; 2>/dev/null || true
	done
}

# Node $1 lost as a host is lost: every process in its namespace (daemon, containerd, tasks)
# killed at once and its link to the switch cut, so that its addresses answer nothing (no
# refusal, no reset: silence). `down` removes what is left.
lose() {
	local n=$1
	[ -n "$n" ] && [ "$n" -gt 1 ] && [ "$n" -le "$NODES" ] || die "lose: a worker's number (2..$NODES)"
	ip netns exec "$SWITCH" ip link set "sgc$n-b" down
	for pid in $(ip netns pids "$(ns "$n")" 2>/dev/null) $(task_pids "$n"); do kill -9 "$pid" 2>/dev/null || true; done
}

# The processes of node $1's containers (in network namespaces of their own, under the node's
# cgroup parent).
task_pids() {
	grep -l "sgc-node$1/" /proc/[0-9]*/cgroup 2>/dev/null | cut -d/ -f3 || true
}

case "${1:-}" in
up) up ;;
down) down ;;
lose) lose "${2:-}" ;;
env) echo "DOCKER_HOST=unix://$(sock "${2:-1}")" ;;
*) die "usage: $0 up|down|lose N|env N" ;;
esac
