// Builds dist/ from src/: one ESM bundle (dist/index.js) with esbuild, and the declarations
// (dist/index.d.ts from src/declarations.d.ts, dist/types.d.ts from src/types.ts, which holds
// types only). `node build.mjs --check` fails when dist/ is not what the sources build to.
//
// esbuild: the ESBUILD_BIN environment variable (`source scripts/env.sh` in the repository),
// else node_modules/.bin/esbuild of this package or of the repository.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const check = process.argv.includes('--check');

function esbuildBin() {
  const candidates = [
    process.env.ESBUILD_BIN,
    join(here, 'node_modules', '.bin', 'esbuild'),
    join(here, '..', '..', 'node_modules', '.bin', 'esbuild'),
  ].filter(Boolean);
  const found = candidates.find((c) => existsSync(c));
  if (!found) throw new Error(`esbuild not found (looked at ${candidates.join(', ')}); set ESBUILD_BIN`);
  return found;
}

const banner = '// ai-spend-tracker client. Built from src/ by build.mjs (esbuild); do not edit.';
const scratch = mkdtempSync(join(tmpdir(), 'ast-client-build-'));
try {
  execFileSync(
    esbuildBin(),
    [
      join('src', 'index.ts'),
      '--bundle',
      '--format=esm',
      '--platform=neutral',
      '--target=es2022',
      `--banner:js=${banner}`,
      '--log-level=warning',
      `--outfile=${join(scratch, 'index.js')}`,
    ],
    { cwd: here, stdio: ['ignore', 'inherit', 'inherit'] },
  );
  const outputs = {
    'index.js': readFileSync(join(scratch, 'index.js'), 'utf8'),
    'index.d.ts': readFileSync(join(here, 'src', 'declarations.d.ts'), 'utf8'),
    'types.d.ts': readFileSync(join(here, 'src', 'types.ts'), 'utf8'),
  };
  const dist = join(here, 'dist');
  if (check) {
    const stale = Object.entries(outputs)
      .filter(([name, text]) => !existsSync(join(dist, name)) || readFileSync(join(dist, name), 'utf8') !== text)
      .map(([name]) => name);
    if (stale.length > 0) {
      console.error(`dist/ is out of date (${stale.join(', ')}): run node clients/typescript/build.mjs`);
      process.exit(1);
    }
    console.log('dist/ is up to date');
  } else {
    mkdirSync(dist, { recursive: true });
    for (const [name, text] of Object.entries(outputs)) writeFileSync(join(dist, name), text);
    console.log(`built ${Object.keys(outputs).map((n) => `dist/${n}`).join(', ')}`);
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
