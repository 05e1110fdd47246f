import { describe, expect, it } from 'vitest';
import { DaosError } from '../../core/common/errors.js';
import { seededRandom } from '../../core/wire/seeded-random.js';
import { Datatype as D, DATATYPE_RUNS_MAX, type Datatype } from './datatype.js';
import { FileView, type ViewRuns } from './view.js';

type Rand = () => number;
const int = (rand: Rand, lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
const pick = <T>(rand: Rand, xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];

/** A filetype and, computed by plain loops, its data bytes' offsets in order and its extent. */
interface Filetype {
  type: Datatype;
  bytes: number[];
  extent: number;
}

const etypeBytes = (at: number, esize: number): number[] => Array.from({ length: esize }, (_, b) => at + b);

/** Random filetypes built of etypes, with non-negative, increasing displacements (valid for views). */
function randomFiletype(rand: Rand, etype: Datatype): Filetype {
  const es = etype.size;
  switch (int(rand, 0, 6)) {
    case 0: {
      const n = int(rand, 1, 3);
      const sizes = Array.from({ length: n }, () => int(rand, 1, 6));
      const subsizes = sizes.map((s) => int(rand, 1, s));
      const starts = sizes.map((s, i) => int(rand, 0, s - subsizes[i]));
      const order = pick(rand, ['C', 'Fortran'] as const);
      const total = sizes.reduce((a, b) => a * b, 1);
      const bytes: number[] = [];
      for (let lin = 0; lin < total; lin++) {
        let [rest, inside] = [lin, true];
        const dims = order === 'C' ? sizes.map((_, i) => n - 1 - i) : sizes.map((_, i) => i);
        for (const d of dims) {
          const idx = rest % sizes[d];
          rest = Math.floor(rest / sizes[d]);
          inside &&= idx >= starts[d] && idx < starts[d] + subsizes[d];
        }
        if (inside) bytes.push(...etypeBytes(lin * es, es));
      }
      return { type: D.subarray(sizes, subsizes, starts, order, etype), bytes, extent: total * es };
    }
    case 1: {
      const [count, bl] = [int(rand, 1, 5), int(rand, 1, 3)];
      const stride = int(rand, bl, bl + 4);
      const bytes: number[] = [];
      for (let i = 0; i < count; i++)
        for (let j = 0; j < bl; j++) bytes.push(...etypeBytes((i * stride + j) * es, es));
      return { type: D.vector(count, bl, stride, etype), bytes, extent: ((count - 1) * stride + bl) * es };
    }
    case 2: {
      const [count, bl] = [int(rand, 1, 5), int(rand, 1, 3)];
      const strideBytes = bl * es + int(rand, 0, 13);
      const bytes: number[] = [];
      for (let i = 0; i < count; i++) bytes.push(...etypeBytes(i * strideBytes, bl * es));
      return {
        type: D.hvector(count, bl, strideBytes, etype),
        bytes,
        extent: (count - 1) * strideBytes + bl * es,
      };
    }
    case 3: {
      const n = int(rand, 1, 5);
      const [bls, disps, bytes] = [[] as number[], [] as number[], [] as number[]];
      let at = int(rand, 0, 3);
      for (let i = 0; i < n; i++) {
        const bl = int(rand, i === 0 ? 1 : 0, 3);
        bls.push(bl);
        disps.push(at);
        bytes.push(...etypeBytes(at * es, bl * es));
        at += bl + int(rand, 0, 3);
      }
      // MPI bounds ignore empty blocks: the extent runs from the first to the end of the last non-empty one.
      const live = bls.map((bl, i) => [disps[i], bl]).filter(([, bl]) => bl > 0);
      const [lo, [lastD, lastBl]] = [live[0][0], live[live.length - 1]];
      return { type: D.indexed(bls, disps, etype), bytes, extent: (lastD + lastBl - lo) * es };
    }
    case 4: {
      const inner = randomFiletype(rand, etype);
      if (inner.type.lb !== 0) return inner;
      const extent = inner.extent + es * int(rand, 0, 5);
      return { type: D.resized(inner.type, 0, extent), bytes: inner.bytes, extent };
    }
    case 5: {
      const [a, b, gap] = [int(rand, 1, 3), int(rand, 1, 3), int(rand, 0, 9)];
      const bytes = [...etypeBytes(0, a * es), ...etypeBytes(a * es + gap, b * es)];
      return { type: D.struct([a, b], [0, a * es + gap], [etype, etype]), bytes, extent: (a + b) * es + gap };
    }
    default: {
      const n = int(rand, 1, 6);
      return { type: D.contiguous(n, etype), bytes: etypeBytes(0, n * es), extent: n * es };
    }
  }
}

/** File byte of view byte k, by the definition: tile k / size at disp + tile * extent. */
const refFileByte = (disp: number, ft: Filetype, k: number): number =>
  disp + Math.floor(k / ft.bytes.length) * ft.extent + ft.bytes[k % ft.bytes.length];

/** Expand runs to file bytes and check bufOffsets say where each run sits in the buffer. */
function expandRuns(r: ViewRuns): number[] {
  const bytes: number[] = [];
  for (let k = 0; k < r.count; k++) {
    expect(r.lengths[k]).toBeGreaterThan(0);
    expect(r.bufOffsets[k]).toBe(bytes.length);
    if (k > 0) expect(r.fileOffsets[k - 1] + r.lengths[k - 1]).toBeLessThan(r.fileOffsets[k]);
    for (let b = 0; b < r.lengths[k]; b++) bytes.push(r.fileOffsets[k] + b);
  }
  return bytes;
}

function expectInval(fn: () => unknown, message: RegExp): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(DaosError);
    expect((err as DaosError).code).toBe('DER_INVAL');
    expect((err as Error).message).toMatch(message);
    return;
  }
  throw new Error(`expected DER_INVAL matching ${message}`);
}

