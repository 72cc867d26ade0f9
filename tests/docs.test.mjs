// The shell examples of README.md and docs/*.md run as written against the built worker.
//
// DOCS_SHOW=1 prints what each doc's examples printed.
//
// Conventions (stated in the README's tour and docs/TESTING.md):
// - A block fenced ```sh runs; one fenced ```sh no-run does not (deploy commands, the two
//   npm commands, commands that need another tool or an account). No other fence is used for
//   shell examples.
// - Examples call http://127.0.0.1:8787 (what `npm run dev` serves); here that address is
//   replaced by the test worker's. `curl -fsS` everywhere, so a 4xx or 5xx stops the example.
// - The README's tour reads `ADMIN_KEY` from `.dev.vars` (as `npm run dev` writes it) and sets
//   `USAGE_KEY` from the key it creates; every file of docs/ starts where the tour ends (the
//   project `video-ads`, its key, the event `tour-1`, its budget), so each doc runs after the
//   README's blocks, in one bash process, against a fresh worker.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Miniflare } from 'miniflare';
import { ADMIN_KEY, ROOT, applyMigrations, miniflareOptions } from './support/worker.mjs';

const DEV_URL = 'http://127.0.0.1:8787';
const FILES = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];
const read = (file) => readFileSync(join(ROOT, file), 'utf8');

