// Reports against the built worker: every figure is compared with sums computed here,
// independently, from the events the test recorded.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWorker, ADMIN_KEY } from './support/worker.mjs';

let w;
const keys = {};
const events = [];
const DAY = 86_400_000;
const now = Date.now();

/** "0.123" to integer nanos. */
function nanos(amount) {
  const [whole, frac = ''] = String(amount).split('.');
  return BigInt(whole) * 1_000_000_000n + BigInt((frac + '000000000').slice(0, 9));
}
/** Integer nanos to the API's amount text (at least two decimals). */
function amount(n) {
  const whole = n / 1_000_000_000n;
  let frac = (n % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  if (frac.length < 2) frac = frac.padEnd(2, '0');
  return `${whole}.${frac}`;
}
function localDay(iso, tz) {
  return new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(iso));
}
function costOf(list, currency = 'USD') {
  return list.filter((e) => (e.currency ?? 'USD') === currency).reduce((s, e) => s + nanos(e.cost), 0n);
}
const usd = (sums) => sums.cost.find((m) => m.currency === 'USD')?.amount ?? '0.00';

before(async () => {
  w = await startWorker();
  await w.fetch('/api/admin/projects', { method: 'POST', key: ADMIN_KEY, body: { id: 'ads', name: 'Video ads', budget_threshold_usd: '10' } });
  await w.fetch('/api/admin/projects', { method: 'POST', key: ADMIN_KEY, body: { id: 'pod', name: '<script>alert(1)</script>' } });
  await w.fetch('/api/admin/projects', { method: 'POST', key: ADMIN_KEY, body: { id: 'quiet', name: 'Quiet' } });
  for (const id of ['ads', 'pod', 'quiet']) {
    keys[id] = (await w.fetch(`/api/admin/projects/${id}/keys`, { method: 'POST', key: ADMIN_KEY })).json.key;
  }
  // Twenty days of mixed usage, two projects, three providers, jobs of three calls each,
  // with costs reported by the client so every expected figure is exact.
  const providers = ['openai', 'elevenlabs', 'heygen'];
  const operations = ['script-generation', 'voice-synthesis', 'video-creation'];
  for (let d = 0; d < 20; d += 1) {
    for (let j = 0; j < 4; j += 1) {
      const project = j % 2 === 0 ? 'ads' : 'pod';
      const jobId = `clip-${d}-${j}`;
      for (let c = 0; c < 3; c += 1) {
        // Hours 1, 9 and 23 UTC: 01:00 UTC is the previous day in New York.
        const at = new Date(now - (d * DAY) - ((d === 0 ? 0 : 1) * 3600_000));
        at.setUTCHours([1, 9, 23][c], j * 7 + c, 0, 0);
        if (at.getTime() > now) at.setTime(now - (c + 1) * 60_000 - j * 1000);
        const cents = (d * 31 + j * 7 + c * 3) % 97;
        events.push({
          id: `e-${d}-${j}-${c}`, project, provider: providers[c], model: `${providers[c]}-model`,
          operation: operations[c], job_id: jobId, input_tokens: 100 * (c + 1), characters: c === 1 ? 1200 : undefined,
          cost: `0.${String(cents).padStart(2, '0')}0000007`, timestamp: at.toISOString(),
        });
      }
    }
  }
  // One euro-priced event and one unpriced event.
  events.push({ id: 'eur-1', project: 'ads', provider: 'mistral', model: 'mistral-large', cost: '1.25', currency: 'EUR', input_tokens: 10, timestamp: new Date(now - 2 * DAY).toISOString() });
  events.push({ id: 'unpriced-1', project: 'ads', provider: 'openai', model: 'house-model', input_tokens: 10, timestamp: new Date(now - 3 * DAY).toISOString() });
  for (const project of ['ads', 'pod']) {
    const mine = events.filter((e) => e.project === project).map(({ project: _, ...e }) => e);
    for (let i = 0; i < mine.length; i += 100) {
      const r = await w.fetch('/api/usage', { method: 'POST', key: keys[project], body: { events: mine.slice(i, i + 100) } });
      assert.equal(r.status, 201, r.text);
    }
  }
});
after(async () => w?.dispose());

/** Each provider's `last_updated` in a block of the usage stats. */
const newestByProvider = (block) => Object.fromEntries(block.by_provider.map((p) => [p.provider, p.last_updated]));
/** The newest timestamp of each provider among the events `chosen` keeps. */
function expectedNewest(list, chosen) {
  const out = {};
  for (const e of list.filter(chosen)) {
    if (!(e.provider in out) || e.timestamp > out[e.provider]) out[e.provider] = e.timestamp;
  }
  return out;
}

const get = async (path, key = ADMIN_KEY) => {
  const r = await w.fetch(path, { key });
  assert.equal(r.status, 200, `${path}: ${r.text}`);
  return r.json;
};
const inRange = (e, from, to) => e.timestamp >= from && e.timestamp < to;
const iso = (t) => new Date(t).toISOString();

