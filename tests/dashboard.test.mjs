// The dashboard (public/), end to end: the built worker served over HTTP by Miniflare, driven
// in Debian's Chromium by playwright-core. Usage is seeded through the real API with explicit
// costs, and every figure the page shows is compared with what the API answers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { startHttpWorker, ADMIN_KEY } from './support/http-worker.mjs';
import { ROOT } from './support/worker.mjs';
import { amount as shown, dateTime, quantity as quantityText } from '../dashboard/src/format.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const STORAGE_KEY = 'ai-spend-tracker.key';
const HOSTILE = '<img src=x onerror=alert(1)>';
const DAY = 86_400_000;
const SHOTS = join(ROOT, 'docs', 'screenshots');
const ARTIFACTS = join(ROOT, 'test-artifacts');

let browser;
let w; // seeded worker
let empty; // fresh worker, no usage
const keys = {};
const allRequests = []; // every URL any page asked for, with the origin it must stay on

before(async () => {
  [w, empty, browser] = await Promise.all([
    // Alert webhooks reach no one: every post answers 503.
    startHttpWorker({ outbound: async () => new Response('down', { status: 503 }) }),
    startHttpWorker(),
    chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true }),
  ]);
  mkdirSync(ARTIFACTS, { recursive: true });
  mkdirSync(SHOTS, { recursive: true });
  const admin = (path, body, method = 'POST') => w.fetch(path, { method, key: ADMIN_KEY, body });
  for (const [id, name] of [['ads', 'Video ads'], ['xss', HOSTILE], ['quiet', 'Quiet']]) {
    assert.equal((await admin('/api/admin/projects', { id, name })).status, 201);
  }
  const budget = await admin('/api/admin/projects/ads/budget', { budget_threshold_usd: '10' }, 'PATCH');
  assert.equal(budget.status, 200, budget.text);
  for (const id of ['ads', 'xss']) keys[id] = (await admin(`/api/admin/projects/${id}/keys`)).json.key;
  // 35 days of usage for `ads` (three providers, jobs of three calls), a euro-priced event, an
  // unpriced one, and a week of usage for the hostile-named project.
  const now = Date.now();
  const at = (d, minutes) => new Date(now - d * DAY - minutes * 60_000).toISOString();
  const ads = [];
  for (let d = 0; d < 35; d += 1) {
    const job = `clip-${d}`;
    ads.push(
      { id: `o-${d}`, provider: 'openai', model: 'gpt-4o', operation: 'script', job_id: job, input_tokens: 1000 + d, output_tokens: 200, cost: `0.${String(10 + d).padStart(2, '0')}5`, timestamp: at(d, 3) },
      { id: `e-${d}`, provider: 'elevenlabs', model: 'eleven_multilingual_v2', operation: 'voice', job_id: job, characters: 1200 + d, requests: 1, audio_seconds: '12.5', cost: `0.${String(30 + d).padStart(2, '0')}`, timestamp: at(d, 2) },
      { id: `h-${d}`, provider: 'heygen', model: 'avatar-iv', operation: 'video', job_id: job, credits: 1, video_seconds: 30, cost: `${1 + (d % 4)}.25`, timestamp: at(d, 1) },
    );
  }
  ads.push({ id: 'eur-1', provider: 'mistral', model: 'mistral-large', operation: 'script', input_tokens: 10, cost: '1.20', currency: 'EUR', timestamp: at(1, 5) });
  ads.push({ id: 'unpriced-1', provider: 'openai', model: 'house-model', operation: 'script', input_tokens: 10, timestamp: at(2, 5) });
  // A model name longer than a phone's axis can hold beside its title.
  ads.push({ id: 'long-1', provider: 'google', model: 'gemini-2.5-flash-preview-native-audio-dialog', operation: 'voice', input_tokens: 100, cost: '0.85', timestamp: at(1, 6) });
  // A dated snapshot: one model row with gpt-4o, for the admin and for the project key alike.
  ads.push({ id: 'snap-1', provider: 'openai', model: 'gpt-4o-2024-08-06', operation: 'script', input_tokens: 10, output_tokens: 5, cached_input_tokens: 4, reasoning_tokens: 3, duration_ms: 1200, cost: '0.05', timestamp: at(1, 7) });
  const xss = [];
  for (let d = 0; d < 7; d += 1) {
    xss.push({ id: `x-${d}`, provider: 'anthropic', model: 'claude-sonnet-4-5', operation: 'chat', job_id: `x-job-${d}`, input_tokens: 500, output_tokens: 50, cost: '0.75', timestamp: at(d, 4) });
  }
  for (const [project, events] of [['ads', ads], ['xss', xss]]) {
    const r = await w.fetch('/api/usage', { method: 'POST', key: keys[project], body: { events } });
    assert.equal(r.status, 201, r.text);
  }
});

after(async () => {
  await browser?.close();
  await Promise.all([w?.dispose(), empty?.dispose()]);
});

// ---------------------------------------------------------------------------------------------
// Helpers

async function api(path, key = ADMIN_KEY, worker = w) {
  const r = await worker.fetch(path, { key });
  assert.equal(r.status, 200, `${path}: ${r.text}`);
  return r.json ?? r.text;
}

/** A new browser context and page on a worker, recording requests, dialogs and errors. */
async function openPage(worker, { path = '/', viewport = { width: 1280, height: 900 }, timezoneId = 'UTC' } = {}) {
  const context = await browser.newContext({ viewport, timezoneId, locale: 'en-US', acceptDownloads: true });
  const page = await context.newPage();
  const rec = { requests: [], dialogs: [], errors: [], origin: worker.url };
  page.on('request', (r) => {
    rec.requests.push(r.url());
    allRequests.push({ url: r.url(), origin: worker.url });
  });
  page.on('dialog', (d) => {
    rec.dialogs.push(d.message());
    d.dismiss().catch(() => {});
  });
  page.on('pageerror', (e) => rec.errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) rec.errors.push(m.text());
  });
  await page.goto(`${worker.url}${path}`);
  const close = async () => {
    assertOwnOrigin(rec.requests, worker.url);
    assert.deepEqual(rec.dialogs, [], 'no dialog opened');
    assert.deepEqual(rec.errors, [], 'no script error or CSP violation');
    await context.close();
  };
  return { context, page, rec, close };
}

function assertOwnOrigin(urls, origin) {
  for (const url of urls) {
    assert.ok(url.startsWith(`${origin}/`) || url.startsWith(`blob:${origin}/`), `request outside the worker's origin: ${url}`);
    for (const key of [ADMIN_KEY, ...Object.values(keys)]) assert.ok(!url.includes(key), `a key in a URL: ${url}`);
  }
}

const loads = (page) => page.$eval('#main', (m) => Number(m.dataset.loads ?? 0));

/** Runs an action and waits until the dashboard finished the load it started. */
async function settle(page, action) {
  const before = await loads(page);
  await action();
  await page.waitForFunction((n) => Number(document.getElementById('main').dataset.loads ?? 0) > n, before, { timeout: 15_000 });
}

async function signIn(page, key) {
  await settle(page, async () => {
    await page.fill('#key', key);
    await page.click('#signin-button');
  });
  assert.equal(await page.isVisible('#dashboard'), true);
}

const choosePreset = (page, preset) => settle(page, () => page.click(`[data-preset=${preset}]`));

/** The summary cards as the page shows them (numbers without separators). */
function readCards(page) {
  return page.evaluate(() => {
    const num = (id) => Number(document.querySelector(`#card-${id} .value`).textContent.replace(/,/g, ''));
    return {
      cost: [...document.querySelectorAll('#card-cost .money')].map((e) => e.textContent),
      tokens: num('tokens'),
      characters: num('characters'),
      requests: num('requests'),
      events: num('events'),
      unpriced: num('unpriced'),
      extra: Object.fromEntries([...document.querySelectorAll('#cards .card')]
        .filter((c) => !['cost', 'tokens', 'characters', 'requests', 'events', 'unpriced'].includes(c.id.slice(5)))
        .map((c) => [c.id.slice(5), c.querySelector('.value').textContent.replace(/,/g, '')])),
    };
  });
}

/** The units shown on cards of their own when a range has any, by card id. */
const EXTRA_CARDS = { credits: 'credits', 'audio-seconds': 'audio_seconds', 'video-seconds': 'video_seconds', images: 'images', tracks: 'tracks', 'cache-hits': 'cache_hits', 'failed-events': 'failed_events' };

/** What the cards should show for a Sums object of the API. */
function cardsOf(sums) {
  return {
    cost: sums.cost.length ? sums.cost.map((m) => `${shown(m.amount)} ${m.currency}`) : ['0.00'],
    tokens: sums.total_tokens,
    characters: sums.characters,
    requests: sums.requests,
    events: sums.events,
    unpriced: sums.unpriced_events,
    extra: Object.fromEntries(Object.entries(EXTRA_CARDS)
      .filter(([, field]) => Number(sums[field] ?? 0) !== 0)
      .map(([id, field]) => [id, String(sums[field])])),
  };
}

/**
 * A table's header labels and cell texts, and `exact`: the same cells with each rounded amount
 * replaced by the exact amount of its tooltip ("exactly 2.485" -> "2.485").
 */
function readTable(page, id) {
  return page.$eval(`#${id}`, (t) => ({
    head: [...t.querySelectorAll('thead th')].map((th) => (th.querySelector('button')?.firstChild ?? th).textContent.trim()),
    rows: [...t.querySelectorAll('tbody tr')].map((tr) => [...tr.children].map((c) => c.textContent)),
    exact: [...t.querySelectorAll('tbody tr')].map((tr) => [...tr.children].map((c) => {
      const title = c.querySelector('.amount')?.getAttribute('title');
      return title ? title.replace(/^exactly /, '') : c.textContent;
    })),
  }));
}

/** A paged table's rows on every page, read by pressing Next until it is disabled (then back
 * to the first page). */
async function readAllPages(page, id) {
  const table = await readTable(page, id);
  const rows = [...table.rows];
  const exact = [...table.exact];
  let pages = 1;
  while (await page.locator(`#${id}-next`).count() && !(await page.locator(`#${id}-next`).isDisabled())) {
    await page.click(`#${id}-next`);
    pages += 1;
    assert.match(await page.textContent(`#${id}-page`), new RegExp(`^Page ${pages} of `));
    const more = await readTable(page, id);
    rows.push(...more.rows);
    exact.push(...more.exact);
  }
  while (await page.locator(`#${id}-prev`).count() && !(await page.locator(`#${id}-prev`).isDisabled())) await page.click(`#${id}-prev`);
  return { head: table.head, rows, exact, pages };
}

const amountIn = (list, currency) => list.find((m) => m.currency === currency)?.amount ?? '0.00';
const query = (params) => new URLSearchParams({ tz: 'UTC', ...params }).toString();

/** A cost cell's exact amount, or "unpriced" for a row whose events all are (not 0.00). */
const costCell = (r, c) => (r.unpriced_events && r.unpriced_events >= r.events && !r.cost.some((m) => m.currency === c) ? 'unpriced' : amountIn(r.cost, c));
/** What a cost cell shows: its amount rounded for reading. */
const shownCostCell = (r, c) => shown(costCell(r, c));

/** The units billed beside money, a column each when a table has any: label and report field. */
const UNIT_COLUMNS = [['Credits', 'credits'], ['Audio seconds', 'audio_seconds'], ['Video seconds', 'video_seconds'], ['Images', 'images'], ['Tracks', 'tracks']];

