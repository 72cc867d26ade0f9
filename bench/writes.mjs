// Rows written per event, as D1 bills them, and R2 operations per event: the built worker
// (build/, Miniflare with every migration applied) behind tests/support/counting.mjs, which
// sums `meta.rows_written` of every D1 result (table rows and index entries, trigger writes
// included) and the R2 objects each request adds. Prints Markdown for BENCHMARKS.md and the
// cost of a month at Cloudflare's published prices. Not a test: nothing here asserts.
//
//   bash scripts/build.sh && node bench/writes.mjs
import { startCountingWorker, ADMIN_KEY } from '../tests/support/counting.mjs';

const N = Number(process.env.BENCH_EVENTS ?? 200);
const BATCH = 1000;

const w = await startCountingWorker({ bindings: { INGEST_ALERTS: 'off' } });
await w.fetch('/api/admin/projects', { method: 'POST', key: ADMIN_KEY, body: { id: 'p0', name: 'Bench' } });
const key = (await w.fetch('/api/admin/projects/p0/keys', { method: 'POST', key: ADMIN_KEY })).json.key;
const bucket = await w.mf.getR2Bucket('USAGE_BUCKET');
async function objects() {
  let count = 0;
  let cursor;
  do {
    const page = await bucket.list({ prefix: 'usage-logs/raw/', cursor });
    count += page.objects.length;
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return count;
}

let serial = 0;
const at = new Date(Date.now() - 60_000).toISOString();
/** A priced token call (gpt-4o-mini), at one time of the last minute unless told. */
const call = (extra = {}) => {
  serial += 1;
  return { id: `w-${serial}`, provider: 'openai', model: 'gpt-4o-mini', operation: 'summary', input_tokens: 900, output_tokens: 200, timestamp: at, ...extra };
};
/**
 * bench/ingest.mjs's video-team traffic: four kinds of call, five calls per job, here in time
 * order (a job's calls reported as they are made; ingest.mjs's run backwards in time, which
 * also moves each job's first_seen).
 */
function team(i) {
  serial += 1;
  const kind = i % 4;
  const e = {
    id: `w-${serial}`,
    provider: ['openai', 'anthropic', 'google', 'elevenlabs'][kind],
    model: ['gpt-4o-mini', 'claude-3-5-haiku', 'gemini-2.0-flash', 'eleven_multilingual_v2'][kind],
    operation: ['script-generation', 'summary', 'translation', 'voice-synthesis'][kind],
    job_id: `team-job-${Math.floor(serial / 5)}`,
    timestamp: new Date(Date.now() - 60_000 + i * 10).toISOString(),
  };
  if (kind === 3) e.characters = 400 + (i % 600);
  else Object.assign(e, { input_tokens: 800 + (i % 400), output_tokens: 200 + (i % 100) });
  return e;
}

/** Sends each body; answers rows written and R2 objects per event. */
async function measure(bodies) {
  let rows = 0;
  let events = 0;
  const before = await objects();
  for (const body of bodies) {
    const r = await w.fetch('/api/usage', { method: 'POST', key, body });
    if (r.status !== 201) throw new Error(`HTTP ${r.status}: ${r.text.slice(0, 300)}`);
    rows += r.rowsWritten;
    events += r.json.accepted;
  }
  return { rows: rows / events, r2: ((await objects()) - before) / events };
}

// Warm-up: the day's dirty mark and the rollup rows of these keys exist already, as they do
// for all but the first event of a day and key in a running deployment.
await measure([call(), call({ job_id: 'warm' })]);

const results = [];
const add = (label, m) => results.push({ label, ...m });
add('single event, priced, no job', await measure(Array.from({ length: N }, () => call())));
add('single event, priced, a job seen before (same operation)', await measure(Array.from({ length: N }, () => call({ job_id: 'warm' }))));
add('single event, priced, first call of a new job', await measure(Array.from({ length: N }, (_, i) => call({ job_id: `new-${i}` }))));
add('single event, unpriced, no job', await measure(Array.from({ length: N }, () => call({ provider: 'acme', model: 'unknown-1' }))));
add('single events, video-team traffic (4 operations, 5 calls a job)', await measure(Array.from({ length: N }, (_, i) => team(i))));
add(`batches of ${BATCH.toLocaleString('en')}, priced, no job`, await measure([{ events: Array.from({ length: BATCH }, () => call()) }]));
add(`batches of ${BATCH.toLocaleString('en')}, video-team traffic`, await measure([{ events: Array.from({ length: BATCH }, (_, i) => team(i)) }]));
// What the queue path's consumer writes for single events: batches of up to 100 (queue.toml).
add('batches of 100 (a queue consumer batch), video-team traffic', await measure(Array.from({ length: 10 }, (_, b) => ({ events: Array.from({ length: 100 }, (_, i) => team(b * 100 + i)) }))));
await w.dispose();

const money = (x) => `$${x.toLocaleString('en', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
console.log('\n| workload | D1 rows written per event | per million events | R2 puts per event | per million events |');
console.log('|---|---|---|---|---|');
for (const r of results) {
  console.log(`| ${r.label} | ${r.rows.toFixed(2)} | ${(r.rows).toFixed(2)}M | ${r.r2.toFixed(4)} | ${Math.round(r.r2 * 1e6).toLocaleString('en')} |`);
}
// Cloudflare's published Workers Paid prices beyond the plan's allowance (docs/SCALING.md).
const PRICE = { request: 0.30, rowWritten: 1.0, classA: 4.5 };
console.log('\nA month at list price, nothing included (Workers requests, R2 puts, D1 rows written):\n');
console.log('| events a month | workload | Workers | R2 puts | D1 rows written | total |');
console.log('|---|---|---|---|---|---|');
for (const millions of [1, 10, 100]) {
  for (const r of [results[4], results[6]]) {
    const requests = r.label.startsWith('batches') ? millions / BATCH : millions;
    const cost = [requests * PRICE.request, r.r2 * millions * PRICE.classA, r.rows * millions * PRICE.rowWritten];
    console.log(`| ${millions}M | ${r.label} | ${cost.map(money).join(' | ')} | ${money(cost.reduce((a, b) => a + b))} |`);
  }
}
