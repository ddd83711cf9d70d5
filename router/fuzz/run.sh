#!/usr/bin/env bash
# Runs the router's fuzz targets on nightly (outside CI): ./run.sh [seconds per target, default 60]
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-60}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz
for target in rule labels wire; do
  cargo +nightly fuzz run "$target" -- -max_total_time="$secs"
done
