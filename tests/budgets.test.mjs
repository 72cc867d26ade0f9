// Budgets, the check, alerts by email and signed webhook, and the rate limit, against the
// built worker. Email goes through Miniflare's send_email binding; webhooks are answered by
// the test (Miniflare's outbound service), which records them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { startWorker, ADMIN_KEY } from './support/worker.mjs';

// These suites test the cron's and the manual check's sending: alerts at ingest time are off
// (INGEST_ALERTS), so that no check after an answer races the check a test makes. tests/guard.test.mjs
// tests them on.
const OFF = { INGEST_ALERTS: 'off' };
let w;
const hooks = [];
let hookStatus = 200;
before(async () => {
  w = await startWorker({
    bindings: OFF,
    outbound: async (request) => {
      hooks.push({ url: request.url, headers: Object.fromEntries(request.headers), body: await request.text() });
      if (request.url.includes('/hangs')) {
        // A receiver that takes longer than the worker waits (it gives up after 10 s).
        return new Promise((resolve) => setTimeout(() => resolve(new Response('late')), 30_000).unref());
      }
      return new Response('ok', { status: hookStatus });
    },
  });
});
after(async () => w?.dispose());

const admin = (path, init = {}) => w.fetch(path, { key: ADMIN_KEY, ...init });
let seq = 0;
async function project(id, name, budget) {
  const r = await admin('/api/admin/projects', { method: 'POST', body: { id, name } });
  assert.equal(r.status, 201, r.text);
  const key = (await admin(`/api/admin/projects/${id}/keys`, { method: 'POST' })).json.key;
  if (budget) {
    const b = await admin(`/api/admin/projects/${id}/budget`, { method: 'PATCH', body: budget });
    assert.equal(b.status, 200, b.text);
  }
  return key;
}
async function spend(key, amount, extra = {}) {
  seq += 1;
  const r = await w.fetch('/api/usage', { method: 'POST', key, body: { id: `s-${seq}`, provider: 'openai', model: 'gpt-4o', cost: amount, ...extra } });
  assert.equal(r.status, 201, r.text);
}
const check = async (method = 'GET', project) => {
  const r = await admin(`/api/admin/usage/check-budgets${project ? `?project_id=${project}` : ''}`, { method });
  assert.equal(r.status, 200, r.text);
  return r.json;
};
const mine = (report, id) => report.projects.find((p) => p.project_id === id);
const alertLog = async (id) => (await admin(`/api/admin/alerts?project_id=${id}`)).json.alerts;

test('budget settings are validated field by field and a bad patch changes nothing', async () => {
  await project('val', 'Validation');
  const before = await w.snapshot();
  for (const [body, fields] of [
    [{ budget_threshold_usd: '-5' }, ['budget_threshold_usd']],
    [{ budget_threshold_usd: 'lots' }, ['budget_threshold_usd']],
    [{ budget: { amount: '10', currency: 'XYZ' } }, ['budget.currency']],
    [{ budget_alert_threshold_percent: 0 }, ['budget_alert_threshold_percent']],
    [{ budget_alert_threshold_percent: 1001 }, ['budget_alert_threshold_percent']],
    [{ alert_levels: [50, 0] }, ['alert_levels[1]']],
    [{ alert_levels: 'some' }, ['alert_levels']],
    [{ alert_levels: [150, 'x', 2.5], daily_limit: '0' }, ['alert_levels[1]', 'alert_levels[2]', 'daily_limit']],
    [{ alert_levels: { at: 50 } }, ['alert_levels']],
    [{ daily_limit: '0' }, ['daily_limit']],
    [{ timezone: 'Mars/Base' }, ['timezone']],
    [{ alert_emails: ['ok@example.com', 'not-an-address'] }, ['alert_emails[1]']],
    [{ webhook_url: 'http://hooks.example.com/x' }, ['webhook_url']],
    [{ budget_threshold_usd: '5', webhook_url: 'ftp://x' }, ['webhook_url']],
  ]) {
    const r = await admin('/api/admin/projects/val/budget', { method: 'PATCH', body });
    assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
    assert.deepEqual(r.json.error.details.map((d) => d.field), fields, JSON.stringify(body));
  }
  const unknown = await admin('/api/admin/projects/val/budget', { method: 'PATCH', body: { budjet: 1 } });
  assert.equal(unknown.status, 400);
  assert.equal((await admin('/api/admin/projects/nope/budget')).status, 404);
  assert.deepEqual(await w.snapshot(), before);
  const ok = await admin('/api/admin/projects/val/budget', { method: 'PATCH', body: {
    budget: { amount: '250', currency: 'eur' }, alert_levels: 'default', daily_limit: '20',
    timezone: 'Europe/Paris', alert_emails: ['ops@example.com'], webhook_url: 'https://hooks.example.com/val',
  } });
  assert.equal(ok.status, 200, ok.text);
  assert.deepEqual([ok.json.budget.amount, ok.json.budget.currency, ok.json.budget_threshold_usd], ['250.00', 'EUR', null]);
  assert.deepEqual(ok.json.alert_levels, [50, 80, 100]);
  assert.deepEqual([ok.json.daily_limit.amount, ok.json.daily_limit.currency], ['20.00', 'EUR']);
  assert.equal(ok.json.period.timezone, 'Europe/Paris');
  assert.match(ok.json.webhook_secret, /^whsec_[0-9a-f]{48}$/);
  assert.equal(ok.json.status.spend.currency, 'EUR');
  // Reports grouped by project show the budget in its own currency.
  const valKey = (await admin('/api/admin/projects/val/keys', { method: 'POST' })).json.key;
  await w.fetch('/api/usage', { method: 'POST', key: valKey, body: { provider: 'mistral', model: 'm', cost: '25', currency: 'EUR' } });
  const row = (await admin('/api/admin/usage?group=project&preset=month&project_id=val')).json.rows[0];
  assert.deepEqual([row.budget.budget.amount, row.budget.budget.currency, row.budget.month_to_date.amount, row.budget.percent_used, row.budget.status],
    ['250.00', 'EUR', '25.00', '10.00', 'ok']);
  // Each address once, however it is capitalised, in the order given.
  const dup = await admin('/api/admin/projects/val/budget', { method: 'PATCH', body: { alert_emails: ['a@example.com', 'b@example.com', 'A@Example.com'] } });
  assert.deepEqual(dup.json.alert_emails, ['a@example.com', 'b@example.com']);
});

