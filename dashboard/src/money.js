// Exact money: the API sends amounts as decimal strings with up to 9 decimals. Totals the
// dashboard computes itself (the project-key view) are summed as integer nano-units (BigInt),
// never as floats; `value` floats are only used to draw charts.

const SCALE = 1_000_000_000n;

/** "12.50" -> 12500000000n (nano-units). */
export function toNanos(amount) {
  const text = String(amount ?? '0').trim();
  const negative = text.startsWith('-');
  const [whole, frac = ''] = (negative ? text.slice(1) : text).split('.');
  const nanos = BigInt(whole || '0') * SCALE + BigInt((frac + '000000000').slice(0, 9));
  return negative ? -nanos : nanos;
}

/** 12500000000n -> "12.50": at least two decimals, no trailing zeros beyond (as the API). */
export function fromNanos(nanos) {
  const negative = nanos < 0n;
  const abs = negative ? -nanos : nanos;
  let frac = (abs % SCALE).toString().padStart(9, '0').replace(/0+$/, '');
  if (frac.length < 2) frac = frac.padEnd(2, '0');
  return `${negative ? '-' : ''}${abs / SCALE}.${frac}`;
}

/** 1500000000n -> "1.5", 35000000000n -> "35": a quantity (credits, seconds) as the API
 * writes it, without the two decimals of money. */
export function decimalText(nanos) {
  const negative = nanos < 0n;
  const abs = negative ? -nanos : nanos;
  const frac = (abs % SCALE).toString().padStart(9, '0').replace(/0+$/, '');
  return `${negative ? '-' : ''}${abs / SCALE}${frac ? `.${frac}` : ''}`;
}

/** Approximate number for charts only. */
export const chartValue = (nanos) => Number(nanos) / 1e9;

/** A per-currency accumulator of Money objects. */
export class MoneySum {
  constructor() {
    this.by = new Map();
  }
  add(money) {
    if (!money || money.amount === undefined) return this;
    const c = money.currency ?? 'USD';
    this.by.set(c, (this.by.get(c) ?? 0n) + toNanos(money.amount));
    return this;
  }
  addAll(list) {
    for (const m of list ?? []) this.add(m);
    return this;
  }
  /** Money list sorted by currency, as the API orders it. */
  list() {
    return [...this.by.keys()].sort().map((currency) => {
      const n = this.by.get(currency);
      return { amount: fromNanos(n), currency, value: chartValue(n) };
    });
  }
}

/** The amount text of `currency` in a Money list, or "0.00". */
export function amountIn(list, currency) {
  return (list ?? []).find((m) => m.currency === currency)?.amount ?? '0.00';
}

export const compareNanos = (a, b) => (a < b ? -1 : a > b ? 1 : 0);
