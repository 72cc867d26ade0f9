#!/usr/bin/env bash
# Every gate, in order: set-up, format, lints, host tests, the wasm release build, and the
# integration suites against the built worker (Miniflare and a real `wrangler dev`).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
# Each step's time is printed as it ends and summed up at the end (BENCHMARKS.md quotes them).
SECONDS=0
times=()
last=""
step() {
  [ -n "$last" ] && times+=("$(printf '%5ss  %s' "$SECONDS" "$last")")
  SECONDS=0
  last="$*"
  printf '\n== %s\n' "$*"
}
finish() {
  [ -n "$last" ] && times+=("$(printf '%5ss  %s' "$SECONDS" "$last")")
  printf '\n== step times\n'
  printf '%s\n' "${times[@]}"
}
step "set-up"
bash scripts/setup.sh
step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --locked --workspace --all-targets -- -D warnings
step "cargo test (host)"
cargo test --locked --quiet --workspace
step "wasm release build"
bash scripts/build.sh
step "integration suites (node --test)"
node --test --test-concurrency=1 tests/*.test.mjs
finish
