/**
 * What a 1 MiB buffered write into fresh page cache costs, copied four ways (bench/README.md, "Data
 * striped over two files"; engine/bio's striped layout rests on the last line):
 *
 *   one         one pwrite on the main thread (what a single-file target did for a lone write)
 *   FileHandle  one write through a FileHandle (libuv's thread pool)
 *   one file    two halves into one file at once, one on the pool and one on the main thread
 *   two files   two halves into two files at once, one on the pool and one on the main thread
 *
 * The kinds run in rotating segments, each round after page cache this VM has backed for all of
 * them (warmPageCache).
 * Per kind: median and mean µs a write, the 99th percentile, and how many writes took over 1 ms.
 *
 *   npm run build && node dist/bench/split-writes.js [--segments 24] [--writes 128] [--dir DIR]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { warmPageCache } from './common.js';

const MiB = 1024 * 1024;
const HALF = MiB / 2;
/** Segments before these are not counted (JIT and file system warm-up). */
const WARMUP_SEGMENTS = 2;
/** A write slower than this counts as a stall. */
const STALL_MS = 1;

const { values } = parseArgs({
  options: {
    segments: { type: 'string', default: '24' },
    writes: { type: 'string', default: '128' },
    dir: { type: 'string', default: os.tmpdir() },
  },
});
const SEGMENTS = Number(values.segments);
const WRITES = Number(values.writes);
for (const [name, v] of [
  ['--segments', SEGMENTS],
  ['--writes', WRITES],
] as const)
  if (!Number.isInteger(v) || v <= 0) throw new Error(`${name} must be a positive integer, not "${v}"`);
if (SEGMENTS <= WARMUP_SEGMENTS)
  throw new Error(`--segments must be more than the ${WARMUP_SEGMENTS} warm-up segments, not ${SEGMENTS}`);

const dir = fs.mkdtempSync(path.join(values.dir, 'split-writes-'));
const buf = Buffer.alloc(MiB, 0x3c);
const open = (name: string) => fs.openSync(path.join(dir, name), 'w+');
const one = open('one');
const sameFile = open('one-file');
const memberA = open('two-a');
const memberB = open('two-b');
const fh = await fs.promises.open(path.join(dir, 'filehandle'), 'w+');

function onPool(fd: number, off: number, len: number, pos: number): Promise<void> {
  return new Promise((resolve, reject) =>
    fs.write(fd, buf, off, len, pos, (err) => (err ? reject(err) : resolve())),
  );
}

/** Write number i of a kind (each kind appends to its own files). */
const kinds: Record<string, (i: number) => Promise<void> | void> = {
  one: (i) => {
    fs.writeSync(one, buf, 0, MiB, i * MiB);
  },
  FileHandle: async (i) => {
    await fh.write(buf, 0, MiB, i * MiB);
  },
  'one file': async (i) => {
    const pool = onPool(sameFile, HALF, HALF, i * MiB + HALF);
    fs.writeSync(sameFile, buf, 0, HALF, i * MiB);
    await pool;
  },
  'two files': async (i) => {
    const pool = onPool(memberB, HALF, HALF, i * HALF);
    fs.writeSync(memberA, buf, 0, HALF, i * HALF);
    await pool;
  },
};

const names = Object.keys(kinds);
const times = new Map<string, number[]>(names.map((n) => [n, []]));
const next = new Map<string, number>(names.map((n) => [n, 0]));
try {
  for (let s = 0; s < SEGMENTS; s++) {
    warmPageCache(dir, names.length * WRITES * MiB);
    for (let k = 0; k < names.length; k++) {
      const name = names[(k + s) % names.length]!;
      const write = kinds[name]!;
      for (let w = 0; w < WRITES; w++) {
        const i = next.get(name)!;
        next.set(name, i + 1);
        const t = performance.now();
        await write(i);
        if (s >= WARMUP_SEGMENTS) times.get(name)!.push(performance.now() - t);
      }
    }
  }
} finally {
  await fh.close();
  for (const fd of [one, sameFile, memberA, memberB]) fs.closeSync(fd);
  fs.rmSync(dir, { recursive: true, force: true });
}

const us = (ms: number) => `${Math.round(ms * 1000)} µs`;
console.log(
  `1 MiB writes into fresh page cache, ${SEGMENTS - WARMUP_SEGMENTS} counted segments of ${WRITES} per kind`,
);
console.log('| kind | median | mean | p99 | over 1 ms |');
console.log('|---|---:|---:|---:|---:|');
for (const name of names) {
  const t = times.get(name)!.sort((a, b) => a - b);
  const mean = t.reduce((a, b) => a + b, 0) / t.length;
  const stalls = t.filter((x) => x > STALL_MS).length;
  console.log(
    `| ${name} | ${us(t[t.length >> 1]!)} | ${us(mean)} | ${us(t[Math.floor(t.length * 0.99)]!)} | ${stalls} of ${t.length} |`,
  );
}
