#!/usr/bin/env bash
# scripts/build.sh [OUT]: builds berth as it is installed, into OUT
# (default bin/berth): the static berth binary with the berth-shim program
# appended (see internal/runtime/shim/shimexe: one file to install, and
# per-container shims that run a small program). `make build`, the
# end-to-end harness (test/internal/e2e) and bench/bench.sh all build
# through here, so that what is tested and measured is what users install.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bin/berth}
GO=${GO:-go}
export CGO_ENABLED=0
flags=(-trimpath -ldflags '-s -w')

mkdir -p "$(dirname "$out")"
tmp=$(mktemp -d "$(dirname "$out")/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
"$GO" build "${flags[@]}" -o "$tmp/berth-shim" ./cmd/berth-shim
"$GO" build "${flags[@]}" -o "$tmp/berth" ./cmd/berth
"$GO" run ./internal/runtime/shim/shimexe/appendshim "$tmp/berth" "$tmp/berth-shim"
mv -f "$tmp/berth" "$out" # atomic: a running copy keeps its old file
