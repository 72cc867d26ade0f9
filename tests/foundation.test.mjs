// Projects, keys, auth, CORS, errors and the OpenAPI document, against the built worker in
// Miniflare with fresh local D1.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWorker, ADMIN_KEY } from './support/worker.mjs';

let w;
before(async () => {
  w = await startWorker({ bindings: { ALLOWED_ORIGINS: 'https://app.example.pages.dev' } });
});
after(async () => w?.dispose());

async function newProject(id, extra = {}) {
  const r = await w.fetch('/api/admin/projects', {
    method: 'POST',
    key: ADMIN_KEY,
    body: { id, name: `Project ${id}`, ...extra },
  });
  assert.equal(r.status, 201, r.text);
  return r.json;
}

async function newKey(projectId) {
  const r = await w.fetch(`/api/admin/projects/${projectId}/keys`, {
    method: 'POST',
    key: ADMIN_KEY,
    body: { name: 'ci' },
  });
  assert.equal(r.status, 201, r.text);
  return r.json;
}

test('healthz answers without a key', async () => {
  const r = await w.fetch('/healthz');
  assert.equal(r.status, 200);
  assert.equal(r.json.status, 'ok');
});

test('a project is created, read, listed, patched and deleted with the admin key', async () => {
  const created = await newProject('crud', { budget_threshold_usd: '250.5', description: 'd', client: ' Acme Foods ' });
  assert.equal(created.budget_threshold_usd, '250.50');
  assert.equal(created.client, 'Acme Foods');
  assert.equal(created.budget_alert_threshold_percent, 80);
  assert.equal(created.last_budget_alert_sent, null);

  const read = await w.fetch('/api/admin/projects/crud', { key: ADMIN_KEY });
  assert.deepEqual(read.json, created);

  const list = await w.fetch('/api/admin/projects', { key: ADMIN_KEY });
  assert.ok(list.json.projects.some((p) => p.id === 'crud'));

  const patched = await w.fetch('/api/admin/projects/crud', {
    method: 'PATCH',
    key: ADMIN_KEY,
    body: { name: 'Renamed', description: null, budget_alert_threshold_percent: 95, client: null },
  });
  assert.equal(patched.status, 200, patched.text);
  assert.equal(patched.json.client, null);
  const badClient = await w.fetch('/api/admin/projects/crud', { method: 'PATCH', key: ADMIN_KEY, body: { client: '   ' } });
  assert.deepEqual([badClient.status, badClient.json.error.details[0].field], [400, 'client']);
  assert.equal(patched.json.name, 'Renamed');
  assert.equal(patched.json.description, null);
  assert.equal(patched.json.budget_alert_threshold_percent, 95);
  assert.equal(patched.json.budget_threshold_usd, '250.50');

  const row = await w.db.prepare('SELECT * FROM projects WHERE id = ?').bind('crud').first();
  assert.equal(row.budget_threshold_usd, '250.50');
  assert.equal(row.budget_alert_threshold_percent, 95);

  // The project's PATCH takes every budget setting, as its POST does, and answers them (the
  // webhook's signing secret shown there once); its own fields alone answer none.
  const withSettings = await w.fetch('/api/admin/projects/crud', {
    method: 'PATCH',
    key: ADMIN_KEY,
    body: { name: 'Renamed again', alert_levels: [40, 90], daily_limit: '12', webhook_url: 'https://hooks.example.com/crud' },
  });
  assert.equal(withSettings.status, 200, withSettings.text);
  const shown = withSettings.json.budget_settings;
  assert.deepEqual(
    [withSettings.json.name, shown.project_name, shown.alert_levels, shown.daily_limit?.amount ?? shown.daily_limit, shown.webhook_url],
    ['Renamed again', 'Renamed again', [40, 90, 100], '12.00', 'https://hooks.example.com/crud'],
    withSettings.text,
  );
  assert.match(shown.webhook_secret, /^whsec_/);
  const budget = (await w.fetch('/api/admin/projects/crud/budget', { key: ADMIN_KEY })).json;
  assert.deepEqual([budget.alert_levels, budget.webhook_url], [[40, 90, 100], 'https://hooks.example.com/crud']);
  const ownOnly = await w.fetch('/api/admin/projects/crud', { method: 'PATCH', key: ADMIN_KEY, body: { description: 'again' } });
  assert.deepEqual([ownOnly.status, 'budget_settings' in ownOnly.json], [200, false], ownOnly.text);

  const deleted = await w.fetch('/api/admin/projects/crud', { method: 'DELETE', key: ADMIN_KEY });
  assert.equal(deleted.status, 204);
  const gone = await w.fetch('/api/admin/projects/crud', { key: ADMIN_KEY });
  assert.equal(gone.status, 404);
  assert.equal(gone.json.error.code, 'not_found');
});

