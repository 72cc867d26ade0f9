// Subscriptions, allotments, capacity and their alerts, against the built worker. Figures are
// compared with values computed by hand from the seed teams' plans.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWorker, ADMIN_KEY } from './support/worker.mjs';

let w;
let key;
before(async () => {
  // What the check itself sends is what these tests read: alerts at ingest time (tested in
  // guard.test.mjs) are off here.
  w = await startWorker({ bindings: { INGEST_ALERTS: 'off' } });
  await w.fetch('/api/admin/projects', { method: 'POST', key: ADMIN_KEY, body: { id: 'studio', name: 'Studio' } });
  key = (await w.fetch('/api/admin/projects/studio/keys', { method: 'POST', key: ADMIN_KEY })).json.key;
});
after(async () => w?.dispose());

const admin = (path, init = {}) => w.fetch(path, { key: ADMIN_KEY, ...init });
const put = async (path, body) => {
  const r = await admin(path, { method: 'PUT', body });
  assert.equal(r.status, 200, `${path} ${JSON.stringify(body)}: ${r.text}`);
  return r.json;
};

test('the seed plans with a month of clips: used, remaining and capacity match the figures by hand', async () => {
  await put('/api/admin/subscriptions', { provider: 'heygen', name: 'HeyGen', monthly_fee: '29', allotment: { amount: '10', unit: 'credits' }, reserve: '2', alert_percent: 80, alert_emails: ['ops@example.com'] });
  await put('/api/admin/subscriptions', { provider: 'elevenlabs', monthly_fee: '99', allotment: { amount: '565455', unit: 'credits' }, counts: { usage: 'characters', per: '1' } });
  await put('/api/admin/subscriptions', { provider: 'lahajati', monthly_fee: '11', allotment: { amount: '1000000', unit: 'points' } });
  await put('/api/admin/subscriptions', { provider: 'loudly', monthly_fee: '180', allotment: { amount: '3000', unit: 'tracks' } });
  await put('/api/admin/subscriptions', { provider: 'openai', monthly_fee: '0', allotment: { amount: '20', unit: 'money' } });
  const profile = await put('/api/admin/capacity/profiles', { name: 'clip', alert_below: 12, items: [
    { provider: 'heygen', amount: '0.5', unit: 'credits' },
    { provider: 'elevenlabs', amount: '150', unit: 'credits' },
    { provider: 'openai', amount: '0.045', unit: 'money' },
  ] });
  assert.deepEqual([profile.units_left, profile.bottleneck], [16, 'heygen'], 'before any usage: (10 - 2 reserve) / 0.5');

  // Eight clips this month, each: 0.5 HeyGen credits, 150 ElevenLabs characters, $0.045 of
  // OpenAI; plus Loudly tracks (two of them cache hits) and Lahajati characters.
  const now = Date.now();
  const events = [];
  for (let c = 0; c < 8; c += 1) {
    const timestamp = new Date(now - (c + 1) * 60_000).toISOString();
    events.push({ id: `hg-${c}`, provider: 'heygen', credits: '0.5', job_id: `clip-${c}`, operation: 'video', timestamp });
    events.push({ id: `el-${c}`, provider: 'elevenlabs', characters: 150, job_id: `clip-${c}`, operation: 'voice', timestamp });
    events.push({ id: `oa-${c}`, provider: 'openai', model: 'gpt-4o-mini', cost: '0.045', job_id: `clip-${c}`, operation: 'script', timestamp });
  }
  for (let t = 0; t < 5; t += 1) events.push({ id: `ld-${t}`, provider: 'loudly', tracks: 1, cached: t >= 3 });
  events.push({ id: 'lh-1', provider: 'lahajati', characters: 2500 });
  const r = await w.fetch('/api/usage', { method: 'POST', key, body: { events } });
  assert.equal(r.status, 201, r.text);

  const subs = (await admin('/api/admin/subscriptions')).json;
  const plan = (p) => subs.subscriptions.find((s) => s.provider === p);
  assert.deepEqual([plan('heygen').used, plan('heygen').remaining, plan('heygen').available, plan('heygen').percent_used], ['4', '6', '4', '40.00']);
  assert.deepEqual([plan('elevenlabs').used, plan('elevenlabs').remaining], ['1200', '564255']);
  assert.equal(plan('loudly').used, '3', 'the two cache hits use no tracks');
  assert.equal(plan('lahajati').used, '2500');
  assert.deepEqual([plan('openai').used, plan('openai').remaining], ['0.36', '19.64']);
  assert.equal(plan('heygen').period.days_left > 0, true);
  assert.deepEqual(subs.fees.map((m) => m.amount), ['319.00']);
  assert.deepEqual(subs.usage_spend.map((m) => m.amount), ['0.36'], 'only the money plan is usage-priced');
  assert.deepEqual(subs.monthly_cost.map((m) => m.amount), ['319.36']);

  const cap = (await admin('/api/admin/capacity')).json.profiles.find((p) => p.name === 'clip');
  const left = Object.fromEntries(cap.per_provider.map((p) => [p.provider, p.units_left]));
  // HeyGen (10 - 4 - 2) / 0.5 = 8; ElevenLabs 564255 / 150 = 3761; OpenAI 19.64 / 0.045 = 436.
  assert.deepEqual(left, { heygen: 8, elevenlabs: 3761, openai: 436 });
  assert.deepEqual([cap.units_left, cap.bottleneck], [8, 'heygen']);
  const heygen = cap.per_provider.find((p) => p.provider === 'heygen');
  assert.equal(heygen.daily_rate, (Math.round((8 * 100) / heygen.days_left) / 100).toFixed(2));

  // 8 clips left is under the profile's alert level (12); HeyGen is at 40%, under its 80%.
  const check = (await admin('/api/admin/usage/check-budgets', { method: 'POST' })).json;
  const capacityAlert = check.plans.find((p) => p.level === 'capacity-clip');
  assert.equal(capacityAlert.action, 'sent', JSON.stringify(check.plans));
  assert.match(capacityAlert.message, /Only 8 more "clip" fit/);
  assert.ok(!check.plans.some((p) => p.level.startsWith('plan-heygen')));
  const again = (await admin('/api/admin/usage/check-budgets', { method: 'POST' })).json;
  assert.equal(again.plans.find((p) => p.level === 'capacity-clip').action, 'rate_limited');
});

