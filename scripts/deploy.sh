#!/usr/bin/env bash
# `npm run deploy`: applies D1 migrations to the remote database, then `wrangler deploy`
# (which builds the worker). Needs `wrangler login` and the steps in README.md done once.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
bash scripts/setup.sh
unset CLOUDFLARE_CF_FETCH_ENABLED
wrangler d1 migrations apply DB --remote
wrangler deploy
