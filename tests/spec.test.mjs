// The served OpenAPI document describes what the worker really answers: responses of the main
// routes, on realistic data, validate against their schemas (JSON Schema 2020-12, as OpenAPI
// 3.1 uses), and the documented request bodies of the seed teams' clients are accepted.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Ajv2020 from 'ajv/dist/2020.js';
import { startWorker, ADMIN_KEY } from './support/worker.mjs';

let w;
let key;
let ajv;
before(async () => {
  w = await startWorker();
  const doc = (await w.fetch('/api/openapi.json')).json;
  ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
  ajv.addSchema({ ...doc, $id: 'spec' });
  await w.fetch('/api/admin/projects', { method: 'POST', key: ADMIN_KEY, body: { id: 'ads', name: 'Ads' } });
  key = (await w.fetch('/api/admin/projects/ads/keys', { method: 'POST', key: ADMIN_KEY })).json.key;
  await w.fetch('/api/admin/projects/ads/budget', { method: 'PATCH', key: ADMIN_KEY, body: { budget: { amount: '1', currency: 'USD' }, alert_emails: ['ops@example.com'] } });
  await w.fetch('/api/admin/subscriptions', { method: 'PUT', key: ADMIN_KEY, body: { provider: 'heygen', monthly_fee: '29', allotment: { amount: '10', unit: 'credits' }, alert_percent: 10, alert_emails: ['ops@example.com'] } });
});
after(async () => w?.dispose());

const pointer = (...parts) => parts.map((p) => String(p).replace(/~/g, '~0').replace(/\//g, '~1')).join('/');

/** Asserts that `body` is what the spec says `method path` answers with `status`. */
function conforms(path, method, status, body) {
  const ref = `spec#/paths/${pointer(path, method, 'responses', status, 'content', 'application/json', 'schema')}`;
  const validate = ajv.compile({ $ref: ref });
  assert.ok(validate(body), `${method.toUpperCase()} ${path} ${status}: ${ajv.errorsText(validate.errors, { separator: '\n' })}\n${JSON.stringify(body).slice(0, 600)}`);
}

test('the documented event fields and aliases are accepted, and the answer has the documented shape', async () => {
  // MIGRATING's section 4 shape: `service`, `prompt_tokens`, `completion_tokens`.
  const r = await w.fetch('/api/usage', { method: 'POST', key, body: { events: [
    { id: 's-1', provider: 'openai', model: 'gpt-4o-mini', service: 'chat', prompt_tokens: 1200, completion_tokens: 300, job_id: 'j-1' },
    { id: 's-2', provider: 'anthropic', model: 'claude-3-5-haiku-20241022', input_tokens: 10, cache_read_input_tokens: 5, cache_creation_input_tokens: 2, request_timestamp: new Date().toISOString() },
    { id: 's-3', provider: 'heygen', credits: '2', job_id: 'j-1' },
    { id: 's-4', provider: 'acme', model: 'x', total_tokens: 10 },
  ] } });
  assert.equal(r.status, 201, r.text);
  const validate = ajv.compile({ $ref: 'spec#/components/schemas/UsageEventInput' });
  for (const e of [{ provider: 'openai', service: 'chat', prompt_tokens: 1, completion_tokens: 2, cached_tokens: 1, total_tokens: 3, request_timestamp: '2026-11-01T00:00:00Z' }]) {
    assert.ok(validate(e), ajv.errorsText(validate.errors));
  }
  conforms('/api/usage', 'post', 201, r.json);
});

test('the answers of the main routes validate against the spec', async () => {
  const admin = (path, init = {}) => w.fetch(path, { key: ADMIN_KEY, ...init });
  const cases = [
    ['/api/usage', 'get', 200, await w.fetch('/api/usage', { key })],
    ['/api/usage/stats', 'get', 200, await w.fetch('/api/usage/stats', { key })],
    ['/api/prices', 'get', 200, await w.fetch('/api/prices?provider=openai', { key })],
    ['/api/admin/prices', 'post', 201, await admin('/api/admin/prices', { method: 'POST', body: { project_id: 'ads', entries: [{ provider: 'heygen', model: 'avatar', effective_from: '2025-01-01', currency: 'USD', rates: { credits: { price: '0.60', per: 1 } } }] } })],
    ['/api/admin/usage', 'get', 200, await admin('/api/admin/usage?group=provider,project')],
    ['/api/analytics/usage-summary', 'get', 200, await admin('/api/analytics/usage-summary')],
    ['/api/admin/usage/check-budgets', 'get', 200, await admin('/api/admin/usage/check-budgets')],
    ['/api/admin/subscriptions', 'get', 200, await admin('/api/admin/subscriptions')],
    ['/api/admin/stats', 'get', 200, await admin('/api/admin/stats')],
    ['/api/admin/usage/jobs/summary', 'get', 200, await admin('/api/admin/usage/jobs/summary')],
    ['/api/admin/cron/run', 'post', 200, await admin('/api/admin/cron/run', { method: 'POST' })],
  ];
  for (const [path, method, status, r] of cases) {
    assert.equal(r.status, status, `${method} ${path}: ${r.text}`);
    conforms(path, method, status, r.json);
  }
  // The check answered something for the project and for the plan, as the spec names them.
  const check = cases.find(([p]) => p === '/api/admin/usage/check-budgets')[3].json;
  assert.equal(check.projects[0].project_id, 'ads');
  assert.equal(check.plans.length, 1);
});

test('a project with nothing to check, and an unknown project, are answered as documented', async () => {
  await w.fetch('/api/admin/projects', { method: 'POST', key: ADMIN_KEY, body: { id: 'lab', name: 'Lab' } });
  const got = await w.fetch('/api/admin/projects/lab/budget', { key: ADMIN_KEY });
  assert.equal(got.status, 200, got.text);
  assert.equal(got.json.status, null);
  conforms('/api/admin/projects/{id}/budget', 'get', 200, got.json);
  const patched = await w.fetch('/api/admin/projects/lab/budget', { method: 'PATCH', key: ADMIN_KEY, body: {} });
  assert.equal(patched.status, 200, patched.text);
  conforms('/api/admin/projects/{id}/budget', 'patch', 200, patched.json);
  for (const [path, method] of [
    ['/api/admin/usage/check-budgets', 'get'],
    ['/api/admin/usage/check-budgets', 'post'],
    ['/api/usage/stats', 'get'],
  ]) {
    const r = await w.fetch(`${path}?project_id=nope`, { method: method.toUpperCase(), key: ADMIN_KEY });
    assert.equal(r.status, 404, `${method} ${path}: ${r.text}`);
    assert.equal(r.json.error.code, 'not_found');
    conforms(path, method, 404, r.json);
  }
});
