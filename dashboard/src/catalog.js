// The price catalog panel: a search of GET /api/prices by provider, model prefix and mode,
// a page (of the API's cursor pages) at a time, showing each entry's prices, the catalog it
// comes from (curated, LiteLLM and its version, custom) and the day it is effective from.
// A search is a URL, `#catalog?provider=..&model_prefix=..&mode=..`: the unpriced table
// links each model to the search for its provider and name, and the link works when opened
// in a new tab too (after sign-in).

import { h, fill, $ } from './dom.js';
import { getJson, apiPath } from './api.js';
import { int } from './format.js';
import { sortableTable } from './table.js';

const PAGE = 50;
const FIELDS = ['provider', 'model_prefix', 'mode'];
const HASH = '#catalog';

const search = { params: {}, cursors: [null], page: 0, seq: 0 };

/** The URL of a catalog search (empty fields left out). */
export function catalogHash(params) {
  const q = new URLSearchParams();
  for (const f of FIELDS) if (params[f]) q.set(f, params[f]);
  const s = q.toString();
  return s ? `${HASH}?${s}` : HASH;
}

/**
 * The model prefix a search for an unpriced model starts from: its family, the name up to
 * and including its first separator after the first two characters (`mistral-large-2612` ->
 * `mistral-`, `@cf/meta/llama-9` -> `@cf/`, `eleven_v9` -> `eleven_`), with a
 * `provider/` prefix left out.
 */
export function familyPrefix(provider, model) {
  let name = String(model ?? '').toLowerCase();
  const p = String(provider ?? '').toLowerCase();
  if (p && name.startsWith(`${p}/`)) name = name.slice(p.length + 1);
  const m = /^.{2}[^-_./:@]*[-_./:@]/.exec(name);
  return m ? m[0] : name;
}

/** A link from an unpriced provider/model to the catalog search that matches it. */
export function catalogLink(provider, model) {
  const href = catalogHash({ provider, model_prefix: familyPrefix(provider, model) });
  return h('a', { href, class: 'catalog-link', title: `Prices the catalog holds for ${provider} models like this one`, text: model });
}

function readHash() {
  const hash = location.hash;
  if (hash !== HASH && !hash.startsWith(`${HASH}?`)) return null;
  const q = new URLSearchParams(hash.slice(HASH.length + 1));
  return Object.fromEntries(FIELDS.map((f) => [f, (q.get(f) ?? '').trim()]));
}

function rateText(kind, rate, currency) {
  const per = rate.per === 1_000_000 ? '1M' : rate.per === 1000 ? '1K' : int(rate.per);
  return `${kind.replace(/_/g, ' ')}: ${rate.price} ${currency} per ${per}`;
}

function prices(entry) {
  const rates = Object.entries(entry.rates ?? {}).map(([k, r]) => rateText(k, r, entry.currency));
  const tiers = (entry.tiers ?? []).map((t) => `above ${int(t.above_prompt_tokens)} prompt tokens: ${Object.entries(t.rates).map(([k, r]) => rateText(k, r, entry.currency)).join('; ')}`);
  return h('ul', { class: 'rates' }, [...rates, ...tiers].map((line) => h('li', { text: line })));
}

function catalogName(entry, version) {
  if (entry.catalog === 'litellm') return `LiteLLM ${version ?? ''}`.trim();
  if (entry.catalog === 'custom') return entry.project_id ? `custom (${entry.project_id})` : 'custom';
  return entry.catalog ?? entry.origin;
}

