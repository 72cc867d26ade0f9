// Ingestion, idempotency, the raw log in R2, rebuild and listing, against the built worker.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWorker, ADMIN_KEY } from './support/worker.mjs';

let w;
let bucket;
const keys = {};
before(async () => {
  w = await startWorker();
  bucket = await w.mf.getR2Bucket('USAGE_BUCKET');
  for (const id of ['ads', 'podcast']) {
    const r = await w.fetch('/api/admin/projects', { method: 'POST', key: ADMIN_KEY, body: { id, name: id } });
    assert.equal(r.status, 201, r.text);
    keys[id] = (await w.fetch(`/api/admin/projects/${id}/keys`, { method: 'POST', key: ADMIN_KEY })).json.key;
  }
});
after(async () => w?.dispose());

const record = (body, key = keys.ads, path = '/api/usage') => w.fetch(path, { method: 'POST', key, body });

/** Every line of every raw-log object, parsed. */
async function rawEvents() {
  const out = [];
  let cursor;
  do {
    const page = await bucket.list({ prefix: 'usage-logs/raw/', cursor });
    for (const object of page.objects) {
      const text = await (await bucket.get(object.key)).text();
      for (const line of text.split('\n').filter(Boolean)) out.push({ key: object.key, event: JSON.parse(line) });
    }
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return out;
}

async function rawKeys() {
  return (await bucket.list({ prefix: 'usage-logs/' })).objects.map((o) => o.key).sort();
}

const rows = async (sql, ...args) => (await w.db.prepare(sql).bind(...args).all()).results;

/** Amount text such as "0.000123456" to integer nano-units, exactly. */
function nanos(amount) {
  const [whole, frac = ''] = amount.split('.');
  return BigInt(whole) * 1_000_000_000n + BigInt((frac + '000000000').slice(0, 9));
}

test('one event is priced, answered with its cost, stored in D1 and written to R2', async () => {
  const r = await record({
    id: 'first', provider: 'openai', model: 'gpt-4o-2024-08-06', operation: 'script-generation',
    prompt_tokens: 1000, completion_tokens: 500, job_id: 'clip-1', metadata: { scene: 1 },
  });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.stored, 1);
  const [event] = r.json.events;
  assert.deepEqual(
    [event.id, event.status, event.duplicate, event.cost.amount, event.currency],
    ['first', 'stored', false, '0.0075', 'USD'],
  );
  const [row] = await rows("SELECT * FROM api_usage WHERE id = 'first'");
  assert.equal(row.project_id, 'ads');
  assert.equal(row.cost, '0.0075');
  assert.equal(row.cost_nanos, 7_500_000);
  assert.equal(row.input_tokens, 1000);
  assert.equal(row.total_tokens, 1500);
  assert.equal(row.metadata, '{"scene":1}');
  const raw = (await rawEvents()).filter((e) => e.key === r.json.raw_object);
  assert.equal(raw.length, 1);
  assert.equal(raw[0].event.id, 'first');
  assert.match(r.json.raw_object, /^usage-logs\/raw\/\d{4}-\d{2}-\d{2}\/\d{8}T\d{9}Z-[0-9a-f]{32}\.ndjson$/);
  // The object is the request's lines, typed as newline-delimited JSON.
  const object = await bucket.get(r.json.raw_object);
  assert.equal(object.httpMetadata.contentType, 'application/x-ndjson');
  const text = await object.text();
  assert.ok(text.endsWith('\n') && JSON.parse(text.trim()).id === 'first', text);
  const [day] = await rows("SELECT * FROM usage_daily WHERE project_id = 'ads' AND model = 'gpt-4o-2024-08-06'");
  assert.deepEqual([day.events, day.cost_nanos, day.input_tokens, day.operation], [1, 7_500_000, 1000, 'script-generation']);
});

test('the /api/usage/log alias records the same way and a retry is answered as a duplicate', async () => {
  const body = { id: 'alias-1', provider: 'elevenlabs', characters: 1200, operation: 'voice-synthesis' };
  const first = await record(body, keys.ads, '/api/usage/log');
  assert.equal(first.status, 201, first.text);
  const retry = await record(body, keys.ads, '/api/usage/log');
  assert.equal(retry.status, 200);
  assert.deepEqual([retry.json.stored, retry.json.duplicates, retry.json.events[0].status], [0, 1, 'duplicate']);
  const [{ n }] = await rows("SELECT COUNT(*) AS n FROM api_usage WHERE id = 'alias-1'");
  assert.equal(n, 1);
  // A later retry without a timestamp is answered with the stored event, time included.
  await new Promise((resolve) => setTimeout(resolve, 5));
  const later = await record({ ...body, provider: 'Eleven Labs' }, keys.ads, '/api/usage/log');
  const [stored] = await rows("SELECT request_timestamp, cost FROM api_usage WHERE id = 'alias-1'");
  const e = later.json.events[0];
  assert.deepEqual([e.status, e.timestamp, e.cost.amount, e.currency], ['duplicate', stored.request_timestamp, stored.cost, 'USD']);
  assert.deepEqual([e.timestamp, e.cost.amount], [first.json.events[0].timestamp, first.json.events[0].cost.amount]);
  // The same id with other usage is not a retry: a client bug, refused rather than dropped.
  const changed = await record({ ...body, characters: 5000 }, keys.ads, '/api/usage/log');
  assert.equal(changed.status, 409, changed.text);
  assert.equal(changed.json.error.code, 'id_reused');
});

test('a resend that differs only in its own timestamp is a duplicate answered with the stored time; another model or quantity under the id is a 409', async () => {
  const day = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
  const body = { id: 'resend-1', provider: 'openai', model: 'gpt-4o-mini', input_tokens: 300, output_tokens: 20, timestamp: `${day}T09:00:00.000Z` };
  const first = await record(body);
  assert.equal(first.status, 201, first.text);
  const resent = await record({ ...body, timestamp: `${day}T09:00:04.321Z` });
  assert.equal(resent.status, 200, resent.text);
  const e = resent.json.events[0];
  assert.deepEqual([resent.json.duplicates, e.status, e.timestamp, e.cost.amount], [1, 'duplicate', `${day}T09:00:00.000Z`, first.json.events[0].cost.amount]);
  for (const changed of [{ model: 'gpt-4o' }, { input_tokens: 301 }, { cost: '0.01' }]) {
    const r = await record({ ...body, ...changed, timestamp: `${day}T09:00:05.000Z` });
    assert.equal(r.status, 409, `${JSON.stringify(changed)}: ${r.text}`);
    assert.equal(r.json.error.code, 'id_reused');
  }
  assert.deepEqual(await rows("SELECT request_timestamp, input_tokens, substr(fingerprint, 1, 3) AS rule FROM api_usage WHERE id = 'resend-1'"),
    [{ request_timestamp: `${day}T09:00:00.000Z`, input_tokens: 300, rule: 'v3:' }]);
  // A row fingerprinted by the first rule (16 hex digits, the sent time hashed in) takes a
  // retry as a duplicate instead of refusing it, and keeps its fingerprint.
  const trigger = (await rows("SELECT sql FROM sqlite_master WHERE name = 'api_usage_fingerprint_kept'"))[0].sql;
  const [{ fingerprint }] = await rows("SELECT fingerprint FROM api_usage WHERE id = 'resend-1'");
  const setFingerprint = (value) => w.db.batch([
    w.db.prepare('DROP TRIGGER api_usage_fingerprint_kept'),
    w.db.prepare("UPDATE api_usage SET fingerprint = ? WHERE id = 'resend-1'").bind(value),
    w.db.prepare(trigger),
  ]);
  await setFingerprint('0123456789abcdef');
  const retried = await record(body);
  assert.equal(retried.status, 200, retried.text);
  assert.equal(retried.json.events[0].status, 'duplicate');
  assert.deepEqual(await rows("SELECT fingerprint FROM api_usage WHERE id = 'resend-1'"), [{ fingerprint: '0123456789abcdef' }]);
  await setFingerprint(fingerprint); // as the raw log has it, for the rebuild test below
});

