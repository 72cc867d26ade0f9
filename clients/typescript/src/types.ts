// Types of the ai-spend-tracker API, written by hand to match the OpenAPI 3.1 document the
// worker serves at GET /api/openapi.json (schemas UsageEventInput, UsageBatchInput,
// IngestReport, EventOutcome, Money, Error), plus the client's own options and results.
// This file holds types only, so it is also shipped verbatim as dist/types.d.ts.

/** A decimal number, or a string holding one (a string keeps every digit). */
export type Decimal = number | string;

/** One usage event as `POST /api/usage` takes it (schema `UsageEventInput`). */
export interface UsageEventInput {
  /** Provider slug: `openai`, `anthropic`, `google` (or `gemini`), `elevenlabs`, `heygen`, ... */
  provider: string;
  /** Model name as the provider reports it; the server defaults it to `default`. */
  model?: string;
  /** Your event id, the idempotency key (at most 128 characters, no whitespace). The client
   * generates one when absent and reuses it on every retry. */
  id?: string;
  /** Implied by a project key; needed per event (or via the client's `projectId`) with the admin key. */
  project_id?: string;
  /** What the call was for, e.g. `script-generation` (at most 100 characters). */
  operation?: string;
  /** Prompt tokens. OpenAI and Gemini: including cached tokens. Anthropic: excluding cache reads and writes. */
  input_tokens?: number;
  /** Output tokens. OpenAI: including reasoning and audio tokens. Gemini: candidates only (thinking apart). */
  output_tokens?: number;
  /** Cache reads (OpenAI `cached_tokens`, Anthropic `cache_read_input_tokens`, Gemini `cachedContentTokenCount`). */
  cached_input_tokens?: number;
  /** Cache writes (Anthropic `cache_creation_input_tokens`). */
  cache_write_tokens?: number;
  /** Reasoning / thinking tokens (OpenAI `reasoning_tokens`, Gemini `thoughtsTokenCount`). */
  reasoning_tokens?: number;
  audio_input_tokens?: number;
  audio_output_tokens?: number;
  /** A total when there is no input/output split; not priced on its own. */
  tokens?: number;
  characters?: number;
  audio_seconds?: Decimal;
  video_seconds?: Decimal;
  images?: number;
  requests?: number;
  tracks?: number;
  credits?: Decimal;
  /** A cost you computed yourself; kept as reported, beside the computed one. */
  cost?: Decimal;
  /** `cost` in US dollars (seed 004's column); give one or the other. */
  cost_usd?: Decimal;
  /** ISO 4217 currency of `cost` (default USD); only with `cost`. */
  currency?: string;
  /** A cache hit (e.g. Loudly): recorded, not counted as usage of an allotment. */
  cached?: boolean;
  /** ISO 8601 with offset; the client sets it to the time of `record()` when absent. */
  timestamp?: string;
  /** `timestamp` under seed 004's column name; give one or the other. */
  request_timestamp?: string;
  session_id?: string;
  /** One generation that may span several calls (at most 128 characters). */
  job_id?: string;
  duration_ms?: number;
  /** Whether the call succeeded (default true). */
  success?: boolean;
  endpoint?: string;
  /** Any JSON object up to 4 KB serialized. */
  metadata?: Record<string, unknown>;
  /** The reservation (`reserve()`) this usage settles: recording it releases the reservation's
   * estimate and counts the actual cost. */
  reservation_id?: string;
  // Provider-native aliases the server also accepts (prefer the names above).
  prompt_tokens?: number;
  completion_tokens?: number;
  cache_read_input_tokens?: number;
  cache_creation_input_tokens?: number;
  cached_tokens?: number;
  total_tokens?: number;
}

/** A batch (schema `UsageBatchInput`): 1 to 1,000 events, at most 1 MB. */
export interface UsageBatchInput {
  project_id?: string;
  events: UsageEventInput[];
}

/** An exact amount (schema `Money`); `value` is approximate, for charts only. */
export interface Money {
  amount: string;
  currency: string;
  value?: number;
}

/** Why an event has no price (schema `Unpriced`). */
export interface Unpriced {
  code: 'unknown_model' | 'no_price_in_force' | 'no_rate_for_usage';
  message: string;
}

