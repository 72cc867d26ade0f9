// Starts the real `wrangler dev` (workerd with local D1 and R2) on a free loopback port with
// its state in a temporary folder, migrations applied, and the admin key passed as a var.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './worker.mjs';

const WRANGLER = join(ROOT, 'node_modules', '.bin', 'wrangler');
const QUIET = {
  WRANGLER_SEND_METRICS: 'false',
  CLOUDFLARE_CF_FETCH_ENABLED: 'false',
  WRANGLER_HIDE_BANNER: 'true',
  CI: 'true',
};

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/**
 * `prepare(stateDir)`, when given, runs after the migrations and before the worker starts
 * (benchmarks use it to bulk-load the local D1 file). `args` are more `wrangler dev`
 * arguments and `env` more environment variables for it. `config` is another wrangler.toml
 * than the project's (the ingestion benchmark's runtime floor). `cwd` is the checkout wrangler
 * runs in, where its `[build]` command builds (another checkout's worker, for a before/after).
 */
export async function startWranglerDev({ adminKey, vars = {}, prepare, args: extra = [], env: moreEnv = {}, config, stateDir, migrate = true, cwd = ROOT }) {
  // `stateDir`, when given, is kept after `stop()` (a benchmark's loaded database reused by
  // the next run); `migrate: false` skips the migrations of a state already migrated.
  const state = stateDir ?? mkdtempSync(join(tmpdir(), 'ai-spend-dev-'));
  const env = { ...process.env, ...QUIET, WRANGLER_LOG_PATH: join(state, 'logs'), ...moreEnv };
  const configArgs = config ? ['--config', config] : [];
  if (migrate) {
    execFileSync(WRANGLER, ['d1', 'migrations', 'apply', 'DB', '--local', '--persist-to', state, ...configArgs], {
      cwd,
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  }
  if (prepare) await prepare(state);
  const port = await freePort();
  const args = ['dev', ...configArgs, '--ip', '127.0.0.1', '--port', String(port), '--persist-to', state,
    '--var', `ADMIN_API_KEY:${adminKey}`];
  for (const [k, v] of Object.entries(vars)) args.push('--var', `${k}:${v}`);
  args.push(...extra);
  const child = spawn(WRANGLER, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited:\n${output}`);
    try {
      const r = await fetch(`${base}/healthz`);
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`wrangler dev did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    base,
    /** The process group of `wrangler dev` and its workerd processes. */
    pgid: child.pid,
    output: () => output,
    async stop() {
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        // already gone
      }
      await new Promise((r) => setTimeout(r, 300));
      if (!stateDir) rmSync(state, { recursive: true, force: true });
    },
  };
}