test('sixteen concurrent writers with interleaved retries store each event once, exact to the nano', async () => {
  const writers = 16;
  const perWriter = 12;
  // Over the 20 UTC days from 25 days ago: inside the late-arrival window, none in the future.
  const firstDay = Math.floor(Date.now() / 86_400_000) * 86_400_000 - 25 * 86_400_000;
  const all = new Map();
  const batches = [];
  for (let wi = 0; wi < writers; wi += 1) {
    for (let b = 0; b < perWriter; b += 1) {
      const project = wi % 2 === 0 ? 'ads' : 'podcast';
      const size = 1 + ((wi * 7 + b * 13) % 40);
      const events = [];
      for (let i = 0; i < size; i += 1) {
        const id = `c-${wi}-${b}-${i}`;
        const cents = (wi * 1000 + b * 37 + i * 11) % 997;
        const event = {
          id, provider: ['openai', 'anthropic', 'heygen'][i % 3], model: `m-${i % 4}`,
          operation: ['script', 'voice', 'video'][b % 3], input_tokens: 100 + i, output_tokens: 7 * i,
          cost: `0.${String(cents).padStart(3, '0')}123457`,
          timestamp: new Date(firstDay + (i % 20) * 86_400_000 + wi * 3_600_000 + b * 60_000).toISOString(),
        };
        events.push(event);
        all.set(`${project}/${id}`, { project, event });
      }
      batches.push({ writer: wi, project, events });
    }
  }
  // Each writer sends its batches in order; after each, it retries an earlier batch of some
  // writer of the same project (a client retry, or a duplicate delivery) mixed with a new one.
  const answers = [];
  await Promise.all(Array.from({ length: writers }, async (_, wi) => {
    const mine = batches.filter((b) => b.writer === wi);
    for (let i = 0; i < mine.length; i += 1) {
      const batch = mine[i];
      const r = await record({ events: batch.events }, keys[batch.project]);
      assert.ok(r.status === 201 || r.status === 200, r.text);
      answers.push(r.json);
      const sameProject = batches.filter((b) => b.project === batch.project);
      const earlier = sameProject[(wi * 5 + i * 3) % sameProject.length];
      const mixed = [...earlier.events.slice(0, 5), ...batch.events.slice(-3)];
      const again = await record({ events: mixed }, keys[batch.project]);
      assert.ok(again.status === 201 || again.status === 200, again.text);
      answers.push(again.json);
    }
  }));
  // Every unique event was answered "stored" exactly once across all answers.
  const storedAnswers = new Map();
  for (const answer of answers) {
    for (const e of answer.events) {
      if (!e.id.startsWith('c-')) continue;
      if (!e.duplicate) storedAnswers.set(`${e.project_id}/${e.id}`, (storedAnswers.get(`${e.project_id}/${e.id}`) ?? 0) + 1);
    }
  }
  assert.equal(storedAnswers.size, all.size);
  assert.ok([...storedAnswers.values()].every((n) => n === 1));
  // D1 rows equal the unique events.
  const stored = await rows("SELECT project_id, id, CAST(cost_nanos AS TEXT) AS cost_nanos, input_tokens FROM api_usage WHERE id LIKE 'c-%'");
  assert.equal(stored.length, all.size);
  assert.deepEqual(new Set(stored.map((r) => `${r.project_id}/${r.id}`)), new Set(all.keys()));
  // Totals exact to the unit: the sum of the reported costs, in integer nanos.
  let expected = 0n;
  let expectedTokens = 0;
  for (const { event } of all.values()) {
    expected += nanos(event.cost);
    expectedTokens += event.input_tokens;
  }
  const [sums] = await rows("SELECT CAST(SUM(cost_nanos) AS TEXT) AS cost, SUM(input_tokens) AS tokens FROM api_usage WHERE id LIKE 'c-%'");
  assert.equal(BigInt(sums.cost), expected);
  assert.equal(sums.tokens, expectedTokens);
  // The rollups agree with the rows, group by group.
  const fromRows = await rows(
    `SELECT substr(request_timestamp, 1, 10) AS day, project_id, provider, model, operation, currency,
            COUNT(*) AS events, CAST(SUM(cost_nanos) AS TEXT) AS cost, SUM(input_tokens) AS input, SUM(output_tokens) AS output
     FROM api_usage GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6`);
  const fromRollups = await rows(
    `SELECT day, project_id, provider, model, operation, currency, events, CAST(cost_nanos AS TEXT) AS cost,
            input_tokens AS input, output_tokens AS output
     FROM usage_daily ORDER BY 1, 2, 3, 4, 5, 6`);
  assert.deepEqual(fromRollups.map((r) => ({ ...r, cost: r.cost === '0' ? null : r.cost })),
    fromRows.map((r) => ({ ...r, cost: r.cost })));
  // Every event is in R2, in the object of each request that carried it.
  const raw = await rawEvents();
  const inRaw = new Set(raw.map((e) => `${e.event.project_id}/${e.event.id}`));
  for (const key of all.keys()) assert.ok(inRaw.has(key), `${key} is in the raw log`);
});

test('an id reused for a different event is a 409 that stores nothing, even among sixteen racing requests, and only the stored one stays in R2', async () => {
  const rawBefore = (await rawKeys()).length;
  // Two days back at 10:00 UTC, within the late-arrival window whenever the test runs.
  const day = new Date(Date.now() - 2 * 86_400_000).toISOString().slice(0, 10);
  const event = (i) => ({ id: 'race-1', provider: 'openai', model: 'gpt-4o-mini', input_tokens: 100 + i,
    timestamp: `${day}T10:00:00Z` });
  const answers = await Promise.all(Array.from({ length: 16 }, (_, i) =>
    record({ events: [event(i), { id: `race-extra-${i}`, provider: 'openai', model: 'gpt-4o-mini', input_tokens: 1 }] })));
  const won = answers.filter((r) => r.status === 201);
  const refused = answers.filter((r) => r.status === 409);
  assert.equal(won.length, 1, answers.map((r) => r.status).join());
  assert.equal(refused.length, 15);
  for (const r of refused) {
    assert.equal(r.json.error.code, 'id_reused');
    assert.deepEqual(r.json.error.details.map((d) => [d.field, d.index]), [['events[0].id', 0]]);
    assert.match(r.json.error.message, /already stored for a different event/);
    assert.notEqual(r.json.error.retryable, true);
  }
  const winner = answers.indexOf(won[0]);
  const stored = await rows("SELECT id, input_tokens FROM api_usage WHERE id = 'race-1' OR id LIKE 'race-extra-%' ORDER BY id");
  assert.deepEqual(stored, [
    { id: 'race-1', input_tokens: 100 + winner },
    { id: `race-extra-${winner}`, input_tokens: 1 },
  ]);
  // The refused requests' raw objects are gone: a rebuild can only replay the stored event.
  assert.equal((await rawKeys()).length, rawBefore + 1);
  const logged = (await rawEvents()).filter((e) => e.event.id.startsWith('race-'));
  assert.deepEqual(logged.map((e) => [e.event.id, e.event.input_tokens]).sort(),
    [['race-1', 100 + winner], [`race-extra-${winner}`, 1]]);
  // A retry of the stored event, respelled, is a duplicate; a second reuse is refused again.
  const retry = await record({ id: 'race-1', provider: 'OpenAI', model: 'gpt-4o-mini', prompt_tokens: 100 + winner,
    timestamp: `${day}T11:00:00+01:00` });
  assert.equal(retry.status, 200, retry.text);
  assert.equal(retry.json.duplicates, 1);
  const again = await record({ ...event(winner), success: false });
  assert.equal(again.status, 409, again.text);
  // Two different events under one id inside a request are refused before anything is written.
  const within = await record({ events: [
    { id: 'twice', provider: 'openai', model: 'gpt-4o-mini', input_tokens: 1 },
    { id: 'twice', provider: 'openai', model: 'gpt-4o-mini', input_tokens: 2 },
  ] });
  assert.equal(within.status, 409, within.text);
  assert.deepEqual(within.json.error.details.map((d) => [d.field, d.index]), [['events[1].id', 1]]);
  assert.equal((await rows("SELECT id FROM api_usage WHERE id = 'twice'")).length, 0);
  assert.equal((await rawKeys()).length, rawBefore + 2, 'only the accepted retry added an object');
});

