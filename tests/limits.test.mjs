// How many D1 calls one invocation makes with a large, realistic set-up: Cloudflare's free
// plan allows 50 D1 queries per Worker invocation. The set-up goes through the real API: 60
// projects whose budgets are crossed (half of them with a weekly spend report due), 30 plans
// past their alert percent and 2 capacity profiles under their alert level. Each test measures
// one request or one cron run with the counting harness (tests/support/counting.mjs), prints
// the counts, and checks them against the limit read the strict way: every statement of a
// batch counted as a query of its own. The bound is well under 50 so that growth shows.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCountingWorker, ADMIN_KEY } from './support/counting.mjs';

const PROJECTS = 60;
const PLANS = 30;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

let w;
const admin = (path, init = {}) => w.fetch(path, { key: ADMIN_KEY, ...init });
const pid = (i) => `proj-${String(i).padStart(2, '0')}`;

// Every count is meant to be the same whatever the day the suite runs, so the times are
// chosen from the calendar:
// - The scheduled run measured is a Monday 06:00 UTC slot two weeks back: the first slot
//   after a week closes, so the weekly report of the week before it is due in it (the cron
//   sends a closed week's report within 48 hours).
// - `POST /api/admin/cron/run` runs at the real time: the last closed week has no usage, so it
//   never has weekly reports to send, on any weekday.
// - Spend is recorded both just before the slot and just before now, in the same UTC week and
//   month as each, so the slot and the requests made now see crossed budgets and plans in
//   their own month.
const now = Date.now();
const today = new Date(now);
const lastClose = Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() - ((today.getUTCDay() + 6) % 7));
const monthStart = Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), 1);
const recent = now - Math.min(HOUR, (now - Math.max(lastClose, monthStart)) / 2);
const monday = lastClose - 14 * DAY;
const slot = new Date(monday + 6 * HOUR);
const iso = (ms) => new Date(ms).toISOString();

function expectOk(r, status, what) {
  assert.equal(r.status, status, `${what}: ${r.text}`);
  return r.json;
}

before(async () => {
  // Alerts at ingest time are off: the checks measured here are the ones that send.
  w = await startCountingWorker({ bindings: { INGEST_ALERTS: 'off' } });
  for (let i = 0; i < PROJECTS; i += 1) {
    const id = pid(i);
    expectOk(await admin('/api/admin/projects', { method: 'POST', body: { id, name: `Project ${i}` } }), 201, `create ${id}`);
    const budget = {
      budget_threshold_usd: '10',
      alert_levels: 'default',
      alert_emails: [`team-${i}@example.com`],
      ...(i % 2 === 0 ? { report_schedule: 'weekly' } : {}),
    };
    expectOk(await admin(`/api/admin/projects/${id}/budget`, { method: 'PATCH', body: budget }), 200, `budget of ${id}`);
  }
  for (let p = 0; p < PLANS; p += 1) {
    const plan = {
      provider: `p${p}`,
      monthly_fee: '10',
      allotment: { amount: '100', unit: 'credits' },
      reset_day: 1,
      alert_percent: 80,
      alert_emails: [`plans-${p}@example.com`],
    };
    expectOk(await admin('/api/admin/subscriptions', { method: 'PUT', body: plan }), 200, `plan p${p}`);
  }
  const profiles = [
    { name: 'clip', alert_below: 1000, items: [0, 1, 2].map((p) => ({ provider: `p${p}`, amount: '1', unit: 'credits' })) },
    { name: 'short', alert_below: 1000, items: [3, 4].map((p) => ({ provider: `p${p}`, amount: '0.5', unit: 'credits' })) },
  ];
  for (const profile of profiles) {
    expectOk(await admin('/api/admin/capacity/profiles', { method: 'PUT', body: profile }), 200, `profile ${profile.name}`);
  }

  // Per project: 11 USD just before now and just before the slot (110% of a 10 USD budget, in
  // two providers), and 3 USD in the week before the slot's Monday, for the weekly report.
  // Per plan: 85 of its 100 credits before now and before the slot.
  const events = [];
  for (let i = 0; i < PROJECTS; i += 1) {
    const project_id = pid(i);
    for (const [tag, at] of [['now', recent - i * 20], ['slot', slot.getTime() - 2 * HOUR - i * 1000]]) {
      events.push({ id: `${project_id}-${tag}-a`, project_id, provider: 'openai', model: 'gpt-4o', operation: 'script', cost: '6.00', timestamp: iso(at) });
      events.push({ id: `${project_id}-${tag}-b`, project_id, provider: 'anthropic', model: 'claude-3-5-sonnet', operation: 'edit', cost: '5.00', timestamp: iso(at - 10) });
    }
    events.push({ id: `${project_id}-week`, project_id, provider: 'openai', model: 'gpt-4o', operation: 'script', cost: '3.00', timestamp: iso(monday - 2 * DAY + 10 * HOUR) });
  }
  for (let p = 0; p < PLANS; p += 1) {
    const project_id = pid(p);
    events.push({ id: `plan-p${p}-now`, project_id, provider: `p${p}`, operation: 'render', credits: '85', timestamp: iso(recent - 5) });
    events.push({ id: `plan-p${p}-slot`, project_id, provider: `p${p}`, operation: 'render', credits: '85', timestamp: iso(slot.getTime() - HOUR) });
  }
  expectOk(await admin('/api/usage', { method: 'POST', body: { events } }), 201, `${events.length} events`);
});
after(async () => w?.dispose());

