// The spend guard against the built worker in Miniflare: decisions with their numbers,
// reservations granted exactly up to a blocking limit under concurrency, settlement by the
// event that names the reservation, expiry and release, the guard state of the ingest answer,
// and alerts sent from the request that crosses a level (after its answer), once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWorker, ADMIN_KEY } from './support/worker.mjs';

let w;
before(async () => {
  w = await startWorker();
});
after(async () => w?.dispose());

const admin = (path, init = {}) => w.fetch(path, { key: ADMIN_KEY, ...init });

async function project(id, settings = {}) {
  const created = await admin('/api/admin/projects', { method: 'POST', body: { id, name: id, ...settings } });
  assert.equal(created.status, 201, created.text);
  const key = await admin(`/api/admin/projects/${id}/keys`, { method: 'POST' });
  assert.equal(key.status, 201, key.text);
  return key.json.key;
}

const guard = (key, body) => w.fetch('/api/usage/guard', { method: 'POST', key, body });
const record = (key, body) => w.fetch('/api/usage', { method: 'POST', key, body });
const limitOf = (answer, kind) => answer.limits.find((l) => l.kind === kind);

async function until(what, check, timeoutMs = 5000) {
  const start = Date.now();
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() - start > timeoutMs) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('a blocking budget denies what would cross it, naming the limit and its numbers, and the ingest answer says blocked once it is reached', async () => {
  const key = await project('g-block', { budget: { amount: '10', currency: 'USD' }, budget_mode: 'block' });
  const first = await record(key, { provider: 'acme', cost: '9.50', currency: 'USD' });
  assert.equal(first.status, 201, first.text);
  assert.equal(first.json.guard.state, 'warn', 'past the 80% level');
  const deny = await guard(key, { amount: { amount: '0.60', currency: 'USD' } });
  assert.equal(deny.status, 200, deny.text);
  assert.equal(deny.json.decision, 'deny');
  assert.deepEqual(deny.json.limiting, {
    kind: 'budget', mode: 'block', currency: 'USD', limit: '10.00', spent: '9.50', reserved: '0.00', estimate: '0.60', remaining: '-0.10',
  });
  assert.equal(deny.json.reservation, null);
  const allow = await guard(key, { amount: { amount: '0.40', currency: 'USD' }, reserve: true });
  assert.equal(allow.json.decision, 'warn');
  assert.match(allow.json.reservation.id, /^res_/);
  const settled = await record(key, { provider: 'acme', cost: '0.50', currency: 'USD', reservation_id: allow.json.reservation.id });
  assert.equal(settled.json.guard.state, 'blocked');
  assert.equal(settled.json.guard.limiting, 'budget');
  const after = await guard(key, { amount: { amount: '0.01', currency: 'USD' } });
  assert.deepEqual([after.json.decision, limitOf(after.json, 'budget').spent, limitOf(after.json, 'budget').reserved], ['deny', '10.00', '0.00']);
  const status = await w.fetch('/api/usage/guard', { key });
  assert.equal(status.status, 200, status.text);
  assert.deepEqual([status.json.modes.budget_mode, status.json.modes.daily_limit_mode, status.json.reservations], ['block', 'alert', []]);
  assert.deepEqual([status.json.denials.today, status.json.denials.month], [2, 2], 'two denials so far');
  assert.equal(status.json.denials.last_reason, 'budget: 0.01 USD would pass the limit of 10.00 USD (10.00 spent, 0.00 reserved)');
  const rows = await w.db.prepare("SELECT ended_by FROM guard_reservations WHERE project_id = 'g-block'").all();
  assert.deepEqual(rows.results.map((r) => r.ended_by), ['settled'], 'the event settled the reservation in its own transaction');
});