test('a learned profile averages the jobs of an operation', async () => {
  const learned = await put('/api/admin/capacity/profiles', { name: 'learned', learn: { operations: ['video', 'voice'], days: 30 } });
  const items = Object.fromEntries(learned.items.map((i) => [i.provider, i.amount]));
  assert.deepEqual(items, { heygen: '0.5', elevenlabs: '150' });
  assert.equal(learned.units_left, 8);
  assert.equal(learned.note, 'learned from 8 past jobs');
});

test('bad plans and profiles are refused naming the field, and deletes answer 204 then 404', async () => {
  for (const [body, field] of [
    [{ provider: 'x', monthly_fee: '1', allotment: { amount: '-5', unit: 'credits' } }, 'allotment.amount'],
    [{ provider: 'x', monthly_fee: '1', allotment: { amount: '5', unit: 'bananas' } }, 'allotment.unit'],
    [{ provider: 'x', monthly_fee: '1', reset_day: 31 }, 'reset_day'],
    [{ provider: 'x', monthly_fee: '1', reset_day: 0 }, 'reset_day'],
    [{ provider: 'x', monthly_fee: 'free' }, 'monthly_fee'],
    [{ provider: 'x', monthly_fee: '1', allotment: { amount: '5', unit: 'credits' }, counts: { usage: 'vibes' } }, 'counts.usage'],
  ]) {
    const r = await admin('/api/admin/subscriptions', { method: 'PUT', body });
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.equal(r.json.error.details[0].field, field, r.text);
  }
  const p = await admin('/api/admin/capacity/profiles', { method: 'PUT', body: { name: 'bad', items: [{ provider: 'nobody-we-know', amount: '1', unit: 'credits' }] } });
  assert.deepEqual([p.status, p.json.error.details[0].field], [400, 'items[0].provider']);
  // Finer than the plans count (it would count as nothing), and one provider's unit twice.
  const fine = await admin('/api/admin/capacity/profiles', { method: 'PUT', body: { name: 'bad', items: [{ provider: 'heygen', amount: '0.3333333', unit: 'credits' }] } });
  assert.deepEqual([fine.status, fine.json.error.details[0].field], [400, 'items[0].amount'], fine.text);
  const twice = await admin('/api/admin/capacity/profiles', { method: 'PUT', body: { name: 'bad', items: [{ provider: 'heygen', amount: '0.25', unit: 'credits' }, { provider: 'heygen', amount: '0.25', unit: 'credits' }] } });
  assert.deepEqual([twice.status, twice.json.error.details[0].field], [400, 'items[1].provider'], twice.text);
  assert.equal((await admin('/api/admin/subscriptions?provider=lahajati', { method: 'DELETE' })).status, 204);
  assert.equal((await admin('/api/admin/subscriptions?provider=lahajati', { method: 'DELETE' })).status, 404);
  assert.equal((await admin('/api/admin/capacity/profiles?name=learned', { method: 'DELETE' })).status, 204);
  assert.equal((await admin('/api/admin/capacity/profiles?name=learned', { method: 'DELETE' })).status, 404);
  assert.equal((await w.fetch('/api/admin/capacity', { key })).status, 403);
});