test('wiping the usage tables and rebuilding from R2 restores identical rows and rollups', async () => {
  const columns = "project_id, id, provider, model, operation, input_tokens, output_tokens, total_tokens, cost, CAST(cost_nanos AS TEXT) AS cost_nanos, currency, unpriced_reason, price_id, cached, success, request_timestamp, session_id, job_id, duration_ms, endpoint, metadata, fingerprint";
  const snapshot = async () => ({
    rows: await rows(`SELECT ${columns} FROM api_usage ORDER BY project_id, id`),
    daily: await rows('SELECT * FROM usage_daily ORDER BY day, project_id, provider, model, operation, currency'),
    hourly: await rows('SELECT * FROM usage_quarter_hours ORDER BY quarter, project_id, provider, model, operation, currency'),
  });
  const before = await snapshot();
  assert.ok(before.rows.length > 100);
  await w.db.batch([
    w.db.prepare('DELETE FROM api_usage'),
    w.db.prepare('DELETE FROM usage_daily'),
    w.db.prepare('DELETE FROM usage_quarter_hours'),
  ]);
  assert.equal((await snapshot()).rows.length, 0);
  let cursor;
  let inserted = 0;
  let calls = 0;
  do {
    const r = await w.fetch('/api/admin/rebuild', { method: 'POST', key: ADMIN_KEY, body: cursor ? { cursor, max_objects: 50 } : { max_objects: 50 } });
    assert.equal(r.status, 200, r.text);
    inserted += r.json.inserted;
    assert.equal(r.json.unreadable_lines, 0);
    cursor = r.json.next_cursor;
    calls += 1;
    assert.equal(r.json.done, cursor === null);
  } while (cursor);
  assert.ok(calls > 1, 'the replay was paged');
  assert.equal(inserted, before.rows.length);
  assert.deepEqual(await snapshot(), before);
  // A second rebuild over an intact D1 changes nothing.
  const again = await w.fetch('/api/admin/rebuild', { method: 'POST', key: ADMIN_KEY, body: { max_objects: 100 } });
  assert.equal(again.json.inserted, 0);
  assert.deepEqual(await snapshot(), before);
});

test('when D1 fails after R2 took the events, the client gets a retryable 503, the raw object is withdrawn and the retry stores the event once', async () => {
  const rawBefore = (await rawKeys()).length;
  await w.db.exec('ALTER TABLE api_usage RENAME TO api_usage_away');
  let r;
  let noId;
  try {
    r = await record({ id: 'during-outage', provider: 'openai', model: 'gpt-4o-mini', input_tokens: 100 });
    noId = await record({ provider: 'openai', model: 'gpt-4o-mini', input_tokens: 77, operation: 'outage-no-id' });
  } finally {
    await w.db.exec('ALTER TABLE api_usage_away RENAME TO api_usage');
  }
  assert.equal(r.status, 503, r.text);
  assert.equal(noId.status, 503, noId.text);
  assert.equal(r.json.error.retryable, true);
  assert.equal(r.headers.get('retry-after'), '1');
  assert.doesNotMatch(r.text, /api_usage|SQL/i, 'the cause is logged, not sent');
  assert.equal((await rawKeys()).length, rawBefore, 'nothing was acknowledged, so nothing stays to be replayed');
  assert.equal((await rows("SELECT * FROM api_usage WHERE id = 'during-outage'")).length, 0);
  const today = new Date().toISOString().slice(0, 10);
  const rebuildToday = async () => {
    let inserted = 0;
    let cursor;
    do {
      const rebuilt = await w.fetch('/api/admin/rebuild', { method: 'POST', key: ADMIN_KEY, body: { from: today, to: today, max_objects: 100, cursor } });
      assert.equal(rebuilt.status, 200, rebuilt.text);
      inserted += rebuilt.json.inserted;
      cursor = rebuilt.json.next_cursor ?? undefined;
    } while (cursor);
    return inserted;
  };
  assert.equal(await rebuildToday(), 0, 'a rebuild brings back nothing the client was told failed');
  const retry = await record({ id: 'during-outage', provider: 'openai', model: 'gpt-4o-mini', input_tokens: 100 });
  const retryNoId = await record({ provider: 'openai', model: 'gpt-4o-mini', input_tokens: 77, operation: 'outage-no-id' });
  assert.deepEqual([retry.status, retry.json.stored, retryNoId.status, retryNoId.json.stored], [201, 1, 201, 1]);
  assert.equal((await rows("SELECT * FROM api_usage WHERE id = 'during-outage'")).length, 1);
  assert.equal((await rows("SELECT * FROM api_usage WHERE operation = 'outage-no-id'")).length, 1, 'the event without an id is counted once, not twice');
});

test('a rebuild racing a refused request leaves its raw object out whole: none of its events is stored', async () => {
  const first = await record({ id: 'race-shared', provider: 'openai', model: 'gpt-4o-mini', input_tokens: 10 });
  assert.equal(first.status, 201, first.text);
  // The refused request's object, as a rebuild may read it between its R2 put and its
  // withdrawal: one event reusing `race-shared` for another event, one innocent bystander.
  const now = new Date();
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.(\d+)Z$/, '$1Z');
  const key = `usage-logs/raw/${now.toISOString().slice(0, 10)}/${stamp}-racing-refused.ndjson`;
  const stored = (await rows("SELECT * FROM api_usage WHERE id = 'race-shared'"))[0];
  const refused = await record({ events: [
    { id: 'race-shared', provider: 'openai', model: 'gpt-4o-mini', input_tokens: 999 },
    { id: 'race-bystander', provider: 'openai', model: 'gpt-4o-mini', input_tokens: 1 },
  ] });
  assert.equal(refused.status, 409, refused.text);
  const line = JSON.parse((await (await bucket.get(first.json.raw_object)).text()).split('\n')[0]);
  const lines = [
    { ...line, input_tokens: 999, fingerprint: `${stored.fingerprint}-other` },
    { ...line, id: 'race-bystander', input_tokens: 1 },
  ];
  await bucket.put(key, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  const today = now.toISOString().slice(0, 10);
  let refusedObjects = 0;
  let cursor;
  do {
    const rebuilt = await w.fetch('/api/admin/rebuild', { method: 'POST', key: ADMIN_KEY, body: { from: today, to: today, max_objects: 100, cursor } });
    assert.equal(rebuilt.status, 200, rebuilt.text);
    refusedObjects += rebuilt.json.refused_objects;
    cursor = rebuilt.json.next_cursor ?? undefined;
  } while (cursor);
  assert.equal(refusedObjects, 1);
  assert.equal((await rows("SELECT * FROM api_usage WHERE id = 'race-bystander'")).length, 0, 'no event of the refused request');
  assert.equal((await rows("SELECT input_tokens FROM api_usage WHERE id = 'race-shared'"))[0].input_tokens, 10);
  await bucket.delete(key);
});

