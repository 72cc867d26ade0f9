// What one event costs in D1 rows written (as D1 bills them: table rows and index entries,
// trigger writes included), and the dirty-day mark the cron's summaries depend on, against the
// built worker (migrations/0023_fewer_writes.sql).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCountingWorker, ADMIN_KEY } from './support/counting.mjs';

let w;
let key;
let serial = 0;
const at = new Date(Date.now() - 60_000).toISOString();
const call = (extra = {}) => {
  serial += 1;
  return { id: `wr-${serial}`, provider: 'openai', model: 'gpt-4o-mini', operation: 'summary', input_tokens: 900, output_tokens: 200, timestamp: at, ...extra };
};
const record = async (body) => {
  const r = await w.fetch('/api/usage', { method: 'POST', key, body });
  assert.equal(r.status, 201, r.text);
  return r;
};
/** The UTC day `n` days ago, YYYY-MM-DD (within the late-arrival window). */
const daysAgo = (n) => new Date(Date.now() - n * 86_400_000).toISOString().slice(0, 10);
const dirty = async () => (await w.db.prepare('SELECT day, state FROM summary_dirty_days ORDER BY day').all()).results;

before(async () => {
  w = await startCountingWorker({ bindings: { INGEST_ALERTS: 'off' } });
  await w.fetch('/api/admin/projects', { method: 'POST', key: ADMIN_KEY, body: { id: 'wr', name: 'Writes' } });
  key = (await w.fetch('/api/admin/projects/wr/keys', { method: 'POST', key: ADMIN_KEY })).json.key;
});
after(() => w?.dispose());

test('a priced event writes five rows, six with a job seen before, each request one more for its raw object, and a batch three per event and one per rollup row', async () => {
  // The first of its day, rollup keys and job write more (new rows and their index entries).
  await record(call());
  await record(call({ job_id: 'clip-1' }));
  // The row, its key, the (project, time) index, the day and quarter-hour rollups, and per
  // request its raw object's acknowledgement (`raw_log_acks`): nothing else.
  assert.equal((await record(call())).rowsWritten, 5 + 1);
  // A job's later call adds only its part's upsert (`usage_jobs`).
  assert.equal((await record(call({ job_id: 'clip-1' }))).rowsWritten, 6 + 1);
  // A batch writes its rows (the row, its key, the (project, time) index) and adds to its
  // day's and quarter hour's rollup row once for all of them (migrations/0025).
  const batch = await record({ events: Array.from({ length: 50 }, () => call()) });
  assert.equal(batch.rowsWritten, 3 * 50 + 2 + 1);
  const jobs = await record({ events: Array.from({ length: 50 }, () => call({ job_id: 'clip-1' })) });
  assert.equal(jobs.rowsWritten, 3 * 50 + 3 + 1);
});

/** What the insert triggers would have summed, computed from the stored rows themselves. */
const SUMS = `count(*), sum(cost_nanos IS NULL), sum(coalesce(cost_nanos, 0)), sum(cached), sum(1 - success),
  sum(coalesce(duration_ms, 0)), sum(input_tokens), sum(output_tokens), sum(total_tokens), sum(cached_input_tokens),
  sum(cache_write_tokens), sum(reasoning_tokens), sum(audio_input_tokens), sum(audio_output_tokens), sum(characters),
  sum(audio_seconds_micros), sum(video_seconds_micros), sum(images), sum(requests), sum(tracks), sum(credits_micros),
  sum((credits_micros = 0) * characters)`;
const ROLLUP = `events, unpriced_events, cost_carry * 1000000000000000000 + cost_nanos, cache_hits, failed_events,
  duration_ms, input_tokens, output_tokens, total_tokens, cached_input_tokens, cache_write_tokens, reasoning_tokens,
  audio_input_tokens, audio_output_tokens, characters, audio_seconds_micros, video_seconds_micros, images, requests,
  tracks, credits_micros, uncredited_characters`;
const QUARTER = `substr(request_timestamp, 1, 14) || CASE WHEN substr(request_timestamp, 15, 2) < '15' THEN '00'
  WHEN substr(request_timestamp, 15, 2) < '30' THEN '15' WHEN substr(request_timestamp, 15, 2) < '45' THEN '30' ELSE '45' END`;
const rows = async (sql, ...binds) => (await w.db.prepare(sql).bind(...binds).raw());

