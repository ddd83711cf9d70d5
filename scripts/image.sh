#!/usr/bin/env bash
# image.sh TAG DOCKERFILE BINARY: builds a FROM scratch image from one static binary.
# The build context holds only the binary and the Dockerfile, so nothing else leaks in.
set -euo pipefail
tag=$1 dockerfile=$2 binary=$3
file "$binary" 2>/dev/null | grep -qE 'static(-pie)? linked' || {
  echo "image.sh: $binary is not statically linked" >&2; exit 1; }
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
cp "$binary" "$ctx/"
cp "$dockerfile" "$ctx/Dockerfile"
if ! out=$(DOCKER_BUILDKIT=0 docker build -q -t "$tag" "$ctx" 2>&1); then
  echo "$out" >&2; exit 1
fi
echo "built $tag"
