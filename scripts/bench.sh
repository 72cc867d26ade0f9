#!/usr/bin/env bash
# `npm run bench`: host micro-benchmarks of the core, then HTTP benchmarks against the real
# `wrangler dev`. Results go into BENCHMARKS.md by hand, with this command.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
bash scripts/setup.sh
bash scripts/build.sh
node bench/http.mjs