test('sixteen concurrent apps reserving the last units of a blocking plan are granted exactly that many, and a settled one counts its actual use', async () => {
  const key = await project('g-plan');
  const plan = await admin('/api/admin/subscriptions', {
    method: 'PUT',
    body: { provider: 'heygen', project_id: 'g-plan', monthly_fee: '29', allotment: { amount: '10', unit: 'credits' }, reserve: '2', mode: 'block' },
  });
  assert.equal(plan.status, 200, plan.text);
  assert.equal(plan.json.mode, 'block');
  const listed = (await admin('/api/admin/subscriptions')).json.subscriptions.find((p) => p.provider === 'heygen' && p.project_id === 'g-plan');
  assert.equal(listed.mode, 'block');
  const profile = await admin('/api/admin/capacity/profiles', {
    method: 'PUT', body: { name: 'clip', project_id: 'g-plan', items: [{ provider: 'heygen', amount: '1', unit: 'credits' }] },
  });
  assert.ok(profile.status < 300, profile.text);
  assert.equal((await record(key, { provider: 'heygen', credits: '3' })).status, 201);
  // 10 credits, 2 in reserve, 3 used: room for exactly 5 clips.
  const answers = await Promise.all(Array.from({ length: 16 }, (_, i) => guard(key, { profile: 'clip', units: 1, reserve: true, id: `app-${i}` })));
  for (const a of answers) assert.equal(a.status, 200, a.text);
  const granted = answers.filter((a) => a.json.reservation);
  assert.equal(granted.length, 5, answers.map((a) => a.json.decision).join(','));
  assert.ok(answers.filter((a) => !a.json.reservation).every((a) => a.json.decision === 'deny'));
  const held = await w.db.prepare("SELECT SUM(amount) AS held FROM guard_holds WHERE project_id = 'g-plan'").first();
  assert.equal(held.held, 5_000_000, 'five credits held, in micro-units');
  // One clip used half a credit: settling it frees its hold and counts the half.
  const id = granted[0].json.reservation.id;
  assert.equal((await record(key, { provider: 'heygen', credits: '0.5', reservation_id: id })).status, 201);
  const now = await guard(key, { profile: 'clip', units: 1 });
  const credits = limitOf(now.json, 'plan');
  assert.deepEqual([credits.spent, credits.reserved, credits.reserve, credits.mode], ['3.5', '4', '2', 'block']);
  assert.equal(now.json.decision, 'deny', 'half a credit left above the reserve, and a clip needs one');
  // The settled reservation's id is spent: asked again it is refused, not granted from its
  // stored answer.
  const replay = await guard(key, { profile: 'clip', units: 1, reserve: true, id });
  assert.deepEqual([replay.status, replay.json.error.details?.[0]?.field], [409, 'id'], replay.text);
});

test('sixteen concurrent reservations of the last dollars of a blocking budget never together pass it; an expired or released one frees its room', async () => {
  const key = await project('g-dollars', { budget: { amount: '1', currency: 'USD' }, budget_mode: 'block' });
  assert.equal((await record(key, { provider: 'acme', cost: '0.55', currency: 'USD' })).status, 201);
  const answers = await Promise.all(Array.from({ length: 16 }, () => guard(key, { amount: { amount: '0.10', currency: 'USD' }, reserve: true, ttl_seconds: 1 })));
  for (const a of answers) assert.equal(a.status, 200, a.text);
  assert.equal(answers.filter((a) => a.json.reservation).length, 4, 'four dimes fit in 0.45');
  const after = await guard(key, { amount: { amount: '0.10', currency: 'USD' } });
  assert.equal(after.json.decision, 'deny');
  await new Promise((r) => setTimeout(r, 1100));
  const expired = await guard(key, { amount: { amount: '0.40', currency: 'USD' }, reserve: true, id: 'big' });
  assert.notEqual(expired.json.decision, 'deny', 'the expired holds count for nothing');
  assert.equal((await guard(key, { amount: { amount: '0.10', currency: 'USD' } })).json.decision, 'deny');
  // The same id again, while it holds, answers the same reservation, not a second one.
  const again = await guard(key, { amount: { amount: '0.40', currency: 'USD' }, reserve: true, id: 'big' });
  assert.deepEqual(again.json, expired.json);
  const inFlight = (await w.fetch('/api/usage/guard', { key })).json.reservations;
  assert.deepEqual(inFlight.map((r) => [r.id, r.holds]), [['big', [{ limit: 'budget@g-dollars', amount: '0.40' }]]]);
  const released = await w.fetch('/api/usage/guard/big', { method: 'DELETE', key });
  assert.deepEqual([released.status, released.json], [200, { id: 'big', released: true }]);
  assert.notEqual((await guard(key, { amount: { amount: '0.10', currency: 'USD' } })).json.decision, 'deny');
  assert.equal((await w.fetch('/api/usage/guard/nope', { method: 'DELETE', key })).status, 404);
  // Released, it holds nothing: its id is refused, never answered as granted again, whatever
  // the amount asked (a bypass of the budget otherwise), and a new id is asked as any other.
  const reused = await guard(key, { amount: { amount: '100', currency: 'USD' }, reserve: true, id: 'big' });
  assert.deepEqual([reused.status, reused.json.error.details?.[0]?.field], [409, 'id'], reused.text);
  assert.equal((await guard(key, { amount: { amount: '100', currency: 'USD' }, reserve: true, id: 'big-2' })).json.decision, 'deny');
});

