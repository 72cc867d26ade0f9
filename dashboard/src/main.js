// The dashboard: sign-in, range and filter, summary cards, charts, tables with CSV, budgets
// and plans. It talks only to this worker's /api (same origin), loads data only on sign-in,
// on a change of range or filter, and on Refresh (no polling), and renders every string from
// the API as text.

import './style.css';
import { h, fill, $ } from './dom.js';
import { getJson, getText, sendJson, apiPath, setKey, ApiError } from './api.js';
import { amountIn, MoneySum, toNanos, decimalText } from './money.js';
import { int, quantity, amount, money, exactMoney, withUnit, browserTimeZone, localDay, localMidnight, addDays, dateTime, csv } from './format.js';
import { aggregate, MEASURE_COLUMNS } from './aggregate.js';
import { dailyByProvider, costByModel, destroyCharts, modelLabel } from './charts.js';
import { sortableTable } from './table.js';
import { initCatalog, openCatalogFromUrl, resetCatalog, catalogLink } from './catalog.js';

const STORAGE_KEY = 'ai-spend-tracker.key';
const MAX_PAGES = 20; // project view: at most 20 pages of 1,000 events per load
const PRESET_LABELS = { today: 'Today', week: 'Last 7 days', month: 'This month', all: 'All time', custom: 'Custom range' };

const state = {
  role: null, // 'admin' | 'project'
  projectId: null,
  preset: 'month',
  grain: 'day', // the cost chart's periods: day, week or month
  from: null,
  to: null,
  filter: '',
  currency: null,
  tz: browserTimeZone(),
  seq: 0,
  data: null,
};

// ---------------------------------------------------------------------------------------------
// Sign-in and sign-out

function showSignIn(message) {
  $('dashboard').hidden = true;
  $('who').hidden = true;
  $('signin').hidden = false;
  const error = $('signin-error');
  error.hidden = !message;
  error.textContent = message ?? '';
  $('key').focus();
}

async function signIn(key) {
  setKey(key);
  const button = $('signin-button');
  button.disabled = true;
  let stats;
  // A link with ?project= asks that project's figures straight away, so that the first load
  // reuses them; a project key refused another project's figures asks again for its own.
  let asked = state.filter || undefined;
  try {
    try {
      stats = await getJson(apiPath('/api/usage/stats', { tz: state.tz, project_id: asked }));
    } catch (e) {
      if (!asked || !(e.status === 403 || e.status === 404)) throw e;
      asked = undefined;
      stats = await getJson(apiPath('/api/usage/stats', { tz: state.tz }));
    }
  } catch (e) {
    setKey(null);
    const refused = e.status === 401 || e.status === 403;
    if (refused) sessionStorage.removeItem(STORAGE_KEY);
    showSignIn(refused ? 'That key was not accepted (unknown or revoked). Check it and try again.' : `Could not sign in: ${e.message}`);
    return;
  } finally {
    button.disabled = false;
  }
  sessionStorage.setItem(STORAGE_KEY, key);
  // The first load asks for the same figures: it takes these instead of asking again.
  state.signInStats = { tz: state.tz, projectId: asked, value: stats };
  $('key').value = '';
  state.role = (stats.principal ?? (stats.project_id ? 'project' : 'admin')) === 'project' ? 'project' : 'admin';
  state.projectId = state.role === 'project' ? stats.project_id ?? null : null;
  if (state.role === 'project') {
    state.filter = '';
    // A project key's figures are its own project's, named or not.
    state.signInStats.projectId = undefined;
  }
  $('signin').hidden = true;
  $('dashboard').hidden = false;
  $('who').hidden = false;
  $('who-text').textContent = state.role === 'admin' ? 'Signed in with the admin key' : `Signed in with a project key: ${state.projectId}`;
  $('project-filter-label').hidden = state.role !== 'admin';
  const badge = $('project-badge');
  badge.hidden = state.role !== 'project';
  badge.textContent = state.role === 'project' ? `Project: ${state.projectId}` : '';
  $('snippet').textContent = snippet();
  await load();
  // Opened from a catalog link (`#catalog?provider=...`): run its search.
  openCatalogFromUrl();
}

function signOut(message) {
  state.seq += 1; // drop whatever is still loading
  sessionStorage.removeItem(STORAGE_KEY);
  setKey(null);
  Object.assign(state, { role: null, projectId: null, filter: '', data: null, currency: null, keysOpen: false, keysFor: null, budgetSaved: null, signInStats: null, jobsPage: 0 });
  destroyCharts();
  resetCatalog();
  for (const id of ['cards', 'tables', 'unpriced-body', 'budgets-body', 'plans-body', 'capacity-body', 'counts-body', 'counts-month', 'keys-body']) fill(id);
  fill($('project-filter'), h('option', { value: '', text: 'All projects' }));
  $('updated').textContent = 'Last updated: —';
  $('banner').hidden = true;
  $('retention-note').hidden = true;
  showSignIn(message);
}