test('a crash after the raw write, then a retry without a time: a wipe and a rebuild restore the retry\'s acknowledged time', async () => {
  // The crashed attempt: its object is in R2, its row never reached D1, nothing was answered.
  const first = await record({ id: 'crash-retry', provider: 'openai', model: 'gpt-4o-mini', input_tokens: 42 });
  assert.equal(first.status, 201, first.text);
  const orphanBody = await (await bucket.get(first.json.raw_object)).text();
  const orphanKey = first.json.raw_object.replace(/-([0-9a-f]+)\.ndjson$/, '-0crashed.ndjson');
  await bucket.put(orphanKey, orphanBody);
  await bucket.delete(first.json.raw_object);
  await w.db.prepare("DELETE FROM api_usage WHERE id = 'crash-retry'").run();
  await new Promise((resolve) => setTimeout(resolve, 20));
  const retry = await record({ id: 'crash-retry', provider: 'openai', model: 'gpt-4o-mini', input_tokens: 42 });
  assert.deepEqual([retry.status, retry.json.stored], [201, 1], retry.text);
  const acknowledged = retry.json.events[0].timestamp;
  assert.notEqual(acknowledged, first.json.events[0].timestamp);
  await w.db.prepare("DELETE FROM api_usage WHERE id = 'crash-retry'").run();
  const today = new Date().toISOString().slice(0, 10);
  let cursor;
  do {
    const rebuilt = await w.fetch('/api/admin/rebuild', { method: 'POST', key: ADMIN_KEY, body: { from: today, to: today, max_objects: 100, cursor } });
    assert.equal(rebuilt.status, 200, rebuilt.text);
    cursor = rebuilt.json.next_cursor ?? undefined;
  } while (cursor);
  const stored = await rows("SELECT request_timestamp FROM api_usage WHERE id = 'crash-retry'");
  assert.deepEqual(stored.map((r) => r.request_timestamp), [acknowledged], 'the later object, the acknowledged one, decides the time');
});

test('objects of requests that crashed before their D1 commit are not restored: neither a never-retried event nor a resend\'s later time', async () => {
  const kept = await record({ id: 'ack-kept', provider: 'openai', model: 'gpt-4o-mini', input_tokens: 5 });
  assert.equal(kept.status, 201, kept.text);
  const [line] = (await (await bucket.get(kept.json.raw_object)).text()).split('\n');
  const template = JSON.parse(line);
  // Two invocations that died between their R2 put and their D1 commit, under keys of the
  // worker's own form: a new event nobody was answered for, and a resend of ack-kept an hour on.
  const now = new Date(Date.now() + 1000);
  const day = now.toISOString().slice(0, 10);
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.(\d+)Z$/, '$1Z');
  const resentAt = new Date(Date.parse(template.request_timestamp) + 3_600_000).toISOString();
  const crashed = [
    [`usage-logs/raw/${day}/${stamp}-${'a'.repeat(32)}.ndjson`, { ...template, id: 'ack-never-answered', input_tokens: 7 }],
    [`usage-logs/raw/${day}/${stamp}-${'b'.repeat(32)}.ndjson`, { ...template, request_timestamp: resentAt }],
  ];
  for (const [key, body] of crashed) await bucket.put(key, `${JSON.stringify(body)}\n`);
  await w.db.prepare("DELETE FROM api_usage WHERE id IN ('ack-kept', 'ack-never-answered')").run();
  let cursor;
  let unacknowledged = 0;
  do {
    const rebuilt = await w.fetch('/api/admin/rebuild', { method: 'POST', key: ADMIN_KEY, body: { from: day, to: day, max_objects: 100, cursor } });
    assert.equal(rebuilt.status, 200, rebuilt.text);
    unacknowledged += rebuilt.json.unacknowledged_objects ?? 0;
    cursor = rebuilt.json.next_cursor ?? undefined;
  } while (cursor);
  assert.equal(unacknowledged, 2);
  const stored = await rows("SELECT id, request_timestamp FROM api_usage WHERE id IN ('ack-kept', 'ack-never-answered')");
  assert.deepEqual(stored, [{ id: 'ack-kept', request_timestamp: kept.json.events[0].timestamp }]);
  for (const [key] of crashed) await bucket.delete(key);
});

