// An upgrade, not a fresh database: rows stored under migrations up to 0022 (through their
// triggers), then 0023 (fewer writes per event) and 0024 (job_days) applied on top, as
// `wrangler d1 migrations apply` does on a deployment that already holds usage.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Miniflare } from 'miniflare';
import { unstable_splitSqlQuery } from 'wrangler';
import { ROOT } from './support/worker.mjs';

let mf;
let db;
const MIGRATIONS = readdirSync(join(ROOT, 'migrations')).filter((f) => f.endsWith('.sql')).sort();
/** A Miniflare with an empty D1 database `DB` and nothing else: answers [miniflare, db]. */
const freshDatabase = async () => {
  const own = new Miniflare({
    modules: true,
    script: 'export default { fetch() { return new Response("") } }',
    d1Databases: ['DB'],
  });
  return [own, await own.getD1Database('DB')];
};
/** Applies migration `files` to `d`, each file as `wrangler d1 migrations apply` splits it. */
const applyTo = async (d, files) => {
  for (const file of files) {
    const statements = unstable_splitSqlQuery(readFileSync(join(ROOT, 'migrations', file), 'utf8'));
    await d.batch(statements.map((sql) => d.prepare(sql)));
  }
};
const apply = (files) => applyTo(db, files);
const all = async (sql, ...binds) => (await db.prepare(sql).bind(...binds).all()).results;
const addProject = (d, id) => d.prepare(`INSERT INTO projects (id, name, created_at, updated_at)
  VALUES (?1, ?1, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')`).bind(id).run();
/** A priced token event stored into `d` through its triggers, as any schema version stores it. */
const insertInto = (d, project, id, operation, provider, timestamp, job, nanos) =>
  d.prepare(`INSERT INTO api_usage (project_id, id, provider, model, operation, input_tokens, output_tokens,
      total_tokens, cost, cost_nanos, currency, computed_cost_nanos, computed_currency, price_id, request_timestamp, job_id)
    VALUES (?1, ?2, ?3, 'm', ?4, 10, 5, 15, '0.000001', ?5, 'USD', ?5, 'USD', 'builtin:x', ?6, ?7)`)
    .bind(project, id, provider, operation, nanos, timestamp, job).run();
const insert = (...args) => insertInto(db, ...args);

before(async () => {
  [mf, db] = await freshDatabase();
  await apply(MIGRATIONS.filter((f) => f < '0023'));
  await addProject(db, 'up');
  // Job j1: its script call, its voice call, a second script call; job j2 on another day.
  await insert('up', 'e1', 'script', 'openai', '2026-11-02T10:00:00.000Z', 'j1', 1000);
  await insert('up', 'e2', 'voice', 'elevenlabs', '2026-11-02T10:05:00.000Z', 'j1', 2000);
  await insert('up', 'e3', 'script', 'openai', '2026-11-02T10:09:00.000Z', 'j1', 3000);
  await insert('up', 'e4', 'script', 'openai', '2026-11-03T08:00:00.000Z', 'j2', 4000);
  await insert('up', 'e5', 'script', 'openai', '2026-11-03T09:00:00.000Z', null, 5000);
  await apply(MIGRATIONS.filter((f) => f >= '0023'));
});
after(() => mf?.dispose());

test("an upgrade keeps each job part's own last call, its calls and cost, and each job's first call", async () => {
  const parts = await all('SELECT job_id, operation, calls, cost_nanos, last_seen FROM usage_jobs ORDER BY job_id, operation');
  assert.deepEqual(parts, [
    { job_id: 'j1', operation: 'script', calls: 2, cost_nanos: 4000, last_seen: '2026-11-02T10:09:00.000Z' },
    // Its own last call, not the job's (10:09).
    { job_id: 'j1', operation: 'voice', calls: 1, cost_nanos: 2000, last_seen: '2026-11-02T10:05:00.000Z' },
    { job_id: 'j2', operation: 'script', calls: 1, cost_nanos: 4000, last_seen: '2026-11-03T08:00:00.000Z' },
  ]);
  assert.deepEqual(await all('SELECT job_id, first_seen FROM jobs ORDER BY job_id'), [
    { job_id: 'j1', first_seen: '2026-11-02T10:00:00.000Z' },
    { job_id: 'j2', first_seen: '2026-11-03T08:00:00.000Z' },
  ]);
});

