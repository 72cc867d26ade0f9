// The spend guard in the client libraries (issue 25, point 5): the built TypeScript client's
// guard(), reserve(), release(), guarded() and settlement through record(), against a fake
// tracker on a loopback port (node:http) that speaks the guard contract; then the Python
// client's guard unit tests (clients/python/tests/test_guard.py, with their own fake tracker).
// Neither needs the worker: the worker's side of the contract is tested with the worker.
import { test as nodeTest, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const test = (name, fn) => nodeTest(name, { timeout: 30_000 }, fn);

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const client = await import(pathToFileURL(join(ROOT, 'clients', 'typescript', 'dist', 'index.js')).href);
const { UsageClient, UsageApiError, BudgetExceededError, TrackerUnavailableError, fromOpenAIChat } = client;

const BUDGET = { kind: 'budget', mode: 'block', currency: 'USD', limit: '100.00', spent: '99.90', reserved: '0', estimate: '0.50', remaining: '-0.40' };
const DAILY = { kind: 'daily_limit', mode: 'alert', currency: 'USD', limit: '10.00', spent: '9.80', reserved: '0', estimate: '0.50', remaining: '-0.30' };

/** A tracker that answers the guard contract: `decision` decides every guard; `fail` answers the
 * next n requests 503 (retryable); `requests` holds every request, parsed. Reservations are kept
 * by idempotency id, so the same id answers the same reservation. */
async function fakeTracker() {
  const t = { decision: 'allow', fail: 0, requests: [], reservations: new Map(), byKey: new Map(), events: [], guardState: { state: 'ok', limiting: null } };
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      const url = new URL(req.url, 'http://x');
      const body = raw ? JSON.parse(raw) : undefined;
      t.requests.push({ method: req.method, path: url.pathname, query: url.search, auth: req.headers.authorization, body });
      const answer = (status, json, headers = {}) => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(JSON.stringify(json));
      };
      if (t.fail > 0) {
        t.fail -= 1;
        return answer(503, { error: { code: 'storage_unavailable', message: 'try again', details: [], retryable: true } }, { 'retry-after': '0' });
      }
      if (req.method === 'POST' && url.pathname === '/api/usage/guard') {
        const given = ['estimate', 'profile', 'amount'].filter((k) => body[k] !== undefined);
        if (given.length !== 1) return answer(400, { error: { code: 'validation_failed', message: 'one of', details: [{ field: 'estimate', message: 'one of' }] } });
        const limiting = t.decision === 'deny' ? BUDGET : t.decision === 'warn' ? DAILY : null;
        let reservation = null;
        if (body.reserve && t.decision !== 'deny') {
          reservation = t.byKey.get(body.id);
          if (!reservation) {
            reservation = { id: `res_${t.reservations.size + 1}`, expires_at: '2026-12-05T12:05:00.000Z' };
            t.byKey.set(body.id, reservation);
            t.reservations.set(reservation.id, 'held');
          }
        }
        return answer(200, { decision: t.decision, limiting, limits: [BUDGET, DAILY], estimate: { cost: '0.50', currency: 'USD' }, reservation });
      }
      const release = url.pathname.match(/^\/api\/usage\/guard\/([^/]+)$/);
      if (req.method === 'DELETE' && release) {
        const id = decodeURIComponent(release[1]);
        if (t.reservations.get(id) !== 'held') return answer(404, { error: { code: 'not_found', message: 'no such reservation', details: [] } });
        t.reservations.set(id, 'released');
        return answer(200, { id, released: true });
      }
      if (req.method === 'POST' && url.pathname === '/api/usage') {
        for (const e of body.events) {
          t.events.push(e);
          if (e.reservation_id && t.reservations.get(e.reservation_id) === 'held') t.reservations.set(e.reservation_id, 'settled');
        }
        const events = body.events.map((e, index) => ({ index, id: e.id, project_id: 'p', status: 'stored', duplicate: false, cost: null, currency: null, timestamp: e.timestamp }));
        return answer(200, { success: true, accepted: events.length, stored: events.length, duplicates: 0, unpriced: events.length, stored_cost: [], raw_object: 'r', events, guard: t.guardState });
      }
      return answer(404, { error: { code: 'not_found', message: 'no route', details: [] } });
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.url = `http://127.0.0.1:${server.address().port}`;
  t.close = () => new Promise((resolve) => server.close(resolve));
  t.guards = () => t.requests.filter((r) => r.path === '/api/usage/guard');
  return t;
}

const servers = [];
after(() => Promise.all(servers.map((s) => s.close())));

