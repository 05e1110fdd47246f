import { describe, expect, it } from 'vitest';
import { type Candidate, mergeRanges, resolveExtents } from './extents.js';

function rng(seed: number) {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return s / 0x7fffffff;
  };
}

describe('resolveExtents', () => {
  it('matches a per-record resolution on random extents', () => {
    const r = rng(7);
    for (let round = 0; round < 200; round++) {
      const cands: Candidate<number>[] = [];
      for (let i = 0; i < 1 + Math.floor(r() * 12); i++) {
        const start = BigInt(Math.floor(r() * 60));
        cands.push({
          start,
          end: start + BigInt(1 + Math.floor(r() * 20)),
          epoch: BigInt(1 + Math.floor(r() * 8)),
          order: i,
          src: i,
        });
      }
      const lo = BigInt(Math.floor(r() * 40));
      const hi = lo + BigInt(Math.floor(r() * 50));
      const pieces = resolveExtents(cands, lo, hi);
      for (let x = lo; x < hi; x++) {
        let best: Candidate<number> | undefined;
        for (const c of cands) {
          if (c.start > x || c.end <= x) continue;
          if (best === undefined || c.epoch > best.epoch || (c.epoch === best.epoch && c.order > best.order))
            best = c;
        }
        const piece = pieces.find((p) => p.start <= x && x < p.end);
        expect(piece?.src.src).toBe(best?.src);
      }
      for (let i = 1; i < pieces.length; i++) expect(pieces[i]!.start >= pieces[i - 1]!.end).toBe(true);
    }
  });

  it('handles ranges near 2^64 without per-record work', () => {
    const top = 1n << 64n;
    const pieces = resolveExtents(
      [
        { start: 0n, end: top, epoch: 1n, order: 0, src: 'a' },
        { start: top - 5n, end: top, epoch: 2n, order: 1, src: 'b' },
      ],
      0n,
      top,
    );
    expect(pieces.map((p) => [p.start, p.end, p.src.src])).toEqual([
      [0n, top - 5n, 'a'],
      [top - 5n, top, 'b'],
    ]);
  });
});

describe('mergeRanges', () => {
  it('merges touching and overlapping ranges', () => {
    expect(
      mergeRanges([
        { start: 5n, end: 7n },
        { start: 0n, end: 2n },
        { start: 2n, end: 3n },
        { start: 6n, end: 9n },
      ]),
    ).toEqual([
      { idx: 0n, nr: 3n },
      { idx: 5n, nr: 4n },
    ]);
  });
});