test('79% sends nothing, 80% sends the 80% alert, 100% the over-budget one, and more stays quiet for 24 hours', async () => {
  const key = await project('lv', 'Levels', { budget_threshold_usd: '100', alert_emails: ['lead@example.com'] });
  await spend(key, '79.00');
  let r = await check('POST', 'lv');
  assert.deepEqual([mine(r, 'lv').percent_used, mine(r, 'lv').levels_crossed, mine(r, 'lv').action], ['79.00', [], 'none']);
  await spend(key, '1.00');
  r = await check('POST', 'lv');
  assert.deepEqual([mine(r, 'lv').levels_crossed, mine(r, 'lv').action], [['budget-80'], 'sent']);
  r = await check('POST', 'lv');
  assert.equal(mine(r, 'lv').action, 'rate_limited', 'the same level is not sent twice in 24 hours');
  await spend(key, '20.00');
  r = await check('POST', 'lv');
  assert.deepEqual([mine(r, 'lv').percent_used, mine(r, 'lv').levels_crossed, mine(r, 'lv').action], ['100.00', ['budget-100'], 'sent']);
  await spend(key, '30.00');
  r = await check('POST', 'lv');
  assert.deepEqual([mine(r, 'lv').percent_used, mine(r, 'lv').action], ['130.00', 'rate_limited']);
  const log = await alertLog('lv');
  assert.deepEqual(log.map((a) => [a.level, a.status]).sort(), [['budget-100', 'sent'], ['budget-80', 'sent']]);
  const project_ = (await admin('/api/admin/projects/lv')).json;
  assert.ok(project_.last_budget_alert_sent, 'the seed column records the last alert');
});

test('the dry run reports what would be sent and changes nothing', async () => {
  const key = await project('dry', 'Dry run', { budget_threshold_usd: '10', alert_emails: ['a@example.com'], daily_limit: '1' });
  await spend(key, '9.50');
  const before = await w.snapshot();
  const r = await check('GET', 'dry');
  const p = mine(r, 'dry');
  assert.equal(r.mode, 'dry_run');
  assert.deepEqual([p.levels_crossed, p.action], [['budget-80', 'daily'], 'would_send']);
  assert.ok(p.alerts.every((a) => a.status === 'would_send'));
  assert.match(p.subject, /Dry run at 95\.00% of budget/);
  assert.deepEqual(await w.snapshot(), before);
});

test('overlapping runs (the cron and a POST, or two POSTs) send each alert once', async () => {
  const key = await project('race', 'Race', { budget_threshold_usd: '10', alert_emails: ['a@example.com', 'b@example.com'] });
  await spend(key, '9.00');
  const worker = await w.mf.getWorker();
  await Promise.all([
    check('POST', 'race'), check('POST', 'race'), worker.scheduled({ cron: '0 */6 * * *' }), check('POST', 'race'),
  ]);
  const log = await alertLog('race');
  assert.deepEqual(log.filter((a) => a.status === 'sent').map((a) => a.recipient).sort(), ['a@example.com', 'b@example.com']);
});

test('a failed send does not use up the window and is retried on the next run', async () => {
  const key = await project('retry', 'Retry', { budget_threshold_usd: '10', webhook_url: 'https://hooks.example.com/retry' });
  await spend(key, '8.50');
  hookStatus = 500;
  let r = await check('POST', 'retry');
  assert.equal(mine(r, 'retry').action, 'failed');
  hookStatus = 200;
  r = await check('POST', 'retry');
  assert.equal(mine(r, 'retry').action, 'sent');
  r = await check('POST', 'retry');
  assert.equal(mine(r, 'retry').action, 'rate_limited');
  assert.deepEqual((await alertLog('retry')).map((a) => a.status).sort(), ['failed', 'sent']);
});

test('a webhook that failed while the email went out is posted alone by the next run, and the email is not sent twice', async () => {
  const key = await project('partly', 'Partly', {
    budget_threshold_usd: '10', alert_emails: ['ops@example.com'], webhook_url: 'https://hooks.example.com/partly',
  });
  await spend(key, '8.50');
  const posted = () => hooks.filter((h) => h.url === 'https://hooks.example.com/partly').length;
  hookStatus = 500;
  let r = await check('POST', 'partly');
  hookStatus = 200;
  assert.equal(mine(r, 'partly').action, 'partly_sent');
  assert.equal(posted(), 1);
  r = await check('POST', 'partly');
  assert.equal(mine(r, 'partly').action, 'sent');
  assert.equal(posted(), 2, 'the webhook again');
  r = await check('POST', 'partly');
  assert.equal(mine(r, 'partly').action, 'rate_limited');
  assert.equal(posted(), 2);
  const log = await alertLog('partly');
  assert.deepEqual(log.map((a) => `${a.channel} ${a.status}`).sort(), ['email sent', 'webhook failed', 'webhook sent'], 'the email went out once');
  // One alert: the repeat of the webhook carries the id of its first post, as does every record.
  const ids = hooks.filter((h) => h.url === 'https://hooks.example.com/partly').map((h) => h.headers['x-ast-alert-id']);
  assert.match(ids[0], /^alt_[0-9a-f]+$/);
  assert.deepEqual([ids[1], ...log.map((a) => a.alert_id)], [ids[0], ids[0], ids[0], ids[0]]);
  // The id is in each signed body too, and the log keeps each body as it was posted.
  const bodies = hooks.filter((h) => h.url === 'https://hooks.example.com/partly').map((h) => h.body);
  assert.deepEqual(bodies.map((b) => JSON.parse(b).alert_id), [ids[0], ids[0]]);
  assert.deepEqual(log.filter((a) => a.channel === 'webhook').map((a) => a.payload).sort(), [...bodies].sort());
});

