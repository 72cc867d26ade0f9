// The OpenAPI document is the contract: Schemathesis (pinned in tests/requirements.txt, set up
// by scripts/setup.sh in .tools/venv) fuzzes every documented route of the running worker from
// the document it serves, first with a project key and then with the admin key, on seeded data.
// No answer may be a 5xx, and every answer's status, content type and body must be documented.
// Bounded: a few examples per route and a wall-clock limit per run. SCHEMATHESIS_MAX_EXAMPLES
// and SCHEMATHESIS_SEED (printed on a failure) replay or widen a run.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startHttpWorker, ADMIN_KEY } from './support/http-worker.mjs';
import { ROOT } from './support/worker.mjs';

const SCHEMATHESIS = join(ROOT, '.tools', 'venv', 'bin', 'schemathesis');
// `unsupported_method`: a method the spec does not list on a path is a 405 with an Allow header.
const CHECKS = ['not_a_server_error', 'status_code_conformance', 'response_schema_conformance', 'content_type_conformance', 'unsupported_method'];
const MAX_EXAMPLES = Number(process.env.SCHEMATHESIS_MAX_EXAMPLES ?? 12);
const WALL_CLOCK_MS = 120_000;

let w;
let key;
let spec;
// Each run's output and JSON report are kept here (git-ignored) for a look after a failure.
const dir = join(ROOT, 'test-artifacts', 'schemathesis');
before(async () => {
  assert.ok(existsSync(SCHEMATHESIS), `${SCHEMATHESIS} is missing: run scripts/setup.sh`);
  mkdirSync(dir, { recursive: true });
  w = await startHttpWorker();
  const admin = async (path, method, body) => {
    const r = await w.fetch(path, { method, key: ADMIN_KEY, body });
    assert.ok(r.status < 300, `${method} ${path}: ${r.status} ${r.text}`);
    return r.json;
  };
  // Data for the routes to answer about: a project with a budget, a plan and usage, a project
  // with nothing set, a custom price and a workload profile.
  await admin('/api/admin/projects', 'POST', { id: 'ads', name: 'Ads' });
  await admin('/api/admin/projects', 'POST', { id: 'lab', name: 'Lab' });
  key = (await admin('/api/admin/projects/ads/keys', 'POST')).key;
  await admin('/api/admin/projects/ads/budget', 'PATCH', {
    budget: { amount: '1', currency: 'USD' }, daily_limit: { amount: '0.5', currency: 'USD' }, alert_emails: ['ops@example.com'],
  });
  await admin('/api/admin/subscriptions', 'PUT', {
    provider: 'heygen', monthly_fee: '29', allotment: { amount: '10', unit: 'credits' }, alert_percent: 10, alert_emails: ['ops@example.com'],
  });
  await admin('/api/admin/prices', 'POST', { project_id: 'ads', entries: [
    { provider: 'loudly', model: 'track', effective_from: '2025-01-01', currency: 'USD', rates: { tracks: { price: '0.50', per: 1 } } },
  ] });
  await admin('/api/admin/capacity/profiles', 'PUT', { name: 'clip', items: [{ provider: 'heygen', amount: '2', unit: 'credits' }] });
  const stored = await w.fetch('/api/usage', { method: 'POST', key, body: { events: [
    { id: 'st-1', provider: 'openai', model: 'gpt-4o-mini', operation: 'script', prompt_tokens: 1200, completion_tokens: 300, job_id: 'clip-1' },
    { id: 'st-2', provider: 'heygen', model: 'avatar', operation: 'render', credits: '2', job_id: 'clip-1', session_id: 's-1' },
    { id: 'st-3', provider: 'loudly', model: 'track', operation: 'music', tracks: 1, job_id: 'clip-2' },
    { id: 'st-4', provider: 'acme', model: 'unknown', total_tokens: 10 },
  ] } });
  assert.equal(stored.status, 201, stored.text);
  spec = (await w.fetch('/api/openapi.json')).json;
});
after(async () => w?.dispose());

/**
 * Runs Schemathesis with `token` (on the paths `only` matches, when given); answers its JSON
 * report, its output, and how it ended.
 */
