import type {
  BudgetStatus,
  ClientStats,
  DropReason,
  ErrorBody,
  ErrorDetail,
  FetchLike,
  FlushResult,
  GuardAnswer,
  GuardedOptions,
  GuardLimit,
  GuardRequest,
  GuardWarning,
  IngestGuardState,
  IngestReport,
  RecordOptions,
  Reservation,
  ReserveRequest,
  UsageClientOptions,
  UsageEventInput,
} from './types.js';

/** An error answer of the API, or a failure to reach it (`status` 0). */
export class UsageApiError extends Error {
  /** HTTP status; 0 when no answer came (network error or timeout). */
  readonly status: number;
  /** The API's error code (`validation_failed`, `unauthorized`, ...) or `network_error` / `timeout`. */
  readonly code: string;
  readonly details: ErrorDetail[];
  /** Whether retrying the same request may succeed. */
  readonly retryable: boolean;
  constructor(message: string, status: number, code: string, details: ErrorDetail[], retryable: boolean) {
    super(message);
    this.name = 'UsageApiError';
    this.status = status;
    this.code = code;
    this.details = details;
    this.retryable = retryable;
  }
}

/** A guard answered `deny`: the spend would cross a limit in `block` mode. Nothing was
 * reserved, and a guarded call was not made. */
export class BudgetExceededError extends Error {
  readonly decision: 'deny';
  /** The limit that decided it (kind, limit, spent, reserved, remaining, ...). */
  readonly limiting: GuardLimit | null;
  /** Every limit that applies. */
  readonly limits: GuardLimit[];
  /** The whole answer. */
  readonly answer: GuardAnswer;
  constructor(answer: GuardAnswer) {
    super(`budget exceeded: ${describeLimit(answer.limiting)}`);
    this.name = 'BudgetExceededError';
    this.decision = 'deny';
    this.limiting = answer.limiting;
    this.limits = answer.limits ?? [];
    this.answer = answer;
  }
}

/** The tracker could not be reached (network error, timeout, 429/5xx after the retries) and the
 * client is set to fail closed (`failOpen: false`). `cause` is the last failure. */
export class TrackerUnavailableError extends UsageApiError {
  readonly cause: UsageApiError;
  constructor(cause: UsageApiError) {
    super(`ai-spend-tracker unavailable, failing closed: ${cause.message}`, cause.status, cause.code, cause.details, cause.retryable);
    this.name = 'TrackerUnavailableError';
    this.cause = cause;
  }
}

function describeLimit(limit: GuardLimit | null | undefined): string {
  if (!limit) return 'a limit would be crossed';
  const unit = limit.currency ?? limit.unit ?? '';
  const name = limit.plan ? `${limit.kind} ${limit.plan}` : limit.kind;
  return `${name} ${limit.limit} ${unit}: spent ${limit.spent}, reserved ${limit.reserved}, would remain ${limit.remaining}`.replace(/\s+/g, ' ');
}

const DEFAULTS = {
  batchSize: 100,
  flushIntervalMs: 5000,
  maxBufferSize: 10_000,
  maxRetries: 4,
  retryBaseMs: 250,
  retryMaxMs: 10_000,
  timeoutMs: 10_000,
  failOpen: true,
};

type Optional = 'projectId' | 'defaults' | 'onDrop' | 'onError' | 'keepalive' | 'onGuardWarning';
type Resolved = Required<Omit<UsageClientOptions, Optional | 'fetch'>> & Pick<UsageClientOptions, Optional> & { fetch: FetchLike };

/** A v4 UUID: `crypto.randomUUID()` where available (Workers, Node 20, secure browser pages). */
export function newEventId(): string {
  const c = (globalThis as { crypto?: Crypto }).crypto;
  if (c && typeof c.randomUUID === 'function') return c.randomUUID();
  const bytes = new Uint8Array(16);
  if (c && typeof c.getRandomValues === 'function') c.getRandomValues(bytes);
  else for (let i = 0; i < 16; i += 1) bytes[i] = Math.floor(Math.random() * 256);
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A copy of `event` without `undefined` and `null` fields (the API refuses nothing for them,
 * but they carry no information). */
export function compactEvent<T extends object>(event: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(event)) if (v !== undefined && v !== null) out[k] = v;
  return out as T;
}

