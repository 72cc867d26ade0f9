// The queue path of POST /api/usage (INGEST_MODE = "queue") against the built worker in
// Miniflare with the queue of queue.toml: each request is priced and answered 202 at once, the
// consumer stores batches; sixteen concurrent writers with retries lose nothing and double
// nothing, a rebuild gives the same totals, and the spend guard still settles and alerts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWorker, ADMIN_KEY } from './support/worker.mjs';

let w;
let key;
before(async () => {
  w = await startWorker({ queue: true, bindings: { INGEST_MODE: 'queue' } });
  const created = await w.fetch('/api/admin/projects', { method: 'POST', key: ADMIN_KEY, body: { id: 'q', name: 'Queued' } });
  assert.equal(created.status, 201, created.text);
  key = (await w.fetch('/api/admin/projects/q/keys', { method: 'POST', key: ADMIN_KEY })).json.key;
});
after(async () => w?.dispose());

const record = (body, k = key) => w.fetch('/api/usage', { method: 'POST', key: k, body });
const stored = async (project = 'q') =>
  (await w.db.prepare('SELECT count(*) AS n, CAST(coalesce(sum(cost_nanos), 0) AS TEXT) AS nanos FROM api_usage WHERE project_id = ?').bind(project).first());

async function until(what, check, timeoutMs = 15000) {
  const start = Date.now();
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() - start > timeoutMs) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('a single event is answered 202 with its price at once and stored by the consumer', async () => {
  const r = await record({ id: 'one', provider: 'openai', model: 'gpt-4o', input_tokens: 1000000, output_tokens: 0 });
  assert.equal(r.status, 202, r.text);
  assert.equal(r.json.queued, 1);
  assert.equal(r.json.events[0].status, 'queued');
  assert.deepEqual([r.json.events[0].cost.amount, r.json.events[0].cost.currency], ['2.50', 'USD']);
  assert.equal(r.json.guard.state, 'ok');
  await until('the event stored', async () => (await stored()).n === 1);
  const listed = await w.fetch('/api/usage?limit=5', { key });
  assert.equal(listed.json.events[0].id, 'one');
  // Bad input is still refused at once, naming the field, and nothing is queued.
  const bad = await record({ provider: 'openai', model: 'gpt-4o', input_tokens: -1 });
  assert.equal(bad.status, 400);
  assert.ok(bad.json.error.details.some((d) => d.field === 'input_tokens'), bad.text);
});

test('sixteen concurrent writers each sending every event twice store each event once, and a rebuild gives the same totals', async () => {
  const writers = 16;
  const perWriter = 25;
  await w.fetch('/api/admin/projects', { method: 'POST', key: ADMIN_KEY, body: { id: 'q-load', name: 'Load' } });
  const k = (await w.fetch('/api/admin/projects/q-load/keys', { method: 'POST', key: ADMIN_KEY })).json.key;
  const send = async (writer) => {
    for (let i = 0; i < perWriter; i += 1) {
      const event = { id: `w${writer}-e${i}`, provider: 'acme', cost: `0.${String(writer * perWriter + i + 1).padStart(4, '0')}`, currency: 'USD' };
      // The answer "was lost": the client sends the same event again, at once.
      const [a, b] = await Promise.all([record(event, k), record(event, k)]);
      assert.equal(a.status, 202, a.text);
      assert.equal(b.status, 202, b.text);
    }
  };
  await Promise.all(Array.from({ length: writers }, (_, i) => send(i)));
  const n = writers * perWriter;
  // Costs 0.0001 .. 0.0400 USD: n(n+1)/2 ten-thousandths.
  const expected = String(((n * (n + 1)) / 2) * 100000);
  const totals = await until('every event stored', async () => {
    const t = await stored('q-load');
    return t.n >= n && t;
  });
  await new Promise((r) => setTimeout(r, 1500)); // later batches (the retries) change nothing
  assert.deepEqual(await stored('q-load'), { n, nanos: expected });
  assert.deepEqual(totals, { n, nanos: expected });
  const daily = await w.db.prepare("SELECT CAST(sum(cost_nanos) AS TEXT) AS nanos, sum(events) AS events FROM usage_daily WHERE project_id = 'q-load'").first();
  assert.deepEqual(daily, { nanos: expected, events: n });
  // The raw log holds each event once: wipe the usage tables and rebuild.
  await w.db.batch([
    w.db.prepare('DELETE FROM api_usage'),
    w.db.prepare('DELETE FROM usage_daily'),
    w.db.prepare('DELETE FROM usage_quarter_hours'),
  ]);
  let cursor;
  do {
    const r = await w.fetch('/api/admin/rebuild', { method: 'POST', key: ADMIN_KEY, body: cursor ? { cursor, max_objects: 100 } : { max_objects: 100 } });
    assert.equal(r.status, 200, r.text);
    cursor = r.json.next_cursor;
  } while (cursor);
  assert.deepEqual(await stored('q-load'), { n, nanos: expected });
  const rebuilt = await w.db.prepare("SELECT CAST(sum(cost_nanos) AS TEXT) AS nanos, sum(events) AS events FROM usage_daily WHERE project_id = 'q-load'").first();
  assert.deepEqual(rebuilt, daily);
});

