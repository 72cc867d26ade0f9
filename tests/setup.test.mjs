// scripts/setup.sh's install_tool, taken from the script as it is and run twice at once by
// two "clones" sharing one per-user tool cache, with a slow fake `cargo` first on PATH.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './support/worker.mjs';

function functionSource(script, name) {
  const m = new RegExp(`^${name}\\(\\) \\{[^]*?^\\}`, 'm').exec(script);
  assert.ok(m, `scripts/setup.sh defines ${name}`);
  return m[0];
}

function run(cmd, args, env) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    child.on('close', (code) => resolve({ code, out }));
  });
}

test('two set-ups installing the same tool at once install it once; the second waits and reuses it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ai-spend-setup-'));
  try {
    const setup = readFileSync(join(ROOT, 'scripts', 'setup.sh'), 'utf8');
    const fakeBin = join(dir, 'fake-bin');
    mkdirSync(fakeBin);
    const installs = join(dir, 'installs.log');
    // `cargo install --quiet <crate> --version =<v> --root <dir> ...`: slow, and counted.
    writeFileSync(join(fakeBin, 'cargo'), `#!/usr/bin/env bash
set -euo pipefail
[ "$1" = install ] || exit 0
root=""
while [ $# -gt 0 ]; do
  if [ "$1" = --root ]; then root=$2; fi
  shift
done
echo "install $$" >> ${JSON.stringify(installs)}
sleep 2
mkdir -p "$root/bin"
printf '#!/bin/sh\\necho fake tool\\n' > "$root/bin/fake-tool"
chmod +x "$root/bin/fake-tool"
`);
    chmodSync(join(fakeBin, 'cargo'), 0o755);
    const harness = join(dir, 'harness.sh');
    writeFileSync(harness, `set -euo pipefail
TOOLS=$1
CACHE=$2
mkdir -p "$TOOLS/bin" "$CACHE"
${functionSource(setup, 'log')}
${functionSource(setup, 'install_tool')}
install_tool fake-crate 1.2.3 fake-tool -- --locked
`);
    const cache = join(dir, 'cache', 'ai-spend-tracker', 'tools');
    const env = { ...process.env, PATH: `${fakeBin}:${process.env.PATH}` };
    const [a, b] = await Promise.all(
      ['clone-a', 'clone-b'].map((clone) => run('bash', [harness, join(dir, clone, '.tools'), cache], env)),
    );
    assert.equal(a.code, 0, a.out);
    assert.equal(b.code, 0, b.out);
    const lines = readFileSync(installs, 'utf8').trim().split('\n');
    assert.equal(lines.length, 1, `one cargo install, not ${lines.length}:\n${a.out}\n${b.out}`);
    for (const clone of ['clone-a', 'clone-b']) {
      const tool = join(dir, clone, '.tools', 'bin', 'fake-tool');
      assert.equal(readFileSync(tool, 'utf8'), '#!/bin/sh\necho fake tool\n');
      assert.ok(existsSync(join(dir, clone, '.tools', '.stamp-fake-crate-1.2.3')));
    }
    assert.match(a.out + b.out, /waiting for another set-up that is installing fake-crate 1\.2\.3/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