test('bad batches are refused with the index and field of each problem and write nothing anywhere', async () => {
  const d1Before = await w.snapshot();
  const r2Before = await rawKeys();
  const tooMany = { events: Array.from({ length: 1001 }, (_, i) => ({ provider: 'openai', model: 'gpt-4o-mini', input_tokens: i + 1 })) };
  const huge = { events: [{ provider: 'openai', input_tokens: 1, metadata: { blob: 'x'.repeat(1_100_000) } }] };
  const cases = [
    [{ events: [{ provider: 'openai', model: 'gpt-4o-mini', input_tokens: 1 }, { provider: 'openai', model: 'gpt-4o-mini', input_tokens: -1 }] }, 400, ['events[1].input_tokens']],
    [{ events: [{ provider: 'openai', model: 'gpt-4o-mini', input_tokens: 1, tokenz: 2 }, { provider: '', input_tokens: 1 }] }, 400, ['events[0].tokenz', 'events[1].provider']],
    [{ events: [{ provider: 'openai', model: 'gpt-4o-mini', input_tokens: 1, timestamp: '2099-01-01T00:00:00Z' }] }, 400, ['events[0].timestamp']],
    [{ events: [{ provider: 'openai', model: 'gpt-4o-mini', input_tokens: 1, timestamp: '2020-01-01T00:00:00Z' }] }, 400, ['events[0].timestamp']],
    [{ events: [{ provider: 'openai', model: 'gpt-4o-mini', input_tokens: 1, metadata: { big: 'y'.repeat(5000) } }] }, 400, ['events[0].metadata']],
    [{ events: [{ provider: 'openai', model: 'gpt-4o-mini', cost: '-1' }] }, 400, ['events[0].cost']],
    [{ events: [{ provider: 'acme', cost: '4700000000' }, { provider: 'openai', model: 'gpt-4o-mini', input_tokens: 1, duration_ms: 9223372036854775807 }] }, 400, ['events[0].cost', 'events[1].duration_ms']],
    [{ events: [{ provider: 'openai', model: 'gpt-4o-mini', tokens: 9223372036854775807 }] }, 400, ['events[0].tokens']],
    [{ events: [] }, 400, ['events']],
    [tooMany, 400, ['events']],
    [{ provider: 'openai', model: 'gpt-4o-mini' }, 400, ['usage']],
    [{ events: [{ input_tokens: 1 }] }, 400, ['events[0].provider']],
    [{ events: [{ provider: 'openai', model: 'gpt-4o-mini', input_tokens: 1 }, { input_tokens: -1, model: 5 }] }, 400, ['events[1].provider', 'events[1].input_tokens', 'events[1].model']],
  ];
  for (const [body, status, fields] of cases) {
    const r = await record(body);
    assert.equal(r.status, status, `${JSON.stringify(body).slice(0, 80)}: ${r.text.slice(0, 300)}`);
    assert.deepEqual(r.json.error.details.map((d) => d.field), fields);
  }
  const indexed = await record(cases[1][0]);
  assert.deepEqual(indexed.json.error.details.map((d) => d.index), [0, 1]);
  assert.equal((await record(huge)).status, 413);
  // A value refused for its size is not sent back whole: the answer names the field and
  // shows the value's start and length.
  const longModel = await record({ provider: 'openai', model: 'm'.repeat(500_000), input_tokens: 1 });
  assert.deepEqual([longModel.status, longModel.json.error.details.map((d) => d.field)], [400, ['model']]);
  assert.ok(longModel.text.length < 4000, `${longModel.text.length} bytes`);
  assert.match(longModel.json.error.details[0].message, /… \(500000 characters\)/);
  assert.equal((await w.fetch('/api/usage', { method: 'POST', key: keys.ads, raw: '{"provider": "openai",', headers: { 'content-type': 'application/json' } })).status, 400);
  assert.equal((await w.fetch('/api/usage', { method: 'POST', key: keys.ads, raw: 'provider=openai', headers: { 'content-type': 'text/plain' } })).status, 415);
  const other = await record({ project_id: 'podcast', provider: 'openai', model: 'gpt-4o-mini', input_tokens: 1 }, keys.ads);
  assert.deepEqual([other.status, other.json.error.code, other.json.error.details.map((d) => d.field)], [403, 'forbidden', ['project_id']]);
  const otherInBatch = await record({ events: [{ provider: 'acme', cost: '1' }, { project_id: 'podcast', provider: 'acme', cost: '1' }] }, keys.ads);
  assert.deepEqual([otherInBatch.status, otherInBatch.json.error.details.map((d) => d.field)], [403, ['events[1].project_id']]);
  const noProject = await record({ provider: 'openai', model: 'gpt-4o-mini', input_tokens: 1 }, ADMIN_KEY);
  assert.deepEqual([noProject.status, noProject.json.error.details[0].field], [400, 'project_id']);
  const unknownProject = await record({ project_id: 'ghost', provider: 'openai', model: 'gpt-4o-mini', input_tokens: 1 }, ADMIN_KEY);
  assert.deepEqual([unknownProject.status, unknownProject.json.error.details[0].field], [400, 'project_id']);
  assert.deepEqual(await w.snapshot(), d1Before);
  assert.deepEqual(await rawKeys(), r2Before);
});

test('the admin key records for any project named per batch or per event', async () => {
  const r = await record({ project_id: 'podcast', events: [
    { id: 'adm-1', provider: 'openai', model: 'gpt-4o-mini', input_tokens: 10 },
    { id: 'adm-2', project_id: 'ads', provider: 'openai', model: 'gpt-4o-mini', input_tokens: 10 },
  ] }, ADMIN_KEY);
  assert.equal(r.status, 201, r.text);
  assert.deepEqual(r.json.events.map((e) => e.project_id), ['podcast', 'ads']);
});

test('a late event lands in the rollup of its own day', async () => {
  const late = new Date(Date.now() - 40 * 86_400_000);
  const day = late.toISOString().slice(0, 10);
  const r = await record({ id: 'late-1', provider: 'openai', model: 'late-model', input_tokens: 5, timestamp: late.toISOString() });
  assert.equal(r.status, 201, r.text);
  const rollups = await rows("SELECT day, events, unpriced_events FROM usage_daily WHERE model = 'late-model'");
  assert.deepEqual(rollups, [{ day, events: 1, unpriced_events: 1 }]);
});

test('listing pages newest first through every event once, filtered, and a project key sees only its own', async () => {
  const seen = [];
  let cursor;
  do {
    const r = await w.fetch(`/api/usage?project_id=podcast&limit=37${cursor ? `&cursor=${cursor}` : ''}`, { key: ADMIN_KEY });
    assert.equal(r.status, 200, r.text);
    seen.push(...r.json.events);
    cursor = r.json.next_cursor;
  } while (cursor);
  const [{ n }] = await rows("SELECT COUNT(*) AS n FROM api_usage WHERE project_id = 'podcast'");
  assert.equal(seen.length, n);
  assert.equal(new Set(seen.map((e) => e.id)).size, n);
  for (let i = 1; i < seen.length; i += 1) assert.ok(seen[i - 1].timestamp >= seen[i].timestamp, 'newest first');
  assert.ok(seen.every((e) => e.project_id === 'podcast'));
  const own = await w.fetch('/api/usage?limit=1000', { key: keys.podcast });
  assert.ok(own.json.events.every((e) => e.project_id === 'podcast'));
  const otherProject = await w.fetch('/api/usage?project_id=ads', { key: keys.podcast });
  assert.deepEqual([otherProject.status, otherProject.json.error.code, otherProject.json.error.details[0]?.field], [403, 'forbidden', 'project_id']);
  const job = await w.fetch('/api/usage?job_id=clip-1&provider=openai', { key: keys.ads });
  assert.deepEqual(job.json.events.map((e) => e.id), ['first']);
  assert.equal(job.json.events[0].cost.amount, '0.0075');
  assert.deepEqual(job.json.events[0].metadata, { scene: 1 });
  const unpriced = await w.fetch('/api/usage?unpriced=true', { key: ADMIN_KEY });
  assert.ok(unpriced.json.events.length > 0);
  assert.ok(unpriced.json.events.every((e) => e.cost === null && e.unpriced.code));
  for (const [query, field] of [['limit=0', 'limit'], ['from=2026-11-20&to=2026-11-01', 'to'], ['cursor=nope', 'cursor'], ['colour=red', 'colour']]) {
    const r = await w.fetch(`/api/usage?${query}`, { key: ADMIN_KEY });
    assert.equal(r.status, 400, query);
    assert.equal(r.json.error.details[0].field, field);
  }
});

test('a request whose every cost is zero (cache hits, a reported 0) stores zeros, not unpriced rows', async () => {
  // A day of its own (no other test's events) within the late-arrival window.
  const day = new Date(Date.now() - 85 * 86_400_000).toISOString().slice(0, 10);
  const r = await record({
    events: [
      { id: 'zero-hit', provider: 'openai', model: 'gpt-4o-mini', input_tokens: 100, cached: true, timestamp: `${day}T10:00:00Z` },
      { id: 'zero-reported', provider: 'openai', model: 'gpt-4o-mini', input_tokens: 100, cost: 0, timestamp: `${day}T10:00:00Z` },
    ],
  }, keys.podcast);
  assert.equal(r.status, 201, r.text);
  assert.deepEqual(r.json.events.map((e) => [nanos(e.cost.amount), e.currency, e.unpriced]), [[0n, 'USD', null], [0n, 'USD', null]]);
  const stored = await rows(
    "SELECT id, cost_nanos, reported_cost_nanos FROM api_usage WHERE project_id = 'podcast' AND id LIKE 'zero-%' ORDER BY id",
  );
  assert.deepEqual(stored, [
    { id: 'zero-hit', cost_nanos: 0, reported_cost_nanos: null },
    { id: 'zero-reported', cost_nanos: 0, reported_cost_nanos: 0 },
  ]);
  const [rollup] = await rows(
    "SELECT events, unpriced_events, cost_nanos FROM usage_daily WHERE project_id = 'podcast' AND day = ?", day,
  );
  assert.deepEqual(rollup, { events: 2, unpriced_events: 0, cost_nanos: 0 });
});

