// The client libraries (clients/): the built TypeScript client against the worker in Miniflare
// (batching, retries through a real D1 outage with the same ids, the bounded buffer, helpers on
// the providers' response shapes), the Pages Function example, and the Python client's own
// unittest suite plus its example, run against the worker over real HTTP.
import { test as nodeTest, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startWorker, ADMIN_KEY, ROOT } from './support/worker.mjs';
import { startHttpWorker } from './support/http-worker.mjs';

// No test may hang the suite: each has a time limit.
const test = (name, fn) => nodeTest(name, { timeout: 50_000 }, fn);

const CLIENTS = join(ROOT, 'clients');
const DIST = join(CLIENTS, 'typescript', 'dist', 'index.js');
const client = await import(pathToFileURL(DIST).href);
const { UsageClient } = client;
const fixture = (name) => JSON.parse(readFileSync(join(CLIENTS, 'fixtures', name), 'utf8'));

let w; // startWorker(): the TypeScript client talks to it through mf.dispatchFetch
let hw; // the same worker on a loopback port, for real HTTP (global fetch, Python)
let key;
let httpKey;

async function projectKey(worker, id) {
  const created = await worker.fetch('/api/admin/projects', { method: 'POST', key: ADMIN_KEY, body: { id, name: id } });
  assert.equal(created.status, 201, created.text);
  const made = await worker.fetch(`/api/admin/projects/${id}/keys`, { method: 'POST', key: ADMIN_KEY });
  assert.equal(made.status, 201, made.text);
  return made.json.key;
}

before(async () => {
  [w, hw] = await Promise.all([startWorker(), startHttpWorker()]);
  key = await projectKey(w, 'ts-client');
  httpKey = await projectKey(hw, 'py-client');
}, { timeout: 60_000 });
after(async () => {
  await w?.dispose();
  await hw?.dispose();
});

const rows = async (db, sql, ...args) => (await db.prepare(sql).bind(...args).all()).results;
const usageRows = (job) =>
  rows(
    w.db,
    `SELECT id, provider, model, operation, input_tokens, output_tokens, cached_input_tokens, cache_write_tokens,
            reasoning_tokens, characters, video_seconds_micros, job_id, session_id, metadata, request_timestamp, cost, unpriced_reason
     FROM api_usage WHERE job_id = ? ORDER BY id`,
    job,
  );

/** A client for `w` with fast retries; `calls` holds every request body; `wrap(send, url, init, n)`
 * may stand in for the n-th request (to fail it, or to start a D1 outage around it). */
function tsClient(options = {}, wrap) {
  const calls = [];
  const send = (url, init) => w.mf.dispatchFetch(url, init);
  const fetch = async (url, init) => {
    if (init.body !== undefined) calls.push(JSON.parse(init.body));
    return wrap ? wrap(send, url, init, calls.length) : send(url, init);
  };
  const c = new UsageClient({
    baseUrl: 'http://localhost/',
    apiKey: key,
    fetch,
    flushIntervalMs: 0,
    retryBaseMs: 1,
    retryMaxMs: 20,
    ...options,
  });
  return { c, calls };
}

const outage = {
  start: () => w.db.exec('ALTER TABLE api_usage RENAME TO api_usage_away'),
  end: () => w.db.exec('ALTER TABLE api_usage_away RENAME TO api_usage'),
};

test('the committed build is what esbuild makes of the TypeScript sources', () => {
  const out = execFileSync(process.execPath, [join(CLIENTS, 'typescript', 'build.mjs'), '--check'], { encoding: 'utf8' });
  assert.match(out, /dist\/ is up to date/);
});

test('the declarations declare every export of the built module and nothing else', () => {
  const dts = readFileSync(join(CLIENTS, 'typescript', 'dist', 'index.d.ts'), 'utf8');
  const declared = [...dts.matchAll(/^export declare (?:class|function) (\w+)/gm)].map((m) => m[1]).sort();
  assert.deepEqual(declared, Object.keys(client).sort());
  const types = readFileSync(join(CLIENTS, 'typescript', 'dist', 'types.d.ts'), 'utf8');
  for (const name of ['UsageEventInput', 'IngestReport', 'EventOutcome', 'ErrorBody', 'UsageClientOptions', 'FlushResult', 'DropReason']) {
    assert.match(types, new RegExp(`export (interface|type) ${name}\\b`), name);
  }
  const pkg = JSON.parse(readFileSync(join(CLIENTS, 'typescript', 'package.json'), 'utf8'));
  assert.deepEqual([pkg.type, pkg.exports['.'].import, pkg.exports['.'].types, pkg.dependencies], ['module', './dist/index.js', './dist/index.d.ts', undefined]);
});