function snippet() {
  return [
    `curl -X POST ${location.origin}/api/usage \\`,
    '  -H "Authorization: Bearer $USAGE_KEY" -H "content-type: application/json" \\',
    `  -d '{"provider":"openai","model":"gpt-4o-mini","operation":"chat","input_tokens":1000,"output_tokens":200}'`,
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// Range

function currentRange() {
  const today = localDay(new Date(), state.tz);
  const p = state.preset;
  let days;
  if (p === 'today') days = { from: today, to: today };
  else if (p === 'week') days = { from: addDays(today, -6), to: today };
  else if (p === 'month') days = { from: `${today.slice(0, 8)}01`, to: today };
  else if (p === 'custom') days = { from: state.from, to: state.to };
  else days = { from: null, to: null };
  const params = p === 'custom' ? { from: state.from, to: state.to } : { preset: p };
  const label = days.from ? (days.from === days.to ? days.from : `${days.from} to ${days.to}`) : 'all recorded usage';
  const instants = days.from
    ? { from: localMidnight(days.from, state.tz).toISOString(), to: localMidnight(addDays(days.to, 1), state.tz).toISOString() }
    : {};
  return { preset: p, params, days, label: `${PRESET_LABELS[p]}: ${label}`, slug: p === 'custom' ? `${days.from}_${days.to}` : p, instants };
}

// ---------------------------------------------------------------------------------------------
// Loading

function setBusy(busy) {
  $('main').setAttribute('aria-busy', busy ? 'true' : 'false');
  $('refresh').disabled = busy;
  $('refresh').textContent = busy ? 'Loading…' : 'Refresh';
}

/** Settled results: { name: { ok, value | error } }. A 401 anywhere signs out. */
async function settle(entries) {
  const results = await Promise.allSettled(entries.map(([, p]) => p));
  const out = {};
  entries.forEach(([name], i) => {
    const r = results[i];
    out[name] = r.status === 'fulfilled' ? { ok: true, value: r.value } : { ok: false, error: r.reason };
  });
  return out;
}

/**
 * GET /api/usage/stats for this load: the answer sign-in has just read when it is the same
 * question (the same project, or none, and the same time zone), so that each load asks once; otherwise
 * a new request. Sign-in's answer serves one load only.
 */
function usageStats(project_id) {
  const early = state.signInStats;
  state.signInStats = null;
  if (early && early.tz === state.tz && early.projectId === (project_id || undefined)) return Promise.resolve(early.value);
  return getJson(apiPath('/api/usage/stats', { tz: state.tz, project_id }));
}

const optional404 = (path) => getJson(path).catch((e) => {
  if (e instanceof ApiError && (e.status === 404 || e.status === 405)) return null;
  throw e;
});

/**
 * The guard's state of a project (GET /api/usage/guard: its modes, the reservations in flight,
 * the denials of today and this month), settled: `{ ok, value }` with value null when the
 * worker has no such route (an older worker: the panel is left out quietly), or `{ ok: false,
 * error }`. The admin names the project; a project key reads its own.
 */
function guardState(projectId) {
  return optional404(apiPath('/api/usage/guard', { project_id: projectId }))
    .then((value) => ({ ok: true, value }), (error) => ({ ok: false, error }));
}

async function load() {
  const seq = ++state.seq;
  const range = currentRange();
  setBusy(true);
  // A notice left by the previous load (an unknown project in the link) stays up.
  const notice = state.notice;
  state.notice = null;
  if (notice) showBanner(notice);
  else $('banner').hidden = true;
  try {
    const data = state.role === 'admin' ? await loadAdmin(range) : await loadProject(range);
    if (seq !== state.seq) return;
    const unauthorized = Object.values(data.results ?? {}).find((r) => !r.ok && r.error?.status === 401);
    if (unauthorized) {
      loadFinished();
      signOut('Your key is no longer accepted. Sign in again.');
      return;
    }
    state.data = { ...data, range, grain: state.grain };
    state.jobsPage = 0; // new figures start the jobs table on its first page
    // The heading names the range only once its figures are shown.
    $('range-label').textContent = `· ${range.label}`;
    render();
    const newest = data.stats?.last_updated;
    $('updated').textContent = `Last updated: ${dateTime(new Date(), state.tz)} (${state.tz})` +
      ` · newest stored event: ${newest ? dateTime(newest, state.tz) : 'none yet'}`;
  } catch (e) {
    if (seq !== state.seq) return;
    if (e.status === 401) {
      loadFinished();
      signOut('Your key is no longer accepted. Sign in again.');
      return;
    }
    const shown = state.data?.range?.label;
    showBanner(`Could not load ${range.label.toLowerCase()}: ${e.message}.` +
      (shown ? ` The figures below are still those of ${shown.toLowerCase()}.` : ''));
  } finally {
    if (seq === state.seq) loadFinished();
  }
}

function loadFinished() {
  setBusy(false);
  // A counter of finished loads: lets tests (and scripts) wait for a load to settle.
  const main = $('main');
  main.dataset.loads = String(Number(main.dataset.loads ?? 0) + 1);
}

function showBanner(text) {
  const b = $('banner');
  b.textContent = text;
  b.hidden = false;
}

/**
 * For a range that ended before today: the last instant of its last day, read as a UTC day
 * (plans' periods and the monthly counts are UTC), so an October range in New York shows
 * October's plans, not November's. Undefined for a range that runs to today.
 */
function pastEnd(range) {
  const last = range.days?.to;
  if (!last || last >= localDay(new Date(), state.tz)) return undefined;
  const end = new Date(`${last}T23:59:59.999Z`);
  return end.getTime() <= Date.now() ? end.toISOString() : undefined;
}

/** `YYYYMM` of the month a range ends in (this month for a range that runs to today). */
function statsMonth(range) {
  const last = range.days?.to ?? localDay(new Date(), state.tz);
  return last.slice(0, 7).replace('-', '');
}

async function loadAdmin(range) {
  const project_id = state.filter || undefined;
  const common = { ...range.params, tz: state.tz, project_id };
  const report = (group) => getJson(apiPath('/api/admin/usage', { group, ...common, limit: 10000 }));
  const projectsP = getJson('/api/admin/projects');
  const budgetsP = projectsP.then((p) => Promise.all(
    p.projects
      .filter((x) => !project_id || x.id === project_id)
      .map((x) => Promise.all([
        getJson(`/api/admin/projects/${encodeURIComponent(x.id)}/budget`),
        guardState(x.id),
      ]).then(([b, guard]) => ({ project: x, budget: b, guard }))),
  ));
  const results = await settle([
    ['stats', usageStats(project_id)],
    ['dayProvider', report(`${state.grain},provider`)],
    ['provider', report('provider')],
    ['model', report('model')],
    ['project', report('project')],
    ['operation', report('operation')],
    ['jobs', getJson(apiPath('/api/admin/usage/jobs', { ...common, limit: 500 }))],
    ['unpriced', getJson(apiPath('/api/admin/prices/unpriced', { project_id }))],
    ['projects', projectsP],
    ['budgets', budgetsP],
    ['alerts', getJson(apiPath('/api/admin/alerts', { limit: 10, project_id }))],
    // A range that ended in the past shows the plans as of its end (the month picker of the
    // seed teams' accounting pages); otherwise as of now.
    ['subscriptions', optional404(apiPath('/api/admin/subscriptions', { at: pastEnd(range) }))],
    // Capacity looks ahead from now; a project filter keeps its profiles and the global ones.
    ['capacity', optional404(apiPath('/api/admin/capacity', { project_id }))],
    // Jobs (generations) and events per project in the UTC month the range ends in (the seed
    // teams' monthly ad and project counts).
    ['counts', getJson(apiPath('/api/admin/stats', { m: statsMonth(range) }))],
    ['retention', optional404('/api/admin/retention')],
  ]);
  // Tables that carry only a project's id show its name beside it.
  state.projectNames = new Map(results.projects.ok ? results.projects.value.projects.map((p) => [p.id, p.name]) : []);
  const dp = results.dayProvider;
  if (!dp.ok) throw dp.error; // without the main report there is nothing to show
  const truncated = ['dayProvider', 'provider', 'model', 'project', 'operation'].some((k) => results[k].ok && results[k].value.truncated);
  const clients = results.project.ok ? byClient(results.project.value.rows) : null;
  return {
    results,
    stats: results.stats.ok ? results.stats.value : null,
    totals: dp.value.totals,
    dayProvider: dp.value.rows,
    tables: {
      ...Object.fromEntries(['provider', 'model', 'project', 'operation']
        .map((k) => [k, results[k].ok ? { ok: true, value: results[k].value.rows } : results[k]])),
      ...(clients ? { client: { ok: true, value: clients } } : {}),
    },
    jobs: results.jobs.ok ? { ok: true, value: results.jobs.value.jobs } : results.jobs,
    jobsCapped: results.jobs.ok && results.jobs.value.jobs.length >= 500,
    unpriced: results.unpriced.ok ? { ok: true, value: results.unpriced.value.models } : results.unpriced,
    note: truncated ? 'Some reports were cut at 10,000 rows; the CSV downloads have the same limit.' : null,
  };
}

async function loadProject(range) {
  const statsP = usageStats();
  statsP.catch(() => {}); // awaited below; a failed page of events must not leave it unhandled
  const guardP = guardState();
  const events = [];
  let cursor;
  let pages = 0;
  let more = false;
  let prunedBefore = null;
  do {
    const page = await getJson(apiPath('/api/usage', { ...range.instants, limit: 1000, cursor }));
    events.push(...page.events);
    prunedBefore ??= page.pruned_before ?? null;
    cursor = page.next_cursor;
    pages += 1;
    more = Boolean(cursor) && pages >= MAX_PAGES;
  } while (cursor && pages < MAX_PAGES);
  const stats = await statsP;
  const guard = await guardP;
  const agg = aggregate(events, state.tz);
  // Today and this month come from the stored rollups (exact at any volume).
  let totals = agg.totals;
  if (range.preset === 'today') totals = stats.today.totals;
  if (range.preset === 'month') totals = stats.month.totals;
  const ok = (value) => ({ ok: true, value });
  return {
    results: {},
    stats,
    guard,
    totals,
    dayProvider: agg.periodProvider(state.grain),
    tables: { provider: ok(agg.provider), model: ok(agg.model), project: ok(agg.project), operation: ok(agg.operation) },
    jobs: ok(agg.jobs),
    unpriced: ok(agg.unpriced),
    note: [
      prunedBefore && `Events before ${prunedBefore} are past the retention period and no longer listed one by one, so the charts and tables start on that day; the totals for today and this month, and the admin reports, still count them.`,
      more && `Charts and tables sum the newest ${int(events.length)} events of this range only; narrow the range to see all.`,
    ].filter(Boolean).join(' ') || null,
  };
}

// ---------------------------------------------------------------------------------------------
// Rendering

function render() {
  const d = state.data;
  const note = $('load-note');
  note.hidden = !d.note;
  note.textContent = d.note ?? '';
  const currencies = (d.totals.cost ?? []).map((m) => m.currency);
  if (!currencies.includes(state.currency)) state.currency = currencies.includes('USD') ? 'USD' : currencies[0] ?? 'USD';
  const select = $('currency');
  fill(select, currencies.map((c) => h('option', { value: c, text: c, selected: c === state.currency })));
  $('currency-label').hidden = currencies.length < 2;
  renderCards(d);
  $('empty').hidden = d.totals.events !== 0;
  renderCharts(d);
  renderTables(d);
  renderUnpriced(d);
  if (state.role === 'admin') {
    renderProjectFilter(d.results.projects);
    renderBudgets(d.results.budgets, d.results.alerts);
    renderPlans(d.results.subscriptions, d.results.capacity);
    renderCounts(d.results.counts);
    renderKeys(d.results.projects);
    renderRetention(d.results.retention);
  } else {
    $('retention-note').hidden = true;
    renderOwnBudget(d.stats?.budget, d.guard);
    fill('plans-body', h('p', { class: 'muted', text: 'Plans are shown to the admin key only.' }));
    fill('capacity-body');
    fill('counts-month');
    fill('counts-body', h('p', { class: 'muted', text: 'Generations per project are shown to the admin key only.' }));
    fill('keys-body', h('p', { class: 'muted', text: 'Projects and keys are managed with the admin key only.' }));
  }
}

const EXTRA_CARDS = [
  ['credits', 'Credits', quantity],
  ['audio_seconds', 'Audio seconds', quantity],
  ['video_seconds', 'Video seconds', quantity],
  ['images', 'Images', int],
  ['tracks', 'Tracks', int],
  ['cache_hits', 'Cache hits', int],
  ['failed_events', 'Failed calls', int],
];
/** An amount as people read it, its exact text in a tooltip when rounding changed it. */
const amountText = (text) => h('span', {
  class: 'amount',
  title: exactMoney({ amount: text, currency: '' })?.trim() ?? null,
  text: amount(text),
});

/** A project's name with its id (muted), as the project list has it; the id alone when unknown. */
function projectLabel(id) {
  const name = state.projectNames?.get(id);
  return name && name !== id ? [name, h('span', { class: 'muted', text: ` (${id})` })] : id ?? '—';
}

const isNonZero = (v) => v !== undefined && v !== null && !/^0*(\.0*)?$/.test(String(v));

function renderCards(d) {
  const t = d.totals;
  const unpriced = t.unpriced_events ?? 0;
  const card = (id, label, value, extra) => h('li', { class: 'card', id: `card-${id}` },
    h('h3', { text: label }), h('p', { class: 'value' }, value), extra);
  fill('cards',
    card('cost', 'Cost', (t.cost ?? []).length
      ? t.cost.map((m) => h('span', { class: 'money', title: exactMoney(m), text: money(m) }))
      : h('span', { class: 'money', text: '0.00' })),
    card('tokens', 'Tokens', int(t.total_tokens)),
    card('characters', 'Characters', int(t.characters)),
    card('requests', 'Requests', int(t.requests)),
    card('events', 'Events', int(t.events)),
    card('unpriced', 'Unpriced events', int(unpriced),
      h('a', { href: '#unpriced', class: 'card-link', id: 'unpriced-link', text: unpriced ? 'See the models that need a price' : 'Models that need a price' })),
    // The units some providers bill in (HeyGen credits, Loudly tracks, seconds of audio or
    // video), cache hits and failed calls: shown only when the range has any.
    ...EXTRA_CARDS.filter(([key]) => isNonZero(t[key])).map(([key, label, show]) => card(key.replace(/_/g, '-'), label, show(t[key]))),
  );
  $('card-unpriced').classList.toggle('warn', unpriced > 0);
}

function renderCharts(d) {
  const cur = state.currency;
  const has = (rows) => rows.some((r) => (r.cost ?? []).some((m) => m.currency === cur && m.amount !== '0.00'));
  const daily = d.dayProvider ?? [];
  const models = d.tables.model.ok ? d.tables.model.value : [];
  for (const [id, rows, drawFn, tableFn] of [
    ['chart-daily', daily, (c) => dailyByProvider(c, daily, cur, d.range.days, d.grain ?? 'day'), dailyTable],
    ['chart-models', models, (c) => costByModel(c, models, cur), modelTable],
  ]) {
    const canvas = $(id);
    const empty = !has(rows);
    canvas.parentElement.hidden = empty;
    $(`${id}-empty`).hidden = !empty;
    $(`${id}-data`).hidden = empty;
    if (empty) {
      fill(`${id}-table`);
      continue;
    }
    fill(`${id}-table`, tableFn(drawFn(canvas), cur));
  }
}

/** The cost chart's figures as a table (for screen readers and for copying). */
function dailyTable(series, cur) {
  const grain = state.data?.grain ?? 'day';
  return h('table', { class: 'data', id: 'chart-daily-values', dataset: { grain } },
    h('caption', { class: 'visually-hidden', text: `Cost in ${cur} by ${grain} and provider` }),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: { day: 'Day', week: 'Week from', month: 'Month' }[grain] }), series.providers.map((p) => h('th', { scope: 'col', class: 'num', text: p })), h('th', { scope: 'col', class: 'num', text: `Total (${cur})` }))),
    h('tbody', {}, series.days.map((day, i) => h('tr', {},
      h('th', { scope: 'row', text: day }),
      series.providers.map((p) => h('td', { class: 'num' }, amountText(series.amount(day, p)))),
      h('td', { class: 'num' }, amountText(series.total(i)))))));
}