async function run() {
  const seq = ++search.seq;
  const { params, page } = search;
  const body = $('catalog-results');
  body.setAttribute('aria-busy', 'true');
  let answer;
  try {
    answer = await getJson(apiPath('/api/prices', { ...params, limit: PAGE, cursor: search.cursors[page] ?? undefined }));
  } catch (e) {
    if (seq !== search.seq) return;
    body.removeAttribute('aria-busy');
    fill(body, h('p', { class: 'error', role: 'alert', id: 'catalog-error', text: `The catalog search failed: ${e.message}` }));
    return;
  }
  if (seq !== search.seq) return;
  search.cursors[page + 1] = answer.next_cursor;
  const first = page * PAGE;
  const models = new Set(answer.prices.map((p) => `${p.provider}/${p.model}`)).size;
  const table = sortableTable({
    id: 'table-catalog',
    caption: 'Price catalog',
    columns: [
      { label: 'Provider', type: 'text', get: (r) => r.provider },
      { label: 'Model', type: 'text', get: (r) => r.model },
      { label: 'Mode', type: 'text', get: (r) => r.mode ?? '' },
      { label: 'Prices', type: 'text', get: (r) => Object.keys(r.rates ?? {}).join(' '), show: (r) => prices(r) },
      { label: 'Catalog', type: 'text', get: (r) => catalogName(r, answer.litellm_version) },
      { label: 'Effective from', type: 'text', get: (r) => r.effective_from },
    ],
    rows: answer.prices,
    sort: { index: 1, dir: 'asc' },
  });
  const pager = h('nav', { class: 'pager', id: 'catalog-pager', 'aria-label': 'Pages of the price catalog' },
    h('button', { type: 'button', id: 'catalog-prev', class: 'prev', disabled: page === 0, on: { click: () => { search.page -= 1; run(); } } }, '← Previous'),
    h('span', { id: 'catalog-count', 'aria-live': 'polite', text: answer.total ? `Models ${int(first + 1)}–${int(first + models)} of ${int(answer.total)}` : 'No model matches this search.' }),
    h('button', { type: 'button', id: 'catalog-next', class: 'next', disabled: !answer.next_cursor, on: { click: () => { search.page += 1; run(); } } }, 'Next →'));
  body.removeAttribute('aria-busy');
  fill(body, h('div', { class: 'scroll', tabindex: '0', role: 'region', 'aria-label': 'Price catalog' }, table), pager);
  $('catalog').dataset.searches = String(Number($('catalog').dataset.searches ?? 0) + 1);
}

/** Starts a search: from the form, or from a `#catalog?...` URL (which fills the form). */
function start(params, { scroll = false } = {}) {
  search.params = Object.fromEntries(FIELDS.map((f) => [f, params[f] || undefined]));
  search.cursors = [null];
  search.page = 0;
  for (const f of FIELDS) $(`catalog-${f}`).value = params[f] ?? '';
  if (scroll) $('catalog').scrollIntoView({ block: 'start' });
  return run();
}

/** Builds the panel's form once; the panel shows nothing until a search. */
export function initCatalog() {
  const input = (f, label, placeholder) => h('label', { for: `catalog-${f}` }, label,
    h('input', { id: `catalog-${f}`, name: f, type: 'text', spellcheck: 'false', autocapitalize: 'off', autocomplete: 'off', placeholder }));
  const form = h('form', { id: 'catalog-form', class: 'catalog-form', method: 'post', novalidate: true },
    input('provider', 'Provider', 'mistral'),
    input('model_prefix', 'Model starts with', 'codestral'),
    input('mode', 'Mode', 'chat'),
    h('button', { type: 'submit', id: 'catalog-search' }, 'Search'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const params = Object.fromEntries(FIELDS.map((f) => [f, $(`catalog-${f}`).value.trim()]));
    // The search is a URL: Back returns to the previous one, and it can be shared.
    history.pushState(null, '', catalogHash(params));
    start(params);
  });
  fill('catalog-body',
    h('p', { class: 'muted', text: 'Every model this worker prices: the curated catalog, LiteLLM\'s catalog under it, and custom prices, as in force today.' }),
    form,
    h('div', { id: 'catalog-results' }));
  window.addEventListener('hashchange', () => openCatalogFromUrl());
}

/** Runs the search the URL names, if it names one (after sign-in, and on each link). */
export function openCatalogFromUrl() {
  const params = readHash();
  if (!params || $('dashboard').hidden) return null;
  return start(params, { scroll: true });
}

/** Forgets the last search (on sign-out). */
export function resetCatalog() {
  search.seq += 1;
  fill('catalog-results');
  for (const f of FIELDS) $(`catalog-${f}`).value = '';
}
