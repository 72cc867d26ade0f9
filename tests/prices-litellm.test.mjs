// The bundled LiteLLM layer through the built worker: a stratified sample of LiteLLM's
// per-token entries (every provider label, up to 12 keys each) is quoted as a client sends
// it (LiteLLM's provider label and key) and must cost exactly what LiteLLM's prices say.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startWorker, ADMIN_KEY, ROOT } from './support/worker.mjs';

let w;
before(async () => { w = await startWorker(); });
after(async () => w?.dispose());

const quote = (body) => w.fetch('/api/prices/quote', { method: 'POST', key: ADMIN_KEY, body });

/** Exact decimal text -> [bigint, scale]. */
function decimal(text) {
  const [mant, exp = '0'] = text.toLowerCase().split('e');
  const [int, frac = ''] = mant.split('.');
  let scale = frac.length - Number(exp);
  let digits = BigInt(int + frac);
  if (scale < 0) { digits *= 10n ** BigInt(-scale); scale = 0; }
  return [digits, scale];
}

/** tokens * price (exact), as a value in 10^-30 units. */
const at30 = (tokens, text) => {
  const [d, s] = decimal(text);
  return BigInt(tokens) * d * 10n ** BigInt(30 - s);
};

/** The cost's amount text in 10^-30 units. */
const amount30 = (text) => at30(1, text);

function sample() {
  const lines = readFileSync(join(ROOT, 'data', 'litellm-prices.tsv'), 'utf8')
    .split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split('\t'));
  const byLabel = new Map();
  for (const [, key, label, , prices] of lines) {
    const fields = Object.fromEntries(prices.split(' ').map((p) => p.split('=')));
    const input = fields.input_cost_per_token;
    const output = fields.output_cost_per_token;
    if (!input || !output || !label) continue;
    // Float noise beyond 18 decimals is rounded by the documented rule: not sampled here.
    if (decimal(input)[1] > 18 || decimal(output)[1] > 18) continue;
    if (!byLabel.has(label)) byLabel.set(label, []);
    byLabel.get(label).push({ key, label, input, output });
  }
  const out = [];
  for (const entries of byLabel.values()) {
    const step = Math.max(1, Math.floor(entries.length / 12));
    for (let i = 0; i < entries.length && out.length < 100000; i += step) out.push(entries[i]);
  }
  return out;
}

test('a stratified sample of LiteLLM per-token entries is quoted at LiteLLM\'s exact prices', async () => {
  const cases = sample();
  assert.ok(cases.length > 600, `${cases.length} cases`);
  const misses = [];
  for (const c of cases) {
    const r = await quote({
      provider: c.label, model: c.key, timestamp: '2026-06-01T10:00:00Z',
      input_tokens: 1234, output_tokens: 567,
    });
    if (r.status !== 200 || !r.json.cost) { misses.push(`${c.label} ${c.key}: ${r.status} ${r.text.slice(0, 120)}`); continue; }
    const exact = at30(1234, c.input) + at30(567, c.output);
    // The event's sum is rounded once to a nano-unit (10^-9), half to even.
    const nano = 10n ** 21n;
    const q = exact / nano; const rem = exact % nano;
    const rounded = (rem * 2n > nano || (rem * 2n === nano && q % 2n === 1n)) ? q + 1n : q;
    if (amount30(r.json.cost.amount) !== rounded * nano) {
      misses.push(`${c.label} ${c.key}: ${r.json.cost.amount} from ${r.json.price?.origin} ${r.json.price?.model}`);
    }
  }
  const share = (cases.length - misses.length) / cases.length;
  assert.ok(share >= 0.99, `${cases.length - misses.length} of ${cases.length} exact:\n${misses.join('\n')}`);
});

test('LiteLLM names resolve as apps send them: provider prefixes, regions, Workers AI, Vertex partners', async () => {
  const cases = [
    ['mistral', 'mistral/mistral-large-latest'],
    ['mistral', 'mistral-large-latest'],
    ['azure', 'azure/eu/gpt-4o-2024-08-06'],
    ['bedrock', 'us.anthropic.claude-3-5-haiku-20241022-v1:0'],
    ['vertex_ai', 'claude-3-5-haiku@20241022'],
    ['workers-ai', '@cf/qwen/qwq-32b'],
    ['deepseek', 'deepseek-chat'],
  ];
  for (const [provider, model] of cases) {
    const r = await quote({ provider, model, timestamp: '2026-06-01T10:00:00Z', input_tokens: 1000, output_tokens: 100 });
    assert.equal(r.status, 200, `${provider} ${model}: ${r.text}`);
    assert.ok(r.json.cost, `${provider} ${model} is priced: ${r.text}`);
    assert.match(r.json.price.origin, /builtin/);
  }
});

