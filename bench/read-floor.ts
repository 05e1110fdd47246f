/**
 * What main-thread work per read costs a reader with several 1 MiB reads in flight on libuv's
 * pool (bench/README.md, "Main-thread work per read"): FileHandle.read, and a bare `fs.readv`
 * promise after spinning W µs on the main thread first (W = 0, 5, 10, 20: the JavaScript a
 * layered read path runs per request), all on one file in the page cache, and `DaosArray.read`
 * of the embedded system (class SX, chunk 1 MiB) of the same volume, alternating.
 *
 *   npm run build && node dist/bench/read-floor.js [--depth 8] [--rounds 10] [--mib 1024]
 */
import fs from 'node:fs';
import { open } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DaosSystem } from '../index.js';

const MiB = 1 << 20;
const SPINS_US = [0, 5, 10, 20];
/** Rounds not counted: the JIT and the page cache settle first. */
const ROUNDS_SKIPPED = 2;

const { values } = parseArgs({
  options: {
    depth: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '10' },
    mib: { type: 'string', default: '1024' },
  },
});
const arg = (name: keyof typeof values) => {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n <= 0)
    throw new Error(`--${name} must be a positive integer, not "${values[name]}"`);
  return n;
};
const depth = arg('depth');
const rounds = arg('rounds');
const reads = arg('mib');
if (rounds <= ROUNDS_SKIPPED) throw new Error(`--rounds must be more than ${ROUNDS_SKIPPED}`);

function spin(us: number): void {
  const until = performance.now() + us / 1000;
  while (performance.now() < until);
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'read-floor-'));
const file = path.join(dir, 'f');
const fd = fs.openSync(file, 'w+');
try {
  const src = Buffer.alloc(MiB, 7);
  for (let i = 0; i < reads; i++) fs.writeSync(fd, src, 0, MiB, i * MiB);
  const fh = await open(file, 'r');
  const sys = await DaosSystem.start({ dir: path.join(dir, 'daos') });
  await sys.createPool({ label: 'floor', size: `${2 * reads}M` });
  const pool = await (await sys.connect()).connectPool('floor');
  await pool.createContainer({ label: 'c' });
  const arr = await (await pool.openContainer('c')).createArray({
    cellSize: 1,
    chunkSize: MiB,
    oclass: 'SX',
  });
  for (let i = 0; i < reads; i += depth)
    await Promise.all(
      Array.from({ length: Math.min(depth, reads - i) }, (_, j) => arr.write((i + j) * MiB, src)),
    );
  const bufs = Array.from({ length: depth }, () => Buffer.alloc(MiB));
  /** MiB/s of `reads` reads, `depth` in flight, each into its slot's buffer. */
  const round = async (read: (i: number, b: Buffer) => Promise<unknown>) => {
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      bufs.map(async (b) => {
        while (next < reads) await read(next++, b);
      }),
    );
    return (reads * 1000) / (performance.now() - t0);
  };
  const sides: Array<{ name: string; read: (i: number, b: Buffer) => Promise<unknown> }> = [
    { name: 'FileHandle.read', read: (i, b) => fh.read(b, 0, MiB, i * MiB) },
    ...SPINS_US.map((us) => ({
      name: `fs.readv after ${us} µs of main-thread work`,
      read: (i: number, b: Buffer) => {
        spin(us);
        return new Promise((resolve, reject) =>
          fs.readv(fd, [b], i * MiB, (err, n) => (err ? reject(err) : resolve(n))),
        );
      },
    })),
    { name: 'DaosArray.read (embedded, SX)', read: (i, b) => arr.read(i * MiB, MiB, { into: b }) },
  ];
  const rates = sides.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++)
    for (let s = 0; s < sides.length; s++) rates[s]!.push(await round(sides[s]!.read));
  await fh.close();
  await sys.stop();
  const median = (xs: number[]) => {
    const s = xs.slice(ROUNDS_SKIPPED).sort((a, b) => a - b);
    return s[Math.floor(s.length / 2)]!;
  };
  const base = median(rates[0]!);
  console.log(
    `1 MiB reads, ${depth} in flight, ${reads} a round, median of rounds ${ROUNDS_SKIPPED + 1}–${rounds}`,
  );
  console.log(`| reader | MiB/s | / FileHandle |\n|---|---:|---:|`);
  sides.forEach((s, i) => {
    const m = median(rates[i]!);
    console.log(`| ${s.name} | ${m.toFixed(0)} | ${(m / base).toFixed(2)}x |`);
  });
} finally {
  fs.closeSync(fd);
  fs.rmSync(dir, { recursive: true, force: true });
}
