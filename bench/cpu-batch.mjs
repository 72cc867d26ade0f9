// CPU time per batch of batched ingestion, by thread of the local runtime (issue 28, point 3):
// one `wrangler dev` (the worker, or bench/floor's batch making the worker's writes and bytes
// with BENCH_FLOOR=1), warm-up batches, then BENCH_BATCHES batches of 1,000 events,
// BENCH_CONCURRENCY at a time. Reads each workerd thread's CPU time from /proc before and
// after, and prints it per batch with the wall time. The isolate, D1's SQLite and R2's files
// all run on workerd's main thread, which is what bounds batched throughput on this machine:
// its CPU per batch is the figure to compare between builds.
//
// With BENCH_PERF=1, Linux `perf` samples that thread meanwhile (user-space sampling of one's
// own process) and the time is split by where it ran: `[JIT]` is the worker's wasm and
// JavaScript together, `workerd` the runtime's native code (SQLite, V8's builtins such as
// JSON.parse, the garbage collector), then libc and the kernel; the runtime's top native
// functions follow. Unlike V8's sampling profiler (bench/profile-batch.mjs), perf does not
// misplace time around calls between the wasm and JavaScript. Not a test: nothing asserts.
//
//   node bench/cpu-batch.mjs   (BENCH_BATCHES=100, BENCH_CONCURRENCY=1; BENCH_DIR=<a checkout>
//   measures that checkout's worker, built there by wrangler; BENCH_FLOOR=1 the floor)
import { join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { execFileSync, spawn } from 'node:child_process';
import { startWranglerDev } from '../tests/support/wrangler-dev.mjs';
import { ROOT } from '../tests/support/worker.mjs';
import { postClient, teamTraffic } from './traffic.mjs';
import { workerdThreads } from './measure.mjs';

const DIR = process.env.BENCH_DIR ?? ROOT;
const FLOOR = Boolean(process.env.BENCH_FLOOR);
const BATCHES = Number(process.env.BENCH_BATCHES ?? 100);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 1);
const PERF = Boolean(process.env.BENCH_PERF);
const ADMIN = 'bench-admin-key';
const event = teamTraffic('cb');
const dev = await startWranglerDev({
  adminKey: ADMIN,
  config: FLOOR ? join(ROOT, 'bench', 'floor', 'wrangler.toml') : join(DIR, 'wrangler.toml'),
  cwd: FLOOR ? ROOT : DIR,
  args: ['--log-level', 'warn'],
  env: { VSCODE_INSPECTOR_OPTIONS: '{}' },
});
const perfDir = PERF ? mkdtempSync(join(tmpdir(), 'cpu-batch-')) : null;
try {
  let send;
  if (FLOOR) {
    await fetch(`${dev.base}/setup`, { method: 'POST' });
    send = postClient(dev.base, { 'content-type': 'application/json' }, CONCURRENCY, '/batch?rollups=batch&lines=worker');
  } else {
    const auth = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };
    await fetch(`${dev.base}/api/admin/projects`, { method: 'POST', headers: auth, body: JSON.stringify({ id: 'p0', name: 'Bench' }) });
    const { key } = await (await fetch(`${dev.base}/api/admin/projects/p0/keys`, { method: 'POST', headers: auth })).json();
    send = postClient(dev.base, { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, CONCURRENCY, '/api/usage');
  }
  let n = 0;
  const body = () => Buffer.from(JSON.stringify({ events: Array.from({ length: 1000 }, () => event(n++)) }));
  const post = async (b) => {
    const { status } = await send(b);
    if (status !== 201) throw new Error(`HTTP ${status}`);
  };
  for (let i = 0; i < 10; i += 1) await post(body());
  const bodies = Array.from({ length: BATCHES }, body);
  const before = workerdThreads(dev.pgid);
  // workerd's main thread: the thread named `workerd` that has used the most CPU so far.
  const [main] = [...before].filter(([k]) => k.endsWith(' workerd')).sort((a, b) => b[1] - a[1])[0];
  const data = perfDir ? join(perfDir, 'perf.data') : null;
  const perf = data
    ? spawn('perf', ['record', '-F', '2000', '-t', main.split(' ')[0], '-o', data], { stdio: 'ignore' })
    : null;
  if (perf) await new Promise((r) => setTimeout(r, 500));
  const started = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < bodies.length) {
      const b = bodies[next];
      next += 1;
      await post(b);
    }
  }));
  const wall = performance.now() - started;
  const after = workerdThreads(dev.pgid);
  if (perf) {
    perf.kill('SIGINT');
    await new Promise((r) => perf.on('exit', r));
  }
  const per = (ms) => (ms / BATCHES).toFixed(2);
  console.log(`${FLOOR ? 'floor (the worker\'s writes and bytes)' : DIR}: ${BATCHES} batches of 1,000 events, ` +
    `${CONCURRENCY} at a time: wall ${per(wall)} ms per batch`);
  const used = [...after].map(([k, v]) => [k, v - (before.get(k) ?? 0)]).filter(([, v]) => v > 0)
    .sort((a, b) => b[1] - a[1]);
  console.log('CPU ms per batch, by workerd thread:');
  for (const [k, v] of used.slice(0, 6)) console.log(`  ${per(v).padStart(7)}  ${k}${k === main ? ' (main)' : ''}`);
  if (data) {
    const report = (sort) => execFileSync('perf', ['report', '-i', data, '--no-children', '--sort', sort, '-F', 'sample,' + sort],
      { maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'ignore'] }).toString().split('\n')
      .filter((l) => l.trim() && !l.startsWith('#'))
      .map((l) => { const m = l.trim().match(/^(\d+)\s+(.*)$/); return m ? [Number(m[1]), m[2]] : null; })
      .filter(Boolean);
    const ms = (samples) => (samples / 2000 * 1000 / BATCHES).toFixed(2);
    const byDso = new Map();
    for (const [samples, dso] of report('dso')) {
      const k = dso.startsWith('[JIT]') ? '[JIT] (wasm and JavaScript)' : dso;
      byDso.set(k, (byDso.get(k) ?? 0) + samples);
    }
    console.log('main thread by where it ran (perf), ms per batch:');
    for (const [k, v] of [...byDso].sort((a, b) => b[1] - a[1]).slice(0, 6)) console.log(`  ${ms(v).padStart(7)}  ${k}`);
    console.log('its top native functions, ms per batch:');
    const native = report('dso,sym').filter(([, s]) => !s.startsWith('[JIT]')).sort((a, b) => b[0] - a[0]);
    for (const [v, sym] of native.slice(0, 15)) {
      console.log(`  ${ms(v).padStart(7)}  ${sym.replace(/\s+/g, ' ').slice(0, 120)}`);
    }
  }
} finally {
  await dev.stop();
  if (perfDir) rmSync(perfDir, { recursive: true, force: true });
}
