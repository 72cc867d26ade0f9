// What the batch benches measure with: the CPU time of workerd's threads, read from /proc, and
// the median of a run's rounds. Shared by bench/cpu-batch.mjs, bench/ab-batch.mjs and
// bench/batch-floor.mjs.
import { readFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

const TICK_MS = 1000 / Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());

/** CPU milliseconds of every thread of the process group's workerd processes, keyed `<tid> <name>`. */
export function workerdThreads(pgid) {
  const out = new Map();
  const rows = execFileSync('ps', ['-e', '-o', 'pid=,pgid=,comm=']).toString().trim().split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter(([, g, comm]) => Number(g) === pgid && comm === 'workerd');
  for (const [pid] of rows) {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        out.set(`${tid} ${name}`, (Number(fields[11]) + Number(fields[12])) * TICK_MS);
      } catch {
        // the thread ended meanwhile
      }
    }
  }
  return out;
}

/** CPU milliseconds of workerd's main thread: the busiest thread named `workerd`. */
export function mainThreadMs(pgid) {
  let best = 0;
  for (const [key, ms] of workerdThreads(pgid)) {
    if (key.endsWith(' workerd')) best = Math.max(best, ms);
  }
  return best;
}

/** The median (of an even count, the mean of the middle two). */
export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}