function modelTable(top, cur) {
  return h('table', { class: 'data', id: 'chart-models-values' },
    h('caption', { class: 'visually-hidden', text: `Cost in ${cur} by model` }),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: 'Provider / model' }), h('th', { scope: 'col', class: 'num', text: `Cost (${cur})` }))),
    h('tbody', {}, top.map((r) => h('tr', {}, h('th', { scope: 'row', text: r.model }), h('td', { class: 'num' }, amountText(r.amount))))));
}

// Tables ---------------------------------------------------------------------------------------

const DIMENSIONS = [
  { key: 'provider', title: 'By provider', label: 'Provider', get: (r) => r.provider },
  { key: 'model', title: 'By model', label: 'Provider / model', get: (r) => modelLabel(r, true) },
  { key: 'project', title: 'By project', label: 'Project', get: (r) => r.project_name ?? r.project_id },
  { key: 'operation', title: 'By operation', label: 'Operation', get: (r) => r.operation ?? '(none)' },
  // Only when a project has a client: the project rows summed per client, exactly.
  { key: 'client', title: 'By client', label: 'Client', get: (r) => r.client ?? '(no client)', optional: true },
];

const SUMMED = ['total_tokens', 'characters', 'requests', 'events', 'unpriced_events', 'images', 'tracks'];
/** Fractional units, summed exactly (as nano-units). */
const SUMMED_DECIMALS = ['credits', 'audio_seconds', 'video_seconds'];

/** The project rows of a report summed per client (money per currency, in BigInt nanos). */
function byClient(projectRows) {
  if (!projectRows.some((r) => r.client)) return null;
  const groups = new Map();
  for (const r of projectRows) {
    const key = r.client ?? null;
    const g = groups.get(key) ?? { client: key, money: new MoneySum(), nanos: Object.fromEntries(SUMMED_DECIMALS.map((k) => [k, 0n])), ...Object.fromEntries(SUMMED.map((k) => [k, 0])) };
    g.money.addAll(r.cost);
    for (const k of SUMMED) g[k] += Number(r[k] ?? 0);
    for (const k of SUMMED_DECIMALS) g.nanos[k] += toNanos(r[k] ?? '0');
    groups.set(key, g);
  }
  return [...groups.values()].map(({ money, nanos, ...rest }) => ({
    ...rest,
    ...Object.fromEntries(SUMMED_DECIMALS.map((k) => [k, decimalText(nanos[k])])),
    cost: money.list(),
  }));
}

function currenciesOf(rows) {
  return [...new Set(rows.flatMap((r) => (r.cost ?? []).map((m) => m.currency)))].sort();
}

/** Cost columns, one per currency. A row whose events are all unpriced says so rather than
 * showing 0.00; one with some unpriced events marks its amount as a lower bound. */
function costColumns(rows, { events = (r) => r.events, unpriced = (r) => r.unpriced_events } = {}) {
  return currenciesOf(rows).map((c) => ({
    label: `Cost (${c})`,
    type: 'money',
    get: (r) => amountIn(r.cost, c),
    show: (r) => {
      const none = Number(unpriced(r) ?? 0);
      const has = (r.cost ?? []).some((m) => m.currency === c);
      if (none && none >= Number(events(r) ?? 0) && !has) return h('span', { class: 'muted', title: 'No price for these events yet', text: 'unpriced' });
      const shown = amountText(amountIn(r.cost, c));
      // The mark is drawn by CSS (the cell's text stays the amount, for copying). Sorting
      // compares the exact amounts.
      const note = `Leaves out ${none} unpriced event${none === 1 ? '' : 's'}`;
      return none ? [shown, h('abbr', { class: 'lower-bound', title: note, 'aria-label': note })] : shown;
    },
  }));
}

const COUNT_COLUMNS = [
  { label: 'Tokens', type: 'int', get: (r) => r.total_tokens },
  { label: 'Characters', type: 'int', get: (r) => r.characters },
  { label: 'Requests', type: 'int', get: (r) => r.requests },
  { label: 'Events', type: 'int', get: (r) => r.events },
  { label: 'Unpriced', type: 'int', get: (r) => r.unpriced_events },
];

/** The units some providers bill in (HeyGen credits, seconds of audio or video, images,
 * Loudly tracks): a column each, in a table whose rows have any. */
const UNIT_COLUMNS = [
  { label: 'Credits', type: 'decimal', get: (r) => r.credits ?? '0', show: (r) => quantity(r.credits ?? '0') },
  { label: 'Audio seconds', type: 'decimal', get: (r) => r.audio_seconds ?? '0', show: (r) => quantity(r.audio_seconds ?? '0') },
  { label: 'Video seconds', type: 'decimal', get: (r) => r.video_seconds ?? '0', show: (r) => quantity(r.video_seconds ?? '0') },
  { label: 'Images', type: 'int', get: (r) => Number(r.images ?? 0) },
  { label: 'Tracks', type: 'int', get: (r) => Number(r.tracks ?? 0) },
];
const unitColumns = (rows) => UNIT_COLUMNS.filter((c) => rows.some((r) => isNonZero(c.get(r))));

function tableSection(key, title, body, onCsv) {
  return h('section', { class: 'table-section', id: `section-${key}`, 'aria-labelledby': `title-${key}` },
    h('div', { class: 'panel-head' },
      h('h3', { id: `title-${key}`, text: title }),
      onCsv ? h('button', { type: 'button', class: 'csv', id: `csv-${key}`, on: { click: onCsv } }, 'Download CSV', h('span', { class: 'visually-hidden', text: ` (${title.toLowerCase()})` })) : null),
    h('div', { class: 'scroll', tabindex: '0', role: 'region', 'aria-labelledby': `title-${key}` }, body));
}

const errorText = (e) => h('p', { class: 'error', role: 'alert', text: `Could not load: ${e?.message ?? e}` });