test('a key is returned once, stored only as its SHA-256, listed without secrets, and revocable', async () => {
  await newProject('keys');
  const created = await newKey('keys');
  assert.match(created.key, /^ast_[0-9a-f]{48}$/);
  assert.equal(created.prefix, created.key.slice(0, 12));

  const row = await w.db.prepare('SELECT * FROM api_keys WHERE id = ?').bind(created.id).first();
  const { createHash } = await import('node:crypto');
  assert.equal(row.key_hash, createHash('sha256').update(created.key).digest('hex'));
  assert.ok(!JSON.stringify(row).includes(created.key));

  const list = await w.fetch('/api/admin/projects/keys/keys', { key: ADMIN_KEY });
  assert.equal(list.status, 200);
  assert.equal(list.json.keys.length, 1);
  assert.equal(list.json.keys[0].prefix, created.prefix);
  assert.ok(!list.text.includes(created.key));
  assert.ok(!list.text.includes(row.key_hash));

  const own = await w.fetch('/api/admin/projects', { key: created.key });
  assert.equal(own.status, 403, 'a project key is valid but not admin');

  const revoked = await w.fetch(`/api/admin/projects/keys/keys/${created.id}`, {
    method: 'DELETE',
    key: ADMIN_KEY,
  });
  assert.equal(revoked.status, 204);
  const after = await w.fetch('/api/admin/projects', { key: created.key });
  assert.equal(after.status, 401, 'a revoked key is unknown');
  const again = await w.fetch(`/api/admin/projects/keys/keys/${created.id}`, {
    method: 'DELETE',
    key: ADMIN_KEY,
  });
  assert.equal(again.status, 404);
});

const GPT4O_PRICE = {
  provider: 'openai', model: 'matrix-model', currency: 'USD', effective_from: '2025-01-01',
  rates: { input_tokens: { price: '1', per: 1000000 } },
};
// A valid body for every documented operation that takes one.
const SAMPLE_BODIES = {
  'post /api/admin/projects': (s) => ({ id: `new-${s}`, name: `n-${s}` }),
  'patch /api/admin/projects/{id}': (s) => ({ name: `n-${s}` }),
  'post /api/admin/projects/{id}/keys': () => ({ name: 'k' }),
  'post /api/prices/quote': () => ({ provider: 'openai', model: 'gpt-4o', input_tokens: 10 }),
  'post /api/admin/prices': () => ({ entries: [GPT4O_PRICE] }),
  'post /api/admin/prices/import': () => ({ 'gpt-matrix': { litellm_provider: 'openai', input_cost_per_token: 1e-6 } }),
  'post /api/usage': (s) => ({ id: `u-${s}`, project_id: 'matrix', provider: 'openai', model: 'gpt-4o', input_tokens: 10 }),
  'post /api/usage/log': (s) => ({ id: `l-${s}`, project_id: 'matrix', provider: 'openai', model: 'gpt-4o', input_tokens: 10 }),
  'post /api/admin/rebuild': () => ({}),
  'post /api/admin/usage/reprice': () => ({ dry_run: true }),
  'patch /api/admin/projects/{id}/budget': () => ({ budget_threshold_usd: '50', alert_levels: 'default' }),
  'put /api/admin/subscriptions': (s) => ({ provider: `plan-${s}`, monthly_fee: '9', allotment: { amount: '100', unit: 'credits' } }),
  'post /v1/traces': () => ({ resourceSpans: [] }),
  'put /api/admin/capacity/profiles': (s) => ({ name: `profile-${s}`, items: [{ provider: 'openai', amount: '0.05', unit: 'money' }] }),
  'post /api/usage/guard': () => ({ project_id: 'matrix', amount: { amount: '0.01', currency: 'USD' } }),
};
// Routes whose target is named in the query: make one first and name it.
const QUERY_SETUP = {
  'get /api/usage/guard': async () => '?project_id=matrix',
  // A reservation of the matrix project under the id the path names; releasing it twice is fine.
  'delete /api/usage/guard/{id}': async (s) => {
    const r = await w.fetch('/api/usage/guard', { method: 'POST', key: ADMIN_KEY, body: { project_id: 'matrix', amount: { amount: '0.01', currency: 'USD' }, reserve: true, id: `m-${s}` } });
    assert.equal(r.status, 200, r.text);
    return '?project_id=matrix';
  },
  'delete /api/admin/subscriptions': async (s) => {
    const r = await w.fetch('/api/admin/subscriptions', { method: 'PUT', key: ADMIN_KEY, body: { provider: `gone-${s}`, monthly_fee: '1' } });
    assert.equal(r.status, 200, r.text);
    return `?provider=gone-${s}`;
  },
  'delete /api/admin/capacity/profiles': async (s) => {
    const r = await w.fetch('/api/admin/capacity/profiles', { method: 'PUT', key: ADMIN_KEY, body: { name: `gone-${s}`, items: [{ provider: 'openai', amount: '1', unit: 'money' }] } });
    assert.equal(r.status, 200, r.text);
    return `?name=gone-${s}`;
  },
};

