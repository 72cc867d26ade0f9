// Charts (Chart.js, bundled; nothing is loaded at run time). Bars are drawn from the API's
// approximate `value`s; tooltips show the exact amount text.

import { Chart, BarController, BarElement, CategoryScale, LinearScale, Tooltip, Legend } from 'chart.js';
import { toFont, toPadding } from 'chart.js/helpers';
import { toNanos, fromNanos, chartValue, compareNanos } from './money.js';
import { periodsBetween } from './format.js';

const GRAIN_WORDS = { day: ['Day', 'Daily', 'days'], week: ['Week (from Monday)', 'Weekly', 'weeks'], month: ['Month', 'Monthly', 'months'] };

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Tooltip, Legend);
Chart.defaults.font.family = getComputedStyle(document.documentElement).fontFamily || 'system-ui, sans-serif';
Chart.defaults.color = '#334155';

// Okabe-Ito and Tableau colours: distinguishable, also for colour-blind readers.
const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442', '#4E79A7', '#B07AA1', '#76B7B2', '#9C755F', '#59A14F'];

const charts = new Map();

export function destroyCharts() {
  for (const c of charts.values()) c.destroy();
  charts.clear();
}

function draw(canvas, config) {
  charts.get(canvas.id)?.destroy();
  charts.set(canvas.id, new Chart(canvas, { ...config, plugins: [...(config.plugins ?? []), axisBoxes] }));
}

const axisTitle = (text) => ({ display: true, text, font: { weight: 'bold' } });

let measurer;
/** `text` cut with an ellipsis to at most `maxWidth` pixels in `font` (a CSS font string). */
function fitText(text, maxWidth, font) {
  measurer ??= document.createElement('canvas').getContext('2d');
  measurer.font = font;
  const fits = (t) => measurer.measureText(t).width <= maxWidth;
  if (fits(text)) return text;
  let lo = 0;
  let hi = text.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (fits(`${text.slice(0, mid)}…`)) lo = mid;
    else hi = mid - 1;
  }
  return `${text.slice(0, lo)}…`;
}

/**
 * Tick labels of a left or right axis that fit beside its title: Chart.js gives such an axis at
 * most half the chart's width and draws longer labels over the title (long model names on a
 * phone). Cut names end in "…"; tooltips and the figures table keep the whole name.
 */
function fittedLabel(value) {
  const { title, grid, ticks } = this.options;
  const titleFont = toFont(title.font);
  const titleBand = title.display ? titleFont.lineHeight + toPadding(title.padding).height : 0;
  const room = this.chart.width / 2 - titleBand - (grid.tickLength ?? 8) - (ticks.padding ?? 3) - 1;
  return fitText(String(this.getLabelForValue(value)), Math.max(room, 24), toFont(ticks.font).string);
}

/** Where an axis's title is drawn: [left, top, right, bottom] in CSS pixels (as Chart.js
 * places it: its line height from the scale's outer edge, after the title's padding). */
function titleBox(scale) {
  const { title, position } = scale.options;
  const font = toFont(title.font);
  const pad = toPadding(title.padding);
  if (scale.isHorizontal()) {
    const top = position === 'top' ? scale.top + pad.top : scale.bottom - pad.bottom - font.lineHeight;
    return [scale.left, top, scale.right, top + font.lineHeight];
  }
  const left = position === 'right' ? scale.right - pad.top - font.lineHeight : scale.left + pad.top;
  return [left, scale.top, left + font.lineHeight, scale.bottom];
}

/** The box around every tick label of an axis as drawn (rotated labels included). */
function labelsBox(scale, ctx) {
  let box = null;
  for (const item of scale.getLabelItems()) {
    const { translation: [x, y], rotation, textAlign } = item.options;
    const lines = [].concat(item.label).map(String);
    ctx.save();
    ctx.font = item.font.string;
    const width = Math.max(0, ...lines.map((l) => ctx.measureText(l).width));
    ctx.restore();
    const left = textAlign === 'right' ? -width : textAlign === 'center' ? -width / 2 : 0;
    const top = item.textOffset - item.font.size / 2;
    const bottom = item.textOffset + (lines.length - 1) * item.font.lineHeight + item.font.size / 2;
    const [cos, sin] = [Math.cos(rotation), Math.sin(rotation)];
    for (const [cx, cy] of [[left, top], [left + width, top], [left, bottom], [left + width, bottom]]) {
      const px = x + cx * cos - cy * sin;
      const py = y + cx * sin + cy * cos;
      box = box ? [Math.min(box[0], px), Math.min(box[1], py), Math.max(box[2], px), Math.max(box[3], py)] : [px, py, px, py];
    }
  }
  return box;
}

/** After each draw, each titled axis's title box and label box on the canvas, as data-axes
 * (JSON, CSS pixels): what the browser test reads to prove no title covers a label. */
const axisBoxes = {
  id: 'axisBoxes',
  afterDraw(chart) {
    const boxes = {};
    for (const scale of Object.values(chart.scales)) {
      if (scale.options.display === false || !scale.options.title?.display) continue;
      boxes[scale.id] = { title: titleBox(scale), labels: labelsBox(scale, chart.ctx) };
    }
    chart.canvas.dataset.axes = JSON.stringify(boxes);
  },
};
const costTicks = (currency) => ({ callback: (v) => `${Number(v).toLocaleString('en-US', { maximumFractionDigits: 2 })} ${currency}` });

/** Cost per day, week or month stacked by provider, in one currency.
 * rows: [{period, provider, cost: [Money]}]; periods are days, Mondays or "YYYY-MM". */