/** Every table of the breakdown equals the API's report with the same range and filter. */
async function assertTablesMatch(page, params) {
  for (const dim of ['provider', 'model', 'project', 'operation']) {
    const report = await api(`/api/admin/usage?${query({ group: dim, ...params })}`);
    const table = await readTable(page, `table-${dim}`);
    const label = (r) => (dim === 'project' ? `${r.project_name} (${r.project_id})` : dim === 'operation' ? r.operation ?? '(none)'
      : dim === 'model' ? `${r.provider} / ${r.model}${r.aliases.length ? ` (${r.aliases.join(', ')})` : ''}` : r[dim]);
    const byLabel = new Map(table.rows.map((cells, i) => [cells[0], { cells, exact: table.exact[i] }]));
    assert.equal(table.rows.length, report.rows.length, `${dim}: row count`);
    const currencies = [...new Set(report.rows.flatMap((r) => r.cost.map((m) => m.currency)))].sort();
    for (const r of report.rows) {
      assert.ok(byLabel.has(label(r)), `${dim}: row ${label(r)} is shown`);
      const { cells, exact } = byLabel.get(label(r));
      for (const c of currencies) {
        const column = table.head.indexOf(`Cost (${c})`);
        assert.equal(cells[column], shownCostCell(r, c), `${dim} ${label(r)} ${c}`);
        assert.equal(exact[column], costCell(r, c), `${dim} ${label(r)} ${c}, exactly`);
      }
      assert.equal(Number(cells[table.head.indexOf('Events')].replace(/,/g, '')), r.events);
      assert.equal(Number(cells[table.head.indexOf('Tokens')].replace(/,/g, '')), r.total_tokens);
      assert.equal(Number(cells[table.head.indexOf('Unpriced')].replace(/,/g, '')), r.unpriced_events);
      for (const [title, field] of UNIT_COLUMNS) {
        if (table.head.includes(title)) assert.equal(cells[table.head.indexOf(title)], quantityText(String(r[field] ?? '0')), `${dim} ${label(r)} ${title}`);
      }
    }
    // The billed units get a column each when some row of the table has any, and only then.
    for (const [title, field] of UNIT_COLUMNS) {
      const any = report.rows.some((r) => Number(r[field] ?? 0) !== 0);
      assert.equal(table.head.includes(title), any, `${dim}: a ${title} column ${any ? 'is' : 'is not'} shown`);
    }
    if (dim === 'provider') {
      // Each provider's newest call this month, from the usage stats, whatever the range.
      const stats = await api(`/api/usage/stats?${query(params.project_id ? { project_id: params.project_id } : {})}`);
      const newest = new Map(stats.month.by_provider.map((p) => [p.provider, p.last_updated]));
      const column = table.head.indexOf('Last call this month');
      assert.ok(column > 0, 'the provider table has a last-call column');
      for (const r of report.rows) {
        assert.equal(byLabel.get(r.provider).cells[column], dateTime(newest.get(r.provider), 'UTC'), `last call of ${r.provider}`);
      }
      assert.ok(report.rows.some((r) => newest.get(r.provider)), 'some provider called this month');
    }
  }
}

/** Saves a screenshot to test-artifacts/ and, when missing or UPDATE_SCREENSHOTS=1, to docs/screenshots/. */
async function screenshot(target, name, options = {}) {
  const png = await target.screenshot(options);
  writeFileSync(join(ARTIFACTS, name), png);
  const doc = join(SHOTS, name);
  if (options.docs !== false && (process.env.UPDATE_SCREENSHOTS === '1' || !existsSync(doc))) writeFileSync(doc, png);
}

// ---------------------------------------------------------------------------------------------

test('an amount is rounded for reading: to the cent from 1 up, to three significant digits below 1, never through a float', () => {
  assert.equal(shown('1234.565'), '1,234.57');
  assert.equal(shown('12.345'), '12.35', 'half away from zero, where a float would give 12.34');
  assert.equal(shown('-12.345'), '-12.35');
  assert.equal(shown('999.995'), '1,000.00');
  assert.equal(shown('90071992547409.935'), '90,071,992,547,409.94', 'past a float\'s 2^53');
  assert.equal(shown('64.195'), '64.20');
  assert.equal(shown('5'), '5.00');
  assert.equal(shown('0.5'), '0.50');
  assert.equal(shown('0.105'), '0.105');
  assert.equal(shown('0.04555'), '0.0456');
  assert.equal(shown('0.000123456'), '0.000123');
  assert.equal(shown('0.000000001'), '0.000000001');
  assert.equal(shown('0.9996'), '1.00');
  assert.equal(shown('0.00'), '0.00');
  assert.equal(shown('-0.005'), '-0.005');
  assert.equal(shown('n/a'), 'n/a');
});

test('a quantity keeps every digit and groups its whole part by thousands', async () => {
  const { quantity } = await import('../dashboard/src/format.js');
  assert.equal(quantity('100000'), '100,000');
  assert.equal(quantity('1234567.000000001'), '1,234,567.000000001');
  assert.equal(quantity('-1234.25'), '-1,234.25');
  assert.equal(quantity('999'), '999');
  assert.equal(quantity('0.5'), '0.5');
  assert.equal(quantity('n/a'), 'n/a');
});

test('the committed bundle in public/assets is what scripts/build-dashboard.sh builds from dashboard/src', () => {
  execFileSync('bash', [join(ROOT, 'scripts', 'build-dashboard.sh'), '--check'], { stdio: 'pipe' });
  const html = readFileSync(join(ROOT, 'public', 'index.html'), 'utf8');
  assert.match(html, /<meta http-equiv="Content-Security-Policy" content="default-src 'self';[^"]*script-src 'self'/);
  assert.doesNotMatch(html, /https?:\/\/(?!127\.0\.0\.1)/, 'the page names no outside address');
  const js = readFileSync(join(ROOT, 'public', 'assets', 'dashboard.js'), 'utf8');
  assert.doesNotMatch(js, /innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
});

/** The policy of the page's own <meta> CSP, which the served header must repeat. */
function metaPolicy() {
  const html = readFileSync(join(ROOT, 'public', 'index.html'), 'utf8');
  return /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(html)[1];
}

/** Every path that answers with the dashboard or one of its files. */
const DASHBOARD_FILES = ['/', '/index.html', '/api-usage', '/admin/usage', '/admin/usage/', '/assets/dashboard.js', '/assets/dashboard.css', '/favicon.svg'];

/** Asserts the headers that keep the dashboard out of other sites' frames, on one answer. */
function assertFrameHeaders(headers, policy, path) {
  assert.equal(headers.get('content-security-policy'), `${policy}; frame-ancestors 'none'`, `${path}: CSP`);
  assert.equal(headers.get('x-frame-options'), 'DENY', `${path}: X-Frame-Options`);
  assert.equal(headers.get('x-content-type-options'), 'nosniff', `${path}: X-Content-Type-Options`);
  assert.equal(headers.get('referrer-policy'), 'no-referrer', `${path}: Referrer-Policy`);
}

test('the dashboard cannot be framed: the page, its alias paths and its files carry frame-ancestors \'none\' and X-Frame-Options DENY', async () => {
  const policy = metaPolicy();
  assert.match(policy, /^default-src 'self';/);
  for (const path of DASHBOARD_FILES) {
    const r = await w.fetch(path);
    assert.equal(r.status, 200, path);
    assertFrameHeaders(r.headers, policy, path);
  }
  assert.equal((await w.fetch('/_headers')).status, 404, 'the headers file itself is not served');
  // In Chromium: a page of another origin that frames the dashboard gets no dashboard.
  const context = await browser.newContext();
  const page = await context.newPage();
  const blocked = [];
  page.on('console', (m) => blocked.push(m.text()));
  for (const path of ['/', '/admin/usage']) {
    await page.setContent(`<iframe id="f" src="${w.url}${path}"></iframe>`);
    await page.waitForTimeout(500);
    const frame = page.frames().find((f) => f !== page.mainFrame());
    assert.ok(frame, 'the frame exists');
    assert.equal(await frame.$('#signin-form').catch(() => null), null, `${path}: no sign-in form inside the frame`);
    assert.notEqual(frame.url(), `${w.url}${path}`, `${path}: the frame did not load the dashboard (${frame.url()})`);
  }
  assert.ok(blocked.some((t) => /frame-ancestors|X-Frame-Options/.test(t)), `Chromium reports the refusal: ${blocked.join(' | ')}`);
  await context.close();
});

test('a wrong key is refused and nothing is stored', async () => {
  const { page, close } = await openPage(w);
  await page.fill('#key', 'not-a-key');
  await page.click('#signin-button');
  await page.waitForSelector('#signin-error:not([hidden])');
  assert.match(await page.textContent('#signin-error'), /not accepted/);
  assert.equal(await page.isVisible('#dashboard'), false);
  assert.deepEqual(await page.evaluate(() => [sessionStorage.length, localStorage.length]), [0, 0]);
  await screenshot(page, 'dashboard-signin.png', { docs: false });
  await close();
});

test('admin sign-in: cards, tables, charts and budgets equal the API; the key stays in sessionStorage', async () => {
  const { page, rec, close } = await openPage(w);
  await signIn(page, ADMIN_KEY);
  assert.equal(await page.evaluate((k) => sessionStorage.getItem(k), STORAGE_KEY), ADMIN_KEY);
  assert.equal(await page.evaluate(() => localStorage.length), 0);
  assert.ok(!page.url().includes(ADMIN_KEY));
  assert.match(await page.textContent('#who-text'), /admin key/);
  assert.match(await page.textContent('#source-note'), /stored usage only/);
  assert.match(await page.textContent('#updated'), /Last updated: \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}/);

  // This month (the default range).
  const month = await api(`/api/admin/usage?${query({ group: 'day,provider', preset: 'month' })}`);
  assert.deepEqual(await readCards(page), cardsOf(month.totals));
  await assertTablesMatch(page, { preset: 'month' });

  // Generations per project: this UTC month's counts, as /api/admin/stats gives them.
  const now = new Date();
  const m = `${now.getUTCFullYear()}${String(now.getUTCMonth() + 1).padStart(2, '0')}`;
  const stats = await api(`/api/admin/stats?m=${m}`);
  const counts = await readTable(page, 'table-counts');
  assert.deepEqual(counts.head, ['Project', 'Jobs this month', 'Events this month', 'Jobs in total', 'Events in total']);
  assert.equal(counts.rows.length, stats.projects.length);
  const grouped = (n) => n.toLocaleString('en-US');
  for (const p of stats.projects) {
    const row = counts.rows.find((c) => c[0] === (p.project_name ?? p.project_id));
    assert.deepEqual(row.slice(1), [p.jobs_month, p.events_month, p.jobs_total, p.events_total].map(grouped), p.project_id);
  }
  assert.ok(stats.combined.jobs_total > 0 && stats.combined.events_month > 0, 'the fixture has jobs and events this month');
  assert.equal(await page.textContent('#counts-combined'),
    `Combined: ${grouped(stats.combined.jobs_month)} jobs and ${grouped(stats.combined.events_month)} events in ${stats.month}; ${grouped(stats.combined.jobs_total)} jobs in total.`);
  assert.equal(await page.textContent('#counts-month'), `(${stats.month}, UTC)`);

  // All time: every panel against the API.
  await choosePreset(page, 'all');
  const all = await api(`/api/admin/usage?${query({ group: 'day,provider', preset: 'all' })}`);
  assert.deepEqual(await readCards(page), cardsOf(all.totals));
  assert.deepEqual((await readCards(page)).cost, ['1.20 EUR', `${shown(amountIn(all.totals.cost, 'USD'))} USD`]);
  // A rounded total keeps its exact amount in a tooltip.
  assert.deepEqual(await page.$$eval('#card-cost .money', (els) => els.map((e) => e.getAttribute('title'))),
    all.totals.cost.map((m) => (shown(m.amount) === m.amount ? null : `exactly ${m.amount} ${m.currency}`)));
  // HeyGen's one credit a day for 35 days gets a card of its own, as do the seconds; kinds with
  // none get none.
  assert.deepEqual((await readCards(page)).extra, { credits: '35', 'audio-seconds': '437.5', 'video-seconds': '1050' });
  assert.equal((await readCards(page)).unpriced, 1);
  await assertTablesMatch(page, { preset: 'all' });

  // The daily chart's figures: each day and provider in USD, as the API sums them.
  const daily = await readTable(page, 'chart-daily-values');
  for (const r of all.rows.filter((x) => amountIn(x.cost, 'USD') !== '0.00')) {
    const i = daily.rows.findIndex((cells) => cells[0] === r.period);
    assert.ok(i >= 0, `day ${r.period} charted`);
    const column = daily.head.indexOf(r.provider);
    assert.equal(daily.rows[i][column], shown(amountIn(r.cost, 'USD')), `${r.period} ${r.provider}`);
    assert.equal(daily.exact[i][column], amountIn(r.cost, 'USD'), `${r.period} ${r.provider}, exactly`);
  }
  const models = await api(`/api/admin/usage?${query({ group: 'model', preset: 'all' })}`);
  const modelChart = await readTable(page, 'chart-models-values');
  for (const [i, [model, text]] of modelChart.rows.entries()) {
    const want = amountIn(models.rows.find((r) => `${r.provider} / ${r.model}` === model).cost, 'USD');
    assert.deepEqual([text, modelChart.exact[i][1]], [shown(want), want], model);
  }
  // Values on hover: the tooltip changes what the canvas shows.
  for (const id of ['chart-models', 'chart-daily']) {
    const canvas = await page.$(`#${id}`);
    await canvas.scrollIntoViewIfNeeded();
    const box = await canvas.boundingBox();
    const plain = await canvas.screenshot();
    await page.mouse.move(box.x + box.width * (id === 'chart-daily' ? 0.97 : 0.6), box.y + box.height * (id === 'chart-daily' ? 0.5 : 0.15));
    await page.waitForTimeout(150);
    assert.notDeepEqual(await canvas.screenshot(), plain, `${id}: a tooltip on hover`);
    await page.mouse.move(0, 0);
  }

  // Jobs.
  const jobs = await api(`/api/admin/usage/jobs?${query({ preset: 'all', limit: '500' })}`);
  assert.ok(jobs.jobs.length > 25, `${jobs.jobs.length} jobs: more than one page`);
  assert.equal((await readTable(page, 'table-jobs')).rows.length, 25, 'one page of 25 jobs at a time');
  const jobTable = await readAllPages(page, 'table-jobs');
  assert.equal(jobTable.rows.length, jobs.jobs.length);
  for (const j of jobs.jobs) {
    const cells = jobTable.rows.find((c) => c[0] === j.job_id);
    assert.equal(cells[jobTable.head.indexOf('Cost (USD)')], shown(amountIn(j.cost, 'USD')), j.job_id);
    // The project column names the project, its id beside the name.
    assert.equal(cells[jobTable.head.indexOf('Project')], { ads: 'Video ads (ads)', xss: `${HOSTILE} (xss)` }[j.project_id], j.job_id);
    assert.equal(Number(cells[jobTable.head.indexOf('Calls')]), j.calls);
  }

  // Unpriced events link to the models that need a price.
  const unpriced = await api('/api/admin/prices/unpriced');
  await page.click('#unpriced-link');
  assert.ok(page.url().endsWith('#unpriced'));
  const unpricedTable = await readTable(page, 'table-unpriced');
  assert.deepEqual(unpricedTable.rows.map((c) => [c[0], c[1], Number(c[3])]), unpriced.models.map((m) => [m.provider, m.model, m.events]));

  // Budgets: spend against the budget as a bar, forecast, levels, last alert.
  const b = await api('/api/admin/projects/ads/budget');
  const card = page.locator('li.budget[data-project=ads]');
  const fact = (k) => card.locator(`[data-fact=${k}] dd`).textContent();
  assert.equal(await fact('spent'), `${shown(b.status.spend.amount)} USD of 10.00 USD (${b.status.percent_used}%)`);
  // The forecast extrapolates this month's spend to the month's end at the moment it is asked,
  // so the page's figure and this later one differ by the seconds in between.
  const forecast = /^(\d+\.\d+) USD by the end of the month/.exec(await fact('forecast'));
  assert.ok(forecast, await fact('forecast'));
  assert.ok(Math.abs(Number(forecast[1]) / b.status.forecast.value - 1) < 1e-3, `${forecast[1]} ~ ${b.status.forecast.amount}`);
  const levels = await card.locator('.level').allTextContents();
  assert.deepEqual(levels.map((l) => Number.parseInt(l, 10)), b.status.levels);
  assert.equal(await fact('last-alert'), 'never');
  assert.equal(await card.locator('[role=progressbar]').getAttribute('aria-valuetext'), `${b.status.percent_used}%`);
  assert.ok((await page.textContent('#no-budget')).includes(HOSTILE));

  // The page asked only its own origin, and the admin routes only with the header.
  assert.ok(rec.requests.some((u) => u.includes('/api/admin/usage?')));
  await page.evaluate(() => window.scrollTo(0, 0));
  await screenshot(page, 'dashboard-desktop.png');
  await screenshot(page, 'dashboard-desktop-full.png', { fullPage: true, docs: false });
  await close();
});

