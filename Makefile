# The commands README.md gives. `make up` runs the stack, `make test` runs every test.
SHELL := /bin/bash
TARGET := x86_64-unknown-linux-gnu
STATIC_RUSTFLAGS := -C target-feature=+crt-static --cfg getrandom_backend="linux_getrandom"
RELEASE_DIR := target/$(TARGET)/release
export COMPOSE_PROJECT_NAME := edge
COMPOSE := $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)
export DOCKER_GID := $(shell stat -c %g /var/run/docker.sock 2>/dev/null || echo 0)

.PHONY: all build static images up down test lint bench fuzz clean

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

up: images
	install -d -m 2770 -o 65534 -g $(DOCKER_GID) run
	$(COMPOSE) -f compose.yaml up -d
	@echo
	@echo "socket-guard is up with policies/presets/router.env."
	@echo "Try it:  DOCKER_HOST=unix://$(CURDIR)/run/socket-guard.sock docker ps"
	@echo "Denied:  DOCKER_HOST=unix://$(CURDIR)/run/socket-guard.sock docker run --rm socket-guard:local"

down:
	$(COMPOSE) -f compose.yaml down --remove-orphans --volumes
	rm -rf run

test:
	cargo test --workspace --all-targets

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

bench:
	bench/guard.sh

fuzz:
	policies/fuzz/run.sh

clean:
	cargo clean