test('a webhook that does not answer counts as failed after 10 seconds, and the email of the same alert still goes out', async () => {
  const key = await project('slow', 'Slow', {
    budget_threshold_usd: '10', alert_emails: ['ops@example.com'], webhook_url: 'https://hooks.example.com/hangs',
  });
  await spend(key, '8.50');
  const r = await check('POST', 'slow');
  assert.equal(mine(r, 'slow').action, 'partly_sent');
  const log = await alertLog('slow');
  const webhook = log.find((a) => a.channel === 'webhook');
  assert.deepEqual([webhook.status, webhook.error], ['failed', 'webhook did not answer within 10 s']);
  assert.equal(log.find((a) => a.channel === 'email').status, 'sent');
});

test('the webhook is signed with HMAC-SHA256 and carries a Slack-compatible text', async () => {
  const key = await project('hook', 'Hook', { budget_threshold_usd: '10', webhook_url: 'https://hooks.example.com/sign' });
  await spend(key, '10.00');
  hooks.length = 0;
  await check('POST', 'hook');
  const call = hooks.find((h) => h.url === 'https://hooks.example.com/sign');
  assert.ok(call, 'the webhook was called');
  const secret = (await admin('/api/admin/projects/hook/budget')).json.webhook_secret;
  const expected = createHmac('sha256', secret).update(`${call.headers['x-ast-timestamp']}.${call.body}`).digest('hex');
  assert.equal(call.headers['x-ast-signature'], `sha256=${expected}`);
  const body = JSON.parse(call.body);
  assert.match(body.text, /Hook at 100\.00% of budget/);
  assert.equal(body.content, body.text, 'Discord reads `content`, Slack `text`');
  assert.deepEqual([body.level, body.spend.amount, body.budget.amount], ['budget-100', '10.00', '10.00']);
  // The alert's id is signed with the rest of the body.
  assert.match(body.alert_id, /^alt_[0-9a-f]+$/);
  assert.equal(body.alert_id, call.headers['x-ast-alert-id']);
  const tampered = createHmac('sha256', secret).update(`${call.headers['x-ast-timestamp']}.${call.body} `).digest('hex');
  assert.notEqual(call.headers['x-ast-signature'], `sha256=${tampered}`);
});

/** A strict check that every tag opened in the HTML is closed in order. */
function wellFormed(html) {
  const voids = new Set(['meta', 'br', 'img', 'hr', 'link', 'input']);
  const stack = [];
  for (const m of html.replace(/<!DOCTYPE[^>]*>/i, '').matchAll(/<(\/?)([a-zA-Z0-9]+)([^>]*)>/g)) {
    const [, close, tag, rest] = m;
    const name = tag.toLowerCase();
    if (voids.has(name) || rest.trim().endsWith('/')) continue;
    if (close) {
      if (stack.pop() !== name) return false;
    } else stack.push(name);
  }
  return stack.length === 0;
}

test('the email is well-formed HTML and text, escapes a hostile name, and its numbers equal the reports', async () => {
  const hostile = '<script>alert("x")</script> & Co';
  const key = await project('evil', hostile, { budget_threshold_usd: '50', alert_emails: ['boss@example.com'] });
  await spend(key, '30.00', { model: 'gpt-4o' });
  await spend(key, '12.50', { provider: 'anthropic', model: 'claude-3-opus' });
  await check('POST', 'evil');
  const [email] = (await alertLog('evil')).filter((a) => a.channel === 'email');
  assert.equal(email.status, 'sent', email.error);
  assert.ok(wellFormed(email.html_body), 'every tag is closed in order');
  assert.ok(!email.html_body.includes('<script>'), 'the name is escaped');
  assert.ok(email.html_body.includes('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co'));
  assert.ok(email.text_body.includes(hostile), 'the plain text keeps the name as written');
  const report = (await admin('/api/admin/usage?group=project&preset=month&project_id=evil')).json;
  const spent = report.rows[0].cost.find((m) => m.currency === 'USD').amount;
  assert.equal(spent, '42.50');
  assert.ok(email.html_body.includes(`${spent} USD`) && email.text_body.includes(`${spent} USD of 50.00 USD`));
  assert.equal(email.percent_used, '85.00');
  assert.match(email.subject, /at 85\.00% of budget: 42\.50 USD of 50\.00 USD/);
  assert.ok(email.html_body.includes('width:85.00%'), 'the bar is drawn at the percent used');
  assert.ok(email.html_body.includes('href="http://127.0.0.1:8787/?project=evil"'), 'the dashboard link');
  assert.ok(/Recommendations/.test(email.text_body) && /gpt-4o-mini/.test(email.text_body), 'a concrete recommendation');
});

test('the cron runs the same check and records what it sent', async () => {
  const key = await project('cron', 'Cron', { budget_threshold_usd: '5', alert_emails: ['night@example.com'] });
  await spend(key, '6.00');
  const worker = await w.mf.getWorker();
  await worker.scheduled({ cron: '0 */6 * * *' });
  const log = await alertLog('cron');
  assert.deepEqual(log.map((a) => [a.level, a.channel, a.status]), [['budget-100', 'email', 'sent']]);
  assert.equal((await admin('/api/admin/alerts?limit=0')).status, 400);
});

test('a project whose settings cannot be read is reported and never stops the others', async () => {
  await project('broken', 'Broken', { budget_threshold_usd: '1', alert_emails: ['x@example.com'] });
  const key = await project('fine', 'Fine', { budget_threshold_usd: '1', alert_emails: ['y@example.com'] });
  await spend(key, '1.00');
  await w.db.prepare("UPDATE projects SET alert_levels = 'not json' WHERE id = 'broken'").run();
  const r = await check('POST');
  assert.equal(mine(r, 'broken').action, 'error');
  assert.match(mine(r, 'broken').error, /cannot be read/);
  assert.equal(mine(r, 'fine').action, 'sent');
});

