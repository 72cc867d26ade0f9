// The spend guard (issue 25) against the real `wrangler dev` (local workerd, D1, R2), detached
// as in bench/ingest.mjs. Two measurements, each interleaved round by round so that this shared
// machine's drift hits both sides alike:
//
// 1. `POST /api/usage/guard` at concurrency 16 (an amount, the same with `reserve: true`, and an
//    event estimate to price) beside a single-event `POST /api/usage` at the same concurrency,
//    on one worker, the order of the rows rotating from round to round.
// 2. Ingestion with the ingest-time alert check on (the default) and off
//    (`--var INGEST_ALERTS:off`): two `wrangler dev` of the same build run side by side, and each
//    round measures both, which one goes first alternating.
//
// Every project has a monthly budget that blocks, alert levels 50/80/100, a daily limit and a
// HeyGen plan that blocks, so the guard has limits to weigh and the ingest watch is in play;
// the budget is far from reached (the common case). Prints Markdown. Not a test: nothing here
// asserts. `BENCH_ROUNDS` (default 8) and `BENCH_SCALE` (default 1) size the run.
import http from 'node:http';
import { readdirSync, readFileSync } from 'node:fs';
import { startWranglerDev } from '../tests/support/wrangler-dev.mjs';

const ADMIN = 'bench-admin-key';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 8);
const SCALE = Number(process.env.BENCH_SCALE ?? 1);
// Detached, as the rows of bench/ingest.mjs that the targets are read against.
const DETACHED = { args: ['--log-level', 'warn'], env: { VSCODE_INSPECTOR_OPTIONS: '{}' } };

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
function median(values) {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

let serial = 0;
/** The i-th event of bench/ingest.mjs's video team (four kinds of call, live timestamps). */
function event(i) {
  serial += 1;
  const kind = i % 4;
  const e = {
    id: `bench-${serial}`,
    provider: ['openai', 'anthropic', 'google', 'elevenlabs'][kind],
    model: ['gpt-4o-mini', 'claude-3-5-haiku', 'gemini-2.0-flash', 'eleven_multilingual_v2'][kind],
    operation: ['script-generation', 'summary', 'translation', 'voice-synthesis'][kind],
    job_id: `job-${Math.floor(serial / 5)}`,
    timestamp: new Date(Date.now() - (i % 60) * 1000).toISOString(),
  };
  if (kind === 3) e.characters = 400 + (i % 600);
  else Object.assign(e, { input_tokens: 800 + (i % 400), output_tokens: 200 + (i % 100) });
  return e;
}

/** CPU time (ms) used so far by the workerd processes of a `wrangler dev` process group. */
function workerdCpuMs(pgid) {
  let ticks = 0;
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let stat;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue;
    }
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (name === 'workerd' && Number(fields[2]) === pgid) ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks * 10;
}

/** A keep-alive HTTP client lighter than `fetch` (as in bench/ingest.mjs). */
function client(base, headers, concurrency, path) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const url = new URL(base);
  return (body) => new Promise((resolve, reject) => {
    const payload = Buffer.from(JSON.stringify(body));
    const request = http.request({
      host: url.hostname, port: url.port, path, method: 'POST', agent,
      headers: { ...headers, 'content-length': payload.length },
    }, (response) => {
      const chunks = [];
      response.on('data', (c) => chunks.push(c));
      response.on('end', () => resolve({ status: response.statusCode, json: JSON.parse(Buffer.concat(chunks)) }));
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end(payload);
  });
}

/**
 * Sends the bodies with `concurrency` clients to `path`; each answer is checked by `ok(json)`.
 * Returns requests/s, events/s, p50, p99 and the workerd CPU per request.
 */
async function run(dev, { label, path, bodies, concurrency, ok }) {
  const send = client(dev.base, dev.headers, concurrency, path);
  const latencies = [];
  let next = 0;
  let events = 0;
  const cpuBefore = workerdCpuMs(dev.pgid);
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < bodies.length) {
      const body = bodies[next];
      next += 1;
      const t0 = performance.now();
      const { status, json } = await send(body);
      if ((status !== 200 && status !== 201) || !ok(json)) {
        throw new Error(`${label}: HTTP ${status} ${JSON.stringify(json).slice(0, 300)}`);
      }
      latencies.push(performance.now() - t0);
      events += json.accepted ?? 1;
    }
  }));
  const seconds = (performance.now() - started) / 1000;
  const cpu = workerdCpuMs(dev.pgid) - cpuBefore;
  latencies.sort((a, b) => a - b);
  return {
    rps: latencies.length / seconds,
    eps: events / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    cpu: cpu / latencies.length,
  };
}

