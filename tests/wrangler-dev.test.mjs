// The same worker under the real `wrangler dev`: HTTP over loopback, local D1 from the
// migrations, static assets, and the admin key from a var (as `.dev.vars` provides it).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './support/worker.mjs';
import { startWranglerDev } from './support/wrangler-dev.mjs';

const ADMIN = 'dev-admin-key-for-smoke-test';
let dev;
before(async () => {
  dev = await startWranglerDev({ adminKey: ADMIN });
});
after(async () => dev?.stop());

const call = (path, init = {}) => fetch(`${dev.base}${path}`, init);

test('wrangler dev serves healthz, the dashboard and the OpenAPI document', async () => {
  const health = await call('/healthz');
  assert.equal(health.status, 200);
  assert.equal((await health.json()).status, 'ok');
  const page = await call('/');
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<html/i);
  const doc = await call('/api/openapi.json');
  assert.equal((await doc.json()).openapi, '3.1.0');
});

test('wrangler dev answers admin routes with the admin key and refuses others', async () => {
  const none = await call('/api/admin/projects');
  assert.equal(none.status, 401);
  const created = await call('/api/admin/projects', {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ id: 'smoke', name: 'Smoke', budget_threshold_usd: 20 }),
  });
  assert.equal(created.status, 201, await created.clone().text());
  const key = await call('/api/admin/projects/smoke/keys', {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN}` },
  });
  assert.equal(key.status, 201);
  const projectKey = (await key.json()).key;
  const forbidden = await call('/api/admin/projects', { headers: { authorization: `Bearer ${projectKey}` } });
  assert.equal(forbidden.status, 403);
  const list = await call('/api/admin/projects', { headers: { authorization: `Bearer ${ADMIN}` } });
  const projects = (await list.json()).projects;
  assert.deepEqual(projects.map((p) => [p.id, p.budget_threshold_usd]), [['smoke', '20.00']]);
});

test('wrangler dev serves the dashboard, its alias paths and its files with frame-ancestors \'none\' and X-Frame-Options DENY', async () => {
  const html = readFileSync(join(ROOT, 'public', 'index.html'), 'utf8');
  const policy = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(html)[1];
  for (const path of ['/', '/index.html', '/api-usage', '/admin/usage', '/assets/dashboard.js', '/assets/dashboard.css', '/favicon.svg']) {
    const r = await call(path);
    assert.equal(r.status, 200, path);
    await r.arrayBuffer();
    assert.equal(r.headers.get('content-security-policy'), `${policy}; frame-ancestors 'none'`, `${path}: CSP`);
    assert.equal(r.headers.get('x-frame-options'), 'DENY', `${path}: X-Frame-Options`);
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff', path);
    assert.equal(r.headers.get('referrer-policy'), 'no-referrer', path);
  }
});
