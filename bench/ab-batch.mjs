// Batched ingestion, two or more builds A/B against the floors, interleaved (issue 28, point 3):
// each checkout's worker under its own `wrangler dev` (built there by wrangler), and bench/floor
// making the worker's writes and bytes (`floor-bytes`) and also giving its answer
// (`floor-answer`), in rounds of AB_REQUESTS batches of 1,000 events at AB_CONCURRENCY whose
// order turns. Prints, per contender, the median of the per-round ratios by events/s and by
// the CPU time of workerd's main thread per batch (read from /proc: the isolate, D1's SQLite
// and R2's files run there, and at concurrency 2 it bounds the rate), against each floor and
// against the first checkout. Not a test: nothing asserts.
//
//   AB='new=<checkout>,old=<checkout>' node bench/ab-batch.mjs   (AB_ROUNDS=10 AB_REQUESTS=30
//   AB_CONCURRENCY=2 by default; AB_FLOOR=1 adds the two floors; each checkout needs
//   node_modules and .tools)
import { join } from 'node:path';
import { startWranglerDev } from '../tests/support/wrangler-dev.mjs';
import { ROOT } from '../tests/support/worker.mjs';
import { postClient, teamTraffic } from './traffic.mjs';
import { mainThreadMs, median } from './measure.mjs';
const ADMIN = 'bench-admin-key';
const ROUNDS = Number(process.env.AB_ROUNDS ?? 10);
const REQUESTS = Number(process.env.AB_REQUESTS ?? 30);
const CONC = Number(process.env.AB_CONCURRENCY ?? 2);
const DETACHED = { args: ['--log-level', 'warn'], env: { VSCODE_INSPECTOR_OPTIONS: '{}' } };
const event = teamTraffic('ab');
const contenders = [];
const devs = [];
// A run that fails part way still stops every `wrangler dev` it started.
process.on('exit', () => {
  for (const d of devs) {
    try {
      process.kill(-d.pgid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
});
for (const spec of (process.env.AB ?? '').split(',').filter(Boolean)) {
  const [name, dir] = spec.split('=');
  const dev = await startWranglerDev({ adminKey: ADMIN, ...DETACHED, config: join(dir, 'wrangler.toml'), cwd: dir });
  devs.push(dev);
  const auth = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };
  await fetch(`${dev.base}/api/admin/projects`, { method: 'POST', headers: auth, body: JSON.stringify({ id: 'p0', name: 'Bench' }) });
  const key = (await (await fetch(`${dev.base}/api/admin/projects/p0/keys`, { method: 'POST', headers: auth })).json()).key;
  contenders.push({ name, dev, send: postClient(dev.base, { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, CONC, '/api/usage') });
}
const floors = [];
if (process.env.AB_FLOOR) {
  const dev = await startWranglerDev({ adminKey: ADMIN, ...DETACHED, config: join(ROOT, 'bench', 'floor', 'wrangler.toml') });
  devs.push(dev);
  await fetch(`${dev.base}/setup`, { method: 'POST' });
  const paths = { 'floor-bytes': '/batch?rollups=batch&lines=worker', 'floor-answer': '/batch?rollups=batch&lines=worker&answer=worker' };
  for (const [name, path] of Object.entries(paths)) {
    const c = { name, dev, send: postClient(dev.base, { 'content-type': 'application/json' }, CONC, path) };
    contenders.push(c); floors.push(c);
  }
}
async function round(c) {
  const bodies = Array.from({ length: REQUESTS }, (_, r) => Buffer.from(JSON.stringify({ events: Array.from({ length: 1000 }, (_, i) => event(r * 1000 + i)) })));
  let next = 0;
  const cpu0 = mainThreadMs(c.dev.pgid);
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONC }, async () => {
    while (next < bodies.length) {
      const b = bodies[next]; next += 1;
      const { status } = await c.send(b);
      if (status !== 201) throw new Error(`${c.name}: HTTP ${status}`);
    }
  }));
  const wall = performance.now() - t0;
  return { eps: REQUESTS * 1000 / (wall / 1000), cpu: (mainThreadMs(c.dev.pgid) - cpu0) / REQUESTS };
}
try {
  for (const c of contenders) { await round(c); await round(c); c.r = []; }
  for (let r = 0; r < ROUNDS; r += 1) {
    const order = contenders.map((_, i) => contenders[(i + r) % contenders.length]);
    for (const c of order) c.r.push(await round(c));
  }
  const base = contenders[0];
  for (const c of contenders) {
    const eps = c.r.map((x) => x.eps), cpu = c.r.map((x) => x.cpu);
    const re = c.r.map((x, i) => x.eps / base.r[i].eps), rc = c.r.map((x, i) => base.r[i].cpu / x.cpu);
    for (const fl of floors) {
      const rf = c.r.map((x, i) => x.eps / fl.r[i].eps), rfc = c.r.map((x, i) => fl.r[i].cpu / x.cpu);
      console.log(`${c.name.padEnd(12)} vs ${fl.name}: eps ${median(rf).toFixed(3)} (${Math.min(...rf).toFixed(3)}-${Math.max(...rf).toFixed(3)}), cpu ${median(rfc).toFixed(3)}`);
    }
    console.log(`${c.name.padEnd(12)} eps ${median(eps).toFixed(0)}  cpu/batch ${median(cpu).toFixed(2)} ms  | vs ${base.name}: eps ${median(re).toFixed(3)} (${Math.min(...re).toFixed(3)}-${Math.max(...re).toFixed(3)}), cpu ${median(rc).toFixed(3)} (${Math.min(...rc).toFixed(3)}-${Math.max(...rc).toFixed(3)})`);
  }
} finally {
  for (const c of contenders) await c.dev.stop();
}
