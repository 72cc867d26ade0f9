// Batched ingestion against its floor, interleaved in one run: the worker (`POST /api/usage`
// with a project key) and bench/floor's `POST /batch` (the same R2 put of the batch's lines and
// one `json_each` insert into the same `api_usage`, indexes and triggers; nothing else), and
// the same floor making the worker's batch writes of migration 0025 (`/batch?rollups=batch`:
// rows marked rolled up, one upsert per rollup row), and that floor writing the worker's bytes
// as well (`/batch?rollups=batch&lines=worker`: raw-log lines with the worker's members, about
// 480 bytes an event rather than 260, and the row's fingerprint), and that floor answering with
// the worker's answer too (`&answer=worker`: each event's index, project, status, cost as an
// amount, currency and number, and time stamp, about 217 bytes an event rather than 70, and the
// batch's `stored_cost`, `raw_object` and `guard`), under `wrangler dev --log-level warn`
// with the inspector detached, started side by side and measured in rounds whose order turns
// (each goes first as often). Prints Markdown for BENCHMARKS.md. Not a test: nothing here
// asserts.
//
//   node bench/batch-floor.mjs   (BENCH_ROUNDS=8 BENCH_BATCH=1000 BENCH_REQUESTS=30 BENCH_CONCURRENCY=2 by default;
//   BENCH_VARS='{"INGEST_ALERTS":"off"}' sets vars of the worker; BENCH_BEFORE=<a checkout of
//   another commit, with node_modules and .tools> adds that commit's worker, built there by
//   wrangler, as a sixth contender, for a before/after in the same run)
import { join } from 'node:path';
import { startWranglerDev } from '../tests/support/wrangler-dev.mjs';
import { ROOT } from '../tests/support/worker.mjs';
import { postClient, teamTraffic } from './traffic.mjs';
import { median } from './measure.mjs';

const ADMIN = 'bench-admin-key';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 8);
const BATCH = Number(process.env.BENCH_BATCH ?? 1000);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 30);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 2);
/** bench/ingest.mjs's traffic: four kinds of call, five calls per job, in the last minute. */
const event = teamTraffic('bf');
const DETACHED = { args: ['--log-level', 'warn'], env: { VSCODE_INSPECTOR_OPTIONS: '{}' } };

/** One round: REQUESTS batches of BATCH fresh events, CONCURRENCY at a time; events/s. */
async function round(send) {
  const bodies = Array.from({ length: REQUESTS }, (_, r) => Buffer.from(JSON.stringify({
    events: Array.from({ length: BATCH }, (_, i) => event(r * BATCH + i)),
  })));
  let next = 0;
  let events = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < bodies.length) {
      const body = bodies[next];
      next += 1;
      const { status, json } = await send(body);
      if (status !== 201) throw new Error(`HTTP ${status} ${JSON.stringify(json).slice(0, 300)}`);
      events += json.accepted;
    }
  }));
  return events / ((performance.now() - started) / 1000);
}

const ours = await startWranglerDev({ adminKey: ADMIN, ...DETACHED, vars: JSON.parse(process.env.BENCH_VARS ?? '{}') });
const floor = await startWranglerDev({ adminKey: ADMIN, ...DETACHED, config: join(ROOT, 'bench', 'floor', 'wrangler.toml') });
const BEFORE = process.env.BENCH_BEFORE;
const before = BEFORE
  ? await startWranglerDev({ adminKey: ADMIN, ...DETACHED, vars: JSON.parse(process.env.BENCH_VARS ?? '{}'), config: join(BEFORE, 'wrangler.toml'), cwd: BEFORE })
  : null;