test('range presets, a custom range and the project filter change the figures as the API does', async () => {
  const { page, close } = await openPage(w);
  await signIn(page, ADMIN_KEY);
  const seen = {};
  for (const preset of ['today', 'week', 'month', 'all']) {
    await choosePreset(page, preset);
    assert.equal(await page.getAttribute(`[data-preset=${preset}]`, 'aria-pressed'), 'true');
    const report = await api(`/api/admin/usage?${query({ preset })}`);
    seen[preset] = await readCards(page);
    assert.deepEqual(seen[preset], cardsOf(report.totals), preset);
  }
  assert.ok(seen.today.events < seen.all.events, 'today shows less than all time');
  assert.ok(seen.week.events < seen.all.events, 'seven days show less than all time');

  // A custom range: ten to three days ago.
  const from = new Date(Date.now() - 10 * DAY).toISOString().slice(0, 10);
  const to = new Date(Date.now() - 3 * DAY).toISOString().slice(0, 10);
  await page.click('[data-preset=custom]');
  await page.fill('#from', from);
  await page.fill('#to', to);
  await settle(page, () => page.click('#custom-range button[type=submit]'));
  const custom = await api(`/api/admin/usage?${query({ from, to })}`);
  assert.deepEqual(await readCards(page), cardsOf(custom.totals));
  assert.match(await page.textContent('#range-label'), new RegExp(`${from} to ${to}`));
  await assertTablesMatch(page, { from, to });

  // The project filter (all time).
  await choosePreset(page, 'all');
  await settle(page, () => page.selectOption('#project-filter', 'xss'));
  const xss = await api(`/api/admin/usage?${query({ preset: 'all', project_id: 'xss' })}`);
  assert.deepEqual(await readCards(page), cardsOf(xss.totals));
  assert.deepEqual(await readCards(page), { cost: ['5.25 USD'], tokens: 3850, characters: 0, requests: 0, events: 7, unpriced: 0, extra: {} });
  await assertTablesMatch(page, { preset: 'all', project_id: 'xss' });
  assert.equal((await readTable(page, 'table-project')).rows.length, 1);
  assert.equal(await page.locator('li.budget').count(), 0, 'only the chosen project\'s budget');
  await settle(page, () => page.selectOption('#project-filter', ''));
  assert.deepEqual(await readCards(page), seen.all);

  // Budget alerts link to the dashboard with ?project=<id>: it opens on that project.
  await page.goto(`${w.url}/?project=xss`);
  await page.waitForFunction(() => Number(document.getElementById('main').dataset.loads ?? 0) >= 1);
  assert.equal(await page.inputValue('#project-filter'), 'xss');
  const xssMonth = await api(`/api/admin/usage?${query({ preset: 'month', project_id: 'xss' })}`);
  assert.deepEqual(await readCards(page), cardsOf(xssMonth.totals));
  await close();
});

test('CSV downloads: the API\'s own CSV for the report tables, and the jobs table', async () => {
  const { page, close } = await openPage(w);
  await signIn(page, ADMIN_KEY);
  await choosePreset(page, 'all');
  const download = async (id) => {
    const [file] = await Promise.all([page.waitForEvent('download'), page.click(`#${id}`)]);
    return { name: file.suggestedFilename(), text: readFileSync(await file.path(), 'utf8') };
  };
  for (const dim of ['provider', 'model', 'project', 'operation']) {
    const got = await download(`csv-${dim}`);
    assert.equal(got.name, `usage-by-${dim}-all.csv`);
    const r = await w.fetch(`/api/admin/usage?${query({ group: dim, preset: 'all', format: 'csv', limit: '10000' })}`, { key: ADMIN_KEY });
    assert.equal(got.text, r.text, dim);
  }
  const jobs = await api(`/api/admin/usage/jobs?${query({ preset: 'all', limit: '500' })}`);
  const got = await download('csv-jobs');
  assert.equal(got.name, 'jobs-all.csv');
  const lines = got.text.trim().split('\n');
  const header = lines[0].split(',');
  assert.deepEqual(header.slice(0, 6), ['job_id', 'project_id', 'first_seen', 'last_seen', 'calls', 'unpriced_calls']);
  assert.equal(lines.length - 1, jobs.jobs.length);
  for (const j of jobs.jobs) {
    const cells = lines.find((l) => l.startsWith(`${j.job_id},`)).split(',');
    assert.equal(cells[header.indexOf('cost_usd')], amountIn(j.cost, 'USD'));
  }
  await close();
});

test('Refresh re-fetches; nothing is fetched in the background', async () => {
  const { page, rec, close } = await openPage(w);
  await signIn(page, ADMIN_KEY);
  await choosePreset(page, 'all');
  const before = await readCards(page);
  const updated = await page.textContent('#updated');
  const count = rec.requests.length;
  await page.waitForTimeout(1500);
  assert.equal(rec.requests.length, count, 'no polling');
  const r = await w.fetch('/api/usage', { method: 'POST', key: keys.ads, body: { id: 'late-refresh', provider: 'openai', model: 'gpt-4o', input_tokens: 7, cost: '3.00' } });
  assert.equal(r.status, 201, r.text);
  assert.deepEqual(await readCards(page), before, 'nothing changes until Refresh');
  await settle(page, () => page.click('#refresh'));
  const after = await readCards(page);
  assert.equal(after.events, before.events + 1);
  const all = await api(`/api/admin/usage?${query({ preset: 'all' })}`);
  assert.deepEqual(after, cardsOf(all.totals));
  assert.ok(rec.requests.length > count && rec.requests.slice(count).some((u) => u.includes('/api/admin/usage?')));
  assert.notEqual(await page.textContent('#updated'), updated);
  await close();
});

test('a project key shows only its project, from /api/usage/stats and /api/usage, and never calls admin routes', async () => {
  const { page, rec, close } = await openPage(w);
  await signIn(page, keys.ads);
  assert.match(await page.textContent('#who-text'), /project key: ads/);
  assert.equal(await page.isVisible('#project-filter'), false);
  assert.equal(await page.evaluate((k) => sessionStorage.getItem(k), STORAGE_KEY), keys.ads);
  const stats = await api('/api/usage/stats?tz=UTC', keys.ads);
  assert.equal(stats.project_id, 'ads');
  assert.deepEqual(await readCards(page), cardsOf(stats.month.totals), 'this month from the stats');
  await choosePreset(page, 'today');
  assert.deepEqual(await readCards(page), cardsOf(stats.today.totals), 'today from the stats');

  // All time: summed in the page from /api/usage pages; equal to the admin report of the project.
  await choosePreset(page, 'all');
  const report = await api(`/api/admin/usage?${query({ preset: 'all', project_id: 'ads' })}`);
  assert.deepEqual(await readCards(page), cardsOf(report.totals));
  for (const dim of ['provider', 'model', 'operation']) {
    const want = await api(`/api/admin/usage?${query({ group: dim, preset: 'all', project_id: 'ads' })}`);
    const table = await readTable(page, `table-${dim}`);
    assert.equal(table.rows.length, want.rows.length, dim);
    for (const r of want.rows) {
      const cells = table.rows.find((c) => c[0] === (dim === 'model' ? `${r.provider} / ${r.model}${r.aliases.length ? ` (${r.aliases.join(', ')})` : ''}` : r[dim] ?? '(none)'));
      assert.equal(cells[table.head.indexOf('Cost (USD)')], shownCostCell(r, 'USD'), `${dim} ${r[dim]}`);
      assert.equal(Number(cells[table.head.indexOf('Events')].replace(/,/g, '')), r.events);
    }
  }
  const models = (await readTable(page, 'table-model')).rows.map((c) => c[0]);
  assert.ok(models.includes('openai / gpt-4o (gpt-4o-2024-08-06)'), models.join('; '));
  const projects = await readTable(page, 'table-project');
  assert.deepEqual(projects.rows.map((c) => c[0]), ['ads']);
  const jobs = await api(`/api/admin/usage/jobs?${query({ preset: 'all', project_id: 'ads', limit: '500' })}`);
  const jobTable = await readAllPages(page, 'table-jobs');
  assert.deepEqual(jobTable.rows.map((c) => c[0]).sort(), jobs.jobs.map((j) => j.job_id).sort());
  for (const j of jobs.jobs) {
    assert.equal(jobTable.rows.find((c) => c[0] === j.job_id)[jobTable.head.indexOf('Cost (USD)')], shown(amountIn(j.cost, 'USD')));
  }
  assert.deepEqual((await readTable(page, 'table-unpriced')).rows.map((c) => c[1]), ['house-model']);
  // Its own budget, as /api/usage/stats gives it to the key.
  const own = stats.budget;
  assert.equal(await page.textContent('#own-budget [data-fact="spent"] dd'),
    `${shown(own.spend.amount)} ${own.spend.currency} of ${shown(own.budget.amount)} ${own.budget.currency} (${own.percent_used}%)`);
  assert.match(await page.textContent('#own-budget [data-fact="month"] dd'), /\(UTC\)$/);
  assert.ok(!(await page.textContent('body')).includes(HOSTILE), 'no other project is shown');

  // CSV in the project view is made in the page from the same rows.
  const [file] = await Promise.all([page.waitForEvent('download'), page.click('#csv-provider')]);
  const lines = readFileSync(await file.path(), 'utf8').trim().split('\n');
  const header = lines[0].split(',');
  assert.deepEqual(header.slice(0, 3), ['provider', 'cost_eur', 'cost_usd']);
  const byProvider = await api(`/api/admin/usage?${query({ group: 'provider', preset: 'all', project_id: 'ads' })}`);
  for (const r of byProvider.rows) {
    assert.equal(lines.find((l) => l.startsWith(`${r.provider},`)).split(',')[2], amountIn(r.cost, 'USD'));
  }
  // Every table's CSV has the API's columns and, row for row, its figures (the project's name
  // and client, which a project key cannot read, left empty).
  for (const dim of ['provider', 'model', 'project', 'operation']) {
    const [download] = await Promise.all([page.waitForEvent('download'), page.click(`#csv-${dim}`)]);
    const mine = readFileSync(await download.path(), 'utf8').trim().split('\n');
    const theirs = (await w.fetch(`/api/admin/usage?${query({ group: dim, preset: 'all', project_id: 'ads', format: 'csv' })}`, { key: ADMIN_KEY })).text.trim().split('\n');
    assert.equal(mine[0], theirs[0], `${dim}: the header`);
    const blankNames = (line) => (dim === 'project' ? line.replace(/^ads,[^,]*,[^,]*,/, 'ads,,,') : line);
    assert.deepEqual(mine.slice(1).sort(), theirs.slice(1).map(blankNames).sort(), `${dim}: the rows`);
  }

  assert.ok(rec.requests.some((u) => u.includes('/api/usage?')));
  assert.deepEqual(rec.requests.filter((u) => new URL(u).pathname.startsWith('/api/admin')), [], 'no admin route');
  await page.evaluate(() => window.scrollTo(0, 0));
  await screenshot(page, 'dashboard-project-key.png');
  await close();
});

