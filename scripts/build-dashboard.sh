#!/usr/bin/env bash
# Builds the dashboard's script and styles (dashboard/src/) into public/assets/, bundling
# Chart.js from node_modules, so the worker serves everything itself: nothing is fetched from
# a CDN at run time. The built files are committed, so the worker needs no build step to serve
# them; run this after changing dashboard/src/ (scripts/build.sh may call it).
#   bash scripts/build-dashboard.sh            # writes public/assets/dashboard.{js,css}
#   bash scripts/build-dashboard.sh --check    # fails when the committed files are stale
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
ESBUILD="${ESBUILD_BIN:-$ROOT/node_modules/.bin/esbuild}"
if [ ! -x "$ESBUILD" ]; then
  echo "build-dashboard: esbuild not found at $ESBUILD; run scripts/setup.sh first" >&2
  exit 1
fi
out=public/assets
if [ "${1:-}" = "--check" ]; then
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
fi
"$ESBUILD" dashboard/src/main.js \
  --bundle --minify --format=iife --target=es2020,chrome100,firefox100,safari15 \
  --legal-comments=eof --charset=utf8 --log-level=warning \
  --outfile="$out/dashboard.js"
if [ "${1:-}" = "--check" ]; then
  for f in dashboard.js dashboard.css; do
    if ! cmp -s "$out/$f" "public/assets/$f"; then
      echo "build-dashboard: public/assets/$f is out of date; run bash scripts/build-dashboard.sh" >&2
      exit 1
    fi
  done
  echo "build-dashboard: public/assets is up to date" >&2
else
  echo "build-dashboard: wrote public/assets/dashboard.js and dashboard.css" >&2
fi
