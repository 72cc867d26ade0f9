#!/usr/bin/env bash
# Builds the worker to build/ (wasm, release). Assumes scripts/setup.sh has run.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
worker-build --release