test('the cost chart groups by day, week or month as the API does, for the admin and for a project key', async () => {
  for (const [key, project] of [[ADMIN_KEY, null], [keys.ads, 'ads']]) {
    const { page, rec, close } = await openPage(w, { viewport: { width: 1280, height: 900 }, timezoneId: 'America/New_York' });
    await signIn(page, key);
    await choosePreset(page, 'all');
    for (const grain of ['week', 'month', 'day']) {
      await settle(page, () => page.selectOption('#grain', grain));
      const table = await readTable(page, 'chart-daily-values');
      assert.equal(await page.getAttribute('#chart-daily-values', 'data-grain'), grain);
      const report = await api(`/api/admin/usage?${query({ group: `${grain},provider`, preset: 'all', tz: 'America/New_York', ...(project ? { project_id: project } : {}) })}`);
      const expected = new Map();
      for (const r of report.rows) {
        const usd = amountIn(r.cost, 'USD');
        if (usd !== '0.00') expected.set(`${r.period}|${r.provider}`, usd);
      }
      let charted = 0;
      for (const [r, row] of table.rows.entries()) {
        for (const [i, provider] of table.head.entries()) {
          if (i === 0 || provider.startsWith('Total')) continue;
          const want = expected.get(`${row[0]}|${provider}`) ?? '0.00';
          assert.deepEqual([row[i], table.exact[r][i]], [shown(want), want], `${grain} ${row[0]} ${provider}`);
          if (want !== '0.00') charted += 1;
        }
      }
      assert.equal(charted, expected.size, `${grain}: every non-zero period and provider is charted`);
      assert.ok(table.rows.length > (grain === 'month' ? 1 : grain === 'week' ? 4 : 30), `${grain}: ${table.rows.length} rows`);
      if (grain === 'week') assert.ok(table.rows.every((r) => new Date(`${r[0]}T00:00:00Z`).getUTCDay() === 1), 'weeks start on Monday');
    }
    if (project) assert.deepEqual(rec.requests.filter((u) => new URL(u).pathname.startsWith('/api/admin')), [], 'no admin route');
    await close();
  }
});

test('a project key is told when its range reaches back before the pruned days', async () => {
  // Yesterday (UTC): today's range starts after it in every time zone.
  const day = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
  await w.db.prepare('INSERT INTO usage_retention (id, pruned_before) VALUES (1, ?)').bind(day).run();
  try {
    const { page, close } = await openPage(w);
    await signIn(page, keys.ads);
    await choosePreset(page, 'all');
    assert.match(await page.textContent('#load-note'), new RegExp(`Events before ${day} are past the retention period`));
    await choosePreset(page, 'today');
    assert.equal(await page.isVisible('#load-note'), false, 'a range after the watermark has no note');
    await close();
  } finally {
    await w.db.prepare('DELETE FROM usage_retention').run();
  }
});

