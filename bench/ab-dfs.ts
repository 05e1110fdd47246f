/**
 * Two builds of daos-ts side by side in one process: each starts an embedded system and mounts a
 * DFS container, then both create, stat and unlink empty files in alternating segments, so that
 * the swings of this VM (its speed changes 2–3x from one minute to the next, bench/README.md)
 * fall on both alike. For telling whether a change to the metadata path helps, where two runs of
 * bench:dfs, minutes apart, cannot.
 *
 *   npm run build && node dist/bench/ab-dfs.js --base OTHER/dist [--depth 16] [--files 2000]
 *     [--rounds 10] [--oclass SX]
 *
 * OTHER/dist is the `dist` folder of another build (e.g. `git worktree add /tmp/base HEAD~1`, then
 * `npx tsc -p tsconfig.build.json --outDir /tmp/base-dist` there, with node_modules linked). Each
 * round, each side creates, stats and unlinks `--files` new files with `--depth` in flight; the
 * side that goes first alternates. Prints µs per operation of each side, this build's time
 * as a fraction of the other's over all rounds, and the median (and quartiles) of that fraction
 * round by round: the VM's slow minutes can fall on one side's segments and move the totals by
 * ±15% (this build against a copy of itself), where the median of the rounds' ratios stays
 * within ±5%.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { DfsFs } from '../core/dfs/index.js';
import { inFlight } from './common.js';

const PHASES = ['create', 'stat', 'unlink'] as const;
type Phase = (typeof PHASES)[number];

const { values } = parseArgs({
  options: {
    base: { type: 'string' },
    depth: { type: 'string', default: '16' },
    files: { type: 'string', default: '2000' },
    rounds: { type: 'string', default: '10' },
    oclass: { type: 'string' },
  },
});
const arg = (name: 'depth' | 'files' | 'rounds') => {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n <= 0)
    throw new Error(`--${name} must be a positive integer, not "${values[name]}"`);
  return n;
};
if (values.base === undefined) throw new Error('--base DIR (the dist folder of the other build) is required');
const baseDist = path.resolve(values.base);
if (!fs.existsSync(path.join(baseDist, 'index.js')))
  throw new Error(`--base ${values.base}: no index.js there (give the dist folder of a build)`);
const depth = arg('depth');
const files = arg('files');
const rounds = arg('rounds');

interface Side {
  name: string;
  fs: DfsFs;
  stop: () => Promise<void>;
  /** µs per round and phase. */
  micros: Record<Phase, number[]>;
}

/** Start an embedded system from the build in `dist` and mount a DFS container with a folder /d. */
async function side(name: string, dist: string, dir: string): Promise<Side> {
  const { DaosSystem } = await import(pathToFileURL(path.join(dist, 'index.js')).href);
  const { Dfs } = await import(pathToFileURL(path.join(dist, 'core/dfs/index.js')).href);
  const sys = await DaosSystem.start({ dir });
  await sys.createPool({ label: 'ab', size: '2G' });
  const pool = await (await sys.connect()).connectPool('ab');
  const dfs = await Dfs.mount(pool, 'dfs', {
    create: true,
    ...(values.oclass === undefined ? {} : { oclass: values.oclass }),
  });
  await dfs.fs.mkdir('/d');
  return {
    name,
    fs: dfs.fs,
    stop: async () => {
      await dfs.umount();
      await sys.stop();
    },
    micros: { create: [], stat: [], unlink: [] },
  };
}

/** `n` operations with `depth` in flight; µs taken. */
const timeMicros = async (n: number, op: (i: number) => Promise<unknown>) =>
  (await inFlight(0, n, depth, op)) * 1e6;

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/** The lower quartile, median and upper quartile of `xs` (nearest rank). */
function quartiles(xs: number[]): [number, number, number] {
  const s = [...xs].sort((a, b) => a - b);
  const at = (f: number) => s[Math.min(s.length - 1, Math.floor(f * s.length))]!;
  return [at(0.25), at(0.5), at(0.75)];
}

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'ab-dfs-'));
try {
  const here = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
  const sides = [
    await side('other', baseDist, path.join(scratch, 'other')),
    await side('this', here, path.join(scratch, 'this')),
  ];
  try {
    for (let r = 0; r < rounds; r++) {
      for (const s of r % 2 === 0 ? sides : [...sides].reverse()) {
        const name = (i: number) => `/d/r${r}-${i}`;
        s.micros.create.push(await timeMicros(files, (i) => s.fs.writeFile(name(i), '')));
        s.micros.stat.push(await timeMicros(files, (i) => s.fs.stat(name(i))));
        s.micros.unlink.push(await timeMicros(files, (i) => s.fs.unlink(name(i))));
      }
    }
    const n = files * rounds;
    console.log(
      `${n} files per side, ${depth} in flight, class ${values.oclass ?? 'SX (the default)'}; µs per operation:`,
    );
    for (const s of sides)
      console.log(
        `  ${s.name.padEnd(6)} ${PHASES.map((p) => `${p} ${(sum(s.micros[p]) / n).toFixed(1)}`).join('  ')}`,
      );
    const [other, mine] = sides as [Side, Side];
    console.log(
      `  this build's time / the other's: ${PHASES.map((p) => `${p} ${(sum(mine.micros[p]) / sum(other.micros[p])).toFixed(2)}`).join('  ')}`,
    );
    const perRound = (p: Phase) => {
      const q = quartiles(mine.micros[p].map((t, r) => t / other.micros[p][r]!));
      return `${p} ${q[1].toFixed(2)} (${q[0].toFixed(2)}–${q[2].toFixed(2)})`;
    };
    console.log(`  round by round, median (quartiles): ${PHASES.map(perRound).join('  ')}`);
  } finally {
    for (const s of sides) await s.stop();
  }
} finally {
  fs.rmSync(scratch, { recursive: true, force: true });
}