test("a batch's rollups, written once for the batch, equal the sums of its stored rows, as do those of a batch with a stored event that takes the triggers' way", async () => {
  await w.fetch('/api/admin/projects', { method: 'POST', key: ADMIN_KEY, body: { id: 'rb', name: 'Rollups' } });
  const rbKey = (await w.fetch('/api/admin/projects/rb/keys', { method: 'POST', key: ADMIN_KEY })).json.key;
  const send = async (events, status = 201) => {
    const r = await w.fetch('/api/usage', { method: 'POST', key: rbKey, body: { events } });
    assert.equal(r.status, status, r.text);
    return r.json;
  };
  // Two days, several quarter hours, priced and unpriced models, client-priced costs in
  // another currency, cache hits, failures, durations, jobs over operations and days.
  const day1 = daysAgo(2);
  const day2 = daysAgo(1);
  const times = [`${day1}T10:05:00.000Z`, `${day1}T10:20:30.000Z`, `${day1}T23:59:59.999Z`, `${day2}T00:14:59.000Z`, `${day2}T00:45:00.000Z`];
  const kinds = [
    { provider: 'openai', model: 'gpt-4o-mini', operation: 'summary', input_tokens: 900, output_tokens: 200 },
    { provider: 'openai', model: 'gpt-4o-mini', operation: 'title', input_tokens: 40, output_tokens: 9, cached: true },
    { provider: 'elevenlabs', model: 'eleven_multilingual_v2', operation: 'tts', characters: 1200 },
    // Credits reported beside characters: those characters are not uncredited.
    { provider: 'elevenlabs', model: 'eleven_multilingual_v2', operation: 'tts', characters: 500, credits: '150' },
    { provider: 'acme', model: 'no-such-model', operation: 'chat', input_tokens: 7, output_tokens: 3 },
    { provider: 'acme', model: 'own-priced', operation: 'chat', tokens: 55, cost: '0.25', currency: 'EUR', success: false, duration_ms: 1234 },
  ];
  const event = (n) => ({
    id: `rb-${n}`,
    ...kinds[n % kinds.length],
    timestamp: times[(n + Math.floor(n / kinds.length)) % times.length],
    ...(n % 3 === 0 ? { job_id: `job-${n % 4}` } : {}),
    ...(n % 7 === 0 ? { duration_ms: n * 11 } : {}),
  });
  const first = Array.from({ length: 40 }, (_, n) => event(n));
  const answer = await send(first);
  assert.equal(answer.stored, 40);
  await send(Array.from({ length: 40 }, (_, n) => event(40 + n)));
  // A batch holding an event stored before: its rows are not all new, so it is written again
  // the per-row way, and the stored event is answered a duplicate.
  const mixed = await send([event(5), ...Array.from({ length: 10 }, (_, n) => event(80 + n))]);
  assert.deepEqual([mixed.stored, mixed.duplicates], [10, 1]);
  // A retry of the first batch stores nothing and adds nothing (200: nothing new).
  const retry = await send(first, 200);
  assert.deepEqual([retry.stored, retry.duplicates], [0, 40]);

  const flags = await rows("SELECT rolled_up, count(*) FROM api_usage WHERE project_id = 'rb' GROUP BY 1 ORDER BY 1");
  assert.deepEqual(flags, [[0, 10], [1, 80]], 'both ways were taken');
  const expectDaily = await rows(`SELECT substr(request_timestamp, 1, 10), provider, model, operation, currency, ${SUMS}
    FROM api_usage WHERE project_id = 'rb' GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5`);
  assert.ok(expectDaily.length >= 8, `${expectDaily.length} rollup rows`);
  assert.deepEqual(await rows(`SELECT day, provider, model, operation, currency, ${ROLLUP}
    FROM usage_daily WHERE project_id = 'rb' ORDER BY 1, 2, 3, 4, 5`), expectDaily);
  assert.deepEqual(await rows(`SELECT quarter, provider, model, operation, currency, ${ROLLUP}
    FROM usage_quarter_hours WHERE project_id = 'rb' ORDER BY 1, 2, 3, 4, 5`),
  await rows(`SELECT ${QUARTER}, provider, model, operation, currency, ${SUMS}
    FROM api_usage WHERE project_id = 'rb' GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5`));
  assert.deepEqual(await rows(`SELECT job_id, operation, provider, currency, calls, unpriced_calls,
    cost_carry * 1000000000000000000 + cost_nanos, last_seen FROM usage_jobs WHERE project_id = 'rb' ORDER BY 1, 2, 3, 4`),
  await rows(`SELECT job_id, operation, provider, currency, count(*), sum(cost_nanos IS NULL), sum(coalesce(cost_nanos, 0)),
    max(request_timestamp) FROM api_usage WHERE project_id = 'rb' AND job_id IS NOT NULL GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4`));
  assert.deepEqual(await rows("SELECT job_id, first_seen FROM jobs WHERE project_id = 'rb' ORDER BY 1"),
    await rows("SELECT job_id, min(request_timestamp) FROM api_usage WHERE project_id = 'rb' AND job_id IS NOT NULL GROUP BY 1 ORDER BY 1"));
  const days = (await dirty()).map((d) => d.day);
  assert.ok(days.includes(day1) && days.includes(day2), JSON.stringify(days));
});

