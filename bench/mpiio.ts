/**
 * bench:mpiio — collective (two-phase) against independent MPI-IO on daos-ts, side by side:
 * 4 ranks writing and reading an interleaved pattern of 4 KiB pieces (goal: collective at least
 * 2x faster), and contiguous per-rank blocks (goal: collective within 10% of independent).
 * Ranks are worker threads sharing one embedded system; files are DFS files of its container.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { spawnRanks } from '../adapters/mpiio/spawn.js';
import { DaosSystem } from '../embedded/system.js';
import { benchFlags, MiB, machine, mibps, progress, type Row, table, updateResults } from './common.js';

async function main(): Promise<void> {
  const started = new Date();
  const argv = process.argv.slice(2);
  const f = benchFlags(argv, {
    numbers: {
      ranks: [4, 4],
      'mib-per-rank': [16, 2, 'BENCH_MPIIO_MIB'],
      piece: [4096, 4096],
      reps: [3, 1],
    },
    strings: ['dir', 'mode'],
  });
  const ranks = f.num('ranks');
  const piece = f.num('piece');
  const bytes = f.num('mib-per-rank') * MiB;
  const pieces = Math.floor(bytes / piece);
  const reps = f.num('reps');
  const mode = (f.str('mode') ?? 'threads') as 'threads' | 'processes';
  const scratch = mkdtempSync(join(f.str('dir') ?? os.tmpdir(), 'bench-mpiio-'));
  const load0 = os.loadavg()[0]!;
  const rank = new URL('./mpiio-rank.js', import.meta.url);
  const sys = await DaosSystem.start({ dir: scratch, engines: 1, targetsPerEngine: 4 });
  const rows: Row[] = [];
  try {
    await sys.createPool({ label: 'tank', size: '16G' });
    let file = 0;
    const run = async (pattern: string, how: 'coll' | 'ind') => {
      const [r] = (await spawnRanks(
        ranks,
        rank,
        [`daos:/f${file++}`, pattern, how, String(piece), String(pieces)],
        {
          system: sys,
          mode,
        },
      )) as Array<{ write: number; read: number; ok: boolean }>;
      if (!r!.ok) throw new Error(`${pattern} ${how}: data read back differs`);
      return r!;
    };
    const total = ranks * pieces * piece;
    for (const [pattern, goal] of [
      ['interleaved', 2],
      ['contiguous', 0.9],
    ] as const) {
      // Alternate the two sides; keep each side's best.
      const best = { coll: { write: Infinity, read: Infinity }, ind: { write: Infinity, read: Infinity } };
      for (let i = 0; i < reps; i++) {
        // ABBA order: neither side always runs first (the store grows and warms as it goes).
        for (const how of i % 2 === 0 ? (['coll', 'ind'] as const) : (['ind', 'coll'] as const)) {
          const r = await run(pattern, how);
          best[how].write = Math.min(best[how].write, r.write);
          best[how].read = Math.min(best[how].read, r.read);
        }
      }
      const what =
        pattern === 'interleaved'
          ? `interleaved ${piece / 1024} KiB pieces`
          : 'one contiguous block per rank';
      const size = `${ranks} ranks × ${bytes / MiB} MiB`;
      const step: Row[] = [
        {
          test: `write, ${what} (${size}): collective vs independent`,
          ours: mibps(total, best.coll.write),
          base: mibps(total, best.ind.write),
          ratio: best.ind.write / best.coll.write,
          goal,
        },
        {
          test: `read, ${what} (${size}): collective vs independent`,
          ours: mibps(total, best.coll.read),
          base: mibps(total, best.ind.read),
          ratio: best.ind.read / best.coll.read,
          goal: undefined,
        },
      ];
      progress(step);
      rows.push(...step);
    }
  } finally {
    await sys.stop();
    if (!f.keep) rmSync(scratch, { recursive: true, force: true });
  }
  const block = [
    `Command: \`npm run bench:mpiio${argv.length ? ` -- ${argv.join(' ')}` : ''}\` (node dist/bench/mpiio.js)  `,
    `Date: ${started.toISOString()}  `,
    `Machine: ${machine()}  `,
    `Load average (1 min): ${load0.toFixed(2)} at the start, ${os.loadavg()[0]!.toFixed(2)} at the end  `,
    `${ranks} ranks as worker ${mode}, one embedded system (1 engine, 4 targets) served on loopback; DFS files; hints romio_cb_write/read = automatic (two-phase when the ranks' ranges interleave), cb_buffer_size 16 MiB, cb_nodes = ranks. Each side runs ${reps} times, alternating in ABBA order; the best of each is shown. "daos-ts" is the collective call, "baseline" the independent one.`,
    '',
    table(rows),
  ].join('\n');
  console.log(`\n${block}\n`);
  if (f.writeResults) console.error(`updated ${updateResults('mpiio', block)}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
