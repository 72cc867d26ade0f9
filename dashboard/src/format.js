// Display formatting (numbers, dates, CSV cells). Money is shown rounded for reading (with the
// exact amount text of the API beside it, in a tooltip); CSV downloads keep the exact text.

const intFormat = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** 1234567 -> "1,234,567" */
export const int = (n) => intFormat.format(Number(n ?? 0));

/**
 * A decimal quantity as the API writes it, with its whole part grouped by thousands and its
 * digits kept exactly (no float): "100000" -> "100,000", "-1234.25" -> "-1,234.25".
 */
export function quantity(text) {
  const match = /^(-?)(\d+)(\.\d+)?$/.exec(String(text ?? ''));
  if (!match) return String(text ?? '');
  const [, sign, whole, fraction = ''] = match;
  return `${sign}${whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}${fraction}`;
}

/**
 * An exact amount text as people read money, rounded half away from zero with BigInt digits
 * (never a float): from 1 up, to the cent with thousands grouped ("1234.565" -> "1,234.57");
 * below 1, to three significant digits and at least two decimals, so that a fraction of a
 * cent stays visible ("0.000123456" -> "0.000123", "0.04555" -> "0.0456", "0.5" -> "0.50").
 * Text that is not a decimal comes back as is.
 */
export function amount(text) {
  const match = /^(-?)(\d+)(?:\.(\d+))?$/.exec(String(text ?? ''));
  if (!match) return String(text ?? '');
  const [, sign, whole, fraction = ''] = match;
  let decimals = 2;
  if (/^0+$/.test(whole)) {
    const leadingZeros = /^0*/.exec(fraction)[0].length;
    if (leadingZeros < fraction.length) decimals = Math.max(2, leadingZeros + 3);
  }
  const digits = BigInt(whole + fraction.padEnd(decimals, '0').slice(0, decimals));
  const roundUp = (fraction[decimals] ?? '0') >= '5' ? 1n : 0n;
  const rounded = (digits + roundUp).toString().padStart(decimals + 1, '0');
  const wholeOut = rounded.slice(0, -decimals);
  const fractionOut = rounded.slice(-decimals).replace(/0+$/, '').padEnd(2, '0');
  const zero = /^0+$/.test(wholeOut + fractionOut);
  return `${sign && !zero ? '-' : ''}${quantity(wholeOut)}.${fractionOut}`;
}

/** A Money object as people read it ("1,234.57 USD"), or "—" for none. */
export const money = (m) => (m ? `${amount(m.amount)} ${m.currency}` : '—');

/** The exact text of a Money object when rounding changed it, for a tooltip; else null. */
export const exactMoney = (m) => (m && amount(m.amount) !== quantity(m.amount) ? `exactly ${m.amount} ${m.currency}` : null);

/** "1 credit", "2 credits", "0.5 credits": a unit name (plural, as the API writes them) for a quantity. */
export const withUnit = (text, unit) => (unit ? `${quantity(text)} ${/^0*1(\.0*)?$/.test(String(text)) ? unit.replace(/s$/, '') : unit}` : quantity(text));

export const browserTimeZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';

/** YYYY-MM-DD of an instant in a time zone. */
export function localDay(date, tz) {
  return new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' }).format(date);
}

/** "2026-11-23 08:56:03" of an instant in a time zone. */
export function dateTime(value, tz) {
  if (!value) return '—';
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-GB', {
      timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit',
      hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23',
    }).formatToParts(date).map((p) => [p.type, p.value]),
  );
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second}`;
}

/** The UTC offset of a zone at an instant, in minutes (Europe/Paris in winter -> 60). */
function offsetMinutes(date, tz) {
  const p = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', {
      timeZone: tz, year: 'numeric', month: 'numeric', day: 'numeric',
      hour: 'numeric', minute: 'numeric', second: 'numeric', hourCycle: 'h23',
    }).formatToParts(date).map((x) => [x.type, Number(x.value)]),
  );
  const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return Math.round((asUtc - Math.floor(date.getTime() / 1000) * 1000) / 60000);
}

/** The instant of local midnight starting day "YYYY-MM-DD" in a zone. */
export function localMidnight(day, tz) {
  const [y, m, d] = day.split('-').map(Number);
  const guess = Date.UTC(y, m - 1, d);
  let t = guess - offsetMinutes(new Date(guess), tz) * 60000;
  t = guess - offsetMinutes(new Date(t), tz) * 60000;
  return new Date(t);
}

/** "YYYY-MM-DD" + n days. */
export function addDays(day, n) {
  const [y, m, d] = day.split('-').map(Number);
  return new Date(Date.UTC(y, m - 1, d + n)).toISOString().slice(0, 10);
}

/** The period of a local day: the day, the Monday of its week, or its month ("YYYY-MM"). */
export function periodOfDay(day, grain) {
  if (grain === 'month') return day.slice(0, 7);
  if (grain === 'week') {
    const [y, m, d] = day.split('-').map(Number);
    const weekday = (new Date(Date.UTC(y, m - 1, d)).getUTCDay() + 6) % 7; // Monday = 0
    return addDays(day, -weekday);
  }
  return day;
}

/** Every period of a grain from the one holding day a to the one holding day b. */
export function periodsBetween(a, b, grain, max = 400) {
  const out = [];
  for (let d = a; d <= b; d = addDays(d, 1)) {
    const p = periodOfDay(d, grain);
    if (out.at(-1) !== p) out.push(p);
  }
  return out.slice(-max);
}

/** Every day from a to b inclusive (at most `max`). */
export function daysBetween(a, b, max = 400) {
  const out = [];
  for (let d = a; d <= b && out.length < max; d = addDays(d, 1)) out.push(d);
  return out;
}

/** A CSV cell, quoted when needed; spreadsheet formulas neutralised (as the API does). */
export function csvCell(value) {
  let text = value === undefined || value === null ? '' : String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text) && !/^-?\d+(\.\d+)?$/.test(text)) text = `'${text}`;
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export const csv = (header, rows) => [header, ...rows].map((r) => r.map(csvCell).join(',')).join('\n') + '\n';