/** The most statements one invocation may make here: 50 is the free plan's limit; the margin
 * keeps a new read per project or per plan from slipping in unnoticed. */
const BOUND = 30;

/** Prints the counts of one invocation and checks them against the bound. */
function measured(what, { calls, statements }, detail = '') {
  console.log(`D1 per invocation, ${what}: ${calls} calls, ${statements} statements${detail ? ` (${detail})` : ''}`);
  assert.ok(Number.isInteger(calls) && calls >= 0, `calls: ${calls}`);
  assert.ok(calls <= statements, `calls ${calls} <= statements ${statements}`);
  assert.ok(statements <= BOUND, `${what}: ${statements} statements in one invocation (bound ${BOUND}, limit 50)`);
}
const actions = (report) => {
  const out = {};
  for (const p of [...report.projects, ...(report.plans ?? [])]) out[p.action] = (out[p.action] ?? 0) + 1;
  return out;
};
const sent = (report) => report.projects.filter((p) => p.action === 'sent').length;
const planSent = (report) => (report.plans ?? []).filter((p) => p.action === 'sent').length;

test('the first budget check that sends (POST) is measured with 60 crossed budgets, 30 plans and 2 profiles', async () => {
  const r = await admin('/api/admin/usage/check-budgets', { method: 'POST' });
  const report = expectOk(r, 200, 'POST check-budgets');
  measured('POST /api/admin/usage/check-budgets (first)', r, `${report.projects.length} projects, ${sent(report)} projects and ${planSent(report)} plans/profiles sent`);
  // 60 projects and 32 plan and profile alerts are due, one address each: 25 go out.
  assert.deepEqual([report.alerts_sent, actions(report)], [25, { sent: 25, deferred: 67 }]);
});

test('the dry run of the budget check (GET) is measured on the same data', async () => {
  const r = await admin('/api/admin/usage/check-budgets');
  const report = expectOk(r, 200, 'GET check-budgets');
  measured('GET /api/admin/usage/check-budgets (dry run)', r, `${report.projects.length} projects`);
  assert.deepEqual(actions(report), { rate_limited: 25, would_send: 67 });
});

test('a second budget check (POST) right after the first is measured', async () => {
  const r = await admin('/api/admin/usage/check-budgets', { method: 'POST' });
  const report = expectOk(r, 200, 'second POST check-budgets');
  measured('POST /api/admin/usage/check-budgets (second)', r, `${sent(report)} projects and ${planSent(report)} plans/profiles sent`);
  assert.deepEqual([report.alerts_sent, actions(report)], [25, { rate_limited: 25, sent: 25, deferred: 42 }]);
});

test('listing the 30 plans with their use this period is measured', async () => {
  const r = await admin('/api/admin/subscriptions');
  const body = expectOk(r, 200, 'GET subscriptions');
  measured('GET /api/admin/subscriptions', r, `${body.subscriptions.length} plans`);
});

test('the capacity of the 2 profiles is measured', async () => {
  const r = await admin('/api/admin/capacity');
  const body = expectOk(r, 200, 'GET capacity');
  measured('GET /api/admin/capacity', r, `${body.profiles.length} profiles`);
});

test('a cron run started by hand (POST /api/admin/cron/run) is measured', async () => {
  const r = await admin('/api/admin/cron/run', { method: 'POST' });
  expectOk(r, 200, 'POST cron/run');
  measured('POST /api/admin/cron/run', r);
});

test('one scheduled run, in the slot where every weekly report is due, is measured', async () => {
  const run = await w.scheduled(slot);
  assert.equal(run.outcome, 'ok', run.error ?? '');
  measured(`scheduled run at ${slot.toISOString()}`, run);
});

test('a rebuild call over 8 MB of raw objects stops after 6 MB, and each call stays within the bound', async () => {
  // Eight requests of about 900 KB each: 200 events with 4 KB of metadata.
  const note = 'x'.repeat(4000);
  for (let r = 0; r < 8; r += 1) {
    const events = Array.from({ length: 200 }, (_, i) => ({ id: `bulk-${r}-${i}`, project_id: pid(0), provider: 'openai', model: 'gpt-4o-mini', input_tokens: 10, metadata: { note } }));
    expectOk(await admin('/api/usage', { method: 'POST', body: { events } }), 201, `bulk request ${r}`);
  }
  let cursor;
  let objects = 0;
  let calls = 0;
  const perCall = [];
  for (;;) {
    calls += 1;
    const r = await admin('/api/admin/rebuild', { method: 'POST', body: cursor ? { cursor } : {} });
    const report = expectOk(r, 200, 'rebuild');
    measured(`POST /api/admin/rebuild (call ${calls})`, r, `${report.objects_read} objects`);
    objects += report.objects_read;
    perCall.push(report.objects_read);
    if (report.done) break;
    cursor = report.next_cursor;
  }
  // The set-up's one request and these eight: the first call stops once past 6 MB, the next
  // reads the rest, the last finds no re-price log.
  assert.equal(objects, 9);
  assert.deepEqual(perCall, [8, 1, 0]);
});
