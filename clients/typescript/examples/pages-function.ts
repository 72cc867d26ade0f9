// A Cloudflare Pages Function that calls an AI provider and records the call's usage in
// ai-spend-tracker without delaying the answer: the usage is sent after the response, inside
// `context.waitUntil`.
//
// Use it as functions/api/script.ts of a Pages project (see ../README.md, "Example: a Pages
// Function"), with two environment variables (.dev.vars locally, project settings deployed):
//   USAGE_URL  the tracker, e.g. http://127.0.0.1:8787 under `npm run dev`
//   USAGE_KEY  a project ingest key (ast_…)
//
// The provider is mocked (mockChatCompletion returns what OpenAI's
// POST /v1/chat/completions returns), so the example runs without an OpenAI account. With a real
// key, replace the mock by the fetch shown in its comment: fromOpenAIChat reads the same JSON.
import { UsageClient, fromOpenAIChat } from 'ai-spend-tracker-client';
import type { OpenAIChatLike } from 'ai-spend-tracker-client';

interface Env {
  USAGE_URL?: string;
  USAGE_KEY: string;
}

// The part of Cloudflare's EventContext this function uses (with @cloudflare/workers-types
// installed you can write `export const onRequestPost: PagesFunction<Env> = ...` instead).
interface Context {
  request: Request;
  env: Env;
  waitUntil(promise: Promise<unknown>): void;
}

interface ChatCompletion extends OpenAIChatLike {
  choices: { index: number; message: { role: string; content: string }; finish_reason: string }[];
}

/** Stands in for:
 *  fetch('https://api.openai.com/v1/chat/completions', { method: 'POST',
 *    headers: { authorization: `Bearer ${env.OPENAI_API_KEY}`, 'content-type': 'application/json' },
 *    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: prompt }] }) })
 *  .then((r) => r.json()) */
async function mockChatCompletion(prompt: string): Promise<ChatCompletion> {
  const promptTokens = 12 + Math.ceil(prompt.length / 4);
  return {
    model: 'gpt-4o-mini-2024-07-18',
    choices: [
      { index: 0, message: { role: 'assistant', content: `A 30-second script about: ${prompt}` }, finish_reason: 'stop' },
    ],
    usage: {
      prompt_tokens: promptTokens,
      completion_tokens: 42,
      total_tokens: promptTokens + 42,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0 },
    },
  };
}

export const onRequestPost = async (context: Context): Promise<Response> => {
  const { request, env } = context;
  // One client per request: nothing outlives the request but what waitUntil keeps alive.
  const usage = new UsageClient({
    baseUrl: env.USAGE_URL ?? 'http://127.0.0.1:8787',
    apiKey: env.USAGE_KEY,
    flushIntervalMs: 0, // no timer in Workers: flush() below sends everything
    defaults: { operation: 'script-generation', endpoint: new URL(request.url).pathname },
    onDrop: (events, reason, error) =>
      console.error(`ai-spend-tracker dropped ${events.length} event(s): ${reason}`, error?.message ?? ''),
  });

  const { prompt = 'a new running shoe', job_id } = (await request.json().catch(() => ({}))) as {
    prompt?: string;
    job_id?: string;
  };
  const started = Date.now();
  const completion = await mockChatCompletion(prompt);
  const eventId = usage.record(
    fromOpenAIChat(completion, { job_id, duration_ms: Date.now() - started, metadata: { prompt_chars: prompt.length } }),
  );

  // Sent after the response; retries (429/503/network) reuse eventId, so nothing counts twice.
  context.waitUntil(usage.flush());

  return Response.json({ script: completion.choices[0].message.content, usage_event_id: eventId });
};
