// The project-key view: a project key may not read the admin reports, so the dashboard sums
// that project's raw events (GET /api/usage pages) itself, exactly (money as BigInt nanos).

import { MoneySum } from './money.js';
import { localDay, periodOfDay } from './format.js';

/** Every measure of a report row, in the order of the API's CSV columns (`MEASURES`). */
export const MEASURE_COLUMNS = ['events', 'unpriced_events', 'cache_hits', 'failed_events', 'duration_ms', 'input_tokens', 'output_tokens',
  'total_tokens', 'cached_input_tokens', 'cache_write_tokens', 'reasoning_tokens', 'audio_input_tokens', 'audio_output_tokens',
  'characters', 'audio_seconds', 'video_seconds', 'images', 'requests', 'tracks', 'credits'];
/** Usage kinds that may be fractional: summed exactly in micro-units, shown as decimal text. */
const DECIMALS = ['audio_seconds', 'video_seconds', 'credits'];
const COUNTS = MEASURE_COLUMNS.filter((k) => !DECIMALS.includes(k));
/** Whole-number usage kinds an event lists in `usage` (its token counts are fields of their own). */
const USAGE_COUNTS = ['cached_input_tokens', 'cache_write_tokens', 'reasoning_tokens', 'audio_input_tokens', 'audio_output_tokens',
  'characters', 'images', 'requests', 'tracks'];

/** "0.5" -> 500000n; the API's decimal text has at most 6 places. */
function micros(text) {
  const m = /^(\d+)(?:\.(\d{1,6}))?$/.exec(String(text ?? '0'));
  if (!m) return 0n;
  return BigInt(m[1]) * 1000000n + BigInt((m[2] ?? '').padEnd(6, '0'));
}

/** 1500000n -> "1.5", as the API writes it. */
function microsText(n) {
  const whole = n / 1000000n;
  const fraction = (n % 1000000n).toString().padStart(6, '0').replace(/0+$/, '');
  return fraction ? `${whole}.${fraction}` : `${whole}`;
}

class Bucket {
  constructor(keys) {
    Object.assign(this, keys);
    this.money = new MoneySum();
    for (const c of COUNTS) this[c] = 0;
    this.micros = Object.fromEntries(DECIMALS.map((k) => [k, 0n]));
  }
  add(e) {
    this.events += 1;
    if (e.cost) this.money.add(e.cost);
    if (e.unpriced || !e.cost) this.unpriced_events += 1;
    if (e.cached) this.cache_hits += 1;
    if (e.success === false) this.failed_events += 1;
    this.duration_ms += e.duration_ms ?? 0;
    this.input_tokens += e.input_tokens ?? 0;
    this.output_tokens += e.output_tokens ?? 0;
    this.total_tokens += e.total_tokens ?? 0;
    for (const k of USAGE_COUNTS) this[k] += Number(e.usage?.[k] ?? 0);
    for (const k of DECIMALS) this.micros[k] += micros(e.usage?.[k]);
  }
  done() {
    const { money, micros: m, ...rest } = this;
    return { ...rest, ...Object.fromEntries(DECIMALS.map((k) => [k, microsText(m[k])])), cost: money.list() };
  }
}

function groupBy(events, keyOf) {
  const map = new Map();
  for (const e of events) {
    const keys = keyOf(e);
    const k = JSON.stringify(keys);
    if (!map.has(k)) map.set(k, new Bucket(keys));
    map.get(k).add(e);
  }
  return [...map.values()].map((b) => b.done());
}

/** Model rows with the names their events were recorded under, other than the row's. */
function withAliases(rows, events) {
  const seen = new Map();
  for (const e of events) {
    const model = e.catalog_model ?? e.model;
    if (e.model === model) continue;
    const k = `${e.provider}\u0000${model}`;
    if (!seen.has(k)) seen.set(k, new Set());
    seen.get(k).add(e.model);
  }
  return rows.map((r) => ({ ...r, aliases: [...(seen.get(`${r.provider}\u0000${r.model}`) ?? [])].sort() }));
}

/** Report-shaped results (like GET /api/admin/usage) from a project's events. */
export function aggregate(events, tz) {
  const totals = new Bucket({});
  for (const e of events) totals.add(e);
  const day = (e) => localDay(new Date(e.timestamp), tz);
  const jobs = new Map();
  for (const e of events) {
    if (!e.job_id) continue;
    const k = `${e.project_id}\u0000${e.job_id}`;
    let j = jobs.get(k);
    if (!j) {
      j = { project_id: e.project_id, job_id: e.job_id, first_seen: e.timestamp, last_seen: e.timestamp, calls: 0, unpriced_calls: 0, money: new MoneySum(), providers: new Map(), operations: new Map() };
      jobs.set(k, j);
    }
    j.calls += 1;
    if (!e.cost) j.unpriced_calls += 1;
    j.money.add(e.cost);
    if (e.timestamp < j.first_seen) j.first_seen = e.timestamp;
    if (e.timestamp > j.last_seen) j.last_seen = e.timestamp;
    for (const [field, map] of [['provider', j.providers], ['operation', j.operations]]) {
      const name = e[field] ?? '';
      if (field === 'operation' && !e.operation) continue;
      const p = map.get(name) ?? { [field]: name, calls: 0, money: new MoneySum() };
      p.calls += 1;
      p.money.add(e.cost);
      map.set(name, p);
    }
  }
  const unpriced = new Map();
  for (const e of events) {
    if (e.cost && !e.unpriced) continue;
    const k = `${e.provider}\u0000${e.model}`;
    const u = unpriced.get(k) ?? { provider: e.provider, model: e.model, reason: e.unpriced?.code ?? 'unpriced', message: e.unpriced?.message ?? '', events: 0, projects: 1, first_seen: e.timestamp, last_seen: e.timestamp };
    u.events += 1;
    if (e.timestamp < u.first_seen) u.first_seen = e.timestamp;
    if (e.timestamp > u.last_seen) u.last_seen = e.timestamp;
    unpriced.set(k, u);
  }
  const finish = (list) => list.map(({ money, ...rest }) => ({ ...rest, cost: money.list() }));
  return {
    totals: totals.done(),
    /** Cost by local day, week (its Monday) or month and provider, as the API's group=<grain>,provider. */
    periodProvider: (grain) => groupBy(events, (e) => ({ period: periodOfDay(day(e), grain), provider: e.provider })),
    provider: groupBy(events, (e) => ({ provider: e.provider })),
    // As the admin report groups them: a dated alias or snapshot under its catalog model,
    // the names seen kept in `aliases`.
    model: withAliases(groupBy(events, (e) => ({ provider: e.provider, model: e.catalog_model ?? e.model })), events),
    project: groupBy(events, (e) => ({ project_id: e.project_id, project_name: null })),
    operation: groupBy(events, (e) => ({ operation: e.operation ?? null })),
    jobs: [...jobs.values()]
      .sort((a, b) => (a.last_seen < b.last_seen ? 1 : -1))
      .map((j) => ({
        project_id: j.project_id, job_id: j.job_id, first_seen: j.first_seen, last_seen: j.last_seen,
        calls: j.calls, unpriced_calls: j.unpriced_calls, cost: j.money.list(),
        providers: finish([...j.providers.values()]), operations: finish([...j.operations.values()]),
      })),
    unpriced: [...unpriced.values()].sort((a, b) => b.events - a.events),
  };
}
