// Turn real provider responses into usage events, applying the server's counting rules:
// - OpenAI and Gemini count cached prompt tokens INSIDE the prompt count: input_tokens is the
//   whole prompt, cached_input_tokens the cached part of it.
// - Anthropic reports cache reads and writes ON TOP of input_tokens.
// - OpenAI counts reasoning (and audio) tokens inside completion/output tokens; Gemini reports
//   thinking tokens (thoughtsTokenCount) apart from candidatesTokenCount.
// Each helper returns an event without `id` or `timestamp` (the client adds both on
// `record()`); `extras` are merged last, so they win (operation, job_id, metadata, ...).
import type {
  AnthropicMessageLike,
  EventExtras,
  GeminiModalityCount,
  GeminiResponseLike,
  GeminiUsageMetadata,
  HeadersSource,
  OpenAIChatLike,
  OpenAIResponseLike,
  UsageEventInput,
} from './types.js';
import { compactEvent } from './client.js';

const positive = (n: unknown): number | undefined => (typeof n === 'number' && n > 0 ? n : undefined);
const count = (n: unknown): number | undefined => (typeof n === 'number' && n >= 0 ? n : undefined);

function finish(event: UsageEventInput, extras?: EventExtras): UsageEventInput {
  // undefined / null extras are ignored (they never erase a field the response gave)
  const merged = { ...event, ...compactEvent(extras ?? {}) } as UsageEventInput;
  if (event.metadata && extras?.metadata) merged.metadata = { ...event.metadata, ...extras.metadata };
  return compactEvent(merged);
}

function need<T>(value: T | null | undefined, what: string): T {
  if (value === null || value === undefined) throw new TypeError(`${what} is missing`);
  return value;
}

/**
 * OpenAI chat completions (also legacy completions, embeddings, and the last chunk of a stream
 * requested with `stream_options: { include_usage: true }`).
 * input_tokens = prompt_tokens (cached included), cached_input_tokens = cached part,
 * output_tokens = completion_tokens (reasoning included), reasoning_tokens apart.
 */
export function fromOpenAIChat(response: OpenAIChatLike, extras?: EventExtras): UsageEventInput {
  const usage = need(response?.usage, 'fromOpenAIChat: response.usage');
  return finish(
    {
      provider: 'openai',
      model: response.model,
      input_tokens: count(usage.prompt_tokens) ?? 0,
      output_tokens: count(usage.completion_tokens),
      cached_input_tokens: positive(usage.prompt_tokens_details?.cached_tokens),
      audio_input_tokens: positive(usage.prompt_tokens_details?.audio_tokens),
      reasoning_tokens: positive(usage.completion_tokens_details?.reasoning_tokens),
      audio_output_tokens: positive(usage.completion_tokens_details?.audio_tokens),
    },
    extras,
  );
}

/**
 * OpenAI Responses API (`client.responses.create`, or `event.response` of the
 * `response.completed` stream event).
 */
export function fromOpenAIResponses(response: OpenAIResponseLike, extras?: EventExtras): UsageEventInput {
  const usage = need(response?.usage, 'fromOpenAIResponses: response.usage');
  return finish(
    {
      provider: 'openai',
      model: response.model,
      input_tokens: count(usage.input_tokens) ?? 0,
      output_tokens: count(usage.output_tokens) ?? 0,
      cached_input_tokens: positive(usage.input_tokens_details?.cached_tokens),
      reasoning_tokens: positive(usage.output_tokens_details?.reasoning_tokens),
    },
    extras,
  );
}

/** Either OpenAI shape, told apart by its usage fields. */
export function fromOpenAI(response: OpenAIChatLike | OpenAIResponseLike, extras?: EventExtras): UsageEventInput {
  const usage = need(response?.usage as Record<string, unknown> | null | undefined, 'fromOpenAI: response.usage');
  return 'prompt_tokens' in usage
    ? fromOpenAIChat(response as OpenAIChatLike, extras)
    : fromOpenAIResponses(response as OpenAIResponseLike, extras);
}

/**
 * OpenAI text to speech (`audio.speech.create`): the answer is audio, so usage is the number of
 * characters (Unicode code points) of the request's `input`, the unit tts-1 and tts-1-hd bill.
 */
export function fromOpenAITTS(request: { model: string; input: string }, extras?: EventExtras): UsageEventInput {
  const input = need(request?.input, 'fromOpenAITTS: request.input');
  return finish({ provider: 'openai', model: request.model, characters: Array.from(input).length }, extras);
}

/**
 * Anthropic Messages API. Cache reads and writes come on top of input_tokens:
 * cache_read_input_tokens -> cached_input_tokens, cache_creation_input_tokens -> cache_write_tokens.
 */