test('only the first event of a day writes its dirty-day mark', async () => {
  const day = daysAgo(10);
  const first = await record(call({ timestamp: `${day}T10:00:00Z` }));
  assert.deepEqual((await dirty()).find((d) => d.day === day), { day, state: 1 });
  const second = await record(call({ timestamp: `${day}T10:00:01Z` }));
  // The first also wrote the day's rollup rows (and their index entry) and the mark.
  assert.ok(first.rowsWritten > second.rowsWritten, `${first.rowsWritten} then ${second.rowsWritten}`);
  assert.equal(second.rowsWritten, 5 + 1);
});

test('a day claimed by a cron run that changes meanwhile, or whose run died, stays due', async () => {
  const run = async () => {
    const r = await w.fetch('/api/admin/cron/run', { method: 'POST', key: ADMIN_KEY });
    assert.equal(r.status, 200, r.text);
    return r.json.summaries.daily_written;
  };
  const day = daysAgo(11);
  await record(call({ timestamp: `${day}T09:00:00Z` }));
  while ((await run()).length > 0);
  assert.equal((await dirty()).find((d) => d.day === day), undefined, 'written and cleared');
  // An event for a day a run has claimed (state 2) marks it again, so that run's clear,
  // which deletes only rows still at 2, leaves it for the next run.
  await record(call({ timestamp: `${day}T09:30:00Z` }));
  await w.db.prepare('UPDATE summary_dirty_days SET state = 2 WHERE day = ?1').bind(day).run();
  await record(call({ timestamp: `${day}T09:45:00Z` }));
  assert.deepEqual((await dirty()).find((d) => d.day === day), { day, state: 1 });
  // A run that died after claiming leaves 2: the next run writes the day again.
  await w.db.prepare('UPDATE summary_dirty_days SET state = 2 WHERE day = ?1').bind(day).run();
  assert.ok((await run()).includes(`usage-logs/daily/${day}.json`));
  assert.equal((await dirty()).find((d) => d.day === day), undefined);
  const bucket = await w.mf.getR2Bucket('USAGE_BUCKET');
  const summary = JSON.parse(await (await bucket.get(`usage-logs/daily/${day}.json`)).text());
  assert.equal(summary.totals.events, 3);
});

test("a job's events are listed without a job index, from its first call to its last", async () => {
  const day = daysAgo(12);
  const times = ['08:00', '08:05', '08:09'].map((t) => `${day}T${t}:00.000Z`);
  const ids = [];
  for (const timestamp of times) {
    const e = call({ job_id: 'clip-span', timestamp });
    ids.push(e.id);
    await record(e);
  }
  // Calls of other jobs and none inside and around the span.
  await record(call({ job_id: 'clip-other', timestamp: `${day}T08:04:00.000Z` }));
  await record(call({ timestamp: `${day}T08:06:00.000Z` }));
  await record(call({ job_id: 'clip-span-2', timestamp: `${day}T07:59:00.000Z` }));
  const listed = await w.fetch('/api/usage?job_id=clip-span&limit=100', { key });
  assert.equal(listed.status, 200, listed.text);
  assert.deepEqual(listed.json.events.map((e) => e.id).sort(), [...ids].sort());
  const none = await w.fetch('/api/usage?job_id=clip-none', { key });
  assert.deepEqual(none.json.events, []);
  // The job's list row: calls and last call from its parts, first call from `jobs`.
  const jobs = await w.fetch('/api/admin/usage/jobs?preset=all&project_id=wr&job_id=clip-span', { key: ADMIN_KEY });
  assert.equal(jobs.status, 200, jobs.text);
  const job = jobs.json.jobs.find((j) => j.job_id === 'clip-span');
  assert.deepEqual([job.calls, Date.parse(job.first_seen), Date.parse(job.last_seen)], [3, Date.parse(times[0]), Date.parse(times[2])]);
});