test('a one-time credit is drawn over its term, counted down to its expiry, and paid usage is taken off the month\'s cost', async () => {
  const DAY = 86_400_000;
  const day = (offset) => new Date(Date.now() + offset * DAY).toISOString().slice(0, 10);
  // A credit for this project only, started 10 days ago, expiring in 88 days.
  const credit = { provider: 'google-cloud', project_id: 'studio', name: 'Trial credit', allotment: { amount: '300', unit: 'money' }, term: { starts: day(-10), expires: day(88) } };
  await put('/api/admin/subscriptions', credit);
  const events = [
    { id: 'gc-1', provider: 'google-cloud', model: 'chirp', characters: 1000, cost: '10.25' },
    { id: 'gc-2', provider: 'google-cloud', model: 'chirp', characters: 1000, cost: '4.75' },
  ];
  assert.equal((await w.fetch('/api/usage', { method: 'POST', key, body: { events } })).status, 201);
  const before = (await admin('/api/admin/subscriptions')).json;
  const gc = before.subscriptions.find((s) => s.provider === 'google-cloud');
  assert.deepEqual([gc.used, gc.remaining, gc.available, gc.expired, gc.reset_day], ['15.00', '285.00', '285.00', false, null]);
  assert.deepEqual(gc.term, credit.term);
  assert.deepEqual([gc.period.from.slice(0, 10), gc.period.to.slice(0, 10), gc.period.days_left], [day(-10), day(88), 88]);
  assert.deepEqual(before.credits_applied.map((m) => m.amount), ['15.00'], 'the month\'s usage paid from the credit');
  const usage = before.usage_spend.find((m) => m.currency === 'USD').amount;
  const fees = before.fees.find((m) => m.currency === 'USD').amount;
  const cents = (t) => Math.round(Number(t) * 100);
  assert.equal(cents(before.monthly_cost.find((m) => m.currency === 'USD').amount), cents(fees) + cents(usage) - 1500);

  // Five days before it expires with most of it unused, the budget check warns its recipients.
  await put('/api/admin/subscriptions', { ...credit, term: { starts: day(-80), expires: day(5) }, alert_emails: ['ops@example.com'] });
  const dry = (await admin('/api/admin/usage/check-budgets')).json;
  const notice = dry.plans.find((p) => p.level === 'credit-expiry-google-cloud@studio-money');
  assert.ok(notice, JSON.stringify(dry.plans));
  assert.equal(notice.action, 'would_send');
  assert.deepEqual(notice.alerts.map((a) => [a.recipient, a.status]), [['ops@example.com', 'would_send']]);
  assert.equal(notice.message, `The google-cloud one-time credit expires on ${day(5)} (in 5 days) with 285.00 of 300.00 USD unused; usage after that is paid at list price.`);
  // A second credit of the same provider in another unit has a notice of its own, sent too.
  const seconds = { ...credit, name: 'Speech seconds', allotment: { amount: '100000', unit: 'seconds' }, term: { starts: day(-80), expires: day(5) }, alert_emails: ['speech@example.com'] };
  await put('/api/admin/subscriptions', seconds);
  const both = (await admin('/api/admin/usage/check-budgets', { method: 'POST' })).json.plans.filter((p) => p.level.startsWith('credit-expiry'));
  assert.deepEqual(both.map((p) => [p.level, p.action]).sort(), [
    ['credit-expiry-google-cloud@studio-money', 'sent'], ['credit-expiry-google-cloud@studio-seconds', 'sent'],
  ]);
  assert.equal((await admin('/api/admin/subscriptions?provider=google-cloud&project_id=studio&unit=seconds', { method: 'DELETE' })).status, 204);
  await put('/api/admin/subscriptions', { ...credit, alert_emails: ['ops@example.com'] });
  assert.ok(!(await admin('/api/admin/usage/check-budgets')).json.plans.some((p) => p.level.startsWith('credit-expiry')), '88 days before: no notice');

  // Once expired, nothing of it is left.
  await put('/api/admin/subscriptions', { ...credit, term: { starts: day(-40), expires: day(-1) } });
  const expired = (await admin('/api/admin/subscriptions')).json.subscriptions.find((s) => s.provider === 'google-cloud');
  assert.deepEqual([expired.expired, expired.remaining, expired.available, expired.period.days_left], [true, '0.00', '0.00', 0]);

  for (const [body, field] of [
    [{ ...credit, term: { starts: day(1), expires: day(1) } }, 'term.expires'],
    [{ ...credit, monthly_fee: '9' }, 'monthly_fee'],
    [{ ...credit, reset_day: 5 }, 'reset_day'],
    [{ provider: 'google-cloud', term: credit.term }, 'allotment'],
  ]) {
    const r = await admin('/api/admin/subscriptions', { method: 'PUT', body });
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.equal(r.json.error.details[0].field, field, r.text);
  }
  assert.equal((await admin('/api/admin/subscriptions?provider=google-cloud&project_id=studio', { method: 'DELETE' })).status, 204);
});

test('a reading from the provider\'s dashboard sets what was used, and recorded usage since its hour adds to it', async () => {
  // Three hours ago, or the start of this period (reset day 1) if that is later.
  const now = new Date();
  const monthStart = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1);
  const at = new Date(Math.max(now.getTime() - 3 * 3_600_000, monthStart));
  const hourStart = new Date(Math.floor(at.getTime() / 3_600_000) * 3_600_000);
  await put('/api/admin/subscriptions', { provider: 'lahajati', project_id: 'studio', monthly_fee: '11', allotment: { amount: '1000000', unit: 'points' }, reading: { used: '400000', at: at.toISOString() } });
  const events = [
    { id: 'lj-before', provider: 'lahajati', characters: 7000, timestamp: new Date(hourStart.getTime() - 60_000).toISOString() },
    { id: 'lj-after', provider: 'lahajati', characters: 2500 },
  ];
  const r = await w.fetch('/api/usage', { method: 'POST', key, body: { events } });
  assert.equal(r.status, 201, r.text);
  const plan = (await admin('/api/admin/subscriptions')).json.subscriptions.find((s) => s.provider === 'lahajati' && s.project_id === 'studio');
  assert.deepEqual(plan.reading, { used: '400000', at: at.toISOString(), applied: true });
  // The reading, plus what was recorded since its hour began (2,500 here and the 2,500 of the
  // first test, moments ago), not the 7,000 before it.
  assert.equal(plan.used, '405000');
  assert.equal(plan.remaining, '595000');
  const bad = await admin('/api/admin/subscriptions', { method: 'PUT', body: { provider: 'lahajati', monthly_fee: '11', allotment: { amount: '1', unit: 'points' }, reading: { used: '5', at: 'last tuesday' } } });
  assert.deepEqual([bad.status, bad.json.error.details[0].field], [400, 'reading.at']);
  assert.equal((await admin('/api/admin/subscriptions?provider=lahajati&project_id=studio', { method: 'DELETE' })).status, 204);
});

