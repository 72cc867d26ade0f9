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
var DEFAULTS = {
  batchSize: 100,
  flushIntervalMs: 5e3,
  maxBufferSize: 1e4,
  maxRetries: 4,
  retryBaseMs: 250,
  retryMaxMs: 1e4,
  timeoutMs: 1e4
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
var sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
var RETRYABLE_STATUS = /* @__PURE__ */ new Set([408, 425, 429, 500, 502, 503, 504]);
var UsageClient = class {
  opts;
  endpoint;
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
  /**
   * Buffers one event and returns its id (the one given, or a new UUID). Sets `timestamp` to
   * now when absent, so a late retry keeps the time of the call. When the buffer already holds
   * `maxBufferSize` events the event is dropped (reported through `onDrop` as `buffer_full`).
   */
  record(event) {
    if (!event || typeof event !== "object" || typeof event.provider !== "string" || !event.provider.trim()) {
      throw new TypeError("UsageClient.record: an event needs a `provider`");
    }
    const full = compactEvent({ ...this.opts.defaults, ...compactEvent(event) });
    if (this.opts.defaults?.metadata && event.metadata) {
      full.metadata = { ...this.opts.defaults.metadata, ...event.metadata };
    }
    full.id ??= newEventId();
    full.timestamp ??= (/* @__PURE__ */ new Date()).toISOString();
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
          const timedOut = e?.name === "AbortError" || e?.name === "TimeoutError";
          error = new UsageApiError(
            `ai-spend-tracker unreachable: ${e?.message ?? e}`,
            0,
            timedOut ? "timeout" : "network_error",
            [],
            true
          );
        }
        if (!error && (status === 200 || status === 201)) {
          const report = JSON.parse(text);
          result.reports.push(report);
          result.sent += events.length;
          result.stored += report.stored;
          result.duplicates += report.duplicates;
          this.counters.stored += report.stored;
          this.counters.duplicates += report.duplicates;
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
  async post(body) {
    const controller = typeof AbortController === "function" ? new AbortController() : void 0;
    const timer = controller ? setTimeout(() => controller.abort(), this.opts.timeoutMs) : void 0;
    try {
      const init = {
        method: "POST",
        headers: { authorization: `Bearer ${this.opts.apiKey}`, "content-type": "application/json" },
        body
      };
      if (controller) init.signal = controller.signal;
      if (this.opts.keepalive) init.keepalive = true;
      const response = await this.opts.fetch(this.endpoint, init);
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