test('a weekly spend report: the preview equals the usage report of the last closed week, and it is emailed once', async () => {
  const key = await project('weekly', 'Weekly <Report>', { budget_threshold_usd: '50', alert_emails: ['team@example.com'], report_schedule: 'weekly' });
  assert.equal((await admin('/api/admin/projects/weekly/budget')).json.report_schedule, 'weekly');
  // Monday of this week (UTC), and events in the week before it and the week before that.
  const now = new Date();
  const monday = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() - ((now.getUTCDay() + 6) % 7)));
  const at = (daysBeforeMonday, hour) => new Date(monday.getTime() - daysBeforeMonday * 86_400_000 + hour * 3_600_000).toISOString();
  await spend(key, '4.25', { timestamp: at(7, 9) }); // first day of last week
  await spend(key, '1.75', { timestamp: at(1, 23), provider: 'anthropic', model: 'claude-sonnet-4-5' }); // its last day
  await spend(key, '3.00', { timestamp: at(8, 12) }); // the week before
  await spend(key, '9.99'); // this week: in neither

  const preview = (await admin('/api/admin/projects/weekly/report')).json;
  const r = preview.report;
  const firstDay = at(7, 0).slice(0, 10);
  assert.equal(preview.level, `report-weekly-${firstDay}`);
  assert.deepEqual([r.from, r.to], [at(7, 0), monday.toISOString()]);
  assert.deepEqual(r.cost.map((m) => m.amount), ['6.00']);
  assert.deepEqual(r.previous_cost.map((m) => m.amount), ['3.00']);
  assert.equal(r.change_percent, '100.0');
  assert.deepEqual(r.providers.map((l) => [l.name, l.cost[0].amount, l.events]), [['openai', '4.25', 1], ['anthropic', '1.75', 1]]);
  const usage = (await admin(`/api/admin/usage?group=provider&project_id=weekly&from=${encodeURIComponent(r.from)}&to=${encodeURIComponent(r.to)}`)).json;
  assert.deepEqual(usage.totals.cost.map((m) => m.amount), r.cost.map((m) => m.amount), 'the same figures as the usage report');
  assert.equal(preview.sent_by_cron, true);
  assert.match(preview.email.subject, /^\[AI spend\] Weekly <Report>: 6\.00 USD in the week of .* \(\+100\.0% on the week before\)$/);
  assert.match(preview.email.html, /Weekly &lt;Report&gt;/);

  const sent = (await admin('/api/admin/projects/weekly/report', { method: 'POST' })).json;
  assert.deepEqual([sent.sent, sent.failed, sent.reports[0].action, sent.reports[0].level], [1, 0, 'sent', preview.level]);
  const logged = (await alertLog('weekly')).filter((a) => a.level === preview.level);
  assert.deepEqual(logged.map((a) => [a.recipient, a.status, a.subject]), [['team@example.com', 'sent', preview.email.subject]]);
  assert.equal(logged[0].text_body, preview.email.text);
  // Once per period: neither a second call nor the cron sends it again.
  const again = (await admin('/api/admin/projects/weekly/report', { method: 'POST' })).json;
  assert.deepEqual([again.sent, again.reports[0].action], [0, 'already_sent']);
  const cron = (await admin('/api/admin/cron/run', { method: 'POST' })).json;
  assert.ok(!cron.reports.reports.some((x) => x.project_id === 'weekly' && x.action === 'sent'), JSON.stringify(cron.reports));
  assert.equal((await alertLog('weekly')).filter((a) => a.level === preview.level).length, 1);

  const bad = await admin('/api/admin/projects/weekly/budget', { method: 'PATCH', body: { report_schedule: 'daily' } });
  assert.deepEqual([bad.status, bad.json.error.details[0].field], [400, 'report_schedule']);
  assert.deepEqual([(await admin('/api/admin/projects/weekly/report?schedule=yearly')).status], [400]);
  const off = await admin('/api/admin/projects/weekly/budget', { method: 'PATCH', body: { report_schedule: null } });
  assert.equal(off.json.report_schedule, null);
  assert.equal((await admin('/api/admin/projects/weekly/report')).json.sent_by_cron, false);
});

test('the cron itself emails a closed week\'s report in its first slot after the close, once, and not past the 48 hours', async () => {
  // A worker of its own: its cron slots run at chosen instants and check every project.
  const own = await startWorker({ bindings: OFF });
  try {
    const call = (path, init = {}) => own.fetch(path, { key: ADMIN_KEY, ...init });
    assert.equal((await call('/api/admin/projects', { method: 'POST', body: { id: 'digest', name: 'Digest' } })).status, 201);
    const patch = await call('/api/admin/projects/digest/budget', { method: 'PATCH', body: { alert_emails: ['lead@example.com'], report_schedule: 'weekly' } });
    assert.equal(patch.status, 200, patch.text);
    const now = new Date();
    const monday = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() - ((now.getUTCDay() + 6) % 7));
    const hours = (h) => new Date(monday + h * 3_600_000);
    const events = [['d-1', '2.50', hours(-7 * 24 + 10)], ['d-2', '0.75', hours(-30)], ['d-3', '8.00', hours(-8 * 24)]];
    for (const [id, cost, at] of events) {
      const r = await call('/api/usage', { method: 'POST', body: { project_id: 'digest', id, provider: 'openai', model: 'gpt-4o', cost, timestamp: at.toISOString() } });
      assert.equal(r.status, 201, r.text);
    }
    const cron = await own.mf.getWorker();
    const slot = async (at) => {
      await cron.scheduled({ cron: '0 */6 * * *', scheduledTime: at });
      return (await call('/api/admin/alerts?project_id=digest')).json.alerts.filter((a) => a.level.startsWith('report-weekly-'));
    };
    assert.deepEqual(await slot(hours(-6)), [], 'the slot before the close: the week is still open');
    assert.deepEqual(await slot(hours(50)), [], 'a slot more than 48 hours after the close sends nothing');
    const sent = await slot(hours(6));
    const firstDay = hours(-7 * 24).toISOString().slice(0, 10);
    assert.deepEqual(sent.map((a) => [a.level, a.recipient, a.status]), [[`report-weekly-${firstDay}`, 'lead@example.com', 'sent']]);
    assert.match(sent[0].subject, /^\[AI spend\] Digest: 3\.25 USD in the week of /, 'the two events of the closed week, not the one before');
    assert.equal(sent[0].created_at, hours(6).toISOString(), 'logged at the slot the cron ran for');
    assert.equal((await slot(hours(12))).length, 1, 'the next slot finds it sent');
  } finally {
    await own.dispose();
  }
});

