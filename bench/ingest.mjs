// Ingestion throughput and latency against the real `wrangler dev` (local workerd, D1, R2) on
// this machine, and the raw SQLite insert rate of the same rows as the ceiling. Prints Markdown
// for BENCHMARKS.md. Not a test: nothing here asserts.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startWranglerDev } from '../tests/support/wrangler-dev.mjs';
import { ROOT } from '../tests/support/worker.mjs';

const ADMIN = 'bench-admin-key';
const SCALE = Number(process.env.BENCH_SCALE ?? 1);

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

let serial = 0;
function event(i, day = 1 + (i % 28)) {
  serial += 1;
  return {
    id: `bench-${serial}`,
    provider: ['openai', 'anthropic', 'google', 'elevenlabs'][i % 4],
    model: ['gpt-4o-mini', 'claude-3-5-haiku', 'gemini-2.0-flash', 'eleven_multilingual_v2'][i % 4],
    operation: ['script-generation', 'summary', 'translation', 'voice-synthesis'][i % 4],
    input_tokens: 800 + (i % 400),
    output_tokens: 200 + (i % 100),
    job_id: `job-${Math.floor(serial / 5)}`,
    timestamp: new Date(Date.UTC(2026, 10, Math.min(day, 20), i % 24, i % 60)).toISOString(),
  };
}

/** Sends `requests` bodies with `concurrency` clients; returns events/s and latency. */
async function run(label, { requests, concurrency, batch, duplicates = 0 }, send) {
  const sent = [];
  const bodies = [];
  for (let r = 0; r < requests; r += 1) {
    const events = [];
    for (let i = 0; i < batch; i += 1) {
      if (duplicates > 0 && sent.length > batch && Math.random() < duplicates) {
        events.push(sent[Math.floor(Math.random() * sent.length)]);
      } else {
        const e = event(r * batch + i);
        sent.push(e);
        events.push(e);
      }
    }
    bodies.push(batch === 1 ? events[0] : { events });
  }
  const latencies = [];
  let next = 0;
  let events = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < bodies.length) {
      const body = bodies[next];
      next += 1;
      const t0 = performance.now();
      const response = await send(body);
      const answer = await response.json();
      if (response.status !== 201 && response.status !== 200) {
        throw new Error(`${label}: HTTP ${response.status} ${JSON.stringify(answer).slice(0, 300)}`);
      }
      latencies.push(performance.now() - t0);
      events += answer.accepted;
    }
  }));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    label,
    concurrency,
    requests: latencies.length,
    eps: (events / seconds).toFixed(0),
    p50: percentile(latencies, 50).toFixed(1),
    p99: percentile(latencies, 99).toFixed(1),
  };
}

/** The same rows inserted by the sqlite3 shell in one transaction: the ceiling. */
function sqliteCeiling(rows) {
  const dir = mkdtempSync(join(tmpdir(), 'ingest-ceiling-'));
  try {
    const migrations = readdirSync(join(ROOT, 'migrations')).filter((f) => f.endsWith('.sql')).sort()
      .map((f) => readFileSync(join(ROOT, 'migrations', f), 'utf8')).join('\n');
    const columns = ['project_id', 'id', 'provider', 'model', 'operation', 'input_tokens', 'output_tokens',
      'total_tokens', 'cost', 'cost_nanos', 'currency', 'price_id', 'request_timestamp', 'job_id'];
    const values = rows.map((r, i) => `('p0','ceil-${i}','${r.provider}','${r.model}','${r.operation}',${r.input_tokens},` +
      `${r.output_tokens},${r.input_tokens + r.output_tokens},'0.000123',123000,'USD','builtin:x','${r.timestamp}','${r.job_id}')`);
    const chunks = [];
    for (let i = 0; i < values.length; i += 500) chunks.push(`INSERT OR IGNORE INTO api_usage (${columns.join(',')}) VALUES ${values.slice(i, i + 500).join(',')};`);
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

const dev = await startWranglerDev({ adminKey: ADMIN });
try {
  const auth = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };
  await fetch(`${dev.base}/api/admin/projects`, { method: 'POST', headers: auth, body: JSON.stringify({ id: 'p0', name: 'Bench' }) });
  const key = (await (await fetch(`${dev.base}/api/admin/projects/p0/keys`, { method: 'POST', headers: auth })).json()).key;
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  const send = (body) => fetch(`${dev.base}/api/usage`, { method: 'POST', headers, body: JSON.stringify(body) });
  // Warm up the isolate and SQLite's caches.
  await run('warm-up', { requests: 20, concurrency: 4, batch: 10 }, send);
  const results = [];
  results.push(await run('single events', { requests: 2000 * SCALE, concurrency: 16, batch: 1 }, send));
  results.push(await run('batches of 100', { requests: 100 * SCALE, concurrency: 4, batch: 100 }, send));
  results.push(await run('batches of 1,000', { requests: 20 * SCALE, concurrency: 2, batch: 1000 }, send));
  results.push(await run('single events, 10% duplicate retries', { requests: 2000 * SCALE, concurrency: 16, batch: 1, duplicates: 0.1 }, send));
  results.push(await run('batches of 100, 10% duplicate retries', { requests: 100 * SCALE, concurrency: 4, batch: 100, duplicates: 0.1 }, send));
  results.push(await run('batches of 1,000, 10% duplicate retries', { requests: 20 * SCALE, concurrency: 2, batch: 1000, duplicates: 0.1 }, send));
  const ceiling = sqliteCeiling(Array.from({ length: 100_000 }, (_, i) => event(i)));
  console.log('\n`POST /api/usage` with a project key, wrangler dev on 127.0.0.1 (local D1 and R2)\n');
  console.log('| workload | concurrency | requests | events/s | p50 ms | p99 ms |');
  console.log('|---|---|---|---|---|---|');
  for (const r of results) console.log(`| ${r.label} | ${r.concurrency} | ${r.requests} | ${r.eps} | ${r.p50} | ${r.p99} |`);
  console.log(`\nCeiling: the sqlite3 shell inserts the same 100,000 rows (with the same indexes and rollup triggers) in one transaction at ${ceiling} rows/s.`);
} finally {
  await dev.stop();
}