/** What happened to one event of a request (schema `EventOutcome`). */
export interface EventOutcome {
  index: number;
  id: string;
  project_id: string;
  status: 'stored' | 'duplicate';
  duplicate: boolean;
  cost: Money | null;
  currency: string | null;
  computed_cost?: Money | null;
  reported_cost?: Money | null;
  unpriced?: Unpriced | null;
  timestamp: string;
}

/** The answer to `POST /api/usage` (schema `IngestReport`). */
export interface IngestReport {
  success: boolean;
  accepted: number;
  stored: number;
  duplicates: number;
  unpriced: number;
  stored_cost: Money[];
  raw_object: string;
  events: EventOutcome[];
  /** The project's guard state as of the last check. */
  guard?: IngestGuardState;
}

/** `guard` of an ingest answer: `blocked` when a block-mode limit is reached. */
export interface IngestGuardState {
  state: 'ok' | 'warn' | 'blocked';
  /** The kind of the deciding limit (`budget`, `daily_limit`, `plan`, `capacity`), or null. */
  limiting: string | null;
}

/** One problem of an error answer; `index` names the event of a batch. */
export interface ErrorDetail {
  field: string;
  message: string;
  index?: number;
}

/** Every error answer (schema `Error`). */
export interface ErrorBody {
  error: {
    code: string;
    message: string;
    details: ErrorDetail[];
    retryable?: boolean;
  };
}

/** Why events were dropped (given up on) rather than stored. */
export type DropReason =
  /** The in-memory buffer was full (`maxBufferSize`) when the event was recorded. */
  | 'buffer_full'
  /** The server refused the event and retrying cannot help (400, 401, 403, 404, 413, ...). */
  | 'rejected'
  /** Every retry of a retryable failure (429, 5xx, network error, timeout) failed. */
  | 'retries_exhausted';

/** The `fetch` the client uses (the global one by default). */
export type FetchLike = (input: string, init: {
  method: string;
  headers: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
  keepalive?: boolean;
}) => Promise<{
  status: number;
  headers: { get(name: string): string | null };
  text(): Promise<string>;
}>;

export interface UsageClientOptions {
  /** The worker's URL, e.g. `https://ai-spend-tracker.example.workers.dev` or `http://127.0.0.1:8787`. */
  baseUrl: string;
  /** A project ingest key (`ast_…`), or the admin key together with `projectId`. */
  apiKey: string;
  /** Set as `project_id` on events that have none (needed with the admin key). */
  projectId?: string;
  /** Fields merged into every event (the event's own fields win), e.g. `{ operation, session_id }`. */
  defaults?: Partial<UsageEventInput>;
  /** Events per request, 1 to 1,000 (default 100). Reaching it starts a flush. */
  batchSize?: number;
  /** Flush this many ms after the first unsent event (default 5000; 0 = never on a timer).
   * The timer is unref'd in Node and cleared by `flush()`; in Workers pass 0 and use
   * `ctx.waitUntil(client.flush())`. */
  flushIntervalMs?: number;
  /** Most events held in memory, unsent (default 10,000); beyond it new events are dropped
   * and reported through `onDrop` and `dropped`. */
  maxBufferSize?: number;
  /** Retries of a retryable failure per batch (default 4). */
  maxRetries?: number;
  /** First backoff delay in ms, doubled each retry, with jitter (default 250). */
  retryBaseMs?: number;
  /** Longest wait between attempts in ms, `retry-after` included (default 10,000). */
  retryMaxMs?: number;
  /** Per-request timeout in ms (default 10,000); a timeout is retried like a network error. */
  timeoutMs?: number;
  /** Sets fetch's `keepalive` (browsers: lets a flush outlive the page; bodies up to 64 KB). */
  keepalive?: boolean;
  /** Replaces the global `fetch` (tests, service bindings, proxies). */
  fetch?: FetchLike;
  /** Called with events given up on and why (see `DropReason`). Re-recording them later with
   * the same ids is safe: the server stores each id once. */
  onDrop?: (events: UsageEventInput[], reason: DropReason, error?: Error) => void;
  /** Called with every failed attempt and every error of a background flush. */
  onError?: (error: Error) => void;
  /** What `guard()`, `reserve()` and `guarded()` do when the tracker cannot be reached (network
   * error, timeout, 429/5xx after `maxRetries`): `true` (default) proceeds, reported through
   * `onGuardWarning`; `false` rejects with a `TrackerUnavailableError`. */
  failOpen?: boolean;
  /** Called when a reservation is granted with a `warn` decision, and when the tracker could
   * not be reached and the client failed open. Default: `console.warn(warning.message)`. */
  onGuardWarning?: (warning: GuardWarning) => void;
}