test('with ALERT_TO set, alerts, plan alerts and reports of a project or plan that names no address go to it; one that names its own goes only there', async () => {
  // The seed teams set a budget and a percent and expect email: ALERT_TO is the team's inbox.
  const own = await startWorker({ bindings: { ...OFF, ALERT_TO: 'ops@example.com, not-an-address;finance@example.com ops@example.com\nOPS@example.com\tfinance@example.com' } });
  try {
    const call = (path, init = {}) => own.fetch(path, { key: ADMIN_KEY, ...init });
    for (const [id, budget] of [
      ['quiet', { budget_threshold_usd: 100, budget_alert_threshold_percent: 80, report_schedule: 'weekly' }],
      ['named', { budget_threshold_usd: 100, budget_alert_threshold_percent: 80, alert_emails: ['lead@example.com'] }],
    ]) {
      assert.equal((await call('/api/admin/projects', { method: 'POST', body: { id, name: id } })).status, 201);
      const r = await call(`/api/admin/projects/${id}/budget`, { method: 'PATCH', body: budget });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json.alert_emails, budget.alert_emails ?? [], 'the default is not copied into the project');
      const u = await call('/api/usage', { method: 'POST', body: { project_id: id, id: `${id}-1`, provider: 'openai', model: 'gpt-4o', cost: '90' } });
      assert.equal(u.status, 201, u.text);
    }
    const plan = await call('/api/admin/subscriptions', { method: 'PUT', body: { provider: 'heygen', monthly_fee: '29', allotment: { amount: '10', unit: 'credits' }, alert_percent: 50 } });
    assert.equal(plan.status, 200, plan.text);
    const clip = await call('/api/usage', { method: 'POST', body: { project_id: 'quiet', id: 'clip-1', provider: 'heygen', credits: '6' } });
    assert.equal(clip.status, 201, clip.text);

    const dry = (await call('/api/admin/usage/check-budgets')).json;
    const of = (id) => dry.projects.find((p) => p.project_id === id);
    assert.deepEqual(of('quiet').alerts.map((a) => [a.recipient, a.status]), [['ops@example.com', 'would_send'], ['finance@example.com', 'would_send']]);
    assert.deepEqual(of('named').alerts.map((a) => [a.recipient, a.status]), [['lead@example.com', 'would_send']]);

    const sent = await call('/api/admin/usage/check-budgets', { method: 'POST' });
    assert.equal(sent.status, 200, sent.text);
    assert.deepEqual([sent.json.projects.find((p) => p.project_id === 'quiet').action, sent.json.plans[0].action], ['sent', 'sent']);
    const log = (await call('/api/admin/alerts')).json.alerts.map((a) => [a.project_id, a.level, a.recipient, a.status]).sort();
    assert.deepEqual(log, [
      ['named', 'budget-80', 'lead@example.com', 'sent'],
      ['plans', 'plan-heygen-credits-50', 'finance@example.com', 'sent'],
      ['plans', 'plan-heygen-credits-50', 'ops@example.com', 'sent'],
      ['quiet', 'budget-80', 'finance@example.com', 'sent'],
      ['quiet', 'budget-80', 'ops@example.com', 'sent'],
    ]);

    const report = await call('/api/admin/projects/quiet/report?schedule=weekly');
    assert.equal(report.status, 200, report.text);
    assert.deepEqual([report.json.recipients, report.json.scheduled], [['ops@example.com', 'finance@example.com'], 'weekly']);
  } finally {
    await own.dispose();
  }
});

test('one run sends at most 25 messages; the alerts past that are deferred, unclaimed, and the next run sends them', async () => {
  const own = await startWorker({ bindings: { ...OFF, ALERT_TO: 'ops@example.com' } });
  try {
    const call = (path, init = {}) => own.fetch(path, { key: ADMIN_KEY, ...init });
    const ids = Array.from({ length: 30 }, (_, i) => `many-${String(i).padStart(2, '0')}`);
    for (const id of ids) {
      assert.equal((await call('/api/admin/projects', { method: 'POST', body: { id, name: id } })).status, 201);
      assert.equal((await call(`/api/admin/projects/${id}/budget`, { method: 'PATCH', body: { budget_threshold_usd: '10' } })).status, 200);
    }
    const events = ids.map((id) => ({ project_id: id, id: `${id}-e`, provider: 'openai', model: 'gpt-4o', cost: '9' }));
    assert.equal((await call('/api/usage', { method: 'POST', body: { events } })).status, 201);
    const actions = (r) => r.json.projects.map((p) => p.action);
    const count = (list, action) => list.filter((a) => a === action).length;

    const first = await call('/api/admin/usage/check-budgets', { method: 'POST' });
    assert.equal(first.status, 200, first.text);
    assert.deepEqual([first.json.alerts_sent, count(actions(first), 'sent'), count(actions(first), 'deferred')], [25, 25, 5]);
    const deferred = first.json.projects.filter((p) => p.action === 'deferred');
    assert.deepEqual(deferred[0].alerts.map((a) => [a.level, a.recipient, a.status]), [['budget-80', 'ops@example.com', 'deferred']]);
    assert.equal((await call('/api/admin/alerts?limit=100')).json.alerts.length, 25, 'a deferred alert is neither sent nor logged');

    const second = await call('/api/admin/usage/check-budgets', { method: 'POST' });
    assert.deepEqual([second.json.alerts_sent, count(actions(second), 'sent'), count(actions(second), 'rate_limited')], [5, 5, 25]);
    assert.deepEqual(second.json.projects.filter((p) => p.action === 'sent').map((p) => p.project_id), deferred.map((p) => p.project_id));

    const third = await call('/api/admin/usage/check-budgets', { method: 'POST' });
    assert.deepEqual([third.json.alerts_sent, count(actions(third), 'rate_limited')], [0, 30]);
    const log = (await call('/api/admin/alerts?limit=100')).json.alerts;
    assert.deepEqual([log.length, new Set(log.map((a) => a.project_id)).size], [30, 30], 'each project alerted exactly once');
    const stamped = await own.db.prepare('SELECT count(*) AS n FROM projects WHERE last_budget_alert_sent IS NOT NULL').first();
    assert.equal(stamped.n, 30);
  } finally {
    await own.dispose();
  }
});

