// `npm run dev` itself (scripts/dev.sh) on another port than 8787, with its local state in a
// temporary folder and the admin key from the environment, so nothing of a developer's own
// `.dev.vars` or local data is touched.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './support/worker.mjs';

const ADMIN = 'dev-script-admin-key';
let dev;
let output = '';
let base;
let port;
let healthAtBanner;

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port: p } = server.address();
      server.close(() => resolve(p));
    });
    server.on('error', reject);
  });
}

before(async () => {
  port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const state = mkdtempSync(join(tmpdir(), 'ai-spend-devsh-'));
  dev = { state };
  const env = { ...process.env };
  delete env.DASHBOARD_URL;
  const child = spawn('bash', ['scripts/dev.sh'], {
    cwd: ROOT,
    env: {
      ...env,
      PORT: String(port),
      DEV_STATE_DIR: join(state, 'state'),
      ADMIN_API_KEY: ADMIN,
      WRANGLER_LOG_PATH: join(state, 'logs'),
      CI: 'true',
      FORCE_COLOR: '0',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  dev.child = child;
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  const deadline = Date.now() + 300_000;
  while (!output.includes('Dashboard:')) {
    if (child.exitCode !== null) throw new Error(`dev.sh exited:\n${output}`);
    if (Date.now() > deadline) throw new Error(`no banner from dev.sh:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  // Asked the moment the banner shows: the server must already answer.
  healthAtBanner = (await fetch(`${base}/healthz`)).status;
});

after(async () => {
  if (dev?.child) {
    try {
      process.kill(-dev.child.pid, 'SIGTERM');
    } catch {
      // already gone
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  if (dev?.state) rmSync(dev.state, { recursive: true, force: true });
});

const admin = async (path, { method = 'GET', body, key = ADMIN } = {}) => {
  const r = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  return { status: r.status, text, json: text ? JSON.parse(text) : undefined };
};

test('npm run dev builds first and prints its banner only once the server answers', () => {
  const build = output.indexOf('[dev] building the worker');
  const built = output.indexOf('build-dashboard: wrote');
  const ready = output.indexOf(`Ready on ${base}`);
  const banner = output.indexOf('Dashboard:');
  assert.ok(build >= 0 && built > build, `the build's own progress is shown:\n${output}`);
  assert.ok(ready > built, `wrangler is ready after the build:\n${output}`);
  assert.ok(banner > ready, `the banner comes after wrangler is ready:\n${output}`);
  assert.equal(healthAtBanner, 200);
  assert.match(output.slice(banner), new RegExp(`Dashboard: +${base}/\\n`));
  assert.match(output.slice(banner), new RegExp(`Admin key: +${ADMIN}\\n`));
});

test('on another PORT the alert email links the dashboard on that port, and its body is in the alert log and an .eml file', async () => {
  const created = await admin('/api/admin/projects', { method: 'POST', body: { id: 'devsh', name: 'Dev script' } });
  assert.equal(created.status, 201, created.text);
  const budget = await admin('/api/admin/projects/devsh/budget', {
    method: 'PATCH',
    body: { budget_threshold_usd: '10', alert_emails: ['dev@example.com'] },
  });
  assert.equal(budget.status, 200, budget.text);
  const key = (await admin('/api/admin/projects/devsh/keys', { method: 'POST' })).json.key;
  const usage = await admin('/api/usage', {
    method: 'POST',
    key,
    body: { id: 'devsh-1', provider: 'openai', model: 'gpt-4o', cost: '12.00' },
  });
  assert.equal(usage.status, 201, usage.text);
  const checked = await admin('/api/admin/usage/check-budgets?project_id=devsh', { method: 'POST' });
  assert.equal(checked.status, 200, checked.text);

  // The crossing request sends the alert after its answer, or the check does: wait for it.
  let email;
  for (let i = 0; i < 100 && !email; i += 1) {
    email = (await admin('/api/admin/alerts?project_id=devsh')).json.alerts.find((a) => a.channel === 'email');
    if (!email) await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(email, 'an email alert in the log');
  assert.equal(email.status, 'sent', email.error);
  assert.equal(email.recipient, 'dev@example.com');
  assert.ok(email.text_body.includes(`${base}/?project=devsh`), email.text_body);
  assert.ok(!email.text_body.includes('127.0.0.1:8787'), 'not the default port');
  assert.ok(email.html_body.includes(`href="${base}/?project=devsh"`));

  // wrangler logs where the local send_email binding wrote the message.
  const deadline = Date.now() + 10_000;
  let path;
  while (!(path = /send_email binding called with the following message:\s*(\S+\.eml)/.exec(output)?.[1])) {
    assert.ok(Date.now() < deadline, `no .eml path logged:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const eml = readFileSync(path, 'utf8');
  assert.match(eml, /^To: .*dev@example\.com/m);
  const texts = [...eml.matchAll(/Content-Type: text\/(plain|html)[^]*?\r?\n\r?\n([A-Za-z0-9+/=\r\n]+?)\r?\n--/g)]
    .map(([, kind, b64]) => [kind, Buffer.from(b64, 'base64').toString('utf8')]);
  assert.deepEqual(texts.map(([kind]) => kind), ['plain', 'html'], eml);
  for (const [, body] of texts) assert.ok(body.includes(`${base}/?project=devsh`), body);
});
