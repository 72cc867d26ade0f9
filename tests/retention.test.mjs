// Retention: pruning old raw rows from D1 (by the cron and on demand) keeps every rollup,
// report, job total and summary exact, and nothing pruned is ever counted twice.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWorker, ADMIN_KEY } from './support/worker.mjs';

const DAY_MS = 86_400_000;
const dayOf = (ms) => new Date(ms).toISOString().slice(0, 10);
const today = dayOf(Date.now());
const daysAgo = (n) => dayOf(Date.now() - n * DAY_MS);

let w;
let bucket;
const rows = async (sql, ...args) => (await w.db.prepare(sql).bind(...args).all()).results;
const get = async (path) => {
  const r = await w.fetch(path, { key: ADMIN_KEY });
  assert.equal(r.status, 200, `${path}: ${r.text}`);
  return r.json;
};

before(async () => {
  // Raw rows stay 10 days; events may arrive 5 days late.
  w = await startWorker({ bindings: { USAGE_RETENTION_DAYS: '10', MAX_EVENT_AGE_DAYS: '5' } });
  bucket = await w.mf.getR2Bucket('USAGE_BUCKET');
  const created = await w.fetch('/api/admin/projects', { method: 'POST', key: ADMIN_KEY, body: { id: 'ads', name: 'Ads' } });
  assert.equal(created.status, 201, created.text);
  // Today's usage, through the API.
  const sent = await w.fetch('/api/usage', {
    method: 'POST',
    key: ADMIN_KEY,
    body: {
      project_id: 'ads',
      events: [
        { id: 'now-1', provider: 'openai', model: 'gpt-4o', operation: 'script-generation', input_tokens: 1000, output_tokens: 500, job_id: 'clip-9' },
        { id: 'now-2', provider: 'elevenlabs', model: 'eleven_multilingual_v2', operation: 'voice-synthesis', characters: 1200, job_id: 'clip-9' },
      ],
    },
  });
  assert.equal(sent.status, 201, sent.text);
  // Older history, imported the way a restore does it: raw-log objects of their own days,
  // replayed into D1 by the rebuild (late events cannot come through the API any more).
  const [line] = (await (await bucket.get(sent.json.raw_object)).text()).split('\n');
  const template = JSON.parse(line);
  const history = [
    [40, 'old-1', 'clip-1'], [40, 'old-2', 'clip-1'], [20, 'old-3', 'clip-2'], [20, 'old-4', 'clip-3'], [8, 'recent-1', 'clip-3'],
  ];
  for (const [ago, id, job] of history) {
    const event = { ...template, id, job_id: job, request_timestamp: `${daysAgo(ago)}T10:00:00.000Z` };
    await bucket.put(`usage-logs/raw/${daysAgo(ago)}/import-${id}.ndjson`, `${JSON.stringify(event)}\n`);
  }
  const replay = await w.fetch('/api/admin/rebuild', { method: 'POST', key: ADMIN_KEY, body: { from: daysAgo(40), to: daysAgo(8) } });
  assert.equal(replay.status, 200, replay.text);
  assert.equal(replay.json.inserted, 5, replay.text);
});
after(async () => w?.dispose());

/** Everything the reports read: the rollups, job totals, and the answers built on them. */
async function totals() {
  const report = await get('/api/admin/usage?group=day,provider,operation&preset=all');
  const jobs = await get('/api/admin/usage/jobs?preset=all');
  return {
    daily: await rows('SELECT * FROM usage_daily ORDER BY day, project_id, provider, model, operation, currency'),
    hourly: await rows('SELECT * FROM usage_quarter_hours ORDER BY quarter, project_id, provider, model, operation, currency'),
    usageJobs: await rows('SELECT * FROM usage_jobs ORDER BY project_id, job_id, operation, provider, currency'),
    jobs: await rows('SELECT * FROM jobs ORDER BY project_id, job_id'),
    report: { rows: report.rows, totals: report.totals },
    jobList: jobs,
  };
}

