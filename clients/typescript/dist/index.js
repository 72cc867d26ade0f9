// ai-spend-tracker client. Built from src/ by build.mjs (esbuild); do not edit.

// src/client.ts
var UsageApiError = class extends Error {
  /** HTTP status; 0 when no answer came (network error or timeout). */
  status;
  /** The API's error code (`validation_failed`, `unauthorized`, ...) or `network_error` / `timeout`. */
  code;
  details;
  /** Whether retrying the same request may succeed. */
  retryable;
  constructor(message, status, code, details, retryable) {
    super(message);
    this.name = "UsageApiError";
    this.status = status;
    this.code = code;
    this.details = details;
    this.retryable = retryable;
  }
};
var BudgetExceededError = class extends Error {
  decision;
  /** The limit that decided it (kind, limit, spent, reserved, remaining, ...). */
  limiting;
  /** Every limit that applies. */
  limits;
  /** The whole answer. */
  answer;
  constructor(answer) {
    super(`budget exceeded: ${describeLimit(answer.limiting)}`);
    this.name = "BudgetExceededError";
    this.decision = "deny";
    this.limiting = answer.limiting;
    this.limits = answer.limits ?? [];
    this.answer = answer;
  }
};
var TrackerUnavailableError = class extends UsageApiError {
  cause;
  constructor(cause) {
    super(`ai-spend-tracker unavailable, failing closed: ${cause.message}`, cause.status, cause.code, cause.details, cause.retryable);
    this.name = "TrackerUnavailableError";
    this.cause = cause;
  }
};
function describeLimit(limit) {
  if (!limit) return "a limit would be crossed";
  const unit = limit.currency ?? limit.unit ?? "";
  const name = limit.plan ? `${limit.kind} ${limit.plan}` : limit.kind;
  return `${name} ${limit.limit} ${unit}: spent ${limit.spent}, reserved ${limit.reserved}, would remain ${limit.remaining}`.replace(/\s+/g, " ");
}
var DEFAULTS = {
  batchSize: 100,
  flushIntervalMs: 5e3,
  maxBufferSize: 1e4,
  maxRetries: 4,
  retryBaseMs: 250,
  retryMaxMs: 1e4,
  timeoutMs: 1e4,
  failOpen: true
};
function newEventId() {
  const c = globalThis.crypto;
  if (c && typeof c.randomUUID === "function") return c.randomUUID();
  const bytes = new Uint8Array(16);
  if (c && typeof c.getRandomValues === "function") c.getRandomValues(bytes);
  else for (let i = 0; i < 16; i += 1) bytes[i] = Math.floor(Math.random() * 256);
  bytes[6] = bytes[6] & 15 | 64;
  bytes[8] = bytes[8] & 63 | 128;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
function compactEvent(event) {
  const out = {};
  for (const [k, v] of Object.entries(event)) if (v !== void 0 && v !== null) out[k] = v;
  return out;
}
function unreachable(e) {
  const timedOut = e?.name === "AbortError" || e?.name === "TimeoutError";
  return new UsageApiError(`ai-spend-tracker unreachable: ${e?.message ?? e}`, 0, timedOut ? "timeout" : "network_error", [], true);
}
function unavailableAnswer(error) {
  return { decision: "allow", limiting: null, limits: [], estimate: null, reservation: null, unavailable: error };
}
var sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
var RETRYABLE_STATUS = /* @__PURE__ */ new Set([408, 425, 429, 500, 502, 503, 504]);
var UsageClient = class {
  opts;
  endpoint;
  lastGuardState = null;
  buffer = [];
  chain = Promise.resolve();
  timer;
  inFlight = 0;
  counters = { recorded: 0, stored: 0, duplicates: 0, dropped: 0, retries: 0 };
  constructor(options) {
    if (!options || typeof options.baseUrl !== "string" || !options.baseUrl) {
      throw new TypeError("UsageClient: `baseUrl` is required (e.g. http://127.0.0.1:8787)");
    }
    if (typeof options.apiKey !== "string" || !options.apiKey) {
      throw new TypeError("UsageClient: `apiKey` is required (a project key `ast_\u2026`)");
    }
    const fetchImpl = options.fetch ?? (globalThis.fetch ? globalThis.fetch.bind(globalThis) : void 0);
    if (!fetchImpl) throw new TypeError("UsageClient: no global fetch; pass `fetch`");
    const given = compactEvent(options);
    this.opts = { ...DEFAULTS, ...given, fetch: fetchImpl };
    const { batchSize, maxBufferSize } = this.opts;
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 1e3) {
      throw new RangeError("UsageClient: `batchSize` must be an integer from 1 to 1000");
    }
    if (!Number.isInteger(maxBufferSize) || maxBufferSize < 1) {
      throw new RangeError("UsageClient: `maxBufferSize` must be a positive integer");
    }
    this.endpoint = `${options.baseUrl.replace(/\/+$/, "")}/api/usage`;
  }
  /** Events dropped since the client was created (see `onDrop`). */
  get dropped() {
    return this.counters.dropped;
  }
  /** Events recorded and not yet answered for (buffered or being sent). */
  get pending() {
    return this.buffer.length + this.inFlight;
  }
  /** Counters since the client was created. */
  get stats() {
    return { ...this.counters };
  }
  /** The project's guard state from the last ingest answer (`ok`, `warn`, `blocked`), or null
   * before any answer carried one. */
  get guardState() {
    return this.lastGuardState;
  }
  /**
   * Buffers one event and returns its id (the one given, or a new UUID). Sets `timestamp` to
   * now when absent, so a late retry keeps the time of the call. When the buffer already holds
   * `maxBufferSize` events the event is dropped (reported through `onDrop` as `buffer_full`).
   * `options.reservationId` is sent as the event's `reservation_id`, which settles that
   * reservation.
   */
  record(event, options) {
    if (!event || typeof event !== "object" || typeof event.provider !== "string" || !event.provider.trim()) {
      throw new TypeError("UsageClient.record: an event needs a `provider`");
    }
    const full = compactEvent({ ...this.opts.defaults, ...compactEvent(event) });
    if (options?.reservationId) full.reservation_id = options.reservationId;
    if (this.opts.defaults?.metadata && event.metadata) {
      full.metadata = { ...this.opts.defaults.metadata, ...event.metadata };
    }
    full.id ??= newEventId();
    if (full.timestamp === void 0 && full.request_timestamp === void 0) full.timestamp = (/* @__PURE__ */ new Date()).toISOString();
    if (this.opts.projectId && full.project_id === void 0) full.project_id = this.opts.projectId;
    this.counters.recorded += 1;
    if (this.buffer.length >= this.opts.maxBufferSize) {
      this.drop([full], "buffer_full");
      return full.id;
    }
    this.buffer.push(full);
    if (this.buffer.length >= this.opts.batchSize) {
      void this.flush();
    } else if (this.opts.flushIntervalMs > 0 && this.timer === void 0) {
      this.timer = setTimeout(() => {
        this.timer = void 0;
        void this.flush();
      }, this.opts.flushIntervalMs);
      const t = this.timer;
      if (typeof t.unref === "function") t.unref();
    }
    return full.id;
  }
  /**
   * Sends every buffered event (in batches of `batchSize`, one request at a time) and resolves
   * once each is stored, a duplicate, or dropped. Calls are queued: awaiting the last `flush()`
   * awaits every send started before it, including the background ones.
   */
  flush() {
    this.clearTimer();
    const run = this.chain.then(() => this.drain());
    this.chain = run.catch(() => void 0);
    return run;
  }
  /** Flushes and stops the timer; the client stays usable. */
  async close() {
    const result = await this.flush();
    this.clearTimer();
    return result;
  }
  clearTimer() {
    if (this.timer !== void 0) {
      clearTimeout(this.timer);
      this.timer = void 0;
    }
  }
  drop(events, reason, error, result) {
    if (events.length === 0) return;
    this.counters.dropped += events.length;
    if (result) result.dropped += events.length;
    if (this.opts.onDrop) {
      try {
        this.opts.onDrop(events, reason, error);
      } catch (e) {
        this.report(e);
      }
    }
  }
  report(error, result) {
    if (result) result.errors.push(error);
    if (this.opts.onError) {
      try {
        this.opts.onError(error);
      } catch {
      }
    }
  }
  async drain() {
    const result = { sent: 0, stored: 0, duplicates: 0, dropped: 0, retries: 0, reports: [], errors: [] };
    while (this.buffer.length > 0) {
      const batch = this.buffer.splice(0, this.opts.batchSize);
      this.inFlight += batch.length;
      try {
        await this.deliver(batch, result);
      } catch (e) {
        this.report(e, result);
        this.drop(batch, "rejected", e, result);
      } finally {
        this.inFlight -= batch.length;
      }
    }
    return result;
  }
  /** Sends one batch until it is answered, refused, or out of retries. */
  async deliver(initial, result) {
    const queue = [initial];
    while (queue.length > 0) {
      let events = queue.shift();
      let attempt = 0;
      for (; ; ) {
        const body = JSON.stringify({ events });
        let status = 0;
        let text = "";
        let retryAfter = null;
        let error;
        try {
          ({ status, text, retryAfter } = await this.post(body));
        } catch (e) {
          error = unreachable(e);
        }
        if (!error && (status === 200 || status === 201)) {
          const report = JSON.parse(text);
          result.reports.push(report);
          result.sent += events.length;
          result.stored += report.stored;
          result.duplicates += report.duplicates;
          this.counters.stored += report.stored;
          this.counters.duplicates += report.duplicates;
          if (report.guard) this.lastGuardState = report.guard;
          break;
        }
        error ??= this.apiError(status, text);
        this.report(error, result);
        if (error.retryable) {
          attempt += 1;
          if (attempt > this.opts.maxRetries) {
            this.drop(events, "retries_exhausted", error, result);
            break;
          }
          result.retries += 1;
          this.counters.retries += 1;
          await sleep(this.backoff(attempt, retryAfter));
          continue;
        }
        if (status === 413 && events.length > 1) {
          const half = Math.ceil(events.length / 2);
          queue.unshift(events.slice(0, half), events.slice(half));
          break;
        }
        if (status === 400 && error.details.length > 0 && error.details.every((d) => Number.isInteger(d.index))) {
          const bad = new Set(error.details.map((d) => d.index));
          const named = events.filter((_, i) => bad.has(i));
          if (named.length > 0) {
            this.drop(named, "rejected", error, result);
            events = events.filter((_, i) => !bad.has(i));
            if (events.length === 0) break;
            continue;
          }
        }
        this.drop(events, "rejected", error, result);
        break;
      }
    }
  }
  /**
   * This project's budget status (spend against its budget and daily limit), or null when it
   * has neither: check it before an expensive call to hold back near a limit.
   */
  async budget() {
    const response = await this.opts.fetch(`${this.endpoint}/stats`, {
      method: "GET",
      headers: { authorization: `Bearer ${this.opts.apiKey}` }
    });
    const text = await response.text();
    if (response.status !== 200) throw this.apiError(response.status, text);
    return JSON.parse(text).budget ?? null;
  }
  /**
   * Asks the tracker whether spending `request` (exactly one of `estimate`, `profile` + `units`,
   * `amount`) would cross a limit. Resolves to the answer, a `deny` included (it does not
   * reject for one). When the tracker cannot be reached: with `failOpen` (default) an `allow`
   * marked `unavailable`, reported through `onGuardWarning`; else a `TrackerUnavailableError`.
   */
  async guard(request) {
    const body = this.guardBody(request, "guard");
    const answer = await this.askGuard(body);
    return answer instanceof UsageApiError ? unavailableAnswer(answer) : answer;
  }
  /**
   * Holds `request` against every limit at once (all or nothing) for `ttlSeconds`, and resolves
   * to the reservation; settle it by recording the usage with `{ reservationId: r.id }`, or
   * `release(r.id)`. Rejects with `BudgetExceededError` on a deny (nothing reserved). A `warn`
   * is granted and reported through `onGuardWarning`. Retries resend the same idempotency `id`
   * (a new UUID unless given), so a retried reserve never reserves twice. When the tracker
   * cannot be reached: `null` with `failOpen` (default), else a `TrackerUnavailableError`.
   */
  async reserve(request) {
    const body = this.guardBody(request, "reserve");
    body.reserve = true;
    body.id = request.id ?? newEventId();
    if (request.ttlSeconds !== void 0) body.ttl_seconds = request.ttlSeconds;
    const answer = await this.askGuard(body);
    if (answer instanceof UsageApiError) return null;
    if (answer.decision === "deny") throw new BudgetExceededError(answer);
    if (answer.decision === "warn") {
      this.warn({ kind: "warn", message: `ai-spend-tracker guard warns: ${describeLimit(answer.limiting)}`, answer });
    }
    if (!answer.reservation) {
      throw new UsageApiError("ai-spend-tracker granted the guard but answered no reservation", 200, "no_reservation", [], false);
    }
    return { id: answer.reservation.id, expires_at: answer.reservation.expires_at, answer };
  }
  /**
   * Releases a reservation (`DELETE /api/usage/guard/{id}`): true when it holds nothing now
   * (released by this call, or ended already: settled, expired or released, which the tracker
   * answers the same again), false when the tracker has no reservation of that id. Rejects with a
   * `UsageApiError` when the tracker cannot be reached after the retries.
   */
  async release(id) {
    if (typeof id !== "string" || !id) throw new TypeError("UsageClient.release: a reservation id is required");
    const query = this.opts.projectId ? `?project_id=${encodeURIComponent(this.opts.projectId)}` : "";
    const { status, text } = await this.send("DELETE", `${this.endpoint}/guard/${encodeURIComponent(id)}${query}`);
    if (status === 200) return JSON.parse(text).released === true;
    if (status === 404) return false;
    throw this.apiError(status, text);
  }
  /**
   * Wraps an async call (a provider SDK method, a fetch...) in a reservation: each call of the
   * returned function first reserves what `options` estimate (from the call's arguments when
   * given as functions) and rejects with `BudgetExceededError` on a deny without making the
   * call; then makes the call and records `options.record(result, ...args)` with the
   * reservation's id, which settles it. A call that rejects releases its reservation.
   */
  guarded(fn, options) {
    if (typeof fn !== "function") throw new TypeError("UsageClient.guarded: a function to wrap is required");
    if (!options || typeof options !== "object") throw new TypeError("UsageClient.guarded: options (estimate, amount or profile) are required");
    return async (...args) => {
      const pick = (v) => typeof v === "function" ? v(...args) : v;
      const reservation = await this.reserve({
        estimate: pick(options.estimate),
        amount: pick(options.amount),
        profile: options.profile,
        units: pick(options.units),
        ttlSeconds: options.ttlSeconds
      });
      let result;
      try {
        result = await fn(...args);
      } catch (e) {
        if (reservation) this.release(reservation.id).catch((err) => this.report(err));
        throw e;
      }
      try {
        const event = options.record ? options.record(result, ...args) : void 0;
        if (event) this.record(event, { reservationId: reservation?.id });
        else if (reservation) this.release(reservation.id).catch((err) => this.report(err));
      } catch (e) {
        this.report(e);
      }
      return result;
    };
  }
  guardBody(request, what) {
    if (!request || typeof request !== "object") throw new TypeError(`UsageClient.${what}: a request is required`);
    const given = [request.estimate != null, request.profile != null, request.amount != null].filter(Boolean).length;
    if (given !== 1) {
      throw new TypeError(`UsageClient.${what}: give exactly one of \`estimate\`, \`profile\` (+ \`units\`), \`amount\``);
    }
    const body = {};
    if (request.estimate != null) body.estimate = compactEvent(request.estimate);
    if (request.profile != null) {
      body.profile = request.profile;
      if (request.units != null) body.units = request.units;
    }
    if (request.amount != null) body.amount = { amount: String(request.amount.amount), currency: request.amount.currency };
    if (this.opts.projectId) body.project_id = this.opts.projectId;
    return body;
  }
  /** Posts a guard body (retrying like a batch); the failure when unreachable and failing open. */
  async askGuard(body) {
    let reply;
    try {
      reply = await this.send("POST", `${this.endpoint}/guard`, JSON.stringify(body));
    } catch (e) {
      if (!(e instanceof UsageApiError) || !e.retryable) throw e;
      if (!this.opts.failOpen) throw new TrackerUnavailableError(e);
      this.warn({ kind: "unavailable", message: `ai-spend-tracker guard unavailable, failing open: ${e.message}`, error: e });
      return e;
    }
    if (reply.status !== 200) throw this.apiError(reply.status, reply.text);
    return JSON.parse(reply.text);
  }
  warn(warning) {
    try {
      if (this.opts.onGuardWarning) this.opts.onGuardWarning(warning);
      else console.warn(warning.message);
    } catch (e) {
      this.report(e);
    }
  }
  /** One request, retried like a batch (429, 5xx, network errors, timeouts, with the same body).
   * Resolves to a non-retryable answer; rejects with the last `UsageApiError` (retryable) when
   * out of retries. */
  async send(method, url, body) {
    let attempt = 0;
    for (; ; ) {
      let error;
      let retryAfter = null;
      try {
        const reply = await this.request(method, url, body);
        if (reply.status < 400) return reply;
        error = this.apiError(reply.status, reply.text);
        if (!error.retryable) return reply;
        retryAfter = reply.retryAfter;
      } catch (e) {
        error = unreachable(e);
      }
      this.report(error);
      attempt += 1;
      if (attempt > this.opts.maxRetries) throw error;
      this.counters.retries += 1;
      await sleep(this.backoff(attempt, retryAfter));
    }
  }
  post(body) {
    return this.request("POST", this.endpoint, body);
  }
  async request(method, url, body) {
    const controller = typeof AbortController === "function" ? new AbortController() : void 0;
    const timer = controller ? setTimeout(() => controller.abort(), this.opts.timeoutMs) : void 0;
    try {
      const headers = { authorization: `Bearer ${this.opts.apiKey}` };
      if (body !== void 0) headers["content-type"] = "application/json";
      const init = { method, headers };
      if (body !== void 0) init.body = body;
      if (controller) init.signal = controller.signal;
      if (this.opts.keepalive) init.keepalive = true;
      const response = await this.opts.fetch(url, init);
      const text = await response.text();
      return { status: response.status, text, retryAfter: response.headers.get("retry-after") };
    } finally {
      if (timer !== void 0) clearTimeout(timer);
    }
  }
  apiError(status, text) {
    let body;
    try {
      body = JSON.parse(text);
    } catch {
      body = void 0;
    }
    const e = body?.error;
    const retryable = RETRYABLE_STATUS.has(status) || e?.retryable === true;
    return new UsageApiError(
      `ai-spend-tracker answered ${status}: ${e?.message ?? text.slice(0, 200)}`,
      status,
      e?.code ?? `http_${status}`,
      Array.isArray(e?.details) ? e.details : [],
      retryable
    );
  }
  /** Exponential backoff with jitter, at least `retry-after`, at most `retryMaxMs`. */
  backoff(attempt, retryAfter) {
    const exp = this.opts.retryBaseMs * 2 ** (attempt - 1);
    let delay = exp / 2 + Math.random() * (exp / 2);
    if (retryAfter) {
      const seconds = Number(retryAfter);
      const asked = Number.isFinite(seconds) ? seconds * 1e3 : Date.parse(retryAfter) - Date.now();
      if (Number.isFinite(asked) && asked > delay) delay = asked;
    }
    return Math.max(0, Math.min(delay, this.opts.retryMaxMs));
  }
};

