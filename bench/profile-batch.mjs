// A CPU profile of batched ingestion (issue 28, point 3): one `wrangler dev` with its inspector
// open, warm-up batches, then BENCH_BATCHES batches of 1,000 events one after another under
// V8's sampling profiler. Prints the isolate's busy and idle time per batch, then functions by
// self time and by inclusive time (per batch). Not a test and not a figure for BENCHMARKS.md
// on its own: it says where to look; throughput is measured by bench/batch-floor.mjs.
//
//   node bench/profile-batch.mjs   (BENCH_BATCHES=60; BENCH_DIR=<a checkout> profiles that
//   checkout's worker, built there by wrangler; BENCH_FLOOR=1 profiles bench/floor's batch
//   with the worker's writes instead; BENCH_TOP=45 rows per list)
//
// For function names in the wasm, profile a build that keeps them: in the checkout profiled,
// build with `CARGO_PROFILE_WASM_STRIP=none` and run wasm-opt with `-g` rather than
// `--strip-debug` (scripts/build.sh, scripts/wasm-opt.sh). Caveat, measured 2026-12-07: the
// sampler misplaces time around calls between the wasm and JavaScript (it gave 1 to 2.5 ms per
// batch to creating a promise's callbacks, which a route awaiting 10,000 promises showed to
// cost 3 to 4 µs each); the wasm functions' self times and the busy total are the reliable part.
import { join } from 'node:path';
import { mkdirSync, writeFileSync } from 'node:fs';
import WebSocket from 'ws';
import { startWranglerDev } from '../tests/support/wrangler-dev.mjs';
import { ROOT } from '../tests/support/worker.mjs';
import { postClient, teamTraffic } from './traffic.mjs';

const DIR = process.env.BENCH_DIR ?? ROOT;
const FLOOR = Boolean(process.env.BENCH_FLOOR);
const BATCHES = Number(process.env.BENCH_BATCHES ?? 60);
const TOP = Number(process.env.BENCH_TOP ?? 45);
const ADMIN = 'bench-admin-key';
const PORT = 9300 + Math.floor(Math.random() * 500);
const event = teamTraffic('pf');

const dev = await startWranglerDev({
  adminKey: ADMIN,
  config: FLOOR ? join(ROOT, 'bench', 'floor', 'wrangler.toml') : join(DIR, 'wrangler.toml'),
  cwd: FLOOR ? ROOT : DIR,
  args: ['--log-level', 'warn', '--inspector-port', String(PORT)],
});
try {
  let send;
  if (FLOOR) {
    await fetch(`${dev.base}/setup`, { method: 'POST' });
    send = postClient(dev.base, { 'content-type': 'application/json' }, 1, '/batch?rollups=batch&lines=worker');
  } else {
    const auth = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };
    await fetch(`${dev.base}/api/admin/projects`, { method: 'POST', headers: auth, body: JSON.stringify({ id: 'p0', name: 'Bench' }) });
    const { key } = await (await fetch(`${dev.base}/api/admin/projects/p0/keys`, { method: 'POST', headers: auth })).json();
    send = postClient(dev.base, { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, 1, '/api/usage');
  }
  let n = 0;
  const body = () => Buffer.from(JSON.stringify({ events: Array.from({ length: 1000 }, () => event(n++)) }));
  const post = async (b) => {
    const { status, json } = await send(b);
    if (status !== 201) throw new Error(`HTTP ${status} ${JSON.stringify(json).slice(0, 300)}`);
  };
  for (let i = 0; i < 8; i += 1) await post(body());

  // The inspector's protocol over its WebSocket: one request at a time.
  const targets = await (await fetch(`http://127.0.0.1:${PORT}/json`)).json();
  const ws = new WebSocket(targets[0].webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  let id = 0;
  const pending = new Map();
  ws.on('message', (m) => {
    const d = JSON.parse(m);
    if (d.id && pending.has(d.id)) {
      pending.get(d.id)(d);
      pending.delete(d.id);
    }
  });
  const call = (method, params = {}) => new Promise((resolve) => {
    id += 1;
    pending.set(id, resolve);
    ws.send(JSON.stringify({ id, method, params }));
  });
  await call('Profiler.enable');
  await call('Profiler.setSamplingInterval', { interval: 50 });
  const bodies = Array.from({ length: BATCHES }, body);
  await call('Profiler.start');
  const started = performance.now();
  for (const b of bodies) await post(b);
  const wall = performance.now() - started;
  const { result } = await call('Profiler.stop');
  ws.close();
  const profile = result.profile;
  mkdirSync(join(ROOT, 'test-artifacts'), { recursive: true });
  writeFileSync(join(ROOT, 'test-artifacts', 'batch.cpuprofile'), JSON.stringify(profile));

  const byId = new Map(profile.nodes.map((x) => [x.id, x]));
  const parent = new Map();
  for (const x of profile.nodes) for (const c of x.children ?? []) parent.set(c, x.id);
  const name = (x) => (x.callFrame.functionName || `(anonymous ${x.callFrame.url.split('/').pop()})`)
    .replace(/\[[0-9a-f]{16}\]/g, '');
  const self = new Map();
  const inclusive = new Map();
  const runtime = new Map();
  let busy = 0;
  for (let i = 0; i < profile.samples.length; i += 1) {
    const dt = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    let node = byId.get(profile.samples[i]);
    const leaf = name(node);
    if (['(idle)', '(program)', '(garbage collector)'].includes(leaf)) {
      runtime.set(leaf, (runtime.get(leaf) ?? 0) + dt);
      if (leaf !== '(idle)') busy += dt;
      continue;
    }
    busy += dt;
    self.set(leaf, (self.get(leaf) ?? 0) + dt);
    const seen = new Set();
    for (; node; node = byId.get(parent.get(node.id))) {
      const k = name(node);
      if (!seen.has(k)) {
        seen.add(k);
        inclusive.set(k, (inclusive.get(k) ?? 0) + dt);
      }
    }
  }
  const per = (ms) => (ms / BATCHES).toFixed(3);
  const list = (map) => [...map].sort((a, b) => b[1] - a[1]).slice(0, TOP)
    .map(([k, v]) => `${per(v)}  ${k.slice(0, 160)}`).join('\n');
  console.log(`${FLOOR ? 'floor (lines=worker)' : DIR}: ${BATCHES} batches of 1,000 events, one at a time`);
  console.log(`wall ${per(wall)} ms per batch; busy ${per(busy)}; ${[...runtime].map(([k, v]) => `${k} ${per(v)}`).join(', ')}`);
  console.log(`\nself time, ms per batch:\n${list(self)}`);
  console.log(`\ninclusive time, ms per batch:\n${list(inclusive)}`);
  console.log('\n(the profile itself: test-artifacts/batch.cpuprofile, for Chrome DevTools)');
} finally {
  await dev.stop();
}