test('a daily limit with its own currency: a project without a monthly budget takes it, and today\'s GBP spend crosses it', async () => {
  // Seed 003: "if (usage.totalCost > 100) // £100 daily threshold", with no monthly budget.
  const key = await project('gbp-daily', 'Sim', { daily_limit: { amount: '0.10', currency: 'gbp' }, alert_emails: ['ops@example.com'] });
  const settings = (await admin('/api/admin/projects/gbp-daily/budget')).json;
  assert.deepEqual([settings.daily_limit.amount, settings.daily_limit.currency, settings.budget_threshold_usd], ['0.10', 'GBP', null]);
  await spend(key, '0.225', { currency: 'GBP', provider: 'hume', model: 'evi' });
  const r = mine(await check('GET', 'gbp-daily'), 'gbp-daily');
  assert.deepEqual([r.today_spend.amount, r.today_spend.currency, r.levels_crossed, r.action], ['0.225', 'GBP', ['daily'], 'would_send']);

  // With a monthly budget, the limit is in the budget's currency: another is refused.
  await project('usd-budget', 'USD', { budget_threshold_usd: '100' });
  const before = await w.snapshot();
  for (const [body, fields] of [
    [{ daily_limit: { amount: '5', currency: 'EUR' } }, ['daily_limit.currency']],
    [{ daily_limit: { amount: '-5' } }, ['daily_limit.amount']],
    [{ daily_limit: { amount: '5', currency: 'XYZ' } }, ['daily_limit.currency']],
    [{ daily_limit: { value: '5' } }, ['daily_limit']],
    [{ daily_limit: [5] }, ['daily_limit']],
  ]) {
    const bad = await admin('/api/admin/projects/usd-budget/budget', { method: 'PATCH', body });
    assert.equal(bad.status, 400, `${JSON.stringify(body)}: ${bad.text}`);
    assert.deepEqual(bad.json.error.details.map((d) => d.field), fields, JSON.stringify(body));
  }
  assert.deepEqual(await w.snapshot(), before, 'a refused patch changes nothing');
  const same = await admin('/api/admin/projects/usd-budget/budget', { method: 'PATCH', body: { daily_limit: { amount: '5', currency: 'USD' } } });
  assert.equal(same.status, 200, same.text);
  assert.deepEqual([same.json.daily_limit.amount, same.json.daily_limit.currency], ['5.00', 'USD']);
});

test('the budget check and the scheduled reports of one cron run share its 25 messages; the rest go out in the next runs, each once', async () => {
  const own = await startWorker({ bindings: { ...OFF, ALERT_TO: 'team@example.com' } });
  try {
    const call = (path, init = {}) => own.fetch(path, { key: ADMIN_KEY, ...init });
    // A slot 6 hours after last Monday's close: the week before it is due for its report.
    const now = new Date();
    const thisMonday = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() - ((now.getUTCDay() + 6) % 7));
    const monday = thisMonday - 7 * 86_400_000;
    const at = (h) => new Date(monday + h * 3_600_000);
    const ids = Array.from({ length: 30 }, (_, i) => `share-${String(i).padStart(2, '0')}`);
    const events = [];
    for (const id of ids) {
      assert.equal((await call('/api/admin/projects', { method: 'POST', body: { id, name: id } })).status, 201);
      assert.equal((await call(`/api/admin/projects/${id}/budget`, { method: 'PATCH', body: { budget_threshold_usd: '10', report_schedule: 'weekly' } })).status, 200);
      events.push({ project_id: id, id: `${id}-week`, provider: 'openai', model: 'gpt-4o', cost: '1', timestamp: at(-30).toISOString() });
      events.push({ project_id: id, id: `${id}-now`, provider: 'openai', model: 'gpt-4o', cost: '9', timestamp: at(5).toISOString() });
    }
    assert.equal((await call('/api/usage', { method: 'POST', body: { events } })).status, 201);
    const cron = await own.mf.getWorker();
    const log = async () => (await call('/api/admin/alerts?limit=200')).json.alerts;
    const kinds = (list) => ({
      budget: list.filter((a) => a.level.startsWith('budget-')).length,
      report: list.filter((a) => a.level.startsWith('report-weekly-')).length,
    });
    await cron.scheduled({ cron: '0 */6 * * *', scheduledTime: at(6) });
    assert.deepEqual(kinds(await log()), { budget: 25, report: 0 }, 'the first run: 25 messages, budget alerts first');
    await cron.scheduled({ cron: '0 */6 * * *', scheduledTime: at(12) });
    assert.deepEqual(kinds(await log()), { budget: 30, report: 20 });
    await cron.scheduled({ cron: '0 */6 * * *', scheduledTime: at(18) });
    const all = await log();
    assert.deepEqual(kinds(all), { budget: 30, report: 30 });
    assert.equal(new Set(all.map((a) => `${a.project_id} ${a.level}`)).size, 60, 'each alert and report once');
    assert.ok(all.every((a) => a.status === 'sent' && a.recipient === 'team@example.com'));
  } finally {
    await own.dispose();
  }
});

