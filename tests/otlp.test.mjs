// POST /v1/traces with the real OpenTelemetry exporters: the Python SDK's OTLP/HTTP protobuf
// exporter (tests/otlp_spans.py, in .tools/venv) and the Node SDK's OTLP/HTTP JSON exporter,
// against the built worker served over HTTP. What their spans record must equal what the same
// calls sent to POST /api/usage record.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { context, trace } from '@opentelemetry/api';
import { ROOT } from './support/worker.mjs';
import { startHttpWorker, ADMIN_KEY } from './support/http-worker.mjs';

let w;
const keys = {};

/** A `google.rpc.Status` body, decoded by Google's own protobuf package (in .tools/venv). */
function decodeStatus(body) {
  const python = join(ROOT, '.tools', 'venv', 'bin', 'python');
  const out = execFileSync(python, ['-c', [
    'import sys, json',
    'from google.rpc import status_pb2',
    's = status_pb2.Status()',
    's.ParseFromString(sys.stdin.buffer.read())',
    'print(json.dumps({"code": s.code, "message": s.message}))',
  ].join('\n')], { input: Buffer.from(body), encoding: 'utf8' });
  return JSON.parse(out);
}

async function project(id) {
  const created = await w.fetch('/api/admin/projects', { method: 'POST', key: ADMIN_KEY, body: { id, name: id } });
  assert.equal(created.status, 201, created.text);
  const made = await w.fetch(`/api/admin/projects/${id}/keys`, { method: 'POST', key: ADMIN_KEY });
  assert.equal(made.status, 201, made.text);
  return made.json.key;
}

/** Cost per model of a project's events, as exact decimal strings summed by micro-units. */
async function costsByModel(key) {
  const listed = await w.fetch('/api/usage?limit=100', { key });
  assert.equal(listed.status, 200, listed.text);
  const byModel = {};
  for (const e of listed.json.events) {
    const cost = e.cost?.amount ?? e.cost;
    byModel[e.model] = (byModel[e.model] ?? 0n) + BigInt(Math.round(Number(cost) * 1e9));
  }
  return Object.fromEntries(Object.entries(byModel).map(([m, n]) => [m, n.toString()]));
}

before(async () => {
  w = await startHttpWorker();
  for (const id of ['otel-spans', 'otel-direct', 'otel-other']) keys[id] = await project(id);
});
after(async () => { await w?.dispose(); });

