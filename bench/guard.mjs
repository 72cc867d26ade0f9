// The spend guard (issue 25) against the real `wrangler dev` (local workerd, D1, R2), detached
// as in bench/ingest.mjs. Two measurements, each interleaved round by round so that this shared
// machine's drift hits both sides alike:
//
// 1. `POST /api/usage/guard` at concurrency 16 (an amount, the same with `reserve: true`, and an
//    event estimate to price) beside a single-event `POST /api/usage` at the same concurrency,
//    on one worker (of its own), the order of the rows rotating from round to round.
// 2. Ingestion with the ingest-time alert check on (the default) and off
//    (`--var INGEST_ALERTS:off`): two `wrangler dev` of the same build run side by side, and each
//    round measures both, which one goes first alternating.
//
// Every project has a monthly budget that blocks, alert levels 50/80/100, a daily limit and a
// HeyGen plan that blocks, so the guard has limits to weigh and the ingest watch is in play;
// the budget is far from reached (the common case). Prints Markdown. Not a test: nothing here
// asserts. `BENCH_ROUNDS` (default 8) and `BENCH_SCALE` (default 1) size the run.
//
// `BENCH_BASELINE=<a checkout of another build, built>` adds that build as a third side of the
// ingestion rounds (alerts on, off, and the other build, the order rotating), and leaves out the
// guard's rows: for comparing ingestion with the build before the guard. Its project gets the
// same budget, levels, daily limit and plan, without the modes it may not know.
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startWranglerDev } from '../tests/support/wrangler-dev.mjs';
import { postClient, teamTraffic } from './traffic.mjs';

