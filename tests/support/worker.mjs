// Starts the built worker (build/index.js) in Miniflare with the bindings of wrangler.toml,
// fresh in-memory D1 and R2, and every migration applied. One instance per test file.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Miniflare } from 'miniflare';
import { unstable_getMiniflareWorkerOptions, unstable_splitSqlQuery } from 'wrangler';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const ADMIN_KEY = 'test-admin-key-0123456789';

export async function applyMigrations(db) {
  const dir = join(ROOT, 'migrations');
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.sql')).sort()) {
    const statements = unstable_splitSqlQuery(readFileSync(join(dir, file), 'utf8'));
    await db.batch(statements.map((sql) => db.prepare(sql)));
  }
}

/**
 * `outbound(request)`, when given, answers every `fetch` the worker makes to the outside
 * (webhooks), so tests can see and fail them. `queue: true` adds the usage queue of
 * queue.toml (producer and consumer, as `INGEST_MODE=queue npm run dev` has them).
 */
export async function startWorker({ bindings = {}, outbound, queue = false } = {}) {
  const mf = new Miniflare(miniflareOptions({ bindings, outbound, queue }));
  const db = await mf.getD1Database('DB');
  await applyMigrations(db);
  return workerHandle(mf, db);
}

/** The Miniflare options `startWorker` uses: wrangler.toml's bindings, the built worker. */
export function miniflareOptions({ bindings = {}, outbound, queue = false } = {}) {
  const config = queue
    ? execFileSync('bash', [join(ROOT, 'scripts', 'queue-config.sh')], { encoding: 'utf8' }).trim()
    : 'wrangler.toml';
  const { workerOptions } = unstable_getMiniflareWorkerOptions(join(ROOT, config));
  return {
    ...workerOptions,
    modules: true,
    scriptPath: join(ROOT, 'build', 'index.js'),
    modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'] }],
    bindings: { ...workerOptions.bindings, ADMIN_API_KEY: ADMIN_KEY, ...bindings },
    cf: false,
    ...(outbound ? { outboundService: outbound } : {}),
  };
}

/** What `startWorker` answers for a started Miniflare and its migrated `DB`. */
export function workerHandle(mf, db) {
  const worker = {
    mf,
    db,
    async fetch(path, { method = 'GET', key, body, headers = {}, raw } = {}) {
      const h = { ...headers };
      if (key) h.authorization = `Bearer ${key}`;
      let payload = raw;
      if (body !== undefined) {
        payload = JSON.stringify(body);
        h['content-type'] ??= 'application/json';
      }
      const response = await mf.dispatchFetch(`http://localhost${path}`, {
        method,
        headers: h,
        body: payload,
      });
      const text = await response.text();
      let json;
      try {
        json = text ? JSON.parse(text) : undefined;
      } catch {
        json = undefined;
      }
      return { status: response.status, headers: response.headers, text, json };
    },
    /** Every row of every table the worker owns, to prove a request changed nothing. */
    async snapshot() {
      const tables = await db
        .prepare(
          "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' " +
            "AND name NOT LIKE '_cf_%' AND name NOT LIKE 'd1_%' ORDER BY name",
        )
        .all();
      const out = {};
      for (const { name } of tables.results) {
        out[name] = (await db.prepare(`SELECT * FROM "${name}" ORDER BY 1`).all()).results;
      }
      return out;
    },
    async dispose() {
      await mf.dispose();
    },
  };
  return worker;
}
