// `npm run deploy`: the bundle `wrangler deploy` would upload (a dry run, offline, with no
// account), the worker's answers in the seconds between the first deploy and its migrations,
// and the order scripts/deploy.sh runs wrangler in (against a fake wrangler).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Miniflare } from 'miniflare';
import { ROOT, applyMigrations, miniflareOptions } from './support/worker.mjs';

function run(cmd, args, env) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('close', (code) => resolve({ code, stdout, stderr, out: stdout + stderr }));
  });
}

/** The environment without any Cloudflare credentials or login. */
function offlineEnv(dir) {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('CLOUDFLARE_')) delete env[k];
  return {
    ...env,
    XDG_CONFIG_HOME: join(dir, 'config'),
    WRANGLER_LOG_PATH: join(dir, 'logs'),
    WRANGLER_SEND_METRICS: 'false',
    CLOUDFLARE_CF_FETCH_ENABLED: 'false',
    WRANGLER_HIDE_BANNER: 'true',
    CI: 'true',
    FORCE_COLOR: '0',
  };
}

test('wrangler deploy --dry-run bundles the worker with every binding, offline and with no account', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ai-spend-deploy-'));
  const outdir = join(ROOT, 'test-artifacts', 'deploy-dry-run');
  rmSync(outdir, { recursive: true, force: true });
  try {
    const wrangler = join(ROOT, 'node_modules', '.bin', 'wrangler');
    const r = await run(wrangler, ['deploy', '--dry-run', '--outdir', outdir], offlineEnv(dir));
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /--dry-run: exiting now\./);
    assert.match(r.out, /env\.DB \(ai-spend-tracker\) +D1 Database/);
    assert.match(r.out, /env\.USAGE_BUCKET \(ai-spend-tracker-usage\) +R2 Bucket/);
    assert.match(r.out, /env\.ALERT_EMAIL \(unrestricted\) +Send Email/);
    assert.match(r.out, /env\.ASSETS +Assets/);
    const files = readdirSync(outdir);
    assert.ok(files.includes('index.js'), files.join(', '));
    assert.equal(files.filter((f) => f.endsWith('.wasm')).length, 1, files.join(', '));
    // Workers Free accepts at most 3 MB compressed.
    const gzip = /Total Upload: [\d.]+ KiB \/ gzip: ([\d.]+) KiB/.exec(r.out);
    assert.ok(gzip, r.out);
    assert.ok(Number(gzip[1]) < 3 * 1024, `${gzip[1]} KiB compressed`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(outdir, { recursive: true, force: true });
  }
});

test('wrangler.toml names the D1 database and R2 bucket without ids, so the first deploy provisions them', () => {
  const toml = readFileSync(join(ROOT, 'wrangler.toml'), 'utf8');
  assert.doesNotMatch(toml, /^\s*database_id\s*=/m);
  assert.match(toml, /^database_name = "ai-spend-tracker"$/m);
  assert.match(toml, /^bucket_name = "ai-spend-tracker-usage"$/m);
});

test('before its migrations and its admin secret, a first deploy answers 401 or 503 and writes nothing', async () => {
  const options = miniflareOptions();
  delete options.bindings.ADMIN_API_KEY;
  const mf = new Miniflare(options);
  try {
    const call = async (path, { method = 'GET', key, body } = {}) => {
      const headers = {};
      if (key) headers.authorization = `Bearer ${key}`;
      if (body) headers['content-type'] = 'application/json';
      const r = await mf.dispatchFetch(`http://localhost${path}`, { method, headers, body: body && JSON.stringify(body) });
      await r.arrayBuffer();
      return r.status;
    };
    assert.equal(await call('/healthz'), 200);
    assert.equal(await call('/api/admin/projects', { key: 'guess' }), 401);
    assert.equal(await call('/api/admin/projects', { method: 'POST', key: 'guess', body: { id: 'p', name: 'P' } }), 401);
    const event = { id: 'early-1', provider: 'openai', model: 'gpt-4o', input_tokens: 10 };
    assert.equal(await call('/api/usage', { method: 'POST', key: 'ast_guess', body: event }), 503);
    assert.equal(await call('/api/usage/stats', { key: 'ast_guess' }), 503);
    await (await mf.getWorker()).scheduled({ cron: '0 */6 * * *' });

    const bucket = await mf.getR2Bucket('USAGE_BUCKET');
    assert.deepEqual((await bucket.list()).objects, []);
    const db = await mf.getD1Database('DB');
    const tables = await db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '_cf_%' AND name NOT LIKE 'sqlite_%'")
      .all();
    assert.deepEqual(tables.results, []);
    // The migrations then apply to the untouched database as on any other.
    await applyMigrations(db);
    const { n } = await db.prepare('SELECT count(*) AS n FROM projects').first();
    assert.equal(n, 0);
  } finally {
    await mf.dispose();
  }
});