test('the admin lists events across projects newest first, page by page, without a time index of its own', async () => {
  const day = daysAgo(13);
  await w.fetch('/api/admin/projects', { method: 'POST', key: ADMIN_KEY, body: { id: 'wr-b', name: 'Writes B' } });
  const other = (await w.fetch('/api/admin/projects/wr-b/keys', { method: 'POST', key: ADMIN_KEY })).json.key;
  const sent = [];
  for (let i = 0; i < 7; i += 1) {
    const e = call({ timestamp: `${day}T10:0${i}:00.000Z`, session_id: 'cross' });
    const r = await w.fetch('/api/usage', { method: 'POST', key: i % 2 ? other : key, body: e });
    assert.equal(r.status, 201, r.text);
    sent.push(e.id);
  }
  const seen = [];
  let cursor = '';
  for (let page = 0; page < 5; page += 1) {
    const r = await w.fetch(`/api/usage?session_id=cross&limit=3${cursor}`, { key: ADMIN_KEY });
    assert.equal(r.status, 200, r.text);
    seen.push(...r.json.events.map((e) => [e.id, e.project_id]));
    if (!r.json.next_cursor) break;
    cursor = `&cursor=${r.json.next_cursor}`;
  }
  assert.deepEqual(seen, [...sent].reverse().map((id, i) => [id, (6 - i) % 2 ? 'wr-b' : 'wr']));
  // The newest event across projects, as the stats report it.
  const newest = call({ timestamp: new Date(Date.now() - 1000).toISOString() });
  await w.fetch('/api/usage', { method: 'POST', key: other, body: newest });
  const stats = await w.fetch('/api/usage/stats', { key: ADMIN_KEY });
  assert.equal(stats.status, 200, stats.text);
  assert.equal(Date.parse(stats.json.last_updated), Date.parse(newest.timestamp), stats.text.slice(0, 300));
});

test('jobs are counted per UTC day of their first call as they come, move and go, and the monthly stats read those counts', async () => {
  const [later, earlier] = [daysAgo(15), daysAgo(16)];
  const count = async (day) => (await w.db.prepare('SELECT jobs FROM job_days WHERE project_id = ?1 AND day = ?2').bind('wr', day).first())?.jobs ?? 0;
  const stats = async () => {
    const month = earlier.slice(0, 7);
    const r = await w.fetch(`/api/admin/stats?m=${month.replace('-', '')}`, { key: ADMIN_KEY });
    assert.equal(r.status, 200, r.text);
    return r.json.projects.find((p) => p.project_id === 'wr');
  };
  const live = async (from, to) => (await w.db.prepare('SELECT COUNT(*) AS n FROM jobs WHERE project_id = ?1 AND first_seen >= ?2 AND first_seen < ?3').bind('wr', from, to).first()).n;
  const first = call({ job_id: 'count-1', timestamp: `${later}T10:00:00.000Z` });
  await record(first);
  assert.deepEqual([await count(later), await count(earlier)], [1, 0]);
  // A later call of the job writes nothing more for its count.
  const second = await record(call({ job_id: 'count-1', timestamp: `${later}T11:00:00.000Z` }));
  assert.equal(second.rowsWritten, 6 + 1);
  assert.deepEqual([await count(later), await count(earlier)], [1, 0]);
  // An earlier call arriving late moves the job to its day.
  await record(call({ job_id: 'count-1', timestamp: `${earlier}T23:00:00.000Z` }));
  await record(call({ job_id: 'count-2', timestamp: `${earlier}T08:00:00.000Z` }));
  assert.deepEqual([await count(later), await count(earlier)], [0, 2]);
  const month = earlier.slice(0, 7);
  const next = new Date(Date.UTC(Number(month.slice(0, 4)), Number(month.slice(5, 7)), 1)).toISOString().slice(0, 7);
  const row = await stats();
  assert.deepEqual([row.jobs_month, row.jobs_total], [await live(`${month}-01`, `${next}-01`), await live('', '~')]);
  // A job whose every event goes is no longer counted.
  await w.db.prepare("DELETE FROM api_usage WHERE project_id = 'wr' AND job_id = 'count-2'").run();
  assert.equal(await count(earlier), 1);
  const after = await stats();
  assert.deepEqual([after.jobs_month, after.jobs_total], [row.jobs_month - 1, row.jobs_total - 1]);
});

