// A Cloudflare Pages Function whose model calls are recorded by ai-spend-tracker with no client
// library: it emits OpenTelemetry GenAI spans and exports them over OTLP/HTTP (JSON) to the
// tracker's POST /v1/traces. Set two environment variables of the Pages project:
//   OTEL_EXPORTER_OTLP_TRACES_ENDPOINT = https://<your tracker>/v1/traces
//   SPEND_TRACKER_KEY                  = <a project key of the tracker>
// and install @opentelemetry/api, @opentelemetry/sdk-trace-base and
// @opentelemetry/exporter-trace-otlp-http. An app already instrumented (OpenLLMetry, OpenLIT,
// the Vercel AI SDK's experimental_telemetry) only needs the exporter below.
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';

export async function onRequestPost({ request, env, waitUntil }) {
  const provider = new BasicTracerProvider({
    spanProcessors: [new SimpleSpanProcessor(new OTLPTraceExporter({
      url: env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
      headers: { Authorization: `Bearer ${env.SPEND_TRACKER_KEY}` },
    }))],
  });
  const span = provider.getTracer('chat').startSpan('chat gpt-4o-mini', {
    attributes: { 'gen_ai.provider.name': 'openai', 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'gpt-4o-mini' },
  });
  const { prompt } = await request.json();
  const answer = await fetch('https://api.openai.com/v1/chat/completions', {
    method: 'POST',
    headers: { authorization: `Bearer ${env.OPENAI_API_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: prompt }] }),
  }).then((r) => r.json());
  // The GenAI conventions: the input count includes the cached part (OpenAI's prompt_tokens does).
  span.setAttributes({
    'gen_ai.response.model': answer.model,
    'gen_ai.response.id': answer.id,
    'gen_ai.usage.input_tokens': answer.usage.prompt_tokens,
    'gen_ai.usage.cache_read.input_tokens': answer.usage.prompt_tokens_details?.cached_tokens ?? 0,
    'gen_ai.usage.output_tokens': answer.usage.completion_tokens,
  });
  span.end();
  // Export after the answer; the span's id makes a retried export a duplicate, never a double count.
  waitUntil(provider.forceFlush());
  return Response.json({ text: answer.choices[0].message.content });
}
