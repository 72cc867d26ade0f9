// Starts the built worker (build/index.js and its wasm) like `startWorker()` does, but behind
// a small JS module worker that counts the D1 calls of every invocation, so a test can assert
// how many D1 queries one request or one cron run makes (the free plan allows 50 per Worker
// invocation).
//
//   const w = await startCountingWorker();            // same options as startWorker
//   const r = await w.fetch('/api/admin/capacity', { key: ADMIN_KEY });
//   r.status; r.json; r.calls; r.statements;          // the counts of that one request
//   const run = await w.scheduled(new Date());        // one Cron Trigger run
//   run.calls; run.statements; run.outcome;           // its counts, 'ok' or 'exception'
//   (await w.counts()).fetch.queries                   // the SQL of each call, to debug a count
//
// How it counts. The entry module (ENTRY below, handed to Miniflare as a module next to
// build/index.js, nothing is written to build/) imports the worker's default export and, for
// each invocation, constructs it with a copy of `env` whose `DB` is a `D1Database` wrapper
// around the real binding. workers-rs accepts a binding by its JS constructor's name, hence
// the class names `D1Database`, `D1PreparedStatement` and `D1DatabaseSession`. The wrappers
// forward every call to the real objects and return their results untouched; they only count:
//
//   prepare(sql), bind(...)                      0 calls (nothing reaches D1)
//   statement.first() / all() / run() / raw()   1 call, 1 statement
//   batch([s1, ..., sN])                         1 call, N statements
//   exec(sql)                                    1 call, as many statements as D1 reports
//   dump()                                       1 call, 1 statement
//   withSession(...).prepare / batch             counted the same way
//
// A call is counted when it is made, so a failing query counts too. The counter belongs to
// the invocation (the wrapper of each invocation holds its own), so concurrent requests do not
// mix. Work the app hands to `ctx.waitUntil` belongs to the invocation as well: the entry waits
// for it before it reports the counts (and, for a request, before it answers).
//
// How the counts come back. A request's response carries `x-d1-calls` and `x-d1-statements`
// (a static asset of public/ is answered without the worker: no headers, counted as 0).
// A scheduled event has no response, so the entry keeps the counts of the last scheduled run
// (and of the last request) in module memory, and answers `GET /__d1_counts` itself with them
// (that path is not passed to the app, and answering it counts nothing and replaces no
// figures). `scheduled()` checks that exactly one run finished since it started, so do not
// overlap scheduled runs of one worker while measuring.
import { join } from 'node:path';
import { Miniflare } from 'miniflare';
import { ROOT, applyMigrations, miniflareOptions, workerHandle } from './worker.mjs';

export { ADMIN_KEY } from './worker.mjs';

/** The path the counting entry answers itself (never passed to the app). */
export const COUNTS_PATH = '/__d1_counts';
/** The Cron Trigger of wrangler.toml. */
export const CRON = '0 */6 * * *';

const ENTRY = String.raw`
import App from './index.js';
export * from './index.js';

const COUNTS_PATH = ${JSON.stringify(COUNTS_PATH)};
// Each wrapper (statement or session) -> the real object, and for statements their SQL.
const REAL = new WeakMap();
const SQL = new WeakMap();
let lastFetch = null;
let lastScheduled = null;
let scheduledRuns = 0;

const newCounter = () => ({ calls: 0, statements: 0, rows_written: 0, queries: [] });
// D1's own figure of rows written (table rows and index entries, triggers included), summed
// from the meta of every result that carries one (run, all, batch; first and raw carry none).
function written(counter, promise) {
  return Promise.resolve(promise).then((result) => {
    for (const r of Array.isArray(result) ? result : [result]) {
      const n = r?.meta?.rows_written;
      if (Number.isFinite(n)) counter.rows_written += n;
    }
    return result;
  });
}
const short = (sql) => String(sql).replace(/\s+/g, ' ').trim().slice(0, 160);
function count(counter, kind, sqls, statements = sqls.length) {
  counter.calls += 1;
  counter.statements += statements;
  counter.queries.push({ kind, sql: sqls.map(short) });
}
const real = (x) => (REAL.has(x) ? REAL.get(x) : x);

class D1PreparedStatement {
  constructor(inner, sql, counter) {
    REAL.set(this, inner);
    SQL.set(this, sql);
    this.counter = counter;
  }
  bind(...values) {
    return new D1PreparedStatement(real(this).bind(...values), SQL.get(this), this.counter);
  }
  first(...args) {
    count(this.counter, 'first', [SQL.get(this)]);
    return real(this).first(...args);
  }
  all(...args) {
    count(this.counter, 'all', [SQL.get(this)]);
    return written(this.counter, real(this).all(...args));
  }
  run(...args) {
    count(this.counter, 'run', [SQL.get(this)]);
    return written(this.counter, real(this).run(...args));
  }
  raw(...args) {
    count(this.counter, 'raw', [SQL.get(this)]);
    return real(this).raw(...args);
  }
}

function batch(counter, target, statements) {
  const list = Array.from(statements);
  count(counter, 'batch', list.map((s) => SQL.get(s) ?? '?'));
  return written(counter, target.batch(list.map(real)));
}

// What a database and a session share: preparing statements and batches, counted.
class Counted {
  constructor(inner, counter) {
    REAL.set(this, inner);
    this.counter = counter;
  }
  prepare(sql) {
    return new D1PreparedStatement(real(this).prepare(sql), sql, this.counter);
  }
  batch(statements) {
    return batch(this.counter, real(this), statements);
  }
}

class D1DatabaseSession extends Counted {
  getBookmark() {
    return real(this).getBookmark();
  }
}

class D1Database extends Counted {
  async exec(sql) {
    const at = this.counter.statements;
    count(this.counter, 'exec', [sql], 1);
    const result = await real(this).exec(sql);
    if (Number.isInteger(result?.count)) this.counter.statements = at + result.count;
    return result;
  }
  dump(...args) {
    count(this.counter, 'dump', ['(dump)']);
    return real(this).dump(...args);
  }
  withSession(...args) {
    return new D1DatabaseSession(real(this).withSession(...args), this.counter);
  }
}

// The app, constructed for one invocation with the counting DB and a ctx whose waitUntil
// promises are kept, so the invocation's counts include them.
function instance(env, ctx, counter) {
  const pending = [];
  const countingEnv = env.DB ? { ...env, DB: new D1Database(env.DB, counter) } : env;
  const countingCtx = new Proxy(ctx, {
    get(target, key) {
      if (key === 'waitUntil') {
        return (promise) => {
          pending.push(promise);
          return target.waitUntil(promise);
        };
      }
      const value = Reflect.get(target, key);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  const app = new App(ctx, countingEnv);
  app.ctx = countingCtx;
  const settle = async () => {
    for (let done = 0; done < pending.length; ) {
      const batch = pending.slice(done);
      done = pending.length;
      await Promise.allSettled(batch);
    }
  };
  return { app, settle };
}

const summary = (counter, extra = {}) => ({ calls: counter.calls, statements: counter.statements, rows_written: counter.rows_written, queries: counter.queries, ...extra });

export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    if (url.pathname === COUNTS_PATH && request.method === 'GET') {
      return Response.json({ fetch: lastFetch, scheduled: lastScheduled, scheduled_runs: scheduledRuns });
    }
    const counter = newCounter();
    const { app, settle } = instance(env, ctx, counter);
    let response;
    try {
      response = await app.fetch(request);
    } finally {
      await settle();
      lastFetch = summary(counter, { method: request.method, path: url.pathname + url.search, status: response?.status ?? null });
    }
    if (response.webSocket) return response;
    const out = new Response(response.body, response);
    out.headers.set('x-d1-calls', String(counter.calls));
    out.headers.set('x-d1-statements', String(counter.statements));
    out.headers.set('x-d1-rows-written', String(counter.rows_written));
    return out;
  },
  async scheduled(controller, env, ctx) {
    const counter = newCounter();
    const { app, settle } = instance(env, ctx, counter);
    let error = null;
    try {
      await app.scheduled(controller);
    } catch (e) {
      error = String(e?.stack ?? e);
      throw e;
    } finally {
      await settle();
      scheduledRuns += 1;
      lastScheduled = summary(counter, { run: scheduledRuns, cron: controller.cron, scheduledTime: controller.scheduledTime, error });
    }
  },
};
`;

