#!/usr/bin/env bash
# Builds the worker to build/ (wasm, the size-optimised `wasm` profile of Cargo.toml, then
# binaryen's wasm-opt from node_modules). Assumes scripts/setup.sh has run.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
worker-build --profile wasm --no-opt
# wasm-opt -Oz drops the name section and shrinks the code further. It takes a minute or two
# on two cores, so an unchanged input reuses the last output (kept in target/).
WASM=build/index_bg.wasm
CACHE=target/wasm-opt
input_hash=$(sha256sum "$WASM" | cut -d' ' -f1)
if [ ! -f "$CACHE/$input_hash.wasm" ]; then
  mkdir -p "$CACHE"
  rm -f "$CACHE"/*.wasm
  # The features rustc's wasm32 target and wasm-bindgen's catch wrappers use.
  wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals --enable-reference-types --enable-multivalue --enable-exception-handling \
    "$WASM" -o "$CACHE/tmp.wasm"
  mv "$CACHE/tmp.wasm" "$CACHE/$input_hash.wasm"
fi
cp "$CACHE/$input_hash.wasm" "$WASM"
# The dashboard's bundle (public/assets), from dashboard/src.
bash scripts/build-dashboard.sh