test('an upgrade counts the jobs already stored per day of their first call', async () => {
  assert.deepEqual(await all('SELECT project_id, day, jobs FROM job_days ORDER BY day'), [
    { project_id: 'up', day: '2026-11-02', jobs: 1 },
    { project_id: 'up', day: '2026-11-03', jobs: 1 },
  ]);
});

test('an upgrade leaves every changed day due for its summary, and drops the indexes 0023 retires', async () => {
  const days = await all('SELECT day, state FROM summary_dirty_days ORDER BY day');
  assert.deepEqual(days, [{ day: '2026-11-02', state: 1 }, { day: '2026-11-03', state: 1 }]);
  const indexes = (await all("SELECT name FROM sqlite_master WHERE type = 'index' AND name IN ('api_usage_by_time', 'api_usage_by_job', 'usage_jobs_by_operation')"));
  assert.deepEqual(indexes, []);
});

test('events stored after an upgrade extend the parts and jobs the upgrade carried over', async () => {
  await insert('up', 'e6', 'voice', 'elevenlabs', '2026-11-02T10:20:00.000Z', 'j1', 6000);
  await insert('up', 'e7', 'script', 'openai', '2026-11-04T07:00:00.000Z', 'j3', 7000);
  const voice = await all("SELECT calls, cost_nanos, last_seen FROM usage_jobs WHERE job_id = 'j1' AND operation = 'voice'");
  assert.deepEqual(voice, [{ calls: 2, cost_nanos: 8000, last_seen: '2026-11-02T10:20:00.000Z' }]);
  assert.deepEqual(await all('SELECT day, jobs FROM job_days ORDER BY day'), [
    { day: '2026-11-02', jobs: 1 },
    { day: '2026-11-03', jobs: 1 },
    { day: '2026-11-04', jobs: 1 },
  ]);
});

test('an upgrade keeps every event of a job at or after its first call, one a replay moved earlier before it too', async () => {
  // Under 0022 a replay that moves an event (rebuild, equal fingerprints) left `jobs` as it
  // was; from 0023 a job's events are read from its first call on, so the upgrade must start
  // each job no later than its earliest stored event.
  const [own, d] = await freshDatabase();
  try {
    await applyTo(d, MIGRATIONS.filter((f) => f < '0023'));
    await addProject(d, 'mv');
    const add = (id, timestamp) => insertInto(d, 'mv', id, 'script', 'openai', timestamp, 'jm', 1000);
    await add('m1', '2026-11-05T10:00:00.000Z');
    await add('m2', '2026-11-05T11:00:00.000Z');
    // The replay's move, as 0022's triggers saw it: `jobs` still says 10:00 on the 5th.
    await d.prepare("UPDATE api_usage SET request_timestamp = '2026-11-04T09:00:00.000Z' WHERE id = 'm2'").run();
    await applyTo(d, MIGRATIONS.filter((f) => f >= '0023'));
    const first = (await d.prepare("SELECT first_seen FROM jobs WHERE job_id = 'jm'").all()).results;
    assert.deepEqual(first, [{ first_seen: '2026-11-04T09:00:00.000Z' }]);
    // The job's events as the event list reads them (between its first and last call).
    const span = (await d.prepare(`SELECT id FROM api_usage WHERE project_id = 'mv' AND job_id = 'jm'
        AND request_timestamp >= (SELECT MIN(first_seen) FROM jobs WHERE job_id = 'jm' AND project_id = 'mv')
        AND request_timestamp <= (SELECT MAX(last_seen) FROM usage_jobs WHERE job_id = 'jm' AND project_id = 'mv')
      ORDER BY id`).all()).results;
    assert.deepEqual(span, [{ id: 'm1' }, { id: 'm2' }]);
    const days = (await d.prepare("SELECT day, jobs FROM job_days WHERE project_id = 'mv' AND jobs <> 0").all()).results;
    assert.deepEqual(days, [{ day: '2026-11-04', jobs: 1 }]);
  } finally {
    await own.dispose();
  }
});

