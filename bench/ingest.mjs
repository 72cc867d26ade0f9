// Ingestion throughput and latency against the real `wrangler dev` (local workerd, D1, R2) on
// this machine, and the raw SQLite insert rate of the same rows as the ceiling. Prints Markdown
// for BENCHMARKS.md. Not a test: nothing here asserts.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startWranglerDev } from '../tests/support/wrangler-dev.mjs';
import { ROOT } from '../tests/support/worker.mjs';
import { postClient, teamTraffic } from './traffic.mjs';

const ADMIN = 'bench-admin-key';
const SCALE = Number(process.env.BENCH_SCALE ?? 1);

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** The i-th event of a video team's traffic (bench/traffic.mjs; `backfill`: over 20 days). */
const event = teamTraffic('bench');

/** CPU time (ms) used so far by the workerd processes of a `wrangler dev` process group. */
function workerdCpuMs(pgid) {
  let ticks = 0;
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let stat;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[2] is the process group; fields[11] and [12] are user and system ticks.
    if (name === 'workerd' && Number(fields[2]) === pgid) ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks * 10; // USER_HZ is 100 on Linux
}


/** Sends `requests` bodies with `concurrency` clients; returns events/s, latency and workerd CPU. */
async function run(label, { requests, concurrency, batch, duplicates = 0, backfill = false, path }, dev, headers) {
  const send = postClient(dev.base, headers, concurrency, path);
  const sent = [];
  const bodies = [];
  for (let r = 0; r < requests; r += 1) {
    const events = [];
    for (let i = 0; i < batch; i += 1) {
      if (duplicates > 0 && sent.length > batch && Math.random() < duplicates) {
        events.push(sent[Math.floor(Math.random() * sent.length)]);
      } else {
        const e = event(r * batch + i, backfill);
        sent.push(e);
        events.push(e);
      }
    }
    bodies.push(batch === 1 ? events[0] : { events });
  }
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
      if (status !== 201 && status !== 200) {
        throw new Error(`${label}: HTTP ${status} ${JSON.stringify(json).slice(0, 300)}`);
      }
      latencies.push(performance.now() - t0);
      events += json.accepted;
    }
  }));
  const seconds = (performance.now() - started) / 1000;
  const cpu = workerdCpuMs(dev.pgid) - cpuBefore;
  latencies.sort((a, b) => a - b);
  return {
    label,
    concurrency,
    requests: latencies.length,
    eps: (events / seconds).toFixed(0),
    p50: percentile(latencies, 50).toFixed(1),
    p99: percentile(latencies, 99).toFixed(1),
    cpu: (cpu / latencies.length).toFixed(1),
  };
}