test('twelve concurrent reservations of a blocking budget are each answered with the holds granted before it: their reserved amounts step by a dime, and those reaching 80% warn', async () => {
  const key = await project('g-stepping', { budget: { amount: '1', currency: 'USD' }, budget_mode: 'block' });
  const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => guard(key, { amount: { amount: '0.10', currency: 'USD' }, reserve: true, ttl_seconds: 600, id: `dime-${i}` })));
  for (const a of answers) assert.equal(a.status, 200, a.text);
  const granted = answers.filter((a) => a.json.reservation).map((a) => a.json);
  assert.equal(granted.length, 10, 'ten dimes fit in a dollar');
  const steps = granted.map((a) => [limitOf(a, 'budget').reserved, limitOf(a, 'budget').remaining, a.decision])
    .sort((x, y) => Number(x[0]) - Number(y[0]));
  // The nth grant saw n - 1 dimes held: 0.00 to 0.90 held, each once; 0.80 of the dollar is
  // the alert percent, reached from the eighth dime on.
  assert.deepEqual(steps, Array.from({ length: 10 }, (_, n) => {
    const held = (n / 10).toFixed(2);
    return [held, ((90 - n * 10) / 100).toFixed(2), n >= 7 ? 'warn' : 'allow'];
  }));
  // A retry of each id is answered as it was.
  for (const a of granted) {
    const again = await guard(key, { amount: { amount: '0.10', currency: 'USD' }, reserve: true, ttl_seconds: 600, id: a.reservation.id });
    assert.deepEqual(again.json, a);
  }
});

test('reservations whose holds together pass 2^63 nano-units (a rupiah budget) are held and summed exactly, and one past a hold\'s size is refused naming its field', async () => {
  // 50 billion IDR, blocking: three holds of 9.2 billion rupiah each pass 2^63 nanos together.
  const key = await project('g-idr', { budget: { amount: '50000000000', currency: 'IDR' }, budget_mode: 'block' });
  const ask = (amount, reserve = true) => guard(key, { amount: { amount, currency: 'IDR' }, reserve });
  for (const i of [1, 2, 3]) {
    const r = await ask('9200000000.5');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.decision, 'allow', r.text);
  }
  const after = await ask('1', false);
  assert.equal(after.status, 200, after.text);
  assert.equal(limitOf(after.json, 'budget').reserved, '27600000001.50', after.text);
  for (const amount of ['9200000000', '9200000000']) {
    const r = await ask(amount);
    assert.match(r.json.decision, /^(allow|warn)$/, r.text);
  }
  // 46,000,000,001.50 held: exactly 3,999,999,998.50 is left, and the grant's own check in D1
  // (the sums by parts against the ceiling's) agrees to the nano.
  assert.equal((await ask('3999999998.51', false)).json.decision, 'deny');
  const last = await ask('3999999998.50');
  assert.deepEqual([last.json.decision, typeof last.json.reservation?.id], ['warn', 'string'], last.text);
  assert.equal(limitOf((await ask('0.01', false)).json, 'budget').reserved, '50000000000.00');
  const over = await ask('0.01');
  assert.deepEqual([over.json.decision, over.json.reservation], ['deny', null], over.text);
  // Where it would be granted (an alerting budget), an estimate past what one hold stores is
  // refused, not held as less than it is, and the project's guard goes on answering.
  const alerting = await project('g-huge', { budget: { amount: '10', currency: 'USD' } });
  const huge = await guard(alerting, { amount: { amount: '100000000000000000000000000000', currency: 'USD' }, reserve: true });
  assert.deepEqual([huge.status, huge.json.error?.details?.[0]?.field], [400, 'amount'], huge.text);
  const still = await guard(alerting, { amount: { amount: '0.01', currency: 'USD' }, reserve: true });
  assert.deepEqual([still.status, limitOf(still.json, 'budget').reserved], [200, '0.00'], still.text);
});

test('a project key guards only its own project, the admin names one, and bad input names its field', async () => {
  const key = await project('g-scope');
  await project('g-other');
  for (const r of [
    await guard(key, { project_id: 'g-other', amount: { amount: '1', currency: 'USD' } }),
    await w.fetch('/api/usage/guard/x?project_id=g-other', { method: 'DELETE', key }),
  ]) assert.deepEqual([r.status, r.json.error.details[0]?.field], [403, 'project_id'], r.text);
  const asAdmin = await guard(ADMIN_KEY, { project_id: 'g-scope', amount: { amount: '1', currency: 'USD' } });
  assert.deepEqual([asAdmin.status, asAdmin.json.decision], [200, 'allow']);
  assert.equal((await guard(ADMIN_KEY, { project_id: 'no-such', amount: { amount: '1', currency: 'USD' } })).status, 404);
  const bad = await guard(key, { estimate: { provider: 'openai', model: 'gpt-4o', input_tokens: -1 } });
  assert.equal(bad.status, 400);
  assert.deepEqual(bad.json.error.details.map((d) => d.field), ['estimate.input_tokens']);
  const none = await guard(key, {});
  assert.deepEqual([none.status, none.json.error.details.map((d) => d.field)], [400, ['estimate']]);
});