// src/helpers.ts
var positive = (n) => typeof n === "number" && n > 0 ? n : void 0;
var count = (n) => typeof n === "number" && n >= 0 ? n : void 0;
function finish(event, extras) {
  const merged = { ...event, ...compactEvent(extras ?? {}) };
  if (event.metadata && extras?.metadata) merged.metadata = { ...event.metadata, ...extras.metadata };
  return compactEvent(merged);
}
function need(value, what) {
  if (value === null || value === void 0) throw new TypeError(`${what} is missing`);
  return value;
}
function fromOpenAIChat(response, extras) {
  const usage = need(response?.usage, "fromOpenAIChat: response.usage");
  return finish(
    {
      provider: "openai",
      model: response.model,
      input_tokens: count(usage.prompt_tokens) ?? 0,
      output_tokens: count(usage.completion_tokens),
      cached_input_tokens: positive(usage.prompt_tokens_details?.cached_tokens),
      audio_input_tokens: positive(usage.prompt_tokens_details?.audio_tokens),
      reasoning_tokens: positive(usage.completion_tokens_details?.reasoning_tokens),
      audio_output_tokens: positive(usage.completion_tokens_details?.audio_tokens)
    },
    extras
  );
}
function fromOpenAIResponses(response, extras) {
  const usage = need(response?.usage, "fromOpenAIResponses: response.usage");
  return finish(
    {
      provider: "openai",
      model: response.model,
      input_tokens: count(usage.input_tokens) ?? 0,
      output_tokens: count(usage.output_tokens) ?? 0,
      cached_input_tokens: positive(usage.input_tokens_details?.cached_tokens),
      reasoning_tokens: positive(usage.output_tokens_details?.reasoning_tokens)
    },
    extras
  );
}
function fromOpenAI(response, extras) {
  const usage = need(response?.usage, "fromOpenAI: response.usage");
  return "prompt_tokens" in usage ? fromOpenAIChat(response, extras) : fromOpenAIResponses(response, extras);
}
function fromOpenAITTS(request, extras) {
  const input = need(request?.input, "fromOpenAITTS: request.input");
  return finish({ provider: "openai", model: request.model, characters: Array.from(input).length }, extras);
}
function fromAnthropic(message, extras) {
  const usage = need(message?.usage, "fromAnthropic: message.usage");
  return finish(
    {
      provider: "anthropic",
      model: message.model,
      input_tokens: count(usage.input_tokens) ?? 0,
      output_tokens: count(usage.output_tokens) ?? 0,
      cached_input_tokens: positive(usage.cache_read_input_tokens),
      cache_write_tokens: positive(usage.cache_creation_input_tokens)
    },
    extras
  );
}
function modality(details, name) {
  if (!Array.isArray(details)) return void 0;
  let total = 0;
  for (const d of details) if (String(d?.modality).toUpperCase() === name) total += d.tokenCount ?? 0;
  return positive(total);
}
function fromGemini(response, extras) {
  const meta = need(
    "usageMetadata" in (response ?? {}) ? response.usageMetadata : response,
    "fromGemini: response.usageMetadata"
  );
  const prompt = (count(meta.promptTokenCount) ?? 0) + (count(meta.toolUsePromptTokenCount) ?? 0);
  return finish(
    {
      provider: "google",
      model: response.modelVersion,
      input_tokens: prompt,
      output_tokens: count(meta.candidatesTokenCount) ?? 0,
      cached_input_tokens: positive(meta.cachedContentTokenCount),
      reasoning_tokens: positive(meta.thoughtsTokenCount),
      audio_input_tokens: modality(meta.promptTokensDetails, "AUDIO"),
      audio_output_tokens: modality(meta.candidatesTokensDetails, "AUDIO")
    },
    extras
  );
}
function headerValue(source, name) {
  if (!source) return void 0;
  const holder = source.headers ?? source;
  if (typeof holder.get === "function") {
    const v = holder.get(name);
    return v ?? void 0;
  }
  const wanted = name.toLowerCase();
  for (const [k, v] of Object.entries(holder)) {
    if (k.toLowerCase() === wanted && v !== void 0 && v !== null) return Array.isArray(v) ? String(v[0]) : String(v);
  }
  return void 0;
}
function fromElevenLabs(response, extras) {
  const { text, ...rest } = extras ?? {};
  const header = headerValue(response, "character-cost");
  let characters;
  if (header !== void 0 && /^\s*\d+\s*$/.test(header)) characters = Number(header);
  else if (typeof text === "string") characters = Array.from(text).length;
  if (characters === void 0) {
    throw new TypeError("fromElevenLabs: no `character-cost` header and no `text` to count");
  }
  return finish({ provider: "elevenlabs", characters }, rest);
}
var INTEGER_FIELDS = [
  "input_tokens",
  "output_tokens",
  "cached_input_tokens",
  "cache_write_tokens",
  "reasoning_tokens",
  "audio_input_tokens",
  "audio_output_tokens",
  "tokens",
  "characters",
  "images",
  "requests",
  "tracks",
  "duration_ms",
  "prompt_tokens",
  "completion_tokens",
  "cache_read_input_tokens",
  "cache_creation_input_tokens",
  "cached_tokens",
  "total_tokens"
];
function genericEvent(provider, fields = {}) {
  if (typeof provider !== "string" || !provider.trim()) throw new TypeError("genericEvent: `provider` is required");
  const event = finish({ provider }, fields);
  for (const f of INTEGER_FIELDS) {
    const v = event[f];
    if (v !== void 0 && !(Number.isInteger(v) && v >= 0)) {
      throw new TypeError(`genericEvent: \`${f}\` must be a non-negative integer, got ${JSON.stringify(v)}`);
    }
  }
  return event;
}
export {
  BudgetExceededError,
  TrackerUnavailableError,
  UsageApiError,
  UsageClient,
  compactEvent,
  fromAnthropic,
  fromElevenLabs,
  fromGemini,
  fromOpenAI,
  fromOpenAIChat,
  fromOpenAIResponses,
  fromOpenAITTS,
  genericEvent,
  headerValue,
  newEventId
};