test("a job's first call moved later and a part's last call moved earlier, as a replay moves them, narrow the job's span and move its day", async () => {
  const [early, late] = [daysAgo(18), daysAgo(17)];
  const at = (day, time) => `${day}T${time}:00.000Z`;
  const first = call({ job_id: 'span-move', timestamp: at(early, '10:00') });
  const middle = call({ job_id: 'span-move', timestamp: at(late, '09:00') });
  const last = call({ job_id: 'span-move', timestamp: at(late, '12:00') });
  for (const e of [first, middle, last]) await record(e);
  // Another job's call in between, which the new first call must not be taken from.
  await record(call({ job_id: 'span-other', timestamp: at(late, '08:30') }));
  const days = async () => {
    const r = await w.db.prepare("SELECT day, jobs FROM job_days WHERE project_id = 'wr' AND day IN (?1, ?2) ORDER BY day").bind(early, late).all();
    return Object.fromEntries(r.results.map((d) => [d.day, d.jobs]));
  };
  const span = async () => {
    const r = await w.fetch('/api/admin/usage/jobs?preset=all&project_id=wr&job_id=span-move', { key: ADMIN_KEY });
    assert.equal(r.status, 200, r.text);
    const job = r.json.jobs.find((j) => j.job_id === 'span-move');
    return [job.calls, job.first_seen, job.last_seen].map((v, i) => (i ? new Date(Date.parse(v)).toISOString() : v));
  };
  assert.deepEqual(await span(), [3, at(early, '10:00'), at(late, '12:00')]);
  const before = await days();
  const move = (e, timestamp) => w.db.prepare("UPDATE api_usage SET request_timestamp = ?1 WHERE project_id = 'wr' AND id = ?2").bind(timestamp, e.id).run();
  // The first call moves past the second: the job now starts at the second, on the later day.
  await move(first, at(late, '10:30'));
  assert.deepEqual(await span(), [3, at(late, '09:00'), at(late, '12:00')]);
  assert.deepEqual(await days(), { ...before, [early]: (before[early] ?? 0) - 1, [late]: (before[late] ?? 0) + 1 });
  // The last call moves before every other: the job's last call is now the one moved before.
  await move(last, at(late, '08:00'));
  assert.deepEqual(await span(), [3, at(late, '08:00'), at(late, '10:30')]);
  // Moving back restores the span it had.
  await move(last, at(late, '12:00'));
  await move(first, at(early, '10:00'));
  assert.deepEqual(await span(), [3, at(early, '10:00'), at(late, '12:00')]);
  assert.deepEqual(await days(), before);
});

test("a job part's last call re-priced into another currency leaves its old part ending at the call before it, and a move then narrows the job", async () => {
  const day = daysAgo(19);
  const at = (time) => `${day}T${time}:00.000Z`;
  const first = call({ job_id: 'span-reprice', timestamp: at('10:00') });
  const second = call({ job_id: 'span-reprice', timestamp: at('11:00') });
  for (const e of [first, second]) await record(e);
  const iso = (t) => new Date(Date.parse(t)).toISOString();
  const parts = async () => (await w.db.prepare("SELECT currency, calls, last_seen FROM usage_jobs WHERE project_id = 'wr' AND job_id = 'span-reprice' ORDER BY currency").all())
    .results.map((p) => [p.currency, p.calls, iso(p.last_seen)]);
  assert.deepEqual(await parts(), [['USD', 2, at('11:00')]]);
  // The second call re-priced in euros (as a custom EUR price re-pricing it would).
  await w.db.prepare("UPDATE api_usage SET currency = 'EUR', computed_currency = 'EUR' WHERE project_id = 'wr' AND id = ?1").bind(second.id).run();
  assert.deepEqual(await parts(), [['EUR', 1, at('11:00')], ['USD', 1, at('10:00')]]);
  // A replay then moves it before the first: the job runs from 09:00 to 10:00.
  await w.db.prepare("UPDATE api_usage SET request_timestamp = ?1 WHERE project_id = 'wr' AND id = ?2").bind(at('09:00'), second.id).run();
  assert.deepEqual(await parts(), [['EUR', 1, at('09:00')], ['USD', 1, at('10:00')]]);
  const r = await w.fetch('/api/admin/usage/jobs?preset=all&project_id=wr&job_id=span-reprice', { key: ADMIN_KEY });
  assert.equal(r.status, 200, r.text);
  const job = r.json.jobs.find((j) => j.job_id === 'span-reprice');
  assert.deepEqual([job.calls, iso(job.first_seen), iso(job.last_seen)], [2, at('09:00'), at('10:00')]);
});