/** An amount of money to check against the limits (schema `Money`; never a float). */
export interface GuardAmount {
  /** Decimal text, e.g. `"0.50"`. */
  amount: string;
  /** ISO 4217, e.g. `USD`. */
  currency: string;
}

/** What an app is about to spend: exactly one of `estimate`, `profile` + `units`, `amount`. */
export interface GuardRequest {
  /** An event as `POST /api/usage` takes it (provider, model, quantities, or `cost`). */
  estimate?: UsageEventInput;
  /** A workload profile of the project (or a global one), e.g. `clip`. */
  profile?: string;
  /** How many units of `profile` (default 1 on the server). */
  units?: number;
  amount?: GuardAmount;
}

/** `reserve()`'s request: a `GuardRequest` held against every limit at once. */
export interface ReserveRequest extends GuardRequest {
  /** How long the reservation holds, 1 to 86,400 s (server default 300). */
  ttlSeconds?: number;
  /** Idempotency of the reservation (default: a new UUID, reused on every retry of this call):
   * the same id again answers the same reservation, never a second one. */
  id?: string;
}

/** One limit that applies to a guard request. Amounts are decimal text. */
export interface GuardLimit {
  kind: 'budget' | 'daily_limit' | 'plan' | 'capacity' | (string & {});
  mode: 'alert' | 'block';
  /** Money limits. */
  currency?: string;
  /** Plan limits, e.g. `credits`. */
  unit?: string;
  /** Plan limits, e.g. `heygen`. */
  provider?: string;
  /** Plan limits: `<provider>/<unit>`. */
  plan?: string;
  limit: string;
  spent: string;
  reserved: string;
  estimate?: string;
  /** What would remain after the estimate; negative when it would cross. */
  remaining: string;
  /** Kept in reserve (plans only). */
  reserve?: string;
  [field: string]: unknown;
}

export type GuardDecision = 'allow' | 'warn' | 'deny';

/** The answer of `POST /api/usage/guard` (a deny is a normal answer). */
export interface GuardAnswer {
  decision: GuardDecision;
  /** The limit that decides a deny or warn, else null. */
  limiting: GuardLimit | null;
  limits: GuardLimit[];
  estimate: { cost: string; currency: string } | null;
  /** What was reserved (`reserve: true` and not denied), else null. */
  reservation: { id: string; expires_at: string } | null;
  /** Set by the client, never by the server: the tracker could not be reached and the client
   * failed open, so this `allow` was not decided by the tracker. */
  unavailable?: Error;
}

/** A granted reservation: settle it by recording the usage with `reservationId: id`, or
 * `release(id)` it. */
export interface Reservation {
  /** `res_…` */
  id: string;
  /** ISO 8601; the reservation lapses then. */
  expires_at: string;
  /** The whole guard answer (decision `allow` or `warn`, the limits). */
  answer: GuardAnswer;
}

/** Reported through `onGuardWarning`. */
export type GuardWarning =
  /** A reservation (or a guarded call) went ahead with a `warn` decision. */
  | { kind: 'warn'; message: string; answer: GuardAnswer }
  /** The tracker could not be reached and the client failed open. */
  | { kind: 'unavailable'; message: string; error: Error };

/** `usage.guarded(fn, options)`: what the wrapped call is about to spend, and its usage. */
export interface GuardedOptions<A extends unknown[], T> {
  /** The estimate, or a function of the call's arguments giving it. */
  estimate?: UsageEventInput | ((...args: A) => UsageEventInput);
  /** An amount of money, or a function of the call's arguments giving it. */
  amount?: GuardAmount | ((...args: A) => GuardAmount);
  /** A workload profile and its number of units. */
  profile?: string;
  units?: number | ((...args: A) => number);
  ttlSeconds?: number;
  /** The usage event of the call's result (e.g. `fromOpenAIChat`), recorded with the
   * reservation's id, which settles it. Without it the reservation is released after the call. */
  record?: (result: T, ...args: A) => UsageEventInput | null | undefined;
}

