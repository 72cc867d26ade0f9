// The dashboard's price catalog panel in Chromium (playwright-core), beside tests/dashboard:
// each unpriced model links to the catalog search for its provider and family of names, and
// the page that link opens shows exactly the entries GET /api/prices answers for it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { startHttpWorker, ADMIN_KEY } from './support/http-worker.mjs';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const STORAGE_KEY = 'ai-spend-tracker.key';

let browser;
let w;
let projectKey;

before(async () => {
  [w, browser] = await Promise.all([
    startHttpWorker(),
    chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true }),
  ]);
  const admin = (path, body) => w.fetch(path, { method: 'POST', key: ADMIN_KEY, body });
  assert.equal((await admin('/api/admin/projects', { id: 'ads', name: 'Video ads' })).status, 201);
  projectKey = (await admin('/api/admin/projects/ads/keys')).json.key;
  const at = new Date(Date.now() - 3_600_000).toISOString();
  // Two models no catalog prices: a Mistral model of a known family, an in-house one.
  const events = [
    { id: 'm-1', provider: 'mistral', model: 'mistral-large-2612', input_tokens: 100, output_tokens: 10, timestamp: at },
    { id: 'm-2', provider: 'mistral', model: 'mistral-large-2612', input_tokens: 100, output_tokens: 10, timestamp: at },
    { id: 'h-1', provider: 'openai', model: 'house-model', input_tokens: 10, timestamp: at },
  ];
  const r = await w.fetch('/api/usage', { method: 'POST', key: projectKey, body: { events } });
  assert.equal(r.status, 201, r.text);
});

after(async () => {
  await browser?.close();
  await w?.dispose();
});

async function open(key, path = '/') {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, timezoneId: 'UTC', locale: 'en-US' });
  const page = await context.newPage();
  const errors = [];
  const requests = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('request', (r) => requests.push(r.url()));
  await page.addInitScript(([name, value]) => sessionStorage.setItem(name, value), [STORAGE_KEY, key]);
  await page.goto(`${w.url}${path}`);
  await page.waitForFunction(() => Number(document.getElementById('main').dataset.loads ?? 0) > 0, null, { timeout: 15_000 });
  return { page, errors, requests, context };
}

const searches = (page) => page.$eval('#catalog', (c) => Number(c.dataset.searches ?? 0));

async function searched(page, action) {
  const n = await searches(page);
  await action();
  await page.waitForFunction((m) => Number(document.getElementById('catalog').dataset.searches ?? 0) > m, n, { timeout: 15_000 });
}

/** The catalog table's rows as text: provider, model, mode, prices, catalog, effective from. */
const rows = (page) => page.$$eval('#table-catalog tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((td) => td.textContent.trim())));

async function api(path) {
  const r = await w.fetch(path, { key: ADMIN_KEY });
  assert.equal(r.status, 200, r.text);
  return r.json;
}

test('an unpriced model links to the catalog search for its provider and family, and the link shows the matching entries with prices, catalog and date', async () => {
  const { page, errors, requests, context } = await open(ADMIN_KEY);
  const link = page.locator('#table-unpriced a.catalog-link', { hasText: 'mistral-large-2612' });
  assert.equal(await link.getAttribute('href'), '#catalog?provider=mistral&model_prefix=mistral-');
  assert.equal(await page.locator('#table-unpriced a.catalog-link', { hasText: 'house-model' }).getAttribute('href'),
    '#catalog?provider=openai&model_prefix=house-');
  await searched(page, () => link.click());
  assert.equal(new URL(page.url()).hash, '#catalog?provider=mistral&model_prefix=mistral-');
  assert.equal(await page.inputValue('#catalog-provider'), 'mistral');
  assert.equal(await page.inputValue('#catalog-model_prefix'), 'mistral-');

  const want = await api('/api/prices?provider=mistral&model_prefix=mistral-&limit=50');
  assert.ok(want.prices.length > 5, `${want.prices.length} Mistral models start with mistral-`);
  const shown = await rows(page);
  assert.deepEqual(shown.map((r) => r[1]), want.prices.map((p) => p.model).sort((a, b) => a.localeCompare(b, 'en')));
  for (const [provider, model, mode, prices, catalog, from] of shown) {
    const entry = want.prices.find((p) => p.model === model);
    assert.equal(provider, 'mistral');
    assert.ok(model.startsWith('mistral-'), model);
    assert.equal(mode, entry.mode ?? '');
    assert.equal(catalog, `LiteLLM ${want.litellm_version}`);
    assert.equal(from, entry.effective_from);
    for (const [kind, rate] of Object.entries(entry.rates)) {
      assert.ok(prices.includes(`${kind.replace(/_/g, ' ')}: ${rate.price} USD per 1M`), `${model} shows ${kind} ${rate.price}: ${prices}`);
    }
  }
  assert.equal(await page.textContent('#catalog-count'), `Models 1–${want.prices.length} of ${want.total}`);
  assert.ok(requests.some((u) => u.includes('/api/prices?provider=mistral&model_prefix=mistral-&limit=50')));
  assert.deepEqual(errors, []);
  await context.close();
});

test('a catalog URL opened in a new tab runs its search after sign-in, for a project key too; a mode narrows it and pages follow the cursor', async () => {
  const { page, errors, context } = await open(projectKey, '/#catalog?provider=openai&model_prefix=gpt-4o&mode=chat');
  await page.waitForSelector('#table-catalog');
  const want = await api('/api/prices?provider=openai&model_prefix=gpt-4o&mode=chat&limit=50');
  assert.deepEqual((await rows(page)).map((r) => r[1]), want.prices.map((p) => p.model).sort((a, b) => a.localeCompare(b, 'en')));
  assert.ok((await rows(page)).every((r) => r[2] === 'chat'));
  // The curated gpt-4o entry says so, beside LiteLLM's.
  const gpt4o = (await rows(page)).find((r) => r[1] === 'gpt-4o');
  assert.deepEqual([gpt4o[4], gpt4o[5]], ['curated', want.prices.find((p) => p.model === 'gpt-4o').effective_from]);

  // The form searches too, and Next follows the API's cursor.
  await page.fill('#catalog-provider', 'bedrock');
  await page.fill('#catalog-model_prefix', '');
  await page.fill('#catalog-mode', '');
  await searched(page, () => page.click('#catalog-search'));
  const first = await api('/api/prices?provider=bedrock&limit=50');
  assert.ok(first.next_cursor);
  assert.equal(new URL(page.url()).hash, '#catalog?provider=bedrock');
  await searched(page, () => page.click('#catalog-next'));
  const second = await api(`/api/prices?provider=bedrock&limit=50&cursor=${encodeURIComponent(first.next_cursor)}`);
  assert.deepEqual((await rows(page)).map((r) => r[1]), second.prices.map((p) => p.model).sort((a, b) => a.localeCompare(b, 'en')));
  assert.equal(await page.textContent('#catalog-count'), `Models 51–${50 + new Set(second.prices.map((p) => p.model)).size} of ${first.total}`);
  await searched(page, () => page.click('#catalog-prev'));
  assert.equal((await rows(page)).length, first.prices.length);
  assert.deepEqual(errors, []);
  await context.close();
});