/** Every fenced block of a Markdown text: `{line, info, code}` (line is the fence's, 1-based). */
function fencedBlocks(markdown) {
  const blocks = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i += 1) {
    const open = lines[i].match(/^(\s*)(```+|~~~+)\s*(.*)$/);
    if (!open) continue;
    const [, indent, fence, info] = open;
    const body = [];
    let j = i + 1;
    while (j < lines.length && !lines[j].trim().startsWith(fence)) {
      body.push(lines[j].startsWith(indent) ? lines[j].slice(indent.length) : lines[j]);
      j += 1;
    }
    blocks.push({ line: i + 1, info: info.trim(), code: body.join('\n') });
    i = j;
  }
  return blocks;
}

const runnable = (file) => fencedBlocks(read(file)).filter((b) => b.info === 'sh').map((b) => ({ ...b, file }));

/**
 * A fresh worker listening on loopback (Miniflare, fresh D1 and R2, migrations applied);
 * webhooks the examples set are answered 200 and kept in `posted`.
 */
async function startDocsWorker() {
  const posted = [];
  const outbound = async (request) => {
    posted.push({ url: request.url, body: await request.text() });
    return new Response('ok');
  };
  const mf = new Miniflare({ ...miniflareOptions({ outbound }), host: '127.0.0.1', port: 0 });
  const url = (await mf.ready).href.replace(/\/$/, '');
  await applyMigrations(await mf.getD1Database('DB'));
  const get = async (path) => (await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).json();
  return { url, posted, get, dispose: () => mf.dispose() };
}

/**
 * Runs the blocks in order in one bash process (so variables carry from block to block) in a
 * folder holding the `.dev.vars` that `npm run dev` writes. Answers `{ok, failure, calls,
 * stdout, vars}`: `calls` is every curl's status, method and URL; `failure` names the block
 * that stopped the run or the call that answered other than 2xx.
 */
async function runBlocks(blocks, url) {
  const dir = mkdtempSync(join(tmpdir(), 'ai-spend-docs-'));
  try {
    writeFileSync(join(dir, '.dev.vars'), `ADMIN_API_KEY=${ADMIN_KEY}\n`);
    const script = [
      'set -euo pipefail',
      // Every curl reports its answer's status on stderr, whatever the example's flags.
      "curl() { command curl -w '%{stderr}DOCS-CURL %{http_code} %{method} %{url_effective}\\n' \"$@\"; }",
      ...blocks.map((b) => `echo 'DOCS-BLOCK ${b.file}:${b.line}' >&2\n${b.code.split(DEV_URL).join(url)}`),
      'echo "DOCS-VAR ADMIN_KEY=${ADMIN_KEY:-}" >&2',
      'echo "DOCS-VAR USAGE_KEY=${USAGE_KEY:-}" >&2',
    ].join('\n');
    // Not spawnSync: Miniflare answers the worker's email and outbound calls from this
    // process's event loop, which must keep running while the examples wait for answers.
    const r = await new Promise((done) => {
      const child = spawn('bash', ['-c', script], { cwd: dir, env: { ...process.env, ADMIN_KEY }, timeout: 120_000 });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => { stdout += d; });
      child.stderr.on('data', (d) => { stderr += d; });
      child.on('close', (status, signal) => done({ status, signal, stdout, stderr }));
    });
    const { stderr } = r;
    const calls = [...stderr.matchAll(/^DOCS-CURL (\d{3}) (\S+) (\S+)$/gm)].map(([, status, method, where]) => ({
      status: Number(status), method, url: where,
    }));
    const vars = Object.fromEntries([...stderr.matchAll(/^DOCS-VAR (\w+)=(.*)$/gm)].map(([, k, v]) => [k, v]));
    const marks = [...stderr.matchAll(/^DOCS-BLOCK (\S+)$/gm)].map((m) => m[1]);
    const bad = calls.find((c) => c.status < 200 || c.status > 299);
    let failure = null;
    if (r.status !== 0) {
      failure = `the block at ${marks.at(-1) ?? '(before the first block)'} failed (exit ${r.status ?? r.signal}):\n${stderr.slice(-3000)}`;
    } else if (bad) {
      failure = `${bad.method} ${bad.url} answered ${bad.status}:\n${stderr.slice(-3000)}`;
    }
    return { ok: failure === null, failure, calls, stdout: r.stdout ?? '', vars };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('every shell example is fenced as sh, or as sh no-run when it cannot run against npm run dev', () => {
  for (const file of FILES) {
    for (const b of fencedBlocks(read(file))) {
      if (/^(sh|bash|shell|console|zsh|shell-session)\b/.test(b.info)) {
        assert.ok(['sh', 'sh no-run'].includes(b.info), `${file}:${b.line} is fenced "${b.info}": use sh, or sh no-run`);
      }
    }
  }
  const tour = runnable('README.md').map((b) => b.code).join('\n');
  assert.match(tour, /^ADMIN_KEY=\$\(sed -n 's\/\^ADMIN_API_KEY=\/\/p' \.dev\.vars\)/m, 'the tour reads the admin key as npm run dev writes it');
  assert.match(tour, /^USAGE_KEY=\$\(curl /m, 'the tour sets USAGE_KEY from the key it creates');
});

test('every curl of a runnable example fails on an error status (curl -f)', () => {
  for (const file of FILES) {
    for (const b of runnable(file)) {
      // One command per logical line: join continuation lines first.
      for (const command of b.code.replace(/\\\n/g, ' ').split('\n')) {
        for (const call of command.split(/\|/).filter((part) => /(^|[\s($])curl\s/.test(part))) {
          assert.match(call, /(^|[\s($])curl\s+(-[a-zA-Z]*f[a-zA-Z]*\s|--fail)/, `${file}:${b.line}: ${call.trim()} lacks -f`);
        }
      }
    }
  }
});

test('every relative link of README.md and docs/ names a file that exists, and a heading that exists', () => {
  const slug = (heading) => heading.trim().toLowerCase().replace(/[^\w\- ]/g, '').replace(/ /g, '-');
  for (const file of FILES) {
    const text = read(file).replace(/```[\s\S]*?```/g, '');
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target)) continue;
      const [path, anchor] = target.split('#');
      const resolved = path ? resolve(ROOT, dirname(file), path) : join(ROOT, file);
      assert.ok(existsSync(resolved), `${file} links to ${target}, which does not exist`);
      if (anchor && resolved.endsWith('.md')) {
        const headings = [...readFileSync(resolved, 'utf8').matchAll(/^#+ (.*)$/gm)].map(([, h]) => slug(h));
        assert.ok(headings.includes(anchor), `${file} links to ${target}: no such heading (${headings.join(', ')})`);
      }
    }
  }
});

test("the README's tour runs as written: a project and key, a recorded call, a budget and its alert", async () => {
  const w = await startDocsWorker();
  try {
    const blocks = runnable('README.md');
    assert.ok(blocks.length >= 4, 'the tour has its steps as runnable blocks');
    const run = await runBlocks(blocks, w.url);
    assert.ok(run.ok, run.failure);
    assert.equal(run.vars.ADMIN_KEY, ADMIN_KEY);
    assert.match(run.vars.USAGE_KEY, /^ast_[0-9a-f]{20,}$/);
    assert.ok(run.calls.length >= 6, `the tour makes its calls (${run.calls.length})`);
    const events = await w.get('/api/usage?project_id=video-ads');
    assert.deepEqual(events.events.map((e) => e.id), ['tour-1']);
    const alerts = await w.get('/api/admin/alerts');
    const sent = alerts.alerts.filter((a) => a.project_id === 'video-ads' && a.channel === 'email' && a.status === 'sent');
    assert.equal(sent.length, 1, JSON.stringify(alerts));
    assert.match(run.stdout, /budget-50/, 'the tour shows the alert it sent');
  } finally {
    await w.dispose();
  }
});

for (const file of FILES.filter((f) => f !== 'README.md')) {
  test(`the shell examples of ${file} run in order after the tour, every curl answering 2xx`, async (t) => {
    const blocks = runnable(file);
    if (blocks.length === 0) {
      t.diagnostic('no runnable shell example (request bodies and no-run commands only)');
      return;
    }
    const w = await startDocsWorker();
    try {
      const tour = runnable('README.md');
      const run = await runBlocks([...tour, ...blocks], w.url);
      if (process.env.DOCS_SHOW) console.log(run.stdout);
      assert.ok(run.ok, run.failure);
      t.diagnostic(`${blocks.length} blocks, ${run.calls.length} calls with the tour's`);
    } finally {
      await w.dispose();
    }
  });
}

test('a wrong path in an example fails the run, naming the file and line of its block', async () => {
  const w = await startDocsWorker();
  try {
    const ok = { file: 'docs/X.md', line: 3, code: `curl -fsS ${DEV_URL}/healthz` };
    const wrong = { file: 'docs/X.md', line: 9, code: `curl -fsS -H "Authorization: Bearer $ADMIN_KEY" ${DEV_URL}/api/admin/projectz` };
    const run = await runBlocks([ok, wrong], w.url);
    assert.equal(run.ok, false);
    assert.match(run.failure, /^the block at docs\/X\.md:9 failed/);
    assert.deepEqual(run.calls.map((c) => c.status), [200, 404]);

    // Without -f curl exits 0 on a 404; the status it reports still fails the run.
    const lax = await runBlocks([{ file: 'docs/X.md', line: 12, code: `curl -sS ${DEV_URL}/api/nope` }], w.url);
    assert.equal(lax.ok, false);
    assert.match(lax.failure, /^GET http:\/\/127\.0\.0\.1:\d+\/api\/nope answered 404/);
  } finally {
    await w.dispose();
  }
});