try {
  const auth = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };
  await fetch(`${ours.base}/api/admin/projects`, { method: 'POST', headers: auth, body: JSON.stringify({ id: 'p0', name: 'Bench' }) });
  const key = (await (await fetch(`${ours.base}/api/admin/projects/p0/keys`, { method: 'POST', headers: auth })).json()).key;
  await fetch(`${floor.base}/setup`, { method: 'POST' });
  let beforeKey;
  if (before) {
    await fetch(`${before.base}/api/admin/projects`, { method: 'POST', headers: auth, body: JSON.stringify({ id: 'p0', name: 'Bench' }) });
    beforeKey = (await (await fetch(`${before.base}/api/admin/projects/p0/keys`, { method: 'POST', headers: auth })).json()).key;
  }
  const sends = {
    worker: postClient(ours.base, { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, CONCURRENCY, '/api/usage'),
    floor: postClient(floor.base, { 'content-type': 'application/json' }, CONCURRENCY, '/batch'),
    // The same floor making the worker's writes since migration 0025: rows marked rolled up,
    // the check, and one upsert per rollup row, job part, job and day (bench/floor).
    'floor, batch rollups': postClient(floor.base, { 'content-type': 'application/json' }, CONCURRENCY, '/batch?rollups=batch'),
    // The same, writing the worker's bytes: its raw-log line's members and its row's
    // fingerprint (bench/floor, `lines=worker`).
    'floor, the worker\'s bytes': postClient(floor.base, { 'content-type': 'application/json' }, CONCURRENCY, '/batch?rollups=batch&lines=worker'),
    // The same, answering as the worker answers (bench/floor, `answer=worker`): the answer is
    // the API's, so a floor doing the worker's whole job writes it too.
    'floor, the worker\'s bytes and answer': postClient(floor.base, { 'content-type': 'application/json' }, CONCURRENCY,
      '/batch?rollups=batch&lines=worker&answer=worker'),
  };
  if (before) sends['worker (before)'] = postClient(before.base, { authorization: `Bearer ${beforeKey}`, 'content-type': 'application/json' }, CONCURRENCY, '/api/usage');
  // Warm up both isolates and SQLite caches.
  for (const send of Object.values(sends)) await round(send);
  const results = Object.fromEntries(Object.keys(sends).map((who) => [who, []]));
  const rows = [];
  for (let r = 0; r < ROUNDS; r += 1) {
    // The order turns each round, so that each goes first, second and last alike.
    const names = Object.keys(results);
    const order = names.map((_, i) => names[(i + r) % names.length]);
    for (const who of order) {
      const eps = await round(sends[who]);
      results[who].push(eps);
      rows.push(`| ${r + 1} | ${who} | ${eps.toFixed(0)} |`);
    }
  }
  const pairs = results.worker.map((w, i) => w / results.floor[i]);
  const same = results.worker.map((w, i) => w / results['floor, batch rollups'][i]);
  console.log(`\nBatches of ${BATCH.toLocaleString('en')}, ${REQUESTS} requests per round at concurrency ${CONCURRENCY}, ${ROUNDS} rounds interleaved\n`);
  console.log('| round | worker | events/s |');
  console.log('|---|---|---|');
  for (const row of rows) console.log(row);
  console.log(`\nMedian events/s: worker ${median(results.worker).toFixed(0)}, floor ${median(results.floor).toFixed(0)}; ` +
    `median of the per-round ratios worker/floor ${median(pairs).toFixed(3)} (range ${Math.min(...pairs).toFixed(3)} to ${Math.max(...pairs).toFixed(3)}).`);
  console.log(`Floor with the worker's batch rollups: median ${median(results['floor, batch rollups']).toFixed(0)} events/s; ` +
    `worker / it ${median(same).toFixed(3)} (range ${Math.min(...same).toFixed(3)} to ${Math.max(...same).toFixed(3)}).`);
  const bytes = results.worker.map((w, i) => w / results['floor, the worker\'s bytes'][i]);
  console.log(`Floor with the worker's batch rollups and bytes (lines=worker): median ${median(results['floor, the worker\'s bytes']).toFixed(0)} events/s; ` +
    `worker / it ${median(bytes).toFixed(3)} (range ${Math.min(...bytes).toFixed(3)} to ${Math.max(...bytes).toFixed(3)}).`);
  const answered = results.worker.map((w, i) => w / results['floor, the worker\'s bytes and answer'][i]);
  console.log(`Floor with the worker's batch rollups, bytes and answer (lines=worker&answer=worker): median ${median(results['floor, the worker\'s bytes and answer']).toFixed(0)} events/s; ` +
    `worker / it ${median(answered).toFixed(3)} (range ${Math.min(...answered).toFixed(3)} to ${Math.max(...answered).toFixed(3)}).`);
  if (before) {
    const gain = results.worker.map((w, i) => w / results['worker (before)'][i]);
    const old = results['worker (before)'].map((b, i) => b / results['floor, batch rollups'][i]);
    console.log(`Worker before (${BEFORE}): median ${median(results['worker (before)']).toFixed(0)} events/s; worker / before ${median(gain).toFixed(3)} ` +
      `(range ${Math.min(...gain).toFixed(3)} to ${Math.max(...gain).toFixed(3)}); before / the floor with batch rollups ${median(old).toFixed(3)}, ` +
      `/ the floor with the worker's bytes ${median(results['worker (before)'].map((b, i) => b / results['floor, the worker\'s bytes'][i])).toFixed(3)}, ` +
      `/ the floor with its bytes and answer ${median(results['worker (before)'].map((b, i) => b / results['floor, the worker\'s bytes and answer'][i])).toFixed(3)}.`);
  }
} catch (error) {
  // A failed run says what each `wrangler dev` printed (a reload, a trap) before it ended.
  for (const [who, dev] of [['worker', ours], ['floor', floor], ['before', before]]) {
    if (dev) console.error(`--- ${who}'s wrangler dev output (last 3,000 characters):\n${dev.output().slice(-3000)}`);
  }
  throw error;
} finally {
  await ours.stop();
  await floor.stop();
  await before?.stop();
}