test('the admin sees how long raw events are kept and what the cron has pruned', async () => {
  const { page, close } = await openPage(w);
  await signIn(page, ADMIN_KEY);
  assert.match(await page.textContent('#retention-note'), /Raw events are kept in D1 for ever \(USAGE_RETENTION_DAYS is not set\)\./);
  assert.doesNotMatch(await page.textContent('#retention-note'), /pruned \(/);
  const day = new Date(Date.now() - 3 * 86_400_000).toISOString().slice(0, 10);
  await w.db.prepare('INSERT INTO usage_retention (id, pruned_before, rows_pruned) VALUES (1, ?, 12345)').bind(day).run();
  try {
    await choosePreset(page, 'week');
    const text = await page.textContent('#retention-note');
    assert.match(text, new RegExp(`Events before ${day} were pruned \\(12,345 rows\\)`));
    await page.click('#sign-out');
    await signIn(page, keys.ads);
    assert.equal(await page.isVisible('#retention-note'), false, 'a project key is not shown the admin line');
  } finally {
    await w.db.prepare('DELETE FROM usage_retention').run();
  }
  await close();
});

test('a budget shows its spike alert and its emailed spend report', async () => {
  const patch = (body) => w.fetch('/api/admin/projects/ads/budget', { method: 'PATCH', key: ADMIN_KEY, body });
  assert.equal((await patch({ spike_alert: { percent: 400, min_spend: '2' }, report_schedule: 'weekly' })).status, 200);
  try {
    const { page, close } = await openPage(w);
    await signIn(page, ADMIN_KEY);
    const b = await api('/api/admin/projects/ads/budget');
    const fact = (k) => page.locator(`li.budget[data-project=ads] [data-fact=${k}] dd`).textContent();
    const spike = await fact('spike');
    assert.ok(spike.startsWith(`at 400% of the average day of the last 7 (${shown(b.status.baseline_daily.amount)} USD), from 2.00 USD`), spike);
    assert.equal(spike.endsWith('(crossed)'), b.status.levels_crossed.includes('spike'));
    assert.equal(await fact('report'), 'weekly by email');
    // A project with a spike rule alone: no alert levels (they are percents of a budget),
    // and no baseline of 0.00 shown for days without spend.
    const created = await w.fetch('/api/admin/projects', { method: 'POST', key: ADMIN_KEY, body: { id: 'spiky', name: 'Spiky', spike_alert: { percent: 300, min_spend: '5' } } });
    assert.equal(created.status, 201, created.text);
    await settle(page, () => page.click('#refresh'));
    const spiky = page.locator('li.budget[data-project=spiky]');
    assert.equal(await spiky.locator('[data-fact=levels]').count(), 0);
    assert.equal(await spiky.locator('[data-fact=spike] dd').textContent(), 'at 300% of the average day of the last 7 (no spend in them yet), from 5.00 USD');
    await close();
  } finally {
    assert.equal((await patch({ spike_alert: null, report_schedule: null })).status, 200);
    await w.fetch('/api/admin/projects/spiky', { method: 'DELETE', key: ADMIN_KEY });
  }
});

test('the admin sets, changes and clears a budget from the dashboard; a refused change names its fields and changes nothing', async () => {
  assert.equal((await w.fetch('/api/admin/projects', { method: 'POST', key: ADMIN_KEY, body: { id: 'edit-me', name: 'Edit me' } })).status, 201);
  try {
    const { page, close } = await openPage(w);
    await signIn(page, ADMIN_KEY);
    await page.click('#budget-edit summary');
    await page.selectOption('#be-project', 'edit-me');
    assert.deepEqual([await page.inputValue('#be-amount'), await page.inputValue('#be-currency')], ['', 'USD']);
    await page.fill('#be-amount', '250');
    await page.fill('#be-currency', 'EUR');
    await page.fill('#be-levels', '60, 90');
    await page.fill('#be-daily', '20');
    await page.fill('#be-emails', 'ops@example.com lead@example.com');
    await page.fill('#be-timezone', 'Europe/Paris');
    await settle(page, () => page.click('#be-save'));
    const b = await api('/api/admin/projects/edit-me/budget');
    assert.deepEqual(
      [b.budget.amount, b.budget.currency, b.alert_levels, b.daily_limit.amount, b.daily_limit.currency, b.alert_emails, b.period.timezone],
      ['250.00', 'EUR', [60, 90, 100], '20.00', 'EUR', ['ops@example.com', 'lead@example.com'], 'Europe/Paris'],
    );
    assert.equal(await page.textContent('#be-status'), 'Saved the budget of edit-me.');
    assert.equal(await page.getAttribute('#budget-edit', 'open'), '', 'the form stays open after the reload');
    assert.equal(await page.inputValue('#be-amount'), '250.00', 'and shows the saved budget');
    assert.ok(await page.isVisible('li.budget[data-project=edit-me]'), 'the budget list shows it');

    // A refused change: each field at fault is listed, nothing changes.
    const before = await api('/api/admin/projects/edit-me/budget');
    await page.fill('#be-daily', '-5');
    await page.fill('#be-emails', 'not-an-address');
    await page.click('#be-save');
    await page.waitForSelector('#be-errors:not([hidden])');
    const fields = await page.$$eval('#be-errors li', (lis) => lis.map((li) => li.dataset.field));
    assert.deepEqual(fields, ['daily_limit.amount', 'alert_emails[0]']);
    assert.match(await page.textContent('#be-status'), /^Not saved: /);
    const after = await api('/api/admin/projects/edit-me/budget');
    delete before.status;
    delete after.status;
    assert.deepEqual(after, before, 'a refused change changes nothing');
    // A bad currency marks the currency field, not the amount's; a bad level says which item.
    await page.fill('#be-daily', '20');
    await page.fill('#be-emails', 'ops@example.com');
    await page.fill('#be-currency', 'XXX');
    await page.fill('#be-levels', '50, abc');
    await page.click('#be-save');
    await page.waitForFunction(() => [...document.querySelectorAll('#be-errors li')].some((li) => li.dataset.field.endsWith('.currency')));
    const problems = await page.$$eval('#be-errors li', (lis) => lis.map((li) => [li.dataset.field, li.textContent]));
    assert.ok(problems.some(([f, t]) => f.endsWith('.currency') && t.startsWith('Currency (')), JSON.stringify(problems));
    assert.ok(problems.some(([f, t]) => f === 'alert_levels[1]' && t.startsWith('Alert at (%) (item 2): ')), JSON.stringify(problems));
    assert.equal(await page.getAttribute('#be-currency', 'aria-invalid'), 'true');
    assert.equal(await page.getAttribute('#be-amount', 'aria-invalid'), null);
    await page.fill('#be-currency', 'EUR');
    await page.fill('#be-levels', '60, 90');

    // Emptied fields clear the budget and the daily limit.
    await page.fill('#be-amount', '');
    await page.fill('#be-daily', '');
    await page.fill('#be-emails', '');
    await settle(page, () => page.click('#be-save'));
    const cleared = await api('/api/admin/projects/edit-me/budget');
    assert.deepEqual([cleared.budget, cleared.daily_limit, cleared.alert_emails], [null, null, []]);
    assert.ok((await page.textContent('#no-budget')).includes('Edit me'));
    await close();
  } finally {
    await w.fetch('/api/admin/projects/edit-me', { method: 'DELETE', key: ADMIN_KEY });
  }
});

test('the admin creates a project, issues it a key shown once, and revokes it in two clicks, all from the dashboard', async () => {
  const { page, close } = await openPage(w);
  await signIn(page, ADMIN_KEY);
  // A refused project names its field.
  await page.click('#new-project-form summary');
  await page.fill('#np-id', 'Not An Id');
  await page.fill('#np-name', 'Refused');
  await page.click('#np-save');
  await page.waitForSelector('#np-errors:not([hidden])');
  assert.deepEqual(await page.$$eval('#np-errors li', (lis) => lis.map((li) => li.dataset.field)), ['id']);
  // A new project: the dashboard reloads with its keys open.
  await page.fill('#np-id', 'from-ui');
  await page.fill('#np-name', 'From the UI');
  await settle(page, () => page.click('#np-save'));
  assert.equal((await api('/api/admin/projects/from-ui')).name, 'From the UI');
  assert.equal(await page.getAttribute('#keys-details', 'open'), '');
  assert.equal(await page.inputValue('#keys-project'), 'from-ui');
  await page.waitForSelector('#keys-list p.muted >> text=No keys yet.');
  // A key, shown once, that works.
  await page.fill('#nk-name', 'production app');
  await page.click('#nk-issue');
  await page.waitForSelector('#table-keys');
  const secret = await page.textContent('#new-key-value');
  assert.match(secret, /^ast_/);
  const stats = await w.fetch('/api/usage/stats', { key: secret });
  assert.equal(stats.status, 200, stats.text);
  assert.equal(stats.json.project_id, 'from-ui');
  const listed = (await api('/api/admin/projects/from-ui/keys')).keys;
  assert.deepEqual(listed.map((k) => [k.name, k.revoked_at]), [['production app', null]]);
  const row = (await readTable(page, 'table-keys')).rows[0];
  assert.deepEqual(row.slice(0, 2), [`${listed[0].prefix}…`, 'production app']);
  assert.ok(!(await page.content()).includes(`"${secret}"`), 'the secret is not kept in any attribute');
  // Revoking takes two clicks; then the key is refused.
  await page.click(`button.revoke[data-key="${listed[0].id}"]`);
  assert.equal(await page.textContent(`button.revoke[data-key="${listed[0].id}"]`), 'Confirm revoke');
  assert.equal((await w.fetch('/api/usage/stats', { key: secret })).status, 200, 'one click revokes nothing');
  await page.click(`button.revoke[data-key="${listed[0].id}"]`);
  await page.waitForFunction(() => /revoked/.test(document.querySelector('#table-keys tbody')?.textContent ?? ''));
  assert.equal((await w.fetch('/api/usage/stats', { key: secret })).status, 401);
  await close();
  await w.fetch('/api/admin/projects/from-ui', { method: 'DELETE', key: ADMIN_KEY });
});

test('projects with a client add a table by client, summed exactly from the project rows', async () => {
  const patch = (id, client) => w.fetch(`/api/admin/projects/${id}`, { method: 'PATCH', key: ADMIN_KEY, body: { client } });
  assert.equal((await patch('ads', 'Acme')).status, 200);
  assert.equal((await patch('xss', 'Acme')).status, 200);
  try {
    const { page, close } = await openPage(w);
    await signIn(page, ADMIN_KEY);
    await choosePreset(page, 'all');
    const byProject = await api(`/api/admin/usage?${query({ group: 'project', preset: 'all' })}`);
    const acme = byProject.rows.filter((r) => r.client === 'Acme');
    assert.equal(acme.length, 2);
    const toNanos = (text) => {
      const [whole, fraction = ''] = text.replace(/,/g, '').split('.');
      return BigInt(whole) * 1_000_000_000n + BigInt(fraction.padEnd(9, '0'));
    };
    const nanos = (list) => list.reduce((s, r) => s + toNanos(amountIn(r.cost, 'USD')), 0n);
    const table = await readTable(page, 'table-client');
    const i = table.rows.findIndex((c) => c[0] === 'Acme');
    assert.ok(i >= 0, JSON.stringify(table.rows));
    const row = table.rows[i];
    const exact = table.exact[i][table.head.indexOf('Cost (USD)')];
    assert.equal(toNanos(exact), nanos(acme), `${exact}`);
    assert.equal(row[table.head.indexOf('Cost (USD)')], shown(exact));
    assert.equal(Number(row[table.head.indexOf('Events')].replace(/,/g, '')), acme.reduce((s, r) => s + r.events, 0));
    const projects = await readTable(page, 'table-project');
    assert.equal(projects.head[1], 'Client');
    await close();
  } finally {
    await patch('ads', null);
    await patch('xss', null);
  }
  const { page, close } = await openPage(w);
  await signIn(page, ADMIN_KEY);
  assert.equal(await page.locator('#table-client').count(), 0, 'no client, no table');
  await close();
});

test('a hostile project name is shown as text, never run as markup', async () => {
  const { page, rec, close } = await openPage(w);
  await signIn(page, ADMIN_KEY);
  await choosePreset(page, 'all');
  const projectTable = await readTable(page, 'table-project');
  assert.ok(projectTable.rows.some((c) => c[0] === `${HOSTILE} (xss)`));
  const options = await page.locator('#project-filter option').allTextContents();
  assert.ok(options.includes(`${HOSTILE} (xss)`));
  assert.ok((await page.textContent('#no-budget')).includes(HOSTILE));
  assert.equal(await page.locator('img').count(), 0, 'no <img> element was created');
  assert.deepEqual(rec.dialogs, []);
  await close();
});

test('the Plans panel shows each plan\'s allotment and the capacity per profile with the bottleneck', async () => {
  const { page, close } = await openPage(w);
  // The plans API's shapes (answered here by the page's own origin, as the worker will).
  const subscriptions = {
    subscriptions: [
      { provider: 'heygen', project_id: null, monthly_fee: { amount: '29.00', currency: 'USD', value: 29 }, allotment: { amount: '10', unit: 'credits' }, reserve: '1', reset_day: 1, period: { from: '2026-11-01T00:00:00.000Z', to: '2026-12-01T00:00:00.000Z', days_left: 8 }, used: '6.5', remaining: '3.5', available: '1.5', percent_used: '65.00', run_out: '2026-11-28', runs_out_before_reset: true },
      { provider: 'elevenlabs', project_id: 'ads', monthly_fee: { amount: '22.00', currency: 'USD', value: 22 }, allotment: { amount: '100000', unit: 'characters' }, reserve: '0', reset_day: 15, period: { from: '2026-11-15T00:00:00.000Z', to: '2026-12-15T00:00:00.000Z', days_left: 22 }, used: '12000', remaining: '88000', available: '88000', percent_used: '12.00', run_out: null, runs_out_before_reset: false, overage: { units: '0', cost: { amount: '0.00', currency: 'USD', value: 0 }, price: '0.30', per: '1000' } },
    ],
    monthly_cost: [{ amount: '57.25', currency: 'USD', value: 57.25 }],
    fees: [{ amount: '51.00', currency: 'USD', value: 51 }],
    usage_spend: [{ amount: '8.25', currency: 'USD', value: 8.25 }],
    credits_applied: [{ amount: '2.00', currency: 'USD', value: 2 }],
  };
  subscriptions.subscriptions.push(
    { provider: 'loudly', project_id: null, monthly_fee: { amount: '0.00', currency: 'USD', value: 0 }, allotment: { amount: '3000', unit: 'tracks' }, counts: { usage: 'tracks', per: '1' }, reserve: '0', reset_day: 1, period: { from: '2026-11-01T00:00:00.000Z', to: '2026-12-01T00:00:00.000Z', days_left: 8 }, used: '0', remaining: '3000', available: '3000', percent_used: '0.00', warning: 'the plan counts tracks, but none of the 4 loudly events recorded this period carries it (they carry audio_seconds); set `counts` to say which usage feeds the plan\'s tracks' },
    { provider: 'google-cloud', project_id: null, name: 'Trial credit', monthly_fee: { amount: '0.00', currency: 'USD', value: 0 }, allotment: { amount: '300.00', unit: 'money' }, reserve: '0.00', reset_day: null, term: { starts: '2026-10-01', expires: '2027-02-18' }, expired: false, period: { from: '2026-10-01T00:00:00.000Z', to: '2027-02-18T00:00:00.000Z', days_left: 88 }, used: '31.50', remaining: '268.50', available: '268.50', percent_used: '10.50', run_out: null, runs_out_before_reset: false, reading: { used: '20.00', at: '2026-11-20T10:30:00.000Z', applied: true } },
    { provider: 'azure', project_id: null, monthly_fee: { amount: '0.00', currency: 'USD', value: 0 }, allotment: { amount: '200.00', unit: 'money' }, reserve: '0.00', reset_day: null, term: { starts: '2026-08-01', expires: '2026-09-01' }, expired: true, period: { from: '2026-08-01T00:00:00.000Z', to: '2026-09-01T00:00:00.000Z', days_left: 0 }, used: '12.00', remaining: '0.00', available: '0.00', percent_used: '6.00', run_out: null, runs_out_before_reset: false },
    { provider: 'mistral', project_id: null, monthly_fee: { amount: '0.00', currency: 'USD', value: 0 }, allotment: { amount: '50.00', unit: 'money' }, reserve: '0.00', reset_day: null, term: { starts: '2027-01-01', expires: '2027-04-01' }, expired: false, not_started: true, period: { from: '2027-01-01T00:00:00.000Z', to: '2027-04-01T00:00:00.000Z', days_left: 125 }, used: '0.00', remaining: '50.00', available: '50.00', percent_used: '0.00', run_out: null, runs_out_before_reset: false },
  );
  const capacity = {
    profiles: [{
      name: 'clip', learned: false, items: [{ provider: 'heygen', amount: '0.5', unit: 'credits' }, { provider: 'elevenlabs', amount: '1200', unit: 'characters' }],
      units_left: 3, bottleneck: 'heygen', recommended_daily: '0.37',
      per_provider: [
        { provider: 'heygen', available: '1.5', per_unit: '0.5', units_left: 3, days_left: 8, daily_rate: '0.37' },
        { provider: 'elevenlabs', available: '88000', per_unit: '1200', units_left: 73, days_left: 22, daily_rate: '545' },
      ],
    }],
  };
  await page.route('**/api/admin/subscriptions', (route) => route.fulfill({ json: subscriptions }));
  await page.route('**/api/admin/capacity', (route) => route.fulfill({ json: capacity }));
  await signIn(page, ADMIN_KEY);
  const plan = page.locator('li.plan[data-provider=heygen]');
  const fact = (k) => plan.locator(`[data-fact=${k}] dd`).textContent();
  assert.equal(await fact('allotment'), '10 credits');
  assert.equal(await fact('used'), '6.5 credits (65.00%)');
  assert.equal(await fact('remaining'), '3.5 credits');
  assert.equal(await fact('available'), '1.5 credits (after a reserve of 1 credit)', 'one credit, not "1 credits"');
  assert.equal(await fact('resets'), '2026-12-01 (8 days left)');
  assert.match(await fact('run-out'), /2026-11-28.*before the reset/);
  const eleven = (k) => page.locator(`li.plan[data-provider=elevenlabs] [data-fact=${k}] dd`).textContent();
  assert.equal(await eleven('allotment'), '100,000 characters');
  assert.equal(await eleven('used'), '12,000 characters (12.00%)');
  assert.equal(await eleven('overage'), '0 characters: 0.00 USD at 0.30 USD per 1,000 characters');
  const elevenCells = await page.locator('li.profile[data-profile=clip] tbody tr[data-provider=elevenlabs] td').allTextContents();
  assert.deepEqual(elevenCells.slice(0, 2), ['88,000 characters', '1,200 characters']);
  assert.equal(await plan.locator('[role=progressbar]').getAttribute('aria-valuenow'), '65');
  assert.match(await page.textContent('[data-fact=monthly-cost] dd'), /57\.25 USD/);
  assert.equal(await page.textContent('[data-fact=credits-applied] dd'), '2.00 USD');
  // A one-time credit counts down to its expiry and has no monthly fee; an expired one says so.
  const credit = (provider, k) => page.locator(`li.plan[data-provider=${provider}] [data-fact=${k}]`);
  assert.equal(await credit('google-cloud', 'expires').locator('dd').textContent(), '2027-02-18 (88 days left; a one-time credit from 2026-10-01)');
  assert.equal(await credit('google-cloud', 'expires').locator('dt').textContent(), 'Expires');
  assert.match(await credit('google-cloud', 'used').locator('dd').textContent(), /^31\.50 USD \(10\.50%\); from a reading of 20\.00 USD at 2026-11-20 \d\d:30:00$/);
  assert.equal(await credit('google-cloud', 'fee').count(), 0);
  assert.equal(await credit('google-cloud', 'resets').count(), 0);
  assert.equal(await credit('azure', 'expires').locator('dt').textContent(), 'Expired');
  assert.equal(await credit('azure', 'run-out').count(), 0);
  // One whose term starts later says when, and that it limits nothing before then.
  assert.equal(await credit('mistral', 'starts').locator('dd').textContent(), '2027-01-01 (a one-time credit until 2027-04-01; it limits nothing before then)');
  assert.deepEqual([await credit('mistral', 'expires').count(), await credit('mistral', 'run-out').count()], [0, 0]);
  assert.match(await page.locator('li.plan[data-provider=azure]').getAttribute('class'), /\bwarn\b/);
  // A plan counting a usage no event of its provider carries shows the API's warning; others none.
  assert.equal(await page.locator('li.plan[data-provider=loudly] .plan-warning').textContent(), 'Check this plan: the plan counts tracks, but none of the 4 loudly events recorded this period carries it (they carry audio_seconds); set `counts` to say which usage feeds the plan\'s tracks.');
  assert.equal(await page.locator('li.plan[data-provider=heygen] .plan-warning').count(), 0);
  const profile = page.locator('li.profile[data-profile=clip]');
  assert.equal(await profile.locator('.units-left').textContent(), '3');
  assert.equal(await profile.locator('.bottleneck-name').textContent(), 'heygen');
  assert.deepEqual(await profile.locator('tr.bottleneck').evaluateAll((rows) => rows.map((r) => r.dataset.provider)), ['heygen']);
  assert.match(await profile.locator('tr.bottleneck').textContent(), /bottleneck/);
  await page.locator('#budgets').scrollIntoViewIfNeeded();
  await screenshot(page.locator('#budgets'), 'dashboard-budgets.png');
  await screenshot(page.locator('#plans'), 'dashboard-plans-mocked.png', { docs: false });
  await close();
});

test('the Plans panel equals /api/admin/subscriptions and /api/admin/capacity', async () => {
  const put = async (path, body) => {
    const r = await w.fetch(path, { method: 'PUT', key: ADMIN_KEY, body });
    assert.equal(r.status, 200, `${path}: ${r.text}`);
  };
  await put('/api/admin/subscriptions', { provider: 'heygen', name: 'HeyGen Creator', monthly_fee: '29', allotment: { amount: '100', unit: 'credits' }, reserve: '5' });
  await put('/api/admin/subscriptions', { provider: 'elevenlabs', monthly_fee: '22', allotment: { amount: '100000', unit: 'characters' } });
  await put('/api/admin/capacity/profiles', { name: 'clip', items: [
    { provider: 'heygen', amount: '0.5', unit: 'credits' },
    { provider: 'elevenlabs', amount: '1300', unit: 'characters' },
  ] });
  const subs = await api('/api/admin/subscriptions');
  const cap = await api('/api/admin/capacity');
  const { page, close } = await openPage(w);
  await signIn(page, ADMIN_KEY);
  assert.equal(await page.locator('li.plan').count(), subs.subscriptions.length);
  // Quantities are shown with their whole part grouped by thousands, every digit kept.
  const grouped = (t) => {
    const [whole, fraction] = String(t).split('.');
    return `${Number(whole).toLocaleString('en-US')}${fraction === undefined ? '' : `.${fraction}`}`;
  };
  for (const s of subs.subscriptions) {
    const units = s.allotment.unit;
    const unit = (t) => (/^1(\.0+)?$/.test(t) ? units.replace(/s$/, '') : units);
    const fact = (k) => page.locator(`li.plan[data-provider=${s.provider}] [data-fact=${k}] dd`).textContent();
    assert.equal(await fact('allotment'), `${grouped(s.allotment.amount)} ${unit(s.allotment.amount)}`, s.provider);
    assert.equal(await fact('used'), `${grouped(s.used)} ${unit(s.used)} (${s.percent_used}%)`, s.provider);
    assert.equal(await fact('remaining'), `${grouped(s.remaining)} ${unit(s.remaining)}`, s.provider);
    assert.equal(await fact('available'), `${grouped(s.available)} ${unit(s.available)} (after a reserve of ${grouped(s.reserve)} ${unit(s.reserve)})`, s.provider);
    assert.equal(await fact('resets'), `${s.period.to.slice(0, 10)} (${s.period.days_left} days left)`, s.provider);
    assert.equal(await fact('fee'), `${shown(s.monthly_fee.amount)} ${s.monthly_fee.currency}`, s.provider);
  }
  const sum = (list) => list.map((m) => `${shown(m.amount)} ${m.currency}`).join(', ');
  assert.equal(await page.textContent('[data-fact=monthly-cost] dd'), sum(subs.monthly_cost));
  assert.equal(await page.textContent('[data-fact=fees] dd'), sum(subs.fees));
  for (const p of cap.profiles) {
    const li = page.locator(`li.profile[data-profile=${p.name}]`);
    assert.equal(await li.locator('.units-left').textContent(), p.units_left.toLocaleString('en-US'));
    assert.equal(await li.locator('.bottleneck-name').textContent(), p.bottleneck);
    assert.deepEqual(await li.locator('tr.bottleneck').evaluateAll((rows) => rows.map((r) => r.dataset.provider)), [p.bottleneck]);
    for (const x of p.per_provider) {
      const cells = await li.locator(`tbody tr[data-provider=${x.provider}] td`).allTextContents();
      assert.equal(cells[2].replace(/,/g, ''), String(x.units_left), `${p.name} ${x.provider}`);
      assert.equal(cells[4], x.daily_rate ?? '—', `${p.name} ${x.provider} daily rate`);
    }
  }
  await page.locator('#plans').scrollIntoViewIfNeeded();
  await screenshot(page.locator('#plans'), 'dashboard-plans.png');
  await close();
});

test('a range that ended last month shows the plans as of its end, with that month\'s cost', async () => {
  const now = new Date();
  const monthStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  const lastDay = new Date(monthStart.getTime() - 86_400_000).toISOString().slice(0, 10);
  const firstDay = `${lastDay.slice(0, 8)}01`;
  const { page, rec, close } = await openPage(w);
  await signIn(page, ADMIN_KEY);
  assert.equal(await page.isVisible('#plans-as-of'), false, 'this month: as of now');
  await page.click('[data-preset=custom]');
  await page.fill('#from', firstDay);
  await page.fill('#to', lastDay);
  await settle(page, () => page.click('#custom-range button[type=submit]'));
  const at = new Date(monthStart.getTime() - 1).toISOString();
  assert.ok(rec.requests.some((u) => u.includes(`/api/admin/subscriptions?at=${encodeURIComponent(at)}`)), 'asked for the plans at the range end');
  const then = await api(`/api/admin/subscriptions?at=${encodeURIComponent(at)}`);
  assert.match(await page.textContent('#plans-as-of'), new RegExp(`the cost of ${lastDay.slice(0, 7)}`));
  assert.equal(await page.textContent('[data-fact=monthly-cost] dt'), `Cost of ${lastDay.slice(0, 7)}`);
  assert.equal(await page.textContent('[data-fact=monthly-cost] dd'), then.monthly_cost.map((m) => `${shown(m.amount)} ${m.currency}`).join(', ') || '0.00');
  await close();
});

test('zero state: a fresh worker shows zeros, the first-event snippet and "no plans configured"', async () => {
  const { page, close } = await openPage(empty);
  await signIn(page, ADMIN_KEY);
  assert.deepEqual(await readCards(page), { cost: ['0.00'], tokens: 0, characters: 0, requests: 0, events: 0, unpriced: 0, extra: {} });
  assert.equal(await page.isVisible('#empty'), true);
  const snippet = await page.textContent('#snippet');
  assert.ok(snippet.includes(`${empty.url}/api/usage`), snippet);
  assert.match(snippet, /Authorization: Bearer \$USAGE_KEY/);
  assert.equal(await page.isVisible('#chart-daily-empty'), true);
  assert.equal(await page.isVisible('#chart-models-empty'), true);
  assert.match(await page.textContent('#table-provider tbody'), /No rows/);
  assert.match(await page.textContent('#updated'), /newest stored event: none yet/);
  const plans = await empty.fetch('/api/admin/subscriptions', { key: ADMIN_KEY });
  assert.deepEqual([plans.status, plans.json.subscriptions.length], [200, 0], 'no plans yet');
  assert.match(await page.textContent('#no-plans'), /No plans configured/);
  assert.match(await page.textContent('#budgets-body'), /No projects yet: create one under Projects and keys/);
  await screenshot(page, 'dashboard-empty.png', { fullPage: true });
  await close();
});

test('errors: a revoked key signs out with a clear message; an API failure is reported', async () => {
  const created = await w.fetch('/api/admin/projects/xss/keys', { method: 'POST', key: ADMIN_KEY });
  const { page, close } = await openPage(w);
  await signIn(page, created.json.key);
  await w.fetch(`/api/admin/projects/xss/keys/${created.json.id}`, { method: 'DELETE', key: ADMIN_KEY });
  await settle(page, () => page.click('#refresh'));
  assert.equal(await page.isVisible('#signin'), true);
  assert.match(await page.textContent('#signin-error'), /no longer accepted/);
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  // A failing report (a 503 from the worker) shows a message instead of figures.
  await signIn(page, ADMIN_KEY);
  await page.route('**/api/admin/usage?group=day*', (route) => route.fulfill({ status: 503, json: { error: { code: 'storage_unavailable', message: 'storage is unavailable, retry', details: [], retryable: true } } }));
  await settle(page, () => page.click('#refresh'));
  assert.equal(await page.isVisible('#banner'), true);
  assert.match(await page.textContent('#banner'), /storage is unavailable/);
  // A failed change of range keeps the heading of the figures still shown, and says so.
  const shown = await page.textContent('#range-label');
  await settle(page, () => page.click('[data-preset=week]'));
  assert.equal(await page.textContent('#range-label'), shown, 'the heading still names the figures shown');
  assert.match(await page.textContent('#banner'), /Could not load last 7 days: .*The figures below are still those of this month/);
  await page.unroute('**/api/admin/usage?group=day*');
  await close();
});

test('a past range reads the plans and counts of its own month, in the browser\'s days: October in New York is October, not November', async () => {
  const { page, rec, close } = await openPage(w, { timezoneId: 'America/New_York' });
  await signIn(page, ADMIN_KEY);
  await page.click('[data-preset=custom]');
  await page.fill('#from', '2026-10-01');
  await page.fill('#to', '2026-10-31');
  rec.requests.length = 0;
  await settle(page, () => page.click('#custom-range button[type=submit]'));
  const asked = rec.requests.map((u) => new URL(u)).filter((u) => u.pathname === '/api/admin/subscriptions' || u.pathname === '/api/admin/stats');
  assert.deepEqual(asked.map((u) => [u.pathname, u.searchParams.get('at') ?? u.searchParams.get('m')]).sort(),
    [['/api/admin/stats', '202610'], ['/api/admin/subscriptions', '2026-10-31T23:59:59.999Z']]);
  assert.match(await page.textContent('#counts-month'), /2026-10/);
  await close();
});

test('a budget that is only a daily limit has its card, and the card names the month\'s time zone', async () => {
  await w.fetch('/api/admin/projects', { method: 'POST', key: ADMIN_KEY, body: { id: 'daily-only', name: 'Daily only' } });
  const r = await w.fetch('/api/admin/projects/daily-only/budget', { method: 'PATCH', key: ADMIN_KEY, body: { daily_limit: { amount: '2', currency: 'EUR' }, timezone: 'Europe/Paris' } });
  assert.equal(r.status, 200, r.text);
  const { page, close } = await openPage(w);
  await signIn(page, ADMIN_KEY);
  const card = '#budget-list [data-project="daily-only"]';
  assert.equal(await page.isVisible(card), true, 'a card for the daily limit');
  assert.match(await page.textContent(`${card} [data-fact="spent"] dd`), /\(no monthly budget\)/);
  assert.match(await page.textContent(`${card} [data-fact="daily"] dd`), /daily limit 2\.00 EUR/);
  assert.match(await page.textContent(`${card} [data-fact="month"] dd`), /\(Europe\/Paris\)$/);
  assert.doesNotMatch((await page.textContent('#no-budget').catch(() => '')) ?? '', /Daily only/);
  await w.fetch('/api/admin/projects/daily-only/budget', { method: 'PATCH', key: ADMIN_KEY, body: { daily_limit: null } });
  await close();
});

test('the keyboard reaches everything; the alias paths serve the dashboard; sign-out clears the key', async () => {
  const { page, close } = await openPage(w, { path: '/admin/usage' });
  assert.equal(await page.evaluate(() => document.activeElement.id), 'key', 'the key field has focus');
  await settle(page, async () => {
    await page.keyboard.type(ADMIN_KEY);
    await page.keyboard.press('Enter');
  });
  assert.equal(await page.isVisible('#cards'), true);
  // Tab to the "All" preset and press Enter.
  let found = false;
  for (let i = 0; i < 30 && !found; i += 1) {
    await page.keyboard.press('Tab');
    found = await page.evaluate(() => document.activeElement?.dataset?.preset === 'all');
  }
  assert.ok(found, 'the All preset is reachable with Tab');
  await settle(page, () => page.keyboard.press('Enter'));
  assert.equal(await page.getAttribute('[data-preset=all]', 'aria-pressed'), 'true');
  // Sorting a table from the keyboard.
  await page.focus('#table-provider thead th:first-child button');
  await page.keyboard.press('Enter');
  assert.equal(await page.getAttribute('#table-provider thead th:first-child', 'aria-sort'), 'ascending');
  const names = (await readTable(page, 'table-provider')).rows.map((c) => c[0]);
  assert.deepEqual(names, [...names].sort());
  // The section links skip the tables' many sort buttons.
  await page.focus('nav.jump a[href="#budgets"]');
  await page.keyboard.press('Enter');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'budgets', 'Enter on a section link moves the focus there');
  // The key survives a reload of the tab, at the other alias too, and is never in the URL.
  await page.goto(`${w.url}/api-usage`);
  await page.waitForFunction(() => Number(document.getElementById('main').dataset.loads ?? 0) >= 1);
  assert.equal(await page.isVisible('#dashboard'), true);
  assert.ok(!page.url().includes(ADMIN_KEY));
  // Sign out.
  await page.click('#sign-out');
  assert.equal(await page.isVisible('#signin'), true);
  assert.equal(await page.isVisible('#dashboard'), false);
  assert.deepEqual(await page.evaluate(() => [sessionStorage.length, localStorage.length]), [0, 0]);
  assert.equal(await page.locator('#cards .card').count(), 0, 'figures are cleared');
  await page.reload();
  assert.equal(await page.isVisible('#signin'), true, 'still signed out after a reload');
  await close();
});