test('recorded events are sent in one batch on flush and stored once with their ids, fields and defaults', async () => {
  const { c, calls } = tsClient({ defaults: { job_id: 'ts-basic', operation: 'script-generation', metadata: { team: 'ads' } } });
  const earlier = new Date(Date.now() - 3 * 3600_000).toISOString().replace(/\.\d+Z$/, '+00:00');
  const ids = [
    c.record(client.fromOpenAIChat(fixture('openai-chat-completion.json'))),
    c.record(client.fromAnthropic(fixture('anthropic-message.json'), { operation: 'rewrite', metadata: { scene: 2 } })),
    c.record({ id: 'ts-own-id', provider: 'heygen', model: 'avatar-iv-photo-avatar', video_seconds: '12.5', timestamp: earlier }),
  ];
  assert.equal(ids[2], 'ts-own-id');
  assert.match(ids[0], /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(c.pending, 3);
  assert.equal(calls.length, 0, 'nothing is sent before a flush or a full batch');
  const result = await c.flush();
  assert.deepEqual([result.sent, result.stored, result.duplicates, result.dropped, result.retries], [3, 3, 0, 0, 0]);
  assert.equal(calls.length, 1);
  assert.deepEqual(calls[0].events.map((e) => e.id), ids);
  assert.deepEqual(result.reports[0].events.map((e) => [e.id, e.status]), ids.map((id) => [id, 'stored']));
  assert.equal(c.pending, 0);
  const stored = await usageRows('ts-basic');
  const byId = Object.fromEntries(stored.map((r) => [r.id, r]));
  assert.deepEqual(Object.keys(byId).sort(), [...ids].sort());
  const openai = byId[ids[0]];
  assert.deepEqual(
    [openai.provider, openai.model, openai.operation, openai.input_tokens, openai.output_tokens, openai.cached_input_tokens, JSON.parse(openai.metadata)],
    ['openai', 'gpt-4o-2024-08-06', 'script-generation', 2006, 300, 1920, { team: 'ads' }],
  );
  assert.equal(openai.unpriced_reason, null);
  const anthropic = byId[ids[1]];
  assert.deepEqual(
    [anthropic.operation, anthropic.input_tokens, anthropic.output_tokens, anthropic.cache_write_tokens, anthropic.cached_input_tokens, JSON.parse(anthropic.metadata)],
    ['rewrite', 21, 393, 188086, 0, { team: 'ads', scene: 2 }],
  );
  assert.equal(byId['ts-own-id'].video_seconds_micros, 12_500_000);
  assert.equal(Date.parse(byId['ts-own-id'].request_timestamp), Date.parse(earlier), 'a given timestamp is kept');
  assert.equal(byId['ts-own-id'].cost, '0.625');
  // record() stamped the events it timed: within the last minute.
  assert.ok(Date.now() - Date.parse(openai.request_timestamp) < 60_000);
});

test('an event with seed 004\'s request_timestamp and cost_usd is stored at that time, not dropped for a second timestamp', async () => {
  const { c } = tsClient({});
  const at = new Date(Date.now() - 5 * 3600_000).toISOString();
  c.record({ id: 'ts-d1-row', provider: 'openai', model: 'gpt-4', input_tokens: 1500, output_tokens: 500, cost_usd: '0.075', request_timestamp: at, job_id: 'ts-seed-004' });
  const result = await c.flush();
  assert.deepEqual([result.stored, result.dropped], [1, 0]);
  const [row] = await usageRows('ts-seed-004');
  assert.deepEqual([row.id, Date.parse(row.request_timestamp), row.cost], ['ts-d1-row', Date.parse(at), '0.075']);
});

test('a full batch starts sending without flush(), a partial one waits, and flush() sends it', async () => {
  const { c, calls } = tsClient({ batchSize: 2, defaults: { job_id: 'ts-batch' } });
  for (let i = 0; i < 5; i += 1) c.record({ provider: 'openai', model: 'gpt-4o-mini', input_tokens: 10 + i });
  const settle = () => new Promise((r) => setTimeout(r, 150));
  await settle();
  assert.deepEqual(calls.map((b) => b.events.length), [2, 2, 1], 'a full batch drained the buffer in batches of 2');
  c.record({ provider: 'openai', model: 'gpt-4o-mini', input_tokens: 15 });
  await settle();
  assert.equal(calls.length, 3, 'one event is not a full batch (and the timer is off)');
  assert.equal(c.pending, 1);
  const result = await c.flush();
  assert.deepEqual([result.sent, result.stored, calls.length], [1, 1, 4]);
  assert.deepEqual(c.stats, { recorded: 6, stored: 6, duplicates: 0, dropped: 0, retries: 0 });
  assert.deepEqual((await usageRows('ts-batch')).map((r) => r.input_tokens).sort(), [10, 11, 12, 13, 14, 15]);
});

test('awaiting flush() awaits the sends already under way', async () => {
  let release;
  const gate = new Promise((r) => { release = r; });
  const { c, calls } = tsClient({ batchSize: 1, defaults: { job_id: 'ts-chain' } }, async (send, url, init) => {
    await gate;
    return send(url, init);
  });
  const id = c.record({ provider: 'openai', model: 'gpt-4o-mini', input_tokens: 1 });
  const flushed = c.flush();
  setTimeout(release, 50);
  const result = await flushed;
  assert.equal(result.sent, 0, 'the background send took the event; this flush found nothing left');
  assert.equal(calls.length, 1);
  assert.equal(c.pending, 0, 'yet it resolved only after that send was answered');
  assert.deepEqual((await usageRows('ts-chain')).map((r) => r.id), [id]);
});

test('a D1 outage during the first attempt is retried with the same ids and each event is stored exactly once', async () => {
  const statuses = [];
  const errors = [];
  const { c, calls } = tsClient({ defaults: { job_id: 'ts-outage' }, onError: (e) => errors.push(e) }, async (send, url, init, n) => {
    if (n === 1) await outage.start();
    try {
      const r = await send(url, init);
      statuses.push(r.status);
      return r;
    } finally {
      if (n === 1) await outage.end();
    }
  });
  const ids = [0, 1, 2].map((i) => c.record({ provider: 'openai', model: 'gpt-4o-mini', input_tokens: 100 + i, output_tokens: 1 }));
  const result = await c.flush();
  assert.deepEqual(statuses, [503, 201]);
  assert.equal(calls.length, 2);
  assert.deepEqual(calls[1], calls[0], 'the retry sent the very same events: ids and timestamps');
  assert.deepEqual(calls[0].events.map((e) => e.id), ids);
  assert.deepEqual([result.stored, result.duplicates, result.retries, result.dropped], [3, 0, 1, 0]);
  assert.deepEqual([errors.length, errors[0].status, errors[0].retryable], [1, 503, true]);
  const stored = await usageRows('ts-outage');
  assert.deepEqual(stored.map((r) => r.id).sort(), [...ids].sort());
  assert.deepEqual(stored.map((r) => r.input_tokens).sort(), [100, 101, 102]);
});

test('an answer lost after the worker stored the batch is retried and answered as duplicates, counted once', async () => {
  const { c, calls } = tsClient({ defaults: { job_id: 'ts-lost' } }, async (send, url, init, n) => {
    const r = await send(url, init);
    if (n === 1) {
      await r.text();
      throw new TypeError('fetch failed: socket hang up');
    }
    return r;
  });
  const ids = [0, 1].map((i) => c.record({ provider: 'anthropic', model: 'claude-3-5-haiku', input_tokens: 50, output_tokens: 5 + i }));
  const result = await c.flush();
  assert.equal(calls.length, 2);
  assert.deepEqual(calls[1].events.map((e) => e.id), ids);
  assert.deepEqual([result.stored, result.duplicates, result.retries], [0, 2, 1]);
  assert.equal(result.errors[0].code, 'network_error');
  assert.deepEqual(result.reports[0].events.map((e) => e.status), ['duplicate', 'duplicate']);
  const [{ n }] = await rows(w.db, "SELECT COUNT(*) AS n FROM api_usage WHERE job_id = 'ts-lost'");
  assert.equal(n, 2);
});

test('retries stop after maxRetries and the events are reported through onDrop, not lost silently', async () => {
  const drops = [];
  const { c, calls } = tsClient({ maxRetries: 2, defaults: { job_id: 'ts-exhausted' }, onDrop: (events, reason, error) => drops.push({ events, reason, error }) });
  const id = c.record({ provider: 'openai', model: 'gpt-4o-mini', input_tokens: 1 });
  await outage.start();
  let result;
  try {
    result = await c.flush();
  } finally {
    await outage.end();
  }
  assert.equal(calls.length, 3, 'one attempt and two retries');
  assert.deepEqual([result.dropped, result.retries, c.dropped], [1, 2, 1]);
  assert.deepEqual(drops.map((d) => [d.events.map((e) => e.id), d.reason, d.error.status]), [[[id], 'retries_exhausted', 503]]);
  // Re-recording a dropped event later is safe: same id, stored once.
  const again = tsClient().c;
  again.record(drops[0].events[0]);
  const retried = await again.flush();
  assert.equal(retried.stored, 1);
  assert.deepEqual((await usageRows('ts-exhausted')).map((r) => r.id), [id]);
});

test('recording the same id twice through each client is a duplicate answered with the first time, not a 409', async () => {
  // TypeScript: each record() stamps the time of the call.
  const first = tsClient({ defaults: { job_id: 'ts-again' } }).c;
  const event = { id: 'ts-same-id', provider: 'openai', model: 'gpt-4o-mini', input_tokens: 40, output_tokens: 2 };
  first.record(event);
  const stored = await first.flush();
  assert.deepEqual([stored.stored, stored.dropped], [1, 0], JSON.stringify(stored.errors));
  await new Promise((resolve) => setTimeout(resolve, 15));
  const drops = [];
  const second = tsClient({ defaults: { job_id: 'ts-again' }, onDrop: (events, reason) => drops.push(reason) });
  second.c.record(event);
  const again = await second.c.flush();
  assert.notEqual(second.calls[0].events[0].timestamp, stored.reports[0].events[0].timestamp, 'the client stamped a new time');
  assert.deepEqual([again.stored, again.duplicates, again.dropped, drops], [0, 1, 0, []], JSON.stringify(again.errors));
  const [outcome] = again.reports[0].events;
  assert.deepEqual([outcome.status, outcome.timestamp], ['duplicate', stored.reports[0].events[0].timestamp]);
  const tsRows = await usageRows('ts-again');
  assert.deepEqual(tsRows.map((r) => [r.id, r.request_timestamp]), [['ts-same-id', stored.reports[0].events[0].timestamp]]);
  // Another model under the same id is still refused, and dropped as rejected.
  const third = tsClient({ defaults: { job_id: 'ts-again' }, onDrop: (events, reason, error) => drops.push([reason, error?.status]) });
  third.c.record({ ...event, model: 'gpt-4o' });
  const refused = await third.c.flush();
  assert.deepEqual([refused.stored, refused.duplicates, refused.dropped, drops], [0, 0, 1, [['rejected', 409]]]);

  // Python, over real HTTP: two clients, the same dict recorded by each.
  const script = [
    'import json, sys, time',
    'from ai_spend_tracker import UsageClient',
    'base, key = sys.argv[1], sys.argv[2]',
    'event = {"id": "py-same-id", "provider": "anthropic", "model": "claude-3-5-haiku", "input_tokens": 30, "output_tokens": 3, "job_id": "py-again"}',
    'out = []',
    'for _ in range(2):',
    '    c = UsageClient(base, key, flush_interval=None)',
    '    c.record(dict(event))',
    '    r = c.flush()',
    '    out.append({"stored": r.stored, "duplicates": r.duplicates, "dropped": r.dropped, "events": r.reports[0]["events"] if r.reports else []})',
    '    time.sleep(0.02)',
    'print(json.dumps(out))',
  ].join('\n');
  const r = await run('python3', ['-c', script, hw.url, httpKey], { PYTHONPATH: join(CLIENTS, 'python') }, 30_000);
  assert.equal(r.code, 0, r.output);
  const [once, twice] = JSON.parse(r.output.trim().split('\n').pop());
  assert.deepEqual([once.stored, once.duplicates, once.dropped], [1, 0, 0]);
  assert.deepEqual([twice.stored, twice.duplicates, twice.dropped], [0, 1, 0], r.output);
  assert.deepEqual([twice.events[0].status, twice.events[0].timestamp], ['duplicate', once.events[0].timestamp]);
  const pyRows = await rows(hw.db, "SELECT id, request_timestamp FROM api_usage WHERE job_id = 'py-again'");
  assert.deepEqual(pyRows, [{ id: 'py-same-id', request_timestamp: once.events[0].timestamp }]);
});

test('the bounded buffer drops new events when full, counts them and reports them', async () => {
  const drops = [];
  const { c } = tsClient({ maxBufferSize: 3, batchSize: 100, defaults: { job_id: 'ts-full' }, onDrop: (events, reason) => drops.push([events.map((e) => e.id), reason]) });
  const ids = [1, 2, 3, 4, 5].map((i) => c.record({ provider: 'openai', model: 'gpt-4o-mini', input_tokens: i }));
  assert.equal(c.dropped, 2);
  assert.equal(c.pending, 3);
  assert.deepEqual(drops, [[[ids[3]], 'buffer_full'], [[ids[4]], 'buffer_full']]);
  const result = await c.flush();
  assert.deepEqual([result.stored, result.dropped], [3, 0]);
  assert.deepEqual((await usageRows('ts-full')).map((r) => r.input_tokens).sort(), [1, 2, 3]);
  assert.deepEqual(c.stats, { recorded: 5, stored: 3, duplicates: 0, dropped: 2, retries: 0 });
});

test('an invalid event is dropped as rejected and the rest of its batch is stored', async () => {
  const drops = [];
  const { c, calls } = tsClient({ defaults: { job_id: 'ts-invalid' }, onDrop: (events, reason, error) => drops.push({ events, reason, error }) });
  const good = c.record({ provider: 'openai', model: 'gpt-4o-mini', input_tokens: 3 });
  const bad = c.record({ provider: 'openai', model: 'gpt-4o-mini', input_tokens: 4, metadata: { blob: 'x'.repeat(5000) } });
  const good2 = c.record({ provider: 'openai', model: 'gpt-4o-mini', input_tokens: 5 });
  const result = await c.flush();
  assert.equal(calls.length, 2);
  assert.deepEqual(calls[1].events.map((e) => e.id), [good, good2]);
  assert.deepEqual([result.stored, result.dropped, result.retries], [2, 1, 0]);
  assert.deepEqual([drops[0].events.map((e) => e.id), drops[0].reason, drops[0].error.status, drops[0].error.details[0].field], [[bad], 'rejected', 400, 'events[1].metadata']);
  assert.deepEqual((await usageRows('ts-invalid')).map((r) => r.id).sort(), [good, good2].sort());
});

test('a refused key is not retried and the events are reported as rejected', async () => {
  const drops = [];
  const { c, calls } = tsClient({ apiKey: 'ast_wrong', onDrop: (events, reason, error) => drops.push([reason, error.status, error.code]) });
  c.record({ provider: 'openai', input_tokens: 1 });
  const result = await c.flush();
  assert.equal(calls.length, 1);
  assert.deepEqual([result.dropped, result.retries], [1, 0]);
  assert.deepEqual(drops[0].slice(0, 2), ['rejected', 401]);
});

test('the timer sends a partial batch, and a pending timer never keeps a Node process alive', async () => {
  const { c, calls } = tsClient({ flushIntervalMs: 30, defaults: { job_id: 'ts-timer' } });
  const id = c.record({ provider: 'openai', model: 'gpt-4o-mini', input_tokens: 9 });
  const deadline = Date.now() + 5000;
  while ((await usageRows('ts-timer')).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(calls.length, 1);
  assert.deepEqual((await usageRows('ts-timer')).map((r) => r.id), [id]);
  // A minute-long timer with an unreachable server: the process still ends at once.
  const script = `import { UsageClient } from ${JSON.stringify(pathToFileURL(DIST).href)};
    const c = new UsageClient({ baseUrl: 'http://127.0.0.1:9', apiKey: 'k', flushIntervalMs: 60000 });
    c.record({ provider: 'openai', input_tokens: 1 }); console.log('pending', c.pending);`;
  const started = Date.now();
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(out.trim(), 'pending 1');
  assert.ok(Date.now() - started < 5000, 'the unref’d timer did not hold the process');
});

test('budget() reads the project\'s own budget status, and null without a budget', async () => {
  const { c } = tsClient();
  assert.equal(await c.budget(), null, 'no budget set yet');
  const r = await w.fetch(`/api/admin/projects/ts-client/budget`, { method: 'PATCH', key: ADMIN_KEY, body: { budget_threshold_usd: '1000000', daily_limit: '999999' } });
  assert.equal(r.status, 200, r.text);
  try {
    const status = await c.budget();
    const stats = (await w.fetch('/api/usage/stats', { key })).json;
    assert.deepEqual(status, stats.budget);
    assert.deepEqual([status.budget.amount, status.over_budget, status.over_daily_limit], ['1000000.00', false, false]);
    const refused = new UsageClient({ baseUrl: 'http://localhost', apiKey: 'ast_nope', fetch: (u, i) => w.mf.dispatchFetch(u, i) });
    await assert.rejects(refused.budget(), (e) => e instanceof client.UsageApiError && e.status === 401);
  } finally {
    await w.fetch(`/api/admin/projects/ts-client/budget`, { method: 'PATCH', key: ADMIN_KEY, body: { budget_threshold_usd: null, daily_limit: null } });
  }
});

test('over real HTTP with the global fetch, the client stores events in the worker', async () => {
  const c = new UsageClient({ baseUrl: hw.url, apiKey: httpKey, flushIntervalMs: 0, defaults: { job_id: 'ts-http' } });
  const id = c.record(client.fromGemini(fixture('gemini-generate-content.json')));
  const result = await c.flush();
  assert.deepEqual([result.stored, result.errors.length], [1, 0]);
  const [row] = await rows(hw.db, "SELECT id, provider, model, input_tokens, cached_input_tokens, output_tokens, reasoning_tokens FROM api_usage WHERE job_id = 'ts-http'");
  assert.deepEqual(row, { id, provider: 'google', model: 'gemini-2.5-flash', input_tokens: 12840, cached_input_tokens: 12288, output_tokens: 231, reasoning_tokens: 944 });
});

const HELPERS = {
  openai_chat: (data, extras) => client.fromOpenAIChat(data, extras),
  openai_chat_last_chunk: (data, extras) => client.fromOpenAIChat(data.filter((c) => c.usage).at(-1), extras),
  openai_responses: (data, extras) => client.fromOpenAIResponses(data, extras),
  openai_tts: (data, extras) => client.fromOpenAITTS(data, extras),
  anthropic: (data, extras) => client.fromAnthropic(data, extras),
  gemini: (data, extras) => client.fromGemini(data, extras),
  elevenlabs: (data, extras) => client.fromElevenLabs(new Headers(data.response.headers), extras),
};
const CASES = fixture('expected-events.json').cases;

test('each helper turns its provider response fixture into exactly the expected event', () => {
  assert.equal(CASES.length, 9);
  for (const c of CASES) {
    assert.deepEqual(HELPERS[c.call](fixture(c.fixture), c.extras), c.event, c.name);
  }
});

test('the helpers apply each provider counting rule', () => {
  // OpenAI: cached tokens inside prompt_tokens, reasoning inside completion_tokens.
  const o3 = client.fromOpenAIChat(fixture('openai-chat-completion-reasoning.json'));
  assert.deepEqual([o3.input_tokens, o3.cached_input_tokens, o3.output_tokens, o3.reasoning_tokens], [1280, 1024, 1843, 1536]);
  const resp = client.fromOpenAI(fixture('openai-response.json'));
  assert.deepEqual([resp.input_tokens, resp.cached_input_tokens, resp.output_tokens, resp.reasoning_tokens], [2075, 1792, 1186, 1024]);
  // Anthropic: cache reads and writes on top of input_tokens.
  const hit = client.fromAnthropic(fixture('anthropic-message-cache-hit.json'));
  assert.deepEqual([hit.input_tokens, hit.cached_input_tokens, hit.cache_write_tokens, hit.output_tokens], [50, 100000, 248, 503]);
  // Gemini: thinking apart from candidates; cached inside the prompt; the model from extras.
  const gemini = client.fromGemini(fixture('gemini-generate-content.json').usageMetadata, { model: 'gemini-2.5-pro' });
  assert.deepEqual([gemini.model, gemini.input_tokens, gemini.cached_input_tokens, gemini.output_tokens, gemini.reasoning_tokens], ['gemini-2.5-pro', 12840, 12288, 231, 944]);
  // TTS: code points, not UTF-16 units (the input holds an emoji).
  const tts = fixture('openai-tts-request.json');
  assert.deepEqual([client.fromOpenAITTS(tts).characters, tts.input.length], [73, 74]);
  // ElevenLabs: the header wins over the text; the text counts when the header is missing.
  const response = new Response('audio', { headers: { 'Character-Cost': '49' } });
  assert.equal(client.fromElevenLabs(response, { text: 'short' }).characters, 49);
  assert.equal(client.fromElevenLabs({}, { text: 'eleven char' }).characters, 11);
  assert.throws(() => client.fromElevenLabs({}), /character-cost/);
  assert.throws(() => client.fromOpenAIChat({ model: 'gpt-4o', usage: null }), /usage is missing/);
  // Extras win, but an undefined extra never erases what the response gave.
  const extra = client.fromAnthropic(fixture('anthropic-message.json'), { model: undefined, job_id: undefined, operation: 'rewrite' });
  assert.deepEqual([extra.model, 'job_id' in extra, extra.operation], ['claude-3-5-sonnet-20241022', false, 'rewrite']);
  assert.deepEqual(client.genericEvent('heygen', { model: 'avatar-iv-photo-avatar', video_seconds: 42.5, job_id: undefined }), { provider: 'heygen', model: 'avatar-iv-photo-avatar', video_seconds: 42.5 });
  assert.throws(() => client.genericEvent('elevenlabs', { characters: 1.5 }), /characters/);
});

test('every helper event is accepted and priced by the worker', async () => {
  const { c } = tsClient({ defaults: { job_id: 'ts-helpers' } });
  const ids = CASES.map((k) => c.record(HELPERS[k.call](fixture(k.fixture), { ...k.extras, job_id: 'ts-helpers' })));
  const result = await c.flush();
  assert.deepEqual([result.stored, result.dropped], [CASES.length, 0]);
  for (const e of result.reports[0].events) {
    assert.equal(e.unpriced, null, `${CASES[e.index].name}: ${JSON.stringify(e.unpriced)}`);
    assert.match(e.cost.amount, /^\d+\.\d+$/);
  }
  const stored = await usageRows('ts-helpers');
  assert.deepEqual(stored.map((r) => r.id).sort(), [...ids].sort());
  const gemini = stored.find((r) => r.id === ids[CASES.findIndex((k) => k.call === 'gemini')]);
  assert.deepEqual([gemini.input_tokens, gemini.cached_input_tokens, gemini.reasoning_tokens], [12840, 12288, 944]);
});

test('the Pages Function example answers at once and records its usage through waitUntil', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ast-pages-'));
  try {
    const out = join(dir, 'pages-function.mjs');
    const esbuild = process.env.ESBUILD_BIN || join(ROOT, 'node_modules', '.bin', 'esbuild');
    execFileSync(esbuild, [
      join(CLIENTS, 'typescript', 'examples', 'pages-function.ts'), '--bundle', '--format=esm', '--platform=neutral',
      `--alias:ai-spend-tracker-client=${join(CLIENTS, 'typescript', 'dist', 'index.js')}`, `--outfile=${out}`, '--log-level=warning',
    ]);
    const { onRequestPost } = await import(pathToFileURL(out).href);
    const waiting = [];
    const response = await onRequestPost({
      request: new Request('https://studio.example/api/script', { method: 'POST', body: JSON.stringify({ prompt: 'trail shoes', job_id: 'pages-1' }) }),
      env: { USAGE_URL: hw.url, USAGE_KEY: httpKey },
      waitUntil: (p) => waiting.push(p),
    });
    assert.equal(response.status, 200);
    const body = await response.json();
    assert.equal(body.script, 'A 30-second script about: trail shoes');
    assert.equal(waiting.length, 1, 'the usage is sent inside waitUntil');
    const flushed = await waiting[0];
    assert.equal(flushed.stored, 1);
    const [row] = await rows(hw.db, "SELECT id, provider, model, operation, endpoint, input_tokens, output_tokens, metadata FROM api_usage WHERE job_id = 'pages-1'");
    assert.deepEqual(row, {
      id: body.usage_event_id, provider: 'openai', model: 'gpt-4o-mini-2024-07-18', operation: 'script-generation',
      endpoint: '/api/script', input_tokens: 15, output_tokens: 42, metadata: '{"prompt_chars":11}',
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function run(command, args, env, timeoutMs) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: ROOT, env: { ...process.env, NO_PROXY: '127.0.0.1,localhost', no_proxy: '127.0.0.1,localhost', ...env } });
    let output = '';
    child.stdout.on('data', (d) => { output += d; });
    child.stderr.on('data', (d) => { output += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, output });
    });
  });
}