export function fromAnthropic(message: AnthropicMessageLike, extras?: EventExtras): UsageEventInput {
  const usage = need(message?.usage, 'fromAnthropic: message.usage');
  return finish(
    {
      provider: 'anthropic',
      model: message.model,
      input_tokens: count(usage.input_tokens) ?? 0,
      output_tokens: count(usage.output_tokens) ?? 0,
      cached_input_tokens: positive(usage.cache_read_input_tokens),
      cache_write_tokens: positive(usage.cache_creation_input_tokens),
    },
    extras,
  );
}

function modality(details: GeminiModalityCount[] | undefined, name: string): number | undefined {
  if (!Array.isArray(details)) return undefined;
  let total = 0;
  for (const d of details) if (String(d?.modality).toUpperCase() === name) total += d.tokenCount ?? 0;
  return positive(total);
}

/**
 * Gemini `generateContent` (REST or @google/genai). Accepts the response or its `usageMetadata`;
 * the model is `extras.model`, else the response's `modelVersion`.
 * input_tokens = promptTokenCount (+ toolUsePromptTokenCount), cached_input_tokens =
 * cachedContentTokenCount (inside the prompt), output_tokens = candidatesTokenCount,
 * reasoning_tokens = thoughtsTokenCount (apart; billed as output).
 */
export function fromGemini(response: GeminiResponseLike | GeminiUsageMetadata, extras?: EventExtras): UsageEventInput {
  const meta = need(
    ('usageMetadata' in (response ?? {}) ? (response as GeminiResponseLike).usageMetadata : response) as GeminiUsageMetadata | null | undefined,
    'fromGemini: response.usageMetadata',
  );
  const prompt = (count(meta.promptTokenCount) ?? 0) + (count(meta.toolUsePromptTokenCount) ?? 0);
  return finish(
    {
      provider: 'google',
      model: (response as GeminiResponseLike).modelVersion,
      input_tokens: prompt,
      output_tokens: count(meta.candidatesTokenCount) ?? 0,
      cached_input_tokens: positive(meta.cachedContentTokenCount),
      reasoning_tokens: positive(meta.thoughtsTokenCount),
      audio_input_tokens: modality(meta.promptTokensDetails, 'AUDIO'),
      audio_output_tokens: modality(meta.candidatesTokensDetails, 'AUDIO'),
    },
    extras,
  );
}

/** One header, case-insensitively, from a Response, Headers or plain object. */
export function headerValue(source: HeadersSource, name: string): string | undefined {
  if (!source) return undefined;
  const holder = (source as { headers?: unknown }).headers ?? source;
  if (typeof (holder as { get?: unknown }).get === 'function') {
    const v = (holder as { get(n: string): string | null }).get(name);
    return v ?? undefined;
  }
  const wanted = name.toLowerCase();
  for (const [k, v] of Object.entries(holder as Record<string, unknown>)) {
    if (k.toLowerCase() === wanted && v !== undefined && v !== null) return Array.isArray(v) ? String(v[0]) : String(v);
  }
  return undefined;
}

/**
 * ElevenLabs text to speech (and other character-billed endpoints): characters from the
 * `character-cost` response header; `text` (the request's text) is counted when the header is
 * absent. Pass the request's `model_id` as `model`.
 */
export function fromElevenLabs(
  response: HeadersSource,
  extras?: EventExtras & { text?: string },
): UsageEventInput {
  const { text, ...rest } = extras ?? {};
  const header = headerValue(response, 'character-cost');
  let characters: number | undefined;
  if (header !== undefined && /^\s*\d+\s*$/.test(header)) characters = Number(header);
  else if (typeof text === 'string') characters = Array.from(text).length;
  if (characters === undefined) {
    throw new TypeError('fromElevenLabs: no `character-cost` header and no `text` to count');
  }
  return finish({ provider: 'elevenlabs', characters }, rest);
}

const INTEGER_FIELDS = [
  'input_tokens', 'output_tokens', 'cached_input_tokens', 'cache_write_tokens', 'reasoning_tokens',
  'audio_input_tokens', 'audio_output_tokens', 'tokens', 'characters', 'images', 'requests', 'tracks',
  'duration_ms', 'prompt_tokens', 'completion_tokens', 'cache_read_input_tokens',
  'cache_creation_input_tokens', 'cached_tokens', 'total_tokens',
] as const;

/**
 * Any other provider (HeyGen video seconds, Hume audio seconds, Loudly tracks, credits, a cost
 * you computed...): checks the quantities and drops empty fields.
 * `genericEvent('heygen', { model: 'avatar-iv', video_seconds: 42.5, job_id: 'clip-7' })`.
 */
export function genericEvent(provider: string, fields: EventExtras = {}): UsageEventInput {
  if (typeof provider !== 'string' || !provider.trim()) throw new TypeError('genericEvent: `provider` is required');
  const event = finish({ provider }, fields);
  for (const f of INTEGER_FIELDS) {
    const v = event[f];
    if (v !== undefined && !(Number.isInteger(v) && v >= 0)) {
      throw new TypeError(`genericEvent: \`${f}\` must be a non-negative integer, got ${JSON.stringify(v)}`);
    }
  }
  return event;
}