function renderTables(d) {
  const sections = DIMENSIONS.filter((dim) => !dim.optional || d.tables[dim.key]).map((dim) => {
    const res = d.tables[dim.key];
    if (!res.ok) return tableSection(dim.key, dim.title, errorText(res.error));
    const rows = res.value;
    const first = { label: dim.label, type: 'text', get: dim.get };
    if (dim.key === 'project') {
      first.show = (r) => [r.project_name ?? r.project_id, r.project_name ? h('span', { class: 'muted', text: ` (${r.project_id})` }) : null];
    }
    const columns = [first, ...costColumns(rows), ...COUNT_COLUMNS, ...unitColumns(rows)];
    if (dim.key === 'provider') {
      // Whatever the range, when each provider last reported a call this month: a provider
      // whose calls stopped (or whose reporting broke) stands out.
      const newest = new Map((d.stats?.month?.by_provider ?? []).map((p) => [p.provider, p.last_updated]));
      columns.push({ label: 'Last call this month', type: 'text', get: (r) => newest.get(r.provider) ?? '', show: (r) => dateTime(newest.get(r.provider), state.tz) });
    }
    if (dim.key === 'project' && state.role === 'admin') {
      if (rows.some((r) => r.client)) columns.splice(1, 0, { label: 'Client', type: 'text', get: (r) => r.client ?? '' });
      columns.push({ label: 'Budget this month', type: 'text', get: (r) => budgetStatusText(r.budget) });
    }
    const chartCost = columns.findIndex((c) => c.label === `Cost (${state.currency})`);
    const costIndex = chartCost > 0 ? chartCost : columns.findIndex((c) => c.type === 'money');
    const table = sortableTable({ id: `table-${dim.key}`, caption: `Usage ${dim.title.toLowerCase()}`, columns, rows, sort: { index: costIndex > 0 ? costIndex : columns.length - 2, dir: 'desc' } });
    return tableSection(dim.key, dim.title, table, () => downloadCsv(dim.key, rows, columns));
  });
  sections.push(jobsSection(d));
  fill('tables', sections);
}

function budgetStatusText(b) {
  if (!b || b.status === 'no_budget') return 'no budget';
  return `${b.status}: ${amount(b.month_to_date?.amount ?? '0.00')} of ${b.budget ? money(b.budget) : '?'} (${b.percent_used ?? '0'}%)`;
}

const JOBS_PER_PAGE = 25;

function jobsSection(d) {
  const res = d.jobs;
  if (!res.ok) return tableSection('jobs', 'By job', errorText(res.error));
  const rows = res.value;
  const list = (items, field) => (items ?? []).map((x) => x[field]).filter(Boolean).join(', ');
  const columns = [
    { label: 'Job', type: 'text', get: (r) => r.job_id, show: (r) => h('span', { class: 'id', text: r.job_id }) },
    { label: 'Project', type: 'text', get: (r) => state.projectNames?.get(r.project_id) ?? r.project_id, show: (r) => projectLabel(r.project_id) },
    ...costColumns(rows, { events: (r) => r.calls, unpriced: (r) => r.unpriced_calls }),
    { label: 'Calls', type: 'int', get: (r) => r.calls },
    { label: 'Unpriced calls', type: 'int', get: (r) => r.unpriced_calls },
    { label: 'Providers', type: 'text', get: (r) => list(r.providers, 'provider') },
    { label: 'Operations', type: 'text', get: (r) => list(r.operations, 'operation') },
    { label: 'Last call', type: 'text', get: (r) => r.last_seen, show: (r) => dateTime(r.last_seen, state.tz) },
  ];
  const table = sortableTable({
    id: 'table-jobs', caption: 'Jobs and their cost', columns, rows, sort: { index: columns.length - 1, dir: 'desc' },
    pageSize: JOBS_PER_PAGE, page: state.jobsPage ?? 0, onPage: (page) => { state.jobsPage = page; },
  });
  const body = [table];
  if (d.jobsCapped) body.push(h('p', { class: 'muted', text: 'The newest 500 jobs of the range.' }));
  if (!rows.length) body.push(h('p', { class: 'muted', text: 'Jobs appear when events carry a job_id.' }));
  const header = ['job_id', 'project_id', 'first_seen', 'last_seen', 'calls', 'unpriced_calls', ...currenciesOf(rows).map((c) => `cost_${c.toLowerCase()}`), 'providers', 'operations'];
  const toCsv = () => csv(header, rows.map((r) => [r.job_id, r.project_id, r.first_seen, r.last_seen, r.calls, r.unpriced_calls,
    ...currenciesOf(rows).map((c) => amountIn(r.cost, c)), list(r.providers, 'provider'), list(r.operations, 'operation')]));
  return tableSection('jobs', 'By job', body, () => saveFile(`jobs-${state.data.range.slug}.csv`, toCsv()));
}

async function downloadCsv(key, rows, columns) {
  const { range } = state.data;
  const filename = `usage-by-${key}-${range.slug}.csv`;
  const button = $(`csv-${key}`);
  if (state.role === 'admin') {
    // The API's own CSV, fetched with the key in the header, then saved from memory.
    button.disabled = true;
    try {
      const text = await getText(apiPath('/api/admin/usage', { group: key, ...range.params, tz: state.tz, project_id: state.filter || undefined, format: 'csv', limit: 10000 }));
      saveFile(filename, text);
    } catch (e) {
      showBanner(`Could not download the CSV: ${e.message}`);
    } finally {
      button.disabled = false;
    }
    return;
  }
  // Project key: the same columns as the API's CSV (GET /api/admin/usage?group=<key>&format=csv),
  // from the rows summed here.
  const currencies = currenciesOf(rows);
  const dims = {
    provider: [['provider', (r) => r.provider]],
    model: [['provider', (r) => r.provider], ['model', (r) => r.model], ['aliases', (r) => (r.aliases ?? []).join(' ')]],
    project: [['project_id', (r) => r.project_id], ['project_name', () => ''], ['client', () => '']],
    operation: [['operation', (r) => r.operation]],
  }[key] ?? [[key, (r) => columns[0].get(r)]];
  const header = [...dims.map(([name]) => name), ...currencies.map((c) => `cost_${c.toLowerCase()}`), ...MEASURE_COLUMNS];
  const body = rows.map((r) => [...dims.map(([, get]) => get(r) ?? ''), ...currencies.map((c) => amountIn(r.cost, c)),
    ...MEASURE_COLUMNS.map((k) => r[k] ?? 0)]);
  saveFile(filename, csv(header, body));
}