/** A detached `wrangler dev` with the bench project (blocking budget, levels, daily limit, plan). */
async function start(vars) {
  const dev = await startWranglerDev({ adminKey: ADMIN, vars, ...DETACHED });
  const auth = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };
  const admin = async (path, method, body) => {
    const r = await fetch(`${dev.base}${path}`, { method, headers: auth, body: body && JSON.stringify(body) });
    if (r.status >= 300) throw new Error(`${method} ${path}: HTTP ${r.status} ${await r.text()}`);
    return r.json();
  };
  await admin('/api/admin/projects', 'POST', {
    id: 'p0', name: 'Bench', budget: { amount: '10000000', currency: 'USD' }, budget_mode: 'block',
    alert_levels: 'default', daily_limit: '5000000',
  });
  await admin('/api/admin/subscriptions', 'PUT', {
    provider: 'heygen', project_id: 'p0', monthly_fee: '29', allotment: { amount: '1000', unit: 'credits' }, reserve: '2', mode: 'block',
  });
  const { key } = await admin('/api/admin/projects/p0/keys', 'POST');
  dev.headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  return dev;
}

const recorded = (json) => json.accepted >= 1 && json.guard?.state === 'ok';
const allowed = (json) => json.decision === 'allow';
let reservation = 0;
const GUARD_ROWS = [
  ['guard, an amount', () => ({ amount: { amount: '0.01', currency: 'USD' } })],
  ['guard, an amount, `reserve: true` (TTL 60 s)', () => {
    reservation += 1;
    return { amount: { amount: '0.01', currency: 'USD' }, reserve: true, ttl_seconds: 60, id: `bench-r-${reservation}` };
  }],
  ['guard, an event estimate (priced)', () => ({ estimate: { provider: 'openai', model: 'gpt-4o-mini', input_tokens: 1000, output_tokens: 250 } })],
];
const GUARD_N = Math.round(1000 * SCALE);
const SINGLE_N = Math.round(1000 * SCALE);
const BATCH_N = Math.round(100 * SCALE);

function singles(n) {
  return Array.from({ length: n }, (_, i) => event(i));
}
function batches(n) {
  return Array.from({ length: n }, (_, r) => ({ events: Array.from({ length: 1000 }, (_, i) => event(r * 1000 + i)) }));
}

const on = await start({});
const off = await start({ INGEST_ALERTS: 'off' });
const guardRounds = [];
const alertRounds = [];
try {
  for (const dev of [on, off]) {
    await run(dev, { label: 'warm-up', path: '/api/usage', bodies: batches(10), concurrency: 2, ok: recorded });
    await run(dev, { label: 'warm-up', path: '/api/usage', bodies: singles(200), concurrency: 16, ok: recorded });
  }
  for (const [label, body] of GUARD_ROWS) {
    await run(on, { label, path: '/api/usage/guard', bodies: Array.from({ length: 100 }, body), concurrency: 16, ok: allowed });
  }
  for (let round = 0; round < ROUNDS; round += 1) {
    // 1. The guard's rows and single-event ingest on one worker, the order rotating.
    const rows = [
      ...GUARD_ROWS.map(([label, body]) => ({ label, path: '/api/usage/guard', bodies: Array.from({ length: GUARD_N }, body), ok: allowed })),
      { label: 'ingest, a single event', path: '/api/usage', bodies: singles(SINGLE_N), ok: recorded },
    ];
    const results = {};
    for (let k = 0; k < rows.length; k += 1) {
      const row = rows[(k + round) % rows.length];
      results[row.label] = await run(on, { ...row, concurrency: 16 });
    }
    guardRounds.push(results);
    // 2. Alerts on and off, which goes first alternating.
    const pair = round % 2 ? [['off', off], ['on', on]] : [['on', on], ['off', off]];
    const alert = { first: pair[0][0] };
    for (const [name, dev] of pair) {
      alert[`batch-${name}`] = await run(dev, { label: `batches of 1,000, alerts ${name}`, path: '/api/usage', bodies: batches(BATCH_N), concurrency: 2, ok: recorded });
    }
    for (const [name, dev] of pair) {
      alert[`single-${name}`] = await run(dev, { label: `single events, alerts ${name}`, path: '/api/usage', bodies: singles(SINGLE_N * 2), concurrency: 16, ok: recorded });
    }
    alertRounds.push(alert);
    console.error(`round ${round + 1}/${ROUNDS}: batches on ${alert['batch-on'].eps.toFixed(0)} off ${alert['batch-off'].eps.toFixed(0)} events/s; `
      + `guard amount p50 ${results[GUARD_ROWS[0][0]].p50.toFixed(1)} ms, ingest p50 ${results['ingest, a single event'].p50.toFixed(1)} ms`);
  }
} finally {
  await on.stop();
  await off.stop();
}

