/**
 * Where each transfer goes and what it holds (no I/O): IOR's offsets, reordered reads, random
 * offsets, and the data pattern IOR 4 writes so that -W / -R can check every 8-byte word.
 */
import type { IorOptions } from './options.js';

/**
 * Offsets a rank's transfers cover, in the order it issues them. Shared file:
 * seg*N*b + rank*b + j*t; file per process: seg*b + j*t (in the rank's own file). With -z the
 * same set in a random order (seeded by the signature and the rank, so write and read agree).
 */
export function transferOffsets(o: IorOptions, rank: number, signature: number): Float64Array {
  const perBlock = o.blockSize / o.transferSize;
  const out = new Float64Array(perBlock * o.segmentCount);
  let k = 0;
  for (let seg = 0; seg < o.segmentCount; seg++) {
    const base = o.filePerProc ? seg * o.blockSize : seg * o.numTasks * o.blockSize + rank * o.blockSize;
    for (let j = 0; j < perBlock; j++) out[k++] = base + j * o.transferSize;
  }
  if (o.randomOffset) shuffle(out, (signature ^ Math.imul(rank + 1, 0x9e3779b1)) >>> 0);
  return out;
}

/**
 * Whose data a rank reads: itself, or with -C the rank `taskPerNodeOffset` further on (every rank
 * counts as a node here: the job runs on one machine), or with -Z a seeded random permutation.
 */
export function readRank(o: IorOptions, rank: number): number {
  const n = o.numTasks;
  if (o.reorderTasks) return (rank + (o.taskPerNodeOffset % n)) % n;
  if (o.reorderTasksRandom) {
    const perm = Float64Array.from({ length: n }, (_, i) => i);
    shuffle(perm, o.reorderTasksRandomSeed >>> 0);
    return perm[rank]!;
  }
  return rank;
}

/** The name of a rank's file: `<o>.%08d` with -F, else `<o>`. */
export function fileName(o: IorOptions, rank: number): string {
  return o.filePerProc ? `${o.testFileName}.${String(rank).padStart(8, '0')}` : o.testFileName;
}

/**
 * IOR 4's data pattern for its default packet type (timestamp): 64-bit little-endian word i of
 * every transfer is `rank << 32 | (signature + i)`. The same for every transfer of a rank, so a
 * write phase fills its buffer once, before its timed loop (IOR 4 updates nothing per transfer for
 * this packet type), and a check compares every transfer it reads with one buffer filled so.
 */
export function fillPattern(words: Uint32Array, signature: number, rank: number): void {
  let lo = signature >>> 0;
  let hi = rank >>> 0;
  for (let w = 0; w < words.length; w += 2) {
    words[w] = lo;
    words[w + 1] = hi;
    lo = (lo + 1) >>> 0;
    // The sum is 64-bit in IOR: past 2^32 its carry is OR-ed into the rank's half.
    if (lo === 0) hi = (rank | (carryOf(signature, w / 2 + 1) >>> 0)) >>> 0;
  }
}

/** The high 32 bits of `signature + i`. */
function carryOf(signature: number, i: number): number {
  return Math.floor(((signature >>> 0) + i) / 0x1_0000_0000);
}

/** Words between the stamps of IOR 4's offset packet type (one per 4 KiB). */
export const OFFSET_STAMP_WORDS = 512;

/**
 * IOR 4's offset packet type, over a buffer `fillPattern` filled: 8-byte word 512·(k−1) of a
 * transfer at `offset` is `rank << 32 | (uint32)(offset · k)`, k = 1, 2, … — rewritten before
 * every write (and into the expected buffer before every check), so that a transfer written at
 * the wrong offset fails the check.
 */
export function stampOffset(words: Uint32Array, offset: number, rank: number): void {
  // The low 32 bits of offset·k depend only on the low 32 bits of offset.
  const lo = (offset % 0x1_0000_0000) | 0;
  for (let w = 0, k = 1; w < words.length; w += 2 * OFFSET_STAMP_WORDS, k++) {
    words[w] = Math.imul(lo, k);
    words[w + 1] = rank;
  }
}

/** How many 8-byte words of `got` differ from `expected` (a buffer `fillPattern` filled). */
export function badWords(got: Uint32Array, expected: Uint32Array): number {
  let bad = 0;
  for (let w = 0; w < got.length; w += 2) if (got[w] !== expected[w] || got[w + 1] !== expected[w + 1]) bad++;
  return bad;
}

/** Fisher–Yates with a small seeded generator (mulberry32): the same seed, the same order. */
function shuffle(a: Float64Array, seed: number): void {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 0x1_0000_0000;
  };
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    const tmp = a[i]!;
    a[i] = a[j]!;
    a[j] = tmp;
  }
}