test('a report grouped by day and provider equals the sums of the recorded events, row by row', async () => {
  const report = await get('/api/admin/usage?group=day,provider&preset=all');
  const expected = new Map();
  for (const e of events) {
    if ((e.currency ?? 'USD') !== 'USD' || e.cost === undefined) continue;
    const k = `${e.timestamp.slice(0, 10)}|${e.provider}`;
    expected.set(k, (expected.get(k) ?? 0n) + nanos(e.cost));
  }
  const got = new Map(report.rows.filter((r) => usd(r) !== '0.00').map((r) => [`${r.period}|${r.provider}`, usd(r)]));
  assert.equal(got.size, expected.size);
  for (const [k, v] of expected) assert.equal(got.get(k), amount(v), k);
  assert.equal(report.totals.events, events.length);
  assert.equal(report.totals.unpriced_events, 1);
  assert.deepEqual(report.totals.cost.map((m) => [m.currency, m.amount]),
    [['EUR', '1.25'], ['USD', amount(costOf(events.filter((e) => e.cost)))]]);
  assert.equal(report.totals.input_tokens, events.reduce((s, e) => s + e.input_tokens, 0));
  assert.equal(report.totals.characters, events.reduce((s, e) => s + (e.characters ?? 0), 0));
});

test('the CSV export has a header row and the same rows and amounts as the JSON', async () => {
  const json = await get('/api/admin/usage?group=provider,project&preset=all');
  const r = await w.fetch('/api/admin/usage?group=provider,project&preset=all&format=csv', { key: ADMIN_KEY });
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^text\/csv/);
  assert.match(r.headers.get('content-disposition'), /attachment; filename="usage.csv"/);
  const lines = r.text.trim().split('\n');
  const header = lines[0].split(',');
  assert.deepEqual(header.slice(0, 6), ['provider', 'project_id', 'project_name', 'client', 'cost_eur', 'cost_usd']);
  assert.equal(lines.length - 1, json.rows.length);
  for (const [i, row] of json.rows.entries()) {
    const cells = lines[i + 1].split(',');
    assert.equal(cells[0], row.provider);
    assert.equal(cells[1], row.project_id);
    assert.equal(cells[header.indexOf('cost_usd')], usd(row));
    assert.equal(Number(cells[header.indexOf('events')]), row.events);
  }
  // The hostile project name is quoted text in the CSV, not markup or a formula.
  assert.ok(lines.some((l) => l.includes('<script>alert(1)</script>')));
});

test('project rows carry the name and this month\'s budget status', async () => {
  const report = await get('/api/admin/usage?group=project&preset=all');
  const ads = report.rows.find((r) => r.project_id === 'ads');
  assert.equal(ads.project_name, 'Video ads');
  const monthStart = new Date(Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth(), 1)).toISOString();
  const spent = costOf(events.filter((e) => e.project === 'ads' && e.cost && e.timestamp >= monthStart));
  assert.equal(ads.budget.month_to_date.amount, amount(spent));
  assert.equal(ads.budget.budget.amount, '10.00');
  const percent = Number(spent) / 1e9 / 10 * 100;
  assert.ok(Math.abs(Number(ads.budget.percent_used) - percent) < 0.01);
  assert.equal(ads.budget.status, percent >= 100 ? 'over' : percent >= 80 ? 'alert' : 'ok');
  assert.equal(report.rows.find((r) => r.project_id === 'pod').budget.status, 'no_budget');
});

test('project rows carry the project\'s client, in JSON and CSV', async () => {
  const patch = (id, client) => w.fetch(`/api/admin/projects/${id}`, { method: 'PATCH', key: ADMIN_KEY, body: { client } });
  assert.equal((await patch('ads', 'Acme, Inc.')).status, 200);
  try {
    const report = await get('/api/admin/usage?group=project&preset=all');
    assert.equal(report.rows.find((r) => r.project_id === 'ads').client, 'Acme, Inc.');
    assert.equal(report.rows.find((r) => r.project_id === 'pod').client, null);
    const csv = await w.fetch('/api/admin/usage?group=project&preset=all&format=csv', { key: ADMIN_KEY });
    const lines = csv.text.trim().split('\n');
    assert.deepEqual(lines[0].split(',').slice(0, 3), ['project_id', 'project_name', 'client']);
    assert.ok(lines.some((l) => l.startsWith('ads,Video ads,"Acme, Inc.",')), lines.join('\n'));
    // group=client: the project rows summed per client, exactly; projects without one together.
    const byClient = await get('/api/admin/usage?group=client,provider&preset=all');
    assert.deepEqual(byClient.group.by, ['provider', 'client']);
    const byProject = await get('/api/admin/usage?group=project,provider&preset=all');
    for (const r of byClient.rows) {
      assert.ok(!('project_id' in r), 'no project column');
      const parts = byProject.rows.filter((p) => p.provider === r.provider && (p.client ?? null) === r.client);
      assert.ok(parts.length > 0, JSON.stringify(r));
      assert.equal(r.events, parts.reduce((s, p) => s + p.events, 0), `${r.client} ${r.provider}`);
      assert.equal(usd(r), amount(parts.reduce((s, p) => s + nanos(usd(p)), 0n)));
    }
    assert.deepEqual([...new Set(byClient.rows.map((r) => r.client))].sort(), [null, 'Acme, Inc.'].sort());
    const clientCsv = (await w.fetch('/api/admin/usage?group=client&preset=all&format=csv', { key: ADMIN_KEY })).text.trim().split('\n');
    assert.equal(clientCsv[0].split(',')[0], 'client');
    assert.ok(clientCsv.some((l) => l.startsWith('"Acme, Inc.",')), clientCsv.join('\n'));
  } finally {
    assert.equal((await patch('ads', null)).status, 200);
  }
});