test('an event moved to another day leaves both days due for their summaries', async () => {
  // A replay moves a stored event to the time of a later line of the same event: the day it
  // left had it in its summary, so that day is due again as well as the one it moved to.
  const [own, d] = await freshDatabase();
  try {
    await applyTo(d, MIGRATIONS);
    await addProject(d, 'dd');
    await insertInto(d, 'dd', 'd1', 'script', 'openai', '2026-11-05T10:00:00.000Z', null, 1000);
    // The cron wrote the 5th's summary and cleared its mark.
    await d.prepare('DELETE FROM summary_dirty_days').run();
    await d.prepare("UPDATE api_usage SET request_timestamp = '2026-11-06T01:00:00.000Z' WHERE id = 'd1'").run();
    const days = (await d.prepare('SELECT day, state FROM summary_dirty_days ORDER BY day').all()).results;
    assert.deepEqual(days, [{ day: '2026-11-05', state: 1 }, { day: '2026-11-06', state: 1 }]);
  } finally {
    await own.dispose();
  }
});

test('an upgrade to 0028 keeps apart the characters of events that reported no credits, summed again where a rollup row held both kinds', async () => {
  const [own, d] = await freshDatabase();
  try {
    await applyTo(d, MIGRATIONS.filter((f) => f < '0028'));
    await addProject(d, 'voices');
    const voice = (id, timestamp, characters, credits) => d.prepare(`INSERT INTO api_usage (project_id, id, provider, model,
        operation, characters, credits_micros, currency, request_timestamp)
      VALUES ('voices', ?1, 'elevenlabs', 'eleven_multilingual_v2', 'tts', ?2, ?3, 'USD', ?4)`)
      .bind(id, characters, credits, timestamp).run();
    // Day 1: both kinds in one quarter hour; day 2: characters only; day 3: credits only.
    await voice('a', '2026-11-01T10:01:00.000Z', 500, 150_000_000);
    await voice('b', '2026-11-01T10:07:00.000Z', 1000, 0);
    await voice('c', '2026-11-01T10:20:00.000Z', 300, 0);
    await voice('d', '2026-11-02T09:00:00.000Z', 700, 0);
    await voice('e', '2026-11-03T09:00:00.000Z', 400, 90_000_000);
    await applyTo(d, MIGRATIONS.filter((f) => f >= '0028'));
    const rowsOf = async (sql) => (await d.prepare(sql).all()).results;
    assert.deepEqual(await rowsOf('SELECT day, characters, credits_micros, uncredited_characters FROM usage_daily ORDER BY day'), [
      { day: '2026-11-01', characters: 1800, credits_micros: 150_000_000, uncredited_characters: 1300 },
      { day: '2026-11-02', characters: 700, credits_micros: 0, uncredited_characters: 700 },
      { day: '2026-11-03', characters: 400, credits_micros: 90_000_000, uncredited_characters: 0 },
    ]);
    assert.deepEqual(await rowsOf("SELECT quarter, uncredited_characters FROM usage_quarter_hours WHERE quarter < '2026-11-02' ORDER BY quarter"), [
      { quarter: '2026-11-01T10:00', uncredited_characters: 1000 },
      { quarter: '2026-11-01T10:15', uncredited_characters: 300 },
    ]);
    // After the upgrade the triggers keep the column: a new event, then its re-pricing update
    // and its delete.
    await voice('f', '2026-11-03T09:05:00.000Z', 250, 0);
    const day3 = "SELECT uncredited_characters AS u FROM usage_daily WHERE day = '2026-11-03'";
    assert.deepEqual(await rowsOf(day3), [{ u: 250 }]);
    await d.prepare("UPDATE api_usage SET cost_nanos = 5 WHERE id = 'f'").run();
    assert.deepEqual(await rowsOf(day3), [{ u: 250 }]);
    await d.prepare("DELETE FROM api_usage WHERE id = 'f'").run();
    assert.deepEqual(await rowsOf(day3), [{ u: 0 }]);
  } finally {
    await own.dispose();
  }
});
