// Report latency over stored events under the real `wrangler dev`, at several data sizes. The
// rows are bulk-loaded into the local D1 file with the sqlite3 shell before the worker starts:
// the same columns ingestion writes, with the same triggers keeping every rollup. Each size's
// loaded state is kept on disk (`.bench-state/reports-<events>/`, or `BENCH_STATE`) and reused
// by the next run, migrated to the current schema first and topped up with the rows due since
// it was loaded (at the same rate), so that today, this month and the last hour hold what
// they would at that size. One worker per size runs side by side and the timing is
// interleaved: each round sends one request to every size, in a rotating order, so that the
// shared machine's load falls on every size alike. Prints Markdown for BENCHMARKS.md: per
// pass, each report's median (and p99) per size and its ratio to the first size at or above
// 1M (or the smallest). Not a test: nothing here asserts.
//
//   BENCH_EVENTS=1000000,3000000 node bench/reports.mjs   (sizes; default 1,000,000)
//   BENCH_RUNS=40                                          (rounds per report; one request to each size per round)
//   BENCH_PASSES=2                                         (whole timing passes, each printed)
//   BENCH_CONFIG=path/to/wrangler.toml                     (another build, e.g. the one before)
//   BENCH_OUT=file.json                                    (the medians, for before/after tables)
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startWranglerDev } from '../tests/support/wrangler-dev.mjs';
import { ROOT } from '../tests/support/worker.mjs';

const ADMIN = 'bench-admin-key';
const SIZES = String(process.env.BENCH_EVENTS ?? 1_000_000).split(',').map((s) => Number(s.replace(/_/g, '')));
const RUNS = Number(process.env.BENCH_RUNS ?? 40);
const STATE = process.env.BENCH_STATE ?? join(ROOT, '.bench-state');
const DAY = 86_400_000;

function findSqlite(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      const found = findSqlite(path);
      if (found) return found;
    } else if (name.endsWith('.sqlite') && path.includes('D1')) {
      return path;
    }
  }
  return undefined;
}

/** The loaded rows `from`..`to` of a state of `events` events over 60 days from `start`: row `k`
 * at `start + k / events` of the 60 days, so rows past `events` continue at the same rate. */
async function bulkLoad(state, events, start, from, to) {
  const file = findSqlite(state);
  if (!file) throw new Error('no local D1 file found');
  const child = spawn('sqlite3', [file], { stdio: ['pipe', 'inherit', 'inherit'] });
  const write = (text) => new Promise((resolve) => (child.stdin.write(text) ? resolve() : child.stdin.once('drain', resolve)));
  const providers = [['openai', 'gpt-4o-mini'], ['openai', 'gpt-4o'], ['anthropic', 'claude-3-5-haiku'], ['google', 'gemini-2.0-flash'], ['elevenlabs', 'eleven_multilingual_v2']];
  const operations = ['script-generation', 'voice-synthesis', 'video-creation', 'summary'];
  // The connection's own cache and sync settings only speed the load; the file is the same.
  await write('PRAGMA journal_mode=WAL;\nPRAGMA synchronous=OFF;\nPRAGMA cache_size=-1000000;\n');
  if (from === 0) {
    await write('INSERT INTO projects (id, name, budget_alert_threshold_percent, created_at, updated_at) VALUES ');
    await write(Array.from({ length: 10 }, (_, i) => `('p${i}', 'Project ${i}', 80, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')`).join(',') + ';\n');
  }
  const cols = 'project_id, id, provider, model, operation, input_tokens, output_tokens, total_tokens, cost, cost_nanos, currency, computed_cost_nanos, computed_currency, price_id, request_timestamp, job_id';
  await write('BEGIN;');
  for (let i = from; i < to; i += 1000) {
    if (i > from && (i - from) % 100_000 === 0) await write('COMMIT;BEGIN;');
    const rows = [];
    for (let k = i; k < Math.min(to, i + 1000); k += 1) {
      const [provider, model] = providers[k % providers.length];
      const ts = new Date(start + Math.floor((k / events) * 60 * DAY)).toISOString();
      const nanos = 100_000 + (k % 9973) * 37;
      const cost = `0.${String(nanos).padStart(9, '0')}`;
      rows.push(`('p${Math.floor(k / 5) % 10}','b${k}','${provider}','${model}','${operations[k % 4]}',${800 + (k % 400)},${200 + (k % 90)},${1000 + (k % 490)},'${cost}',${nanos},'USD',${nanos},'USD','builtin:${provider}/${model}','${ts}','job-${Math.floor(k / 5)}')`);
    }
    await write(`INSERT INTO api_usage (${cols}) VALUES ${rows.join(',')};\n`);
  }
  await write('COMMIT;\n');
  child.stdin.end();
  await new Promise((resolve, reject) => child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`sqlite3 exited ${code}`)))));
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** A started worker over `events` loaded rows: the state on disk when there (topped up with
 * the rows due since it was loaded, at the same rate, so that "today", "this month" and the
 * last hour hold what they would at that size), else loaded. */
