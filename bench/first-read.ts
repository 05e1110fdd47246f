/**
 * The first read of a chunk since its write, against FileHandle.read (bench/README.md, "The first
 * read of a chunk"): each side writes --chunks 1 MiB chunks at --depth in flight (a `sync` before
 * each segment of 256), makes --rereads reads of 256 other chunks of its own (bench:vos's warm-up
 * re-reads), then reads each chunk once, in alternating segments of 256 per side. What comes between the warm-up and the
 * timed reads is the --mode:
 *   plain        nothing (bench:vos before its warm-up read each warm-up write once)
 *   warm-first   --warm more chunks written and each read once, in the same store (bench:vos now)
 *   other-system the same in a second DaosSystem of the process, stopped and deleted after
 *   pre-read     every timed chunk read once first, so that the timed reads are re-reads
 *
 * One run per process (what V8 has compiled is the point): run it several times.
 *
 *   npm run build && node dist/bench/first-read.js [--mode warm-first] [--chunks 1024] [--warm 1024] [--depth 8] [--rereads 4096]
 * (--quick: 256 chunks, 256 warm, 256 re-reads; it writes no results.)
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { open } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type DaosArray, DaosSystem } from '../index.js';
import { benchFlags } from './common.js';

const MiB = 1 << 20;
const MODES = ['plain', 'warm-first', 'other-system', 'pre-read'] as const;
type Mode = (typeof MODES)[number];
/** Chunks a segment reads or writes; also the warm-up chunks re-read over and over. */
const SEGMENT = 256;

const f = benchFlags(process.argv.slice(2), {
  numbers: { chunks: [1024, 256], warm: [1024, 256], depth: [8, 8], rereads: [4096, 256] },
  strings: ['mode'],
});
/** A bad value the flag parser cannot see: say what was wrong, exit 2 (as benchFlags does). */
function refuse(message: string): never {
  console.error(`${process.argv[1] ?? 'first-read'}: ${message}`);
  process.exit(2);
}
const mode = (f.str('mode') ?? 'warm-first') as Mode;
if (!MODES.includes(mode)) refuse(`--mode must be one of ${MODES.join(', ')}, not "${mode}"`);
const chunks = f.num('chunks');
const warm = f.num('warm');
const depth = f.num('depth');
/** Reads of the SEGMENT warm-up chunks each side makes first (bench:vos's warm-up re-reads: 4,096). */
const rereads = f.num('rereads');
if (chunks % SEGMENT !== 0) refuse(`--chunks must be a multiple of ${SEGMENT}`);

type Op = (i: number, b: Buffer) => Promise<unknown>;

/** op(i) for i in [from, to) with `depth` in flight; resolves to milliseconds. */
async function par(bufs: Buffer[], op: Op, from: number, to: number): Promise<number> {
  const t = performance.now();
  let next = from;
  await Promise.all(
    bufs.map(async (b) => {
      for (let i = next++; i < to; i = next++) await op(i, b);
    }),
  );
  return performance.now() - t;
}

async function newArray(dir: string): Promise<{ sys: DaosSystem; arr: DaosArray }> {
  const sys = await DaosSystem.start({ dir });
  await sys.createPool({ label: 'p', size: '64G' });
  const pool = await (await sys.connect()).connectPool('p');
  await pool.createContainer({ label: 'c' });
  const arr = await (await pool.openContainer('c')).createArray({
    cellSize: 1,
    chunkSize: MiB,
    oclass: 'SX',
  });
  return { sys, arr };
}

async function run(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'first-read-'));
  const { sys, arr } = await newArray(path.join(dir, 'daos'));
  const fh = await open(path.join(dir, 'file'), 'w+');
  const bufs = Array.from({ length: depth }, () => Buffer.alloc(MiB, 9));
  const dw: Op = (i, b) => arr.write(i * MiB, b);
  const fw: Op = (i, b) => fh.write(b, 0, MiB, i * MiB);
  const dr: Op = (i, b) => arr.read(i * MiB, MiB, { into: b });
  const fr: Op = (i, b) => fh.read(b, 0, MiB, i * MiB);
  const sync = () => spawnSync('sync');
  try {
    // Warm-up chunks past the timed ones, then the timed chunks, in segments with a sync before each.
    await par(bufs, dw, chunks, chunks + SEGMENT);
    await par(bufs, fw, chunks, chunks + SEGMENT);
    for (let s = 0; s < chunks; s += SEGMENT) {
      sync();
      await par(bufs, dw, s, s + SEGMENT);
      sync();
      await par(bufs, fw, s, s + SEGMENT);
    }
    sync();
    for (let k = 0; k < rereads; k += SEGMENT) {
      await par(bufs, dr, chunks, chunks + SEGMENT);
      await par(bufs, fr, chunks, chunks + SEGMENT);
    }
    const from = chunks + SEGMENT;
    if (mode === 'warm-first') {
      await par(bufs, dw, from, from + warm);
      await par(bufs, fw, from, from + warm);
      sync();
      await par(bufs, dr, from, from + warm);
      await par(bufs, fr, from, from + warm);
    } else if (mode === 'other-system') {
      const other = await newArray(path.join(dir, 'other'));
      await par(bufs, (i, b) => other.arr.write(i * MiB, b), 0, warm);
      await par(bufs, (i, b) => other.arr.read(i * MiB, MiB, { into: b }), 0, warm);
      await other.sys.stop();
      fs.rmSync(path.join(dir, 'other'), { recursive: true, force: true });
    } else if (mode === 'pre-read') {
      await par(bufs, dr, 0, chunks);
      await par(bufs, fr, 0, chunks);
    }
    let ours = 0;
    let theirs = 0;
    for (let s = 0, k = 0; s < chunks; s += SEGMENT, k++) {
      if (k % 2 === 0) {
        ours += await par(bufs, dr, s, s + SEGMENT);
        theirs += await par(bufs, fr, s, s + SEGMENT);
      } else {
        theirs += await par(bufs, fr, s, s + SEGMENT);
        ours += await par(bufs, dr, s, s + SEGMENT);
      }
    }
    const rate = (ms: number) => (chunks / (ms / 1000)).toFixed(0);
    console.log(
      `${mode}: DaosArray ${rate(ours)} MiB/s, FileHandle ${rate(theirs)} MiB/s, ${(theirs / ours).toFixed(2)}x`,
    );
  } finally {
    await fh.close();
    await sys.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await run();
