// `npm run prices:update` (scripts/prices-update.py) on a copy of the layer file: a refresh
// adds new models, writes a changed price as a new line effective from the refresh day (the
// old line stays, so no stored event's price changes), keeps removed models, prints all
// three, and takes a number written another way (`0.0000021`, `2.1e-06`) as no change.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './support/worker.mjs';

const PYTHON = join(ROOT, '.tools', 'venv', 'bin', 'python');
const HEADER = '# LiteLLM price layer (test copy)\n# litellm 1.110.2 read_on 2026-12-05\n';
const OLD = [
  '2000-01-01\thostinger_router/gpt-5.2\thostinger_router\tchat\tcache_read_input_token_cost=0.00000021 input_cost_per_token=0.0000021 output_cost_per_token=0.0000168',
  '2000-01-01\tperplexity/sonar\tperplexity\tchat\tinput_cost_per_token=1e-06 output_cost_per_token=1e-06',
  '2000-01-01\tperplexity/sonar-pro\tperplexity\tchat\tinput_cost_per_token=3e-06 output_cost_per_token=1.5e-05',
];
// The next release: the same hostinger prices written in exponent form, sonar's input price
// doubled, sonar-pro gone, a new model.
const NEXT = `{
  "sample_spec": {"input_cost_per_token": 0},
  "hostinger_router/gpt-5.2": {"litellm_provider": "hostinger_router", "mode": "chat", "cache_read_input_token_cost": 2.1e-07, "input_cost_per_token": 2.1e-06, "output_cost_per_token": 1.68e-05, "max_tokens": 1000},
  "perplexity/sonar": {"litellm_provider": "perplexity", "mode": "chat", "input_cost_per_token": 2e-06, "output_cost_per_token": 1e-06},
  "mistral/brand-new-model": {"litellm_provider": "mistral", "mode": "chat", "input_cost_per_token": 4e-07, "output_cost_per_token": 1.2e-06}
}`;

function refresh(date) {
  const dir = mkdtempSync(join(tmpdir(), 'prices-update-'));
  const tsv = join(dir, 'litellm-prices.tsv');
  writeFileSync(tsv, `${HEADER}${OLD.join('\n')}\n`);
  writeFileSync(join(dir, 'next.json'), NEXT);
  const out = execFileSync(PYTHON, [join(ROOT, 'scripts', 'prices-update.py'), '--tsv', tsv,
    '--json', join(dir, 'next.json'), '--version', '1.111.0', '--date', date]).toString();
  const lines = readFileSync(tsv, 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
  return { out, lines, text: readFileSync(tsv, 'utf8') };
}

test('a refresh adds new models, dates a changed price from the refresh day without rewriting the old one, keeps removed models, and prints all three', () => {
  const { out, lines, text } = refresh('2027-01-15');
  assert.match(out, /^litellm 1\.110\.2 -> 1\.111\.0: 1 added, 1 changed, 1 removed$/m);
  assert.match(out, /^ {2}added: mistral\/brand-new-model$/m);
  assert.match(out, /^ {2}changed: perplexity\/sonar$/m);
  assert.match(out, /^ {2}removed: perplexity\/sonar-pro$/m);
  assert.match(text, /^# litellm 1\.111\.0 read_on 2027-01-15$/m);
  // Every old line is still there, unchanged: events before the refresh keep their price.
  for (const line of OLD) assert.ok(lines.includes(line), `kept: ${line}`);
  assert.ok(lines.includes('2027-01-15\tperplexity/sonar\tperplexity\tchat\tinput_cost_per_token=2e-06 output_cost_per_token=1e-06'));
  assert.ok(lines.includes('2000-01-01\tmistral/brand-new-model\tmistral\tchat\tinput_cost_per_token=4e-07 output_cost_per_token=1.2e-06'));
  assert.equal(lines.length, OLD.length + 2, 'the same prices written another way add no line');
  // Lines stay sorted by key, then date: a reviewable diff.
  const keys = lines.map((l) => l.split('\t').slice(0, 2));
  assert.deepEqual(keys, [...keys].sort((a, b) => (a[1] === b[1] ? a[0].localeCompare(b[0]) : a[1] < b[1] ? -1 : 1)));
});