describe('FileView maps view ranges to file runs', () => {
  it('random views and ranges match a brute-force byte map (seeded, 600 cases)', () => {
    const rand = seededRandom(7);
    for (let c = 0; c < 600; c++) {
      const etype = pick(rand, [D.BYTE, D.INT16, D.INT, D.DOUBLE]);
      const ft = randomFiletype(rand, etype);
      expect(ft.type.size).toBe(ft.bytes.length);
      expect(ft.type.extent).toBe(ft.extent);
      const disp = int(rand, 0, 100);
      const view = new FileView(disp, etype, ft.type);
      const etypesPerTile = ft.type.size / etype.size;
      const offset = int(rand, 0, 3 * etypesPerTile);
      const count = int(rand, 0, 3 * etypesPerTile);
      const es = etype.size;
      const want = Array.from({ length: count * es }, (_, i) => refFileByte(disp, ft, offset * es + i));
      expect(expandRuns(view.map(offset, count))).toEqual(want);
      if (count > 0) {
        expect(view.byteOffset(offset)).toBe(want[0]);
        expect(view.fileRange(offset * es, count * es)).toEqual({
          start: Math.min(...want),
          end: Math.max(...want) + 1,
        });
      }
      // Byte-granular ranges too (not etype-aligned).
      const pos = int(rand, 0, 2 * ft.type.size);
      const length = int(rand, 0, 2 * ft.type.size);
      const wantBytes = Array.from({ length }, (_, i) => refFileByte(disp, ft, pos + i));
      expect(expandRuns(view.mapBytes(pos, length))).toEqual(wantBytes);
    }
  });

  it('subarray views of a 3-D global array: ranks tile the file exactly once, local data in C order', () => {
    const [gz, gy, gx] = [6, 5, 4];
    const decomposition = [
      [0, 0, 0, 3, 5, 2],
      [0, 0, 2, 3, 5, 2],
      [3, 0, 0, 3, 2, 4],
      [3, 2, 0, 3, 3, 4],
    ];
    const owner = new Int32Array(gz * gy * gx * 8).fill(-1);
    for (const [rank, [z, y, x, nz, ny, nx]] of decomposition.entries()) {
      const view = new FileView(
        64,
        D.DOUBLE,
        D.subarray([gz, gy, gx], [nz, ny, nx], [z, y, x], 'C', D.DOUBLE),
      );
      const runs = view.map(0, nz * ny * nx);
      // Rows merge when they span whole x lines, planes when they span whole y-x planes.
      expect(runs.count).toBe(nx < gx ? nz * ny : ny < gy ? nz : 1);
      for (let k = 0; k < runs.count; k++) {
        for (let b = 0; b < runs.lengths[k]; b++) {
          const fileByte = runs.fileOffsets[k] + b - 64;
          expect(owner[fileByte]).toBe(-1);
          owner[fileByte] = rank;
          // Buffer byte -> local (i, j, l) in C order -> global element -> file byte.
          const bufByte = runs.bufOffsets[k] + b;
          const e = Math.floor(bufByte / 8);
          const [i, j, l] = [Math.floor(e / (ny * nx)), Math.floor(e / nx) % ny, e % nx];
          expect(fileByte).toBe((((z + i) * gy + (y + j)) * gx + (x + l)) * 8 + (bufByte % 8));
        }
      }
    }
    expect(owner.every((r) => r >= 0)).toBe(true);
  });

  it('the default view is the file as bytes: one run for any range', () => {
    const v = FileView.DEFAULT;
    expect([v.disp, v.etype, v.filetype, v.isContiguous]).toEqual([0, D.BYTE, D.BYTE, true]);
    const r = v.map(10, 2 ** 40);
    expect([r.count, r.fileOffsets[0], r.lengths[0], r.bufOffsets[0]]).toEqual([1, 10, 2 ** 40, 0]);
    const c = new FileView(4096, D.INT, D.contiguous(16, D.INT)).map(3, 1000);
    expect([c.count, c.fileOffsets[0], c.lengths[0]]).toEqual([1, 4096 + 12, 4000]);
  });

  it('a tiled filetype repeats with its extent as the step', () => {
    // Each rank of 4 owns every 4th 4 KiB piece: the interleaved IOR-style pattern.
    const piece = D.contiguous(4096, D.BYTE);
    const filetype = D.resized(D.contiguous(1, piece), 0, 4 * 4096);
    const view = new FileView(2 * 4096, D.BYTE, filetype);
    const r = view.mapBytes(0, 3 * 4096 + 100);
    expect([...r.fileOffsets]).toEqual([8192, 8192 + 16384, 8192 + 32768, 8192 + 49152]);
    expect([...r.lengths]).toEqual([4096, 4096, 4096, 100]);
    expect([...r.bufOffsets]).toEqual([0, 4096, 8192, 12288]);
  });

  it('cursor walks a huge range lazily; mapBytes refuses more than DATATYPE_RUNS_MAX runs', () => {
    const view = new FileView(0, D.INT, D.vector(1, 1, 1, D.resized(D.INT, 0, 8)));
    const c = view.cursor(4 * 2 ** 40, 4 * 2 ** 40);
    const seen: number[][] = [];
    for (let i = 0; i < 2 && c.next(); i++) seen.push([c.offset, c.length, c.bufOffset]);
    expect(seen).toEqual([
      [8 * 2 ** 40, 4, 0],
      [8 * 2 ** 40 + 8, 4, 4],
    ]);
    expect(view.mapBytes(0, 4 * DATATYPE_RUNS_MAX).count).toBe(DATATYPE_RUNS_MAX);
    expectInval(
      () => view.mapBytes(0, 4 * DATATYPE_RUNS_MAX + 1),
      /more than DATATYPE_RUNS_MAX .* walk cursor\(\) instead/,
    );
  });
});