test('every route answers the auth matrix: none and wrong 401, project key 403 on admin routes, admin 2xx where documented', async () => {
  const doc = (await w.fetch('/api/openapi.json')).json;
  await newProject('matrix');
  const projectKey = (await newKey('matrix')).key;
  let operations = 0;
  for (const [pattern, item] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      if (method === 'parameters') continue;
      operations += 1;
      const security = operation.security ?? [];
      const isPublic = security.length === 0;
      const projectKeyAllowed = security.some((s) => 'projectKey' in s);
      const adminAllowed = security.some((s) => 'adminKey' in s);
      // Fresh resources per case, so that DELETE routes have something to delete.
      const suffix = `${method}-${operations}`;
      await newProject(`m-${suffix}`);
      const victimKey = await newKey(`m-${suffix}`);
      let id = `m-${suffix}`;
      if (pattern.startsWith('/api/admin/prices/{id}')) {
        const price = await w.fetch('/api/admin/prices', {
          method: 'POST', key: ADMIN_KEY,
          body: { entries: [{ ...GPT4O_PRICE, effective_from: `2025-02-${String(operations % 28 + 1).padStart(2, '0')}` }] },
        });
        assert.equal(price.status, 201, price.text);
        id = price.json.prices[0].id;
      }
      const setup = QUERY_SETUP[`${method} ${pattern}`];
      const query = setup ? await setup(suffix) : '';
      const path = pattern.replace('{id}', id).replace('{key_id}', victimKey.id) + query;
      const sample = SAMPLE_BODIES[`${method} ${pattern}`];
      const body = sample ? sample(suffix) : undefined;
      const label = `${method.toUpperCase()} ${pattern}`;
      const call = (key) => w.fetch(path, { method: method.toUpperCase(), key, body });
      if (isPublic) {
        assert.equal((await call()).status, 200, `${label} without a key`);
        continue;
      }
      assert.equal((await call()).status, 401, `${label} without a key`);
      assert.equal((await call('wrong-key')).status, 401, `${label} with a wrong key`);
      assert.equal((await call(`${ADMIN_KEY}x`)).status, 401, `${label} with a near-admin key`);
      const asProject = await call(projectKey);
      if (projectKeyAllowed) {
        assert.ok(asProject.status >= 200 && asProject.status < 300, `${label} with a project key: ${asProject.status} ${asProject.text}`);
      } else {
        assert.equal(asProject.status, 403, `${label} with a project key`);
      }
      const admin = await call(ADMIN_KEY);
      if (adminAllowed) {
        assert.ok(admin.status >= 200 && admin.status < 300, `${label} as admin: ${admin.status} ${admin.text}`);
      } else {
        // A route that records into the key's own project (OTLP) has no project for the admin.
        assert.equal(admin.status, 403, `${label} as admin: ${admin.text}`);
      }
    }
  }
  assert.ok(operations >= 16, `only ${operations} operations documented`);
});