test('usage past an allotment with an overage price is charged in the month\'s cost', async () => {
  await put('/api/admin/subscriptions', { provider: 'hume', project_id: 'studio', monthly_fee: '10', allotment: { amount: '60', unit: 'seconds' }, counts: { usage: 'audio_seconds', per: '1' }, overage: { price: '0.07', per: '60' } });
  const r = await w.fetch('/api/usage', { method: 'POST', key, body: { id: 'hume-long', provider: 'hume', model: 'evi', audio_seconds: '150', cost: '0' } });
  assert.equal(r.status, 201, r.text);
  const subs = (await admin('/api/admin/subscriptions')).json;
  const hume = subs.subscriptions.find((s) => s.provider === 'hume');
  // 90 seconds past the 60: 1.5 minutes at $0.07.
  assert.deepEqual([hume.used, hume.overage.units, hume.overage.cost.amount], ['150', '90', '0.105']);
  assert.deepEqual(subs.overage.map((m) => m.amount), ['0.105']);
  const bad = await admin('/api/admin/subscriptions', { method: 'PUT', body: { provider: 'hume', monthly_fee: '1', allotment: { amount: '1', unit: 'seconds' }, overage: { price: '1', per: '0' } } });
  assert.deepEqual([bad.status, bad.json.error.details[0].field], [400, 'overage.per']);
  assert.equal((await admin('/api/admin/subscriptions?provider=hume&project_id=studio', { method: 'DELETE' })).status, 204);
});

test('a provider can have a plan per unit (Lahajati points and voice minutes); a delete names the unit or takes them all', async () => {
  await put('/api/admin/subscriptions', { provider: 'lahajati', project_id: 'studio', monthly_fee: '11', allotment: { amount: '1000000', unit: 'points' } });
  const minutes = await put('/api/admin/subscriptions', { provider: 'lahajati', project_id: 'studio', monthly_fee: '0', allotment: { amount: '1500', unit: 'minutes' } });
  assert.equal(minutes.unit, 'minutes', 'the answer is the plan just saved');
  const r = await w.fetch('/api/usage', { method: 'POST', key, body: { id: 'lj-dub', provider: 'lahajati', characters: 4000, audio_seconds: '90', cost: '0' } });
  assert.equal(r.status, 201, r.text);
  const mine = async () => (await admin('/api/admin/subscriptions')).json.subscriptions.filter((s) => s.provider === 'lahajati' && s.project_id === 'studio');
  const both = await mine();
  assert.deepEqual(both.map((s) => s.unit).sort(), ['minutes', 'points']);
  assert.equal(both.find((s) => s.unit === 'minutes').used, '1.5', '90 seconds, exactly');
  assert.equal(both.find((s) => s.unit === 'points').allotment.amount, '1000000', 'the points plan was not replaced');
  assert.equal((await admin('/api/admin/subscriptions?provider=lahajati&project_id=studio&unit=minutes', { method: 'DELETE' })).status, 204);
  assert.deepEqual((await mine()).map((s) => s.unit), ['points']);
  assert.equal((await admin('/api/admin/subscriptions?provider=lahajati&project_id=studio&unit=parsecs', { method: 'DELETE' })).status, 400);
  assert.equal((await admin('/api/admin/subscriptions?provider=lahajati&project_id=studio', { method: 'DELETE' })).status, 204);
  assert.deepEqual(await mine(), []);
});

test('the plans as of a past instant: that period\'s use and that month\'s cost (the seed teams\' month picker)', async () => {
  await put('/api/admin/subscriptions', { provider: 'loudly', project_id: 'studio', monthly_fee: '180', allotment: { amount: '3000', unit: 'tracks' } });
  const now = new Date();
  const monthStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  const lastMonthEnd = new Date(monthStart.getTime() - 1).toISOString();
  const lastMonth = lastMonthEnd.slice(0, 7);
  const r = await w.fetch('/api/usage', { method: 'POST', key, body: { events: [
    { id: 'ld-past-1', provider: 'loudly', tracks: 4, timestamp: new Date(monthStart.getTime() - 3_600_000).toISOString() },
    { id: 'ld-past-2', provider: 'loudly', tracks: 1, timestamp: new Date(monthStart.getTime() - 7_200_000).toISOString() },
  ] } });
  assert.equal(r.status, 201, r.text);
  const then = (await admin(`/api/admin/subscriptions?at=${encodeURIComponent(lastMonthEnd)}`)).json;
  assert.deepEqual([then.as_of, then.month], [lastMonthEnd, lastMonth]);
  const plan = then.subscriptions.find((s) => s.provider === 'loudly' && s.project_id === 'studio');
  assert.equal(plan.used, '5', 'last month\'s tracks');
  assert.equal(plan.period.to, monthStart.toISOString());
  const current = (await admin('/api/admin/subscriptions')).json.subscriptions.find((s) => s.provider === 'loudly' && s.project_id === 'studio');
  assert.equal(current.period.from, monthStart.toISOString());
  assert.notEqual(current.used, '5');
  assert.equal((await admin('/api/admin/subscriptions?at=tomorrow')).status, 400);
  assert.equal((await admin(`/api/admin/subscriptions?at=${encodeURIComponent(new Date(Date.now() + 86_400_000).toISOString())}`)).status, 400);
  assert.equal((await admin('/api/admin/subscriptions?provider=loudly&project_id=studio', { method: 'DELETE' })).status, 204);
});

