// Sortable tables: a button in each column header sorts by that column (again: reverse);
// aria-sort says which. Cells are text only.

import { h, fill } from './dom.js';
import { toNanos, compareNanos } from './money.js';
import { int } from './format.js';

/**
 * columns: [{ label, type: 'text'|'int'|'money'|'decimal', get(row) -> value, show?(row) -> string|Node }]
 * Money and decimal values are amount strings, compared exactly.
 * With `pageSize`, the table shows that many rows at a time (of all rows, sorted) with
 * Previous and Next buttons after it, starting on `page` (0-based); `onPage(page)` hears of
 * each change. The answer is then a wrapper element holding the table and its pager.
 */
export function sortableTable({ id, caption, columns, rows, sort = { index: 0, dir: 'desc' }, pageSize, page = 0, onPage }) {
  const state = { ...sort, page };
  const table = h('table', { id, class: 'data' });
  const pages = pageSize ? Math.max(1, Math.ceil(rows.length / pageSize)) : 1;
  const pager = pageSize && rows.length > pageSize ? h('nav', { class: 'pager', id: `${id}-pager`, 'aria-label': `Pages of ${caption ?? 'the table'}` }) : null;
  const showPager = () => {
    if (!pager) return;
    const first = state.page * pageSize;
    const go = (to, which) => {
      state.page = to;
      onPage?.(to);
      render();
      // Keep the keyboard where it was: on the button pressed, or on the other at an end.
      const again = pager.querySelector(`.${which}`);
      (again.disabled ? pager.querySelector(which === 'next' ? '.prev' : '.next') : again).focus();
    };
    fill(pager,
      h('button', { type: 'button', class: 'prev', id: `${id}-prev`, disabled: state.page === 0, on: { click: () => go(state.page - 1, 'prev') } }, '← Previous'),
      h('span', { class: 'page-of', id: `${id}-page`, 'aria-live': 'polite', text: `Page ${state.page + 1} of ${pages} (rows ${first + 1}–${Math.min(first + pageSize, rows.length)} of ${rows.length})` }),
      h('button', { type: 'button', class: 'next', id: `${id}-next`, disabled: state.page >= pages - 1, on: { click: () => go(state.page + 1, 'next') } }, 'Next →'));
  };
  const compare = (col) => {
    if (col.type === 'money' || col.type === 'decimal') return (a, b) => compareNanos(toNanos(a ?? '0'), toNanos(b ?? '0'));
    if (col.type === 'int') return (a, b) => (a ?? 0) - (b ?? 0);
    return (a, b) => String(a ?? '').localeCompare(String(b ?? ''), 'en');
  };
  const render = () => {
    const col = columns[state.index];
    const cmp = compare(col);
    const sorted = rows
      .map((row, i) => ({ row, i }))
      .sort((a, b) => cmp(col.get(a.row), col.get(b.row)) * (state.dir === 'asc' ? 1 : -1) || a.i - b.i)
      .map((x) => x.row);
    state.page = Math.min(Math.max(0, state.page), pages - 1);
    const shownRows = pageSize ? sorted.slice(state.page * pageSize, (state.page + 1) * pageSize) : sorted;
    const head = h('tr', {}, columns.map((c, i) => {
      const active = i === state.index;
      const numeric = c.type !== 'text';
      return h('th', { scope: 'col', class: numeric ? 'num' : null, 'aria-sort': active ? (state.dir === 'asc' ? 'ascending' : 'descending') : 'none' },
        h('button', {
          type: 'button',
          class: 'sort',
          title: `Sort by ${c.label}`,
          on: {
            click: () => {
              if (state.index === i) state.dir = state.dir === 'asc' ? 'desc' : 'asc';
              else Object.assign(state, { index: i, dir: numeric ? 'desc' : 'asc' });
              // A new order starts again at its first page.
              state.page = 0;
              onPage?.(0);
              render();
              table.querySelectorAll('th button')[i].focus();
            },
          },
        }, c.label, h('span', { class: 'arrow', 'aria-hidden': 'true', text: active ? (state.dir === 'asc' ? ' ▲' : ' ▼') : ' ↕' })));
    }));
    const body = shownRows.length
      ? shownRows.map((row) => h('tr', {}, columns.map((c) => {
        const v = c.get(row);
        const shown = c.show ? c.show(row) : c.type === 'int' ? int(v) : v ?? '—';
        return h('td', { class: c.type !== 'text' ? 'num' : null }, shown);
      })))
      : [h('tr', {}, h('td', { colspan: columns.length, class: 'empty', text: 'No rows in this range.' }))];
    table.replaceChildren(
      caption ? h('caption', { class: 'visually-hidden', text: caption }) : '',
      h('thead', {}, head),
      h('tbody', {}, body),
    );
    showPager();
  };
  render();
  return pager ? h('div', { class: 'paged' }, table, pager) : table;
}
