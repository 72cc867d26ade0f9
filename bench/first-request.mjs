// First-request latency of a fresh isolate (Miniflare, the built worker) beside the runtime
// floor (bench/floor, a few lines of JavaScript): the time to start the worker (workerd loads
// and compiles the script and its wasm), of its first request, and of the requests after it.
// Ours are measured two ways, each on a fresh worker: a first GET /healthz, and a first price
// quote (which also builds the price catalog). The floor's request is its POST with no writes.
// BENCH_BUILDS=dirA,dirB compares builds (each a build/ folder of scripts/build.sh), the
// workers of each round started in turn. BENCH_ENTRY_FLOOR=1 also builds this module with the
// `entry-floor` feature (to .bench-state/entry-floor, GET /healthz answered at the wasm entry,
// before any code of the product) and measures it beside them: the Rust runtime's own floor.
// BENCH_RUST_FLOOR=1 also builds bench/floor-rs (the smallest workers-rs worker, its own
// workspace, opt-level "z" and the strip of scripts/build.sh, to .bench-state/floor-rs) and
// measures its first GET /healthz in the same rounds: what any workers-rs worker pays, apart
// from this module's size. BENCH_RUST_FLOOR_O3=1 adds the same worker at opt-level 3,
// BENCH_RUST_FLOOR_WARM=1 the same with its fetch path run once at the isolate's start.
// With a Rust floor the JavaScript floor also answers GET /healthz. BENCH_RAW=1 prints each
// first request, round by round. Needs the project's tools on PATH (`source scripts/env.sh`).
// Prints Markdown for BENCHMARKS.md; asserts nothing.
import { execFileSync } from 'node:child_process';
import { Miniflare } from 'miniflare';
import { miniflareOptions, workerHandle, applyMigrations, ADMIN_KEY } from '../tests/support/worker.mjs';
import { statSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const builds = (process.env.BENCH_BUILDS ?? join(root, 'build')).split(',').map((d) => resolve(d));
if (process.env.BENCH_ENTRY_FLOOR) {
  const out = join(root, '.bench-state', 'entry-floor');
  const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  run('bash', [join(root, 'scripts', 'worker-build.sh'), '--profile', 'wasm', '--no-opt', '-d', out, '--features', 'entry-floor']);
  run('bash', [join(root, 'scripts', 'wasm-opt.sh'), join(out, 'index_bg.wasm')]);
  builds.push(out);
}
// The std build (scripts/worker-build.sh) and wasm-opt passes of scripts/build.sh, so that every
// Rust build here is built and shrunk alike.
const wasmOpt = (file) => execFileSync('bash', [join(root, 'scripts', 'wasm-opt.sh'), file], { stdio: ['ignore', 'ignore', 'inherit'] });
// [row label, build dir] of the minimal workers-rs worker (bench/floor-rs), each build of it.
const rustFloors = [];
if (process.env.BENCH_RUST_FLOOR || process.env.BENCH_RUST_FLOOR_O3 || process.env.BENCH_RUST_FLOOR_WARM) {
  const crate = join(root, 'bench', 'floor-rs');
  const variants = [];
  if (process.env.BENCH_RUST_FLOOR) variants.push(['opt-level "z"', 'floor-rs', ['--profile', 'wasm']]);
  if (process.env.BENCH_RUST_FLOOR_O3) variants.push(['opt-level 3', 'floor-rs-o3', ['--release']]);
  if (process.env.BENCH_RUST_FLOOR_WARM) variants.push(['opt-level "z", fetch path run at start', 'floor-rs-warm', ['--profile', 'wasm'], ['--features', 'warm']]);
  for (const [label, dirName, profile, features = []] of variants) {
    const out = join(root, '.bench-state', dirName);
    execFileSync('bash', [join(root, 'scripts', 'worker-build.sh'), ...profile, '--no-opt', '-d', out, ...features], { cwd: crate, stdio: ['ignore', 'ignore', 'inherit'] });
    wasmOpt(join(out, 'index_bg.wasm'));
    rustFloors.push([`minimal workers-rs worker (bench/floor-rs, ${label})`, out]);
  }
}
const body = {
  provider: process.env.BENCH_PROVIDER ?? 'openai', model: process.env.BENCH_MODEL ?? 'gpt-4o', timestamp: '2026-06-01T10:00:00Z',
  input_tokens: 1000, output_tokens: 100,
};
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const quote = { method: 'POST', key: ADMIN_KEY, body };

/** Starts a worker from `options`; answers [handle, start ms]. */
async function start(options) {
  const t0 = performance.now();
  const mf = new Miniflare(options);
  await mf.ready;
  const ms = performance.now() - t0;
  const db = await mf.getD1Database('DB');
  await applyMigrations(db);
  // The floor's bare table (its `/setup`), made here so that its first request is the measured one.
  await db.exec('CREATE TABLE IF NOT EXISTS floor_bare (project_id TEXT NOT NULL, id TEXT NOT NULL, line TEXT NOT NULL, PRIMARY KEY (project_id, id)) WITHOUT ROWID');
  return [workerHandle(mf, db), ms];
}

/** One fresh worker: start, first request, then 20 more of the same. */
async function measure(options, path, init) {
  const [w, startMs] = await start(options);
  try {
    let t0 = performance.now();
    const r = await w.fetch(path, init);
    if (r.status >= 300) throw new Error(`${path}: ${r.status} ${r.text}`);
    const first = performance.now() - t0;
    t0 = performance.now();
    for (let i = 0; i < 20; i += 1) await w.fetch(path, init);
    return { start: startMs, first, later: (performance.now() - t0) / 20 };
  } finally {
    await w.dispose();
  }
}

// The floor's own bindings (bench/floor/wrangler.toml), without the product's static assets.
const floorOptions = () => ({
  modules: true,
  scriptPath: join(root, 'bench', 'floor', 'index.js'),
  compatibilityDate: '2026-05-01',
  d1Databases: ['DB'],
  r2Buckets: ['USAGE_BUCKET'],
  cf: false,
});
const rows = new Map();
const add = (name, m) => {
  if (!rows.has(name)) rows.set(name, { start: [], first: [], later: [] });
  for (const k of ['start', 'first', 'later']) rows.get(name)[k].push(m[k]);
};
const event = { id: 'e1', provider: 'openai', model: 'gpt-4o', input_tokens: 1000, output_tokens: 100, timestamp: '2026-06-01T10:00:00Z' };
for (let round = 0; round < ROUNDS; round += 1) {
  add('floor (JavaScript): POST, no writes', await measure(floorOptions(), '/?writes=none', { method: 'POST', body: event }));
  // Beside the Rust floors, the same request: GET /healthz (no body to read).
  if (rustFloors.length > 0) add('floor (JavaScript): GET /healthz', await measure(floorOptions(), '/healthz', {}));
  // The floor's first request that touches D1 (one insert into a bare table), as a quote does
  // (the key's lookup, the project's custom prices).
  add('floor (JavaScript): POST, one D1 write', await measure(floorOptions(), '/?writes=d1-bare', { method: 'POST', body: event }));
  for (const dir of builds) {
    const options = { ...miniflareOptions(), scriptPath: join(dir, 'index.js'), modulesRoot: dir };
    add(`${dir}: GET /healthz`, await measure(options, '/healthz', {}));
    add(`${dir}: price quote`, await measure(options, '/api/prices/quote', quote));
  }
  for (const [label, dir] of rustFloors) {
    const options = { ...miniflareOptions(), scriptPath: join(dir, 'index.js'), modulesRoot: dir };
    add(`${label}: GET /healthz`, await measure(options, '/healthz', {}));
  }
}
console.log(`\n${ROUNDS} fresh workers each (Miniflare), medians; rounds start the floor, then each build in turn, then the minimal Rust worker(s)\n`);
for (const dir of [...builds, ...rustFloors.map(([, d]) => d)]) {
  const wasm = readFileSync(join(dir, 'index_bg.wasm'));
  console.log(`${dir}/index_bg.wasm: ${statSync(join(dir, 'index_bg.wasm')).size} bytes, ${gzipSync(wasm, { level: 9 }).length} gzipped`);
}
// Each first request beside the JavaScript floor's (its POST without writes).
const jsFirst = median(rows.get('floor (JavaScript): POST, no writes').first);
console.log('\n| worker: first request | start ms | first request ms | x JS floor | later requests ms |');
console.log('|---|---|---|---|---|');
for (const [name, r] of rows) {
  const first = median(r.first);
  console.log(`| ${name} | ${median(r.start).toFixed(1)} | ${first.toFixed(1)} | ${(first / jsFirst).toFixed(2)} | ${median(r.later).toFixed(2)} |`);
}
// BENCH_RAW=1: each row's first requests in round order, to compare rows round by round.
if (process.env.BENCH_RAW) {
  console.log('\nfirst request ms, round by round');
  for (const [name, r] of rows) console.log(`${name}: ${r.first.map((x) => x.toFixed(1)).join(' ')}`);
}