test('the plans as of a past instant count only the usage recorded until then: a credit\'s later event, a monthly plan\'s later calls and the quarter hour under way are left out', async () => {
  await admin('/api/admin/projects', { method: 'POST', body: { id: 'asof', name: 'As of' } });
  const asof = (await admin('/api/admin/projects/asof/keys', { method: 'POST' })).json.key;
  const DAY = 86_400_000;
  const today = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate());
  const day = (offset) => new Date(today + offset * DAY).toISOString().slice(0, 10);
  // The auditor's case, five days ago: a one-time credit and a monthly plan, with calls at
  // 17:50, at 18:02 and three days later.
  const base = today - 5 * DAY;
  const iso = (ms) => new Date(base + ms).toISOString();
  const hm = (h, m) => (h * 60 + m) * 60_000;
  await put('/api/admin/subscriptions', { provider: 'google-cloud', project_id: 'asof', allotment: { amount: '300', unit: 'money' }, term: { starts: day(-30), expires: day(60) } });
  await put('/api/admin/subscriptions', { provider: 'heygen', project_id: 'asof', monthly_fee: '29', allotment: { amount: '10', unit: 'credits' } });
  const call = (id, provider, at, usage) => ({ id, provider, timestamp: at, ...usage });
  const events = [
    call('gc-before', 'google-cloud', iso(hm(17, 50)), { model: 'chirp', characters: 1, cost: '0.5' }),
    call('gc-after', 'google-cloud', iso(hm(18, 2)), { model: 'chirp', characters: 1, cost: '0.012' }),
    call('gc-later', 'google-cloud', iso(3 * DAY), { model: 'chirp', characters: 1, cost: '1' }),
    call('hg-before', 'heygen', iso(hm(17, 50)), { credits: '2' }),
    call('hg-after', 'heygen', iso(hm(18, 2)), { credits: '3' }),
    call('hg-later', 'heygen', iso(3 * DAY), { credits: '4' }),
  ];
  const r = await w.fetch('/api/usage', { method: 'POST', key: asof, body: { events } });
  assert.equal(r.status, 201, r.text);
  const at = async (instant) => {
    const answer = await admin(`/api/admin/subscriptions?at=${encodeURIComponent(instant)}`);
    assert.equal(answer.status, 200, answer.text);
    const mine = (provider) => answer.json.subscriptions.find((s) => s.provider === provider && s.project_id === 'asof');
    const [credit, heygen] = [mine('google-cloud'), mine('heygen')];
    return {
      credit: [credit.used, credit.remaining, credit.period.days_left],
      heygen: [heygen.used, heygen.remaining],
      credits_applied: answer.json.credits_applied.map((m) => m.amount),
    };
  };
  // At 18:00 and at 18:07 (its quarter hour not over yet), the 18:02 calls are not counted.
  // The other tests' credits were used now, after the instant, so only this one's is applied.
  for (const instant of [iso(hm(18, 0)), iso(hm(18, 7))]) {
    assert.deepEqual(await at(instant), { credit: ['0.50', '299.50', 60 + 5], heygen: ['2', '8'], credits_applied: ['0.50'] }, instant);
  }
  assert.deepEqual(await at(iso(hm(23, 59) + 59_999)), { credit: ['0.512', '299.488', 60 + 4], heygen: ['5', '5'], credits_applied: ['0.512'] }, 'the day\'s end');
  const current = (await admin('/api/admin/subscriptions')).json.subscriptions.find((s) => s.provider === 'google-cloud' && s.project_id === 'asof');
  assert.equal(current.used, '1.512', 'now, every call of the term');
  for (const provider of ['google-cloud', 'heygen']) {
    assert.equal((await admin(`/api/admin/subscriptions?provider=${provider}&project_id=asof`, { method: 'DELETE' })).status, 204);
  }
});

test('the month picker shows the plans as they were: an old fee before its change, a plan only from its since day, a deleted plan in its months', async () => {
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const at = async (instant) => {
    const r = await admin(`/api/admin/subscriptions?at=${encodeURIComponent(instant)}`);
    assert.equal(r.status, 200, r.text);
    return Object.fromEntries(r.json.subscriptions
      .filter((s) => s.project_id === 'history')
      .map((s) => [s.provider, s.monthly_fee.amount]));
  };
  await admin('/api/admin/projects', { method: 'POST', body: { id: 'history', name: 'History' } });
  const monthStart = new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), 1));
  const lastMonth = new Date(monthStart.getTime() - 86_400_000).toISOString();
  const today = new Date().toISOString().slice(0, 10);
  const hume = (fee) => ({ provider: 'hume', project_id: 'history', monthly_fee: fee, allotment: { amount: '100', unit: 'minutes' } });

  await put('/api/admin/subscriptions', hume('10'));
  await sleep(5);
  const beforeChange = new Date().toISOString();
  await sleep(5);
  await put('/api/admin/subscriptions', hume('20'));
  await put('/api/admin/subscriptions', { provider: 'loudly', project_id: 'history', monthly_fee: '180', allotment: { amount: '3000', unit: 'tracks' }, since: today });
  await sleep(5);
  const beforeDelete = new Date().toISOString();
  await sleep(5);
  assert.equal((await admin('/api/admin/subscriptions?provider=hume&project_id=history', { method: 'DELETE' })).status, 204);

  assert.deepEqual(await at(lastMonth), { hume: '10.00' }, 'a first version counts since always; loudly only from today');
  assert.deepEqual(await at(beforeChange), { hume: '10.00', loudly: '180.00' }, 'the fee before its change; loudly in force all of its since day');
  assert.deepEqual(await at(beforeDelete), { hume: '20.00', loudly: '180.00' });
  assert.deepEqual(await at(new Date().toISOString()), { loudly: '180.00' }, 'deleted since');
  const current = (await admin('/api/admin/subscriptions')).json.subscriptions.filter((s) => s.project_id === 'history');
  assert.deepEqual(current.map((s) => [s.provider, s.since]), [['loudly', today]]);

  const tomorrow = new Date(Date.now() + 2 * 86_400_000).toISOString().slice(0, 10);
  const refused = await admin('/api/admin/subscriptions', { method: 'PUT', body: { ...hume('10'), since: tomorrow } });
  assert.deepEqual([refused.status, refused.json.error.details?.[0]?.field ?? refused.json.error.field], [400, 'since'], refused.text);
  const credit = await admin('/api/admin/subscriptions', { method: 'PUT', body: { provider: 'google', project_id: 'history', allotment: { amount: '300', unit: 'money' }, term: { starts: '2026-01-01', expires: '2026-04-01' }, since: '2026-01-01' } });
  assert.deepEqual([credit.status, credit.json.error.details[0].field], [400, 'since'], credit.text);
  assert.equal((await admin('/api/admin/subscriptions?provider=loudly&project_id=history', { method: 'DELETE' })).status, 204);
});

