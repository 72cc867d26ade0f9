// The price catalog and custom prices through the API, against the built worker.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWorker, ADMIN_KEY } from './support/worker.mjs';

let w;
let projectKey;
before(async () => {
  w = await startWorker();
  for (const id of ['ads', 'other']) {
    const r = await w.fetch('/api/admin/projects', { method: 'POST', key: ADMIN_KEY, body: { id, name: id } });
    assert.equal(r.status, 201);
  }
  projectKey = (await w.fetch('/api/admin/projects/ads/keys', { method: 'POST', key: ADMIN_KEY })).json.key;
});
after(async () => w?.dispose());

const quote = (body, key = ADMIN_KEY) => w.fetch('/api/prices/quote', { method: 'POST', key, body });

test('a quote prices OpenAI cached tokens inside the prompt and shows each component', async () => {
  const r = await quote({
    provider: 'openai', model: 'gpt-4o-2024-08-06', timestamp: '2025-03-01T10:00:00Z',
    prompt_tokens: 10000, cached_tokens: 4000, completion_tokens: 500,
  });
  assert.equal(r.status, 200, r.text);
  // 6000 * 2.50/1M + 4000 * 1.25/1M + 500 * 10/1M = 0.015 + 0.005 + 0.005
  assert.equal(r.json.cost.amount, '0.025');
  assert.equal(r.json.cost.currency, 'USD');
  assert.equal(r.json.price.model, 'gpt-4o');
  assert.equal(r.json.price.origin, 'builtin');
  assert.deepEqual(r.json.lines.map((l) => [l.kind, l.quantity]), [
    ['input_tokens', '6000'], ['output_tokens', '500'], ['cached_input_tokens', '4000'],
  ]);
});

test('a quote prices Anthropic cache reads and writes on top of input tokens', async () => {
  const r = await quote({
    provider: 'anthropic', model: 'claude-3-5-sonnet-20241022', timestamp: '2025-03-01T10:00:00Z',
    input_tokens: 1000, cache_read_input_tokens: 10000, cache_creation_input_tokens: 2000, output_tokens: 500,
  });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.cost.amount, '0.021');
});

test('an unknown model is unpriced with a reason, never $0', async () => {
  const r = await quote({ provider: 'openai', model: 'gpt-nonexistent', input_tokens: 1000 });
  assert.equal(r.status, 200);
  assert.equal(r.json.cost, null);
  assert.equal(r.json.unpriced.code, 'unknown_model');
  const reported = await quote({ provider: 'heygen', model: 'mystery', credits: 0.5, cost: 0.30 });
  assert.equal(reported.json.cost.amount, '0.30', 'a reported cost is kept as reported');
  assert.equal(reported.json.reported_cost.amount, '0.30');
});

