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
    if (url.pathname === '/batch') return batch(request, env);
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

async function batch(request, env) {
  const { events } = await request.json();
  const lines = [];
  const rows = [];
  const answers = [];
  for (const e of events) {
    lines.push(JSON.stringify({ ...e, project_id: 'floor', cost: '0.000123', currency: 'USD' }));
    const input = e.input_tokens ?? 0;
    const output = e.output_tokens ?? 0;
    rows.push(['floor', e.id, e.provider, e.model, e.operation, input, output, input + output, e.characters ?? 0,
      '0.000123', 123000, 'USD', 123000, 'USD', 'builtin:floor', e.timestamp, e.job_id ?? null]);
    answers.push({ id: e.id, cost: '0.000123', currency: 'USD', duplicate: false });
  }
  const day = new Date().toISOString().slice(0, 10);
  await env.USAGE_BUCKET.put(`usage-logs/raw/${day}/${crypto.randomUUID()}.ndjson`, `${lines.join('\n')}\n`);
  await env.DB.prepare(BATCH_INSERT).bind(JSON.stringify(rows)).run();
  return Response.json({ accepted: events.length, stored: events.length, duplicates: 0, events: answers }, { status: 201 });
}