function saveFile(filename, text) {
  const url = URL.createObjectURL(new Blob([text], { type: 'text/csv;charset=utf-8' }));
  const a = h('a', { href: url, download: filename, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 30_000);
}

// Unpriced -------------------------------------------------------------------------------------

function renderUnpriced(d) {
  const res = d.unpriced;
  if (!res.ok) {
    fill('unpriced-body', errorText(res.error));
    return;
  }
  const rows = res.value;
  if (!rows.length) {
    fill('unpriced-body', h('p', { class: 'muted', text: 'Every event has a price.' }));
    return;
  }
  const table = sortableTable({
    id: 'table-unpriced',
    caption: 'Models that need a price',
    columns: [
      { label: 'Provider', type: 'text', get: (r) => r.provider },
      // Each model links to the catalog search for its provider and family of names.
      { label: 'Model', type: 'text', get: (r) => r.model, show: (r) => catalogLink(r.provider, r.model) },
      { label: 'Reason', type: 'text', get: (r) => r.reason },
      { label: 'Events', type: 'int', get: (r) => r.events },
      { label: 'Last seen', type: 'text', get: (r) => r.last_seen, show: (r) => dateTime(r.last_seen, state.tz) },
    ],
    rows,
    sort: { index: 3, dir: 'desc' },
  });
  fill('unpriced-body',
    h('p', {}, state.role === 'admin'
      ? 'All time. Each model links to the price catalog\'s entries like it. Add a price with POST /api/admin/prices, then re-price the stored events with POST /api/admin/usage/reprice.'
      : 'In this range. Ask an admin to add prices for these models.'),
    h('div', { class: 'scroll', tabindex: '0', role: 'region', 'aria-label': 'Models that need a price' }, table));
}

// Forms ---------------------------------------------------------------------------------------

/** A labelled text input of the admin forms. */
function textInput(id, label, attrs = {}) {
  return h('label', { for: id }, label, h('input', { id, type: 'text', autocomplete: 'off', ...attrs }));
}

/** A limit's mode: alert (the default) or block (the guard denies what would cross it). */
function modeSelect(id, label) {
  return h('label', { for: id }, label, h('select', { id },
    h('option', { value: 'alert', text: 'Alert' }),
    h('option', { value: 'block', text: 'Block (the guard denies)' })));
}

/**
 * Lists the field problems of a refused change (a 400's details) in `list`, each under the
 * label of its input when `inputs` maps the API's field (its first part) to an input id;
 * those inputs are marked invalid and the first one takes the focus.
 */
function showProblems(list, err, inputs = {}) {
  const details = err instanceof ApiError ? err.details : [];
  for (const id of Object.values(inputs)) $(id)?.removeAttribute('aria-invalid');
  // The field's own input (`budget.currency`), else its top-level field's (`alert_levels[1]`).
  const inputOf = (field) => inputs[field] ?? inputs[field.split(/[.[]/)[0]];
  fill(list, details.map((d) => {
    const input = $(inputOf(d.field) ?? '');
    input?.setAttribute('aria-invalid', 'true');
    const label = input?.closest('label')?.firstChild?.textContent?.trim();
    // Which item of a list (`alert_levels[1]`), or which nested field, the problem is about.
    const item = /^[^.[]+\[(\d+)\]$/.exec(d.field);
    const where = !label ? '' : item ? ` (item ${Number(item[1]) + 1})` : d.field.includes('.') ? ` (${d.field})` : '';
    return h('li', { dataset: { field: d.field }, text: `${label ?? d.field}${where}: ${d.message}` });
  }));
  list.hidden = !details.length;
  const first = details.map((d) => $(inputOf(d.field) ?? '')).find(Boolean);
  (first ?? list).focus?.();
}

// Projects and keys -----------------------------------------------------------------------------

/** New projects, and each project's ingest keys: issue (shown once) and revoke. */
function renderKeys(res) {
  if (!res?.ok) {
    fill('keys-body', errorText(res?.error));
    return;
  }
  const projects = [...res.value.projects].sort((a, b) => a.name.localeCompare(b.name));

  // A new project.
  const projectErrors = h('ul', { id: 'np-errors', class: 'error', hidden: true });
  const projectStatus = h('p', { id: 'np-status', role: 'status' });
  const newProject = h('form', { id: 'new-project', class: 'editor', novalidate: true },
    textInput('np-id', 'Project id', { placeholder: 'video-ads', pattern: '[a-z0-9][a-z0-9_-]{0,63}' }),
    textInput('np-name', 'Name', { placeholder: 'Video ads' }),
    textInput('np-client', 'Client (optional)'),
    h('button', { type: 'submit', id: 'np-save', class: 'primary', text: 'Create project' }),
    projectStatus, projectErrors);
  newProject.addEventListener('submit', async (e) => {
    e.preventDefault();
    const value = (id) => $(id).value.trim();
    const body = { id: value('np-id') || undefined, name: value('np-name'), client: value('np-client') || undefined };
    projectErrors.hidden = true;
    try {
      const created = await sendJson('POST', '/api/admin/projects', body);
      // Back after the reload: the new project's keys, ready for its first one.
      state.keysFor = created.id;
      state.keysOpen = true;
      state.projectCreated = `Created the project ${created.name} (${created.id}). Issue its first key below.`;
      await load();
    } catch (err) {
      projectStatus.textContent = `Not created: ${err.message}`;
      showProblems(projectErrors, err, { id: 'np-id', name: 'np-name', client: 'np-client' });
    }
  });

  // The keys of one project.
  const chosen = projects.some((p) => p.id === state.keysFor) ? state.keysFor : state.filter || projects[0]?.id;
  const select = h('select', { id: 'keys-project' }, projects.map((p) =>
    h('option', { value: p.id, text: `${p.name} (${p.id})`, selected: p.id === chosen })));
  const issued = h('div', { id: 'new-key', hidden: true });
  const keysList = h('div', { id: 'keys-list' });
  const showKeys = async () => {
    const id = select.value;
    state.keysFor = id;
    fill(keysList, h('p', { class: 'muted', text: 'Loading keys…' }));
    try {
      const { keys } = await getJson(`/api/admin/projects/${encodeURIComponent(id)}/keys`);
      if (select.value !== id) return;
      fill(keysList, keys.length ? sortableTable({
        id: 'table-keys',
        caption: `Ingest keys of ${id}`,
        columns: [
          { label: 'Key', type: 'text', get: (k) => `${k.prefix}…` },
          { label: 'Name', type: 'text', get: (k) => k.name ?? '' },
          { label: 'Created', type: 'text', get: (k) => k.created_at, show: (k) => dateTime(k.created_at, state.tz) },
          { label: 'State', type: 'text', get: (k) => (k.revoked_at ? 'revoked' : 'active'), show: (k) => (k.revoked_at ? `revoked ${dateTime(k.revoked_at, state.tz)}` : revokeButton(id, k)) },
        ],
        rows: keys,
        sort: { index: 2, dir: 'desc' },
      }) : h('p', { class: 'muted', text: 'No keys yet.' }));
    } catch (err) {
      fill(keysList, errorText(err));
    }
  };
  // Revoking takes two clicks: "Revoke", then "Confirm revoke".
  const revokeButton = (project, k) => {
    const button = h('button', { type: 'button', class: 'revoke', dataset: { key: k.id }, text: 'Revoke' });
    button.addEventListener('click', async () => {
      if (button.dataset.armed !== 'yes') {
        button.dataset.armed = 'yes';
        button.textContent = 'Confirm revoke';
        return;
      }
      button.disabled = true;
      try {
        await sendJson('DELETE', `/api/admin/projects/${encodeURIComponent(project)}/keys/${encodeURIComponent(k.id)}`);
      } catch (err) {
        fill(keysList, errorText(err));
        return;
      }
      if (issued.dataset.keyId === k.id) {
        issued.hidden = true;
        fill(issued);
      }
      await showKeys();
    });
    return button;
  };
  select.addEventListener('change', () => {
    issued.hidden = true;
    showKeys();
  });
  const keyName = h('input', { id: 'nk-name', type: 'text', autocomplete: 'off', placeholder: 'optional: production app' });
  const issue = h('button', { type: 'button', id: 'nk-issue', class: 'primary', text: 'Issue a key' });
  issue.addEventListener('click', async () => {
    issue.disabled = true;
    try {
      const created = await sendJson('POST', `/api/admin/projects/${encodeURIComponent(select.value)}/keys`, keyName.value.trim() ? { name: keyName.value.trim() } : {});
      const copy = h('button', { type: 'button', id: 'new-key-copy', text: 'Copy' });
      copy.addEventListener('click', async () => {
        try {
          await navigator.clipboard.writeText(created.key);
          copy.textContent = 'Copied';
        } catch {
          copy.textContent = 'Select the key and copy it';
        }
      });
      fill(issued,
        h('p', { text: `The new key of ${select.value}. Copy it now: only its hash is stored, so it is shown this once.` }),
        h('output', { id: 'new-key-value', class: 'secret', text: created.key }), ' ', copy);
      issued.dataset.keyId = created.id ?? '';
      issued.hidden = false;
      keyName.value = '';
      await showKeys();
    } catch (err) {
      fill(issued, errorText(err));
      issued.hidden = false;
    } finally {
      issue.disabled = false;
    }
  });
  const keysPart = projects.length
    ? [h('div', { class: 'editor' },
        h('label', { for: 'keys-project' }, 'Project', select),
        h('label', { for: 'nk-name' }, 'Key name', keyName),
        issue),
      issued, keysList]
    : [h('p', { class: 'muted', text: 'Create a project first.' })];
  // The keys are read when the list is opened, not on every load.
  const opened = Boolean(state.keysOpen) && projects.length > 0;
  const keysDetails = h('details', { id: 'keys-details', class: 'budget-edit', open: opened },
    h('summary', { text: 'Ingest keys' }), keysPart);
  keysDetails.addEventListener('toggle', () => {
    state.keysOpen = keysDetails.open;
    if (keysDetails.open && projects.length) showKeys();
  });
  const created = state.projectCreated;
  state.projectCreated = null;
  fill('keys-body', created ? h('p', { id: 'np-created', role: 'status', text: created }) : null, keysDetails,
    h('details', { id: 'new-project-form', class: 'budget-edit' }, h('summary', { text: 'Create a project' }), newProject));
}

// Generations per project ---------------------------------------------------------------------

function renderCounts(res) {
  if (!res?.ok) {
    fill('counts-month');
    fill('counts-body', errorText(res?.error));
    return;
  }
  const v = res.value;
  $('counts-month').textContent = `(${v.month}, UTC)`;
  const rows = v.projects.filter((p) => !state.filter || p.project_id === state.filter);
  const table = sortableTable({
    id: 'table-counts',
    caption: `Generations and events per project in ${v.month}`,
    columns: [
      { label: 'Project', type: 'text', get: (r) => r.project_name ?? r.project_id },
      { label: 'Jobs this month', type: 'int', get: (r) => r.jobs_month },
      { label: 'Events this month', type: 'int', get: (r) => r.events_month },
      { label: 'Jobs in total', type: 'int', get: (r) => r.jobs_total },
      { label: 'Events in total', type: 'int', get: (r) => r.events_total },
    ],
    rows,
    sort: { index: 1, dir: 'desc' },
  });
  const sum = (key) => rows.reduce((n, r) => n + r[key], 0);
  const combined = state.filter ? null : h('p', { id: 'counts-combined' },
    `Combined: ${int(sum('jobs_month'))} jobs and ${int(sum('events_month'))} events in ${v.month}; ${int(sum('jobs_total'))} jobs in total.`);
  fill('counts-body',
    h('p', { class: 'muted', text: `A job is one job_id (one clip, one ad). ${v.note ?? ''}`.trim() }),
    h('div', { class: 'scroll', tabindex: '0', role: 'region', 'aria-label': 'Generations per project' }, table),
    combined);
}

// Project filter -------------------------------------------------------------------------------

function renderProjectFilter(res) {
  if (!res?.ok) return;
  const select = $('project-filter');
  const projects = [...res.value.projects].sort((a, b) => a.name.localeCompare(b.name));
  if (state.filter && !projects.some((p) => p.id === state.filter)) {
    // An unknown project (say from an old alert link): show every project instead.
    state.notice = `There is no project "${state.filter}" (deleted or mistyped): showing all projects.`;
    state.filter = '';
    queueMicrotask(() => load());
  }
  fill(select,
    h('option', { value: '', text: 'All projects' }),
    projects.map((p) => h('option', { value: p.id, text: p.name === p.id ? p.id : `${p.name} (${p.id})`, selected: p.id === state.filter })));
  select.value = state.filter;
}

// Budgets --------------------------------------------------------------------------------------

/** A project key's view of its own budget (from /api/usage/stats) and of its guard (from
 * GET /api/usage/guard, when the worker has it). */
function renderOwnBudget(b, guard) {
  const g = guard?.ok ? guard.value : null;
  const modes = g?.modes;
  const guardPart = guard && !guard.ok ? guardError(guard.error) : g ? guardSection(g, { own: true }) : null;
  if (!b || !(b.budget || b.daily_limit)) {
    fill('budgets-body', h('p', { class: 'muted', id: 'own-budget-none', text: 'This project has no budget. An admin sets one.' }),
      guardPart ? h('div', { class: 'budget', id: 'own-budget' }, guardPart) : null);
    return;
  }
  const crossed = b.levels_crossed ?? [];
  fill('budgets-body', h('div', { class: 'budget', id: 'own-budget' },
    b.budget ? bar(b.percent_used, { label: 'Budget used by this project', crossed }) : null,
    h('dl', { class: 'facts' },
      fact('Spent', spentText(b.spend, b.budget, b.percent_used), 'spent'),
      b.budget && modes ? modeFact('Budget mode', modes.budget_mode, 'budget-mode') : null,
      fact('Month', monthText({ status: b }), 'month'),
      b.forecast ? fact('Forecast', `${money(b.forecast)} by the end of the month`, 'forecast') : null,
      b.daily_limit ? fact('Today', `${money(b.today_spend)} of the daily limit ${money(b.daily_limit)}${b.over_daily_limit ? ' (crossed)' : ''}`, 'daily') : null,
      b.daily_limit && modes ? modeFact('Daily limit mode', modes.daily_limit_mode, 'daily-mode') : null,
      crossed.length ? fact('Levels crossed', crossed.join(', '), 'levels') : null),
    guardPart));
}

// The guard ------------------------------------------------------------------------------------

/** What a limit's mode does, as one word: "alerts" (the default) or "blocks". */
const modeWord = (mode) => (mode === 'block' ? 'blocks' : 'alerts');
const MODE_TITLES = {
  alert: 'Crossing it sends alerts; the guard warns but does not deny.',
  block: 'The guard denies what would cross it (and alerts too).',
};

function modeFact(term, mode, key) {
  const m = mode === 'block' ? 'block' : 'alert';
  return fact(term, h('span', { class: `mode mode-${m}`, title: MODE_TITLES[m], dataset: { mode: m }, text: modeWord(m) }), key);
}

function guardError(e) {
  return h('div', { class: 'guard' }, h('h4', { text: 'Guard' }), errorText(e));
}

/** A plan's name in the guard's modes: "heygen credits" (and the project it is kept for). */
const planName = (p) => `${p.provider} ${p.unit ?? ''}`.trim() + (p.project_id ? '' : ' (all projects)');

/**
 * The guard's state of one project (GET /api/usage/guard): the reservations in flight, each
 * with what it holds and when it expires; the denials today and this month (UTC) with the last
 * one's reason; for a project key, the modes of the plans that cover it.
 */
function guardSection(g, { own = false } = {}) {
  const reservations = g.reservations ?? [];
  const denials = g.denials ?? {};
  const plans = g.modes?.plans ?? [];
  const hold = (x) => [h('span', { class: 'id', text: x.limit }), ` ${quantity(x.amount)}`];
  return h('div', { class: 'guard', dataset: { guard: g.project_id ?? '' } },
    h('h4', {}, 'Guard', h('span', { class: 'muted', text: ' (days in UTC)' })),
    h('dl', { class: 'facts' },
      fact('Reservations', `${reservations.length ? int(reservations.length) : 'none'} in flight`, 'reservations'),
      fact('Denied today', int(denials.today ?? 0), 'denials-today'),
      fact('Denied this month', int(denials.month ?? 0), 'denials-month'),
      fact('Last denial', denials.last_reason
        ? [h('span', { class: 'reason', text: denials.last_reason }), denials.last_at ? ` (${dateTime(denials.last_at, state.tz)})` : '']
        : 'none', 'last-denial'),
      own && plans.length ? fact('Plans', h('span', { class: 'levels' }, plans.map((p) =>
        h('span', { class: `level mode-${p.mode === 'block' ? 'block' : 'alert'}`, dataset: { plan: `${p.provider}/${p.unit ?? ''}` }, text: `${planName(p)}: ${modeWord(p.mode)}` }))), 'plan-modes') : null),
    reservations.length ? h('ul', { class: 'reservations' }, reservations.map((r) => h('li', { class: 'reservation', dataset: { reservation: r.id } },
      h('span', { class: 'id', text: r.id }),
      h('span', { class: 'holds' }, ' holds ', (r.holds ?? []).flatMap((x, i) => (i ? [', ', ...hold(x)] : hold(x)))),
      h('span', { class: 'expires', text: ` until ${dateTime(r.expires_at, state.tz)}` })))) : null);
}

function bar(percentText, { label, levels = [], crossed = [] } = {}) {
  const percent = Number.parseFloat(percentText ?? '0') || 0;
  const cls = percent >= 100 ? 'over' : crossed.length ? 'alert' : 'ok';
  const el = h('div', { class: `bar ${cls}`, role: 'progressbar', 'aria-label': label, 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': String(Math.min(percent, 100)), 'aria-valuetext': `${percentText ?? '0'}%` },
    h('div', { class: 'fill', style: { width: `${Math.min(percent, 100)}%` } }),
    levels.map((l) => h('div', { class: 'tick', title: `${l}%`, style: { left: `${Math.min(l, 100)}%` } })));
  return el;
}

function renderBudgets(res, alerts) {
  if (!res?.ok) {
    fill('budgets-body', errorText(res?.error));
    return;
  }
  const hasRule = (b) => b.budget || b.daily_limit || b.spike_alert;
  // A project without a budget still gets a card when its guard has something to show (a plan
  // in block mode can deny it, an app can hold a reservation).
  const guardActive = (g) => g?.ok && g.value && ((g.value.reservations ?? []).length || (g.value.denials?.month ?? 0) > 0 || (g.value.denials?.today ?? 0) > 0);
  const withBudget = res.value.filter((x) => hasRule(x.budget));
  const without = res.value.filter((x) => !hasRule(x.budget));
  const guardOnly = without.filter((x) => guardActive(x.guard)).map(({ project, guard }) =>
    h('li', { class: 'budget guard-only', dataset: { project: project.id } },
      h('h3', {}, project.name, h('span', { class: 'muted', text: ` (${project.id})` })),
      h('p', { class: 'muted', text: 'No budget or daily limit.' }),
      guardSection(guard.value)));
  const guardPart = (g) => (!g ? null : g.ok ? (g.value ? guardSection(g.value) : null) : guardError(g.error));
  const items = withBudget.map(({ project, budget, guard }) => {
    const s = budget.status ?? {};
    const crossed = s.levels_crossed ?? [];
    const levels = s.levels ?? budget.alert_levels ?? [];
    // levels_crossed names the highest level crossed ("budget-80"); the lower ones are passed too.
    const highest = Math.max(-1, ...crossed.map((c) => Number(/^budget-(\d+)$/.exec(c)?.[1] ?? -1)));
    return h('li', { class: 'budget', dataset: { project: project.id } },
      h('h3', {}, project.name, h('span', { class: 'muted', text: ` (${project.id})` })),
      budget.budget ? bar(s.percent_used, { label: `Budget used by ${project.name}`, levels, crossed }) : null,
      h('dl', { class: 'facts' },
        fact('Spent', spentText(s.spend, budget.budget && (s.budget ?? budget.budget), s.percent_used), 'spent'),
        budget.budget && budget.budget_mode ? modeFact('Budget mode', budget.budget_mode, 'budget-mode') : null,
        fact('Month', monthText(budget), 'month'),
        fact('Forecast', `${money(s.forecast)} by the end of the month${s.forecast_percent ? ` (${s.forecast_percent}%)` : ''}`, 'forecast'),
        // Levels are percents of a monthly budget: without one there are none to show.
        budget.budget ? fact('Alert levels', levels.length ? h('span', { class: 'levels' }, levels.map((l) => {
          const hit = l <= highest;
          return h('span', { class: `level${hit ? ' crossed' : ''}`, text: `${l}%${hit ? ' (crossed)' : ''}` });
        })) : 'none', 'levels') : null,
        s.daily_limit ? fact('Today', `${money(s.today_spend)} of the daily limit ${money(s.daily_limit)}${crossed.includes('daily') ? ' (crossed)' : ''}`, 'daily') : null,
        budget.daily_limit && budget.daily_limit_mode ? modeFact('Daily limit mode', budget.daily_limit_mode, 'daily-mode') : null,
        budget.spike_alert ? fact('Spike alert', `at ${budget.spike_alert.percent}% of the average day of the last 7${s.baseline_daily && !/^0*(\.0*)?$/.test(s.baseline_daily.amount ?? '') ? ` (${money(s.baseline_daily)})` : ' (no spend in them yet)'}, from ${money(budget.spike_alert.min_spend)}${crossed.includes('spike') ? ': today is one (crossed)' : ''}`, 'spike') : null,
        budget.report_schedule ? fact('Spend report', `${budget.report_schedule} by email`, 'report') : null,
        (s.spend_other_currencies ?? []).length ? fact('Other currencies', `${s.spend_other_currencies.map(money).join(', ')} (not converted)`, 'other') : null,
        s.unpriced_events ? fact('Unpriced events', `${int(s.unpriced_events)} (real spend is higher)`, 'unpriced') : null,
        fact('Last alert sent', budget.last_budget_alert_sent ? dateTime(budget.last_budget_alert_sent, state.tz) : 'never', 'last-alert'),
      ),
      guardPart(guard));
  });
  items.push(...guardOnly);
  const parts = [];
  parts.push(items.length ? h('ul', { class: 'budget-list', id: 'budget-list' }, items) : h('p', { class: 'muted', text: res.value.length
    ? 'No project has a budget. Set one below, or with PATCH /api/admin/projects/{id}/budget.'
    : 'No projects yet: create one under Projects and keys, then set its budget here.' }));
  if (without.length) parts.push(h('p', { class: 'muted', id: 'no-budget' }, 'No budget set: ', without.map((x) => x.project.name).join(', ')));
  if (alerts?.ok && alerts.value.alerts.length) {
    parts.push(h('h3', { text: 'Recent alerts' }), h('div', { class: 'scroll', tabindex: '0', role: 'region', 'aria-label': 'Recent alerts' }, sortableTable({
      id: 'table-alerts',
      caption: 'Recent alerts',
      columns: [
        { label: 'Sent', type: 'text', get: (a) => a.created_at, show: (a) => dateTime(a.created_at, state.tz) },
        { label: 'Project', type: 'text', get: (a) => state.projectNames?.get(a.project_id) ?? a.project_id, show: (a) => projectLabel(a.project_id) },
        { label: 'Level', type: 'text', get: (a) => a.level },
        { label: 'Channel', type: 'text', get: (a) => a.channel },
        { label: 'Status', type: 'text', get: (a) => a.status },
        { label: 'Subject', type: 'text', get: (a) => a.subject },
        // What was sent, readable here (locally, alert email goes to no inbox): the email's
        // plain-text body, or the webhook's JSON.
        { label: 'Message', type: 'text', get: (a) => alertBody(a) ?? '', show: alertMessage },
      ],
      rows: alerts.value.alerts,
      sort: { index: 0, dir: 'desc' },
    })));
  }
  parts.push(budgetEditor(res.value));
  fill('budgets-body', parts);
}

/** The text an alert sent: its email's plain text, else its webhook, Slack or Discord payload. */
const alertBody = (a) => a.text_body ?? a.body ?? a.payload ?? null;

function alertMessage(a) {
  const text = alertBody(a);
  if (!text) return h('span', { class: 'muted', text: '—' });
  return h('details', { class: 'alert-body', dataset: { alert: a.id } },
    h('summary', { text: a.channel === 'email' ? 'Show the email' : 'Show the payload' }),
    h('pre', { text }));
}

/** A form that sets or changes one project's budget (PATCH .../budget), for the admin. */
function budgetEditor(projects) {
  if (!projects.length) return null;
  // After a save the dashboard reloads: the form comes back open, on the project saved.
  const saved = state.budgetSaved;
  state.budgetSaved = null;
  const chosen = saved?.project ?? state.filter;
  const sorted = [...projects].sort((a, b) => a.project.name.localeCompare(b.project.name));
  const select = h('select', { id: 'be-project' }, sorted.map(({ project }) =>
    h('option', { value: project.id, text: `${project.name} (${project.id})`, selected: project.id === chosen })));
  const errors = h('ul', { id: 'be-errors', class: 'error', hidden: true });
  const status = h('p', { id: 'be-status', role: 'status' });
  const prefill = () => {
    const b = projects.find((x) => x.project.id === select.value)?.budget ?? {};
    $('be-amount').value = b.budget?.amount ?? '';
    $('be-currency').value = b.budget?.currency ?? b.daily_limit?.currency ?? 'USD';
    $('be-levels').value = (b.alert_levels ?? []).join(', ');
    $('be-daily').value = b.daily_limit?.amount ?? '';
    $('be-emails').value = (b.alert_emails ?? []).join(', ');
    $('be-timezone').value = b.period?.timezone && b.period.timezone !== 'UTC' ? b.period.timezone : '';
    $('be-budget-mode').value = b.budget_mode === 'block' ? 'block' : 'alert';
    $('be-daily-mode').value = b.daily_limit_mode === 'block' ? 'block' : 'alert';
    errors.hidden = true;
    status.textContent = '';
  };
  select.addEventListener('change', prefill);
  const form = h('form', { id: 'budget-editor', class: 'editor', novalidate: true },
    h('label', { for: 'be-project' }, 'Project', select),
    textInput('be-amount', 'Monthly budget', { inputmode: 'decimal', placeholder: 'none' }),
    textInput('be-currency', 'Currency', { maxlength: '3', size: '4' }),
    textInput('be-levels', 'Alert at (%)', { placeholder: '50, 80, 100' }),
    modeSelect('be-budget-mode', 'Past the budget'),
    textInput('be-daily', 'Daily limit', { inputmode: 'decimal', placeholder: 'none' }),
    modeSelect('be-daily-mode', 'Past the daily limit'),
    textInput('be-emails', 'Alert emails', { placeholder: 'ops@example.com, lead@example.com' }),
    textInput('be-timezone', 'Time zone', { placeholder: 'UTC' }),
    h('button', { type: 'submit', id: 'be-save', class: 'primary', text: 'Save budget' }),
    status, errors);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const value = (id) => $(id).value.trim();
    const currency = value('be-currency') || 'USD';
    const levels = value('be-levels');
    const body = {
      budget: value('be-amount') ? { amount: value('be-amount'), currency } : null,
      alert_levels: levels ? levels.split(/[\s,;]+/).filter(Boolean).map((l) => (/^\d+$/.test(l) ? Number(l) : l)) : 'default',
      daily_limit: value('be-daily') ? { amount: value('be-daily'), currency } : null,
      alert_emails: value('be-emails').split(/[\s,;]+/).filter(Boolean),
      timezone: value('be-timezone') || null,
      budget_mode: $('be-budget-mode').value,
      daily_limit_mode: $('be-daily-mode').value,
    };
    const button = $('be-save');
    button.disabled = true;
    errors.hidden = true;
    status.textContent = 'Saving…';
    try {
      await sendJson('PATCH', `/api/admin/projects/${encodeURIComponent(select.value)}/budget`, body);
      state.budgetSaved = { project: select.value, message: `Saved the budget of ${select.value}.` };
      await load();
    } catch (err) {
      status.textContent = `Not saved: ${err.message}`;
      showProblems(errors, err, { budget: 'be-amount', 'budget.currency': 'be-currency', 'daily_limit.currency': 'be-currency', 'spike_alert.min_spend': 'be-currency', alert_levels: 'be-levels', daily_limit: 'be-daily', alert_emails: 'be-emails', timezone: 'be-timezone', budget_mode: 'be-budget-mode', daily_limit_mode: 'be-daily-mode' });
    } finally {
      button.disabled = false;
    }
  });
  queueMicrotask(() => {
    prefill();
    if (saved) status.textContent = saved.message;
  });
  return h('details', { id: 'budget-edit', class: 'budget-edit', open: Boolean(saved) },
    h('summary', { text: 'Set or change a budget' }), form);
}

/** A month's spend against its budget, or alone when there is none (a daily limit only). */
function spentText(spend, budget, percent) {
  return budget ? `${money(spend)} of ${money(budget)} (${percent ?? '0.00'}%)` : `${money(spend)} (no monthly budget)`;
}

/** The month a budget counts, in its own time zone. */
function monthText(budget) {
  const period = budget.status?.period ?? budget.period ?? {};
  const tz = period.timezone ?? 'UTC';
  const from = period.from ? dateTime(period.from, tz) : null;
  return from ? `from ${from} (${tz})` : tz;
}

function fact(term, value, key) {
  return h('div', { class: 'fact', dataset: { fact: key } }, h('dt', { text: term }), h('dd', {}, value));
}

// Retention ------------------------------------------------------------------------------------

/** One line for the admin: how long raw events stay in D1, and what was pruned. */
function retentionText(r) {
  if (r.problem) return `Raw event retention is held back: ${r.problem}`;
  const kept = r.retention_days
    ? `Raw events are kept in D1 for ${int(r.retention_days)} days (USAGE_RETENTION_DAYS); older days are pruned by the cron.`
    : 'Raw events are kept in D1 for ever (USAGE_RETENTION_DAYS is not set).';
  const pruned = r.pruned_before
    ? ` Events before ${r.pruned_before} were pruned (${int(r.rows_pruned)} rows${r.last_pruned_at ? `, last pass ${dateTime(r.last_pruned_at, state.tz)}` : ''}): every report, budget and plan here still counts them, and the R2 raw log keeps them; only the event listing starts on that day.`
    : '';
  return kept + pruned;
}

function renderRetention(res) {
  const note = $('retention-note');
  const r = res?.ok ? res.value : null;
  note.hidden = !r;
  if (!r) return;
  note.textContent = retentionText(r);
  note.classList.toggle('warn', Boolean(r.problem));
}

// Plans ----------------------------------------------------------------------------------------

function renderPlans(subs, capacity) {
  if (!subs?.ok) {
    fill('plans-body', errorText(subs?.error));
  } else if (!subs.value || !(subs.value.subscriptions ?? []).length) {
    fill('plans-body', h('p', { class: 'muted', id: 'no-plans', text: 'No plans configured. Plans (flat monthly fees with an allotment) are added with PUT /api/admin/subscriptions.' }));
  } else {
    const v = subs.value;
    const shown = v.subscriptions.filter((s) => !state.filter || !s.project_id || s.project_id === state.filter);
    const items = shown.map((s) => {
      // A money allotment is shown in its currency.
      const unit = s.allotment?.unit === 'money' ? s.monthly_fee?.currency ?? '' : s.allotment?.unit ?? '';
      const q = (x) => {
        if (x === null || x === undefined) return '—';
        return s.allotment?.unit === 'money' ? `${amount(x)} ${unit}`.trim() : withUnit(x, unit);
      };
      const resetDay = s.period?.to ? s.period.to.slice(0, 10) : '—';
      return h('li', { class: `plan${s.runs_out_before_reset || s.expired ? ' warn' : ''}`, dataset: { provider: s.provider, project: s.project_id ?? '' } },
        h('h3', {}, s.provider, s.name ? ` · ${s.name}` : '', h('span', { class: 'muted', text: s.project_id ? ` (project ${state.projectNames?.get(s.project_id) ?? s.project_id})` : ' (all projects)' })),
        s.allotment ? bar(s.percent_used, { label: `Allotment used of ${s.provider}` }) : null,
        h('dl', { class: 'facts' },
          fact('Allotment', s.allotment ? q(s.allotment.amount) : 'none (usage is billed at its price)', 'allotment'),
          fact('Used', `${q(s.used)}${s.percent_used ? ` (${s.percent_used}%)` : ''}${s.reading?.applied ? `; from a reading of ${q(s.reading.used)} at ${dateTime(s.reading.at, state.tz)}` : ''}`, 'used'),
          fact('Remaining', q(s.remaining), 'remaining'),
          s.overage ? fact('Past the allotment', `${q(s.overage.units)}: ${money(s.overage.cost)} at ${s.overage.price} ${s.monthly_fee?.currency ?? ''} per ${quantity(s.overage.per)} ${unit}`, 'overage') : null,
          fact('Available', `${q(s.available)} (after a reserve of ${q(s.reserve)})`, 'available'),
          // Whether the guard denies use past the reserve (older workers leave the mode out).
          s.mode ? modeFact('Mode', s.mode, 'mode') : null,
          s.term
            ? (s.not_started
              ? fact('Starts', `${s.term.starts} (a one-time credit until ${s.term.expires}; it limits nothing before then)`, 'starts')
              : fact(s.expired ? 'Expired' : 'Expires', s.expired ? s.term.expires : `${s.term.expires} (${s.period?.days_left ?? '—'} days left; a one-time credit from ${s.term.starts})`, 'expires'))
            : fact('Resets', `${resetDay}${s.period?.days_left !== undefined ? ` (${s.period.days_left} days left)` : ''}`, 'resets'),
          s.term ? null : fact('Monthly fee', money(s.monthly_fee), 'fee'),
          s.allotment && !s.expired && !s.not_started ? fact('Run-out', s.run_out ? `${s.run_out}${s.runs_out_before_reset ? ` — before ${s.term ? 'it expires' : 'the reset'}` : ` (after ${s.term ? 'it expires' : 'the reset'})`}` : 'not expected at the current rate', 'run-out') : null,
        ),
        // The plan counts a usage no recorded event of its provider carries: say so.
        s.warning ? h('p', { class: 'note plan-warning', role: 'note', text: `Check this plan: ${s.warning}.` }) : null);
    });
    const sum = (list) => (list ?? []).length ? list.map(money).join(', ') : '0.00';
    const past = v.as_of && state.data?.range && pastEnd(state.data.range);
    fill('plans-body',
      past ? h('p', { class: 'note', id: 'plans-as-of', text: `As of ${dateTime(v.as_of, state.tz)}, the end of the chosen range: each plan's period then, and the cost of ${v.month}.` }) : null,
      h('dl', { class: 'facts totals' },
        fact(`${past ? `Cost of ${v.month}` : 'Monthly cost'}${state.filter ? ' (all projects)' : ''}`, sum(v.monthly_cost), 'monthly-cost'),
        fact('Plan fees', sum(v.fees), 'fees'),
        fact('Usage-priced spend', sum(v.usage_spend), 'usage-spend'),
        (v.overage ?? []).length ? fact('Past allotments', sum(v.overage), 'overage') : null,
        (v.credits_applied ?? []).length ? fact('Paid from credits', sum(v.credits_applied), 'credits-applied') : null),
      shown.length ? h('ul', { class: 'plan-list', id: 'plan-list' }, items) : h('p', { class: 'muted', text: 'No plan covers this project.' }));
  }
  renderCapacity(capacity);
}

function renderCapacity(res) {
  if (!res?.ok) {
    fill('capacity-body', errorText(res?.error));
    return;
  }
  const profiles = res.value?.profiles ?? [];
  if (!profiles.length) {
    fill('capacity-body', h('p', { class: 'muted', id: 'no-profiles', text: 'No workload profiles configured.' }));
    return;
  }
  fill('capacity-body', h('ul', { class: 'profile-list', id: 'profile-list' }, profiles.map((p) => h('li', { class: 'profile', dataset: { profile: p.name } },
    h('h4', {}, p.name, p.learned ? h('span', { class: 'badge', text: 'learned from usage' }) : null),
    h('p', { class: 'units' },
      h('strong', { class: 'units-left', text: p.units_left === null || p.units_left === undefined ? '—' : int(p.units_left) }),
      ' units left',
      p.bottleneck ? [' · bottleneck: ', h('strong', { class: 'bottleneck-name', text: p.bottleneck })] : null,
      p.recommended_daily ? ` · to last until the reset: at most ${p.recommended_daily} a day` : null),
    p.note ? h('p', { class: 'muted', text: p.note }) : null,
    h('div', { class: 'scroll', tabindex: '0', role: 'region', 'aria-label': `Capacity of ${p.name} by provider` },
      h('table', { class: 'data capacity' },
        h('caption', { class: 'visually-hidden', text: `Capacity of ${p.name} by provider` }),
        h('thead', {}, h('tr', {}, ['Provider', 'Available', `Per ${p.name}`, 'Units left', 'Days left', 'Units a day until the reset'].map((t, i) => h('th', { scope: 'col', class: i ? 'num' : null, text: t })))),
        h('tbody', {}, (p.per_provider ?? []).map((x) => {
          const isBottleneck = x.provider === p.bottleneck;
          const unit = x.unit ?? (p.items ?? []).find((i) => i.provider === x.provider)?.unit ?? '';
          const q = (v) => {
            if (v === null || v === undefined) return '—';
            return unit === 'money' ? amount(v) : withUnit(v, unit);
          };
          return h('tr', { class: isBottleneck ? 'bottleneck' : null, dataset: { provider: x.provider } },
            h('th', { scope: 'row' }, x.provider, isBottleneck ? h('span', { class: 'badge bottleneck-badge', text: 'bottleneck' }) : null),
            h('td', { class: 'num', text: q(x.available) }),
            h('td', { class: 'num', text: q(x.per_unit) }),
            h('td', { class: 'num', text: x.units_left === null || x.units_left === undefined ? '—' : int(x.units_left) }),
            h('td', { class: 'num', text: x.days_left ?? '—' }),
            h('td', { class: 'num', text: x.daily_rate ?? '—' }));
        }))))))));
}

// ---------------------------------------------------------------------------------------------
// Wiring

function setPreset(preset) {
  state.preset = preset;
  for (const b of document.querySelectorAll('[data-preset]')) b.setAttribute('aria-pressed', String(b.dataset.preset === preset));
}

function init() {
  $('signin-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const key = $('key').value.trim();
    if (!key) {
      showSignIn('Enter the admin key or a project key.');
      return;
    }
    signIn(key);
  });
  $('sign-out').addEventListener('click', () => signOut('Signed out. The key was removed from this tab.'));
  $('refresh').addEventListener('click', () => load());
  for (const b of document.querySelectorAll('[data-preset]')) {
    b.addEventListener('click', () => {
      const custom = b.dataset.preset === 'custom';
      $('custom-range').hidden = !custom;
      if (custom) {
        const today = localDay(new Date(), state.tz);
        $('from').value ||= state.from ?? `${today.slice(0, 8)}01`;
        $('to').value ||= state.to ?? today;
        $('from').focus();
        return; // applied with the form's Apply button
      }
      setPreset(b.dataset.preset);
      load();
    });
  }
  $('custom-range').addEventListener('submit', (e) => {
    e.preventDefault();
    const from = $('from').value;
    const to = $('to').value;
    if (!from || !to || from > to) {
      showBanner('Choose a start date on or before the end date.');
      return;
    }
    Object.assign(state, { from, to });
    setPreset('custom');
    load();
  });
  $('project-filter').addEventListener('change', (e) => {
    state.filter = e.target.value;
    load();
  });
  $('grain').addEventListener('change', (e) => {
    state.grain = e.target.value;
    $('chart-daily-caption').textContent = `${{ day: 'Daily', week: 'Weekly', month: 'Monthly' }[state.grain]} cost by provider`;
    load();
  });
  $('currency').addEventListener('change', (e) => {
    state.currency = e.target.value;
    if (state.data) renderCharts(state.data);
  });
  initCatalog();
  // Budget alerts link to the dashboard with ?project=<id>: start with that project chosen.
  state.filter = new URLSearchParams(location.search).get('project') ?? '';
  const key = sessionStorage.getItem(STORAGE_KEY);
  if (key) signIn(key);
  else showSignIn();
}

init();