test('custom prices win over built-in ones, project prices over global ones, from their date on', async () => {
  const before = await w.snapshot();
  const add = (body) => w.fetch('/api/admin/prices', { method: 'POST', key: ADMIN_KEY, body });
  const entry = (price) => ({
    provider: 'openai', model: 'gpt-4o', currency: 'USD', effective_from: '2025-06-01',
    source: 'negotiated contract', rates: { input_tokens: { price, per: 1000000 }, output_tokens: { price, per: 1000000 } },
  });
  const global = await add({ entries: [entry('2')] });
  assert.equal(global.status, 201, global.text);
  const scoped = await add({ project_id: 'ads', entries: [entry('1')] });
  assert.equal(scoped.status, 201, scoped.text);
  assert.notDeepEqual(await w.snapshot(), before);

  const usage = { provider: 'openai', model: 'gpt-4o', input_tokens: 1000000, timestamp: '2025-07-01T00:00:00Z' };
  assert.equal((await quote({ ...usage, project_id: 'ads' })).json.cost.amount, '1.00');
  assert.equal((await quote({ ...usage, project_id: 'other' })).json.cost.amount, '2.00');
  assert.equal((await quote(usage)).json.cost.amount, '2.00');
  assert.equal((await quote(usage, projectKey)).json.cost.amount, '1.00', 'a project key prices with its project');
  const earlier = await quote({ ...usage, timestamp: '2025-05-31T23:59:59Z', project_id: 'ads' });
  assert.equal(earlier.json.cost.amount, '2.50', 'before the custom date the built-in price applies');

  const forbidden = await quote({ ...usage, project_id: 'other' }, projectKey);
  assert.equal(forbidden.status, 403);

  const list = await w.fetch('/api/prices?provider=openai&model=gpt-4o-2024-08-06&on=2025-07-01&project_id=ads', { key: ADMIN_KEY });
  assert.equal(list.status, 200, list.text);
  assert.equal(list.json.prices.length, 1);
  assert.equal(list.json.prices[0].origin, 'custom');
  assert.equal(list.json.prices[0].project_id, 'ads');
  const history = await w.fetch('/api/prices?provider=openai&model=gpt-4o&history=true&project_id=ads', { key: ADMIN_KEY });
  assert.ok(history.json.prices.length >= 3, 'builtin, global and project entries');

  const customs = await w.fetch('/api/admin/prices', { key: ADMIN_KEY });
  assert.equal(customs.json.prices.length, 2);
  for (const p of customs.json.prices) {
    const d = await w.fetch(`/api/admin/prices/${p.id}`, { method: 'DELETE', key: ADMIN_KEY });
    assert.equal(d.status, 204);
  }
  assert.equal((await quote({ ...usage, project_id: 'ads' })).json.cost.amount, '2.50');
});

test('the effective catalog lists built-in entries with sources and filters by provider', async () => {
  const r = await w.fetch('/api/prices?provider=anthropic', { key: projectKey });
  assert.equal(r.status, 200, r.text);
  assert.ok(r.json.prices.length >= 8);
  for (const p of r.json.prices) {
    assert.equal(p.provider, 'anthropic');
    assert.ok(p.source, `${p.model} has a source`);
    assert.match(p.effective_from, /^\d{4}-\d{2}-\d{2}$/);
  }
  const bad = await w.fetch('/api/prices?on=yesterday', { key: projectKey });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error.details[0].field, 'on');
});

test('LiteLLM price files import as custom prices, exactly', async () => {
  const file = {
    sample_spec: { input_cost_per_token: 0 },
    'gpt-imported': { litellm_provider: 'openai', mode: 'chat', input_cost_per_token: 1.1e-6, output_cost_per_token: 4.4e-6, cache_read_input_token_cost: 2.75e-7 },
    'gemini/gemini-imported': { litellm_provider: 'gemini', mode: 'chat', input_cost_per_token: 1.25e-6, output_cost_per_token: 1e-5,
      input_cost_per_token_above_200k_tokens: 2.5e-6, output_cost_per_token_above_200k_tokens: 1.5e-5 },
  };
  const dry = await w.fetch('/api/admin/prices/import?effective_from=2025-01-01&dry_run=true', { method: 'POST', key: ADMIN_KEY, body: file });
  assert.equal(dry.status, 200, dry.text);
  assert.equal(dry.json.imported, 2);
  assert.equal((await w.fetch('/api/admin/prices', { key: ADMIN_KEY })).json.prices.length, 0, 'a dry run stores nothing');

  const r = await w.fetch('/api/admin/prices/import?effective_from=2025-01-01', { method: 'POST', key: ADMIN_KEY, body: file });
  assert.equal(r.status, 201, r.text);
  const q = await quote({ provider: 'openai', model: 'gpt-imported', timestamp: '2025-02-01T00:00:00Z', input_tokens: 1000, output_tokens: 1000 });
  assert.equal(q.json.cost.amount, '0.0055');
  const tier = await quote({ provider: 'gemini', model: 'gemini-imported', timestamp: '2025-02-01T00:00:00Z', input_tokens: 300000, output_tokens: 1000 });
  // 300000 * 2.5/1M + 1000 * 15/1M
  assert.equal(tier.json.cost.amount, '0.765');
  assert.equal(tier.json.tier_above_prompt_tokens, 200000);
});