test('a request that crosses 80% sends the alert before any cron, once, with sixteen concurrent crossing requests and a manual check at the same moment', async () => {
  const key = await project('g-alert', { budget: { amount: '10', currency: 'USD' }, alert_emails: ['ops@example.com'] });
  // A first request takes the watch (and runs the whole check once, sending nothing).
  assert.equal((await record(key, { provider: 'acme', cost: '0.10', currency: 'USD' })).status, 201);
  const crossing = Array.from({ length: 16 }, () => record(key, { provider: 'acme', cost: '0.50', currency: 'USD' }));
  const manual = admin('/api/admin/usage/check-budgets?project_id=g-alert', { method: 'POST' });
  const results = await Promise.all([...crossing, manual]);
  for (const r of results) assert.ok(r.status < 300, r.text);
  const sent = await until('the 80% alert in the log', async () => {
    const log = (await admin('/api/admin/alerts?project_id=g-alert')).json.alerts;
    return log.some((a) => a.level === 'budget-80') && log;
  });
  // Give every request's after-answer check time to run, then count.
  await new Promise((r) => setTimeout(r, 500));
  const log = (await admin('/api/admin/alerts?project_id=g-alert')).json.alerts;
  const eighty = log.filter((a) => a.level === 'budget-80' && a.channel === 'email');
  assert.equal(eighty.length, 1, JSON.stringify(sent.map((a) => [a.level, a.channel, a.status])));
  assert.deepEqual([eighty[0].recipient, eighty[0].status], ['ops@example.com', 'sent']);
});

test('the request that reaches the daily limit sends its alert after the answer; with INGEST_ALERTS off only a check does', async () => {
  const key = await project('g-daily', { daily_limit: { amount: '1', currency: 'USD' }, alert_emails: ['day@example.com'] });
  assert.equal((await record(key, { provider: 'acme', cost: '0.60', currency: 'USD' })).status, 201);
  assert.equal((await record(key, { provider: 'acme', cost: '0.50', currency: 'USD' })).status, 201);
  await until('the daily alert', async () => (await admin('/api/admin/alerts?project_id=g-daily')).json.alerts.some((a) => a.level === 'daily'));
  const off = await startWorker({ bindings: { INGEST_ALERTS: 'off' } });
  try {
    const c = await off.fetch('/api/admin/projects', { method: 'POST', key: ADMIN_KEY, body: { id: 'quiet', name: 'quiet', daily_limit: { amount: '1', currency: 'USD' }, alert_emails: ['q@example.com'] } });
    assert.equal(c.status, 201, c.text);
    const k = (await off.fetch('/api/admin/projects/quiet/keys', { method: 'POST', key: ADMIN_KEY })).json.key;
    for (const cost of ['0.60', '0.50']) {
      const r = await off.fetch('/api/usage', { method: 'POST', key: k, body: { provider: 'acme', cost, currency: 'USD' } });
      assert.equal(r.status, 201, r.text);
      assert.equal(r.json.guard.state, cost === '0.50' ? 'warn' : 'ok', 'the state is answered either way');
    }
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual((await off.fetch('/api/admin/alerts?project_id=quiet', { key: ADMIN_KEY })).json.alerts, []);
    const check = await off.fetch('/api/admin/usage/check-budgets?project_id=quiet', { method: 'POST', key: ADMIN_KEY });
    assert.equal(check.json.projects[0].action, 'sent');
  } finally {
    await off.dispose();
  }
});