const f1 = (x) => x.toFixed(1);
const f3 = (x) => x.toFixed(3);
const range = (xs, f) => `${f(Math.min(...xs))} to ${f(Math.max(...xs))}`;

console.log(`\nGuard beside ingest, concurrency 16, ${GUARD_N} requests per guard row and ${SINGLE_N} per ingest row, ${ROUNDS} rounds (medians over rounds; ratios taken per round)\n`);
console.log('| request | p50 ms | p99 ms | requests/s | workerd CPU ms per request | p50 / ingest p50 | p99 / ingest p99 |');
console.log('|---|---|---|---|---|---|---|');
const ingestLabel = 'ingest, a single event';
for (const label of [...GUARD_ROWS.map(([l]) => l), ingestLabel]) {
  const rs = guardRounds.map((r) => r[label]);
  const r50 = guardRounds.map((r) => r[label].p50 / r[ingestLabel].p50);
  const r99 = guardRounds.map((r) => r[label].p99 / r[ingestLabel].p99);
  console.log(`| ${label} | ${f1(median(rs.map((r) => r.p50)))} (${range(rs.map((r) => r.p50), f1)}) | ${f1(median(rs.map((r) => r.p99)))} (${range(rs.map((r) => r.p99), f1)}) `
    + `| ${median(rs.map((r) => r.rps)).toFixed(0)} | ${f1(median(rs.map((r) => r.cpu)))} | ${f3(median(r50))} (${range(r50, f3)}) | ${f3(median(r99))} (${range(r99, f3)}) |`);
}

console.log(`\nIngest-time alert check on (default) and off (INGEST_ALERTS=off), ${ROUNDS} rounds, per round (the first of the two named)\n`);
console.log('| round | first | batches of 1,000: on events/s | off events/s | on/off | on CPU ms/req | off CPU ms/req | single events: on p50/p99 ms | off p50/p99 ms | on/off req/s |');
console.log('|---|---|---|---|---|---|---|---|---|---|');
alertRounds.forEach((a, i) => {
  console.log(`| ${i + 1} | ${a.first} | ${a['batch-on'].eps.toFixed(0)} | ${a['batch-off'].eps.toFixed(0)} | ${f3(a['batch-on'].eps / a['batch-off'].eps)} `
    + `| ${f1(a['batch-on'].cpu)} | ${f1(a['batch-off'].cpu)} | ${f1(a['single-on'].p50)} / ${f1(a['single-on'].p99)} | ${f1(a['single-off'].p50)} / ${f1(a['single-off'].p99)} `
    + `| ${f3(a['single-on'].rps / a['single-off'].rps)} |`);
});
const ratio = (key, field) => alertRounds.map((a) => a[`${key}-on`][field] / a[`${key}-off`][field]);
const onFirst = alertRounds.filter((a) => a.first === 'on');
const offFirst = alertRounds.filter((a) => a.first === 'off');
const sub = (rs, key, field) => f3(median(rs.map((a) => a[`${key}-on`][field] / a[`${key}-off`][field])));
console.log(`\nMedian on/off: batches of 1,000 events/s ${f3(median(ratio('batch', 'eps')))} (on first ${sub(onFirst, 'batch', 'eps')}, off first ${sub(offFirst, 'batch', 'eps')}), `
  + `CPU per request ${f3(median(ratio('batch', 'cpu')))}; single events requests/s ${f3(median(ratio('single', 'rps')))}, `
  + `p50 ${f3(median(ratio('single', 'p50')))}, p99 ${f3(median(ratio('single', 'p99')))}.`);
