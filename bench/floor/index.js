// POST /?writes=none|r2|d1-bare|r2+d1-bare|r2+d1 with one event as the body. `r2` puts the
// event as a one-line object under the raw log's key shape; `d1-bare` inserts it into a table
// with only a primary key; `d1` inserts it into `api_usage` with the project's indexes and
// rollup triggers. No validation, pricing or authentication: what is left is the runtime.
// `POST /batch` with `{"events": [...]}` is the batch counterpart (see `batch` below).
const COLUMNS = ['project_id', 'id', 'provider', 'model', 'operation', 'input_tokens', 'output_tokens',
  'total_tokens', 'characters', 'cost', 'cost_nanos', 'currency', 'computed_cost_nanos', 'computed_currency',
  'price_id', 'request_timestamp', 'job_id'];
const INSERT = `INSERT INTO api_usage (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map((_, i) => `?${i + 1}`).join(', ')})
  ON CONFLICT (project_id, id) DO NOTHING`;
// A batch, `POST /batch` with `{"events": [...]}`: one R2 object of the batch's lines and one
// D1 statement inserting every row from `json_each` into `api_usage` (its indexes and rollup
// triggers), as the worker's batch does; no duplicate lookup, validation or pricing.
const BATCH_INSERT = `INSERT INTO api_usage (${COLUMNS.join(', ')}) SELECT ${COLUMNS.map((_, i) => `row ->> ${i}`).join(', ')}
  FROM (SELECT value AS row FROM json_each(?1) LIMIT -1) WHERE true ON CONFLICT (project_id, id) DO NOTHING`;
const BARE = 'INSERT INTO floor_bare (project_id, id, line) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING';

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === '/healthz') return new Response('ok');
    if (url.pathname === '/setup') {
      await env.DB.batch([
        env.DB.prepare('CREATE TABLE IF NOT EXISTS floor_bare (project_id TEXT NOT NULL, id TEXT NOT NULL, line TEXT NOT NULL, PRIMARY KEY (project_id, id)) WITHOUT ROWID'),
        env.DB.prepare("INSERT OR IGNORE INTO projects (id, name, created_at, updated_at) VALUES ('floor', 'Floor', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')"),
      ]);
      return new Response('ok');
    }
    if (url.pathname === '/batch') {
      const q = url.searchParams;
      return batch(request, env, q.get('rollups') === 'batch', q.get('lines') === 'worker', q.get('answer') === 'worker');
    }
    const writes = url.searchParams.get('writes') ?? 'none';
    const e = await request.json();
    const line = `${JSON.stringify({ ...e, project_id: 'floor', cost: '0.000123', currency: 'USD' })}\n`;
    if (writes.startsWith('r2')) {
      const day = new Date().toISOString().slice(0, 10);
      await env.USAGE_BUCKET.put(`usage-logs/raw/${day}/${crypto.randomUUID()}.ndjson`, line);
    }
    if (writes.endsWith('d1-bare')) {
      await env.DB.batch([env.DB.prepare(BARE).bind('floor', e.id, line)]);
    } else if (writes.endsWith('d1')) {
      const input = e.input_tokens ?? 0;
      const output = e.output_tokens ?? 0;
      await env.DB.batch([env.DB.prepare(INSERT).bind('floor', e.id, e.provider, e.model, e.operation, input, output,
        input + output, e.characters ?? 0, '0.000123', 123000, 'USD', 123000, 'USD', 'builtin:floor', e.timestamp,
        e.job_id ?? null)]);
    }
    return Response.json({
      accepted: 1, stored: 1, duplicates: 0,
      events: [{ id: e.id, cost: '0.000123', currency: 'USD', duplicate: false }],
    }, { status: 201 });
  },
};

// `POST /batch?rollups=batch`: the writes the worker makes for a batch since migration 0025,
// the raw object's acknowledgement, the rows marked `rolled_up` (the insert triggers skip
// them), the check that every row was inserted, and one upsert per rollup row, job part, job
// and day with the batch's sums: every row the worker writes, in the same statements.
const SUMS = ['events', 'unpriced_events', 'cost_nanos', 'cache_hits', 'failed_events', 'duration_ms', 'input_tokens',
  'output_tokens', 'total_tokens', 'cached_input_tokens', 'cache_write_tokens', 'reasoning_tokens', 'audio_input_tokens',
  'audio_output_tokens', 'characters', 'audio_seconds_micros', 'video_seconds_micros', 'images', 'requests', 'tracks',
  'credits_micros'];
