var __defProp = Object.defineProperty;
var __name = (target, value) => __defProp(target, "name", { value, configurable: true });

// index.js
var COLUMNS = [
  "project_id",
  "id",
  "provider",
  "model",
  "operation",
  "input_tokens",
  "output_tokens",
  "total_tokens",
  "characters",
  "cost",
  "cost_nanos",
  "currency",
  "computed_cost_nanos",
  "computed_currency",
  "price_id",
  "request_timestamp",
  "job_id"
];
var INSERT = `INSERT INTO api_usage (${COLUMNS.join(", ")}) VALUES (${COLUMNS.map((_, i) => `?${i + 1}`).join(", ")})
  ON CONFLICT (project_id, id) DO NOTHING`;
var BATCH_INSERT = `INSERT INTO api_usage (${COLUMNS.join(", ")}) SELECT ${COLUMNS.map((_, i) => `row ->> ${i}`).join(", ")}
  FROM (SELECT value AS row FROM json_each(?1) LIMIT -1) WHERE true ON CONFLICT (project_id, id) DO NOTHING`;
var BARE = "INSERT INTO floor_bare (project_id, id, line) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING";
var index_default = {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/healthz") return new Response("ok");
    if (url.pathname === "/setup") {
      await env.DB.batch([
        env.DB.prepare("CREATE TABLE IF NOT EXISTS floor_bare (project_id TEXT NOT NULL, id TEXT NOT NULL, line TEXT NOT NULL, PRIMARY KEY (project_id, id)) WITHOUT ROWID"),
        env.DB.prepare("INSERT OR IGNORE INTO projects (id, name, created_at, updated_at) VALUES ('floor', 'Floor', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')")
      ]);
      return new Response("ok");
    }
    if (url.pathname === "/batch") return batch(request, env);
    const writes = url.searchParams.get("writes") ?? "none";
    const e = await request.json();
    const line = `${JSON.stringify({ ...e, project_id: "floor", cost: "0.000123", currency: "USD" })}
`;
    if (writes.startsWith("r2")) {
      const day = (/* @__PURE__ */ new Date()).toISOString().slice(0, 10);
      await env.USAGE_BUCKET.put(`usage-logs/raw/${day}/${crypto.randomUUID()}.ndjson`, line);
    }
    if (writes.endsWith("d1-bare")) {
      await env.DB.batch([env.DB.prepare(BARE).bind("floor", e.id, line)]);
    } else if (writes.endsWith("d1")) {
      const input = e.input_tokens ?? 0;
      const output = e.output_tokens ?? 0;
      await env.DB.batch([env.DB.prepare(INSERT).bind(
        "floor",
        e.id,
        e.provider,
        e.model,
        e.operation,
        input,
        output,
        input + output,
        e.characters ?? 0,
        "0.000123",
        123e3,
        "USD",
        123e3,
        "USD",
        "builtin:floor",
        e.timestamp,
        e.job_id ?? null
      )]);
    }
    return Response.json({
      accepted: 1,
      stored: 1,
      duplicates: 0,
      events: [{ id: e.id, cost: "0.000123", currency: "USD", duplicate: false }]
    }, { status: 201 });
  }
};
async function batch(request, env) {
  const { events } = await request.json();
  const lines = [];
  const rows = [];
  const answers = [];
  for (const e of events) {
    lines.push(JSON.stringify({ ...e, project_id: "floor", cost: "0.000123", currency: "USD" }));
    const input = e.input_tokens ?? 0;
    const output = e.output_tokens ?? 0;
    rows.push([
      "floor",
      e.id,
      e.provider,
      e.model,
      e.operation,
      input,
      output,
      input + output,
      e.characters ?? 0,
      "0.000123",
      123e3,
      "USD",
      123e3,
      "USD",
      "builtin:floor",
      e.timestamp,
      e.job_id ?? null
    ]);
    answers.push({ id: e.id, cost: "0.000123", currency: "USD", duplicate: false });
  }
  const day = (/* @__PURE__ */ new Date()).toISOString().slice(0, 10);
  await env.USAGE_BUCKET.put(`usage-logs/raw/${day}/${crypto.randomUUID()}.ndjson`, `${lines.join("\n")}
`);
  await env.DB.prepare(BATCH_INSERT).bind(JSON.stringify(rows)).run();
  return Response.json({ accepted: events.length, stored: events.length, duplicates: 0, events: answers }, { status: 201 });
}
__name(batch, "batch");

// ../../node_modules/wrangler/templates/middleware/middleware-ensure-req-body-drained.ts
var drainBody = /* @__PURE__ */ __name(async (request, env, _ctx, middlewareCtx) => {
  try {
    return await middlewareCtx.next(request, env);
  } finally {
    try {
      if (request.body !== null && !request.bodyUsed) {
        const reader = request.body.getReader();
        while (!(await reader.read()).done) {
        }
      }
    } catch (e) {
      console.error("Failed to drain the unused request body.", e);
    }
  }
}, "drainBody");
var middleware_ensure_req_body_drained_default = drainBody;