async function startAt(events) {
  const dir = join(STATE, `reports-${events}`);
  const marker = join(dir, 'loaded.json');
  const config = process.env.BENCH_CONFIG;
  const now = Date.now();
  if (existsSync(marker)) {
    const loaded = JSON.parse(readFileSync(marker, 'utf8'));
    const start = Date.parse(loaded.end) - 60 * DAY * ((loaded.rows ?? events) / events);
    const from = loaded.rows ?? events;
    const to = Math.floor(((now - start) / (60 * DAY)) * events);
    const prepare = to > from ? (state) => bulkLoad(state, events, start, from, to) : undefined;
    const dev = await startWranglerDev({ adminKey: ADMIN, stateDir: dir, config, prepare });
    if (prepare) {
      Object.assign(loaded, { rows: to, end: new Date(start + (to / events) * 60 * DAY).toISOString() });
      writeFileSync(marker, JSON.stringify(loaded));
    }
    return { dev, loaded };
  }
  mkdirSync(dir, { recursive: true });
  const start = now - 60 * DAY;
  const t0 = performance.now();
  const dev = await startWranglerDev({ adminKey: ADMIN, stateDir: dir, config, prepare: (state) => bulkLoad(state, events, start, 0, events) });
  const loaded = { events, rows: events, end: new Date(now).toISOString(), seconds: Math.round((performance.now() - t0) / 1000) };
  writeFileSync(marker, JSON.stringify(loaded));
  return { dev, loaded };
}

/** The same settings on every size: budgets in five time zones (spike rules in two) and ten
 * plans, for the budget check and the plan reports (saved again on a reused state). */
async function configure(dev) {
  const headers = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };
  const zones = ['UTC', 'America/New_York', 'Europe/Paris', 'Asia/Tokyo', 'Australia/Sydney'];
  const send = async (method, path, body) => {
    const r = await fetch(`${dev.base}${path}`, { method, headers, body: JSON.stringify(body) });
    if (!r.ok) throw new Error(`${method} ${path}: HTTP ${r.status} ${await r.text()}`);
  };
  for (let i = 0; i < 10; i += 1) {
    await send('PATCH', `/api/admin/projects/p${i}/budget`, {
      budget_threshold_usd: '500', alert_levels: 'default', daily_limit: '50', timezone: zones[i % 5],
      ...(i % 5 < 2 ? { spike_alert: { percent: 300 } } : {}),
    });
  }
  const planProviders = ['openai', 'anthropic', 'google', 'elevenlabs'];
  for (let i = 0; i < 10; i += 1) {
    await send('PUT', '/api/admin/subscriptions', {
      provider: planProviders[i % 4], project_id: `p${i}`, monthly_fee: '20',
      allotment: { amount: '1000000', unit: 'tokens' }, counts: { usage: 'total_tokens', per: '1' }, reset_day: 1 + (i % 3) * 7,
    });
  }
}

function reportList() {
  const last = new Date(Date.now() - DAY).toISOString().slice(0, 10);
  const first = new Date(Date.now() - 31 * DAY).toISOString().slice(0, 10);
  const month = new Date().toISOString().slice(0, 7).replace('-', '');
  return [
    ['a month by day and provider', `/api/admin/usage?group=day,provider&from=${first}&to=${last}`],
    ['a month by day and provider, tz America/New_York', `/api/admin/usage?group=day,provider&from=${first}&to=${last}&tz=America/New_York`],
    ['a month by provider, tz America/New_York', `/api/admin/usage?group=provider&from=${first}&to=${last}&tz=America/New_York`],
    ['all time by project (with budget status)', '/api/admin/usage?group=project&preset=all'],
    ['all time by week, model and operation', '/api/admin/usage?group=week,model,operation&preset=all'],
    ['all time by day and provider, tz America/New_York', '/api/admin/usage?group=day,provider&preset=all&tz=America/New_York'],
    ['all time by month and provider, tz America/New_York', '/api/admin/usage?group=month,provider&preset=all&tz=America/New_York'],
    ['a month by day and provider as CSV', `/api/admin/usage?group=day,provider&from=${first}&to=${last}&format=csv`],
    ['usage stats (today and this month)', '/api/usage/stats'],
    ['usage stats, one project, tz America/New_York', '/api/usage/stats?project_id=p3&tz=America/New_York'],
    ['monthly stats (events and jobs)', `/api/admin/stats?m=${month}`],
    ['analytics usage summary (this month)', '/api/analytics/usage-summary'],
    ['analytics realtime usage', '/api/analytics/realtime-usage'],
    ['jobs, 100 newest of the month', '/api/admin/usage/jobs?preset=month'],
    ['job cost distribution (this month)', '/api/admin/usage/jobs/summary?preset=month'],
    ['budget check, dry run (10 projects, 5 zones)', '/api/admin/usage/check-budgets'],
    ['plans this period (10 plans)', '/api/admin/subscriptions'],
  ];
}

