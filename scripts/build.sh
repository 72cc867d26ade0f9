#!/usr/bin/env bash
# Builds the worker to build/ (wasm, the size-optimised `wasm` profile of Cargo.toml, then
# binaryen's wasm-opt from node_modules to shrink and strip it). Assumes scripts/setup.sh has run.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
bash scripts/worker-build.sh --profile wasm --no-opt
# binaryen's size passes and strip (scripts/wasm-opt.sh).
bash scripts/wasm-opt.sh build/index_bg.wasm
# The dashboard's bundle (public/assets), from dashboard/src.
bash scripts/build-dashboard.sh
