// Report latency over stored events under the real `wrangler dev`, at several data sizes. The
// rows are bulk-loaded into the local D1 file with the sqlite3 shell before the worker starts:
// the same columns ingestion writes, with the same triggers keeping every rollup. Each size's
// loaded state is kept on disk (`.bench-state/reports-<events>/`, or `BENCH_STATE`) and reused
// by the next run, migrated to the current schema first. Prints Markdown for BENCHMARKS.md: a
// table per size, then each report's median per size and its ratio to the first size at or
// above 1M (or the smallest). Not a test: nothing here asserts.
//
//   BENCH_EVENTS=1000000,3000000 node bench/reports.mjs   (sizes; default 1,000,000)
//   BENCH_RUNS=40                                          (sequential requests per report)
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

async function bulkLoad(state, EVENTS, end) {
  const file = findSqlite(state);
  if (!file) throw new Error('no local D1 file found');
  const child = spawn('sqlite3', [file], { stdio: ['pipe', 'inherit', 'inherit'] });
  const write = (text) => new Promise((resolve) => (child.stdin.write(text) ? resolve() : child.stdin.once('drain', resolve)));
  const providers = [['openai', 'gpt-4o-mini'], ['openai', 'gpt-4o'], ['anthropic', 'claude-3-5-haiku'], ['google', 'gemini-2.0-flash'], ['elevenlabs', 'eleven_multilingual_v2']];
  const operations = ['script-generation', 'voice-synthesis', 'video-creation', 'summary'];
  const start = end - 60 * DAY;
  // The connection's own cache and sync settings only speed the load; the file is the same.
  await write("PRAGMA journal_mode=WAL;\nPRAGMA synchronous=OFF;\nPRAGMA cache_size=-1000000;\nINSERT INTO projects (id, name, budget_alert_threshold_percent, created_at, updated_at) VALUES ");
  await write(Array.from({ length: 10 }, (_, i) => `('p${i}', 'Project ${i}', 80, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')`).join(',') + ';\n');
  const cols = 'project_id, id, provider, model, operation, input_tokens, output_tokens, total_tokens, cost, cost_nanos, currency, computed_cost_nanos, computed_currency, price_id, request_timestamp, job_id';
  for (let i = 0; i < EVENTS; i += 1000) {
    if (i % 100_000 === 0) await write(i === 0 ? 'BEGIN;' : 'COMMIT;BEGIN;');
    const rows = [];
    for (let k = i; k < Math.min(EVENTS, i + 1000); k += 1) {
      const [provider, model] = providers[k % providers.length];
      const ts = new Date(start + Math.floor((k / EVENTS) * 60 * 86_400_000)).toISOString();
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

/** A started worker over `events` loaded rows: the state on disk when there, else loaded. */
async function startAt(events) {
  const dir = join(STATE, `reports-${events}`);
  const marker = join(dir, 'loaded.json');
  const config = process.env.BENCH_CONFIG;
  if (existsSync(marker)) {
    const loaded = JSON.parse(readFileSync(marker, 'utf8'));
    const dev = await startWranglerDev({ adminKey: ADMIN, stateDir: dir, config });
    return { dev, loaded };
  }
  mkdirSync(dir, { recursive: true });
  const end = Date.now();
  const t0 = performance.now();
  const dev = await startWranglerDev({ adminKey: ADMIN, stateDir: dir, config, prepare: (state) => bulkLoad(state, events, end) });
  const loaded = { events, end: new Date(end).toISOString(), seconds: Math.round((performance.now() - t0) / 1000) };
  writeFileSync(marker, JSON.stringify(loaded));
  return { dev, loaded };
}

async function measure(events) {
  const { dev, loaded } = await startAt(events);
  try {
    const headers = { authorization: `Bearer ${ADMIN}` };
    // Budgets in five time zones (spike rules in two) and ten plans, for the budget check and
    // the plan reports (saved again on a reused state: the same settings).
    const zones = ['UTC', 'America/New_York', 'Europe/Paris', 'Asia/Tokyo', 'Australia/Sydney'];
    const send = async (method, path, body) => {
      const r = await fetch(`${dev.base}${path}`, { method, headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(body) });
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
    const last = new Date(Date.now() - DAY).toISOString().slice(0, 10);
    const first = new Date(Date.now() - 31 * DAY).toISOString().slice(0, 10);
    const month = new Date().toISOString().slice(0, 7).replace('-', '');
    const reports = [
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
    const results = [];
    for (const [label, path] of reports) {
      const latencies = [];
      for (let i = 0; i < RUNS + 3; i += 1) {
        const t0 = performance.now();
        const r = await fetch(`${dev.base}${path}`, { headers });
        await r.arrayBuffer();
        if (!r.ok) throw new Error(`${label}: HTTP ${r.status}`);
        if (i >= 3) latencies.push(performance.now() - t0);
      }
      latencies.sort((a, b) => a - b);
      results.push({ label, route: path.replace(/\?.*/, ''), p50: percentile(latencies, 50), p99: percentile(latencies, 99) });
    }
    const age = ((Date.now() - Date.parse(loaded.end)) / 60_000).toFixed(0);
    console.log(`\n${events.toLocaleString('en')} events over 60 days in 10 projects (bulk-loaded in ${loaded.seconds} s with migrations; events end ${age} min before this run), ${RUNS} sequential requests each, wrangler dev on 127.0.0.1\n`);
    console.log('| report | route | p50 ms | p99 ms |');
    console.log('|---|---|---|---|');
    for (const r of results) console.log(`| ${r.label} | \`${r.route}\` | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} |`);
    return results;
  } finally {
    await dev.stop();
  }
}

const bySize = [];
for (const events of SIZES) bySize.push({ events, results: await measure(events) });
if (bySize.length > 1) {
  const base = bySize.findIndex((s) => s.events >= 1_000_000);
  const b = base < 0 ? 0 : base;
  const name = (n) => (n >= 1_000_000 ? `${n / 1_000_000}M` : `${n / 1_000}k`);
  console.log(`\np50 ms per size, and each size's ratio to ${name(bySize[b].events)}\n`);
  const others = bySize.filter((_, i) => i !== b);
  console.log(`| report | ${bySize.map((s) => name(s.events)).join(' | ')} | ${others.map((s) => `${name(s.events)} / ${name(bySize[b].events)}`).join(' | ')} |`);
  console.log(`|---|${bySize.map(() => '---').join('|')}|${others.map(() => '---').join('|')}|`);
  bySize[0].results.forEach((r, i) => {
    const p = bySize.map((s) => s.results[i].p50);
    console.log(`| ${r.label} | ${p.map((x) => x.toFixed(1)).join(' | ')} | ${others.map((s) => (s.results[i].p50 / p[b]).toFixed(2)).join(' | ')} |`);
  });
}
if (process.env.BENCH_OUT) writeFileSync(process.env.BENCH_OUT, JSON.stringify(bySize, null, 1));