async function timed(dev, path) {
  const t0 = performance.now();
  const r = await fetch(`${dev.base}${path}`, { headers: { authorization: `Bearer ${ADMIN}` } });
  await r.arrayBuffer();
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  return performance.now() - t0;
}

/** One timing pass: for each report, three warm-up requests to every size, then `RUNS`
 * rounds, each one request to every size in a rotating order, so that the machine's load at
 * any moment falls on all sizes alike. */
async function pass(workers) {
  const out = [];
  for (const [label, path] of reportList()) {
    for (const w of workers) for (let i = 0; i < 3; i += 1) await timed(w.dev, path);
    const latencies = workers.map(() => []);
    for (let round = 0; round < RUNS; round += 1) {
      for (let j = 0; j < workers.length; j += 1) {
        const idx = (round + j) % workers.length;
        latencies[idx].push(await timed(workers[idx].dev, path));
      }
    }
    const bySize = latencies.map((l) => {
      l.sort((x, y) => x - y);
      return { p50: percentile(l, 50), p99: percentile(l, 99) };
    });
    out.push({ label, route: path.replace(/\?.*/, ''), bySize });
  }
  return out;
}

const name = (n) => (n >= 1_000_000 ? `${n / 1_000_000}M` : `${n / 1_000}k`);

function printPass(index, workers, results) {
  const base = Math.max(0, workers.findIndex((w) => w.events >= 1_000_000));
  const others = workers.map((_, i) => i).filter((i) => i !== base);
  console.log(`\nPass ${index + 1}: p50 ms (p99 ms) per size, ${RUNS} rounds interleaved across sizes${workers.length > 1 ? `, and each size's p50 over ${name(workers[base].events)}'s` : ''}\n`);
  console.log(`| report | route | ${workers.map((w) => name(w.events)).join(' | ')}${others.map((i) => ` | ${name(workers[i].events)} / ${name(workers[base].events)}`).join('')} |`);
  console.log(`|---|---|${workers.map(() => '---').join('|')}${others.map(() => '|---').join('')}|`);
  for (const r of results) {
    const cells = r.bySize.map((s) => `${s.p50.toFixed(1)} (${s.p99.toFixed(0)})`);
    const ratios = others.map((i) => (r.bySize[i].p50 / r.bySize[base].p50).toFixed(2));
    console.log(`| ${r.label} | \`${r.route}\` | ${cells.join(' | ')}${ratios.map((x) => ` | ${x}`).join('')} |`);
  }
}

const PASSES = Number(process.env.BENCH_PASSES ?? 1);
const workers = [];
try {
  for (const events of SIZES) {
    const { dev, loaded } = await startAt(events);
    workers.push({ events, dev, loaded });
    await configure(dev);
  }
  for (const w of workers) {
    const age = ((Date.now() - Date.parse(w.loaded.end)) / 60_000).toFixed(0);
    console.log(`${name(w.events)}: ${w.loaded.events.toLocaleString('en')} events over 60 days in 10 projects (bulk-loaded in ${w.loaded.seconds} s with migrations), ${(w.loaded.rows ?? w.loaded.events).toLocaleString('en')} rows with the top-up at the same rate, the newest ${age} min before this run`);
  }
  console.log(`wrangler dev on 127.0.0.1, one worker per size running side by side`);
  const passes = [];
  for (let p = 0; p < PASSES; p += 1) {
    const results = await pass(workers);
    passes.push(results);
    printPass(p, workers, results);
  }
  if (process.env.BENCH_OUT) {
    writeFileSync(process.env.BENCH_OUT, JSON.stringify({ sizes: workers.map((w) => ({ events: w.events, loaded: w.loaded })), runs: RUNS, passes }, null, 1));
  }
} finally {
  for (const w of workers) await w.dev.stop();
}