test('a request of up to ten events is queued, and a larger one is stored at once, so one consumer invocation holds at most a request\'s events', async () => {
  await w.fetch('/api/admin/projects', { method: 'POST', key: ADMIN_KEY, body: { id: 'q-batch', name: 'Batches' } });
  const k = (await w.fetch('/api/admin/projects/q-batch/keys', { method: 'POST', key: ADMIN_KEY })).json.key;
  const events = (from, n) => Array.from({ length: n }, (_, i) => ({ id: `b${from + i}`, provider: 'acme', cost: '0.01', currency: 'USD' }));
  const small = await record({ events: events(0, 10) }, k);
  assert.equal(small.status, 202, small.text);
  assert.deepEqual([small.json.queued, small.json.stored], [10, 0]);
  const large = await record({ events: events(10, 11) }, k);
  assert.equal(large.status, 201, large.text);
  assert.deepEqual([large.json.queued ?? 0, large.json.stored], [0, 11]);
  assert.ok(large.json.events.every((e) => e.status === 'stored'), large.text);
  assert.ok(large.json.raw_object, 'stored at once, with its raw object');
  await until('the queued ten stored too', async () => (await stored('q-batch')).n === 21);
  assert.equal((await stored('q-batch')).nanos, String(21 * 10_000_000));
});

test('a project key queues only into its own project', async () => {
  const r = await record({ project_id: 'q-load', provider: 'acme', cost: '1', currency: 'USD' });
  assert.equal(r.status, 403, r.text);
});

test('an event that names a reservation settles it through the queue, and a crossing alert still goes out', async () => {
  await w.fetch('/api/admin/projects', { method: 'POST', key: ADMIN_KEY, body: { id: 'q-guard', name: 'Guarded', budget: { amount: '10', currency: 'USD' }, alert_emails: ['q@example.com'] } });
  const k = (await w.fetch('/api/admin/projects/q-guard/keys', { method: 'POST', key: ADMIN_KEY })).json.key;
  const held = await w.fetch('/api/usage/guard', { method: 'POST', key: k, body: { amount: { amount: '9', currency: 'USD' }, reserve: true } });
  assert.equal(held.status, 200, held.text);
  const reservation = held.json.reservation.id;
  const r = await record({ provider: 'acme', cost: '8.50', currency: 'USD', reservation_id: reservation }, k);
  assert.equal(r.status, 202, r.text);
  await until('the reservation settled', async () => {
    const g = await w.fetch('/api/usage/guard', { method: 'POST', key: k, body: { amount: { amount: '0.01', currency: 'USD' } } });
    const budget = g.json.limits.find((l) => l.kind === 'budget');
    return budget.reserved === '0.00' && budget.spent === '8.50';
  });
  const log = await until('the 80% alert', async () => {
    const alerts = (await w.fetch('/api/admin/alerts?project_id=q-guard', { key: ADMIN_KEY })).json.alerts;
    return alerts.some((a) => a.level === 'budget-80') && alerts;
  });
  assert.equal(log.filter((a) => a.level === 'budget-80' && a.channel === 'email').length, 1);
});
