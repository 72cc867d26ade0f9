#!/usr/bin/env bash
# `npm run prices:update`: refreshes data/litellm-prices.tsv from the newest `litellm` release
# on PyPI (see scripts/prices-update.py), with the project's own Python venv (scripts/setup.sh).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
PY="$ROOT/.tools/venv/bin/python"
[ -x "$PY" ] || { bash scripts/setup.sh; }
"$PY" scripts/prices-update.py "$@"
echo "review with: git diff data/litellm-prices.tsv"