test('GET /api/usage?format=csv exports a page of events as CSV, with the next page\'s cursor in a header', async () => {
  const w2 = await startWorker();
  try {
    await w2.fetch('/api/admin/projects', { method: 'POST', key: ADMIN_KEY, body: { id: 'export', name: 'Export' } });
    const key = (await w2.fetch('/api/admin/projects/export/keys', { method: 'POST', key: ADMIN_KEY })).json.key;
    const day = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10); // yesterday, UTC
    const events = [
      { id: 'x1', provider: 'openai', model: 'gpt-4o', operation: 'script', input_tokens: 1000, cached_input_tokens: 300, output_tokens: 200, reasoning_tokens: 50, job_id: 'clip-1', timestamp: `${day}T10:00:00Z`, metadata: { scene: 'a,b' } },
      { id: 'x2', provider: 'heygen', credits: '0.5', cost: '0.99', job_id: 'clip-1', timestamp: `${day}T10:01:00Z` },
      { id: '=x3', provider: 'openai', model: 'house-model', input_tokens: 5, timestamp: `${day}T10:02:00Z` },
    ];
    assert.equal((await w2.fetch('/api/usage', { method: 'POST', key, body: { events } })).status, 201);
    const json = (await w2.fetch('/api/usage?limit=2', { key })).json;
    const r = await w2.mf.dispatchFetch(`http://localhost/api/usage?limit=2&format=csv`, { headers: { authorization: `Bearer ${key}` } });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /^text\/csv/);
    assert.equal(r.headers.get('x-next-cursor'), json.next_cursor);
    const lines = (await r.text()).trim().split('\n');
    const head = lines[0].split(',');
    assert.deepEqual(head.slice(0, 6), ['id', 'project_id', 'timestamp', 'provider', 'model', 'operation']);
    for (const kind of ['input_tokens', 'output_tokens', 'cached_input_tokens', 'cache_write_tokens', 'reasoning_tokens', 'audio_input_tokens', 'audio_output_tokens', 'characters', 'audio_seconds', 'video_seconds', 'images', 'requests', 'tracks', 'credits', 'price_id']) {
      assert.equal(head.filter((h) => h === kind).length, 1, `one ${kind} column`);
    }
    assert.equal(lines.length, 3, 'a header and the page of 2, newest first');
    const col = (line, name) => line.split(',')[head.indexOf(name)];
    assert.equal(col(lines[1], 'id'), "'=x3", 'a formula-like id is neutralised');
    assert.equal(col(lines[1], 'unpriced_reason'), 'unknown_model');
    assert.deepEqual([col(lines[2], 'id'), col(lines[2], 'credits'), col(lines[2], 'cost'), col(lines[2], 'currency'), col(lines[2], 'reported_cost')], ['x2', '0.5', '0.99', 'USD', '0.99']);
    const last = await w2.mf.dispatchFetch(`http://localhost/api/usage?limit=2&format=csv&cursor=${encodeURIComponent(json.next_cursor)}`, { headers: { authorization: `Bearer ${key}` } });
    const rows = (await last.text()).trim().split('\n');
    assert.equal(last.headers.get('x-next-cursor'), null, 'the last page has no cursor');
    assert.equal(rows.length, 2);
    assert.ok(rows[1].startsWith(`x1,export,${day}T10:00:00.000Z,openai,gpt-4o,script,1000,200,1200,`), rows[1]);
    const x1 = (await w2.fetch('/api/usage?limit=3', { key })).json.events.find((e) => e.id === 'x1');
    assert.ok(x1.price_id, 'x1 was priced from the catalog');
    assert.ok(rows[1].endsWith(`,clip-1,,,"{""scene"":""a,b""}",${x1.price_id}`), rows[1]);
    const cells = rows[1].split(',');
    assert.deepEqual([cells[head.indexOf('cached_input_tokens')], cells[head.indexOf('reasoning_tokens')], cells[head.indexOf('cache_write_tokens')]], ['300', '50', ''], 'cache and reasoning tokens are exported');
    assert.equal((await w2.fetch('/api/usage?format=xml', { key })).status, 400);
  } finally {
    await w2.dispose();
  }
});

test('GET /api/usage filters by metadata values: strings, numbers and booleans, all given must match', async () => {
  const w2 = await startWorker();
  try {
    await w2.fetch('/api/admin/projects', { method: 'POST', key: ADMIN_KEY, body: { id: 'meta', name: 'Meta' } });
    const key = (await w2.fetch('/api/admin/projects/meta/keys', { method: 'POST', key: ADMIN_KEY })).json.key;
    const ev = (id, metadata) => ({ id, provider: 'openai', model: 'gpt-4o', input_tokens: 10, metadata });
    const events = [
      ev('m1', { customer: 'acme', scene: 3, draft: true }),
      ev('m2', { customer: 'acme', scene: 4, draft: false }),
      ev('m3', { customer: 'globex', scene: 3 }),
      ev('m4', { customer: { name: 'acme' } }),
      ev('m5'),
    ];
    assert.equal((await w2.fetch('/api/usage', { method: 'POST', key, body: { events } })).status, 201);
    const ids = async (q) => {
      const r = await w2.fetch(`/api/usage?${q}`, { key });
      assert.equal(r.status, 200, r.text);
      return r.json.events.map((e) => e.id).sort();
    };
    assert.deepEqual(await ids('metadata.customer=acme'), ['m1', 'm2']);
    assert.deepEqual(await ids('metadata.scene=3'), ['m1', 'm3']);
    assert.deepEqual(await ids('metadata.customer=acme&metadata.scene=3'), ['m1']);
    assert.deepEqual(await ids('metadata.draft=true'), ['m1']);
    assert.deepEqual(await ids('metadata.draft=false'), ['m2']);
    assert.deepEqual(await ids('metadata.customer=nobody'), []);
    const bad = await w2.fetch('/api/usage?metadata.bad%20key=x', { key });
    assert.deepEqual([bad.status, bad.json.error.details[0].field], [400, 'metadata.bad key']);
  } finally {
    await w2.dispose();
  }
});

test('hostile shapes are refused and write nothing: a repeated events key, an event as an array, a padded or invisible id, a leap second, a quantity past a billion', async () => {
  const before = await rawKeys();
  const event = (id) => `{"id":"${id}","provider":"openai","model":"gpt-4o-mini","input_tokens":10}`;
  const raw = (text) => w.fetch('/api/usage', { method: 'POST', key: keys.ads, raw: text, headers: { 'content-type': 'application/json' } });
  const cases = [
    [await raw(`{"events":[${event('rep-a')}],"events":[${event('rep-b')}]}`), 'events'],
    [await raw(`{"events":[["arr-1",null,"openai","gpt-4o-mini",null,1000]]}`), 'events[0]'],
    [await record({ id: ' pad', provider: 'openai', model: 'gpt-4o-mini', input_tokens: 1 }), 'id'],
    [await record({ id: 'zw\u200b', provider: 'openai', model: 'gpt-4o-mini', input_tokens: 1 }), 'id'],
    [await record({ provider: 'openai', model: 'gpt-4o-mini', input_tokens: 1, timestamp: '2026-11-20T12:00:60Z' }), 'timestamp'],
    [await record({ provider: 'heygen', credits: '9007199255' }), 'credits'],
  ];
  for (const [r, field] of cases) {
    assert.equal(r.status, 400, r.text);
    assert.deepEqual(r.json.error.details.map((d) => d.field), [field], r.text);
  }
  assert.deepEqual(await rawKeys(), before, 'nothing reached R2');
  // The largest quantity accepted reads back exactly, on its page and in the totals.
  const big = await record({ id: 'big-credits', provider: 'acme', credits: '1000000000' });
  assert.equal(big.status, 201, big.text);
  const listed = await w.fetch('/api/usage?provider=acme&to=9999-12-31', { key: keys.ads });
  assert.equal(listed.status, 200, listed.text);
  assert.equal(listed.json.events.find((e) => e.id === 'big-credits')?.usage.credits, '1000000000');
});

