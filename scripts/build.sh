#!/usr/bin/env bash
# Builds the worker to build/ (wasm, release). Assumes scripts/setup.sh has run.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
worker-build --release
# The dashboard's bundle (public/assets), from dashboard/src.
bash scripts/build-dashboard.sh