export function dailyByProvider(canvas, rows, currency, range, grain = 'day') {
  const [axisWord, adjective, plural] = GRAIN_WORDS[grain] ?? GRAIN_WORDS.day;
  const cell = new Map();
  const providers = new Set();
  const periods = new Set();
  for (const r of rows) {
    const m = (r.cost ?? []).find((x) => x.currency === currency);
    periods.add(r.period);
    if (!m) continue;
    providers.add(r.provider);
    const k = `${r.period}\u0000${r.provider}`;
    cell.set(k, (cell.get(k) ?? 0n) + toNanos(m.amount));
  }
  const sorted = [...periods].sort();
  const dayOf = (p) => (p && p.length === 7 ? `${p}-01` : p);
  // From the first period with data (a range from 2020 with data since 2026 starts in 2026);
  // a long range keeps its newest periods (see periodsBetween).
  const first = [range.from, dayOf(sorted[0])].filter(Boolean).sort().at(-1);
  const last = range.to ?? dayOf(sorted.at(-1));
  const days = first && last ? periodsBetween(first, last, grain) : sorted;
  const names = [...providers].sort();
  const datasets = names.map((provider, i) => {
    const nanos = days.map((d) => cell.get(`${d}\u0000${provider}`) ?? 0n);
    return {
      label: provider,
      data: nanos.map(chartValue),
      amounts: nanos.map(fromNanos),
      backgroundColor: PALETTE[i % PALETTE.length],
      stack: 'cost',
    };
  });
  const sameYear = days.length > 0 && days[0].slice(0, 4) === days.at(-1).slice(0, 4);
  const dayTotals = days.map((d) => names.reduce((s, p) => s + (cell.get(`${d}\u0000${p}`) ?? 0n), 0n));
  canvas.setAttribute('aria-label', `${adjective} cost in ${currency} stacked by provider, ${days.length} ${plural}, ${names.length} providers. The chart's data follows as a table.`);
  draw(canvas, {
    type: 'bar',
    data: { labels: days, datasets },
    options: {
      animation: false,
      maintainAspectRatio: false,
      interaction: { mode: 'index', intersect: false },
      scales: {
        x: {
          stacked: true,
          title: axisTitle(sameYear && grain !== 'month' ? `${axisWord} (${days[0].slice(0, 4)})` : axisWord),
          ticks: { maxRotation: 60, autoSkip: true, callback: (_, i) => (sameYear && grain !== 'month' ? days[i].slice(5) : days[i]) },
        },
        y: { stacked: true, beginAtZero: true, title: axisTitle(`Cost (${currency})`), ticks: costTicks(currency) },
      },
      plugins: {
        legend: { position: 'bottom' },
        tooltip: {
          filter: (item) => item.raw !== 0,
          callbacks: {
            label: (item) => `${item.dataset.label}: ${item.dataset.amounts[item.dataIndex]} ${currency}`,
            footer: (items) => (items.length ? `Total: ${fromNanos(dayTotals[items[0].dataIndex])} ${currency}` : ''),
          },
        },
      },
    },
  });
  return {
    days,
    providers: names,
    amount: (day, provider) => fromNanos(cell.get(`${day}\u0000${provider}`) ?? 0n),
    total: (i) => fromNanos(dayTotals[i]),
  };
}

/**
 * A row grouped by model as people read it: "openai / gpt-4o", its recorded aliases after it
 * when asked ("openai / gpt-4o (gpt-4o-2024-08-06)"); the API's rows are (provider, model).
 */
export function modelLabel(r, withAliases = false) {
  const name = r.provider ? `${r.provider} / ${r.model ?? '(none)'}` : (r.model ?? '(none)');
  return withAliases && r.aliases?.length ? `${name} (${r.aliases.join(', ')})` : name;
}

/** Cost by model (horizontal bars), in one currency; the top 15 and the rest summed. */
export function costByModel(canvas, rows, currency) {
  const list = rows
    .map((r) => ({ model: modelLabel(r), nanos: toNanos((r.cost ?? []).find((m) => m.currency === currency)?.amount ?? '0') }))
    .filter((r) => r.nanos !== 0n)
    .sort((a, b) => compareNanos(b.nanos, a.nanos));
  const top = list.slice(0, 15).map((r) => ({ ...r }));
  const rest = list.slice(15);
  if (rest.length) top.push({ model: `${rest.length} other models`, nanos: rest.reduce((s, r) => s + r.nanos, 0n) });
  canvas.parentElement.style.setProperty('height', `${Math.max(160, 60 + top.length * 30)}px`);
  canvas.setAttribute('aria-label', `Cost in ${currency} by model, ${list.length} models. The model table below lists the same figures.`);
  draw(canvas, {
    type: 'bar',
    data: {
      labels: top.map((r) => r.model),
      datasets: [{ label: `Cost (${currency})`, data: top.map((r) => chartValue(r.nanos)), amounts: top.map((r) => fromNanos(r.nanos)), backgroundColor: PALETTE[0] }],
    },
    options: {
      animation: false,
      maintainAspectRatio: false,
      indexAxis: 'y',
      scales: {
        x: { beginAtZero: true, title: axisTitle(`Cost (${currency})`), ticks: costTicks(currency) },
        y: { title: axisTitle('Provider / model'), ticks: { autoSkip: false, callback: fittedLabel } },
      },
      interaction: { mode: 'index', axis: 'y', intersect: false },
      plugins: {
        legend: { display: false },
        tooltip: { callbacks: { label: (item) => `${item.dataset.amounts[item.dataIndex]} ${currency}` } },
      },
    },
  });
  return top.map((r) => ({ model: r.model, amount: fromNanos(r.nanos) }));
}