test('the cron prunes raw rows of days past the retention and every rollup, report and job total stays exact', async () => {
  const status = await get('/api/admin/retention');
  assert.deepEqual(
    [status.retention_days, status.max_event_age_days, status.pruned_before, status.next_pruned_before, status.problem],
    [10, 5, null, daysAgo(10), null],
  );
  const before = await totals();
  assert.equal(before.daily.reduce((n, r) => n + r.events, 0), 7);
  // An acknowledgement of an object received 40 days ago, as ingestion wrote it then.
  const oldAck = `usage-logs/raw/${daysAgo(40)}/${daysAgo(40).replace(/-/g, '')}T100000000Z-${'c'.repeat(32)}.ndjson`;
  await w.db.prepare('INSERT INTO raw_log_acks (key, duplicates) VALUES (?1, NULL)').bind(oldAck).run();
  const acksBefore = (await rows("SELECT key FROM raw_log_acks WHERE key <> ''")).map((r) => r.key);

  await (await w.mf.getWorker()).scheduled({ cron: '0 */6 * * *' });

  const acksAfter = (await rows('SELECT key FROM raw_log_acks')).map((r) => r.key);
  assert.deepEqual(acksAfter, ['', ...acksBefore.filter((k) => k !== oldAck)], 'acknowledgements of objects before the watermark go, the others and the start row stay');
  assert.ok(acksAfter.length >= 2, 'today\'s request is acknowledged');

  assert.deepEqual((await rows('SELECT id FROM api_usage ORDER BY id')).map((r) => r.id), ['now-1', 'now-2', 'recent-1']);
  assert.deepEqual(await totals(), before);
  // Closed days were summarised by the same cron run; pruning queued none of them again.
  assert.deepEqual((await rows('SELECT day FROM summary_dirty_days')).map((r) => r.day), [today]);
  const summary = JSON.parse(await (await bucket.get(`usage-logs/daily/${daysAgo(40)}.json`)).text());
  assert.equal(summary.totals.events, 2, 'the summary of a pruned day still counts its events');
  const after = await get('/api/admin/retention');
  assert.deepEqual([after.pruned_before, after.rows_pruned], [daysAgo(10), 4]);
  assert.ok(after.last_pruned_at.startsWith(today));
  const listed = await get(`/api/usage?project_id=ads&from=${daysAgo(45)}`);
  assert.deepEqual(listed.events.map((e) => e.id).sort(), ['now-1', 'now-2', 'recent-1'], 'only retained rows are listed');
  assert.equal(listed.pruned_before, daysAgo(10), 'the listing says its range reaches before the pruned days');
  assert.equal((await get(`/api/usage?project_id=ads&from=${daysAgo(9)}`)).pruned_before, null);
});

test('replaying the raw log over pruned days counts nothing twice, and a pass on demand finds nothing more', async () => {
  const before = await totals();

  const replay = await w.fetch('/api/admin/rebuild', { method: 'POST', key: ADMIN_KEY, body: { from: daysAgo(40), to: today } });
  const pass = await w.fetch('/api/admin/retention/prune', { method: 'POST', key: ADMIN_KEY });
  const reprice = await w.fetch('/api/admin/usage/reprice', { method: 'POST', key: ADMIN_KEY, body: { dry_run: true } });

  assert.equal(replay.status, 200, replay.text);
  assert.deepEqual(
    [replay.json.inserted, replay.json.already_stored, replay.json.pruned, replay.json.pruned_before],
    [0, 3, 4, daysAgo(10)],
  );
  assert.equal(pass.status, 200, pass.text);
  assert.deepEqual(pass.json, { retention_days: 10, pruned_before: daysAgo(10), rows_deleted: 0, done: true });
  assert.equal(reprice.status, 200, reprice.text);
  assert.deepEqual([reprice.json.examined, reprice.json.pruned_before], [3, daysAgo(10)], 're-pricing sees the retained rows and says which days it cannot reach');
  assert.deepEqual(await totals(), before);
  assert.equal((await rows('SELECT COUNT(*) AS n FROM api_usage'))[0].n, 3);
});