const rollupSql = (table, period) => {
  const keys = [period, 'project_id', 'provider', 'model', 'operation', 'currency'];
  const columns = [...keys, ...SUMS];
  return `INSERT INTO ${table} (${columns.join(', ')}) SELECT ${columns.map((_, i) => `value ->> ${i}`).join(', ')}
    FROM json_each(?1) WHERE true ON CONFLICT (${keys.join(', ')}) DO UPDATE SET
    ${SUMS.map((c) => `${c} = MIN(${c} + excluded.${c}, 9223372036854775807)`).join(', ')}`;
};
const DAILY = rollupSql('usage_daily', 'day');
const QUARTERS = rollupSql('usage_quarter_hours', 'quarter');
const PARTS = `INSERT INTO usage_jobs (project_id, job_id, operation, provider, currency, last_seen, calls, unpriced_calls, cost_nanos)
  SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6, value ->> 7, value ->> 8
  FROM json_each(?1) WHERE true ON CONFLICT (project_id, job_id, operation, provider, currency) DO UPDATE SET
  calls = calls + excluded.calls, unpriced_calls = MIN(unpriced_calls + excluded.unpriced_calls, 9223372036854775807),
  cost_nanos = MIN(cost_nanos + excluded.cost_nanos, 9223372036854775807), last_seen = max(last_seen, excluded.last_seen)`;
const JOBS = `INSERT INTO jobs (project_id, job_id, first_seen) SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(?1)
  WHERE true ON CONFLICT (project_id, job_id) DO UPDATE SET first_seen = excluded.first_seen WHERE excluded.first_seen < first_seen`;
const DAYS = `INSERT INTO summary_dirty_days (day) SELECT value ->> 0 FROM json_each(?1) WHERE true
  ON CONFLICT (day) DO UPDATE SET state = 1 WHERE state <> 1`;
const ROLLED_UP_INSERT = BATCH_INSERT.replace('job_id) SELECT', 'job_id, rolled_up) SELECT').replace(/row ->> 16(\s+)FROM/, 'row ->> 16, 1$1FROM');
// The same with the row's fingerprint (`?lines=worker`), a column the worker fills.
const FINGERPRINTED_INSERT = ROLLED_UP_INSERT.replace('job_id, rolled_up) SELECT', 'job_id, fingerprint, rolled_up) SELECT')
  .replace(/row ->> 16, 1(\s+)FROM/, 'row ->> 16, row ->> 17, 1$1FROM');
const CHECK = 'INSERT INTO batch_rollup_check (inserted, expected) VALUES (changes(), ?1)';
// The raw object's acknowledgement, as the worker writes it for a batch whose rows are all new.
const ACK = 'INSERT OR IGNORE INTO raw_log_acks (key, duplicates) VALUES (?1, NULL)';
const quarterOf = (ts) => {
  const m = ts.slice(14, 16);
  return ts.slice(0, 14) + (m < '15' ? '00' : m < '30' ? '15' : m < '45' ? '30' : '45');
};

/** The batch's sums per rollup row, job part, job and day, from the floor's rows. */
function rollupsOf(rows) {
  const daily = new Map();
  const quarters = new Map();
  const parts = new Map();
  const jobs = new Map();
  const days = new Set();
  for (const r of rows) {
    const [project, , provider, model, operation, input, output, total, characters, , nanos, currency, , , , ts, job] = r;
    for (const [map, period] of [[daily, ts.slice(0, 10)], [quarters, quarterOf(ts)]]) {
      const key = JSON.stringify([period, project, provider, model, operation, currency]);
      const sums = map.get(key) ?? SUMS.map(() => 0);
      sums[0] += 1; sums[2] += nanos; sums[6] += input; sums[7] += output; sums[8] += total; sums[14] += characters;
      map.set(key, sums);
    }
    days.add(ts.slice(0, 10));
    if (job != null) {
      const key = JSON.stringify([project, job, operation, provider, currency]);
      const p = parts.get(key) ?? { calls: 0, cost: 0, last: ts };
      p.calls += 1; p.cost += nanos; if (ts > p.last) p.last = ts;
      parts.set(key, p);
      const jk = JSON.stringify([project, job]);
      if (!jobs.has(jk) || ts < jobs.get(jk)) jobs.set(jk, ts);
    }
  }
  const list = (map) => JSON.stringify([...map].map(([k, sums]) => [...JSON.parse(k), ...sums]));
  return {
    daily: list(daily),
    quarters: list(quarters),
    parts: JSON.stringify([...parts].map(([k, p]) => [...JSON.parse(k), p.last, p.calls, 0, p.cost])),
    jobs: JSON.stringify([...jobs].map(([k, first]) => [...JSON.parse(k), first])),
    days: JSON.stringify([...days].map((d) => [d])),
    hasJobs: jobs.size > 0,
  };
}