test('a time zone moves events to their local day and the totals stay the same', async () => {
  const tz = 'America/New_York';
  const report = await get(`/api/admin/usage?group=day&preset=all&tz=${encodeURIComponent(tz)}`);
  // Whole UTC days from the daily rollups, and only the hours that belong to another local
  // day from the quarter-hour ones.
  assert.equal(report.source, 'usage_daily+usage_quarter_hours');
  const expected = new Map();
  const counted = new Map();
  for (const e of events) {
    const k = localDay(e.timestamp, tz);
    counted.set(k, (counted.get(k) ?? 0) + 1);
    if (e.cost && (e.currency ?? 'USD') === 'USD') expected.set(k, (expected.get(k) ?? 0n) + nanos(e.cost));
  }
  assert.deepEqual(report.rows.map((r) => r.period), [...counted.keys()].sort(), 'exactly the local days with events');
  for (const row of report.rows) {
    assert.equal(row.events, counted.get(row.period), row.period);
    assert.equal(usd(row), expected.has(row.period) ? amount(expected.get(row.period)) : '0.00', row.period);
  }
  const utc = await get('/api/admin/usage?preset=all');
  assert.deepEqual(report.totals, utc.totals);
  // By local week (Mondays in New York), the same way.
  const weeks = await get(`/api/admin/usage?group=week&preset=all&tz=${encodeURIComponent(tz)}`);
  const weekOf = (day) => {
    const d = new Date(`${day}T00:00:00Z`);
    d.setUTCDate(d.getUTCDate() - ((d.getUTCDay() + 6) % 7));
    return d.toISOString().slice(0, 10);
  };
  const perWeek = new Map();
  for (const [day, n] of counted) perWeek.set(weekOf(day), (perWeek.get(weekOf(day)) ?? 0) + n);
  assert.deepEqual(weeks.rows.map((r) => [r.period, r.events]), [...perWeek.entries()].sort());
  assert.deepEqual(weeks.totals, utc.totals);
});

test('a range in another time zone without periods reads whole UTC days daily, its ends by the quarter hour, exactly', async () => {
  // Local midnights in New York fall at 04:00 or 05:00 UTC, inside UTC days: the events at
  // 01:00 UTC belong to the local day before, and the range's ends split UTC days.
  const tz = 'America/New_York';
  const from = localDay(new Date(now - 15 * DAY).toISOString(), tz);
  const to = localDay(new Date(now - 3 * DAY).toISOString(), tz);
  const report = await get(`/api/admin/usage?group=provider&from=${from}&to=${to}&tz=${encodeURIComponent(tz)}`);
  assert.equal(report.source, 'usage_daily+usage_quarter_hours');
  const inRange = events.filter((e) => e.cost && (e.currency ?? 'USD') === 'USD'
    && localDay(e.timestamp, tz) >= from && localDay(e.timestamp, tz) <= to);
  assert.ok(inRange.some((e) => new Date(e.timestamp).getUTCHours() === 1), 'an event at 01:00 UTC is in the range');
  const local = (e) => localDay(e.timestamp, tz) >= from && localDay(e.timestamp, tz) <= to;
  for (const provider of ['openai', 'elevenlabs', 'heygen']) {
    const row = report.rows.find((r) => r.provider === provider);
    assert.equal(usd(row), amount(costOf(inRange.filter((e) => e.provider === provider))), provider);
    assert.equal(row.events, events.filter((e) => e.provider === provider && local(e)).length, provider);
  }
  // The same range split by local day adds up to the same totals, each day exact.
  const byDay = await get(`/api/admin/usage?group=day&from=${from}&to=${to}&tz=${encodeURIComponent(tz)}`);
  assert.equal(byDay.source, 'usage_daily+usage_quarter_hours');
  assert.deepEqual(byDay.totals, report.totals);
  for (const row of byDay.rows) {
    const that = inRange.filter((e) => localDay(e.timestamp, tz) === row.period);
    assert.equal(usd(row), amount(costOf(that)), row.period);
  }
});

