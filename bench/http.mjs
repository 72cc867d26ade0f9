// HTTP latency benchmarks against the real `wrangler dev` (local workerd, D1, R2) on this
// machine. Prints a Markdown table for BENCHMARKS.md. Not a test: nothing here asserts.
import { startWranglerDev } from '../tests/support/wrangler-dev.mjs';

const ADMIN = 'bench-admin-key';
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 2000);

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function measure(label, concurrency, makeRequest) {
  const latencies = [];
  let next = 0;
  const started = performance.now();
  async function worker() {
    while (next < REQUESTS) {
      next += 1;
      const t0 = performance.now();
      const r = await makeRequest();
      await r.arrayBuffer();
      if (!r.ok) throw new Error(`${label}: HTTP ${r.status}`);
      latencies.push(performance.now() - t0);
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    label,
    concurrency,
    rps: (latencies.length / seconds).toFixed(0),
    p50: percentile(latencies, 50).toFixed(2),
    p99: percentile(latencies, 99).toFixed(2),
  };
}

const dev = await startWranglerDev({ adminKey: ADMIN });
try {
  const auth = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };
  for (let i = 0; i < 20; i += 1) {
    await fetch(`${dev.base}/api/admin/projects`, {
      method: 'POST', headers: auth, body: JSON.stringify({ id: `p${i}`, name: `Project ${i}` }),
    });
  }
  const rows = [];
  for (const concurrency of [1, 16]) {
    rows.push(await measure('GET /healthz', concurrency, () => fetch(`${dev.base}/healthz`)));
    rows.push(await measure('GET /api/admin/projects (20 projects, admin auth)', concurrency,
      () => fetch(`${dev.base}/api/admin/projects`, { headers: auth })));
  }
  console.log(`\n${REQUESTS} requests per row, wrangler dev on 127.0.0.1\n`);
  console.log('| request | concurrency | req/s | p50 ms | p99 ms |');
  console.log('|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.label} | ${r.concurrency} | ${r.rps} | ${r.p50} | ${r.p99} |`);
} finally {
  await dev.stop();
}
