// First-request latency of a fresh isolate (Miniflare, the built worker): the time of the
// first price quote, which loads the wasm and builds the price catalog, and of the quotes
// after it. Prints a Markdown table for BENCHMARKS.md. Not a test: nothing here asserts.
import { startWorker, ADMIN_KEY } from '../tests/support/worker.mjs';
import { statSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const body = {
  provider: process.env.BENCH_PROVIDER ?? 'openai', model: process.env.BENCH_MODEL ?? 'gpt-4o', timestamp: '2026-06-01T10:00:00Z',
  input_tokens: 1000, output_tokens: 100,
};
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const first = [];
const later = [];
for (let round = 0; round < ROUNDS; round += 1) {
  const w = await startWorker();
  try {
    let t0 = performance.now();
    const r = await w.fetch('/api/prices/quote', { method: 'POST', key: ADMIN_KEY, body });
    if (r.status !== 200) throw new Error(r.text);
    first.push(performance.now() - t0);
    t0 = performance.now();
    for (let i = 0; i < 20; i += 1) {
      await w.fetch('/api/prices/quote', { method: 'POST', key: ADMIN_KEY, body });
    }
    later.push((performance.now() - t0) / 20);
  } finally {
    await w.dispose();
  }
}
const wasm = statSync(join(root, 'build', 'index_bg.wasm')).size;
console.log(`\n${ROUNDS} fresh workers (Miniflare), median\n`);
console.log('| build/index_bg.wasm bytes | first quote ms | later quotes ms |');
console.log('|---|---|---|');
console.log(`| ${wasm} | ${median(first).toFixed(1)} | ${median(later).toFixed(2)} |`);