/** `record()`'s options. */
export interface RecordOptions {
  /** Sent as the event's `reservation_id`: settles that reservation. */
  reservationId?: string | null;
}

/** A project's budget status, as `GET /api/usage/stats` answers it to the project's key. */
export interface BudgetStatus {
  budget: Money | null;
  spend: Money;
  percent_used: string | null;
  forecast: Money;
  over_budget: boolean | null;
  daily_limit: Money | null;
  today_spend: Money;
  over_daily_limit: boolean | null;
  /** `budget-80`, `budget-100`, `daily`, `spike`: the alert levels crossed now. */
  levels_crossed: string[];
}

/** What one `flush()` did. */
export interface FlushResult {
  /** Events the server answered for (stored + duplicates). */
  sent: number;
  /** Events stored by this flush. */
  stored: number;
  /** Events the server already had (a retry of a delivered request, or a re-recorded event). */
  duplicates: number;
  /** Events given up on during this flush (also reported through `onDrop`). */
  dropped: number;
  /** Attempts that were retried. */
  retries: number;
  /** The server's answer to each request. */
  reports: IngestReport[];
  /** Every failure met on the way, including those later recovered by a retry. */
  errors: Error[];
}

/** Counters since the client was created. */
export interface ClientStats {
  recorded: number;
  stored: number;
  duplicates: number;
  dropped: number;
  retries: number;
}

/** Extra fields merged into an event a helper builds (they win over the helper's). */
export type EventExtras = Partial<Omit<UsageEventInput, 'provider'>> & { provider?: string };

// Provider response shapes the helpers read (only the fields they use).

/** `usage` of an OpenAI chat completion, legacy completion, embedding, or the last streamed chunk. */
export interface OpenAIChatUsage {
  prompt_tokens: number;
  completion_tokens?: number;
  total_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: number; audio_tokens?: number } | null;
  completion_tokens_details?: {
    reasoning_tokens?: number;
    audio_tokens?: number;
    accepted_prediction_tokens?: number;
    rejected_prediction_tokens?: number;
  } | null;
}

/** `usage` of an OpenAI Responses API response. */
export interface OpenAIResponsesUsage {
  input_tokens: number;
  output_tokens: number;
  total_tokens?: number;
  input_tokens_details?: { cached_tokens?: number } | null;
  output_tokens_details?: { reasoning_tokens?: number } | null;
}

export interface OpenAIChatLike {
  model: string;
  usage?: OpenAIChatUsage | null;
}

export interface OpenAIResponseLike {
  model: string;
  usage?: OpenAIResponsesUsage | null;
}

/** An Anthropic Messages API response (`stream.finalMessage()` for streams). */
export interface AnthropicMessageLike {
  model: string;
  usage: {
    input_tokens: number;
    output_tokens: number;
    cache_creation_input_tokens?: number | null;
    cache_read_input_tokens?: number | null;
  };
}

export interface GeminiModalityCount {
  modality: string;
  tokenCount?: number;
}

/** Gemini `usageMetadata` (REST API and @google/genai). */
export interface GeminiUsageMetadata {
  promptTokenCount?: number;
  cachedContentTokenCount?: number;
  candidatesTokenCount?: number;
  thoughtsTokenCount?: number;
  toolUsePromptTokenCount?: number;
  totalTokenCount?: number;
  promptTokensDetails?: GeminiModalityCount[];
  candidatesTokensDetails?: GeminiModalityCount[];
}

/** A Gemini `generateContent` response (or one streamed chunk holding the final usage). */
export interface GeminiResponseLike {
  usageMetadata?: GeminiUsageMetadata | null;
  modelVersion?: string;
}

/** Something with response headers: a fetch `Response`, a `Headers`, or a plain object. */
export type HeadersSource =
  | { headers: { get(name: string): string | null } | Record<string, string | string[] | undefined> }
  | { get(name: string): string | null }
  | Record<string, string | string[] | undefined>;