test('week and month groupings and filters add up', async () => {
  const weeks = await get('/api/admin/usage?group=week&preset=all&project_id=ads');
  for (const row of weeks.rows) assert.equal(new Date(`${row.period}T00:00:00Z`).getUTCDay(), 1, 'weeks start on Monday');
  const adsTotal = costOf(events.filter((e) => e.project === 'ads' && e.cost && e.currency !== 'EUR'));
  const sum = weeks.rows.reduce((s, r) => s + nanos(usd(r)), 0n);
  assert.equal(sum, adsTotal);
  const months = await get('/api/admin/usage?group=month,operation&preset=all&provider=heygen');
  assert.ok(months.rows.every((r) => r.operation === 'video-creation' && /^\d{4}-\d{2}$/.test(r.period)));
  assert.equal(months.rows.reduce((s, r) => s + nanos(usd(r)), 0n), costOf(events.filter((e) => e.provider === 'heygen')));
});

test('usage stats give today and this month per provider, with last_updated and the data source', async () => {
  const stats = await get('/api/usage/stats');
  assert.equal(stats.data_source, 'stored_usage');
  const newest = events.map((e) => e.timestamp).sort().at(-1);
  assert.equal(stats.last_updated, newest.replace(/(\.\d{3})?Z$/, (m) => (m.length > 1 ? m : '.000Z')));
  const today = new Date(now).toISOString().slice(0, 10);
  const monthStart = `${today.slice(0, 7)}-01`;
  const todays = events.filter((e) => e.timestamp.slice(0, 10) === today && e.cost && e.currency !== 'EUR');
  const months = events.filter((e) => e.timestamp.slice(0, 10) >= monthStart && e.cost && e.currency !== 'EUR');
  assert.equal(stats.today.date, today);
  assert.equal(usd(stats.today.totals), amount(costOf(todays)));
  assert.equal(usd(stats.month.totals), amount(costOf(months)));
  const openai = stats.month.by_provider.find((p) => p.provider === 'openai');
  assert.equal(usd(openai), amount(costOf(months.filter((e) => e.provider === 'openai'))));
  // Each provider carries the time of its newest event in the block.
  const utcDay = (e) => e.timestamp.slice(0, 10);
  assert.deepEqual(newestByProvider(stats.today), expectedNewest(events, (e) => utcDay(e) === today));
  assert.deepEqual(newestByProvider(stats.month), expectedNewest(events, (e) => utcDay(e) >= monthStart));
  assert.ok(stats.month.by_provider.some((p) => p.provider === 'mistral' && p.last_updated < stats.last_updated));
  const own = await get('/api/usage/stats', keys.pod);
  assert.equal(own.project_id, 'pod');
  assert.equal(usd(own.month.totals), amount(costOf(months.filter((e) => e.project === 'pod'))));
  assert.deepEqual(newestByProvider(own.month), expectedNewest(events, (e) => e.project === 'pod' && utcDay(e) >= monthStart));
  const quiet = await get('/api/usage/stats', keys.quiet);
  assert.deepEqual([quiet.today.totals.events, quiet.month.totals.events, quiet.month.totals.cost, quiet.last_updated], [0, 0, [], null]);
  const otherStats = await w.fetch('/api/usage/stats?project_id=ads', { key: keys.pod });
  assert.deepEqual([otherStats.status, otherStats.json.error.details[0]?.field], [403, 'project_id']);
  // In New York, today and this month are local: 01:00 UTC events belong to the day before.
  for (const tz of ['America/New_York', 'Asia/Kolkata']) {
    const local = await get(`/api/usage/stats?tz=${encodeURIComponent(tz)}`);
    const day = localDay(new Date(now).toISOString(), tz);
    const priced = events.filter((e) => e.cost && e.currency !== 'EUR');
    const inDay = priced.filter((e) => localDay(e.timestamp, tz) === day);
    const inMonth = priced.filter((e) => localDay(e.timestamp, tz).slice(0, 7) === day.slice(0, 7));
    assert.equal(local.today.date, day, tz);
    assert.equal(usd(local.today.totals), amount(costOf(inDay)), tz);
    assert.equal(usd(local.month.totals), amount(costOf(inMonth)), tz);
    assert.equal(local.month.totals.events, events.filter((e) => localDay(e.timestamp, tz).slice(0, 7) === day.slice(0, 7)).length, tz);
    assert.deepEqual(newestByProvider(local.today), expectedNewest(events, (e) => localDay(e.timestamp, tz) === day), tz);
    assert.deepEqual(newestByProvider(local.month), expectedNewest(events, (e) => localDay(e.timestamp, tz).slice(0, 7) === day.slice(0, 7)), tz);
  }
});

