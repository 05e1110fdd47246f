import { describe, expect, it } from 'vitest';
import { autoChunks, type ChunkIo, chunkPlan, normalizeSelection } from './selection.js';

/** A plan with its extents as objects, for readable expectations. */
function plain(ios: Iterable<ChunkIo>) {
  return [...ios].map((io) => ({
    coords: io.coords,
    extents: io.idx.map((idx, i) => ({ idx, nr: io.nr[i], mem: io.mem[i] })),
  }));
}

describe('normalizeSelection', () => {
  it('brings numpy slices, indexes and null to hyperslab form', () => {
    const s = normalizeSelection([[2, 9, 3], -1, null], [10, 5, 4]);
    expect(s).toEqual({
      start: [2, 4, 0],
      stride: [3, 1, 1],
      count: [3, 1, 1],
      block: [1, 1, 4],
      shape: [3, 1, 4],
      size: 12,
    });
    expect(normalizeSelection([[3, 3]], [5]).size).toBe(0);
  });

  it('refuses what falls outside or overlaps, naming the dimension', () => {
    expect(() => normalizeSelection([[0, 6]], [5])).toThrow(
      /\[0, 6\] is out of bounds in dimension 0 of extent 5/,
    );
    expect(() => normalizeSelection({ start: [1], count: [2], stride: [2], block: [3] }, [10])).toThrow(
      /block 3 is larger than stride 2/,
    );
    expect(() => normalizeSelection({ start: [4], count: [3], stride: [3], block: [1] }, [10])).toThrow(
      /reaches index 10 in dimension 0/,
    );
    expect(() => normalizeSelection({ start: [0, 0], count: [1] }, [3, 3])).toThrow(
      /count must list 2 values/,
    );
  });
});

describe('chunkPlan', () => {
  it('gives one merged extent per chunk for whole rows, and per-row extents otherwise', () => {
    const rows = plain(chunkPlan(normalizeSelection([[0, 4], null], [10, 8]), [2, 8]));
    expect(rows).toEqual([
      { coords: [0, 0], extents: [{ idx: 0, nr: 16, mem: 0 }] },
      { coords: [1, 0], extents: [{ idx: 0, nr: 16, mem: 16 }] },
    ]);
    // Columns 3..5 of rows 1..2 of a 4x4 chunk grid over 6x6: two chunks across, per-row extents.
    const sel = normalizeSelection(
      [
        [1, 3],
        [3, 6],
      ],
      [6, 6],
    );
    const part = plain(chunkPlan(sel, [4, 4]));
    expect(part).toEqual([
      {
        coords: [0, 0],
        extents: [
          { idx: 7, nr: 1, mem: 0 },
          { idx: 11, nr: 1, mem: 3 },
        ],
      },
      {
        coords: [0, 1],
        extents: [
          { idx: 4, nr: 2, mem: 1 },
          { idx: 8, nr: 2, mem: 4 },
        ],
      },
    ]);
  });

  it('splits a chunk past the extent limit into several requests', () => {
    const plans = plain(chunkPlan(normalizeSelection([null, [0, 8, 2]], [4, 8]), [4, 8], 5));
    expect(plans.map((p) => p.extents.length)).toEqual([5, 5, 5, 1]);
    expect(plans.every((p) => p.coords.join() === '0,0')).toBe(true);
  });
});

describe('autoChunks', () => {
  it('chunks as the DAOS VOL does: small datasets whole, large ones in about 1 MiB pieces', () => {
    expect(autoChunks([100, 8], 8, 1 << 20)).toEqual([100, 8]);
    expect(autoChunks([16384, 8192], 8, 1 << 20)).toEqual([16, 8192]);
    expect(autoChunks([1 << 27], 8, 1 << 20)).toEqual([1 << 17]);
    expect(autoChunks([64, 64, 64, 64], 4, 1 << 20)).toEqual([1, 64, 64, 64]);
  });
});