test('GET /api/prices pages and filters thousands of models by provider, model prefix and mode', async () => {
  const first = await w.fetch('/api/prices?provider=mistral&mode=chat&limit=5', { key: ADMIN_KEY });
  assert.equal(first.status, 200, first.text);
  assert.equal(first.json.count, 5);
  assert.equal(first.json.litellm_version, '1.110.2');
  assert.ok(first.json.prices.every((p) => p.provider === 'mistral' && p.mode === 'chat'));
  assert.ok(first.json.next_cursor);
  const second = await w.fetch(`/api/prices?provider=mistral&mode=chat&limit=5&cursor=${encodeURIComponent(first.json.next_cursor)}`, { key: ADMIN_KEY });
  assert.equal(second.status, 200, second.text);
  assert.ok(`mistral/${second.json.prices[0].model}` > first.json.next_cursor);
  const prefix = await w.fetch('/api/prices?provider=workers-ai&model_prefix=@cf/meta/', { key: ADMIN_KEY });
  assert.ok(prefix.json.count > 0);
  assert.ok(prefix.json.prices.every((p) => p.model.startsWith('@cf/meta/')));
  for (const bad of ['limit=0', 'limit=x', 'cursor=nocursor']) {
    const r = await w.fetch(`/api/prices?${bad}`, { key: ADMIN_KEY });
    assert.equal(r.status, 400, `${bad}: ${r.text}`);
  }
});

test('GET /api/prices pages by limit with the total and the next cursor, and without limit answers every match as it always did', async () => {
  const page = await w.fetch('/api/prices?limit=100', { key: ADMIN_KEY });
  assert.equal(page.status, 200, page.text);
  assert.equal(page.json.count, 100);
  assert.equal(page.json.limit, 100);
  assert.ok(page.json.total > 4000, `total ${page.json.total}`);
  const last = page.json.prices.at(-1);
  assert.equal(page.json.next_cursor, `${last.provider}/${last.model}`);
  const whole = await w.fetch('/api/prices', { key: ADMIN_KEY });
  assert.equal(whole.json.next_cursor, null);
  assert.equal(whole.json.total, page.json.total);
  assert.ok(whole.json.prices.some((p) => p.provider === 'heygen' && p.catalog === 'curated'), 'curated entries are in the unpaged list');
  // Walking every page of one provider lists `total` models, each once.
  const seen = [];
  let cursor = null;
  do {
    const r = await w.fetch(`/api/prices?provider=mistral&limit=40${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { key: ADMIN_KEY });
    assert.equal(r.status, 200, r.text);
    seen.push(...r.json.prices.map((p) => p.model));
    assert.equal(r.json.total, seen.length + (r.json.next_cursor ? r.json.total - seen.length : 0));
    cursor = r.json.next_cursor;
  } while (cursor);
  const all = await w.fetch('/api/prices?provider=mistral&limit=1000', { key: ADMIN_KEY });
  assert.deepEqual(seen, all.json.prices.map((p) => p.model));
  assert.equal(all.json.total, seen.length);
  assert.equal(new Set(seen).size, seen.length);
  // A mode narrows the total as it narrows the pages.
  const chat = await w.fetch('/api/prices?provider=mistral&mode=chat&limit=1', { key: ADMIN_KEY });
  const chats = await w.fetch('/api/prices?provider=mistral&mode=chat&limit=1000', { key: ADMIN_KEY });
  assert.equal(chat.json.total, chats.json.count);
  assert.ok(chat.json.total < all.json.total);
  // Curated, LiteLLM and custom entries say which catalog they are from.
  const eleven = await w.fetch('/api/prices?provider=elevenlabs', { key: ADMIN_KEY });
  assert.equal(eleven.json.next_cursor, null);
  assert.equal(eleven.json.count, eleven.json.total);
  assert.ok(eleven.json.prices.some((p) => p.catalog === 'curated' && p.model === 'eleven_multilingual_v2'));
  for (const p of eleven.json.prices) {
    assert.equal(p.catalog, p.source.startsWith('LiteLLM 1.110.2 ') ? 'litellm' : 'curated', `${p.model}: ${p.source}`);
  }
  assert.ok(all.json.prices.every((p) => p.catalog === 'litellm'), 'mistral is priced by LiteLLM alone');
});