test('monthly stats count events and jobs in the month and in total, per project and combined', async () => {
  const month = new Date(now).toISOString().slice(0, 7);
  const stats = await get(`/api/admin/stats?m=${month.replace('-', '')}`);
  assert.equal(stats.month, month);
  const jobsFirstSeen = new Map();
  for (const e of events.filter((x) => x.job_id)) {
    const k = `${e.project}/${e.job_id}`;
    if (!jobsFirstSeen.has(k) || e.timestamp < jobsFirstSeen.get(k)) jobsFirstSeen.set(k, e.timestamp);
  }
  for (const project of ['ads', 'pod']) {
    const row = stats.projects.find((p) => p.project_id === project);
    const mine = events.filter((e) => e.project === project);
    assert.equal(row.events_total, mine.length);
    assert.equal(row.events_month, mine.filter((e) => e.timestamp.startsWith(month)).length);
    const jobs = [...jobsFirstSeen].filter(([k]) => k.startsWith(`${project}/`));
    assert.equal(row.jobs_total, jobs.length);
    assert.equal(row.jobs_month, jobs.filter(([, t]) => t.startsWith(month)).length);
  }
  assert.equal(stats.combined.events_total, events.length);
  assert.equal(stats.projects.find((p) => p.project_id === 'quiet').events_total, 0);
  for (const m of ['2026-11', '202613', 'abc', '20261']) {
    const r = await w.fetch(`/api/admin/stats?m=${m}`, { key: ADMIN_KEY });
    assert.deepEqual([r.status, r.json.error.details[0].field], [400, 'm'], m);
  }
});

test('a report by local month over a thousand years counts every event once, in the months that hold them', async () => {
  const tz = 'Europe/Berlin';
  const to = iso(now + DAY).slice(0, 10);
  const long = await get(`/api/admin/usage?from=1000-01-01&to=${to}&tz=${encodeURIComponent(tz)}&group=month`);
  const all = await get(`/api/admin/usage?preset=all&tz=${encodeURIComponent(tz)}&group=month`);
  const counted = new Map();
  for (const e of events) {
    const k = localDay(e.timestamp, tz).slice(0, 7);
    counted.set(k, (counted.get(k) ?? 0) + 1);
  }
  assert.deepEqual(long.rows.map((r) => [r.period, r.events]), [...counted.entries()].sort());
  assert.deepEqual(long.totals, all.totals);
  assert.equal(long.totals.events, events.length);
  assert.equal(usd(long.totals), amount(costOf(events.filter((e) => e.cost))));
  // By local day over decades, the same.
  const days = await get(`/api/admin/usage?from=1990-01-01&to=${to}&tz=${encodeURIComponent(tz)}&group=day`);
  assert.deepEqual(days.totals, all.totals);
});

test('a range to the last day of 9999 ends at its last instant and counts every event', async () => {
  const report = await get('/api/admin/usage?from=2000-01-01&to=9999-12-31');
  assert.equal(report.range.to, '9999-12-31T23:59:59.999Z');
  assert.equal(report.count, 1);
  assert.equal(report.totals.events, events.length);
  assert.equal(usd(report.totals), amount(costOf(events.filter((e) => e.cost))));
  const west = await get('/api/admin/usage?from=2000-01-01&to=9999-12-31&tz=America%2FNew_York&group=month');
  assert.equal(west.range.to, '9999-12-31T23:59:59.999Z');
  assert.equal(west.totals.events, events.length);
  const summary = await get('/api/analytics/usage-summary?from=2000-01-01&to=9999-12-31');
  assert.equal(summary.range.to, '9999-12-31T23:59:59.999Z');
  assert.equal(summary.totals.events, events.length);
  assert.equal(usd(summary.totals), amount(costOf(events.filter((e) => e.cost))));
});

test('the usage summary breaks a range down by provider and by operation', async () => {
  const from = iso(now - 7 * DAY).slice(0, 10);
  const to = iso(now).slice(0, 10);
  const summary = await get(`/api/analytics/usage-summary?from=${from}&to=${to}`);
  const end = iso(Date.parse(`${to}T00:00:00Z`) + DAY);
  const chosen = events.filter((e) => inRange(e, `${from}T00:00:00.000Z`, end) && e.cost && e.currency !== 'EUR');
  assert.equal(usd(summary.totals), amount(costOf(chosen)));
  for (const op of ['script-generation', 'voice-synthesis', 'video-creation']) {
    const row = summary.by_operation.find((o) => o.operation === op);
    assert.equal(usd(row), amount(costOf(chosen.filter((e) => e.operation === op))), op);
  }
  const eleven = summary.by_provider.find((p) => p.provider === 'elevenlabs');
  assert.equal(eleven.characters, chosen.filter((e) => e.provider === 'elevenlabs').length * 1200);
});