test('the provider table shows HeyGen\'s credits and the seconds of audio and video next to their cost', async () => {
  const { page, close } = await openPage(w);
  await signIn(page, ADMIN_KEY);
  await choosePreset(page, 'all');
  const report = await api(`/api/admin/usage?${query({ group: 'provider', preset: 'all' })}`);
  const table = await readTable(page, 'table-provider');
  const row = (provider) => table.rows.find((c) => c[0] === provider);
  const cell = (provider, title) => row(provider)[table.head.indexOf(title)];
  const heygen = report.rows.find((r) => r.provider === 'heygen');
  assert.equal(cell('heygen', 'Cost (USD)'), shown(amountIn(heygen.cost, 'USD')));
  assert.deepEqual([cell('heygen', 'Credits'), cell('heygen', 'Video seconds'), cell('heygen', 'Audio seconds')], ['35', '1,050', '0']);
  assert.deepEqual([cell('elevenlabs', 'Audio seconds'), cell('elevenlabs', 'Credits')], ['437.5', '0']);
  assert.equal(cell('openai', 'Credits'), '0');
  assert.equal(table.head.includes('Images'), false, 'no images in this range, no column');
  // A range without them (the hostile-named project's Claude chats) has no such columns.
  await settle(page, () => page.selectOption('#project-filter', 'xss'));
  const xss = await readTable(page, 'table-provider');
  assert.deepEqual(xss.head.filter((t) => UNIT_COLUMNS.some(([title]) => title === t)), []);
  await close();
});

