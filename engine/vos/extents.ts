/**
 * Resolution of overlapping array extents by interval arithmetic: each record index takes the
 * newest extent covering it. Never per record: records can be one byte and reads a mebibyte.
 */

import { bigMax, bigMin } from '../../core/common/bigint.js';
import { assert } from '../../core/common/errors.js';
import type { Recx } from './types.js';

/** An extent [start, end) written at `epoch`; `order` breaks ties between extents of one epoch. */
export interface Candidate<T> {
  start: bigint;
  end: bigint;
  epoch: bigint;
  order: number;
  src: T;
}

/** The part [start, end) of [lo, hi) that `src` is visible at. */
export interface Piece<T> {
  start: bigint;
  end: bigint;
  src: Candidate<T>;
}

/** The visible pieces of [lo, hi), in index order; indexes no candidate covers are left out. */
export function resolveExtents<T>(cands: Candidate<T>[], lo: bigint, hi: bigint): Piece<T>[] {
  assert(lo <= hi, () => `bad range [${lo}, ${hi})`);
  if (cands.length === 1) {
    // The common read: one extent covers what is asked (no sort, no gap lists).
    const c = cands[0]!;
    if (c.end <= lo || c.start >= hi || lo === hi) return [];
    return [{ start: bigMax(lo, c.start), end: bigMin(hi, c.end), src: c }];
  }
  const sorted = [...cands].sort((a, b) =>
    a.epoch === b.epoch ? b.order - a.order : a.epoch > b.epoch ? -1 : 1,
  );
  // Uncovered intervals of [lo, hi), sorted and disjoint.
  let gapStarts: bigint[] = lo < hi ? [lo] : [];
  let gapEnds: bigint[] = lo < hi ? [hi] : [];
  const pieces: Piece<T>[] = [];
  for (const c of sorted) {
    if (gapStarts.length === 0) break;
    if (c.end <= lo || c.start >= hi) continue;
    // First gap ending after c.start.
    let a = 0;
    let b = gapEnds.length;
    while (a < b) {
      const m = (a + b) >> 1;
      if (gapEnds[m]! <= c.start) a = m + 1;
      else b = m;
    }
    let j = a;
    const keepStarts: bigint[] = [];
    const keepEnds: bigint[] = [];
    while (j < gapStarts.length && gapStarts[j]! < c.end) {
      const gs = gapStarts[j]!;
      const ge = gapEnds[j]!;
      const s = bigMax(gs, c.start);
      const e = bigMin(ge, c.end);
      pieces.push({ start: s, end: e, src: c });
      if (gs < s) {
        keepStarts.push(gs);
        keepEnds.push(s);
      }
      if (e < ge) {
        keepStarts.push(e);
        keepEnds.push(ge);
      }
      j++;
    }
    if (j === a) continue;
    gapStarts = [...gapStarts.slice(0, a), ...keepStarts, ...gapStarts.slice(j)];
    gapEnds = [...gapEnds.slice(0, a), ...keepEnds, ...gapEnds.slice(j)];
  }
  pieces.sort((x, y) => (x.start < y.start ? -1 : x.start > y.start ? 1 : 0));
  return pieces;
}

/** Merge ranges (any order, possibly touching or overlapping) into disjoint recxs in index order. */
export function mergeRanges(ranges: Array<{ start: bigint; end: bigint }>): Recx[] {
  if (ranges.length === 1) {
    const r = ranges[0]!;
    return r.start < r.end ? [{ idx: r.start, nr: r.end - r.start }] : [];
  }
  const sorted = [...ranges].sort((x, y) => (x.start < y.start ? -1 : x.start > y.start ? 1 : 0));
  const out: Recx[] = [];
  let curStart = -1n;
  let curEnd = -1n;
  for (const r of sorted) {
    if (r.start >= r.end) continue;
    if (curEnd >= r.start && curStart >= 0n) {
      if (r.end > curEnd) curEnd = r.end;
      continue;
    }
    if (curStart >= 0n) out.push({ idx: curStart, nr: curEnd - curStart });
    curStart = r.start;
    curEnd = r.end;
  }
  if (curStart >= 0n) out.push({ idx: curStart, nr: curEnd - curStart });
  return out;
}
