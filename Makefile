# The commands README.md gives. `make up` runs the stack, `make test` runs every test.
SHELL := /bin/bash
TARGET := x86_64-unknown-linux-gnu
STATIC_RUSTFLAGS := -C target-feature=+crt-static --cfg getrandom_backend="linux_getrandom"
RELEASE_DIR := target/$(TARGET)/release
COMPOSE_PROJECT_NAME ?= edge
export COMPOSE_PROJECT_NAME
COMPOSE := $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)
export DOCKER_GID := $(shell stat -c %g /var/run/docker.sock 2>/dev/null || echo 0)

.PHONY: all build static images up down cluster-up cluster-down swarm-up swarm-down swarm-cluster-up swarm-cluster-down test lint bench fuzz clean

all: build

build:
	cargo build --workspace --release

# Static binaries for FROM scratch images (no registry needed: nothing is pulled).
static:
	RUSTFLAGS='$(STATIC_RUSTFLAGS)' cargo build --release --target $(TARGET) -p socket-guard -p router -p whoami

images: static
	scripts/image.sh socket-guard:local socket-guard/Dockerfile $(RELEASE_DIR)/socket-guard
	scripts/image.sh router:local router/Dockerfile $(RELEASE_DIR)/router
	scripts/image.sh whoami:local whoami/Dockerfile $(RELEASE_DIR)/whoami

# Each checks its prerequisites first (scripts/prereqs.sh: installs them as root on Debian,
# else names every missing one and how to install it), before anything is built.
up:
	@scripts/prereqs.sh up
	@$(MAKE) --no-print-directory images
	@scripts/dashboard-credentials.sh $(RELEASE_DIR)/router
	$(COMPOSE) -f compose.yaml up -d
	@echo
	@echo "The stack is up: router -> whoami, with socket-guard holding the Docker socket."
	@echo "Browse https://whoami.localhost:$${HTTPS_PORT:-443}/ (self-signed certificate), or:"
	@echo "  curl -k https://whoami.localhost:$${HTTPS_PORT:-443}/"
	@echo "  curl -i http://whoami.localhost:$${HTTP_PORT:-80}/    # 308 to HTTPS"
	@echo "The router's dashboard, behind basic authentication (user admin, password in .dashboard/password):"
	@echo "  https://dashboard.localhost:$${HTTPS_PORT:-443}/dashboard/"

down:
	$(COMPOSE) -f compose.yaml down --remove-orphans --volumes

# Cluster mode (compose.cluster.yaml): the certificates once, in .cluster-tls/.
CLUSTER_TLS_DIR ?= ./.cluster-tls
export CLUSTER_TLS_DIR
cluster-up:
	@scripts/prereqs.sh up
	@$(MAKE) --no-print-directory images
	@$(RELEASE_DIR)/router cluster-certs $(CLUSTER_TLS_DIR) controller
	$(COMPOSE) -f compose.cluster.yaml up -d
	@echo
	@echo "Cluster mode is up: two data planes, configured by the controller, which alone reaches socket-guard."
	@echo "  curl -k https://whoami.localhost:$${HTTPS_PORT:-443}/      # router-1"
	@echo "  curl -k https://whoami.localhost:$${HTTPS_PORT_2:-8444}/     # router-2"

cluster-down:
	$(COMPOSE) -f compose.cluster.yaml down --remove-orphans --volumes

STACK_NAME ?= edge
export STACK_NAME
SWARM_MARK := .swarm-created-by-make

# A single-node swarm when this node is in none (remembered, so swarm-down leaves only
# a swarm it created); the router may then run on the manager.
swarm-up: images
	@if [ "$$(docker info --format '{{.Swarm.LocalNodeState}}')" != "active" ]; then \
	  docker swarm init --advertise-addr 127.0.0.1 >/dev/null && touch $(SWARM_MARK) && echo "initialised a single-node swarm"; \
	fi
	@workers=$$(docker node ls --filter role=worker -q 2>/dev/null | wc -l); \
	role=$${ROUTER_NODE_ROLE:-$$( [ "$$workers" -gt 0 ] && echo worker || echo manager )}; \
	ROUTER_NODE_ROLE=$$role docker stack deploy -c swarm.yaml $(STACK_NAME)
	@echo "Stack $(STACK_NAME) deployed: curl -k https://whoami.localhost:$${HTTPS_PORT:-443}/"

# Waits until the stack's services and networks are gone (`--detach=false`): leaving the swarm
# while its overlay network is still being removed leaves a stale network behind for good.
swarm-down:
	-docker stack rm --detach=false $(STACK_NAME)
	@if [ -f $(SWARM_MARK) ]; then docker swarm leave --force && rm -f $(SWARM_MARK); fi

# Cluster mode on Swarm (swarm.cluster.yaml): the guard and the controller on managers, a
# data plane on every worker; the certificates as Swarm secrets, made once in CLUSTER_TLS_DIR.
swarm-cluster-up: images
	@$(RELEASE_DIR)/router cluster-certs $(CLUSTER_TLS_DIR) controller
	@if [ "$$(docker info --format '{{.Swarm.LocalNodeState}}')" != "active" ]; then \
	  docker swarm init --advertise-addr 127.0.0.1 >/dev/null && touch $(SWARM_MARK) && echo "initialised a single-node swarm"; \
	fi
	@workers=$$(docker node ls --filter role=worker -q 2>/dev/null | wc -l); \
	role=$${ROUTER_NODE_ROLE:-$$( [ "$$workers" -gt 0 ] && echo worker || echo manager )}; \
	ROUTER_NODE_ROLE=$$role docker stack deploy -c swarm.cluster.yaml $(STACK_NAME)
	@echo "Stack $(STACK_NAME) deployed in cluster mode: curl -k https://whoami.localhost:$${HTTPS_PORT:-443}/"

swarm-cluster-down: swarm-down

# --no-fail-fast: every failing test binary is reported, not only the first.
test:
	@scripts/prereqs.sh test
	@$(MAKE) --no-print-directory images
	cargo test --workspace --all-targets --no-fail-fast

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

bench:
	bench/guard.sh && bench/router.sh && bench/tls.sh && bench/config.sh && bench/redact.sh && bench/middlewares.sh && bench/hold.sh && bench/scale.sh && bench/discovery.sh && bench/tcp.sh && bench/swarm.sh && bench/cluster.sh

fuzz:
	policies/fuzz/run.sh
	socket-guard/fuzz/run.sh
	router/fuzz/run.sh

clean:
	cargo clean
