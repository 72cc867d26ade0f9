// Starts the built worker (build/index.js) in Miniflare like `startWorker()` does, but also
// listening on a free loopback port, so programs outside this process (the Python client
// tests) can reach it over real HTTP. Same bindings, fresh in-memory D1 and R2, every
// migration applied.
import { join } from 'node:path';
import { Miniflare } from 'miniflare';
import { unstable_getMiniflareWorkerOptions } from 'wrangler';
import { ROOT, ADMIN_KEY, applyMigrations } from './worker.mjs';

export { ADMIN_KEY };

/** `outbound(request)`, when given, answers every `fetch` the worker makes to the outside. */
export async function startHttpWorker({ bindings = {}, outbound } = {}) {
  const { workerOptions } = unstable_getMiniflareWorkerOptions(join(ROOT, 'wrangler.toml'));
  const mf = new Miniflare({
    ...workerOptions,
    modules: true,
    scriptPath: join(ROOT, 'build', 'index.js'),
    modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'] }],
    bindings: { ...workerOptions.bindings, ADMIN_API_KEY: ADMIN_KEY, ...bindings },
    cf: false,
    host: '127.0.0.1',
    port: 0,
    ...(outbound ? { outboundService: outbound } : {}),
  });
  const ready = await mf.ready;
  const db = await mf.getD1Database('DB');
  await applyMigrations(db);
  // `ready` is a URL such as http://127.0.0.1:41234/; the clients want no trailing slash.
  const url = ready.href.replace(/\/$/, '');
  return {
    mf,
    db,
    url,
    /** A request over real HTTP; answers `{status, headers, text, json}`. */
    async fetch(path, { method = 'GET', key, body, headers = {} } = {}) {
      const h = { ...headers };
      if (key) h.authorization = `Bearer ${key}`;
      let payload;
      if (body !== undefined) {
        payload = JSON.stringify(body);
        h['content-type'] ??= 'application/json';
      }
      const response = await fetch(`${url}${path}`, { method, headers: h, body: payload });
      const text = await response.text();
      let json;
      try {
        json = text ? JSON.parse(text) : undefined;
      } catch {
        json = undefined;
      }
      return { status: response.status, headers: response.headers, text, json };
    },
    async dispose() {
      await mf.dispose();
    },
  };
}