async function batch(request, env, batchRollups, workerLines, workerAnswer) {
  const { events } = await request.json();
  const lines = [];
  const rows = [];
  const answers = [];
  for (const e of events) {
    const input = e.input_tokens ?? 0;
    const output = e.output_tokens ?? 0;
    const row = ['floor', e.id, e.provider, e.model, e.operation, input, output, input + output, e.characters ?? 0,
      '0.000123', 123000, 'USD', 123000, 'USD', 'builtin:floor', e.timestamp, e.job_id ?? null];
    if (workerLines) {
      // The bytes the worker writes for the event: its raw-log line's members (the version,
      // the counts, the cost three ways, the price entry, the fingerprint) and its row's
      // fingerprint cell, with values of the same lengths (not computed: a floor prices nothing).
      const price = `builtin:${e.provider}/${e.model}@2024-07-18`;
      const fingerprint = `v2:${(rows.length * 2654435761 % 4294967296).toString(16).padStart(16, '0')}`;
      row[14] = price;
      row.push(fingerprint);
      const line = { v: 1, project_id: 'floor', id: e.id, provider: e.provider, model: e.model, operation: e.operation };
      if (e.characters) line.characters = e.characters;
      else Object.assign(line, { input_tokens: input, output_tokens: output, total_tokens: input + output });
      Object.assign(line, { cost: '0.000123', cost_nanos: 123000, currency: 'USD', computed_cost_nanos: 123000,
        computed_currency: 'USD', price_id: price, request_timestamp: e.timestamp, job_id: e.job_id, fingerprint });
      lines.push(JSON.stringify(line));
    } else {
      lines.push(JSON.stringify({ ...e, project_id: 'floor', cost: '0.000123', currency: 'USD' }));
    }
    rows.push(row);
    if (workerAnswer) {
      // The members the worker's answer gives each event (`answer=worker`), with values of the
      // same lengths: its index, project, status, cost as an amount, currency and number, and
      // the time stamp it stored.
      answers.push({ index: answers.length, id: e.id, project_id: 'floor', status: 'stored', duplicate: false,
        cost: { amount: '0.000123', currency: 'USD', value: 0.000123 }, currency: 'USD', unpriced: null,
        timestamp: e.timestamp });
    } else {
      answers.push({ id: e.id, cost: '0.000123', currency: 'USD', duplicate: false });
    }
  }
  const day = new Date().toISOString().slice(0, 10);
  const key = `usage-logs/raw/${day}/${crypto.randomUUID()}.ndjson`;
  await env.USAGE_BUCKET.put(key, `${lines.join('\n')}\n`);
  if (batchRollups) {
    const r = rollupsOf(rows);
    const statements = [
      env.DB.prepare(ACK).bind(key),
      env.DB.prepare(workerLines ? FINGERPRINTED_INSERT : ROLLED_UP_INSERT).bind(JSON.stringify(rows)),
      env.DB.prepare(CHECK).bind(rows.length),
      env.DB.prepare(DAILY).bind(r.daily),
      env.DB.prepare(QUARTERS).bind(r.quarters),
      env.DB.prepare(DAYS).bind(r.days),
    ];
    if (r.hasJobs) statements.push(env.DB.prepare(PARTS).bind(r.parts), env.DB.prepare(JOBS).bind(r.jobs));
    await env.DB.batch(statements);
  } else {
    await env.DB.prepare(BATCH_INSERT).bind(JSON.stringify(rows)).run();
  }
  if (workerAnswer) {
    const total = 0.000123 * events.length;
    return Response.json({ success: true, accepted: events.length, stored: events.length, duplicates: 0, unpriced: 0,
      stored_cost: [{ amount: total.toFixed(6), currency: 'USD', value: total }], raw_object: key, events: answers,
      guard: { limiting: null, state: 'ok' } }, { status: 201 });
  }
  return Response.json({ accepted: events.length, stored: events.length, duplicates: 0, events: answers }, { status: 201 });
}