test('each load asks /api/usage/stats exactly once: sign-in, a change of range, a reload, a project key', async () => {
  const count = (rec) => rec.requests.filter((u) => new URL(u).pathname === '/api/usage/stats').length;
  const { page, rec, close } = await openPage(w);
  await signIn(page, ADMIN_KEY);
  assert.equal(await loads(page), 1);
  assert.equal(count(rec), 1, 'sign-in and its first load: one request');
  await choosePreset(page, 'all');
  assert.equal(count(rec), 2, 'a change of range: one more');
  await settle(page, () => page.click('#refresh'));
  assert.equal(count(rec), 3, 'Refresh: one more');
  rec.requests.length = 0;
  await page.reload();
  await page.waitForFunction(() => Number(document.getElementById('main').dataset.loads ?? 0) >= 1);
  await page.waitForTimeout(300);
  assert.equal(count(rec), 1, 'a reload with the key kept in the tab: one request');
  await page.click('#sign-out');
  rec.requests.length = 0;
  await signIn(page, keys.ads);
  await page.waitForTimeout(300);
  assert.equal(count(rec), 1, 'a project key\'s sign-in: one request');
  await close();
});

test('opened from an alert link (?project=), each load still asks /api/usage/stats once, for the admin and for a project key', async () => {
  const count = (rec) => rec.requests.filter((u) => new URL(u).pathname === '/api/usage/stats').length;
  const projectOf = (rec) => rec.requests
    .filter((u) => new URL(u).pathname === '/api/usage/stats')
    .map((u) => new URL(u).searchParams.get('project_id'));
  // The admin key, on a link naming a project: the sign-in's answer is that project's, reused.
  const admin = await openPage(w, { path: '/?project=ads' });
  await signIn(admin.page, ADMIN_KEY);
  await admin.page.waitForTimeout(300);
  assert.equal(await admin.page.inputValue('#project-filter'), 'ads');
  assert.deepEqual(projectOf(admin.rec), ['ads'], 'one request, for the linked project');
  const adsMonth = await api(`/api/admin/usage?${query({ preset: 'month', project_id: 'ads' })}`);
  assert.deepEqual(await readCards(admin.page), cardsOf(adsMonth.totals));
  await admin.close();
  // A project key on a link to its own project: one request.
  const own = await openPage(w, { path: '/?project=ads' });
  await signIn(own.page, keys.ads);
  await own.page.waitForTimeout(300);
  assert.equal(count(own.rec), 1);
  assert.equal(await own.page.textContent('#project-badge'), 'Project: ads');
  await own.close();
  // A project key on a link to another project: refused that one, it signs in to its own.
  const other = await openPage(w, { path: '/?project=xss' });
  await signIn(other.page, keys.ads);
  await other.page.waitForTimeout(300);
  assert.equal(await other.page.textContent('#project-badge'), 'Project: ads');
  assert.deepEqual(projectOf(other.rec), ['xss', null], 'the refused question, then its own, and no third');
  await other.close();
});

test('a phone-sized screen: no sideways scrolling, every panel readable', async () => {
  const { page, close } = await openPage(w, { viewport: { width: 390, height: 844 } });
  await screenshot(page, 'dashboard-phone-signin.png', { docs: false });
  await signIn(page, ADMIN_KEY);
  await choosePreset(page, 'all');
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 390, `page is ${width}px wide`);
  for (const id of ['cards', 'chart-daily', 'tables', 'budgets', 'plans']) {
    const box = await page.locator(`#${id}`).boundingBox();
    assert.ok(box && box.x >= 0 && box.x + box.width <= 390, `${id} fits: ${JSON.stringify(box)}`);
  }
  // The chart's "Cost by" choice (and the currency's) shows its whole value, whichever it is.
  for (const id of ['grain', 'currency']) {
    const fit = await page.$eval(`#${id}`, (select) => {
      const style = getComputedStyle(select);
      const ctx = document.createElement('canvas').getContext('2d');
      ctx.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
      return {
        scroll: select.scrollWidth,
        client: select.clientWidth,
        widest: Math.max(...[...select.options].map((o) => ctx.measureText(o.text).width)),
        room: select.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight),
        visible: select.offsetParent !== null,
        value: select.selectedOptions[0]?.text,
      };
    });
    if (id === 'grain') assert.ok(fit.visible, 'the Cost by choice is shown');
    if (!fit.visible) continue;
    assert.ok(fit.scroll <= fit.client, `#${id}: ${JSON.stringify(fit)}`);
    // Chromium draws the arrow in the right padding's place plus about 16 px of its own.
    assert.ok(fit.widest + 16 <= fit.room, `#${id} has room for its longest value: ${JSON.stringify(fit)}`);
    assert.ok(fit.value, `#${id} has a value`);
  }
  // No axis title covers a tick label (long model names are cut with "…" instead).
  for (const id of ['chart-daily', 'chart-models']) {
    await page.locator(`#${id}`).scrollIntoViewIfNeeded();
    const axes = JSON.parse(await page.getAttribute(`#${id}`, 'data-axes'));
    assert.deepEqual(Object.keys(axes).sort(), ['x', 'y'], id);
    for (const [axis, { title, labels }] of Object.entries(axes)) {
      const overlap = labels && title[0] < labels[2] - 0.5 && labels[0] < title[2] - 0.5 && title[1] < labels[3] - 0.5 && labels[1] < title[3] - 0.5;
      assert.ok(!overlap, `${id} ${axis}: title ${JSON.stringify(title)} overlaps labels ${JSON.stringify(labels)}`);
    }
  }
  // Words wrap whole: no name, figure or sentence is split inside a word (ids may break).
  const broken = await page.evaluate(() => {
    const out = [];
    const walker = document.createTreeWalker(document.getElementById('dashboard'), NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const parent = node.parentElement;
      if (parent.closest('.id, .secret, pre, code, [hidden], details:not([open]) > :not(summary), .visually-hidden, option')) continue;
      for (const m of node.data.matchAll(/[^\s\-–—/]+/g)) {
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const tops = new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top)));
        if (tops.size > 1) out.push(`${m[0]} (in ${parent.closest('[id]')?.id})`);
      }
    }
    return out;
  });
  assert.deepEqual(broken, [], 'words broken across lines');
  await page.evaluate(() => window.scrollTo(0, 0));
  await screenshot(page, 'dashboard-phone.png');
  await screenshot(page, 'dashboard-phone-full.png', { fullPage: true, docs: false });
  await close();
});