async function schemathesis(name, token, { only, maxExamples = MAX_EXAMPLES } = {}) {
  const report = join(dir, `${name}.json`);
  rmSync(report, { force: true });
  const args = [
    'run', `${w.url}/api/openapi.json`,
    '--header', `Authorization: Bearer ${token}`,
    '--checks', CHECKS.join(','),
    '--max-examples', String(maxExamples),
    // One worker: Python 3.11's ast.parse is not thread-safe, and Hypothesis parses lambdas
    // ("AST constructor recursion depth mismatch" errors with two).
    '--workers', '1',
    '--request-timeout', '20',
    '--generation-database', 'none',
    '--no-color',
    '--report', 'json', '--report-json-path', report,
  ];
  if (only) args.push('--include-path-regex', only);
  if (process.env.SCHEMATHESIS_SEED) args.push('--seed', process.env.SCHEMATHESIS_SEED);
  const child = spawn(SCHEMATHESIS, args, { cwd: dir, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }, WALL_CLOCK_MS);
  const code = await new Promise((resolve) => child.on('close', (c) => resolve(c)));
  clearTimeout(timer);
  writeFileSync(join(dir, `${name}.txt`), output);
  assert.ok(!timedOut, `schemathesis ${name} took longer than ${WALL_CLOCK_MS / 1000} s:\n${output.slice(-3000)}`);
  assert.ok(existsSync(report), `schemathesis ${name} wrote no report (exit ${code}):\n${output.slice(-3000)}`);
  return { code, output, report: JSON.parse(readFileSync(report, 'utf8')) };
}

/** The operations (as Schemathesis labels them, `GET /api/usage`) a project key may call. */
function projectKeyOperations() {
  const labels = [];
  for (const [path, item] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if ((op.security ?? []).some((s) => 'projectKey' in s)) labels.push(`${method.toUpperCase()} ${path}`);
    }
  }
  return labels;
}

/** What a clean run looks like: every selected operation tested, nothing failed or errored. */
function assertClean(name, { code, output, report }, operations) {
  // The failures section of the output: each failing case with its answer and a curl line.
  // The seed as printed (the report's number is too large for a JavaScript number).
  const seed = output.match(/^Seed: (\d+)/m)?.[1];
  const from = output.indexOf('FAILURES') >= 0 ? output.indexOf('FAILURES') : -4000;
  const detail = `seed ${seed} (SCHEMATHESIS_SEED=${seed} replays it):\n${output.slice(from).slice(0, 12000)}`;
  assert.deepEqual(report.failures, [], `schemathesis ${name} found failures, ${detail}`);
  assert.deepEqual(report.errors, [], `schemathesis ${name} errored, ${detail}`);
  assert.equal(code, 0, `schemathesis ${name} exited ${code}, ${detail}`);
  assert.equal(report.complete, true);
  assert.equal(report.operations.tested, report.operations.selected, `schemathesis ${name}: untested operations`);
  assert.equal(report.operations.tested, operations, `schemathesis ${name}: operations tested`);
  assert.ok(report.test_cases.generated > report.operations.tested * 5, `schemathesis ${name} generated ${report.test_cases.generated} cases`);
}

// First, while the seeded project is whole (the admin run's stateful phase deletes what it
// lists): the routes a project key may call, and only those (the others answer it 403).
test('fuzzed with a project key, every answer is documented and none is a server error', async () => {
  const own = projectKeyOperations();
  assert.ok(own.length >= 5, own.join(', '));
  const paths = [...new Set(own.map((label) => label.split(' ')[1]))];
  const only = `^(${paths.map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})$`;
  const run = await schemathesis('project-key', key, { only, maxExamples: MAX_EXAMPLES * 2 });
  assertClean('with a project key', run, own.length);
  // The key worked: no route answered it only 401/403.
  assert.deepEqual(run.report.warnings.missing_auth ?? [], []);
});

test('fuzzed with the admin key, every answer is documented and none is a server error', async () => {
  const run = await schemathesis('admin-key', ADMIN_KEY);
  const methods = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
  const operations = Object.values(spec.paths).reduce((n, item) => n + methods.filter((m) => m in item).length, 0);
  // Every documented operation but `GET /api/openapi.json`, the document Schemathesis loads.
  assertClean('with the admin key', run, operations - 1);
  assert.deepEqual(run.report.warnings.missing_auth ?? [], []);
});