/** The same rows inserted by the sqlite3 shell in one transaction: the ceiling. */
function sqliteCeiling(rows) {
  const dir = mkdtempSync(join(tmpdir(), 'ingest-ceiling-'));
  try {
    const migrations = readdirSync(join(ROOT, 'migrations')).filter((f) => f.endsWith('.sql')).sort()
      .map((f) => readFileSync(join(ROOT, 'migrations', f), 'utf8')).join('\n');
    const columns = ['project_id', 'id', 'provider', 'model', 'operation', 'input_tokens', 'output_tokens',
      'total_tokens', 'characters', 'cost', 'cost_nanos', 'currency', 'computed_cost_nanos', 'computed_currency',
      'price_id', 'request_timestamp', 'job_id'];
    const values = rows.map((r, i) => {
      const [input, output, characters] = [r.input_tokens ?? 0, r.output_tokens ?? 0, r.characters ?? 0];
      return `('p0','ceil-${i}','${r.provider}','${r.model}','${r.operation}',${input},${output},${input + output},` +
        `${characters},'0.000123',123000,'USD',123000,'USD','builtin:x','${r.timestamp}','${r.job_id}')`;
    });
    const chunks = [];
    for (let i = 0; i < values.length; i += 500) chunks.push(`INSERT INTO api_usage (${columns.join(',')}) VALUES ${values.slice(i, i + 500).join(',')} ON CONFLICT (project_id, id) DO NOTHING;`);
    const script = `${migrations}\n.timer on\nBEGIN;\n${chunks.join('\n')}\nCOMMIT;\n`;
    writeFileSync(join(dir, 'load.sql'), script);
    const started = performance.now();
    execFileSync('sqlite3', [join(dir, 'db.sqlite')], { input: script, stdio: ['pipe', 'ignore', 'inherit'] });
    const seconds = (performance.now() - started) / 1000;
    return (rows.length / seconds).toFixed(0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// `wrangler dev` as started by hand, and the same with its DevTools inspector detached and
// the per-request log off. Attached, wrangler enables the runtime's Network domain: every D1
// and R2 call of the worker is copied, body base64-encoded, into inspector events that the
// wrangler process writes to its debug log, which costs more than the call itself for a
// large batch. A VS Code JavaScript Debug Terminal (VSCODE_INSPECTOR_OPTIONS set) is how
// wrangler is told not to attach; production has no inspector.
const CONFIGS = [
  { name: '`wrangler dev` (defaults: DevTools inspector attached, request log on)', args: [], env: {} },
  {
    name: '`wrangler dev --log-level warn`, DevTools inspector detached',
    args: ['--log-level', 'warn'],
    env: { VSCODE_INSPECTOR_OPTIONS: '{}' },
  },
];

const WORKLOADS = [
  ['single events', { requests: 2000 * SCALE, concurrency: 16, batch: 1 }],
  ['batches of 100', { requests: 200 * SCALE, concurrency: 4, batch: 100 }],
  ['batches of 1,000', { requests: 60 * SCALE, concurrency: 2, batch: 1000 }],
  ['single events, 10% duplicate retries', { requests: 2000 * SCALE, concurrency: 16, batch: 1, duplicates: 0.1 }],
  ['batches of 100, 10% duplicate retries', { requests: 200 * SCALE, concurrency: 4, batch: 100, duplicates: 0.1 }],
  ['batches of 1,000, 10% duplicate retries', { requests: 60 * SCALE, concurrency: 2, batch: 1000, duplicates: 0.1 }],
  ['batches of 1,000, backfill over 20 days', { requests: 60 * SCALE, concurrency: 2, batch: 1000, backfill: true }],
];

/** Whether the temporary folder, where `wrangler dev` keeps its D1 and R2 state, is in memory. */
function stateMedium() {
  const dir = tmpdir();
  let best = { point: '', type: '' };
  for (const line of readFileSync('/proc/mounts', 'utf8').split('\n')) {
    const [, point, type] = line.split(' ');
    if (point && (dir === point || dir.startsWith(point.endsWith('/') ? point : `${point}/`)) && point.length > best.point.length) {
      best = { point, type };
    }
  }
  return best.type === 'tmpfs' ? 'in memory (tmpfs)' : 'on disk';
}

// `BENCH_ONLY=<text>` runs only the workloads whose name contains it, and only detached, with
// no floor or ceiling: for comparing two builds run after run.
const ONLY = process.env.BENCH_ONLY;
const tables = [];
for (const config of ONLY ? CONFIGS.slice(1) : CONFIGS) {
  const dev = await startWranglerDev({ adminKey: ADMIN, args: config.args, env: config.env });
  try {
    const auth = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };
    await fetch(`${dev.base}/api/admin/projects`, { method: 'POST', headers: auth, body: JSON.stringify({ id: 'p0', name: 'Bench' }) });
    const key = (await (await fetch(`${dev.base}/api/admin/projects/p0/keys`, { method: 'POST', headers: auth })).json()).key;
    const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
    // Warm up the isolate and SQLite's caches.
    await run('warm-up', { requests: 20, concurrency: 4, batch: 100 }, dev, headers);
    const results = [];
    for (const [label, workload] of WORKLOADS) {
      if (!ONLY || label.includes(ONLY)) results.push(await run(label, workload, dev, headers));
    }
    tables.push({ config, results });
  } finally {
    await dev.stop();
  }
}
// The runtime floor: a few lines of JavaScript (bench/floor) making the same two writes as one
// recorded event, under the detached `wrangler dev`, so the single-event rows above can be
// read against what the runtime itself costs.
const FLOOR = [
  ['no writes (parse the event, answer)', 'none'],
  ['R2 put only', 'r2'],
  ['D1 insert only, into a table with just a primary key', 'd1-bare'],
  ['R2 put, then D1 insert into a table with just a primary key', 'r2+d1-bare'],
  ['R2 put, then D1 insert into `api_usage` (the project\'s indexes and rollup triggers)', 'r2+d1'],
];
const floor = [];
if (!ONLY) {
  const detached = CONFIGS[1];
  const dev = await startWranglerDev({
    adminKey: ADMIN, args: detached.args, env: detached.env, config: join(ROOT, 'bench', 'floor', 'wrangler.toml'),
  });
  try {
    await fetch(`${dev.base}/setup`, { method: 'POST' });
    const headers = { 'content-type': 'application/json' };
    for (const [label, writes] of FLOOR) {
      const path = `/?writes=${encodeURIComponent(writes)}`;
      await run('warm-up', { requests: 100, concurrency: 4, batch: 1, path }, dev, headers);
      floor.push(await run(label, { requests: 2000 * SCALE, concurrency: 16, batch: 1, path }, dev, headers));
    }
  } finally {
    await dev.stop();
  }
}
const ceiling = ONLY ? null : sqliteCeiling(Array.from({ length: 100_000 }, (_, i) => event(i)));
for (const { config, results } of tables) {
  console.log(`\n${config.name}: \`POST /api/usage\` with a project key on 127.0.0.1 (local D1 and R2 ${stateMedium()})\n`);
  console.log('| workload | concurrency | requests | events/s | p50 ms | p99 ms | workerd CPU ms per request |');
  console.log('|---|---|---|---|---|---|---|');
  for (const r of results) console.log(`| ${r.label} | ${r.concurrency} | ${r.requests} | ${r.eps} | ${r.p50} | ${r.p99} | ${r.cpu} |`);
}
if (ONLY) process.exit(0);
console.log(`\nRuntime floor: bench/floor, a JavaScript worker with no validation, pricing or authentication, single events under ${CONFIGS[1].name} (local D1 and R2 ${stateMedium()})\n`);
console.log('| writes per request | concurrency | requests | requests/s | p50 ms | p99 ms | workerd CPU ms per request |');
console.log('|---|---|---|---|---|---|---|');
for (const r of floor) console.log(`| ${r.label} | ${r.concurrency} | ${r.requests} | ${r.eps} | ${r.p50} | ${r.p99} | ${r.cpu} |`);
console.log(`\nCeiling: the sqlite3 shell inserts the same 100,000 rows (with the same indexes and rollup triggers) in one transaction at ${ceiling} rows/s.`);