test('a project profile\'s capacity alert goes to its own project\'s plan, never to another project\'s, and same-named profiles of two projects live side by side', async () => {
  for (const id of ['alpha', 'beta']) {
    const r = await admin('/api/admin/projects', { method: 'POST', body: { id, name: id } });
    assert.equal(r.status, 201, r.text);
  }
  // Each project has its own Hume plan with its own addresses; alpha's is saved first, so it
  // is the first Hume plan in any list.
  await put('/api/admin/subscriptions', { provider: 'hume', project_id: 'alpha', monthly_fee: '10', allotment: { amount: '100', unit: 'credits' }, alert_emails: ['alpha-ops@example.com'] });
  await put('/api/admin/subscriptions', { provider: 'hume', project_id: 'beta', monthly_fee: '10', allotment: { amount: '30', unit: 'credits' }, alert_emails: ['beta-ops@example.com'] });
  const a = await put('/api/admin/capacity/profiles', { name: 'voice-clip', project_id: 'alpha', alert_below: 1000, items: [{ provider: 'hume', amount: '1', unit: 'credits' }] });
  const b = await put('/api/admin/capacity/profiles', { name: 'voice-clip', project_id: 'beta', alert_below: 1000, items: [{ provider: 'hume', amount: '2', unit: 'credits' }] });
  assert.deepEqual([a.project_id, a.units_left], ['alpha', 100]);
  assert.deepEqual([b.project_id, b.units_left], ['beta', 15]);
  const both = (await admin('/api/admin/capacity')).json.profiles.filter((p) => p.name === 'voice-clip');
  assert.deepEqual(both.map((p) => [p.project_id, p.units_left]).sort(), [['alpha', 100], ['beta', 15]], 'saving beta\'s profile did not replace alpha\'s');
  // One project's view: its own profiles and the global ones, never another project's.
  const alphaView = (await admin('/api/admin/capacity?project_id=alpha')).json.profiles;
  assert.deepEqual(alphaView.filter((p) => p.name === 'voice-clip').map((p) => [p.project_id, p.units_left]), [['alpha', 100]]);
  assert.ok(alphaView.every((p) => !p.project_id || p.project_id === 'alpha'), JSON.stringify(alphaView));
  assert.equal(alphaView.filter((p) => !p.project_id).length, (await admin('/api/admin/capacity')).json.profiles.filter((p) => !p.project_id).length);
  // Capacity looks ahead from now: an `at` is refused, not silently ignored.
  const asOf = await admin('/api/admin/capacity?at=2026-01-01T00:00:00Z');
  assert.deepEqual([asOf.status, asOf.json.error.details?.[0]?.field ?? asOf.json.error.field], [400, 'at'], asOf.text);
  // A project that does not exist is not found, as its budget check is.
  const unknown = await admin('/api/admin/capacity?project_id=no-such-project');
  assert.deepEqual([unknown.status, (await admin('/api/admin/usage/check-budgets?project_id=no-such-project')).status], [404, 404], unknown.text);

  // One project's check (a dry run) takes in that project's plans and profiles, and only those
  // (and the global ones).
  const alphaCheck = (await admin('/api/admin/usage/check-budgets?project_id=alpha')).json;
  assert.deepEqual(alphaCheck.plans.filter((p) => p.level.startsWith('capacity-voice-clip')).map((p) => [p.level, p.action]),
    [['capacity-voice-clip@alpha', 'would_send']], JSON.stringify(alphaCheck.plans));
  assert.ok(alphaCheck.plans.every((p) => !p.project_id || p.project_id === 'alpha'), JSON.stringify(alphaCheck.plans));

  const check = (await admin('/api/admin/usage/check-budgets', { method: 'POST' })).json;
  const levels = check.plans.filter((p) => p.level.startsWith('capacity-voice-clip')).map((p) => [p.level, p.project_id, p.action]).sort();
  assert.deepEqual(levels, [['capacity-voice-clip@alpha', 'alpha', 'sent'], ['capacity-voice-clip@beta', 'beta', 'sent']], JSON.stringify(check.plans));
  const sentTo = async (project) => (await admin(`/api/admin/alerts?project_id=${project}`)).json.alerts
    .filter((x) => x.level.startsWith('capacity-voice-clip')).map((x) => [x.level, x.recipient]);
  assert.deepEqual(await sentTo('beta'), [['capacity-voice-clip@beta', 'beta-ops@example.com']]);
  assert.deepEqual(await sentTo('alpha'), [['capacity-voice-clip@alpha', 'alpha-ops@example.com']]);

  // A name alone is ambiguous between two projects; with the project it deletes only that one.
  const ambiguous = await admin('/api/admin/capacity/profiles?name=voice-clip', { method: 'DELETE' });
  assert.deepEqual([ambiguous.status, ambiguous.json.error.details[0].field], [400, 'project_id']);
  assert.equal((await admin('/api/admin/capacity/profiles?name=voice-clip&project_id=beta', { method: 'DELETE' })).status, 204);
  const left = (await admin('/api/admin/capacity')).json.profiles.filter((p) => p.name === 'voice-clip');
  assert.deepEqual(left.map((p) => p.project_id), ['alpha']);
  assert.equal((await admin('/api/admin/capacity/profiles?name=voice-clip&project_id=beta', { method: 'DELETE' })).status, 404);
  assert.equal((await admin('/api/admin/capacity/profiles?name=voice-clip', { method: 'DELETE' })).status, 204, 'the one left is found by its name alone');
});

