#!/usr/bin/env bash
# `npm run dev`: set-up if needed, a local admin key in .dev.vars on first run, local D1
# migrations, then the worker and dashboard on http://127.0.0.1:8787 with local D1 and R2.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
bash scripts/setup.sh
PORT="${PORT:-8787}"

if ! grep -qs '^ADMIN_API_KEY=' .dev.vars; then
  key="adm_$(node -e "process.stdout.write(require('crypto').randomBytes(24).toString('hex'))")"
  printf 'ADMIN_API_KEY=%s\n' "$key" >> .dev.vars
  chmod 600 .dev.vars
  echo "[dev] created a local admin key in .dev.vars (git-ignored)"
fi
admin_key=$(sed -n 's/^ADMIN_API_KEY=//p' .dev.vars | tail -n 1)

echo "[dev] applying D1 migrations locally"
CI=true wrangler d1 migrations apply DB --local </dev/null >/dev/null

cat <<MSG

  Dashboard:  http://127.0.0.1:${PORT}/
  API spec:   http://127.0.0.1:${PORT}/api/openapi.json
  Admin key:  ${admin_key}

  Try:  curl -H "Authorization: Bearer ${admin_key}" http://127.0.0.1:${PORT}/api/admin/projects

MSG
exec wrangler dev --ip 127.0.0.1 --port "$PORT" --test-scheduled
