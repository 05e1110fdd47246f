/**
 * Where each transfer goes and what it holds (no I/O): IOR's offsets, reordered reads, random
 * offsets, and the data signature IOR writes so that -W / -R can check every 8-byte word.
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
 * IOR's signature (its FillBuffer for the timestamp packet type): 64-bit little-endian words,
 * even words `rank << 32 | signature`, odd words the file offset of the word.
 */
export function fillTransfer(words: Uint32Array, signature: number, rank: number, offset: number): void {
  fillSignature(words, signature, rank);
  fillOffsets(words, offset);
}

/** The even 8-byte words of fillTransfer: the same for every transfer of one rank's write phase. */
export function fillSignature(words: Uint32Array, signature: number, rank: number): void {
  for (let w = 0; w < words.length; w += 4) {
    words[w] = signature;
    words[w + 1] = rank;
  }
}

/**
 * The odd 8-byte words of fillTransfer: the file offset of each, as two 32-bit halves carried by
 * hand (no division per word: a 47008-byte transfer has 2,938, written before every write inside
 * the timed loop, as IOR's pattern update is).
 */
export function fillOffsets(words: Uint32Array, offset: number): void {
  // The low half as an int32 (a Uint32Array stores its bits): it carries into the high half when
  // it goes from negative (2^31 and up, unsigned) to non-negative (past 2^32).
  let lo = ((offset + 8) % TWO_32) | 0;
  let hi = Math.floor((offset + 8) / TWO_32);
  for (let w = 2; w < words.length; w += 4) {
    words[w] = lo;
    words[w + 1] = hi;
    const next = (lo + 16) | 0;
    if (lo < 0 && next >= 0) hi++;
    lo = next;
  }
}

/** How many 8-byte words of `got` differ from what `fillTransfer` would have written. */
export function countErrors(got: Uint32Array, signature: number, rank: number, offset: number): number {
  let errors = 0;
  const n = got.length;
  let lo = (offset + 8) % TWO_32;
  let hi = Math.floor((offset + 8) / TWO_32);
  for (let w = 0; w < n; w += 4) {
    if (got[w] !== signature || got[w + 1] !== rank) errors++;
    if (got[w + 2] !== lo || got[w + 3] !== hi) errors++;
    lo += 16;
    if (lo >= TWO_32) {
      lo -= TWO_32;
      hi++;
    }
  }
  return errors;
}

const TWO_32 = 0x1_0000_0000;

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