async function setup(options = {}) {
  const t = await fakeTracker();
  servers.push(t);
  const warnings = [];
  const errors = [];
  const usage = new UsageClient({
    baseUrl: t.url,
    apiKey: 'ast_test',
    flushIntervalMs: 0,
    retryBaseMs: 1,
    retryMaxMs: 5,
    maxRetries: 2,
    onGuardWarning: (w) => warnings.push(w),
    onError: (e) => errors.push(e),
    ...options,
  });
  return { t, usage, warnings, errors };
}

const ESTIMATE = { provider: 'openai', model: 'gpt-4o', input_tokens: 1000, output_tokens: 500 };

/** A fake provider: counts its calls, answers a chat completion (or fails when told). */
function fakeProvider() {
  const p = {
    calls: [],
    create: async (params) => {
      p.calls.push(params);
      if (params.model === 'boom') throw new Error('provider error');
      return { model: 'gpt-4o-2024-08-06', usage: { prompt_tokens: 900, completion_tokens: 120 } };
    },
  };
  return p;
}

const estimateFrom = (params) => ({ provider: 'openai', model: params.model, input_tokens: 1000, output_tokens: params.max_tokens });

test('guard() posts the estimate with the key and answers allow, warn and deny as the tracker decides, a deny without rejecting', async () => {
  const { t, usage, warnings } = await setup();
  const seen = [];
  for (const decision of ['allow', 'warn', 'deny']) {
    t.decision = decision;
    const a = await usage.guard({ estimate: { ...ESTIMATE, metadata: undefined } });
    seen.push([a.decision, a.limiting?.kind ?? null, a.limits.length, a.estimate.cost, a.reservation]);
  }
  assert.deepEqual(seen, [
    ['allow', null, 2, '0.50', null],
    ['warn', 'daily_limit', 2, '0.50', null],
    ['deny', 'budget', 2, '0.50', null],
  ]);
  const [first] = t.guards();
  assert.equal(first.method, 'POST');
  assert.equal(first.auth, 'Bearer ast_test');
  assert.deepEqual(first.body, { estimate: ESTIMATE }, 'no reserve flag, no id, no empty fields');
  assert.equal(warnings.length, 0, 'guard() hands back the decision; it does not also warn');
});

test('guard() sends a profile with its units, or an amount as decimal text, and the project id of an admin client', async () => {
  const { t, usage } = await setup({ projectId: 'video-ads' });
  await usage.guard({ profile: 'clip', units: 2 });
  await usage.guard({ amount: { amount: '0.50', currency: 'USD' } });
  assert.deepEqual(t.guards().map((r) => r.body), [
    { profile: 'clip', units: 2, project_id: 'video-ads' },
    { amount: { amount: '0.50', currency: 'USD' }, project_id: 'video-ads' },
  ]);
});

test('guard() refuses a request with none or two of estimate, profile and amount before sending anything', async () => {
  const { t, usage } = await setup();
  await assert.rejects(usage.guard({}), TypeError);
  await assert.rejects(usage.guard({ estimate: ESTIMATE, amount: { amount: '1', currency: 'USD' } }), /exactly one of/);
  assert.equal(t.requests.length, 0);
});

test('a 400 from the guard rejects with the UsageApiError naming the field, even when failing open', async () => {
  let calls = 0;
  const refuse = async () => {
    calls += 1;
    const body = { error: { code: 'validation_failed', message: 'bad units', details: [{ field: 'units', message: 'must be positive' }] } };
    return { status: 400, headers: { get: () => null }, text: async () => JSON.stringify(body) };
  };
  const usage = new UsageClient({ baseUrl: 'http://tracker.invalid', apiKey: 'ast_test', fetch: refuse, onGuardWarning: () => assert.fail('no warning') });
  await assert.rejects(
    usage.guard({ profile: 'clip', units: -1 }),
    (e) => e instanceof UsageApiError && !(e instanceof TrackerUnavailableError) && e.status === 400 && e.details[0].field === 'units',
  );
  assert.equal(calls, 1, 'a 400 is not retried');
});