// ../../node_modules/wrangler/templates/middleware/middleware-miniflare3-json-error.ts
function reduceError(e) {
  return {
    name: e?.name,
    message: e?.message ?? String(e),
    stack: e?.stack,
    cause: e?.cause === void 0 ? void 0 : reduceError(e.cause)
  };
}
__name(reduceError, "reduceError");
var jsonError = /* @__PURE__ */ __name(async (request, env, _ctx, middlewareCtx) => {
  try {
    return await middlewareCtx.next(request, env);
  } catch (e) {
    const error = reduceError(e);
    return Response.json(error, {
      status: 500,
      headers: { "MF-Experimental-Error-Stack": "true" }
    });
  }
}, "jsonError");
var middleware_miniflare3_json_error_default = jsonError;

// .wrangler/tmp/bundle-oe9LJS/middleware-insertion-facade.js
var __INTERNAL_WRANGLER_MIDDLEWARE__ = [
  middleware_ensure_req_body_drained_default,
  middleware_miniflare3_json_error_default
];
var middleware_insertion_facade_default = index_default;

// ../../node_modules/wrangler/templates/middleware/common.ts
var __facade_middleware__ = [];
function __facade_register__(...args) {
  __facade_middleware__.push(...args.flat());
}
__name(__facade_register__, "__facade_register__");
function __facade_invokeChain__(request, env, ctx, dispatch, middlewareChain) {
  const [head, ...tail] = middlewareChain;
  const middlewareCtx = {
    dispatch,
    next(newRequest, newEnv) {
      return __facade_invokeChain__(newRequest, newEnv, ctx, dispatch, tail);
    }
  };
  return head(request, env, ctx, middlewareCtx);
}
__name(__facade_invokeChain__, "__facade_invokeChain__");
function __facade_invoke__(request, env, ctx, dispatch, finalMiddleware) {
  return __facade_invokeChain__(request, env, ctx, dispatch, [
    ...__facade_middleware__,
    finalMiddleware
  ]);
}
__name(__facade_invoke__, "__facade_invoke__");

// .wrangler/tmp/bundle-oe9LJS/middleware-loader.entry.ts
var __Facade_ScheduledController__ = class ___Facade_ScheduledController__ {
  constructor(scheduledTime, cron, noRetry) {
    this.scheduledTime = scheduledTime;
    this.cron = cron;
    this.#noRetry = noRetry;
  }
  static {
    __name(this, "__Facade_ScheduledController__");
  }
  #noRetry;
  noRetry() {
    if (!(this instanceof ___Facade_ScheduledController__)) {
      throw new TypeError("Illegal invocation");
    }
    this.#noRetry();
  }
};
function wrapExportedHandler(worker) {
  if (__INTERNAL_WRANGLER_MIDDLEWARE__ === void 0 || __INTERNAL_WRANGLER_MIDDLEWARE__.length === 0) {
    return worker;
  }
  for (const middleware of __INTERNAL_WRANGLER_MIDDLEWARE__) {
    __facade_register__(middleware);
  }
  const fetchDispatcher = /* @__PURE__ */ __name(function(request, env, ctx) {
    if (worker.fetch === void 0) {
      throw new Error("Handler does not export a fetch() function.");
    }
    return worker.fetch(request, env, ctx);
  }, "fetchDispatcher");
  return {
    ...worker,
    fetch(request, env, ctx) {
      const dispatcher = /* @__PURE__ */ __name(function(type, init) {
        if (type === "scheduled" && worker.scheduled !== void 0) {
          const controller = new __Facade_ScheduledController__(
            Date.now(),
            init.cron ?? "",
            () => {
            }
          );
          return worker.scheduled(controller, env, ctx);
        }
      }, "dispatcher");
      return __facade_invoke__(request, env, ctx, dispatcher, fetchDispatcher);
    }
  };
}
__name(wrapExportedHandler, "wrapExportedHandler");
function wrapWorkerEntrypoint(klass) {
  if (__INTERNAL_WRANGLER_MIDDLEWARE__ === void 0 || __INTERNAL_WRANGLER_MIDDLEWARE__.length === 0) {
    return klass;
  }
  for (const middleware of __INTERNAL_WRANGLER_MIDDLEWARE__) {
    __facade_register__(middleware);
  }
  return class extends klass {
    #fetchDispatcher = /* @__PURE__ */ __name((request, env, ctx) => {
      this.env = env;
      this.ctx = ctx;
      if (super.fetch === void 0) {
        throw new Error("Entrypoint class does not define a fetch() function.");
      }
      return super.fetch(request);
    }, "#fetchDispatcher");
    #dispatcher = /* @__PURE__ */ __name((type, init) => {
      if (type === "scheduled" && super.scheduled !== void 0) {
        const controller = new __Facade_ScheduledController__(
          Date.now(),
          init.cron ?? "",
          () => {
          }
        );
        return super.scheduled(controller);
      }
    }, "#dispatcher");
    fetch(request) {
      return __facade_invoke__(
        request,
        this.env,
        this.ctx,
        this.#dispatcher,
        this.#fetchDispatcher
      );
    }
  };
}
__name(wrapWorkerEntrypoint, "wrapWorkerEntrypoint");
var WRAPPED_ENTRY;
if (typeof middleware_insertion_facade_default === "object") {
  WRAPPED_ENTRY = wrapExportedHandler(middleware_insertion_facade_default);
} else if (typeof middleware_insertion_facade_default === "function") {
  WRAPPED_ENTRY = wrapWorkerEntrypoint(middleware_insertion_facade_default);
}
var middleware_loader_entry_default = WRAPPED_ENTRY;
export {
  __INTERNAL_WRANGLER_MIDDLEWARE__,
  middleware_loader_entry_default as default
};
//# sourceMappingURL=index.js.map
