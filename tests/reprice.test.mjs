// Unpriced events, re-pricing after a price is added, and rebuild keeping re-priced costs,
// against the built worker.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWorker, ADMIN_KEY } from './support/worker.mjs';

let w;
let key;
before(async () => {
  w = await startWorker();
  await w.fetch('/api/admin/projects', { method: 'POST', key: ADMIN_KEY, body: { id: 'ads', name: 'Ads' } });
  key = (await w.fetch('/api/admin/projects/ads/keys', { method: 'POST', key: ADMIN_KEY })).json.key;
});
after(async () => w?.dispose());

const rows = async (sql) => (await w.db.prepare(sql).all()).results;
const admin = (path, body) => w.fetch(path, { method: 'POST', key: ADMIN_KEY, body });

// Days relative to today, so the events stay inside the 90-day late-arrival window.
const dayAgo = (n) => new Date(Date.now() - n * 86_400_000).toISOString().slice(0, 10);

test('an unknown model is stored unpriced, listed, then priced by reprice with its rollups', async () => {
  const [first, second, priceFrom] = [dayAgo(13), dayAgo(11), dayAgo(20)];
  const recorded = await w.fetch('/api/usage', {
    method: 'POST', key, body: { events: [
      { id: 'h1', provider: 'openai', model: 'house-model', input_tokens: 1000000, timestamp: `${first}T10:00:00Z` },
      { id: 'h2', provider: 'openai', model: 'house-model', input_tokens: 3000000, timestamp: `${second}T10:00:00Z` },
      { id: 'g1', provider: 'openai', model: 'gpt-4o-mini', input_tokens: 1000000, timestamp: `${second}T10:00:00Z` },
    ] },
  });
  assert.equal(recorded.status, 201, recorded.text);
  assert.equal(recorded.json.unpriced, 2);
  const listed = await w.fetch('/api/admin/prices/unpriced', { key: ADMIN_KEY });
  assert.equal(listed.status, 200, listed.text);
  assert.deepEqual(listed.json.models.map((m) => [m.provider, m.model, m.reason, m.events, m.projects]),
    [['openai', 'house-model', 'unknown_model', 2, 1]]);
  assert.equal(listed.json.models[0].first_seen, `${first}T10:00:00.000Z`);
  const backwards = await w.fetch(`/api/admin/prices/unpriced?from=${second}&to=${priceFrom}`, { key: ADMIN_KEY });
  assert.deepEqual([backwards.status, backwards.json.error.details[0].field], [400, 'to']);
  const [unpricedDay] = await rows(`SELECT unpriced_events, cost_nanos FROM usage_daily WHERE day = '${second}' AND model = 'house-model'`);
  assert.deepEqual(unpricedDay, { unpriced_events: 1, cost_nanos: 0 });

  const added = await admin('/api/admin/prices', { entries: [{
    provider: 'openai', model: 'house-model', currency: 'USD', effective_from: priceFrom,
    rates: { input_tokens: { price: '0.40', per: 1000000 } },
  }] });
  assert.equal(added.status, 201, added.text);
  const dry = await admin('/api/admin/usage/reprice', { only_unpriced: true, dry_run: true });
  assert.equal(dry.status, 200, dry.text);
  assert.deepEqual([dry.json.examined, dry.json.changed, dry.json.newly_priced, dry.json.raw_object], [2, 2, 2, null]);
  assert.equal((await rows("SELECT * FROM api_usage WHERE cost_nanos IS NULL")).length, 2, 'a dry run changes nothing');

  const done = await admin('/api/admin/usage/reprice', { only_unpriced: true });
  assert.equal(done.status, 200, done.text);
  assert.equal(done.json.changed, 2);
  assert.deepEqual(done.json.cost_after.map((m) => [m.amount, m.currency]), [['1.60', 'USD']]);
  assert.match(done.json.raw_object, /^usage-logs\/reprice\//);
  const [pricedDay] = await rows(`SELECT unpriced_events, cost_nanos FROM usage_daily WHERE day = '${second}' AND model = 'house-model' AND currency = 'USD'`);
  assert.deepEqual(pricedDay, { unpriced_events: 0, cost_nanos: 1_200_000_000 });
  assert.equal((await rows("SELECT * FROM usage_daily WHERE model = 'house-model' AND currency = ''")).length, 0,
    'the unpriced rollup rows are gone');
  assert.equal((await w.fetch('/api/admin/prices/unpriced', { key: ADMIN_KEY })).json.events, 0);

  // Wipe D1's usage and rebuild: the raw log and then the re-price log restore the same costs.
  const snapshot = async () => ({
    rows: await rows('SELECT project_id, id, cost, CAST(cost_nanos AS TEXT) AS c, currency, price_id, unpriced_reason FROM api_usage ORDER BY id'),
    daily: await rows('SELECT * FROM usage_daily ORDER BY day, model, currency'),
  });
  const before = await snapshot();
  await w.db.batch([w.db.prepare('DELETE FROM api_usage'), w.db.prepare('DELETE FROM usage_daily'), w.db.prepare('DELETE FROM usage_quarter_hours')]);
  let cursor;
  let repriced = 0;
  do {
    const r = await admin('/api/admin/rebuild', cursor ? { cursor } : {});
    assert.equal(r.status, 200, r.text);
    repriced += r.json.repriced;
    cursor = r.json.next_cursor;
  } while (cursor);
  assert.equal(repriced, 2);
  assert.deepEqual(await snapshot(), before);
});

test('reprice and the unpriced list refuse bad input naming the field', async () => {
  for (const [body, field] of [
    [{ from: '2026-11-12', to: '2026-11-01' }, 'to'],
    [{ limit: 0 }, 'limit'],
    [{ cursor: 'x' }, 'cursor'],
    [{ only_unpriced: 'yes' }, 'only_unpriced'],
    [{ colour: 'red' }, 'colour'],
  ]) {
    const r = await admin('/api/admin/usage/reprice', body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.equal(r.json.error.details[0].field, field, r.text);
  }
  const r = await w.fetch('/api/admin/prices/unpriced?from=yesterday', { key: ADMIN_KEY });
  assert.deepEqual([r.status, r.json.error.details[0].field], [400, 'from']);
  assert.equal((await w.fetch('/api/admin/usage/reprice', { method: 'POST', key, body: {} })).status, 403);
});

test('re-pricing a model re-prices its dated snapshots too, as the report row of that model shows them, and no other model', async () => {
  await w.fetch('/api/admin/projects', { method: 'POST', key: ADMIN_KEY, body: { id: 'snaps', name: 'Snaps' } });
  const snapKey = (await w.fetch('/api/admin/projects/snaps/keys', { method: 'POST', key: ADMIN_KEY })).json.key;
  const at = new Date(Date.now() - 86_400_000).toISOString();
  const recorded = await w.fetch('/api/usage', { method: 'POST', key: snapKey, body: { events: [
    { id: 'm-1', provider: 'openai', model: 'gpt-4o-mini', input_tokens: 1000000, timestamp: at },
    { id: 'm-2', provider: 'openai', model: 'gpt-4o-mini-2024-07-18', input_tokens: 1000000, timestamp: at },
    { id: 'm-3', provider: 'openai', model: 'gpt-4o', input_tokens: 1000000, timestamp: at },
  ] } });
  assert.equal(recorded.status, 201, recorded.text);
  const price = (model, per) => ({ provider: 'openai', model, currency: 'USD', effective_from: dayAgo(30), rates: { input_tokens: { price: per, per: 1000000 } } });
  const added = await admin('/api/admin/prices', { project_id: 'snaps', entries: [price('gpt-4o-mini', '7'), price('gpt-4o', '9')] });
  assert.equal(added.status, 201, added.text);
  const repriced = await admin('/api/admin/usage/reprice', { project_id: 'snaps', model: 'gpt-4o-mini' });
  assert.equal(repriced.status, 200, repriced.text);
  assert.deepEqual([repriced.json.examined, repriced.json.changed], [2, 2]);
  const report = (await w.fetch('/api/admin/usage?preset=all&project_id=snaps&group=model', { key: ADMIN_KEY })).json.rows;
  const cost = (model) => report.find((r) => r.model === model).cost.find((m) => m.currency === 'USD').amount;
  assert.equal(cost('gpt-4o-mini'), '14.00', 'both calls at the new price');
  assert.notEqual(cost('gpt-4o'), '9.00', 'gpt-4o was not asked for');
});