test('spans exported by the Python and Node SDKs record what the same calls sent to /api/usage record, and a re-export changes nothing', async () => {
  const python = join(ROOT, '.tools', 'venv', 'bin', 'python');
  const out = execFileSync(python, [join(ROOT, 'tests', 'otlp_spans.py')], {
    env: {
      ...process.env,
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${w.url}/v1/traces`,
      OTEL_EXPORTER_OTLP_HEADERS: `Authorization=Bearer ${keys['otel-spans']}`,
    },
    encoding: 'utf8',
  });
  assert.deepEqual(JSON.parse(out), { spans: 4, results: ['SUCCESS', 'SUCCESS'] });

  // The Vercel AI SDK's spans, exported as OTLP JSON by the Node SDK: the outer span sums its
  // provider calls and must not count again.
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'pages-app' }),
    spanProcessors: [new SimpleSpanProcessor(memory)],
  });
  const tracer = provider.getTracer('ai');
  const outer = tracer.startSpan('ai.generateText', { attributes: {
    'ai.operationId': 'ai.generateText', 'ai.model.provider': 'openai.chat', 'ai.model.id': 'gpt-4o-mini',
    'ai.usage.promptTokens': 2000, 'ai.usage.completionTokens': 100 } });
  const inner = tracer.startSpan('ai.generateText.doGenerate', { attributes: {
    'ai.operationId': 'ai.generateText.doGenerate', 'ai.model.provider': 'openai.chat', 'ai.model.id': 'gpt-4o-mini',
    'ai.usage.inputTokens': 2000, 'ai.usage.cachedInputTokens': 1000, 'ai.usage.outputTokens': 100,
    'gen_ai.system': 'openai.chat', 'gen_ai.usage.input_tokens': 2000 } }, trace.setSpan(context.active(), outer));
  inner.end();
  outer.end();
  const spans = memory.getFinishedSpans();
  const exporter = new OTLPTraceExporter({ url: `${w.url}/v1/traces`, headers: { Authorization: `Bearer ${keys['otel-spans']}` } });
  for (let i = 0; i < 2; i++) {
    const result = await new Promise((resolve) => exporter.export(spans, resolve));
    assert.equal(result.code, 0, String(result.error));
  }

  const direct = await w.fetch('/api/usage', { method: 'POST', key: keys['otel-direct'], body: { events: [
    { provider: 'openai', model: 'gpt-4o-2024-08-06', input_tokens: 1000, cached_input_tokens: 200, output_tokens: 500 },
    { provider: 'anthropic', model: 'claude-3-5-sonnet-20241022', input_tokens: 1000, cache_read_input_tokens: 200, cache_creation_input_tokens: 100, output_tokens: 50 },
    { provider: 'google', model: 'gemini-2.5-flash', input_tokens: 700, output_tokens: 70 },
    { provider: 'openai', model: 'gpt-4o-mini', input_tokens: 2000, cached_input_tokens: 1000, output_tokens: 100 },
  ] } });
  assert.equal(direct.status, 201, direct.text);
  const fromSpans = await costsByModel(keys['otel-spans']);
  assert.deepEqual(fromSpans, await costsByModel(keys['otel-direct']));
  assert.equal(Object.keys(fromSpans).length, 4);
  assert.ok(Object.values(fromSpans).every((nanos) => BigInt(nanos) > 0n), JSON.stringify(fromSpans));
  const listed = await w.fetch('/api/usage?limit=100', { key: keys['otel-spans'] });
  assert.equal(listed.json.events.length, 4, 'each model call once, after two exports of each batch');
  assert.ok(listed.json.events.every((e) => /^otel-[0-9a-f]{32}-[0-9a-f]{16}$/.test(e.id)), JSON.stringify(listed.json.events.map((e) => e.id)));
});

const end = BigInt(Date.now()) * 1_000_000n;
const jsonBody = (spanId, attributes) => ({ resourceSpans: [{ resource: { attributes: [] }, scopeSpans: [{ spans: [{
  traceId: '5b8efff798038103d269b633813fc60c', spanId, name: 'chat', startTimeUnixNano: String(end - 1_000_000n), endTimeUnixNano: String(end),
  attributes: Object.entries(attributes).map(([key, v]) => ({ key, value: typeof v === 'number' ? { intValue: String(v) } : { stringValue: v } })),
}] }] }] });
const call = { 'gen_ai.system': 'openai', 'gen_ai.request.model': 'gpt-4o', 'gen_ai.usage.input_tokens': 10, 'gen_ai.usage.output_tokens': 5 };

test('a gzip OTLP JSON body is read, and a bad span is named in partialSuccess while the good one is stored', async () => {
  const body = jsonBody('eee19b7ec3c1b174', call);
  body.resourceSpans[0].scopeSpans[0].spans.push({ ...jsonBody('eee19b7ec3c1b175', { ...call, 'gen_ai.usage.cache_read.input_tokens': 50 }).resourceSpans[0].scopeSpans[0].spans[0] });
  const r = await fetch(`${w.url}/v1/traces`, { method: 'POST', headers: {
    authorization: `Bearer ${keys['otel-other']}`, 'content-type': 'application/json', 'content-encoding': 'gzip' },
    body: gzipSync(JSON.stringify(body)) });
  const answer = await r.json();
  assert.equal(r.status, 200, JSON.stringify(answer));
  assert.equal(answer.storedSpans, 1);
  assert.equal(answer.partialSuccess.rejectedSpans, 1);
  assert.match(answer.partialSuccess.errorMessage, /eee19b7ec3c1b175.*cache_read\.input_tokens/);
});

test('a malformed body gets a 400 that says what was expected, and other content types a 415', async () => {
  const post = (body, type) => fetch(`${w.url}/v1/traces`, { method: 'POST', headers: {
    authorization: `Bearer ${keys['otel-other']}`, 'content-type': type }, body });
  let r = await post('{"resourceSpans": 7}', 'application/json');
  assert.equal(r.status, 400);
  assert.match((await r.json()).error.message, /not OTLP JSON/);
  // A field at fault is named in error.details too (the message keeps naming it).
  const badTrace = jsonBody('bad19b7ec3c1b175', call);
  badTrace.resourceSpans[0].scopeSpans[0].spans[0].traceId = 'not-hex';
  r = await post(JSON.stringify(badTrace), 'application/json');
  const refused = await r.json();
  assert.equal(r.status, 400);
  assert.equal(refused.error.code, 'malformed_request');
  assert.equal(refused.error.details[0]?.field, 'resourceSpans[0].scopeSpans[0].spans[0].traceId', JSON.stringify(refused));
  assert.match(refused.error.message, /resourceSpans\[0\]\.scopeSpans\[0\]\.spans\[0\]\.traceId: /);
  r = await post(new Uint8Array([0xff, 0xff, 0xff]), 'application/x-protobuf');
  assert.equal(r.status, 400);
  assert.equal(r.headers.get('content-type'), 'application/x-protobuf');
  const status = decodeStatus(await r.arrayBuffer());
  assert.equal(status.code, 3, 'INVALID_ARGUMENT');
  assert.match(status.message, /not an OTLP ExportTraceServiceRequest in protobuf/);
  r = await post('x', 'text/plain');
  assert.equal(r.status, 415);
});

test('spans need a project key: none is a 401, the admin key a 403, and one project key writes only into its own project', async () => {
  const body = JSON.stringify(jsonBody('aaa19b7ec3c1b174', call));
  let r = await fetch(`${w.url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  assert.equal(r.status, 401);
  r = await fetch(`${w.url}/v1/traces`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' }, body });
  assert.equal(r.status, 403);
  const before = (await w.fetch('/api/usage?limit=100', { key: keys['otel-direct'] })).json.events.length;
  r = await fetch(`${w.url}/v1/traces`, { method: 'POST', headers: { authorization: `Bearer ${keys['otel-other']}`, 'content-type': 'application/json' }, body });
  assert.equal(r.status, 200);
  assert.equal((await r.json()).storedSpans, 1);
  const after = (await w.fetch('/api/usage?limit=100', { key: keys['otel-direct'] })).json.events;
  assert.equal(after.length, before);
  assert.ok(!after.some((e) => e.id.startsWith('otel-')), 'no span in another project');
});

test('a refused protobuf export is answered with a google.rpc.Status in protobuf, and a refused JSON one carries its code and message', async () => {
  // The smallest valid protobuf export: one empty ResourceSpans.
  const proto = new Uint8Array([0x0a, 0x00]);
  let r = await fetch(`${w.url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: proto });
  assert.equal(r.status, 401);
  assert.equal(r.headers.get('content-type'), 'application/x-protobuf');
  assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer /);
  let status = decodeStatus(await r.arrayBuffer());
  assert.equal(status.code, 16, 'UNAUTHENTICATED');
  assert.match(status.message, /key/);

  r = await fetch(`${w.url}/v1/traces`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/x-protobuf' }, body: proto });
  assert.equal(r.status, 403);
  status = decodeStatus(await r.arrayBuffer());
  assert.equal(status.code, 7, 'PERMISSION_DENIED');
  assert.match(status.message, /project/);

  r = await fetch(`${w.url}/v1/traces`, { method: 'POST', headers: { authorization: `Bearer ${keys['otel-other']}`, 'content-type': 'application/x-protobuf', 'content-encoding': 'br' }, body: proto });
  assert.equal(r.status, 415);
  assert.equal(decodeStatus(await r.arrayBuffer()).code, 12, 'UNIMPLEMENTED');

  // The same valid body is accepted with that key: the refusals above were the key's and the encoding's.
  r = await fetch(`${w.url}/v1/traces`, { method: 'POST', headers: { authorization: `Bearer ${keys['otel-other']}`, 'content-type': 'application/x-protobuf' }, body: proto });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'application/x-protobuf');

  r = await fetch(`${w.url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"resourceSpans": []}' });
  assert.equal(r.status, 401);
  const answer = await r.json();
  assert.equal(answer.code, 16);
  assert.equal(answer.message, answer.error.message);
  assert.equal(answer.error.code, 'unauthenticated');

  // With a trailing slash, which the route table takes too, refusals are Status answers as well.
  r = await fetch(`${w.url}/v1/traces/`, { method: 'POST', headers: { authorization: `Bearer ${keys['otel-other']}`, 'content-type': 'application/x-protobuf' }, body: new Uint8Array([0x0a, 0xff]) });
  assert.equal(r.status, 400);
  assert.equal(r.headers.get('content-type'), 'application/x-protobuf');
  assert.equal(decodeStatus(await r.arrayBuffer()).code, 3, 'INVALID_ARGUMENT');
});

test('an export of a million empty spans, small on the wire, is refused before it is decoded', async () => {
  // ExportTraceServiceRequest { resource_spans { scope_spans { spans: 1,000,000 x {} } } }.
  const varint = (n) => { const out = []; do { let b = n & 127; n >>>= 7; if (n) b |= 128; out.push(b); } while (n); return out; };
  const field = (number, bytes) => Buffer.concat([Buffer.from([(number << 3) | 2, ...varint(bytes.length)]), bytes]);
  const spans = Buffer.alloc(2_000_000, Buffer.from([0x12, 0x00]));
  const body = gzipSync(field(1, field(2, spans)));
  assert.ok(body.length < 20_000, `${body.length} bytes sent`);
  const r = await fetch(`${w.url}/v1/traces`, { method: 'POST', headers: { authorization: `Bearer ${keys['otel-other']}`, 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' }, body });
  assert.equal(r.status, 400);
  const status = decodeStatus(await r.arrayBuffer());
  assert.equal(status.code, 3, 'INVALID_ARGUMENT');
  assert.match(status.message, /smaller batches/);
});