test('a spike alert fires when today runs at the set percent of the average of the 7 days before, and not below it', async () => {
  const key = await project('spiky', 'Spiky', { alert_emails: ['ops@example.com'], spike_alert: { percent: 300, min_spend: '5' } });
  const settings = (await admin('/api/admin/projects/spiky/budget')).json;
  assert.deepEqual(settings.spike_alert, { percent: 300, min_spend: { amount: '5.00', currency: 'USD', value: 5 } });
  // $2 a day on each of the 7 days before today (UTC, the budget's zone): an average day of $2.
  const today = new Date(); today.setUTCHours(0, 0, 0, 0);
  for (let d = 1; d <= 7; d += 1) await spend(key, '2', { timestamp: new Date(today.getTime() - d * 86_400_000 + 12 * 3_600_000).toISOString() });
  await spend(key, '5.50'); // 275% of the average: not a spike
  let c = (await check('GET', 'spiky')).projects[0];
  assert.equal(c.baseline_daily.amount, '2.00');
  assert.deepEqual(c.levels_crossed, []);
  await spend(key, '0.50'); // $6.00 today: 300%
  c = (await check('GET', 'spiky')).projects[0];
  assert.deepEqual(c.levels_crossed, ['spike']);
  assert.equal(c.action, 'would_send');
  const sent = (await check('POST', 'spiky')).projects[0];
  assert.equal(sent.action, 'sent', JSON.stringify(sent));
  const mail = (await alertLog('spiky')).find((a) => a.level === 'spike');
  assert.equal(mail.subject, '[AI spend] Spiky: 6.00 USD today, 3.0x its average day of 2.00 USD');
  assert.match(mail.text_body, /Average day of the 7 before today: 2\.00 USD \(today is 3\.0x that\)/);
  assert.equal((await check('POST', 'spiky')).projects[0].action, 'rate_limited', 'once a day');

  for (const [body, field] of [
    [{ spike_alert: { percent: 120 } }, 'spike_alert.percent'],
    [{ spike_alert: { percent: 300, min_spend: '0' } }, 'spike_alert.min_spend'],
  ]) {
    const r = await admin('/api/admin/projects/spiky/budget', { method: 'PATCH', body });
    assert.deepEqual([r.status, r.json.error.details[0].field], [400, field], r.text);
  }
  const off = await admin('/api/admin/projects/spiky/budget', { method: 'PATCH', body: { spike_alert: null } });
  assert.equal(off.json.spike_alert, null);
});

test('a project key reads its own budget status from /api/usage/stats, so an app can hold back before a limit', async () => {
  const key = await project('selfcheck', 'Self check', { budget_threshold_usd: '10', daily_limit: '3' });
  await spend(key, '4');
  const stats = (await w.fetch('/api/usage/stats', { key })).json;
  const b = stats.budget;
  assert.deepEqual([b.budget.amount, b.spend.amount, b.percent_used, b.over_budget], ['10.00', '4.00', '40.00', false]);
  assert.deepEqual([b.daily_limit.amount, b.today_spend.amount, b.over_daily_limit], ['3.00', '4.00', true]);
  assert.deepEqual(b.levels_crossed, ['daily']);
  const none = await project('nolimits', 'No limits');
  assert.equal((await w.fetch('/api/usage/stats', { key: none })).json.budget, null);
  assert.equal((await admin('/api/usage/stats')).json.budget, undefined, 'all projects: no single budget');
  assert.equal((await admin('/api/usage/stats?project_id=selfcheck')).json.budget.spend.amount, '4.00');
});

test('one call sets up a project with every budget setting, and a bad setting creates nothing', async () => {
  const body = {
    id: 'one-call', name: 'One call', client: 'Acme',
    budget: { amount: '250', currency: 'EUR' }, alert_levels: [50, 90], daily_limit: '20',
    timezone: 'Europe/Berlin', alert_emails: ['ops@example.com', 'cfo@example.com'],
    webhook_url: 'https://hooks.example.com/one-call', report_schedule: 'weekly',
    spike_alert: { percent: 300, min_spend: '5' },
  };
  const created = await admin('/api/admin/projects', { method: 'POST', body });
  assert.equal(created.status, 201, created.text);
  assert.deepEqual([created.json.id, created.json.name, created.json.client], ['one-call', 'One call', 'Acme']);
  assert.match(created.json.budget_settings.webhook_secret, /^whsec_/, 'the signing secret is shown once, as a budget PATCH shows it');
  const budget = (await admin('/api/admin/projects/one-call/budget')).json;
  assert.deepEqual(
    [budget.budget.amount, budget.budget.currency, budget.alert_levels, budget.daily_limit.amount, budget.daily_limit.currency,
      budget.period.timezone, budget.alert_emails, budget.webhook_url, budget.report_schedule, budget.spike_alert.percent],
    ['250.00', 'EUR', [50, 90, 100], '20.00', 'EUR', 'Europe/Berlin', ['ops@example.com', 'cfo@example.com'],
      'https://hooks.example.com/one-call', 'weekly', 300],
  );

  // Problems in the project's own fields and in its settings are named together; nothing is created.
  const before = await w.snapshot();
  const bad = await admin('/api/admin/projects', { method: 'POST', body: { id: 'Bad Id!', name: 'x', alert_levels: [0], timezone: 'Mars/Base' } });
  assert.equal(bad.status, 400, bad.text);
  assert.deepEqual(bad.json.error.details.map((d) => d.field).sort(), ['alert_levels[0]', 'id', 'timezone']);
  const unknown = await admin('/api/admin/projects', { method: 'POST', body: { id: 'typo', name: 'x', alert_emials: ['a@example.com'] } });
  assert.equal(unknown.status, 400, unknown.text);
  assert.equal(unknown.json.error.details[0].field, 'alert_emials');
  assert.deepEqual(await w.snapshot(), before, 'a refused setup writes nothing');

  // The id taken: 409, and the existing project's settings are untouched.
  const again = await admin('/api/admin/projects', { method: 'POST', body: { ...body, alert_emails: ['intruder@example.com'] } });
  assert.equal(again.status, 409, again.text);
  assert.deepEqual([again.json.error.code, again.json.error.details.map((d) => d.field)], ['conflict', ['id']], 'the 409 names the field');
  assert.deepEqual((await admin('/api/admin/projects/one-call/budget')).json.alert_emails, ['ops@example.com', 'cfo@example.com']);
});

test('seed 004\'s alert percent sent after alert levels replaces them: at 85% of a 95% threshold nothing is crossed', async () => {
  const key = await project('t95', 'T95', { budget_threshold_usd: '100', alert_levels: [50, 80, 100] });
  const patched = await admin('/api/admin/projects/t95/budget', { method: 'PATCH', body: { budget_threshold_usd: 100.0, budget_alert_threshold_percent: 95 } });
  assert.equal(patched.status, 200, patched.text);
  assert.deepEqual([patched.json.budget_alert_threshold_percent, patched.json.alert_levels], [95, [95, 100]]);
  await spend(key, '85');
  assert.deepEqual(mine(await check('GET', 't95'), 't95').levels_crossed, []);
  await spend(key, '10');
  assert.deepEqual(mine(await check('GET', 't95'), 't95').levels_crossed, ['budget-95']);
});