/** A failure to get any answer (network error, timeout) as a retryable `UsageApiError`. */
function unreachable(e: unknown): UsageApiError {
  const timedOut = (e as Error)?.name === 'AbortError' || (e as Error)?.name === 'TimeoutError';
  return new UsageApiError(`ai-spend-tracker unreachable: ${(e as Error)?.message ?? e}`, 0, timedOut ? 'timeout' : 'network_error', [], true);
}

/** The answer of a guard that failed open: allowed, not decided by the tracker. */
function unavailableAnswer(error: Error): GuardAnswer {
  return { decision: 'allow', limiting: null, limits: [], estimate: null, reservation: null, unavailable: error };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const RETRYABLE_STATUS = new Set([408, 425, 429, 500, 502, 503, 504]);

/**
 * Records usage events and sends them to ai-spend-tracker in batches.
 *
 * - `record(event)` buffers an event (giving it an `id` and `timestamp` if it has none) and
 *   returns its id; a full batch starts sending in the background.
 * - `flush()` sends everything buffered and resolves when every event is stored, known to the
 *   server already, or given up on (reported through `onDrop`). It never rejects for delivery
 *   problems. In a Worker: `ctx.waitUntil(client.flush())`.
 * - Retries (429, 5xx, network errors, timeouts) resend the same events with the same ids, so
 *   the server counts each event once however often a request is retried.
 */
export class UsageClient {
  private readonly opts: Resolved;
  private readonly endpoint: string;
  private lastGuardState: IngestGuardState | null = null;
  private buffer: UsageEventInput[] = [];
  private chain: Promise<unknown> = Promise.resolve();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private inFlight = 0;
  private readonly counters: ClientStats = { recorded: 0, stored: 0, duplicates: 0, dropped: 0, retries: 0 };

  constructor(options: UsageClientOptions) {
    if (!options || typeof options.baseUrl !== 'string' || !options.baseUrl) {
      throw new TypeError('UsageClient: `baseUrl` is required (e.g. http://127.0.0.1:8787)');
    }
    if (typeof options.apiKey !== 'string' || !options.apiKey) {
      throw new TypeError('UsageClient: `apiKey` is required (a project key `ast_…`)');
    }
    const fetchImpl = options.fetch ?? (globalThis.fetch ? (globalThis.fetch.bind(globalThis) as unknown as FetchLike) : undefined);
    if (!fetchImpl) throw new TypeError('UsageClient: no global fetch; pass `fetch`');
    const given = compactEvent(options) as UsageClientOptions;
    this.opts = { ...DEFAULTS, ...given, fetch: fetchImpl };
    const { batchSize, maxBufferSize } = this.opts;
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 1000) {
      throw new RangeError('UsageClient: `batchSize` must be an integer from 1 to 1000');
    }
    if (!Number.isInteger(maxBufferSize) || maxBufferSize < 1) {
      throw new RangeError('UsageClient: `maxBufferSize` must be a positive integer');
    }
    this.endpoint = `${options.baseUrl.replace(/\/+$/, '')}/api/usage`;
  }

  /** Events dropped since the client was created (see `onDrop`). */
  get dropped(): number {
    return this.counters.dropped;
  }

  /** Events recorded and not yet answered for (buffered or being sent). */
  get pending(): number {
    return this.buffer.length + this.inFlight;
  }

  /** Counters since the client was created. */
  get stats(): ClientStats {
    return { ...this.counters };
  }

  /** The project's guard state from the last ingest answer (`ok`, `warn`, `blocked`), or null
   * before any answer carried one. */
  get guardState(): IngestGuardState | null {
    return this.lastGuardState;
  }

  /**
   * Buffers one event and returns its id (the one given, or a new UUID). Sets `timestamp` to
   * now when absent, so a late retry keeps the time of the call. When the buffer already holds
   * `maxBufferSize` events the event is dropped (reported through `onDrop` as `buffer_full`).
   * `options.reservationId` is sent as the event's `reservation_id`, which settles that
   * reservation.
   */
  record(event: UsageEventInput, options?: RecordOptions): string {
    if (!event || typeof event !== 'object' || typeof event.provider !== 'string' || !event.provider.trim()) {
      throw new TypeError('UsageClient.record: an event needs a `provider`');
    }
    const full = compactEvent({ ...this.opts.defaults, ...compactEvent(event) }) as UsageEventInput;
    if (options?.reservationId) full.reservation_id = options.reservationId;
    if (this.opts.defaults?.metadata && event.metadata) {
      full.metadata = { ...this.opts.defaults.metadata, ...event.metadata };
    }
    full.id ??= newEventId();
    // The time of the call, unless the event has one (`request_timestamp` is the same field
    // under seed 004's column name: sending both is refused).
    if (full.timestamp === undefined && full.request_timestamp === undefined) full.timestamp = new Date().toISOString();
    if (this.opts.projectId && full.project_id === undefined) full.project_id = this.opts.projectId;
    this.counters.recorded += 1;
    if (this.buffer.length >= this.opts.maxBufferSize) {
      this.drop([full], 'buffer_full');
      return full.id;
    }
    this.buffer.push(full);
    if (this.buffer.length >= this.opts.batchSize) {
      void this.flush();
    } else if (this.opts.flushIntervalMs > 0 && this.timer === undefined) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        void this.flush();
      }, this.opts.flushIntervalMs);
      const t = this.timer as { unref?: () => void };
      if (typeof t.unref === 'function') t.unref();
    }
    return full.id;
  }

  /**
   * Sends every buffered event (in batches of `batchSize`, one request at a time) and resolves
   * once each is stored, a duplicate, or dropped. Calls are queued: awaiting the last `flush()`
   * awaits every send started before it, including the background ones.
   */
  flush(): Promise<FlushResult> {
    this.clearTimer();
    const run = this.chain.then(() => this.drain());
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Flushes and stops the timer; the client stays usable. */
  async close(): Promise<FlushResult> {
    const result = await this.flush();
    this.clearTimer();
    return result;
  }

  private clearTimer() {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  private drop(events: UsageEventInput[], reason: DropReason, error?: Error, result?: FlushResult) {
    if (events.length === 0) return;
    this.counters.dropped += events.length;
    if (result) result.dropped += events.length;
    if (this.opts.onDrop) {
      try {
        this.opts.onDrop(events, reason, error);
      } catch (e) {
        this.report(e as Error);
      }
    }
  }

  private report(error: Error, result?: FlushResult) {
    if (result) result.errors.push(error);
    if (this.opts.onError) {
      try {
        this.opts.onError(error);
      } catch {
        // a throwing onError must not break delivery
      }
    }
  }

  private async drain(): Promise<FlushResult> {
    const result: FlushResult = { sent: 0, stored: 0, duplicates: 0, dropped: 0, retries: 0, reports: [], errors: [] };
    while (this.buffer.length > 0) {
      const batch = this.buffer.splice(0, this.opts.batchSize);
      this.inFlight += batch.length;
      try {
        await this.deliver(batch, result);
      } catch (e) {
        // Only a bug can land here; never lose the events silently.
        this.report(e as Error, result);
        this.drop(batch, 'rejected', e as Error, result);
      } finally {
        this.inFlight -= batch.length;
      }
    }
    return result;
  }

  /** Sends one batch until it is answered, refused, or out of retries. */
  private async deliver(initial: UsageEventInput[], result: FlushResult): Promise<void> {
    const queue: UsageEventInput[][] = [initial];
    while (queue.length > 0) {
      let events = queue.shift() as UsageEventInput[];
      let attempt = 0;
      for (;;) {
        const body = JSON.stringify({ events });
        let status = 0;
        let text = '';
        let retryAfter: string | null = null;
        let error: UsageApiError | undefined;
        try {
          ({ status, text, retryAfter } = await this.post(body));
        } catch (e) {
          error = unreachable(e);
        }
        if (!error && (status === 200 || status === 201)) {
          const report = JSON.parse(text) as IngestReport;
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
            this.drop(events, 'retries_exhausted', error, result);
            break;
          }
          result.retries += 1;
          this.counters.retries += 1;
          await sleep(this.backoff(attempt, retryAfter));
          continue;
        }
        if (status === 413 && events.length > 1) {
          // Too large a body: send each half on its own.
          const half = Math.ceil(events.length / 2);
          queue.unshift(events.slice(0, half), events.slice(half));
          break;
        }
        if (status === 400 && error.details.length > 0 && error.details.every((d) => Number.isInteger(d.index))) {
          // All or nothing on the server: drop only the events it named, resend the others.
          const bad = new Set(error.details.map((d) => d.index as number));
          const named = events.filter((_, i) => bad.has(i));
          if (named.length > 0) {
            this.drop(named, 'rejected', error, result);
            events = events.filter((_, i) => !bad.has(i));
            if (events.length === 0) break;
            continue;
          }
        }
        this.drop(events, 'rejected', error, result);
        break;
      }
    }
  }

  /**
   * This project's budget status (spend against its budget and daily limit), or null when it
   * has neither: check it before an expensive call to hold back near a limit.
   */
  async budget(): Promise<BudgetStatus | null> {
    const response = await this.opts.fetch(`${this.endpoint}/stats`, {
      method: 'GET',
      headers: { authorization: `Bearer ${this.opts.apiKey}` },
    });
    const text = await response.text();
    if (response.status !== 200) throw this.apiError(response.status, text);
    return (JSON.parse(text) as { budget?: BudgetStatus | null }).budget ?? null;
  }

  /**
   * Asks the tracker whether spending `request` (exactly one of `estimate`, `profile` + `units`,
   * `amount`) would cross a limit. Resolves to the answer, a `deny` included (it does not
   * reject for one). When the tracker cannot be reached: with `failOpen` (default) an `allow`
   * marked `unavailable`, reported through `onGuardWarning`; else a `TrackerUnavailableError`.
   */
  async guard(request: GuardRequest): Promise<GuardAnswer> {
    const body = this.guardBody(request, 'guard');
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
  async reserve(request: ReserveRequest): Promise<Reservation | null> {
    const body = this.guardBody(request, 'reserve');
    body.reserve = true;
    body.id = request.id ?? newEventId();
    if (request.ttlSeconds !== undefined) body.ttl_seconds = request.ttlSeconds;
    const answer = await this.askGuard(body);
    if (answer instanceof UsageApiError) return null;
    if (answer.decision === 'deny') throw new BudgetExceededError(answer);
    if (answer.decision === 'warn') {
      this.warn({ kind: 'warn', message: `ai-spend-tracker guard warns: ${describeLimit(answer.limiting)}`, answer });
    }
    if (!answer.reservation) {
      throw new UsageApiError('ai-spend-tracker granted the guard but answered no reservation', 200, 'no_reservation', [], false);
    }
    return { id: answer.reservation.id, expires_at: answer.reservation.expires_at, answer };
  }

  /**
   * Releases a reservation (`DELETE /api/usage/guard/{id}`): true when it holds nothing now
   * (released by this call, or ended already: settled, expired or released, which the tracker
   * answers the same again), false when the tracker has no reservation of that id. Rejects with a
   * `UsageApiError` when the tracker cannot be reached after the retries.
   */
  async release(id: string): Promise<boolean> {
    if (typeof id !== 'string' || !id) throw new TypeError('UsageClient.release: a reservation id is required');
    const query = this.opts.projectId ? `?project_id=${encodeURIComponent(this.opts.projectId)}` : '';
    const { status, text } = await this.send('DELETE', `${this.endpoint}/guard/${encodeURIComponent(id)}${query}`);
    if (status === 200) return (JSON.parse(text) as { released?: boolean }).released === true;
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
  guarded<A extends unknown[], T>(fn: (...args: A) => Promise<T>, options: GuardedOptions<A, T>): (...args: A) => Promise<T> {
    if (typeof fn !== 'function') throw new TypeError('UsageClient.guarded: a function to wrap is required');
    if (!options || typeof options !== 'object') throw new TypeError('UsageClient.guarded: options (estimate, amount or profile) are required');
    return async (...args: A): Promise<T> => {
      const pick = <V>(v: V | ((...a: A) => V) | undefined): V | undefined =>
        typeof v === 'function' ? (v as (...a: A) => V)(...args) : v;
      const reservation = await this.reserve({
        estimate: pick(options.estimate),
        amount: pick(options.amount),
        profile: options.profile,
        units: pick(options.units),
        ttlSeconds: options.ttlSeconds,
      });
      let result: T;
      try {
        result = await fn(...args);
      } catch (e) {
        if (reservation) this.release(reservation.id).catch((err: Error) => this.report(err));
        throw e;
      }
      try {
        const event = options.record ? options.record(result, ...args) : undefined;
        if (event) this.record(event, { reservationId: reservation?.id });
        else if (reservation) this.release(reservation.id).catch((err: Error) => this.report(err));
      } catch (e) {
        // recording never breaks the call; the reservation lapses at its TTL
        this.report(e as Error);
      }
      return result;
    };
  }

  private guardBody(request: GuardRequest, what: string): Record<string, unknown> {
    if (!request || typeof request !== 'object') throw new TypeError(`UsageClient.${what}: a request is required`);
    const given = [request.estimate != null, request.profile != null, request.amount != null].filter(Boolean).length;
    if (given !== 1) {
      throw new TypeError(`UsageClient.${what}: give exactly one of \`estimate\`, \`profile\` (+ \`units\`), \`amount\``);
    }
    const body: Record<string, unknown> = {};
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
  private async askGuard(body: Record<string, unknown>): Promise<GuardAnswer | UsageApiError> {
    let reply: { status: number; text: string };
    try {
      reply = await this.send('POST', `${this.endpoint}/guard`, JSON.stringify(body));
    } catch (e) {
      if (!(e instanceof UsageApiError) || !e.retryable) throw e;
      if (!this.opts.failOpen) throw new TrackerUnavailableError(e);
      this.warn({ kind: 'unavailable', message: `ai-spend-tracker guard unavailable, failing open: ${e.message}`, error: e });
      return e;
    }
    if (reply.status !== 200) throw this.apiError(reply.status, reply.text);
    return JSON.parse(reply.text) as GuardAnswer;
  }

  private warn(warning: GuardWarning) {
    try {
      if (this.opts.onGuardWarning) this.opts.onGuardWarning(warning);
      else console.warn(warning.message);
    } catch (e) {
      this.report(e as Error);
    }
  }

  /** One request, retried like a batch (429, 5xx, network errors, timeouts, with the same body).
   * Resolves to a non-retryable answer; rejects with the last `UsageApiError` (retryable) when
   * out of retries. */
  private async send(method: string, url: string, body?: string): Promise<{ status: number; text: string }> {
    let attempt = 0;
    for (;;) {
      let error: UsageApiError;
      let retryAfter: string | null = null;
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

  private post(body: string): Promise<{ status: number; text: string; retryAfter: string | null }> {
    return this.request('POST', this.endpoint, body);
  }

  private async request(method: string, url: string, body?: string): Promise<{ status: number; text: string; retryAfter: string | null }> {
    const controller = typeof AbortController === 'function' ? new AbortController() : undefined;
    const timer = controller ? setTimeout(() => controller.abort(), this.opts.timeoutMs) : undefined;
    try {
      const headers: Record<string, string> = { authorization: `Bearer ${this.opts.apiKey}` };
      if (body !== undefined) headers['content-type'] = 'application/json';
      const init: Parameters<FetchLike>[1] = { method, headers };
      if (body !== undefined) init.body = body;
      if (controller) init.signal = controller.signal;
      if (this.opts.keepalive) init.keepalive = true;
      const response = await this.opts.fetch(url, init);
      const text = await response.text();
      return { status: response.status, text, retryAfter: response.headers.get('retry-after') };
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
  }

  private apiError(status: number, text: string): UsageApiError {
    let body: Partial<ErrorBody> | undefined;
    try {
      body = JSON.parse(text) as ErrorBody;
    } catch {
      body = undefined;
    }
    const e = body?.error;
    const retryable = RETRYABLE_STATUS.has(status) || e?.retryable === true;
    return new UsageApiError(
      `ai-spend-tracker answered ${status}: ${e?.message ?? text.slice(0, 200)}`,
      status,
      e?.code ?? `http_${status}`,
      Array.isArray(e?.details) ? e.details : [],
      retryable,
    );
  }

  /** Exponential backoff with jitter, at least `retry-after`, at most `retryMaxMs`. */
  private backoff(attempt: number, retryAfter: string | null): number {
    const exp = this.opts.retryBaseMs * 2 ** (attempt - 1);
    let delay = exp / 2 + Math.random() * (exp / 2);
    if (retryAfter) {
      const seconds = Number(retryAfter);
      const asked = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(retryAfter) - Date.now();
      if (Number.isFinite(asked) && asked > delay) delay = asked;
    }
    return Math.max(0, Math.min(delay, this.opts.retryMaxMs));
  }
}
