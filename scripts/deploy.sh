#!/usr/bin/env bash
# `npm run deploy`: the first deploy and every later one, in one command. Needs `wrangler
# login` once (or CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID in the environment).
#
# - The D1 database and R2 bucket named in wrangler.toml (without ids) are created by
#   wrangler's automatic provisioning when missing, and found by name when present.
# - Migrations are applied remotely before the new code goes live, so new code never meets an
#   old schema. Only on the first deploy, when the database does not exist yet, the deploy
#   that creates it comes first and the migrations follow within seconds; until they land the
#   worker answers 401 or 503 and writes nothing (no admin secret, no project, no key exists
#   yet; tests/deploy.test.mjs checks this).
# - When the worker has no ADMIN_API_KEY secret, one is set: $ADMIN_API_KEY if given, else a
#   new random key, printed once.
#
# - With INGEST_MODE=queue, the worker is deployed with the usage queue of queue.toml and
#   INGEST_MODE = "queue"; its queues are created first when missing.
#
# WRANGLER overrides the wrangler to run (tests use a fake one).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
bash scripts/setup.sh
unset CLOUDFLARE_CF_FETCH_ENABLED
WRANGLER="${WRANGLER:-wrangler}"
log() { printf '[deploy] %s\n' "$*" >&2; }

# The worker's name, the DB binding's database name and migrations folder, and its id (only
# if one was added; last, as it may be empty).
read -r worker db_name migrations_dir db_id < <(node --input-type=module -e "
  import { experimental_readRawConfig } from 'wrangler';
  const { rawConfig: c } = experimental_readRawConfig({ config: 'wrangler.toml' });
  const db = (c.d1_databases ?? []).find((d) => d.binding === 'DB') ?? {};
  console.log(c.name, db.database_name ?? '', db.migrations_dir ?? 'migrations', db.database_id ?? '');
") || true
if [ -z "${db_name:-}" ]; then
  log "wrangler.toml has no D1 database with binding DB"
  exit 1
fi

# The id of the account's database of that name, or nothing.
database_id() {
  if [ -n "$db_id" ]; then echo "$db_id"; return; fi
  "$WRANGLER" d1 list --json | node -e "
    let s = ''; process.stdin.on('data', (d) => { s += d; }).on('end', () => {
      const list = JSON.parse(s.slice(s.indexOf('[')));
      const db = list.find((d) => d.name === process.argv[1]);
      if (db) console.log(db.uuid);
    });" "$db_name"
}

# `wrangler d1 migrations apply --remote` needs the database's id in a config: a generated one
# (git-ignored, under .wrangler/) when wrangler.toml names the database only.
migrate() {
  local id=$1 config=.wrangler/deploy-d1.toml
  mkdir -p .wrangler
  cat > "$config" <<TOML
# Written by scripts/deploy.sh to apply the migrations remotely; safe to delete.
name = "${worker}"
[[d1_databases]]
binding = "DB"
database_name = "${db_name}"
database_id = "${id}"
migrations_dir = "../${migrations_dir}"
TOML
  log "applying D1 migrations to ${db_name} (${id})"
  "$WRANGLER" d1 migrations apply DB --remote --config "$config"
}

deploy_args=()
if [ "${INGEST_MODE:-sync}" = "queue" ]; then
  deploy_args=(--config "$(bash scripts/queue-config.sh)" --var "INGEST_MODE:queue")
  for queue in $(node --input-type=module -e "
    import { experimental_readRawConfig } from 'wrangler';
    const { rawConfig: c } = experimental_readRawConfig({ config: 'wrangler.queue.toml' });
    const q = c.queues ?? {};
    const names = [...(q.producers ?? []).map((p) => p.queue), ...(q.consumers ?? []).flatMap((c) => [c.queue, c.dead_letter_queue])];
    console.log([...new Set(names.filter(Boolean))].join(' '));
  "); do
    if "$WRANGLER" queues info "$queue" >/dev/null 2>&1; then
      log "queue ${queue} exists"
    else
      log "creating queue ${queue}"
      "$WRANGLER" queues create "$queue"
    fi
  done
fi

id=$(database_id)
if [ -n "$id" ]; then
  migrate "$id"
  log "deploying ${worker}"
  "$WRANGLER" deploy ${deploy_args[@]+"${deploy_args[@]}"}
else
  log "first deploy: wrangler creates the D1 database ${db_name} and what else is missing"
  "$WRANGLER" deploy ${deploy_args[@]+"${deploy_args[@]}"}
  id=$(database_id)
  if [ -z "$id" ]; then
    log "the deploy did not create the D1 database ${db_name}; run npm run deploy again"
    exit 1
  fi
  migrate "$id"
fi

secrets=$("$WRANGLER" secret list --format json)
if ! printf '%s' "$secrets" | node -e "
  let s = ''; process.stdin.on('data', (d) => { s += d; }).on('end', () => {
    const list = JSON.parse(s.slice(s.indexOf('[')));
    process.exit(list.some((x) => x.name === 'ADMIN_API_KEY') ? 0 : 1);
  });"; then
  generated=""
  if [ -z "${ADMIN_API_KEY:-}" ]; then
    ADMIN_API_KEY="adm_$(node -e "process.stdout.write(require('crypto').randomBytes(24).toString('hex'))")"
    generated=yes
  fi
  log "setting the ADMIN_API_KEY secret"
  printf '%s' "$ADMIN_API_KEY" | "$WRANGLER" secret put ADMIN_API_KEY
  if [ -n "$generated" ]; then
    cat <<MSG

  The admin key (shown this once; keep it in your password manager, not in the repository):

    ${ADMIN_API_KEY}

  Replace it any time with: npx wrangler secret put ADMIN_API_KEY

MSG
  fi
fi
log "done"