test('the alert log shows what each alert email said, its plain text opened in place, and a chat post its payload', async () => {
  const admin = (path, body, method = 'POST') => w.fetch(path, { method, key: ADMIN_KEY, body });
  assert.equal((await admin('/api/admin/projects', { id: 'alerted', name: 'Alerted' })).status, 201);
  // The Slack post fails (every outside fetch answers 503), and the log keeps what it said.
  const patched = await admin('/api/admin/projects/alerted/budget', { budget_threshold_usd: '1', alert_emails: ['ops@example.com'], slack_webhook_url: 'https://hooks.slack.example/alerted' }, 'PATCH');
  assert.equal(patched.status, 200, patched.text);
  const used = await admin('/api/usage', { project_id: 'alerted', provider: 'openai', model: 'gpt-4o', input_tokens: 10, cost: '5.00' });
  assert.equal(used.status, 201, used.text);
  const checked = await admin('/api/admin/usage/check-budgets?project_id=alerted');
  assert.equal(checked.status, 200, checked.text);
  // The request that crossed the budget sends its alerts after its answer, or the check does:
  // wait until both channels are in the log.
  let log = [];
  for (let i = 0; i < 100; i += 1) {
    log = (await api('/api/admin/alerts?project_id=alerted')).alerts;
    if (log.some((a) => a.channel === 'email') && log.some((a) => a.channel === 'slack')) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const emails = log.filter((a) => a.channel === 'email');
  assert.ok(emails.length > 0, JSON.stringify(log));
  const { page, close } = await openPage(w);
  await signIn(page, ADMIN_KEY);
  await settle(page, () => page.selectOption('#project-filter', 'alerted'));
  const table = await readTable(page, 'table-alerts');
  assert.ok(table.head.includes('Message'), JSON.stringify(table.head));
  for (const a of emails) {
    const body = a.text_body ?? a.body;
    assert.ok(body && body.includes('Alerted'), `the log keeps the email's text: ${body}`);
    const details = page.locator(`#table-alerts details[data-alert="${a.id}"]`);
    assert.equal(await details.locator('pre').isVisible(), false, 'closed until asked');
    await details.locator('summary').click();
    assert.equal(await details.locator('pre').textContent(), body);
    assert.equal(await details.locator('pre').isVisible(), true);
    assert.equal(await details.locator('summary').textContent(), 'Show the email');
  }
  const [slack] = log.filter((a) => a.channel === 'slack');
  assert.ok(slack?.payload, JSON.stringify(log));
  const posted = page.locator(`#table-alerts details[data-alert="${slack.id}"]`);
  assert.equal(await posted.locator('summary').textContent(), 'Show the payload');
  await posted.locator('summary').click();
  assert.equal(await posted.locator('pre').textContent(), slack.payload);
  await page.locator('#table-alerts').scrollIntoViewIfNeeded();
  await screenshot(page.locator('#budgets'), 'dashboard-alert-body.png', { docs: false });
  await close();
});

// ---------------------------------------------------------------------------------------------
// The guard (issue 25): each limit's mode, reservations in flight, denials.

/** What the dashboard shows for a limit's mode. */
const modeWord = (mode) => (mode === 'block' ? 'blocks' : 'alerts');

let guarded; // { key }: a project with a budget that blocks and a daily limit that alerts, and a plan that blocks
async function guardedProject() {
  if (guarded) return guarded;
  const admin = (path, body, method = 'POST') => w.fetch(path, { method, key: ADMIN_KEY, body });
  assert.equal((await admin('/api/admin/projects', { id: 'guarded', name: 'Guarded' })).status, 201);
  const b = await admin('/api/admin/projects/guarded/budget', {
    budget: { amount: '5', currency: 'USD' }, budget_mode: 'block',
    daily_limit: { amount: '2', currency: 'USD' }, daily_limit_mode: 'alert',
  }, 'PATCH');
  assert.equal(b.status, 200, b.text);
  const plan = await admin('/api/admin/subscriptions', { provider: 'runway', project_id: 'guarded', monthly_fee: '15', allotment: { amount: '625', unit: 'credits' }, reserve: '25', mode: 'block' }, 'PUT');
  assert.equal(plan.status, 200, plan.text);
  const key = (await admin('/api/admin/projects/guarded/keys')).json.key;
  guarded = { key };
  return guarded;
}

const guardOf = (key = ADMIN_KEY) => api(`/api/usage/guard${key === ADMIN_KEY ? '?project_id=guarded' : ''}`, key);

/** The facts of the guard panel of `guarded`, as shown to the admin or to its own key. */
const guardPanel = (page, role) => page.locator(role === 'admin' ? 'li.budget[data-project=guarded] .guard' : '#own-budget .guard');

test('each limit\'s mode in the budget cards and the plans panel is the mode the API answers, for the admin and for a project key', async () => {
  const { key } = await guardedProject();
  const b = await api('/api/admin/projects/guarded/budget');
  assert.deepEqual([b.budget_mode, b.daily_limit_mode], ['block', 'alert']);
  const subs = await api('/api/admin/subscriptions');
  const plan = subs.subscriptions.find((s) => s.provider === 'runway' && s.project_id === 'guarded');
  assert.equal(plan?.mode, 'block', 'the plan answers its mode');

  const admin = await openPage(w);
  await signIn(admin.page, ADMIN_KEY);
  const card = admin.page.locator('li.budget[data-project=guarded]');
  assert.equal(await card.locator('[data-fact=budget-mode] dd').textContent(), modeWord(b.budget_mode));
  assert.equal(await card.locator('[data-fact=daily-mode] dd').textContent(), modeWord(b.daily_limit_mode));
  // Every plan shown carries the mode of its answer.
  for (const s of subs.subscriptions) {
    const li = admin.page.locator(`li.plan[data-provider="${s.provider}"][data-project="${s.project_id ?? ''}"]`);
    assert.equal(await li.locator('[data-fact=mode] dd').textContent(), modeWord(s.mode), `${s.provider} ${s.project_id}`);
  }
  // A budget that only alerts says so (ads was never set to block).
  const ads = await api('/api/admin/projects/ads/budget');
  assert.equal(await admin.page.locator('li.budget[data-project=ads] [data-fact=budget-mode] dd').textContent(), modeWord(ads.budget_mode));
  assert.equal(ads.budget_mode, 'alert', 'alert is the default');
  await admin.close();

  // The project key reads its modes from GET /api/usage/guard.
  const g = await guardOf(key);
  assert.deepEqual([g.project_id, g.modes.budget_mode, g.modes.daily_limit_mode], ['guarded', 'block', 'alert']);
  const own = await openPage(w);
  await signIn(own.page, key);
  assert.equal(await own.page.textContent('#own-budget [data-fact=budget-mode] dd'), modeWord(g.modes.budget_mode));
  assert.equal(await own.page.textContent('#own-budget [data-fact=daily-mode] dd'), modeWord(g.modes.daily_limit_mode));
  const plans = await own.page.$$eval('#own-budget [data-fact=plan-modes] [data-plan]', (els) => els.map((e) => [e.dataset.plan, e.textContent]));
  assert.deepEqual(plans, g.modes.plans.map((p) => [`${p.provider}/${p.unit}`, `${p.provider} ${p.unit}${p.project_id ? '' : ' (all projects)'}: ${modeWord(p.mode)}`]));
  assert.ok(plans.some(([name, text]) => name === 'runway/credits' && text.endsWith(': blocks')), JSON.stringify(plans));
  assert.deepEqual(own.rec.requests.filter((u) => new URL(u).pathname.startsWith('/api/admin')), [], 'no admin route');
  await own.close();
});

test('the admin\'s budget form sets the mode of the budget and of the daily limit, and shows the saved modes', async () => {
  await guardedProject();
  const { page, close } = await openPage(w);
  await signIn(page, ADMIN_KEY);
  await page.click('#budget-edit summary');
  await page.selectOption('#be-project', 'guarded');
  // The form opens on the stored modes.
  assert.deepEqual([await page.inputValue('#be-budget-mode'), await page.inputValue('#be-daily-mode')], ['block', 'alert']);
  try {
    await page.selectOption('#be-budget-mode', 'alert');
    await page.selectOption('#be-daily-mode', 'block');
    await settle(page, () => page.click('#be-save'));
    const b = await api('/api/admin/projects/guarded/budget');
    assert.deepEqual([b.budget_mode, b.daily_limit_mode], ['alert', 'block'], 'the API stores the chosen modes');
    assert.deepEqual([b.budget.amount, b.daily_limit.amount], ['5.00', '2.00'], 'and keeps the limits');
    assert.equal(await page.textContent('#be-status'), 'Saved the budget of guarded.');
    assert.deepEqual([await page.inputValue('#be-budget-mode'), await page.inputValue('#be-daily-mode')], ['alert', 'block'], 'the reloaded form shows the saved modes');
    const card = page.locator('li.budget[data-project=guarded]');
    assert.equal(await card.locator('[data-fact=budget-mode] dd').textContent(), 'alerts');
    assert.equal(await card.locator('[data-fact=daily-mode] dd').textContent(), 'blocks');
  } finally {
    // Back as it was, through the form.
    await page.selectOption('#be-project', 'guarded');
    await page.selectOption('#be-budget-mode', 'block');
    await page.selectOption('#be-daily-mode', 'alert');
    await settle(page, () => page.click('#be-save'));
  }
  const back = await api('/api/admin/projects/guarded/budget');
  assert.deepEqual([back.budget_mode, back.daily_limit_mode], ['block', 'alert']);
  await close();
});

test('a denial made through POST /api/usage/guard shows in the guard panel with its reason and time, for the admin and for the project key', async () => {
  const { key } = await guardedProject();
  const before = await guardOf();
  // 50 dollars against a budget of 5 that blocks: denied, a normal 200 answer.
  const r = await w.fetch('/api/usage/guard', { method: 'POST', key: ADMIN_KEY, body: { project_id: 'guarded', amount: { amount: '50.00', currency: 'USD' } } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.decision, 'deny', r.text);
  assert.equal(r.json.limiting.kind, 'budget');
  const g = await guardOf();
  assert.equal(g.denials.today, before.denials.today + 1);
  assert.equal(g.denials.month, before.denials.month + 1);
  assert.match(g.denials.last_reason, /budget/);
  assert.match(g.denials.last_reason, /50(\.00)? USD/, 'the reason names the amount asked');
  for (const [who, k] of [['admin', ADMIN_KEY], ['project', key]]) {
    const { page, close } = await openPage(w);
    await signIn(page, k);
    const panel = guardPanel(page, who);
    const fact = (name) => panel.locator(`[data-fact=${name}] dd`).textContent();
    assert.equal(await fact('denials-today'), String(g.denials.today), who);
    assert.equal(await fact('denials-month'), String(g.denials.month), who);
    assert.equal(await panel.locator('[data-fact=last-denial] .reason').textContent(), g.denials.last_reason, who);
    assert.equal(await fact('last-denial'), `${g.denials.last_reason} (${dateTime(g.denials.last_at, 'UTC')})`, who);
    await close();
  }
});

test('a reservation in flight shows in the guard panel with what it holds and when it expires, and leaves once released', async () => {
  const { key } = await guardedProject();
  const r = await w.fetch('/api/usage/guard', { method: 'POST', key, body: { amount: { amount: '0.40', currency: 'USD' }, reserve: true, ttl_seconds: 900, id: 'dashboard-clip-1' } });
  assert.equal(r.status, 200, r.text);
  assert.notEqual(r.json.decision, 'deny', r.text);
  const id = r.json.reservation?.id;
  assert.ok(id, r.text);
  const g = await guardOf();
  const held = g.reservations.find((x) => x.id === id);
  assert.ok(held, JSON.stringify(g.reservations));
  assert.equal(held.expires_at, r.json.reservation.expires_at);
  assert.ok(held.holds.length > 0, JSON.stringify(held));
  const shownHolds = (x) => x.holds.map((hold) => `${hold.limit} ${quantityText(hold.amount)}`).join(', ');
  for (const [who, k] of [['admin', ADMIN_KEY], ['project', key]]) {
    const { page, close } = await openPage(w);
    await signIn(page, k);
    const panel = guardPanel(page, who);
    assert.equal(await panel.locator('[data-fact=reservations] dd').textContent(), `${g.reservations.length} in flight`, who);
    const li = panel.locator(`li.reservation[data-reservation="${id}"]`);
    assert.equal(await li.locator('.id').first().textContent(), id);
    assert.equal(await li.locator('.holds').textContent(), ` holds ${shownHolds(held)}`, who);
    assert.equal(await li.locator('.expires').textContent(), ` until ${dateTime(held.expires_at, 'UTC')}`, who);
    if (who === 'project') {
      // Released, it leaves the panel on the next load.
      const released = await w.fetch(`/api/usage/guard/${encodeURIComponent(id)}`, { method: 'DELETE', key });
      assert.equal(released.status, 200, released.text);
      await settle(page, () => page.click('#refresh'));
      const after = await guardOf(key);
      assert.ok(!after.reservations.some((x) => x.id === id));
      assert.equal(await panel.locator(`li.reservation[data-reservation="${id}"]`).count(), 0);
      assert.equal(await panel.locator('[data-fact=reservations] dd').textContent(), `${after.reservations.length || 'none'} in flight`);
    }
    await close();
  }
});

test('on a phone the guard panel, with a denial and a reservation, fits without sideways scrolling', async () => {
  const { key } = await guardedProject();
  const r = await w.fetch('/api/usage/guard', { method: 'POST', key, body: { amount: { amount: '0.25', currency: 'USD' }, reserve: true, id: 'dashboard-phone-1' } });
  assert.equal(r.status, 200, r.text);
  try {
    for (const k of [ADMIN_KEY, key]) {
      const { page, close } = await openPage(w, { viewport: { width: 390, height: 844 } });
      await signIn(page, k);
      const panel = guardPanel(page, k === ADMIN_KEY ? 'admin' : 'project');
      await panel.scrollIntoViewIfNeeded();
      assert.ok(await panel.locator('li.reservation').count() > 0);
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= 390, `page is ${width}px wide`);
      const box = await panel.boundingBox();
      assert.ok(box && box.x >= 0 && box.x + box.width <= 390, `the guard panel fits: ${JSON.stringify(box)}`);
      if (k === key) await screenshot(page.locator('#budgets'), 'dashboard-guard-phone.png', { docs: false });
      await close();
    }
  } finally {
    await w.fetch(`/api/usage/guard/${encodeURIComponent(r.json.reservation?.id ?? 'none')}`, { method: 'DELETE', key });
  }
});

test('a worker without GET /api/usage/guard leaves the guard panel out quietly, for the admin and for a project key', async () => {
  for (const k of [ADMIN_KEY, keys.ads]) {
    const { page, rec, close } = await openPage(w);
    await page.route('**/api/usage/guard*', (route) => route.fulfill({ status: 404, json: { error: { code: 'not_found', message: 'Not found' } } }));
    await signIn(page, k);
    assert.ok(rec.requests.some((u) => new URL(u).pathname === '/api/usage/guard'), 'the page asked');
    assert.equal(await page.locator('.guard').count(), 0, 'no guard panel');
    assert.equal(await page.locator('#budgets [role=alert]').count(), 0, 'no error shown');
    assert.equal(await page.isVisible('#banner'), false);
    await close();
  }
});

test('no page made a request outside the worker\'s own origin', () => {
  assert.ok(allRequests.length > 50, `${allRequests.length} requests recorded`);
  for (const { url, origin } of allRequests) {
    assert.ok(url.startsWith(`${origin}/`) || url.startsWith(`blob:${origin}/`), url);
  }
  assert.ok(allRequests.some(({ url }) => url.endsWith('/assets/dashboard.js')), 'the bundled script came from the worker');
});