test('a LiteLLM file of 6,000 models imports whole: its rows are bound in chunks under D1\'s 2 MB per value', async () => {
  const file = {};
  for (let i = 0; i < 6000; i += 1) {
    file[`bulk-model-${i}`] = { litellm_provider: 'openai', mode: 'chat', input_cost_per_token: Number(`${1 + (i % 9)}e-6`), output_cost_per_token: 2e-6,
      cache_read_input_token_cost: 5e-7, max_input_tokens: 128000, supports_function_calling: true, supports_vision: true };
  }
  const r = await w.fetch('/api/admin/prices/import?effective_from=2025-01-01', { method: 'POST', key: ADMIN_KEY, body: file });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.imported, 6000);
  const last = await quote({ provider: 'openai', model: 'bulk-model-5999', timestamp: '2025-02-01T00:00:00Z', input_tokens: 1000000, output_tokens: 0 });
  assert.equal(last.json.cost.amount, '6.00', '5999 % 9 = 5: 6e-6 per token');
  const first = await quote({ provider: 'openai', model: 'bulk-model-0', timestamp: '2025-02-01T00:00:00Z', input_tokens: 1000000, output_tokens: 0 });
  assert.equal(first.json.cost.amount, '1.00');
  const count = await w.db.prepare("SELECT count(*) AS n FROM custom_prices WHERE model LIKE 'bulk-model-%'").first();
  assert.equal(count.n, 6000);
});

test('bad prices and bad import files get a 400 naming the entry and field and change nothing', async () => {
  const before = await w.snapshot();
  const base = { provider: 'openai', model: 'x', currency: 'USD', effective_from: '2025-01-01', rates: { input_tokens: { price: '1', per: 1000000 } } };
  const cases = [
    [{ entries: [{ ...base, rates: { input_tokens: { price: '-1', per: 1000000 } } }] }, 'entries[0].rates.input_tokens.price'],
    [{ entries: [base, { ...base, rates: { input_tokens: { price: 'cheap', per: 1000000 } } }] }, 'entries[1].rates.input_tokens.price'],
    [{ entries: [{ ...base, currency: 'DOLLARS' }] }, 'entries[0].currency'],
    [{ entries: [{ ...base, notes: 'n'.repeat(2001) }] }, 'entries[0].notes'],
    [{ entries: [{ ...base, effective_from: 'soon' }] }, 'entries[0].effective_from'],
    [{ entries: [{ ...base, rates: { input_tokens: { price: 1, per: 0 } } }] }, 'entries[0].rates.input_tokens.per'],
    [{ entries: [{ ...base, rates: { smiles: { price: 1, per: 1 } } }] }, 'entries[0].rates.smiles'],
    [{ entries: [] }, 'entries'],
    [{ project_id: 'nope', entries: [base] }, null, 404],
  ];
  for (const [body, field, status = 400] of cases) {
    const r = await w.fetch('/api/admin/prices', { method: 'POST', key: ADMIN_KEY, body });
    assert.equal(r.status, status, `${JSON.stringify(body).slice(0, 120)}: ${r.text}`);
    if (field) assert.ok(r.json.error.details.some((d) => d.field === field), `${field} in ${r.text}`);
  }
  const imports = [
    [{ raw: '{"gpt-x": {', headers: { 'content-type': 'application/json' } }, null],
    [{ body: [1, 2, 3] }, 'body'],
  ];
  for (const [options, field] of imports) {
    const r = await w.fetch('/api/admin/prices/import', { method: 'POST', key: ADMIN_KEY, ...options });
    assert.equal(r.status, 400, r.text);
    if (field) assert.ok(r.json.error.details.some((d) => d.field === field), `${field} in ${r.text}`);
  }
  // An odd entry never blocks the file: it is skipped, and the answer says which and why.
  const odd = [
    [{ 'gpt-x': { litellm_provider: 'openai', input_cost_per_token: 'free' } }, 'input_cost_per_token'],
    [{ 'gpt-x': 5 }, 'expected an object'],
    // A field kept with the entry is bounded: 2 MB of it would pass D1's value limit.
    [{ 'gpt-x': { litellm_provider: 'openai', mode: 'x'.repeat(100_000), input_cost_per_token: 1e-6 } }, 'gpt-x.mode'],
  ];
  for (const [body, reason] of odd) {
    const r = await w.fetch('/api/admin/prices/import', { method: 'POST', key: ADMIN_KEY, body });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.imported, 0);
    assert.equal(r.json.skipped[0].key, 'gpt-x');
    assert.ok(r.json.skipped[0].reason.includes(reason), r.text);
  }
  const badDate = await w.fetch('/api/admin/prices/import?effective_from=2025-02-30', { method: 'POST', key: ADMIN_KEY, body: {} });
  assert.equal(badDate.status, 400);
  assert.equal(badDate.json.error.details[0].field, 'effective_from');
  assert.deepEqual(await w.snapshot(), before);
});