test('the Python client unittest suite passes against the worker over HTTP', async () => {
  const r = await run('python3', ['-m', 'unittest', 'discover', '-s', 'clients/python/tests', '-v'], { AST_BASE_URL: hw.url, AST_API_KEY: httpKey }, 45_000);
  assert.equal(r.code, 0, r.output);
  const ran = Number(/Ran (\d+) tests?/.exec(r.output)?.[1]);
  assert.ok(ran >= 30, `the whole suite ran (${ran} tests)\n${r.output}`);
  assert.match(r.output, /\nOK\s*$/);
  assert.doesNotMatch(r.output, /skipped/);
  // The Python tests' events are in the worker's D1, each id once.
  const [{ events, ids }] = await rows(hw.db, "SELECT COUNT(*) AS events, COUNT(DISTINCT id) AS ids FROM api_usage WHERE job_id LIKE 'py-%'");
  assert.ok(events >= 30, `${events} events`);
  assert.equal(events, ids);
});

test('the Python example records a day of mixed usage, every event stored and priced', async () => {
  const r = await run('python3', ['clients/python/examples/day_of_usage.py'], { AST_BASE_URL: hw.url, AST_API_KEY: httpKey, SEED: '11' }, 30_000);
  assert.equal(r.code, 0, r.output);
  const recorded = Number(/recorded (\d+) events/.exec(r.output)?.[1]);
  assert.ok(recorded > 24 * 5, r.output);
  assert.match(r.output, new RegExp(`stored ${recorded}, already stored 0, dropped 0`));
  assert.match(r.output, /\(0 unpriced\)/);
  const session = await rows(hw.db, "SELECT session_id, COUNT(*) AS n, COUNT(DISTINCT provider) AS providers, SUM(cost_nanos IS NULL) AS unpriced FROM api_usage WHERE session_id LIKE 'day-%' GROUP BY session_id");
  assert.equal(session.length, 1);
  assert.deepEqual([session[0].n, session[0].providers, session[0].unpriced], [recorded, 5, 0]);
});