test('realtime usage has 60 minutes and 24 hours, with the recent events in them', async () => {
  const rt = await get('/api/analytics/realtime-usage');
  assert.equal(rt.last_60_minutes.length, 60);
  assert.equal(rt.last_24_hours.length, 24);
  const hourAgo = iso(Math.floor(now / 60_000) * 60_000 - 59 * 60_000);
  const recent = events.filter((e) => e.timestamp >= hourAgo);
  assert.equal(rt.last_60_minutes.reduce((s, m) => s + m.events, 0), recent.length);
  const dayAgo = `${iso(Math.floor(Date.now() / 3600_000) * 3600_000 - 23 * 3600_000).slice(0, 13)}`;
  const lastDay = events.filter((e) => e.timestamp.slice(0, 13) >= dayAgo);
  assert.equal(rt.last_24_hours.reduce((s, h) => s + h.events, 0), lastDay.length);
});

test('jobs list their cost, calls and providers, and the summary gives average and percentiles', async () => {
  const list = await get('/api/admin/usage/jobs?preset=all&project_id=ads&limit=1000');
  const adsJobs = new Map();
  for (const e of events.filter((x) => x.project === 'ads' && x.job_id)) {
    const j = adsJobs.get(e.job_id) ?? { cost: 0n, calls: 0, providers: new Set(), first: Infinity, last: -Infinity };
    j.cost += nanos(e.cost);
    j.calls += 1;
    j.first = Math.min(j.first, Date.parse(e.timestamp));
    j.last = Math.max(j.last, Date.parse(e.timestamp));
    j.providers.add(e.provider);
    adsJobs.set(e.job_id, j);
  }
  assert.equal(list.count, adsJobs.size);
  for (const job of list.jobs) {
    const want = adsJobs.get(job.job_id);
    assert.equal(usd(job), amount(want.cost), job.job_id);
    assert.equal(job.calls, want.calls);
    assert.deepEqual([Date.parse(job.first_seen), Date.parse(job.last_seen)], [want.first, want.last], job.job_id);
    assert.deepEqual(job.providers.map((p) => p.provider).sort(), [...want.providers].sort());
  }
  const summary = await get('/api/admin/usage/jobs/summary?preset=all&project_id=ads');
  const whole = summary.rows.find((r) => r.operation === 'all');
  const costs = [...adsJobs.values()].map((j) => j.cost).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const n = costs.length;
  assert.equal(whole.jobs, n);
  assert.equal(whole.total.amount, amount(costs.reduce((s, c) => s + c, 0n)));
  assert.equal(whole.min.amount, amount(costs[0]));
  assert.equal(whole.max.amount, amount(costs[n - 1]));
  assert.equal(whole.median.amount, amount(costs[Math.ceil(n / 2) - 1]));
  assert.equal(whole.p90.amount, amount(costs[Math.ceil(0.9 * n) - 1]));
  const total = costs.reduce((s, c) => s + c, 0n);
  const avg = (total * 2n + BigInt(n)) / (2n * BigInt(n));
  assert.ok(nanos(whole.average.amount) - avg <= 1n && avg - nanos(whole.average.amount) <= 1n);
  const voice = summary.rows.find((r) => r.operation === 'voice-synthesis');
  assert.equal(voice.jobs, n);
});

test('the job cost summary reads at most max_jobs jobs, the newest by first event, and says so', async () => {
  const adsJobs = new Map();
  for (const e of events.filter((x) => x.project === 'ads' && x.job_id)) {
    const j = adsJobs.get(e.job_id) ?? { id: e.job_id, cost: 0n, first: e.timestamp };
    j.cost += nanos(e.cost);
    if (e.timestamp < j.first) j.first = e.timestamp;
    adsJobs.set(e.job_id, j);
  }
  const all = await get('/api/admin/usage/jobs/summary?preset=all&project_id=ads');
  assert.deepEqual(all.sample, { complete: true, jobs_read: adsJobs.size, max_jobs: 10000, first_seen_from: [...adsJobs.values()].map((j) => j.first).sort()[0] });
  const newest = [...adsJobs.values()].sort((a, b) => (a.first > b.first ? -1 : a.first < b.first ? 1 : a.id > b.id ? -1 : 1)).slice(0, 5);
  const capped = await get('/api/admin/usage/jobs/summary?preset=all&project_id=ads&max_jobs=5');
  assert.deepEqual(capped.sample, { complete: false, jobs_read: 5, max_jobs: 5, first_seen_from: newest[4].first });
  const whole = capped.rows.find((r) => r.operation === 'all');
  const costs = newest.map((j) => j.cost).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  assert.equal(whole.jobs, 5);
  assert.equal(whole.total.amount, amount(costs.reduce((s, c) => s + c, 0n)));
  assert.equal(whole.min.amount, amount(costs[0]));
  assert.equal(whole.median.amount, amount(costs[2]));
  assert.equal(whole.max.amount, amount(costs[4]));
  for (const bad of ['0', '10001', 'x']) {
    const r = await w.fetch(`/api/admin/usage/jobs/summary?max_jobs=${bad}`, { key: ADMIN_KEY });
    assert.deepEqual([r.status, r.json.error.details[0].field], [400, 'max_jobs'], bad);
  }
});