/**
 * Starts the built worker behind the counting entry, with fresh in-memory D1 and R2 and every
 * migration applied. Options as `startWorker`: `bindings`, `outbound`. Answers what
 * `startWorker` answers (`mf`, `db`, `snapshot()`, `dispose()`), with `fetch` adding the
 * request's `calls` and `statements`, plus `scheduled(time)` and `counts()`.
 * `db` is the real binding: what a test reads or writes through it is never counted.
 */
export async function startCountingWorker({ bindings = {}, outbound } = {}) {
  // startWorker's options, with the counting entry as the first (main) module instead of
  // build/index.js as the script.
  const { scriptPath, modulesRules, modules, ...options } = miniflareOptions({ bindings, outbound });
  const build = join(ROOT, 'build');
  const mf = new Miniflare({
    ...options,
    modulesRoot: build,
    modules: [
      { type: 'ESModule', path: join(build, '__d1_counting_entry.mjs'), contents: ENTRY },
      { type: 'ESModule', path: join(build, 'index.js') },
      { type: 'CompiledWasm', path: join(build, 'index_bg.wasm') },
    ],
  });
  const db = await mf.getD1Database('DB');
  await applyMigrations(db);
  const handle = workerHandle(mf, db);
  const counts = async () => {
    const response = await mf.dispatchFetch(`http://localhost${COUNTS_PATH}`);
    if (response.status !== 200) throw new Error(`${COUNTS_PATH} answered ${response.status}`);
    return response.json();
  };
  return {
    ...handle,
    /**
     * As `startWorker`'s `fetch`, plus the D1 `calls` and `statements` of that request, and
     * `counted`: false when the worker never ran (a static asset of public/ answered), and
     * then both counts are 0.
     */
    async fetch(path, init) {
      const r = await handle.fetch(path, init);
      const calls = r.headers.get('x-d1-calls');
      const statements = r.headers.get('x-d1-statements');
      const rowsWritten = Number(r.headers.get('x-d1-rows-written') ?? 0);
      return { ...r, calls: Number(calls ?? 0), statements: Number(statements ?? 0), rowsWritten, counted: calls !== null };
    },
    /**
     * Runs the Cron Trigger once at `time` (a Date or epoch milliseconds; default now) and
     * answers `{calls, statements, queries, outcome, error}` of that run.
     */
    async scheduled(time = new Date(), { cron = CRON } = {}) {
      const before = (await counts()).scheduled_runs;
      const worker = await mf.getWorker();
      const result = await worker.scheduled({ cron, scheduledTime: new Date(time) });
      const after = await counts();
      if (after.scheduled_runs !== before + 1) {
        throw new Error(`expected one scheduled run, saw ${after.scheduled_runs - before}: do not overlap runs while counting`);
      }
      return { ...after.scheduled, outcome: result.outcome };
    },
    /**
     * The counts of the last request (`fetch`) and the last scheduled run (`scheduled`), each
     * `{calls, statements, queries: [{kind, sql: [...]}], ...}` or null, and `scheduled_runs`.
     */
    counts,
  };
}