test('an ElevenLabs credits plan counts the characters the helpers record, at each model\'s credit rate, and a plan counting what no event carries says so', async () => {
  const r = await admin('/api/admin/projects', { method: 'POST', body: { id: 'voices', name: 'Voices' } });
  assert.equal(r.status, 201, r.text);
  const voicesKey = (await admin('/api/admin/projects/voices/keys', { method: 'POST' })).json.key;
  await put('/api/admin/subscriptions', { provider: 'elevenlabs', project_id: 'voices', monthly_fee: '22', allotment: { amount: '100000', unit: 'credits' } });
  // Credits counted by a unit no event of the provider carries: Lahajati events carry characters.
  await put('/api/admin/subscriptions', { provider: 'lahajati', project_id: 'voices', monthly_fee: '11', allotment: { amount: '5000', unit: 'credits' } });
  const events = [
    { id: 'v-1', provider: 'elevenlabs', model: 'eleven_multilingual_v2', characters: 1200 },
    { id: 'v-2', provider: 'elevenlabs', model: 'eleven_v3', characters: 300 },
    { id: 'v-3', provider: 'elevenlabs', model: 'eleven_flash_v2_5', characters: 1000 },
    { id: 'v-4', provider: 'elevenlabs', model: 'eleven_turbo_v2_5', characters: 401 },
    { id: 'v-5', provider: 'lahajati', characters: 2500 },
  ];
  assert.equal((await w.fetch('/api/usage', { method: 'POST', key: voicesKey, body: { events } })).status, 201);
  const subs = (await admin('/api/admin/subscriptions')).json.subscriptions;
  const el = subs.find((s) => s.provider === 'elevenlabs' && s.project_id === 'voices');
  // 1200 + 300 at 1 credit a character, 1000 + 401 at 0.5: 2200.5 credits.
  assert.deepEqual([el.used, el.remaining, el.warning], ['2200.5', '97799.5', null]);
  const lh = subs.find((s) => s.provider === 'lahajati' && s.project_id === 'voices');
  assert.equal(lh.used, '0');
  assert.match(lh.warning, /counts credits, but none of the 1 lahajati events recorded this period carries it \(they carry characters\)/);
});

test('a global profile whose name ends in @<project> and that project\'s own profile of the same name are alerted apart, neither taken for the other', async () => {
  const r = await admin('/api/admin/projects', { method: 'POST', body: { id: 'gamma', name: 'Gamma' } });
  assert.equal(r.status, 201, r.text);
  await put('/api/admin/subscriptions', { provider: 'hume', project_id: 'gamma', monthly_fee: '10', allotment: { amount: '40', unit: 'credits' }, alert_emails: ['gamma-ops@example.com'] });
  await put('/api/admin/subscriptions', { provider: 'lahajati', name: 'Lahajati (global)', monthly_fee: '11', allotment: { amount: '1000000', unit: 'points' }, alert_emails: ['global-ops@example.com'] });
  const own = await put('/api/admin/capacity/profiles', { name: 'dub', project_id: 'gamma', alert_below: 1000, items: [{ provider: 'hume', amount: '1', unit: 'credits' }] });
  const global = await put('/api/admin/capacity/profiles', { name: 'dub@gamma', alert_below: 1_000_000, items: [{ provider: 'lahajati', amount: '10', unit: 'points' }] });
  assert.deepEqual([own.project_id, own.units_left, global.project_id ?? null], ['gamma', 40, null]);

  const check = (await admin('/api/admin/usage/check-budgets', { method: 'POST' })).json;
  const dubs = check.plans.filter((p) => p.level.startsWith('capacity-dub')).map((p) => [p.level, p.project_id ?? null, p.action]).sort();
  assert.deepEqual(dubs, [['capacity-dub%40gamma', null, 'sent'], ['capacity-dub@gamma', 'gamma', 'sent']], JSON.stringify(check.plans));
  const log = (await admin('/api/admin/alerts')).json.alerts
    .filter((x) => x.level.startsWith('capacity-dub')).map((x) => [x.level, x.recipient]).sort();
  assert.deepEqual(log, [['capacity-dub%40gamma', 'global-ops@example.com'], ['capacity-dub@gamma', 'gamma-ops@example.com']]);
  // The project's alert names its project and links to its dashboard; the global one links to
  // the dashboard of every project.
  const bodies = Object.fromEntries((await admin('/api/admin/alerts')).json.alerts
    .filter((x) => x.level.startsWith('capacity-dub') && x.channel === 'email').map((x) => [x.level, x]));
  const ownMail = bodies['capacity-dub@gamma'];
  assert.match(ownMail.text_body, /^Project: gamma\n/);
  assert.match(ownMail.text_body, /\nDashboard: http:\/\/[^\s]+\/\?project=gamma\n/);
  assert.match(ownMail.html_body, /<p>Project: gamma<\/p>/);
  assert.match(ownMail.html_body, /href="http:\/\/[^"]+\/\?project=gamma"/);
  const globalMail = bodies['capacity-dub%40gamma'];
  assert.doesNotMatch(globalMail.text_body, /Project:|\?project=/);
  assert.match(globalMail.text_body, /\nDashboard: http:\/\/[^\s?]+\/\n/);
  // Each is claimed for its own window: the next run sends neither again.
  const again = (await admin('/api/admin/usage/check-budgets', { method: 'POST' })).json.plans
    .filter((p) => p.level.startsWith('capacity-dub')).map((p) => p.action);
  assert.deepEqual(again, ['rate_limited', 'rate_limited']);
});