test('reserve() sends reserve, ttl_seconds and a generated id, and answers the reservation with the whole answer', async () => {
  const { t, usage } = await setup();
  const r = await usage.reserve({ estimate: ESTIMATE, ttlSeconds: 120 });
  assert.deepEqual([r.id, r.expires_at, r.answer.decision], ['res_1', '2026-12-05T12:05:00.000Z', 'allow']);
  const [sent] = t.guards();
  assert.equal(sent.body.reserve, true);
  assert.equal(sent.body.ttl_seconds, 120);
  assert.match(sent.body.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  const own = await usage.reserve({ amount: { amount: '2.00', currency: 'USD' }, id: 'clip-7-render' });
  assert.equal(t.guards()[1].body.id, 'clip-7-render');
  assert.equal(own.id, 'res_2');
});

test('a reserve retried after a 503 resends the same idempotency id and gets a single reservation', async () => {
  const { t, usage, errors } = await setup();
  t.fail = 1;
  const r = await usage.reserve({ estimate: ESTIMATE });
  const bodies = t.guards().map((g) => g.body);
  assert.equal(bodies.length, 2, 'one failed attempt and its retry');
  assert.equal(bodies[0].id, bodies[1].id);
  assert.deepEqual(bodies[0], bodies[1]);
  assert.equal(r.id, 'res_1');
  assert.equal(t.reservations.size, 1);
  assert.equal(errors.length, 1, 'the failed attempt went to onError');
  assert.equal(errors[0].status, 503);
});

test('reserve() rejects with BudgetExceededError naming the deciding limit and its numbers on a deny', async () => {
  const { t, usage } = await setup();
  t.decision = 'deny';
  const e = await usage.reserve({ estimate: ESTIMATE }).then(() => null, (err) => err);
  assert.ok(e instanceof BudgetExceededError);
  assert.ok(!(e instanceof UsageApiError));
  assert.equal(e.decision, 'deny');
  assert.deepEqual(e.limiting, BUDGET);
  assert.deepEqual(e.limits, [BUDGET, DAILY]);
  assert.match(e.message, /budget 100\.00 USD: spent 99\.90, reserved 0, would remain -0\.40/);
  assert.equal(t.reservations.size, 0);
});

test('a warn is granted and reported through onGuardWarning, not thrown', async () => {
  const { t, usage, warnings } = await setup();
  t.decision = 'warn';
  const r = await usage.reserve({ estimate: ESTIMATE });
  assert.equal(r.id, 'res_1');
  assert.equal(warnings.length, 1);
  assert.equal(warnings[0].kind, 'warn');
  assert.equal(warnings[0].answer.limiting.kind, 'daily_limit');
  assert.match(warnings[0].message, /daily_limit 10\.00 USD/);
});

test('a guarded call is not made when the guard denies, and the caller gets BudgetExceededError', async () => {
  const { t, usage } = await setup();
  t.decision = 'deny';
  const provider = fakeProvider();
  const create = usage.guarded(provider.create, { estimate: estimateFrom, record: (res) => fromOpenAIChat(res) });
  await assert.rejects(create({ model: 'gpt-4o', max_tokens: 500 }), (e) => e instanceof BudgetExceededError && e.limiting.kind === 'budget');
  assert.equal(provider.calls.length, 0, 'the provider was never called');
  assert.equal(usage.pending, 0, 'nothing was recorded');
});

test('a guarded call reserves from its arguments, records its actual usage with the reservation id, and the flush settles it', async () => {
  const { t, usage } = await setup();
  const provider = fakeProvider();
  const create = usage.guarded(provider.create, { estimate: estimateFrom, ttlSeconds: 60, record: (res) => fromOpenAIChat(res, { job_id: 'clip-1' }) });
  const res = await create({ model: 'gpt-4o', max_tokens: 500 });
  assert.equal(res.usage.prompt_tokens, 900, 'the provider answer is returned untouched');
  assert.deepEqual(provider.calls, [{ model: 'gpt-4o', max_tokens: 500 }]);
  const [guard] = t.guards();
  assert.deepEqual([guard.body.estimate, guard.body.reserve, guard.body.ttl_seconds], [{ provider: 'openai', model: 'gpt-4o', input_tokens: 1000, output_tokens: 500 }, true, 60]);
  await usage.flush();
  assert.equal(t.events.length, 1);
  const [event] = t.events;
  assert.deepEqual([event.reservation_id, event.input_tokens, event.output_tokens, event.job_id], ['res_1', 900, 120, 'clip-1']);
  assert.equal(t.reservations.get('res_1'), 'settled');
});

test('record() sends reservationId as the event\'s reservation_id, and the ingest answer\'s guard state is kept', async () => {
  const { t, usage } = await setup();
  assert.equal(usage.guardState, null);
  const r = await usage.reserve({ profile: 'clip', units: 1 });
  t.guardState = { state: 'warn', limiting: 'plan' };
  usage.record({ provider: 'heygen', model: 'avatar-iv', video_seconds: '30' }, { reservationId: r.id });
  usage.record({ provider: 'heygen', model: 'avatar-iv', video_seconds: '5' }, { reservationId: null });
  await usage.flush();
  assert.deepEqual(t.events.map((e) => e.reservation_id ?? null), ['res_1', null]);
  assert.equal(t.reservations.get('res_1'), 'settled');
  assert.deepEqual(usage.guardState, { state: 'warn', limiting: 'plan' });
});

test('a guarded call that fails releases its reservation and rethrows the provider error', async () => {
  const { t, usage } = await setup();
  const provider = fakeProvider();
  const create = usage.guarded(provider.create, { amount: { amount: '0.10', currency: 'USD' }, record: (res) => fromOpenAIChat(res) });
  await assert.rejects(create({ model: 'boom' }), /provider error/);
  for (let i = 0; i < 50 && t.reservations.get('res_1') !== 'released'; i += 1) await new Promise((r) => setTimeout(r, 10));
  assert.equal(t.reservations.get('res_1'), 'released');
  assert.equal(usage.pending, 0);
});

test('release() deletes the reservation, then answers false for it, and sends the admin client\'s project id', async () => {
  const { t, usage } = await setup({ projectId: 'video-ads' });
  const r = await usage.reserve({ estimate: ESTIMATE });
  assert.equal(await usage.release(r.id), true);
  assert.equal(t.reservations.get(r.id), 'released');
  assert.equal(await usage.release(r.id), false, 'unknown now: 404');
  const deletes = t.requests.filter((q) => q.method === 'DELETE');
  assert.deepEqual(deletes.map((d) => [d.path, d.query]), [
    ['/api/usage/guard/res_1', '?project_id=video-ads'],
    ['/api/usage/guard/res_1', '?project_id=video-ads'],
  ]);
});

async function deadUrl() {
  const s = createServer();
  await new Promise((resolve) => s.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${s.address().port}`;
  await new Promise((resolve) => s.close(resolve));
  return url;
}

test('with the tracker down the client fails open by default: the guarded call goes ahead with a warning, unreserved', async () => {
  const warnings = [];
  const usage = new UsageClient({ baseUrl: await deadUrl(), apiKey: 'ast_test', flushIntervalMs: 0, retryBaseMs: 1, retryMaxMs: 5, maxRetries: 1, onGuardWarning: (w) => warnings.push(w) });
  const provider = fakeProvider();
  const create = usage.guarded(provider.create, { estimate: estimateFrom, record: (res) => fromOpenAIChat(res) });
  const res = await create({ model: 'gpt-4o', max_tokens: 10 });
  assert.equal(res.model, 'gpt-4o-2024-08-06');
  assert.equal(provider.calls.length, 1);
  assert.equal(warnings.length, 1);
  assert.equal(warnings[0].kind, 'unavailable');
  assert.equal(warnings[0].error.code, 'network_error');
  assert.equal(usage.pending, 1, 'the usage is still recorded, without a reservation id');
  const answer = await usage.guard({ estimate: ESTIMATE });
  assert.deepEqual([answer.decision, answer.reservation, answer.unavailable.code], ['allow', null, 'network_error']);
  assert.equal(await usage.reserve({ estimate: ESTIMATE }), null);
});

test('failing closed, a tracker answering 503 after the retries rejects with TrackerUnavailableError, not BudgetExceededError, and the call is not made', async () => {
  const { t, usage, warnings } = await setup({ failOpen: false });
  t.fail = 100;
  const provider = fakeProvider();
  const create = usage.guarded(provider.create, { estimate: estimateFrom });
  const e = await create({ model: 'gpt-4o', max_tokens: 10 }).then(() => null, (err) => err);
  assert.ok(e instanceof TrackerUnavailableError);
  assert.ok(!(e instanceof BudgetExceededError));
  assert.deepEqual([e.status, e.cause.code], [503, 'storage_unavailable']);
  assert.equal(t.guards().length, 3, 'the first attempt and maxRetries (2) retries');
  assert.equal(provider.calls.length, 0);
  assert.equal(warnings.length, 0);
  const down = new UsageClient({ baseUrl: await deadUrl(), apiKey: 'ast_test', failOpen: false, retryBaseMs: 1, maxRetries: 0 });
  await assert.rejects(down.guard({ estimate: ESTIMATE }), (err) => err instanceof TrackerUnavailableError && err.code === 'network_error');
});

test('the Python client guard unit tests pass against their fake tracker', async () => {
  const child = spawn('python3', ['-m', 'unittest', 'discover', '-s', 'clients/python/tests', '-p', 'test_guard*.py', '-v'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c) => (out += c));
  child.stderr.on('data', (c) => (out += c));
  const code = await new Promise((resolve) => child.on('close', resolve));
  assert.equal(code, 0, out);
  assert.match(out, /Ran \d+ tests/);
  assert.doesNotMatch(out, /Ran 0 tests/);
});
