# The commands README.md gives. `make up` runs the stack, `make test` runs every test.
SHELL := /bin/bash
TARGET := x86_64-unknown-linux-gnu
STATIC_RUSTFLAGS := -C target-feature=+crt-static --cfg getrandom_backend="linux_getrandom"
RELEASE_DIR := target/$(TARGET)/release
COMPOSE_PROJECT_NAME ?= edge
export COMPOSE_PROJECT_NAME
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
	$(COMPOSE) -f compose.yaml up -d
	@echo
	@echo "The stack is up: router -> whoami, with socket-guard holding the Docker socket."
	@echo "Browse https://whoami.localhost:$${HTTPS_PORT:-443}/ (self-signed certificate), or:"
	@echo "  curl -k https://whoami.localhost:$${HTTPS_PORT:-443}/"
	@echo "  curl -i http://whoami.localhost:$${HTTP_PORT:-80}/    # 308 to HTTPS"

down:
	$(COMPOSE) -f compose.yaml down --remove-orphans --volumes

test: images
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
