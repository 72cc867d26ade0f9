// Coverage of the bundled LiteLLM layer, measured through the built worker: EVERY per-token
// entry of LiteLLM's own price file (the `litellm` wheel of the bundled version, fetched by
// pip as `npm run prices:update` does and cached in .tools/litellm/) is quoted under the
// names apps send (LiteLLM's `provider/model` key, and the plain model with the provider
// field), and its cost must equal, to the nano-unit, the exact cost at LiteLLM's prices.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startWorker, ADMIN_KEY, ROOT } from './support/worker.mjs';

const INPUT_TOKENS = 1234;
const OUTPUT_TOKENS = 567;

let w;
let file; // LiteLLM's price file of the bundled version, its numbers as written
let version;

before(async () => {
  const header = readFileSync(join(ROOT, 'data', 'litellm-prices.tsv'), 'utf8').match(/^# litellm (\S+) read_on/m);
  assert.ok(header, 'data/litellm-prices.tsv names its litellm version');
  version = header[1];
  const dir = join(ROOT, 'test-artifacts');
  mkdirSync(dir, { recursive: true });
  const out = join(dir, `litellm-${version}.json`);
  execFileSync(join(ROOT, '.tools', 'venv', 'bin', 'python'),
    [join(ROOT, 'scripts', 'prices-update.py'), '--fetch-json', out, '--version', version], { stdio: 'inherit' });
  // Numbers as LiteLLM wrote them (Python keeps their text): a float would lose the digits compared here.
  const asText = 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]), parse_float=str, parse_int=str)))';
  file = JSON.parse(execFileSync(join(ROOT, '.tools', 'venv', 'bin', 'python'), ['-c', asText, out], { maxBuffer: 64 << 20 }).toString());
  w = await startWorker();
});
after(async () => w?.dispose());

/** Exact decimal text -> [bigint digits, scale]. */
function decimal(text) {
  const [mant, exp = '0'] = String(text).toLowerCase().split('e');
  const [int, frac = ''] = mant.split('.');
  let scale = frac.length - Number(exp);
  let digits = BigInt(int + frac);
  if (scale < 0) { digits *= 10n ** BigInt(-scale); scale = 0; }
  return [digits, scale];
}

/** `count * price` exactly, in 10^-40 units. */
const at40 = (count, text) => {
  const [d, s] = decimal(text);
  return BigInt(count) * d * 10n ** BigInt(40 - s);
};

/** An exact amount in 10^-40 units rounded once to the nano-unit, half to even (the engine's rule). */
function nanos(exact) {
  const unit = 10n ** 31n;
  const q = exact / unit;
  const rem = exact % unit;
  return rem * 2n > unit || (rem * 2n === unit && q % 2n === 1n) ? q + 1n : q;
}

/** Every per-token entry of the file, as the requests apps send for it. */
function cases() {
  const keys = new Set(Object.keys(file).map((k) => k.toLowerCase()));
  const out = [];
  for (const [key, spec] of Object.entries(file)) {
    if (key === 'sample_spec' || typeof spec !== 'object' || !spec) continue;
    const input = spec.input_cost_per_token;
    const output = spec.output_cost_per_token;
    if (input === undefined && output === undefined) continue;
    const label = spec.litellm_provider ?? key.split('/')[0];
    const base = { key, label, input, output };
    // The key as LiteLLM names it (`mistral/mistral-large-latest`, or a plain `gpt-4o`).
    out.push({ ...base, provider: label, model: key, form: 'key' });
    // The plain model with the provider field, unless that plain name is a key of its own
    // (then it is that key's price the app asks for).
    const slash = key.indexOf('/');
    if (slash > 0) {
      const plain = key.slice(slash + 1);
      if (!keys.has(plain.toLowerCase())) out.push({ ...base, provider: label, model: plain, form: 'plain' });
    }
  }
  return out;
}

async function quote(c) {
  const body = { provider: c.provider, model: c.model, timestamp: '2026-06-01T10:00:00Z' };
  if (c.input !== undefined) body.input_tokens = INPUT_TOKENS;
  if (c.output !== undefined) body.output_tokens = OUTPUT_TOKENS;
  const r = await w.fetch('/api/prices/quote', { method: 'POST', key: ADMIN_KEY, body });
  let want = 0n;
  if (c.input !== undefined) want += at40(INPUT_TOKENS, c.input);
  if (c.output !== undefined) want += at40(OUTPUT_TOKENS, c.output);
  if (r.status !== 200 || !r.json.cost) return { ok: false, why: `${r.status} ${(r.json?.unpriced?.code ?? r.text).slice(0, 100)}` };
  const got = nanos(at40(1, r.json.cost.amount));
  const ok = got === nanos(want) && r.json.cost.currency === 'USD';
  return { ok, why: ok ? '' : `${r.json.cost.amount} ${r.json.cost.currency}, LiteLLM ${nanos(want)} nano (priced as ${r.json.price?.provider}/${r.json.price?.model})` };
}

test('every LiteLLM per-token entry, by its key and by its plain model with the provider, is quoted at LiteLLM\'s exact prices', async () => {
  const all = cases();
  assert.ok(all.length > 5000, `${all.length} cases`);
  const results = [];
  // A few requests in flight at a time: thousands of quotes in well under a minute.
  for (let i = 0; i < all.length; i += 8) {
    const batch = all.slice(i, i + 8);
    const answers = await Promise.all(batch.map(quote));
    batch.forEach((c, j) => results.push({ ...c, ...answers[j] }));
  }
  const byLabel = new Map();
  for (const r of results) {
    const s = byLabel.get(r.label) ?? { n: 0, ok: 0, misses: [] };
    s.n += 1;
    if (r.ok) s.ok += 1;
    else s.misses.push(`${r.form} ${r.provider} ${r.model}: ${r.why}`);
    byLabel.set(r.label, s);
  }
  const exact = results.filter((r) => r.ok).length;
  const share = exact / results.length;
  const lines = [...byLabel.entries()].sort((a, b) => b[1].n - a[1].n)
    .map(([label, s]) => `${label.padEnd(36)} ${String(s.ok).padStart(5)} / ${String(s.n).padEnd(5)} ${(100 * s.ok / s.n).toFixed(1)}%`);
  const misses = [...byLabel.values()].flatMap((s) => s.misses);
  console.log(`litellm ${version}: ${exact} of ${results.length} quotes exact (${(100 * share).toFixed(2)}%), ${byLabel.size} providers\n${lines.join('\n')}\nmisses:\n${misses.join('\n')}`);
  assert.ok(share >= 0.99, `${exact} of ${results.length} exact`);
  // No provider with more than a handful of models may be clearly wrong.
  for (const [label, s] of byLabel) {
    if (s.n > 5) assert.ok(s.ok / s.n >= 0.95, `${label}: ${s.ok} of ${s.n} exact:\n${s.misses.join('\n')}`);
  }
});