test('bad report parameters get a 400 naming the parameter', async () => {
  for (const [query, field] of [
    ['group=day,week', 'group'], ['group=colour', 'group'], ['preset=fortnight', 'preset'],
    ['from=2026-11-20&to=2026-11-01', 'to'], ['from=20261101', 'from'], ['tz=Mars/Olympus', 'tz'],
    ['limit=0', 'limit'], ['limit=10001', 'limit'], ['format=xml', 'format'], ['preset=today&from=2026-11-01', 'preset'],
    ['colour=red', 'colour'],
  ]) {
    const r = await w.fetch(`/api/admin/usage?${query}`, { key: ADMIN_KEY });
    assert.equal(r.status, 400, query);
    assert.equal(r.json.error.details[0].field, field, `${query}: ${r.text}`);
  }
  for (const [path, field] of [
    ['/api/analytics/usage-summary?tz=Nowhere', 'tz'], ['/api/admin/usage/jobs?limit=5000', 'limit'],
    ['/api/usage/stats?tz=x', 'tz'], ['/api/analytics/realtime-usage?minutes=5', 'minutes'],
  ]) {
    const r = await w.fetch(path, { key: ADMIN_KEY });
    assert.deepEqual([r.status, r.json.error.details[0].field], [400, field], path);
  }
});

test('the cron writes daily summaries for closed days and the month so far, idempotently', async () => {
  const bucket = await w.mf.getR2Bucket('USAGE_BUCKET');
  const worker = await w.mf.getWorker();
  await worker.scheduled({ cron: '0 */6 * * *' });
  // A run writes at most 10 daily summaries (the free plan's limits); the rest follow.
  for (let i = 0; i < 5; i += 1) {
    const more = await w.fetch('/api/admin/cron/run', { method: 'POST', key: ADMIN_KEY });
    assert.ok(more.json.summaries.daily_written.length <= 10);
    if (more.json.summaries.daily_written.length === 0) break;
  }
  const today = new Date().toISOString().slice(0, 10);
  const dailyKeys = (await bucket.list({ prefix: 'usage-logs/daily/' })).objects.map((o) => o.key);
  const days = [...new Set(events.map((e) => e.timestamp.slice(0, 10)))].filter((d) => d < today).sort();
  assert.deepEqual(dailyKeys.sort(), days.map((d) => `usage-logs/daily/${d}.json`));
  const day = days[days.length - 2];
  const summaryObject = await bucket.get(`usage-logs/daily/${day}.json`);
  assert.equal(summaryObject.httpMetadata.contentType, 'application/json');
  const summary = JSON.parse(await summaryObject.text());
  const ofDay = events.filter((e) => e.timestamp.startsWith(day));
  assert.equal(summary.totals.events, ofDay.length);
  assert.equal(usd(summary.totals), amount(costOf(ofDay.filter((e) => e.cost && e.currency !== 'EUR'))));
  assert.equal(summary.data_source, 'stored_usage');
  const month = today.slice(0, 7);
  const monthly = JSON.parse(await (await bucket.get(`usage-logs/monthly/${month}.json`)).text());
  assert.equal(monthly.closed, false);
  assert.equal(monthly.totals.events, events.filter((e) => e.timestamp.startsWith(month)).length);
  assert.equal(monthly.by_day.reduce((s, d) => s + d.events, 0), monthly.totals.events);
  // Running again with no new data rewrites nothing daily and the month with the same bytes.
  const before = await (await bucket.get(`usage-logs/monthly/${month}.json`)).text();
  const again = await w.fetch('/api/admin/cron/run', { method: 'POST', key: ADMIN_KEY });
  assert.equal(again.status, 200, again.text);
  assert.deepEqual(again.json.summaries.daily_written, []);
  assert.equal(await (await bucket.get(`usage-logs/monthly/${month}.json`)).text(), before);
  // A late event for a closed day makes that day's summary due again, with the event in it.
  const late = await w.fetch('/api/usage', { method: 'POST', key: keys.ads, body: { id: 'late-x', provider: 'openai', model: 'gpt-4o-mini', cost: '2.00', timestamp: `${day}T12:00:00Z` } });
  assert.equal(late.status, 201, late.text);
  const third = await w.fetch('/api/admin/cron/run', { method: 'POST', key: ADMIN_KEY });
  assert.deepEqual(third.json.summaries.daily_written, [`usage-logs/daily/${day}.json`]);
  const updated = JSON.parse(await (await bucket.get(`usage-logs/daily/${day}.json`)).text());
  assert.equal(updated.totals.events, ofDay.length + 1);
  assert.equal(nanos(usd(updated.totals)) - nanos(usd(summary.totals)), nanos('2.00'));
});