test('bad input gets a 4xx naming the field and leaves the database unchanged', async () => {
  await newProject('stable', { budget_threshold_usd: 10 });
  const before = await w.snapshot();
  const cases = [
    ['POST', '/api/admin/projects', { raw: '{"name":', headers: { 'content-type': 'application/json' } }, 400, null],
    ['POST', '/api/admin/projects', { raw: '{"name":"x"}', headers: { 'content-type': 'text/plain' } }, 415, null],
    ['POST', '/api/admin/projects', { body: { name: 'x', colour: 'red' } }, 400, 'colour'],
    ['POST', '/api/admin/projects', { body: { name: 42 } }, 400, 'name'],
    ['POST', '/api/admin/projects', { body: { name: '' } }, 400, 'name'],
    ['POST', '/api/admin/projects', { body: { name: 'x', id: 'Not Valid' } }, 400, 'id'],
    ['POST', '/api/admin/projects', { body: { name: 'x', budget_threshold_usd: -1 } }, 400, 'budget_threshold_usd'],
    ['POST', '/api/admin/projects', { body: { name: 'x', budget_threshold_usd: 'ten' } }, 400, 'budget_threshold_usd'],
    ['POST', '/api/admin/projects', { body: { name: 'x', budget_alert_threshold_percent: 0 } }, 400, 'budget_alert_threshold_percent'],
    ['POST', '/api/admin/projects', { body: { name: 'x', budget_alert_threshold_percent: 1001 } }, 400, 'budget_alert_threshold_percent'],
    ['POST', '/api/admin/projects', { body: { name: 'x', budget_alert_threshold_percent: 'high' } }, 400, 'budget_alert_threshold_percent'],
    ['POST', '/api/admin/projects', { body: { id: 'stable', name: 'dup' } }, 409, null],
    ['POST', '/api/admin/projects', { raw: JSON.stringify({ name: 'x'.repeat(1024 * 1024 + 10) }), headers: { 'content-type': 'application/json' } }, 413, null],
    ['PATCH', '/api/admin/projects/stable', { body: { name: 'ok', budget_threshold_usd: 0 } }, 400, 'budget_threshold_usd'],
    ['PATCH', '/api/admin/projects/stable', { body: { unknown: 1 } }, 400, 'unknown'],
    ['PATCH', '/api/admin/projects/nope', { body: { name: 'x' } }, 404, null],
    ['POST', '/api/admin/projects/stable/keys', { body: { name: '' } }, 400, 'name'],
    ['POST', '/api/admin/projects/nope/keys', { body: {} }, 404, null],
    ['DELETE', '/api/admin/projects/stable/keys/key_missing', {}, 404, null],
    ['PUT', '/api/admin/projects', { body: {} }, 405, null],
    ['GET', '/api/nothing-here', {}, 404, null],
  ];
  for (const [method, path, options, status, field] of cases) {
    const r = await w.fetch(path, { method, key: ADMIN_KEY, ...options });
    const label = `${method} ${path} ${options.raw?.slice(0, 30) ?? JSON.stringify(options.body)}`;
    assert.equal(r.status, status, `${label}: ${r.text.slice(0, 300)}`);
    assert.equal(typeof r.json?.error?.code, 'string', `${label}: error shape`);
    assert.equal(typeof r.json.error.message, 'string');
    assert.ok(Array.isArray(r.json.error.details));
    if (field) {
      const named = r.json.error.details.some((d) => d.field === field) || r.json.error.message.includes(field);
      assert.ok(named, `${label}: the error should name ${field}: ${r.text}`);
    }
  }
  assert.deepEqual(await w.snapshot(), before);
});