test('names cannot spoof: a direction override or an invisible character is refused in a project name and in an event\'s operation, job, session and endpoint', async () => {
  const before = await rawKeys();
  for (const name of ['Ads \u202Egnp.exe', 'Ad\u200Bs', '\u2066Ads\u2069']) {
    const created = await w.fetch('/api/admin/projects', { method: 'POST', key: ADMIN_KEY, body: { id: 'spoof', name } });
    assert.equal(created.status, 400, created.text);
    assert.deepEqual(created.json.error.details.map((d) => d.field), ['name'], created.text);
  }
  assert.equal((await w.fetch('/api/admin/projects/spoof', { key: ADMIN_KEY })).status, 404, 'no project was created');
  const renamed = await w.fetch('/api/admin/projects/ads', { method: 'PATCH', key: ADMIN_KEY, body: { name: 'ads\u202E' } });
  assert.equal(renamed.status, 400, renamed.text);
  assert.deepEqual(renamed.json.error.details.map((d) => d.field), ['name']);
  assert.equal((await w.fetch('/api/admin/projects/ads', { key: ADMIN_KEY })).json.name, 'ads', 'the name is unchanged');
  const r = await record({
    provider: 'openai', model: 'gpt-4o-mini', input_tokens: 1, operation: 'chat\u202E',
    job_id: 'job\u200B1', session_id: '\u2067s', endpoint: '/v1\uFEFF', metadata: { 'k\u202D': 1 },
  });
  assert.equal(r.status, 400, r.text);
  assert.deepEqual(
    r.json.error.details.map((d) => d.field).sort(),
    ['endpoint', 'job_id', 'metadata', 'operation', 'session_id'],
  );
  assert.deepEqual(await rawKeys(), before, 'nothing reached R2');
});

test('a type error hides no other problem: an event with a provider and a count of the wrong type, a negative count, a bad time and a missing model names each field', async () => {
  const before = await rawKeys();
  const fieldsOf = async (body) => {
    const r = await record(body);
    assert.equal(r.status, 400, r.text);
    return r.json.error.details.map((d) => d.field).sort();
  };
  assert.deepEqual(
    await fieldsOf({ provider: 5, input_tokens: 'abc', output_tokens: -1, timestamp: 'yesterday', operation: 'chat\u202E' }),
    ['input_tokens', 'operation', 'output_tokens', 'provider', 'timestamp'],
  );
  assert.deepEqual(
    await fieldsOf({ events: [
      { provider: 'openai', model: 'gpt-4o-mini', input_tokens: 1 },
      { provider: 'anthropic', input_tokens: 'abc', cached: 'no', timestamp: '2099-01-01T00:00:00Z', job_id: ' ' },
    ] }),
    ['events[1].cached', 'events[1].input_tokens', 'events[1].job_id', 'events[1].model', 'events[1].timestamp'],
  );
  assert.deepEqual(await rawKeys(), before, 'nothing reached R2');
});

test('a missing model is a 400 naming it for a provider priced by model, and a warning in the 201 for one with a default', async () => {
  for (const provider of ['openai', 'anthropic', 'google']) {
    const r = await record({ provider, input_tokens: 10, output_tokens: 1 });
    assert.equal(r.status, 400, r.text);
    assert.deepEqual(r.json.error.details.map((d) => d.field), ['model'], provider);
    assert.match(r.json.error.details[0].message, /^is required: /);
  }
  const r = await record({ events: [
    { id: 'nomodel-heygen', provider: 'heygen', credits: '3' },
    { id: 'nomodel-eleven', provider: 'elevenlabs', characters: 500 },
    { id: 'nomodel-acme', provider: 'acme', cost: '0.25' },
    { id: 'withmodel', provider: 'openai', model: 'gpt-4o-mini', input_tokens: 5 },
  ] });
  assert.equal(r.status, 201, r.text);
  const [heygen, eleven, acme, openai] = r.json.events;
  assert.deepEqual(heygen.warnings.map((w) => w.field), ['model']);
  assert.match(heygen.warnings[0].message, /builtin:heygen\/api-credits@/);
  assert.match(eleven.warnings[0].message, /builtin:elevenlabs\/eleven_multilingual_v2@/);
  assert.match(acme.warnings[0].message, /no price entry of acme/);
  assert.equal(openai.warnings, undefined);
  assert.ok(heygen.cost && eleven.cost, 'priced by the default entries');
  assert.deepEqual(
    await rows("SELECT id, model FROM api_usage WHERE id LIKE 'nomodel-%' ORDER BY id"),
    [{ id: 'nomodel-acme', model: 'default' }, { id: 'nomodel-eleven', model: 'default' }, { id: 'nomodel-heygen', model: 'default' }],
  );
});

