#!/usr/bin/env bash
# Builds the worker to build/ (wasm, the size-optimised `wasm` profile of Cargo.toml, then
# binaryen's wasm-opt from node_modules to shrink and strip it). Assumes scripts/setup.sh has run.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
worker-build --profile wasm --no-opt
# wasm-opt (binaryen, from node_modules) drops the name section and other custom sections the
# runtime never reads (a third of the file), and runs its size passes (-Oz) without inlining a
# function into its one caller (`--one-caller-inline-max-function-size 0`): that inlining is what
# made -Oz's output gzip 8% larger and its first requests slower; without it the code is 9% smaller
# and the gzipped file too (BENCHMARKS.md, "A smaller worker"). About 20 s on two cores.
wasm-opt --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
  --enable-mutable-globals --enable-reference-types --enable-multivalue --enable-exception-handling \
  -Oz --one-caller-inline-max-function-size 0 \
  --strip-debug --strip-producers build/index_bg.wasm -o build/index_bg.wasm
# The dashboard's bundle (public/assets), from dashboard/src.
bash scripts/build-dashboard.sh
