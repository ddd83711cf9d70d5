#!/usr/bin/env bash
# The router's configuration paths side by side with nginx: a dynamic configuration file
# change until it is in service (the router watches the file; nginx is reloaded with
# `nginx -s reload`), and the start of a static configuration with many entry points until
# every port answers.
#
#   bench/config.sh           (make bench runs it after bench/tls.sh)
#
# Knobs (environment): BENCH_CONFIG_RUNS (20), BENCH_ENTRYPOINTS (20).
# Needs nginx, python3 and cargo; no dockerd (the router runs with the file provider only).
# Listens on 127.0.0.1 only; every wait is bounded; the trap stops what it started. The
# Markdown report goes to stdout and to bench/results/config-<date>.md, the raw JSON beside it.

set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUNS=${BENCH_CONFIG_RUNS:-20}
ENTRYPOINTS=${BENCH_ENTRYPOINTS:-20}
[[ $RUNS =~ ^[1-9][0-9]?$ ]] || die "BENCH_CONFIG_RUNS=$RUNS: expected 1 to 99"
[[ $ENTRYPOINTS =~ ^[1-9][0-9]{0,2}$ ]] || die "BENCH_ENTRYPOINTS=$ENTRYPOINTS: expected 1 to 999"
need_tools nginx python3 cargo

log "building the router (release)"
(cd "$ROOT" && cargo build --release -p router --quiet) || die "cargo build failed"

DATE=$(date -u +%Y-%m-%dT%H%M%SZ)
mkdir -p "$BENCH/results"
OUT=$BENCH/results/config-$DATE
log "file change ($RUNS runs) and start-up with $ENTRYPOINTS entry points ($RUNS runs), router and nginx"
timeout 900 python3 "$BENCH/config.py" --router "$ROUTER_BIN" --nginx "$(command -v nginx)" --tmp "$TMP" \
    --runs "$RUNS" --entrypoints "$ENTRYPOINTS" >"$OUT.json" || die "config.py failed (see $TMP)"

REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
python3 - "$OUT.json" "$REV" "$(date -u '+%Y-%m-%d %H:%M UTC')" "$(nginx -v 2>&1 | sed 's/^nginx version: //')" \
    "$RUNS" "$ENTRYPOINTS" >"$OUT.md" <<'EOF'
import json, sys
path, rev, date, nginx, runs, eps = sys.argv[1:]
d = json.load(open(path))
f, s = d["file_change"], d["startup"]
ok = lambda b: "met" if b else "**missed**"
print(f"# Configuration paths, {date} at {rev}\n")
print(f"`BENCH_CONFIG_RUNS={runs} BENCH_ENTRYPOINTS={eps} bench/config.sh`; {nginx}.\n")
print("| measure | router | nginx |\n| --- | --- | --- |")
for title, part in (("file change to first 200 (ms)", f), (f"start with {eps} entry points to all answering (ms)", s)):
    r, n = part["router"], part["nginx"]
    print(f"| {title}: median / p90 / max | {r['median_ms']} / {r['p90_ms']} / {r['max_ms']} | "
          f"{n['median_ms']} / {n['p90_ms']} / {n['max_ms']} |")
print("\n| target | measured | |\n| --- | --- | --- |")
print(f"| a file change applied within 1 s | max {f['router']['max_ms']} ms | {ok(f['router']['max_ms'] < 1000)} |")
print(f"| {eps} entry points start in under 100 ms | max {s['router']['max_ms']} ms | {ok(s['router']['max_ms'] < 100)} |")
EOF
cat "$OUT.md"
