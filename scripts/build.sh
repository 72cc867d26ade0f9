#!/usr/bin/env bash
# Builds the worker to build/ (wasm, the size-optimised `wasm` profile of Cargo.toml, then
# binaryen's wasm-opt from node_modules to strip it). Assumes scripts/setup.sh has run.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
worker-build --profile wasm --no-opt
# wasm-opt (binaryen, from node_modules) drops the name section and other custom sections the
# runtime never reads (a third of the file). Its -Oz/-O3 passes would shrink the code another
# 10% but made the first request after a start slower (BENCHMARKS.md), so they are not run.
wasm-opt --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
  --enable-mutable-globals --enable-reference-types --enable-multivalue --enable-exception-handling \
  --strip-debug --strip-producers build/index_bg.wasm -o build/index_bg.wasm
# The dashboard's bundle (public/assets), from dashboard/src.
bash scripts/build-dashboard.sh