test('invalid quote input names the field', async () => {
  const cases = [
    [{ provider: 'openai', model: 'gpt-4o', input_tokens: -5 }, 'input_tokens'],
    [{ provider: 'openai', model: 'gpt-4o', input_tokens: 10, cached_input_tokens: 20 }, 'cached_input_tokens'],
    [{ provider: 'openai', model: 'gpt-4o', input_tokens: 10, timestamp: 'yesterday' }, 'timestamp'],
    [{ provider: 'openai', model: 'gpt-4o', input_tokens: 10, cost: 1, currency: 'XXX1' }, 'currency'],
    [{ provider: 'openai', model: 'gpt-4o' }, 'usage'],
    [{ model: 'gpt-4o', input_tokens: 10 }, 'provider'],
    [{ provider: 'openai', model: 'gpt-4o', input_tokens: 10, mystery: 1 }, 'mystery'],
  ];
  for (const [body, field] of cases) {
    const r = await quote(body);
    assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
    assert.ok(r.json.error.details.some((d) => d.field === field), `${field} in ${r.text}`);
  }
});

test('a model only another project prices is unknown to a project, in its quotes and its events, as if that price did not exist', async () => {
  const otherKey = (await w.fetch('/api/admin/projects/other/keys', { method: 'POST', key: ADMIN_KEY })).json.key;
  const call = { provider: 'tenantco', model: 'tc-x', input_tokens: 1000 };
  const before = (await quote(call, otherKey)).json.unpriced;
  assert.equal(before.code, 'unknown_model');
  const added = await w.fetch('/api/admin/prices', { method: 'POST', key: ADMIN_KEY, body: {
    project_id: 'ads', entries: [{ provider: 'tenantco', model: 'tc-x', currency: 'EUR', effective_from: '2026-01-01', source: 'contract', rates: { input_tokens: { price: '0.7', per: 1000000 } } }],
  } });
  assert.equal(added.status, 201, added.text);
  assert.deepEqual((await quote(call, projectKey)).json.cost, { amount: '0.0007', currency: 'EUR', value: 0.0007 }, 'ads has its price');
  assert.deepEqual((await quote(call, otherKey)).json.unpriced, before, 'other sees nothing of it');
  const recorded = await w.fetch('/api/usage', { method: 'POST', key: otherKey, body: { id: 'tc-1', ...call } });
  assert.equal(recorded.status, 201, recorded.text);
  assert.equal(recorded.json.events[0].unpriced.code, 'unknown_model');
});
