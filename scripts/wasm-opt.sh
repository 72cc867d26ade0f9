#!/usr/bin/env bash
# Shrinks and strips a worker's wasm in place, as every build of this project does
# (scripts/build.sh, and bench/first-request.mjs for its Rust floors). binaryen's wasm-opt from
# node_modules drops the name section and other custom sections the runtime never reads (a third
# of the file), and runs its size passes (-Oz) without inlining a function into its one caller
# (`--one-caller-inline-max-function-size 0`): that inlining is what made plain -Oz's output
# gzip 8% larger. Without it the file is 8% smaller raw and 1.4% smaller gzipped, with first
# requests, quotes and ingest unchanged within the benches' noise (BENCHMARKS.md, "A smaller
# worker"). `--converge` runs the passes again until the file stops shrinking (1 KB less for the
# worker, 2026-12-07). About 30 s on two cores for the worker.
set -euo pipefail
source "$(dirname "$0")/env.sh"
wasm-opt --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
  --enable-mutable-globals --enable-reference-types --enable-multivalue --enable-exception-handling \
  -Oz --converge --one-caller-inline-max-function-size 0 \
  --strip-debug --strip-producers "$1" -o "$1"
