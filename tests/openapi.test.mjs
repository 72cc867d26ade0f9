// GET /api/openapi.json answers with public/openapi.json, as the static assets serve it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Miniflare } from 'miniflare';
import { startWorker, miniflareOptions, applyMigrations, workerHandle, ROOT } from './support/worker.mjs';

const ORIGIN = 'https://app.example.pages.dev';
const file = JSON.parse(readFileSync(join(ROOT, 'public', 'openapi.json'), 'utf8'));
let w;
before(async () => {
  w = await startWorker({ bindings: { ALLOWED_ORIGINS: ORIGIN } });
});
after(async () => w?.mf.dispose());

test('GET /api/openapi.json: the file, as JSON, no-store, with CORS for a listed origin', async () => {
  const r = await w.fetch('/api/openapi.json', { headers: { origin: ORIGIN } });
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^application\/json/);
  assert.equal(r.headers.get('access-control-allow-origin'), ORIGIN);
  assert.deepEqual(r.json, file);
  const denied = await w.fetch('/api/openapi.json', { headers: { origin: 'https://evil.example' } });
  assert.equal(denied.headers.get('access-control-allow-origin'), null);
});

test('HEAD /api/openapi.json: the GET status and headers, no body', async () => {
  const r = await w.fetch('/api/openapi.json', { method: 'HEAD' });
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^application\/json/);
  assert.equal(r.text, '');
});

test('the static /openapi.json is the same document', async () => {
  const r = await w.fetch('/openapi.json');
  assert.equal(r.status, 200);
  assert.deepEqual(r.json, file);
});

/** The worker with assets from a directory holding only index.html, with `assetConfig` extra. */
async function withoutTheDocument(assetConfig = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'assets-'));
  copyFileSync(join(ROOT, 'public', 'index.html'), join(dir, 'index.html'));
  const options = miniflareOptions();
  options.assets = { ...options.assets, directory: dir, assetConfig: { ...options.assets.assetConfig, ...assetConfig } };
  const mf = new Miniflare(options);
  const db = await mf.getD1Database('DB');
  await applyMigrations(db);
  return workerHandle(mf, db);
}

test('without public/openapi.json: a 404 error in JSON, not the dashboard page', async () => {
  const bare = await withoutTheDocument();
  try {
    const r = await bare.fetch('/api/openapi.json');
    assert.equal(r.status, 404, r.text.slice(0, 200));
    assert.equal(r.json?.error?.code, 'not_found', r.text.slice(0, 200));
  } finally {
    await bare.mf.dispose();
  }
});

test('with single-page-application not-found handling, a missing document is not answered with the dashboard page', async () => {
  const spa = await withoutTheDocument({ not_found_handling: 'single-page-application' });
  try {
    const r = await spa.fetch('/api/openapi.json');
    assert.notEqual(r.status, 200, `${r.headers.get('content-type')}: ${r.text.slice(0, 80)}`);
  } finally {
    await spa.mf.dispose();
  }
});