test('against the worker, a guarded call of a blocked project rejects with BudgetExceededError before the provider is called, and an allowed one settles its reservation', async () => {
  const id = 'ts-guard';
  const guardKey = await projectKey(w, id);
  const patched = await w.fetch(`/api/admin/projects/${id}/budget`, { method: 'PATCH', key: ADMIN_KEY, body: { budget: { amount: '1', currency: 'USD' }, budget_mode: 'block' } });
  assert.equal(patched.status, 200, patched.text);
  const c = new UsageClient({
    baseUrl: 'http://localhost/', apiKey: guardKey, fetch: (url, init) => w.mf.dispatchFetch(url, init), flushIntervalMs: 0, retryBaseMs: 1, retryMaxMs: 20,
  });
  let providerCalls = 0;
  const provider = async (cost) => { providerCalls += 1; return { cost }; };
  const call = c.guarded(provider, {
    amount: (cost) => ({ amount: cost, currency: 'USD' }),
    record: (result) => ({ provider: 'acme', cost: result.cost, currency: 'USD' }),
  });
  assert.deepEqual(await call('0.70'), { cost: '0.70' });
  await c.flush();
  assert.equal(providerCalls, 1);
  const settled = await rows(w.db, "SELECT ended_by FROM guard_reservations WHERE project_id = ?", id);
  assert.deepEqual(settled.map((r) => r.ended_by), ['settled'], 'recording the call settled its reservation');
  await assert.rejects(call('0.50'), (e) => {
    assert.equal(e.name, 'BudgetExceededError');
    assert.equal(e.limiting.kind, 'budget');
    assert.deepEqual([e.limiting.spent, e.limiting.remaining], ['0.70', '-0.20']);
    return true;
  });
  assert.equal(providerCalls, 1, 'the provider was never called for the denied request');
  await c.close?.();
});