test('a project\'s learned profile takes each provider once from the plans that cover it, at each model\'s credit rate, and the guard counts its units as the capacity report does', async () => {
  const r = await admin('/api/admin/projects', { method: 'POST', body: { id: 'learner', name: 'Learner' } });
  assert.equal(r.status, 201, r.text);
  const learnerKey = (await admin('/api/admin/projects/learner/keys', { method: 'POST' })).json.key;
  await put('/api/admin/subscriptions', { provider: 'heygen', project_id: 'learner', monthly_fee: '29', allotment: { amount: '10', unit: 'credits' }, mode: 'block' });
  await put('/api/admin/subscriptions', { provider: 'elevenlabs', project_id: 'learner', monthly_fee: '22', allotment: { amount: '100000', unit: 'credits' } });
  // Another project's HeyGen plan counts nothing of the learner's work.
  await put('/api/admin/subscriptions', { provider: 'heygen', project_id: 'voices', monthly_fee: '29', allotment: { amount: '10', unit: 'credits' } });
  const events = ['l1', 'l2'].flatMap((job) => [
    // 1,000 characters of a flash model: 500 credits, as the plan counts them.
    { id: `${job}-voice`, provider: 'elevenlabs', model: 'eleven_flash_v2_5', characters: 1000, job_id: job, operation: 'narrate' },
    { id: `${job}-video`, provider: 'heygen', credits: '0.5', job_id: job, operation: 'render' },
  ]);
  assert.equal((await w.fetch('/api/usage', { method: 'POST', key: learnerKey, body: { events } })).status, 201);
  const learned = await put('/api/admin/capacity/profiles', { name: 'clip', project_id: 'learner', learn: { operations: ['narrate', 'render'], days: 30 } });
  assert.deepEqual(learned.items.map((i) => [i.provider, i.amount, i.unit]), [['elevenlabs', '500', 'credits'], ['heygen', '0.5', 'credits']]);
  assert.deepEqual(learned.per_provider.map((p) => p.provider), ['elevenlabs', 'heygen']);
  // HeyGen: the learner's plan has 9 credits left (18 clips); the global plan may have fewer.
  const globalHeygen = (await admin('/api/admin/subscriptions')).json.subscriptions.find((s) => s.provider === 'heygen' && !s.project_id);
  const expected = Math.min(18, globalHeygen ? Math.floor(Number(globalHeygen.available) / 0.5) : 18);
  assert.equal(learned.per_provider.find((p) => p.provider === 'heygen').units_left, expected);
  assert.equal(learned.units_left, expected);

  // The guard reads the same items: past the capacity it denies, naming the capacity left.
  const ask = async (units) => (await w.fetch('/api/usage/guard', { method: 'POST', key: learnerKey, body: { profile: 'clip', units } })).json;
  const denied = await ask(expected + 1);
  assert.equal(denied.decision === 'deny' || denied.decision === 'warn', true, JSON.stringify(denied));
  const capacity = denied.limits.find((l) => l.kind === 'capacity');
  assert.equal(capacity.limit, String(expected), JSON.stringify(denied));
  const heygenLimits = denied.limits.filter((l) => l.kind === 'plan' && l.provider === 'heygen').map((l) => [l.project_id ?? null, l.estimate]);
  const asked = String((expected + 1) * 0.5);
  assert.deepEqual(heygenLimits.sort(), [...(globalHeygen ? [[null, asked]] : []), ['learner', asked]].sort());
  const learnerPlan = denied.limits.find((l) => l.kind === 'plan' && l.project_id === 'learner' && l.provider === 'heygen');
  if (expected === 18) assert.equal(denied.decision, 'deny', 'the learner\'s blocking plan is the bottleneck');
  assert.ok(learnerPlan, JSON.stringify(denied));
});

test('an ElevenLabs credits plan counts the credits an event reports and the characters of the model\'s other events beside them', async () => {
  const r = await admin('/api/admin/projects', { method: 'POST', body: { id: 'el-mixed', name: 'Mixed voices' } });
  assert.equal(r.status, 201, r.text);
  const mixedKey = (await admin('/api/admin/projects/el-mixed/keys', { method: 'POST' })).json.key;
  await put('/api/admin/subscriptions', { provider: 'elevenlabs', project_id: 'el-mixed', monthly_fee: '22', allotment: { amount: '100000', unit: 'credits' } });
  const model = 'eleven_multilingual_v2';
  const events = [
    { id: 'm-a', provider: 'elevenlabs', model, credits: 100, characters: 100 },
    { id: 'm-b', provider: 'elevenlabs', model, characters: 1000 },
  ];
  assert.equal((await w.fetch('/api/usage', { method: 'POST', key: mixedKey, body: { events } })).status, 201);
  // One event more, alone (the triggers' way rather than the batch's).
  assert.equal((await w.fetch('/api/usage', { method: 'POST', key: mixedKey, body: { id: 'm-c', provider: 'elevenlabs', model: 'eleven_flash_v2_5', characters: 300 } })).status, 201);
  const plan = (await admin('/api/admin/subscriptions')).json.subscriptions.find((s) => s.project_id === 'el-mixed');
  // 100 reported, 1,000 characters at 1 credit, 300 at 0.5.
  assert.deepEqual([plan.used, plan.remaining], ['1250', '98750']);
  // The reports' columns are unchanged: no column of the plans' own.
  const report = (await admin('/api/admin/usage?group=model&project_id=el-mixed')).json;
  assert.ok(report.rows.every((row) => !('uncredited_characters' in row)), JSON.stringify(report.rows[0]));
  const csv = (await admin('/api/admin/usage?group=model&project_id=el-mixed&format=csv')).text;
  assert.doesNotMatch(csv.split('\n')[0], /uncredited/);
});