const ADMIN = 'bench-admin-key';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 8);
const SCALE = Number(process.env.BENCH_SCALE ?? 1);
// Detached, as the rows of bench/ingest.mjs that the targets are read against.
const DETACHED = { args: ['--log-level', 'warn'], env: { VSCODE_INSPECTOR_OPTIONS: '{}' } };
const BASELINE = process.env.BENCH_BASELINE ? resolve(process.env.BENCH_BASELINE) : null;

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
function median(values) {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** The i-th event of bench/ingest.mjs's video team (four kinds of call, live timestamps). */
const event = teamTraffic('bench');

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


/**
 * Sends the bodies with `concurrency` clients to `path`; each answer is checked by `ok(json)`.
 * Returns requests/s, events/s, p50, p99 and the workerd CPU per request.
 */
async function run(dev, { label, path, bodies, concurrency, ok }) {
  const send = postClient(dev.base, dev.headers, concurrency, path);
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
async function start(vars, baseline = null) {
  const config = baseline ? join(baseline, 'wrangler.toml') : undefined;
  const dev = await startWranglerDev({ adminKey: ADMIN, vars, config, ...DETACHED });
  const modes = (m) => (baseline ? {} : m);
  const auth = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };
  const admin = async (path, method, body) => {
    const r = await fetch(`${dev.base}${path}`, { method, headers: auth, body: body && JSON.stringify(body) });
    if (r.status >= 300) throw new Error(`${method} ${path}: HTTP ${r.status} ${await r.text()}`);
    return r.json();
  };
  await admin('/api/admin/projects', 'POST', {
    id: 'p0', name: 'Bench', budget: { amount: '10000000', currency: 'USD' },
    alert_levels: 'default', daily_limit: '5000000', ...modes({ budget_mode: 'block' }),
  });
  await admin('/api/admin/subscriptions', 'PUT', {
    provider: 'heygen', project_id: 'p0', monthly_fee: '29', allotment: { amount: '1000', unit: 'credits' }, reserve: '2', ...modes({ mode: 'block' }),
  });
  const { key } = await admin('/api/admin/projects/p0/keys', 'POST');
  dev.headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  // A build before the guard answers no guard state.
  dev.recorded = baseline ? (json) => json.accepted >= 1 : recorded;
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
const before = BASELINE ? await start({}, BASELINE) : null;
// The guard's rows run on a worker of their own, so that its reservations and events do not
// weigh on one side of the ingestion rounds.
const guarded = BASELINE ? null : await start({});
// The sides of the ingestion rounds; round r starts with side r (mod their number).
const SIDES = [['on', on], ['off', off], ...(before ? [['before', before]] : [])];
const guardRounds = [];
const alertRounds = [];
try {
  for (const dev of [...SIDES.map(([, d]) => d), ...(guarded ? [guarded] : [])]) {
    await run(dev, { label: 'warm-up', path: '/api/usage', bodies: batches(10), concurrency: 2, ok: dev.recorded });
    await run(dev, { label: 'warm-up', path: '/api/usage', bodies: singles(200), concurrency: 16, ok: dev.recorded });
  }
  if (!BASELINE) {
    for (const [label, body] of GUARD_ROWS) {
      await run(guarded, { label, path: '/api/usage/guard', bodies: Array.from({ length: 100 }, body), concurrency: 16, ok: allowed });
    }
  }
  for (let round = 0; round < ROUNDS; round += 1) {
    // 1. The guard's rows and single-event ingest on one worker, the order rotating.
    const results = {};
    if (!BASELINE) {
      const rows = [
        ...GUARD_ROWS.map(([label, body]) => ({ label, path: '/api/usage/guard', bodies: Array.from({ length: GUARD_N }, body), ok: allowed })),
        { label: 'ingest, a single event', path: '/api/usage', bodies: singles(SINGLE_N), ok: recorded },
      ];
      for (let k = 0; k < rows.length; k += 1) {
        const row = rows[(k + round) % rows.length];
        results[row.label] = await run(guarded, { ...row, concurrency: 16 });
      }
      guardRounds.push(results);
    }
    // 2. Alerts on and off (and the baseline), the order rotating.
    const order = SIDES.map((_, k) => SIDES[(k + round) % SIDES.length]);
    const alert = { first: order[0][0] };
    for (const [name, dev] of order) {
      alert[`batch-${name}`] = await run(dev, { label: `batches of 1,000, ${name}`, path: '/api/usage', bodies: batches(BATCH_N), concurrency: 2, ok: dev.recorded });
    }
    for (const [name, dev] of order) {
      alert[`single-${name}`] = await run(dev, { label: `single events, ${name}`, path: '/api/usage', bodies: singles(SINGLE_N * 2), concurrency: 16, ok: dev.recorded });
    }
    alertRounds.push(alert);
    console.error(`round ${round + 1}/${ROUNDS}: batches ${SIDES.map(([n]) => `${n} ${alert[`batch-${n}`].eps.toFixed(0)}`).join(', ')} events/s`
      + (BASELINE ? '' : `; guard amount p50 ${results[GUARD_ROWS[0][0]].p50.toFixed(1)} ms, ingest p50 ${results['ingest, a single event'].p50.toFixed(1)} ms`));
  }
} finally {
  for (const [, dev] of SIDES) await dev.stop();
  await guarded?.stop();
}

const f1 = (x) => x.toFixed(1);
const f3 = (x) => x.toFixed(3);
const range = (xs, f) => `${f(Math.min(...xs))} to ${f(Math.max(...xs))}`;

if (!BASELINE) {
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
}

const names = SIDES.map(([n]) => n);
console.log(`\nIngestion, ${names.join(' / ')} (on: the ingest-time alert check, the default; off: INGEST_ALERTS=off${BASELINE ? `; before: ${BASELINE}` : ''}), ${ROUNDS} rounds, ${BATCH_N} batches of 1,000 at concurrency 2 and ${SINGLE_N * 2} single events at concurrency 16 per side and round\n`);
console.log(`| round | first | ${names.map((n) => `batches of 1,000 ${n}: events/s | CPU ms/req`).join(' | ')} | ${names.map((n) => `single events ${n}: req/s | p50/p99 ms`).join(' | ')} |`);
console.log(`|---|---|${names.map(() => '---|---|').join('')}${names.map(() => '---|---|').join('')}`);
alertRounds.forEach((a, i) => {
  const batch = names.map((n) => `${a[`batch-${n}`].eps.toFixed(0)} | ${f1(a[`batch-${n}`].cpu)}`).join(' | ');
  const single = names.map((n) => `${a[`single-${n}`].rps.toFixed(0)} | ${f1(a[`single-${n}`].p50)} / ${f1(a[`single-${n}`].p99)}`).join(' | ');
  console.log(`| ${i + 1} | ${a.first} | ${batch} | ${single} |`);
});
const ratios = (x, y, key, field) => alertRounds.map((a) => a[`${key}-${x}`][field] / a[`${key}-${y}`][field]);
for (const [x, y] of [['on', 'off'], ...(BASELINE ? [['on', 'before'], ['off', 'before']] : [])]) {
  const batch = ratios(x, y, 'batch', 'eps');
  console.log(`\nMedian ${x}/${y}: batches of 1,000 events/s ${f3(median(batch))} (${range(batch, f3)}), `
    + `CPU per request ${f3(median(ratios(x, y, 'batch', 'cpu')))}; single events requests/s ${f3(median(ratios(x, y, 'single', 'rps')))}, `
    + `p50 ${f3(median(ratios(x, y, 'single', 'p50')))}, p99 ${f3(median(ratios(x, y, 'single', 'p99')))}.`);
}