test('a method the path does not have is a 405 whose Allow header lists the ones it has', async () => {
  const cases = [
    // HEAD is listed wherever GET is: it answers as GET does.
    ['PUT', '/api/admin/projects', 'GET, HEAD, POST'],
    ['DELETE', '/api/admin/capacity', 'GET, HEAD'],
    // Methods the platform has no name for are not read as GET.
    ['QUERY', '/api/admin/capacity', 'GET, HEAD'],
    ['PURGE', '/api/admin/projects', 'GET, HEAD, POST'],
    ['POST', '/api/admin/projects/ads/budget', 'GET, HEAD, PATCH'],
  ];
  for (const [method, path, allow] of cases) {
    const r = await w.fetch(path, { method, key: ADMIN_KEY });
    assert.equal(r.status, 405, `${method} ${path}: ${r.text}`);
    assert.equal(r.json.error.code, 'method_not_allowed');
    assert.equal(r.headers.get('allow'), allow, `${method} ${path}`);
  }
});

test('HEAD answers as GET does, with its status and headers and no body, and only where GET is a route', async () => {
  const get = await w.fetch('/api/admin/projects', { key: ADMIN_KEY });
  const head = await w.fetch('/api/admin/projects', { method: 'HEAD', key: ADMIN_KEY });
  assert.deepEqual([head.status, head.text], [200, '']);
  assert.equal(head.headers.get('content-type'), get.headers.get('content-type'));
  assert.equal((await w.fetch('/api/admin/projects', { method: 'HEAD' })).status, 401);
  const quote = await w.fetch('/api/prices/quote', { method: 'HEAD', key: ADMIN_KEY });
  assert.deepEqual([quote.status, quote.headers.get('allow')], [405, 'POST']);
});

test('an unknown field is named in the message', async () => {
  const r = await w.fetch('/api/admin/projects', { method: 'POST', key: ADMIN_KEY, body: { name: 'x', colour: 'red' } });
  assert.equal(r.status, 400);
  assert.match(r.json.error.message, /colour/);
});

test('CORS answers preflights only for listed origins and tags responses', async () => {
  const allowed = await w.fetch('/api/admin/projects', {
    method: 'OPTIONS',
    headers: { origin: 'https://app.example.pages.dev', 'access-control-request-method': 'POST' },
  });
  assert.equal(allowed.status, 204);
  assert.equal(allowed.headers.get('access-control-allow-origin'), 'https://app.example.pages.dev');
  assert.match(allowed.headers.get('access-control-allow-headers'), /Authorization/);

  const denied = await w.fetch('/api/admin/projects', {
    method: 'OPTIONS',
    headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
  });
  assert.equal(denied.status, 403);
  assert.equal(denied.headers.get('access-control-allow-origin'), null);

  const simple = await w.fetch('/healthz', { headers: { origin: 'https://app.example.pages.dev' } });
  assert.equal(simple.headers.get('access-control-allow-origin'), 'https://app.example.pages.dev');
  const other = await w.fetch('/healthz', { headers: { origin: 'https://evil.example' } });
  assert.equal(other.headers.get('access-control-allow-origin'), null);
});

test('nothing is allowed cross-origin by default', async () => {
  const plain = await startWorker();
  try {
    const r = await plain.fetch('/healthz', {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example.pages.dev', 'access-control-request-method': 'GET' },
    });
    assert.equal(r.status, 403);
    assert.equal(r.headers.get('access-control-allow-origin'), null);
  } finally {
    await plain.dispose();
  }
});

test('without an ADMIN_API_KEY secret no key is admin', async () => {
  const bare = await startWorker({ bindings: { ADMIN_API_KEY: '' } });
  try {
    const r = await bare.fetch('/api/admin/projects', { key: '' });
    assert.equal(r.status, 401);
    const r2 = await bare.fetch('/api/admin/projects', { key: 'anything' });
    assert.equal(r2.status, 401);
  } finally {
    await bare.dispose();
  }
});

test('the dashboard is served at /, /api-usage and /admin/usage', async () => {
  for (const path of ['/', '/api-usage', '/admin/usage']) {
    const r = await w.fetch(path);
    assert.equal(r.status, 200, path);
    assert.match(r.text, /<html/i, path);
  }
});

test('the OpenAPI document is 3.1 and names the bearer schemes', async () => {
  const r = await w.fetch('/api/openapi.json');
  assert.equal(r.status, 200);
  assert.equal(r.json.openapi, '3.1.0');
  assert.equal(r.json.components.securitySchemes.adminKey.scheme, 'bearer');
});