test('an event without a model whose default entry did not price it is told which entry answers to default and why', async () => {
  const r = await record({ events: [
    { id: 'gt-4', provider: 'google-cloud', operation: 'speech-to-text', cost: 0.012 },
    { id: 'nomodel-lahajati', provider: 'lahajati', audio_seconds: 90 },
  ] });
  assert.equal(r.status, 201, r.text);
  const [google, lahajati] = r.json.events;
  assert.deepEqual([...google.warnings, ...lahajati.warnings].map((w) => w.field), ['model', 'model']);
  assert.match(google.warnings[0].message, /the cost you reported counts; google-cloud's default entry \(builtin:google-cloud\/speech-to-text-v2@[0-9-]+\) prices none of it/);
  assert.match(lahajati.unpriced.message, /^lahajati\/tts has no rate for audio_seconds/);
  assert.ok(lahajati.warnings[0].message.includes(`lahajati's default entry (builtin:lahajati/tts@2025-12-16) prices none of it (${lahajati.unpriced.message})`), lahajati.warnings[0].message);
  for (const event of [google, lahajati]) assert.doesNotMatch(event.warnings[0].message, /no price entry/);
});

test('an unknown project named by the admin is a 404 for stats and the budget check, not zeros', async () => {
  for (const path of ['/api/usage/stats?project_id=ghost', '/api/admin/usage/check-budgets?project_id=ghost']) {
    const r = await w.fetch(path, { key: ADMIN_KEY });
    assert.equal(r.status, 404, `${path}: ${r.text}`);
  }
  assert.equal((await w.fetch('/api/usage/stats?project_id=ads', { key: ADMIN_KEY })).status, 200);
});

test('sums past 2^63 nano-units stay exact in the rollups and across them: no report turns into a 503', async () => {
  await w.fetch('/api/admin/projects', { method: 'POST', key: ADMIN_KEY, body: { id: 'huge', name: 'huge' } });
  const today = new Date();
  const day = (back) => new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() - back)).toISOString().slice(0, 10);
  const [first, second] = [day(3), day(2)];
  // 10,000 events at the per-event cost cap on each of two days: 10^19 nano-dollars a day,
  // past 2^63 - 1. The first day's events are each their own job.
  for (const [d, date] of [[0, first], [1, second]]) {
    for (let b = 0; b < 10; b += 1) {
      const events = Array.from({ length: 1000 }, (_, i) => ({
        id: `huge-${d}-${b}-${i}`, provider: 'acme', model: 'x', cost: '1000000', credits: '1000000000',
        timestamp: `${date}T12:00:00Z`, ...(d === 0 ? { job_id: `job-${b}-${i}` } : {}),
      }));
      const r = await w.fetch('/api/usage', { method: 'POST', key: ADMIN_KEY, body: { project_id: 'huge', events } });
      assert.equal(r.status, 201, r.text);
    }
  }
  const MAX = 9223372036854775807n;
  const report = await w.fetch(`/api/admin/usage?project_id=huge&from=${first}&to=${second}&group=day`, { key: ADMIN_KEY });
  assert.equal(report.status, 200, report.text);
  // 10,000 events of a million dollars a day: 10^19 nano-dollars, past 2^63 - 1.
  assert.ok(10n ** 19n > MAX);
  const [DAY, TWO] = ['10000000000.00', '20000000000.00'];
  assert.deepEqual(report.json.rows.map((r) => r.cost[0].amount), [DAY, DAY], 'each day exact past 2^63 - 1');
  assert.equal(report.json.totals.cost[0].amount, TWO, 'and their sum exact');
  assert.equal(report.json.totals.events, 20000);
  // The same by New York day: a period plan, whose stretches of quarter hours are summed in
  // parts before their signs apply (12:00 UTC is the morning of the same day there).
  const local = await w.fetch(`/api/admin/usage?project_id=huge&from=${first}&to=${second}&group=day&tz=America/New_York`, { key: ADMIN_KEY });
  assert.equal(local.status, 200, local.text);
  assert.equal(local.json.source, 'usage_daily+usage_quarter_hours');
  assert.deepEqual(local.json.rows.map((r) => [r.period, r.cost[0].amount, r.events]), [[first, DAY, 10000], [second, DAY, 10000]]);
  assert.equal(local.json.totals.cost[0].amount, TWO);
  for (const path of ['/api/usage/stats?project_id=huge', `/api/analytics/usage-summary?from=${first}&to=${second}`,
    '/api/analytics/realtime-usage', '/api/admin/usage/jobs/summary?preset=all&project_id=huge', '/api/admin/usage?preset=all']) {
    const r = await w.fetch(path, { key: ADMIN_KEY });
    assert.equal(r.status, 200, `${path}: ${r.text}`);
  }
  const jobs = await w.fetch('/api/admin/usage/jobs/summary?preset=all&project_id=huge', { key: ADMIN_KEY });
  const whole = jobs.json.rows.find((r) => r.operation === 'all');
  assert.deepEqual([whole.jobs, whole.total.amount, whole.max.amount], [10000, '10000000000.00', '1000000.00'], 'ten thousand jobs of a million, summed exactly');
});

test('IDR totals past 2^63 - 1 nano-units are exact in every report, the CSV, the budget and the plans', async () => {
  await w.fetch('/api/admin/projects', { method: 'POST', key: ADMIN_KEY, body: { id: 'rupiah', name: 'rupiah' } });
  const budget = await w.fetch('/api/admin/projects/rupiah/budget', { method: 'PATCH', key: ADMIN_KEY, body: { budget: { amount: '50000000000', currency: 'IDR' } } });
  assert.equal(budget.status, 200, budget.text);
  const plan = await w.fetch('/api/admin/subscriptions', { method: 'PUT', key: ADMIN_KEY, body: { provider: 'rupiah-ai', project_id: 'rupiah', monthly_fee: '0', currency: 'IDR' } });
  assert.equal(plan.status, 200, plan.text);
  // 10,000 events of 999,999.123456789 IDR today: 9,999,991,234.56789 IDR in one rollup row
  // (9,999,991,234,567,890,000 nano-units, past 2^63 - 1 = 9,223,372,036,854,775,807).
  const now = new Date(Date.now() - 60_000).toISOString();
  for (let b = 0; b < 10; b += 1) {
    const events = Array.from({ length: 1000 }, (_, i) => ({
      id: `idr-${b}-${i}`, provider: 'rupiah-ai', model: 'm', cost: '999999.123456789', currency: 'IDR', timestamp: now,
    }));
    const r = await w.fetch('/api/usage', { method: 'POST', key: ADMIN_KEY, body: { project_id: 'rupiah', events } });
    assert.equal(r.status, 201, r.text);
  }
  const exact = '9999991234.56789';
  const idr = (list) => list.find((m) => m.currency === 'IDR')?.amount;
  const day = now.slice(0, 10);
  const report = await w.fetch(`/api/admin/usage?project_id=rupiah&from=${day}&to=${day}&group=day`, { key: ADMIN_KEY });
  assert.equal(report.status, 200, report.text);
  assert.deepEqual([idr(report.json.rows[0].cost), idr(report.json.totals.cost)], [exact, exact]);
  const csv = await w.fetch(`/api/admin/usage?project_id=rupiah&from=${day}&to=${day}&group=day&format=csv`, { key: ADMIN_KEY });
  assert.equal(csv.status, 200, csv.text);
  const [header, row] = csv.text.trim().split('\n').map((l) => l.split(','));
  assert.equal(row[header.indexOf('cost_idr')], exact, csv.text);
  const summary = await w.fetch(`/api/analytics/usage-summary?from=${day}&to=${day}`, { key: ADMIN_KEY });
  assert.equal(idr(summary.json.totals.cost), exact, summary.text);
  const stats = await w.fetch('/api/usage/stats?project_id=rupiah', { key: ADMIN_KEY });
  assert.deepEqual([idr(stats.json.today.totals.cost), idr(stats.json.month.totals.cost)], [exact, exact], stats.text);
  assert.equal(stats.json.budget.spend.amount, exact);
  const status = await w.fetch('/api/admin/projects/rupiah/budget', { key: ADMIN_KEY });
  assert.deepEqual([status.json.status.spend.amount, status.json.status.spend.currency], [exact, 'IDR']);
  const plans = await w.fetch('/api/admin/subscriptions', { key: ADMIN_KEY });
  assert.equal(idr(plans.json.usage_spend), exact, plans.text);
  const mine = plans.json.subscriptions.find((p) => p.provider === 'rupiah-ai');
  assert.deepEqual([mine.unit, mine.used], ['money', exact], 'the plan counts the exact spend');
});

test('a problem across fields names each field as the app spelled it: seed 004\'s total_tokens, OpenAI\'s cached_tokens', async () => {
  const before = (await rawKeys()).length;
  const total = await record({ provider: 'openai', model: 'gpt-4', input_tokens: 1500, output_tokens: 500, total_tokens: 1999 }, keys.ads, '/api/usage/log');
  assert.deepEqual([total.status, total.json.error.details.map((d) => d.field)], [400, ['total_tokens']], total.text);
  const cached = await record({ events: [{ provider: 'openai', model: 'gpt-4o', prompt_tokens: 100, cached_tokens: 200, completion_tokens: 5 }] });
  assert.deepEqual([cached.status, cached.json.error.details.map((d) => d.field)], [400, ['events[0].cached_tokens']], cached.text);
  const own = await record({ provider: 'openai', model: 'gpt-4', input_tokens: 1500, output_tokens: 500, tokens: 1999 });
  assert.deepEqual(own.json.error.details.map((d) => d.field), ['tokens']);
  assert.equal((await rawKeys()).length, before, 'nothing was written');
});