test('deleting a retained row still takes it out of the rollups', async () => {
  const [before] = await rows("SELECT SUM(events) AS n FROM usage_daily WHERE day = ?", today);
  await w.db.prepare("DELETE FROM api_usage WHERE id = 'now-1'").run();
  const [after] = await rows("SELECT SUM(events) AS n FROM usage_daily WHERE day = ?", today);
  assert.equal(after.n, before.n - 1);
});

test('a retention not longer than the late-arrival window prunes nothing and says why, and days already pruned stay closed', async () => {
  const other = await startWorker({ bindings: { USAGE_RETENTION_DAYS: '5', MAX_EVENT_AGE_DAYS: '30' } });
  try {
    // An earlier prune, under an earlier configuration, left the watermark 10 days back.
    const watermark = dayOf(Date.now() - 10 * DAY_MS);
    await other.db.prepare('INSERT INTO usage_retention (id, pruned_before) VALUES (1, ?)').bind(watermark).run();
    await other.fetch('/api/admin/projects', { method: 'POST', key: ADMIN_KEY, body: { id: 'ads', name: 'Ads' } });
    const send = (id, ago) => other.fetch('/api/usage', {
      method: 'POST',
      key: ADMIN_KEY,
      body: { project_id: 'ads', id, provider: 'openai', model: 'gpt-4o', input_tokens: 10, timestamp: `${dayOf(Date.now() - ago * DAY_MS)}T10:00:00Z` },
    });

    const tooOld = await send('late', 20);
    const fine = await send('recent', 3);
    const status = await other.fetch('/api/admin/retention', { key: ADMIN_KEY });
    const pass = await other.fetch('/api/admin/retention/prune', { method: 'POST', key: ADMIN_KEY });
    await (await other.mf.getWorker()).scheduled({ cron: '0 */6 * * *' });

    assert.equal(tooOld.status, 400, tooOld.text);
    assert.deepEqual(tooOld.json.error.details.map((d) => d.field), ['timestamp']);
    assert.match(tooOld.json.error.details[0].message, new RegExp(`falls before ${watermark}`));
    assert.equal(fine.status, 201, fine.text);
    assert.match(status.json.problem, /USAGE_RETENTION_DAYS \(5\) must be greater than MAX_EVENT_AGE_DAYS \(30\)/);
    assert.deepEqual([status.json.pruned_before, status.json.next_pruned_before], [watermark, null]);
    assert.equal(pass.status, 409, pass.text);
    assert.match(pass.json.error.message, /MAX_EVENT_AGE_DAYS/);
    assert.deepEqual((await other.db.prepare('SELECT id FROM api_usage').all()).results, [{ id: 'recent' }]);
    const [state] = (await other.db.prepare('SELECT pruned_before, rows_pruned FROM usage_retention').all()).results;
    assert.deepEqual(state, { pruned_before: watermark, rows_pruned: 0 }, 'a refused prune moves nothing');
  } finally {
    await other.dispose();
  }
});

test('without a retention the status says every row is kept and a pass changes nothing', async () => {
  const plain = await startWorker();
  try {
    const status = await plain.fetch('/api/admin/retention', { key: ADMIN_KEY });
    const pass = await plain.fetch('/api/admin/retention/prune', { method: 'POST', key: ADMIN_KEY });
    assert.deepEqual([status.json.retention_days, status.json.pruned_before, status.json.problem], [null, null, null]);
    assert.deepEqual(pass.json, { retention_days: null, pruned_before: null, rows_deleted: 0, done: true });
    const asProject = await plain.fetch('/api/admin/retention', {});
    assert.equal(asProject.status, 401);
  } finally {
    await plain.dispose();
  }
});
