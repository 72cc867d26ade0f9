#!/usr/bin/env bash
# `npm run dev`: set-up if needed, a local admin key in .dev.vars on first run, the wasm and
# dashboard build (its progress shown), local D1 migrations, then the worker and dashboard on
# http://127.0.0.1:$PORT (default 8787) with local D1 and R2. The banner with the dashboard
# URL and the admin key is printed once the worker answers, not before.
#
# PORT           the port (default 8787); alert links (DASHBOARD_URL) follow it.
# DASHBOARD_URL  another URL for the alert links (a tunnel to this server, say).
# ADMIN_API_KEY  an admin key to use instead of the one kept in .dev.vars (nothing written).
# DEV_STATE_DIR  where local D1 and R2 live (default .wrangler/state).
# INGEST_MODE    `queue` serves POST /api/usage through the local usage queue of queue.toml
#                (answers 202; its consumer stores batches); default `sync`.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
bash scripts/setup.sh
PORT="${PORT:-8787}"
STATE="${DEV_STATE_DIR:-.wrangler/state}"
base="http://127.0.0.1:${PORT}"
vars=()

if [ -n "${ADMIN_API_KEY:-}" ]; then
  admin_key=$ADMIN_API_KEY
  vars+=(--var "ADMIN_API_KEY:${admin_key}")
else
  if ! grep -qs '^ADMIN_API_KEY=' .dev.vars; then
    key="adm_$(node -e "process.stdout.write(require('crypto').randomBytes(24).toString('hex'))")"
    printf 'ADMIN_API_KEY=%s\n' "$key" >> .dev.vars
    chmod 600 .dev.vars
    echo "[dev] created a local admin key in .dev.vars (git-ignored)"
  fi
  admin_key=$(sed -n 's/^ADMIN_API_KEY=//p' .dev.vars | tail -n 1)
fi

# Alert emails link to the dashboard this server is on (a --var wins over .dev.vars and
# wrangler.toml), or to DASHBOARD_URL from the environment (a tunnel, say).
vars+=(--var "DASHBOARD_URL:${DASHBOARD_URL:-$base}")

# Something else answering on the port would make the banner below lie.
if node -e "
  const s = require('net').connect(+process.argv[1], '127.0.0.1');
  s.on('connect', () => process.exit(0)); s.on('error', () => process.exit(1));" "$PORT"; then
  echo "[dev] port ${PORT} is already in use: stop what runs there, or pick another (PORT=8788 npm run dev)" >&2
  exit 1
fi

echo "[dev] building the worker (wasm, release) and the dashboard"
bash scripts/build.sh

echo "[dev] applying D1 migrations locally"
CI=true wrangler d1 migrations apply DB --local --persist-to "$STATE" </dev/null >/dev/null

# Waits (in the background) until this server answers /healthz, then prints the banner; gives
# up quietly when wrangler exits first. `$$` is wrangler's process once `exec` has run.
(
  node -e "
    const [url, pid] = process.argv.slice(1);
    (async () => {
      for (;;) {
        try { process.kill(+pid, 0); } catch { process.exit(1); }
        try { if ((await fetch(url)).ok) process.exit(0); } catch {}
        await new Promise((r) => setTimeout(r, 300));
      }
    })();" "${base}/healthz" "$$" || exit 0
  cat <<MSG

  Ready.
  Dashboard:   ${base}/
  API spec:    ${base}/api/openapi.json
  Admin key:   ${admin_key}
  Alert email: not sent; each message is written to an .eml file whose path is logged here
               (send_email binding called ...), and every rendered alert is in
               GET ${base}/api/admin/alerts

  Try:  curl -H "Authorization: Bearer ${admin_key}" ${base}/api/admin/projects

MSG
) &

config=()
if [ "${INGEST_MODE:-sync}" = "queue" ]; then
  config=(--config "$(bash scripts/queue-config.sh)")
  vars+=(--var "INGEST_MODE:queue")
  echo "[dev] INGEST_MODE=queue: POST /api/usage answers 202 and the local queue's consumer stores"
fi

echo "[dev] starting wrangler dev on ${base}"
exec wrangler dev "${config[@]}" --ip 127.0.0.1 --port "$PORT" --persist-to "$STATE" --test-scheduled "${vars[@]}"