describe('FileView refuses what MPI forbids', () => {
  const cases: [string, () => unknown, RegExp][] = [
    ['negative disp', () => new FileView(-8, D.BYTE, D.BYTE), /disp must be a non-negative integer, got -8/],
    [
      'fractional disp',
      () => new FileView(1.5, D.BYTE, D.BYTE),
      /disp must be a non-negative integer, got 1.5/,
    ],
    [
      'etype not a type',
      () => new FileView(0, 'int' as unknown as Datatype, D.BYTE),
      /etype must be a Datatype/,
    ],
    [
      'filetype size not a multiple of etype size',
      () => new FileView(0, D.DOUBLE, D.vector(3, 1, 2, D.INT)),
      /filetype size 12 \(vector\(3,1,2,MPI_INT\)\) is not a multiple of etype size 8 \(MPI_DOUBLE\)/,
    ],
    [
      'empty filetype',
      () => new FileView(0, D.BYTE, D.contiguous(0, D.BYTE)),
      /filetype contiguous\(0,MPI_BYTE\) holds no data/,
    ],
    [
      'empty etype',
      () => new FileView(0, D.contiguous(0, D.INT), D.INT),
      /etype contiguous\(0,MPI_INT\) holds no data/,
    ],
    [
      'negative filetype displacement',
      () => new FileView(0, D.INT, D.hindexed([1, 1], [-4, 8], D.INT)),
      /filetype hindexed\(\[2\],MPI_INT\) has a negative displacement \(-4\)/,
    ],
    [
      'negative etype displacement',
      () => new FileView(0, D.hindexed([1], [-1], D.BYTE), D.BYTE),
      /etype .* has a negative displacement \(-1\)/,
    ],
    [
      'decreasing filetype displacements',
      () => new FileView(0, D.INT, D.hindexed([1, 1], [8, 0], D.INT)),
      /displacements must be monotonically non-decreasing and not overlap: byte run at 0 comes after one ending at 12/,
    ],
    [
      'overlapping filetype runs',
      () => new FileView(0, D.INT, D.hindexed([2, 1], [0, 4], D.INT)),
      /monotonically non-decreasing and not overlap: byte run at 4 comes after one ending at 8/,
    ],
    [
      'tiles that would overlap',
      () => new FileView(0, D.INT, D.resized(D.contiguous(4, D.INT), 0, 8)),
      /spans 16 data bytes, more than its extent 8: consecutive tiles would overlap/,
    ],
  ];
  it.each(cases)('%s', (_what, fn, message) => expectInval(fn, message));

  it('bad ranges', () => {
    const view = new FileView(0, D.INT, D.vector(2, 1, 2, D.INT));
    expectInval(() => view.map(-1, 2), /offset must be a non-negative integer of etypes, got -1/);
    expectInval(() => view.map(0, 0.5), /count must be a non-negative integer of etypes, got 0.5/);
    expectInval(() => view.mapBytes(0, -3), /length must be a non-negative integer, got -3/);
    expectInval(() => view.map(2 ** 52, 1), /passes 2\^53/);
    expect(view.fileRange(5, 0)).toBeNull();
    expect(view.map(7, 0).count).toBe(0);
  });
});