// Last: its events are not among those the other tests sum.
test('in India and Nepal an event just before local midnight counts in its own day, by day and in a one-day range', async () => {
  await w.fetch('/api/admin/projects', { method: 'POST', key: ADMIN_KEY, body: { id: 'south-asia', name: 'South Asia' } });
  // Three UTC days back: 18:10 UTC is 23:40 in Kolkata (+05:30) and 23:55 in Kathmandu
  // (+05:45); 18:40 UTC is 00:10 and 00:25 the next local day.
  const day = new Date(now - 3 * DAY).toISOString().slice(0, 10);
  const next = new Date(Date.parse(`${day}T00:00:00Z`) + DAY).toISOString().slice(0, 10);
  for (const [id, time, cost] of [['late', '18:10', '90'], ['early', '18:40', '7']]) {
    const r = await w.fetch('/api/usage', { method: 'POST', key: ADMIN_KEY,
      body: { project_id: 'south-asia', id, provider: 'openai', model: 'gpt-4o', cost, timestamp: `${day}T${time}:00Z` } });
    assert.equal(r.status, 201, r.text);
  }
  for (const tz of ['Asia/Kolkata', 'Asia/Kathmandu']) {
    const zone = encodeURIComponent(tz);
    const byDay = await get(`/api/admin/usage?group=day&from=${day}&to=${next}&tz=${zone}&project_id=south-asia`);
    assert.deepEqual(byDay.rows.map((r) => [r.period, usd(r)]), [[day, '90.00'], [next, '7.00']], tz);
    const oneDay = await get(`/api/admin/usage?group=provider&from=${next}&to=${next}&tz=${zone}&project_id=south-asia`);
    assert.deepEqual(oneDay.rows.map((r) => [r.provider, usd(r), r.events]), [['openai', '7.00', 1]], tz);
  }
});

test('a provider whose last UTC day holds only calls after the local day still shows its newest call of the day', async () => {
  // UTC-5 all year: the local day runs from 05:00 UTC to 05:00 UTC the next day. Rows are
  // written straight into D1, since the API refuses times more than five minutes ahead.
  const zone = 'Etc/GMT+5';
  const localToday = localDay(new Date(now).toISOString(), zone);
  const next = new Date(Date.parse(`${localToday}T00:00:00Z`) + DAY).toISOString().slice(0, 10);
  const inDay = `${localToday}T10:00:00.000Z`;
  const afterDay = `${next}T06:00:00.000Z`;
  const insert = (id, at) => w.db.prepare(
    "INSERT INTO api_usage (project_id, id, provider, model, request_timestamp) VALUES ('quiet', ?1, 'hume', 'octave', ?2)",
  ).bind(id, at);
  await w.db.batch([insert('hume-in-day', inDay), insert('hume-after-day', afterDay)]);
  const stats = await get(`/api/usage/stats?tz=${encodeURIComponent(zone)}`, keys.quiet);
  assert.equal(stats.today.date, localToday);
  assert.deepEqual(newestByProvider(stats.today), { hume: inDay });
  assert.equal(stats.today.totals.events, 1);
  const sameMonth = next.slice(0, 7) === localToday.slice(0, 7);
  assert.deepEqual(newestByProvider(stats.month), { hume: sameMonth ? afterDay : inDay });
});

test('a model filter totals what that model\'s row of group=model shows, its dated snapshots included', async () => {
  await w.fetch('/api/admin/projects', { method: 'POST', key: ADMIN_KEY, body: { id: 'snap', name: 'Snapshots' } });
  const key = (await w.fetch('/api/admin/projects/snap/keys', { method: 'POST', key: ADMIN_KEY })).json.key;
  const at = new Date(now - DAY).toISOString();
  const r = await w.fetch('/api/usage', { method: 'POST', key, body: { events: [
    { id: 's-1', provider: 'openai', model: 'gpt-4o-mini', input_tokens: 1000, cost: '0.10', timestamp: at },
    { id: 's-2', provider: 'openai', model: 'gpt-4o-mini-2024-07-18', input_tokens: 1000, cost: '0.25', timestamp: at },
    { id: 's-3', provider: 'openai', model: 'gpt-4o', input_tokens: 1000, cost: '1.00', timestamp: at },
  ] } });
  assert.equal(r.status, 201, r.text);
  const grouped = await get('/api/admin/usage?preset=all&project_id=snap&group=model');
  const row = grouped.rows.find((x) => x.model === 'gpt-4o-mini');
  assert.deepEqual([row.events, usd(row), row.aliases], [2, '0.35', ['gpt-4o-mini-2024-07-18']]);
  const filtered = await get('/api/admin/usage?preset=all&project_id=snap&model=gpt-4o-mini');
  assert.deepEqual([filtered.totals.events, usd(filtered.totals)], [2, '0.35']);
  const csv = await w.fetch('/api/admin/usage?preset=all&project_id=snap&model=gpt-4o-mini&group=provider&format=csv', { key: ADMIN_KEY });
  assert.match(csv.text, /\nopenai,0\.35,/);
});
