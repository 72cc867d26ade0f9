// Sortable tables: a button in each column header sorts by that column (again: reverse);
// aria-sort says which. Cells are text only.

import { h } from './dom.js';
import { toNanos, compareNanos } from './money.js';
import { int } from './format.js';

/**
 * columns: [{ label, type: 'text'|'int'|'money'|'decimal', get(row) -> value, show?(row) -> string|Node }]
 * Money and decimal values are amount strings, compared exactly.
 */
export function sortableTable({ id, caption, columns, rows, sort = { index: 0, dir: 'desc' } }) {
  const state = { ...sort };
  const table = h('table', { id, class: 'data' });
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
              render();
              table.querySelectorAll('th button')[i].focus();
            },
          },
        }, c.label, h('span', { class: 'arrow', 'aria-hidden': 'true', text: active ? (state.dir === 'asc' ? ' ▲' : ' ▼') : ' ↕' })));
    }));
    const body = sorted.length
      ? sorted.map((row) => h('tr', {}, columns.map((c) => {
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
  };
  render();
  return table;
}
