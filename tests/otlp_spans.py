"""Exports model-call spans with the OpenTelemetry Python SDK's OTLP/HTTP protobuf exporter,
configured only by the environment an app would set (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
OTEL_EXPORTER_OTLP_HEADERS). The same finished spans are exported twice (a re-export), and the
two results are printed as JSON."""
import json

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

memory = InMemorySpanExporter()
provider = TracerProvider(resource=Resource.create({"service.name": "video-api"}))
provider.add_span_processor(SimpleSpanProcessor(memory))
tracer = provider.get_tracer("otlp-test")

with tracer.start_as_current_span("POST /generate", attributes={"http.method": "POST"}):
    # OpenLLMetry / the GenAI conventions, OpenAI: the input count includes the cached part.
    with tracer.start_as_current_span("chat gpt-4o", attributes={
        "gen_ai.system": "openai", "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-4o", "gen_ai.response.model": "gpt-4o-2024-08-06",
        "gen_ai.usage.input_tokens": 1000, "gen_ai.usage.cache_read.input_tokens": 200,
        "gen_ai.usage.output_tokens": 500}):
        pass
    # The current GenAI names, Anthropic: reads and writes inside the input count.
    with tracer.start_as_current_span("chat claude", attributes={
        "gen_ai.provider.name": "anthropic", "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "claude-3-5-sonnet-20241022",
        "gen_ai.usage.input_tokens": 1300, "gen_ai.usage.cache_read.input_tokens": 200,
        "gen_ai.usage.cache_creation.input_tokens": 100, "gen_ai.usage.output_tokens": 50}):
        pass
    # OpenInference (LlamaIndex, LangChain instrumentations), Gemini on Vertex AI.
    with tracer.start_as_current_span("llm", attributes={
        "openinference.span.kind": "LLM", "llm.system": "vertexai",
        "llm.model_name": "gemini-2.5-flash", "llm.token_count.prompt": 700,
        "llm.token_count.completion": 70, "llm.token_count.total": 770}):
        pass

spans = memory.get_finished_spans()
exporter = OTLPSpanExporter()
results = [exporter.export(spans).name, exporter.export(spans).name]
print(json.dumps({"spans": len(spans), "results": results}))