/** A fake wrangler that keeps an account's database and secret in `state` and logs every call. */
function fakeWrangler(dir) {
  const state = join(dir, 'account');
  mkdirSync(state, { recursive: true });
  const path = join(dir, 'wrangler');
  writeFileSync(path, `#!/usr/bin/env bash
set -euo pipefail
S=${JSON.stringify(state)}
echo "$*" >> "$S/calls"
case "$*" in
  "d1 list --json")
    if [ -f "$S/db" ]; then printf '[{"uuid":"%s","name":"ai-spend-tracker"}]\\n' "$(cat "$S/db")"; else echo '[]'; fi ;;
  deploy|"deploy --config wrangler.queue.toml --var INGEST_MODE:queue")
    [ -f "$S/db" ] || echo 0a1b2c3d-0000-4000-8000-00000000d1d1 > "$S/db"
    echo "deployed" ;;
  "queues info "*)
    [ -f "$S/queue-$3" ] ;;
  "queues create "*)
    touch "$S/queue-$3" ;;
  "d1 migrations apply DB --remote --config "*)
    [ -f "$S/db" ] || { echo "no such database" >&2; exit 1; }
    sed -n 's/^database_id = "\\(.*\\)"$/migrated \\1/p' "\${@: -1}" >> "$S/calls" ;;
  "secret list --format json")
    if [ -f "$S/secret" ]; then echo '[{"name":"ADMIN_API_KEY","type":"secret_text"}]'; else echo '[]'; fi ;;
  "secret put ADMIN_API_KEY")
    cat > "$S/secret" ;;
  *) echo "unexpected: $*" >&2; exit 1 ;;
esac
`);
  chmodSync(path, 0o755);
  return {
    path,
    calls: () => readFileSync(join(state, 'calls'), 'utf8').trim().split('\n'),
    secret: () => readFileSync(join(state, 'secret'), 'utf8'),
    reset: () => rmSync(join(state, 'calls'), { force: true }),
  };
}

test('npm run deploy provisions on the first deploy, then migrates, then sets an admin key shown once; later deploys migrate first', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ai-spend-deploy-'));
  try {
    const wrangler = fakeWrangler(dir);
    const env = { ...offlineEnv(dir), WRANGLER: wrangler.path };
    delete env.ADMIN_API_KEY;

    const first = await run('bash', ['scripts/deploy.sh'], env);
    assert.equal(first.code, 0, first.out);
    assert.deepEqual(wrangler.calls(), [
      'd1 list --json',
      'deploy',
      'd1 list --json',
      'd1 migrations apply DB --remote --config .wrangler/deploy-d1.toml',
      'migrated 0a1b2c3d-0000-4000-8000-00000000d1d1',
      'secret list --format json',
      'secret put ADMIN_API_KEY',
    ]);
    const key = wrangler.secret();
    assert.match(key, /^adm_[0-9a-f]{48}$/);
    assert.equal(first.stdout.split(key).length - 1, 1, 'the key is printed exactly once');

    wrangler.reset();
    const again = await run('bash', ['scripts/deploy.sh'], env);
    assert.equal(again.code, 0, again.out);
    assert.deepEqual(wrangler.calls(), [
      'd1 list --json',
      'd1 migrations apply DB --remote --config .wrangler/deploy-d1.toml',
      'migrated 0a1b2c3d-0000-4000-8000-00000000d1d1',
      'deploy',
      'secret list --format json',
    ]);
    assert.equal(wrangler.secret(), key, 'an existing admin key is kept');
    assert.doesNotMatch(again.out, /adm_[0-9a-f]{48}/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('INGEST_MODE=queue npm run deploy creates the usage queues once and deploys with them and the queue mode', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ai-spend-deploy-queue-'));
  try {
    const wrangler = fakeWrangler(dir);
    const env = { ...offlineEnv(dir), WRANGLER: wrangler.path, INGEST_MODE: 'queue', ADMIN_API_KEY: 'adm_given' };
    const first = await run('bash', ['scripts/deploy.sh'], env);
    assert.equal(first.code, 0, first.out);
    const calls = wrangler.calls();
    assert.deepEqual(calls.slice(0, 5), [
      'queues info ai-spend-tracker-usage',
      'queues create ai-spend-tracker-usage',
      'queues info ai-spend-tracker-usage-dead',
      'queues create ai-spend-tracker-usage-dead',
      'd1 list --json',
    ]);
    assert.ok(calls.includes('deploy --config wrangler.queue.toml --var INGEST_MODE:queue'), calls.join('\n'));
    wrangler.reset();
    const again = await run('bash', ['scripts/deploy.sh'], env);
    assert.equal(again.code, 0, again.out);
    assert.ok(!wrangler.calls().some((c) => c.startsWith('queues create')), 'existing queues are kept');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
