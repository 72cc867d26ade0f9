// Public declarations of the package, shipped as dist/index.d.ts (esbuild strips types but
// cannot emit declarations, so this file is kept by hand beside the source; build.mjs copies
// it, and src/types.ts as dist/types.d.ts). Keep it in step with src/client.ts and
// src/helpers.ts.
import type {
  AnthropicMessageLike,
  BudgetStatus,
  ClientStats,
  ErrorDetail,
  EventExtras,
  FlushResult,
  GeminiResponseLike,
  GeminiUsageMetadata,
  GuardAnswer,
  GuardedOptions,
  GuardLimit,
  GuardRequest,
  HeadersSource,
  IngestGuardState,
  OpenAIChatLike,
  OpenAIResponseLike,
  RecordOptions,
  Reservation,
  ReserveRequest,
  UsageClientOptions,
  UsageEventInput,
} from './types.js';

export type * from './types.js';

/** An error answer of the API, or a failure to reach it (`status` 0). */
export declare class UsageApiError extends Error {
  /** HTTP status; 0 when no answer came (network error or timeout). */
  readonly status: number;
  /** The API's error code (`validation_failed`, `unauthorized`, ...) or `network_error` / `timeout`. */
  readonly code: string;
  readonly details: ErrorDetail[];
  /** Whether retrying the same request may succeed. */
  readonly retryable: boolean;
  constructor(message: string, status: number, code: string, details: ErrorDetail[], retryable: boolean);
}

/** A guard answered `deny`: the spend would cross a limit in `block` mode. Nothing was
 * reserved, and a guarded call was not made. */
export declare class BudgetExceededError extends Error {
  readonly decision: 'deny';
  /** The limit that decided it (kind, limit, spent, reserved, remaining, ...). */
  readonly limiting: GuardLimit | null;
  /** Every limit that applies. */
  readonly limits: GuardLimit[];
  /** The whole answer. */
  readonly answer: GuardAnswer;
  constructor(answer: GuardAnswer);
}

/** The tracker could not be reached (network error, timeout, 429/5xx after the retries) and the
 * client is set to fail closed (`failOpen: false`). `cause` is the last failure. */
export declare class TrackerUnavailableError extends UsageApiError {
  readonly cause: UsageApiError;
  constructor(cause: UsageApiError);
}

/**
 * Records usage events and sends them to ai-spend-tracker in batches, retrying 429, 5xx,
 * network errors and timeouts with the same event ids (the server stores each id once).
 */
export declare class UsageClient {
  constructor(options: UsageClientOptions);
  /** Events dropped since the client was created (see `onDrop`). */
  get dropped(): number;
  /** Events recorded and not yet answered for (buffered or being sent). */
  get pending(): number;
  /** Counters since the client was created. */
  get stats(): ClientStats;
  /** The project's guard state from the last ingest answer (`ok`, `warn`, `blocked`), or null
   * before any answer carried one. */
  get guardState(): IngestGuardState | null;
  /**
   * Buffers one event and returns its id (the one given, or a new UUID). Sets `timestamp` to
   * now when absent. A full buffer drops the event (reported through `onDrop`, `buffer_full`).
   * `options.reservationId` is sent as the event's `reservation_id`, which settles that
   * reservation.
   */
  record(event: UsageEventInput, options?: RecordOptions): string;
  /**
   * Sends every buffered event and resolves once each is stored, a duplicate, or dropped.
   * Never rejects for delivery problems. In a Worker: `ctx.waitUntil(client.flush())`.
   */
  flush(): Promise<FlushResult>;
  /** Flushes and stops the timer; the client stays usable. */
  close(): Promise<FlushResult>;
  /**
   * This project's budget status (spend against its budget and daily limit), or null when it
   * has neither: check it before an expensive call to hold back near a limit. Rejects with a
   * `UsageApiError` when the worker refuses or fails.
   */
  budget(): Promise<BudgetStatus | null>;
  /**
   * Asks whether spending `request` (exactly one of `estimate`, `profile` + `units`, `amount`)
   * would cross a limit (`POST /api/usage/guard`). Resolves to the answer, a `deny` included.
   * Tracker unreachable: an `allow` marked `unavailable` with `failOpen` (default), reported
   * through `onGuardWarning`; else a `TrackerUnavailableError`.
   */
  guard(request: GuardRequest): Promise<GuardAnswer>;
  /**
   * Holds `request` against every limit at once for `ttlSeconds` and resolves to the
   * reservation (settle it with `record(event, { reservationId })`, or `release(id)`). Rejects
   * with `BudgetExceededError` on a deny; a `warn` goes to `onGuardWarning`. Retries resend the
   * same idempotency `id`. Tracker unreachable: `null` with `failOpen`, else a
   * `TrackerUnavailableError`.
   */
  reserve(request: ReserveRequest): Promise<Reservation | null>;
  /** Releases a reservation: true when it holds nothing now (released, or ended already), false
   * when the tracker has no reservation of that id. */
  release(id: string): Promise<boolean>;
  /**
   * Wraps an async call in a reservation: reserves first (rejecting with `BudgetExceededError`
   * on a deny, without making the call), then calls and records `options.record(result,
   * ...args)` with the reservation's id, which settles it. A failed call releases it.
   */
  guarded<A extends unknown[], T>(fn: (...args: A) => Promise<T>, options: GuardedOptions<A, T>): (...args: A) => Promise<T>;
}

/** A v4 UUID (`crypto.randomUUID()` where available). */
export declare function newEventId(): string;
/** A copy without `undefined` and `null` fields. */
export declare function compactEvent<T extends object>(event: T): T;

/** OpenAI chat completions (also legacy completions, embeddings, and the usage chunk of a stream). */
export declare function fromOpenAIChat(response: OpenAIChatLike, extras?: EventExtras): UsageEventInput;
/** OpenAI Responses API (or `event.response` of the `response.completed` stream event). */
export declare function fromOpenAIResponses(response: OpenAIResponseLike, extras?: EventExtras): UsageEventInput;
/** Either OpenAI shape, told apart by its usage fields. */
export declare function fromOpenAI(response: OpenAIChatLike | OpenAIResponseLike, extras?: EventExtras): UsageEventInput;
/** OpenAI text to speech: characters (code points) of the request's `input`. */
export declare function fromOpenAITTS(request: { model: string; input: string }, extras?: EventExtras): UsageEventInput;
/** Anthropic Messages API: cache reads and writes on top of input_tokens. */
export declare function fromAnthropic(message: AnthropicMessageLike, extras?: EventExtras): UsageEventInput;
/** Gemini `generateContent`: the response or its `usageMetadata`; model from `extras.model` or `modelVersion`. */
export declare function fromGemini(response: GeminiResponseLike | GeminiUsageMetadata, extras?: EventExtras): UsageEventInput;
/** ElevenLabs: characters from the `character-cost` header (else counted from `text`). */
export declare function fromElevenLabs(response: HeadersSource, extras?: EventExtras & { text?: string }): UsageEventInput;
/** Any other provider: checks the quantities and drops empty fields. */
export declare function genericEvent(provider: string, fields?: EventExtras): UsageEventInput;
/** One header, case-insensitively, from a Response, Headers or plain object. */
export declare function headerValue(source: HeadersSource, name: string): string | undefined;
