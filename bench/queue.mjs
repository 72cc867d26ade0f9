// The queue path of POST /api/usage (INGEST_MODE = "queue") against the real `wrangler dev`
// with the local queue of queue.toml, beside the synchronous path, interleaved in one run:
// 16 concurrent writers of single events. For the queue path it reads, from the consumer's own
// batch, the time of each batch (one R2 object and one D1 insert): what a database spends per
// consumer batch, and so how many single events a second one database
// takes through the queue. Two times per batch: wrangler's own line per consumer invocation
// (`QUEUE <name> <acked>/<messages> (<ms>)`), the handler's wall time, writes included; and the
// consumer's line (`usage queue: stored N events of M messages in T ms (D1 D ms)`), whose D1 time
// is how long the batch's transaction held the database. The database runs one transaction at
// a time while consumers run side by side (their R2 puts and CPU too), so the D1 time is what
// bounds one database. Prints Markdown for BENCHMARKS.md. Not a test: nothing here asserts.
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import { startWranglerDev } from '../tests/support/wrangler-dev.mjs';
import { ROOT } from '../tests/support/worker.mjs';
import { join } from 'node:path';
import { keepAliveAgents } from './traffic.mjs';

const ADMIN = 'bench-admin-key';
const EVENTS = Number(process.env.BENCH_QUEUE_EVENTS ?? 2000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const CONCURRENCY = 16;

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const median = (xs) => percentile([...xs].sort((a, b) => a - b), 50);

function client(base, key) {
  const agents = keepAliveAgents(CONCURRENCY);
  const url = new URL(base);
  return (path, body, method = 'POST') => new Promise((resolve, reject) => {
    const payload = body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(body));
    const request = http.request({
      host: url.hostname, port: url.port, path, method, agent: agents(),
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'content-length': payload.length },
    }, (response) => {
      const chunks = [];
      response.on('data', (c) => chunks.push(c));
      response.on('end', () => resolve({ status: response.statusCode, json: JSON.parse(Buffer.concat(chunks).toString() || 'null') }));
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end(payload);
  });
}

let serial = 0;
const event = (i) => {
  serial += 1;
  return { id: `q-${serial}`, provider: 'openai', model: 'gpt-4o-mini', operation: 'script', job_id: `job-${Math.floor(serial / 5)}`, input_tokens: 800 + (i % 400), output_tokens: 200 + (i % 100) };
};

async function round(mode) {
  const queue = mode === 'queue';
  const config = queue ? execFileSync('bash', [join(ROOT, 'scripts', 'queue-config.sh')], { encoding: 'utf8' }).trim() : undefined;
  const dev = await startWranglerDev({
    adminKey: ADMIN,
    config,
    vars: { INGEST_MODE: mode, INGEST_ALERTS: 'off' },
    env: { VSCODE_INSPECTOR_OPTIONS: '{}' },
    args: ['--log-level', 'log'], // `log`: the consumer's console.log line too
  });
  try {
    const admin = client(dev.base, ADMIN);
    await admin('/api/admin/projects', { id: 'bench', name: 'Bench' });
    const key = (await admin('/api/admin/projects/bench/keys', {})).json.key;
    const post = client(dev.base, key);
    const latencies = [];
    let next = 0;
    const started = performance.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (next < EVENTS) {
        const i = next++;
        const t = performance.now();
        const r = await post('/api/usage', event(i));
        latencies.push(performance.now() - t);
        if (r.status >= 300) throw new Error(`${r.status} ${JSON.stringify(r.json)}`);
      }
    }));
    const answered = performance.now() - started;
    // Until every event is stored (the queue drains after the answers).
    for (;;) {
      const stats = await admin('/api/usage?project_id=bench&limit=1&preset=all', undefined, 'GET');
      const log = dev.output();
      const stored = [...log.matchAll(/QUEUE ai-spend-tracker-usage (\d+)\/(\d+) \((\d+)ms\)/g)].reduce((n, m) => n + Number(m[1]), 0); // acknowledged messages, one event each
      if (!queue || stored >= EVENTS) break;
      if (performance.now() - started > 300_000) throw new Error(`queue not drained: ${stored} of ${EVENTS}`);
      void stats;
      await new Promise((r) => setTimeout(r, 200));
    }
    const drained = performance.now() - started;
    latencies.sort((a, b) => a - b);
    const batches = [...dev.output().matchAll(/QUEUE ai-spend-tracker-usage (\d+)\/(\d+) \((\d+)ms\)/g)].map((m) => ({ events: Number(m[2]), acked: Number(m[1]), ms: Number(m[3]) }));
    const writes = [...dev.output().matchAll(/usage queue: stored (\d+) events of (\d+) messages in (\d+) ms \(D1 (\d+) ms\)/g)].map((m) => ({ events: Number(m[1]), ms: Number(m[3]), d1: Number(m[4]) }));
    return {
      mode,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      answeredPerS: (EVENTS / answered) * 1000,
      storedPerS: (EVENTS / drained) * 1000,
      batches,
      writes,
    };
  } finally {
    await dev.stop();
  }
}

const results = [];
for (let r = 0; r < ROUNDS; r += 1) {
  for (const mode of r % 2 === 0 ? ['sync', 'queue'] : ['queue', 'sync']) results.push(await round(mode));
}

console.log(`\n${EVENTS} single events per round, ${CONCURRENCY} concurrent writers, ${ROUNDS} rounds interleaved (\`node bench/queue.mjs\`)\n`);
console.log('| path | round | answered events/s | stored events/s (end to end) | answer p50 ms | answer p99 ms |');
console.log('|---|---|---|---|---|---|');
results.forEach((r, i) => console.log(`| ${r.mode} | ${Math.floor(i / 2) + 1} | ${r.answeredPerS.toFixed(0)} | ${r.storedPerS.toFixed(0)} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} |`));
const batches = results.filter((r) => r.mode === 'queue').flatMap((r) => r.batches);
const events = batches.reduce((n, b) => n + b.events, 0);
const ms = batches.reduce((n, b) => n + b.ms, 0);
console.log(`\nConsumer batches: ${batches.length}, median ${median(batches.map((b) => b.events))} events per batch, median ${median(batches.map((b) => b.ms))} ms of writes per batch (the consumer invocation's wall time as wrangler logs it: R2 put + D1 insert + the handler's CPU).`);
console.log(`One database's single-event capacity through the queue (events / write time, summed over every batch): ${((events / ms) * 1000).toFixed(0)} events/s.`);
const writes = results.filter((r) => r.mode === 'queue').flatMap((r) => r.writes);
const written = writes.reduce((n, w) => n + w.events, 0);
const d1 = writes.reduce((n, w) => n + w.d1, 0);
const both = writes.reduce((n, w) => n + w.ms, 0);
console.log(`The consumer's own times over ${writes.length} batches (${written} events): median ${median(writes.map((w) => w.ms))} ms for R2 and D1, median ${median(writes.map((w) => w.d1))} ms in the D1 transaction.`);
console.log(`One database's single-event capacity by D1 statement time (events / D1 time, summed): ${((written / d1) * 1000).toFixed(0)} events/s; by the writes' time (R2 + D1): ${((written / both) * 1000).toFixed(0)} events/s.`);
const full = batches.filter((b) => b.events >= 90);
if (full.length) {
  const e = full.reduce((n, b) => n + b.events, 0);
  const t = full.reduce((n, b) => n + b.ms, 0);
  console.log(`Full batches (>= 90 events) only: ${full.length} batches, ${((e / t) * 1000).toFixed(0)} events/s.`);
}