test('a request that brings a plan to its alert level and a profile below its floor sends both alerts before any cron, once, with sixteen concurrent requests and a full check at the same moment', async () => {
  const key = await project('g-capacity');
  const plan = await admin('/api/admin/subscriptions', {
    method: 'PUT',
    body: { provider: 'heygen', project_id: 'g-capacity', monthly_fee: '29', allotment: { amount: '10', unit: 'credits' }, alert_percent: 80, alert_emails: ['plan@example.com'] },
  });
  assert.equal(plan.status, 200, plan.text);
  const profile = await admin('/api/admin/capacity/profiles', {
    method: 'PUT',
    body: { name: 'clip', project_id: 'g-capacity', alert_below: 3, items: [{ provider: 'heygen', amount: '1', unit: 'credits' }] },
  });
  assert.equal(profile.status, 200, profile.text);
  // A first request takes the watch: 1 of 10 credits, 9 clips left, nothing due.
  const first = await record(key, { provider: 'heygen', credits: '1' });
  assert.equal(first.status, 201, first.text);
  assert.equal(first.json.guard.state, 'ok');
  // Sixteen requests of half a credit: 9 of 10 (90%), 1 clip left; the cron's full check at the same moment.
  const crossing = Array.from({ length: 16 }, () => record(key, { provider: 'heygen', credits: '0.5' }));
  const full = admin('/api/admin/usage/check-budgets', { method: 'POST' });
  const results = await Promise.all([...crossing, full]);
  for (const r of results) assert.ok(r.status < 300, r.text);
  const plansOf = (log) => log.filter((a) => a.channel === 'email' && /^(plan-heygen|capacity-clip)/.test(a.level));
  await until('both alerts in the log', async () => {
    const log = plansOf((await admin('/api/admin/alerts?project_id=g-capacity')).json.alerts);
    return log.some((a) => a.level.startsWith('plan-')) && log.some((a) => a.level.startsWith('capacity-'));
  });
  await new Promise((r) => setTimeout(r, 500));
  const sent = plansOf((await admin('/api/admin/alerts?project_id=g-capacity')).json.alerts);
  assert.deepEqual(
    sent.map((a) => [a.level.split('-')[0], a.recipient, a.status]).sort(),
    [['capacity', 'plan@example.com', 'sent'], ['plan', 'plan@example.com', 'sent']],
  );
  const after = await record(key, { provider: 'heygen', credits: '0.1' });
  assert.deepEqual(after.json.guard, { state: 'warn', limiting: 'plan' });
});

test('a plan level reached at ingest alerts without any check being asked for', async () => {
  const key = await project('g-plan-alone');
  const plan = await admin('/api/admin/subscriptions', {
    method: 'PUT',
    body: { provider: 'elevenlabs', project_id: 'g-plan-alone', monthly_fee: '5', allotment: { amount: '1000', unit: 'credits' }, counts: { usage: 'characters', per: '1' }, alert_percent: 50, alert_emails: ['voice@example.com'] },
  });
  assert.equal(plan.status, 200, plan.text);
  assert.equal((await record(key, { provider: 'elevenlabs', characters: 400 })).status, 201);
  assert.deepEqual((await admin('/api/admin/alerts?project_id=g-plan-alone')).json.alerts, []);
  assert.equal((await record(key, { provider: 'elevenlabs', characters: 100 })).status, 201);
  const log = await until('the 50% plan alert', async () => {
    const alerts = (await admin('/api/admin/alerts?project_id=g-plan-alone')).json.alerts;
    return alerts.length > 0 && alerts;
  });
  assert.deepEqual(log.map((a) => [a.level, a.recipient, a.status]), [['plan-elevenlabs@g-plan-alone-credits-50', 'voice@example.com', 'sent']]);
});

test('an import of past days moves neither today nor this month: the ingest answer stays ok, and the request that really crosses the daily limit sends its alert', async () => {
  const key = await project('g-import', { daily_limit: { amount: '100', currency: 'USD' }, daily_limit_mode: 'block', alert_emails: ['imp@example.com'] });
  // A first record takes the project's watch (its spend is then kept in the isolate).
  assert.equal((await record(key, { id: 'pre', provider: 'acme', cost: '1', currency: 'USD' })).json.guard.state, 'ok');
  const lastMonth = new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), 1) - 3 * 86_400_000).toISOString();
  const imported = await admin('/api/usage', { method: 'POST', body: { project_id: 'g-import', events: [{ id: 'imp-1', provider: 'acme', cost: '120', currency: 'USD', timestamp: lastMonth }] } });
  assert.equal(imported.status, 201, imported.text);
  assert.deepEqual(imported.json.guard, { state: 'ok', limiting: null }, 'last month is not today');
  assert.equal((await record(key, { id: 'now-1', provider: 'acme', cost: '2', currency: 'USD' })).json.guard.state, 'ok');
  const crossing = await record(key, { id: 'now-2', provider: 'acme', cost: '99', currency: 'USD' });
  assert.deepEqual(crossing.json.guard, { state: 'blocked', limiting: 'daily_limit' });
  await until('the daily alert', async () => (await admin('/api/admin/alerts?project_id=g-import')).json.alerts.some((a) => a.level === 'daily'));
});