test('PATCH of a project keeps its budget in another currency, and its dollar budget and percent are applied as the budget route applies them', async () => {
  await project('eur', 'Euros', { budget: { amount: '10', currency: 'EUR' }, alert_levels: [30, 60, 100], daily_limit: '2' });
  const renamed = await admin('/api/admin/projects/eur', { method: 'PATCH', body: { description: 'renamed only' } });
  assert.equal(renamed.status, 200, renamed.text);
  let settings = (await admin('/api/admin/projects/eur/budget')).json;
  assert.deepEqual([settings.budget, settings.alert_levels, settings.daily_limit?.amount], [{ amount: '10.00', currency: 'EUR', value: 10 }, [30, 60, 100], '2.00']);
  const dollars = await admin('/api/admin/projects/eur', { method: 'PATCH', body: { budget_threshold_usd: '50', budget_alert_threshold_percent: 90 } });
  assert.equal(dollars.status, 400, 'a dollar budget with a daily limit in euros is refused, as the budget route refuses it');
  const bad = await admin('/api/admin/projects/eur', { method: 'PATCH', body: { name: ' ', budget_threshold_usd: '-5' } });
  assert.deepEqual([bad.status, bad.json.error.details.map((d) => d.field)], [400, ['name', 'budget_threshold_usd']]);
  settings = (await admin('/api/admin/projects/eur/budget')).json;
  assert.deepEqual(settings.budget.currency, 'EUR', 'nothing written');
  await admin('/api/admin/projects/eur/budget', { method: 'PATCH', body: { daily_limit: null } });
  const usd = await admin('/api/admin/projects/eur', { method: 'PATCH', body: { budget_threshold_usd: '50', budget_alert_threshold_percent: 90 } });
  assert.equal(usd.status, 200, usd.text);
  assert.deepEqual([usd.json.budget_threshold_usd, usd.json.budget_alert_threshold_percent], ['50.00', 90]);
  settings = (await admin('/api/admin/projects/eur/budget')).json;
  assert.deepEqual([settings.budget.amount, settings.budget.currency, settings.status.levels], ['50.00', 'USD', [90, 100]]);
});

test('the usage report\'s budget status counts the month of the budget\'s own time zone, in the project\'s currency', async () => {
  const key = await project('nyc', 'Kiritimati', { budget: { amount: '100', currency: 'USD' }, timezone: 'Pacific/Kiritimati' });
  const gbp = await project('pounds', 'Pounds', { daily_limit: { amount: '100', currency: 'GBP' } });
  // Kiritimati is UTC+14: its month began 14 hours before the UTC month.
  const now = new Date();
  const utcMonth = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1);
  const inKiritimatiMonth = new Date(utcMonth - 6 * 3_600_000).toISOString();
  await spend(key, '3', { currency: 'USD', timestamp: inKiritimatiMonth });
  await spend(key, '4', { currency: 'USD' });
  await spend(gbp, '12.29', { currency: 'GBP' });
  const rows = (await admin('/api/admin/usage?group=project&preset=month')).json.rows;
  const budgetOf = (id) => rows.find((r) => r.project_id === id)?.budget;
  const status = (await admin('/api/admin/projects/nyc/budget')).json.status;
  assert.deepEqual([budgetOf('nyc').month_to_date.amount, budgetOf('nyc').percent_used], [status.spend.amount, status.percent_used]);
  // Unless Kiritimati has already begun the next month (the last 14 hours of a UTC month).
  const kiritimatiMonth = new Date(now.getTime() + 14 * 3_600_000).getUTCMonth();
  assert.equal(budgetOf('nyc').month_to_date.amount, kiritimatiMonth === now.getUTCMonth() ? '7.00' : '4.00');
  assert.deepEqual([budgetOf('pounds').month_to_date.amount, budgetOf('pounds').month_to_date.currency], ['12.29', 'GBP']);
});

test('a budget level is alerted again in a new month, and the daily limit on a new day, though less than 24 hours after the last', async () => {
  const own = await startWorker({ bindings: OFF });
  try {
    const call = (path, init = {}) => own.fetch(path, { key: ADMIN_KEY, ...init });
    for (const [id, body] of [['monthly', { budget_threshold_usd: '1' }], ['daily', { daily_limit: '1' }]]) {
      assert.equal((await call('/api/admin/projects', { method: 'POST', body: { id, name: id, alert_emails: ['ops@example.com'], ...body } })).status, 201);
    }
    const now = new Date();
    const monthStart = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1);
    const dayStart = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() - 2);
    const hours = (base, h) => new Date(base + h * 3_600_000);
    const cron = await own.mf.getWorker();
    const sent = async (id, level) => (await call(`/api/admin/alerts?project_id=${id}`)).json.alerts
      .filter((a) => a.level === level && a.status === 'sent').length;
    // The month before last ends over its budget, and so does last month, 5 hours later.
    for (const [id, base] of [['monthly', monthStart], ['daily', dayStart]]) {
      const before = { project_id: id, id: `${id}-1`, provider: 'acme', cost: '1.50', currency: 'USD', timestamp: hours(base, -4).toISOString() };
      assert.equal((await call('/api/usage', { method: 'POST', body: before })).status, 201);
      await cron.scheduled({ cron: '0 */6 * * *', scheduledTime: hours(base, -3) });
      const after = { ...before, id: `${id}-2`, timestamp: hours(base, 0.5).toISOString() };
      assert.equal((await call('/api/usage', { method: 'POST', body: after })).status, 201);
      await cron.scheduled({ cron: '0 */6 * * *', scheduledTime: hours(base, 1) });
      // A third run in the same period sends nothing more.
      await cron.scheduled({ cron: '0 */6 * * *', scheduledTime: hours(base, 2) });
    }
    assert.equal(await sent('monthly', 'budget-100'), 2, 'once for each month');
    assert.equal(await sent('daily', 'daily'), 2, 'once for each day');
  } finally {
    await own.dispose();
  }
});
