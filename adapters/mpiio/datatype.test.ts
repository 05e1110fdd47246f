import { describe, expect, it } from 'vitest';
import { DaosError } from '../../core/common/errors.js';
import { seededRandom } from '../../core/wire/seeded-random.js';
import {
  Datatype as D,
  DATATYPE_RUNS_MAX,
  type Datatype,
  type FlatRuns,
  pack,
  packedSize,
  RunCursor,
  SUBARRAY_NDIMS_MAX,
  unpack,
} from './datatype.js';

/**
 * The reference: a type as the list of its data bytes' offsets in type-map order, with lb and ub,
 * computed by nested loops straight from MPI's definitions, independent of datatype.ts.
 */
interface Model {
  bytes: number[];
  lb: number;
  ub: number;
}

const named = (size: number): Model => ({
  bytes: Array.from({ length: size }, (_, i) => i),
  lb: 0,
  ub: size,
});

/** Copies of `old` at the given byte displacements, in order; bounds are the copies' extremes. */
function placed(disps: number[], old: Model): Model {
  const bytes: number[] = [];
  let [lb, ub] = [Infinity, -Infinity];
  for (const d of disps) {
    for (const b of old.bytes) bytes.push(d + b);
    lb = Math.min(lb, d + old.lb);
    ub = Math.max(ub, d + old.ub);
  }
  return lb === Infinity ? { bytes, lb: 0, ub: 0 } : { bytes, lb, ub };
}

const ext = (m: Model): number => m.ub - m.lb;

function refContiguous(count: number, old: Model): Model {
  const disps: number[] = [];
  for (let i = 0; i < count; i++) disps.push(i * ext(old));
  return placed(disps, old);
}

function refHvector(count: number, bl: number, strideBytes: number, old: Model): Model {
  const disps: number[] = [];
  for (let i = 0; i < count; i++) for (let j = 0; j < bl; j++) disps.push(i * strideBytes + j * ext(old));
  return placed(disps, old);
}

function refHindexed(bls: number[], disps: number[], old: Model): Model {
  const at: number[] = [];
  for (let i = 0; i < bls.length; i++) for (let j = 0; j < bls[i]; j++) at.push(disps[i] + j * ext(old));
  return placed(at, old);
}

function refStruct(bls: number[], disps: number[], olds: Model[]): Model {
  const parts = olds.map((old, i) => refHindexed([bls[i]], [disps[i]], old));
  const bytes = parts.flatMap((p) => p.bytes);
  const live = parts.filter((_, i) => bls[i] > 0);
  if (live.length === 0) return { bytes, lb: 0, ub: 0 };
  return { bytes, lb: Math.min(...live.map((p) => p.lb)), ub: Math.max(...live.map((p) => p.ub)) };
}

/** Every element of the full array in memory order, kept when its multi-index is in the box. */
function refSubarray(
  sizes: number[],
  subsizes: number[],
  starts: number[],
  order: 'C' | 'Fortran',
  old: Model,
): Model {
  const total = sizes.reduce((a, b) => a * b, 1);
  const disps: number[] = [];
  for (let lin = 0; lin < total; lin++) {
    let rest = lin;
    let inside = true;
    const dims = sizes.map((_, i) => i);
    if (order === 'C') dims.reverse();
    for (const d of dims) {
      const idx = rest % sizes[d];
      rest = Math.floor(rest / sizes[d]);
      if (idx < starts[d] || idx >= starts[d] + subsizes[d]) inside = false;
    }
    if (inside) disps.push(lin * ext(old));
  }
  return { bytes: placed(disps, old).bytes, lb: 0, ub: total * ext(old) };
}

/** Expand runs to byte offsets, asserting they are merged (no abutting pair, no empty run). */
function runBytes(flat: FlatRuns): number[] {
  const bytes: number[] = [];
  for (let k = 0; k < flat.count; k++) {
    expect(flat.lengths[k]).toBeGreaterThan(0);
    if (k > 0) expect(flat.offsets[k - 1] + flat.lengths[k - 1]).not.toBe(flat.offsets[k]);
    for (let b = 0; b < flat.lengths[k]; b++) bytes.push(flat.offsets[k] + b);
  }
  return bytes;
}

function expectMatches(type: Datatype, model: Model): void {
  expect(runBytes(type.flatten())).toEqual(model.bytes);
  expect(type.size).toBe(model.bytes.length);
  expect([type.lb, type.ub, type.extent]).toEqual([model.lb, model.ub, model.ub - model.lb]);
  if (model.bytes.length > 0) {
    expect(type.trueLb).toBe(Math.min(...model.bytes));
    expect(type.trueUb).toBe(Math.max(...model.bytes) + 1);
  }
}

const PREDEFINED: [Datatype, number][] = [
  [D.BYTE, 1],
  [D.CHAR, 1],
  [D.INT8, 1],
  [D.UINT8, 1],
  [D.INT16, 2],
  [D.UINT16, 2],
  [D.INT, 4],
  [D.INT32, 4],
  [D.UINT32, 4],
  [D.FLOAT, 4],
  [D.INT64, 8],
  [D.UINT64, 8],
  [D.DOUBLE, 8],
];

type Rand = () => number;
const int = (rand: Rand, lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
const pick = <T>(rand: Rand, xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];

/** A small random type and its model; `nonNegative` keeps every displacement >= 0 and ordered. */
function randomType(rand: Rand, depth: number, nonNegative = false): { type: Datatype; model: Model } {
  if (depth === 0 || rand() < 0.2) {
    const [type, size] = pick(rand, PREDEFINED);
    return { type, model: named(size) };
  }
  const { type: old, model: om } = randomType(rand, depth - 1, nonNegative);
  const e = ext(om);
  switch (int(rand, 0, 8)) {
    case 0: {
      const count = int(rand, 0, 4);
      return { type: D.contiguous(count, old), model: refContiguous(count, om) };
    }
    case 1: {
      const [count, bl] = [int(rand, 0, 4), int(rand, 0, 3)];
      const stride = nonNegative ? int(rand, bl, bl + 3) : int(rand, -4, 5);
      return { type: D.vector(count, bl, stride, old), model: refHvector(count, bl, stride * e, om) };
    }
    case 2: {
      const [count, bl] = [int(rand, 0, 4), int(rand, 0, 3)];
      const stride = nonNegative ? bl * e + int(rand, 0, 9) : int(rand, -20, 40);
      return { type: D.hvector(count, bl, stride, old), model: refHvector(count, bl, stride, om) };
    }
    case 3: {
      const n = int(rand, 0, 4);
      const bls = Array.from({ length: n }, () => int(rand, 0, 3));
      const disps = orderedDisps(rand, bls, nonNegative);
      return {
        type: D.indexed(bls, disps, old),
        model: refHindexed(
          bls,
          disps.map((d) => d * e),
          om,
        ),
      };
    }
    case 4: {
      const n = int(rand, 0, 4);
      const bls = Array.from({ length: n }, () => int(rand, 0, 3));
      const disps = orderedDisps(rand, bls, nonNegative).map((d) => d * Math.max(e, 1));
      return { type: D.hindexed(bls, disps, old), model: refHindexed(bls, disps, om) };
    }
    case 5: {
      const bl = int(rand, 0, 3);
      const disps = orderedDisps(rand, new Array(int(rand, 0, 4)).fill(bl), nonNegative);
      return {
        type: D.indexedBlock(bl, disps, old),
        model: refHindexed(
          disps.map(() => bl),
          disps.map((d) => d * e),
          om,
        ),
      };
    }
    case 6: {
      const other = randomType(rand, depth - 1, nonNegative);
      const bls = [int(rand, 0, 3), int(rand, 0, 3)];
      const d1 = bls[0] * e + int(rand, 0, 7);
      const disps = nonNegative ? [0, d1] : [int(rand, -9, 9), int(rand, -30, 30)];
      return {
        type: D.struct(bls, disps, [old, other.type]),
        model: refStruct(bls, disps, [om, other.model]),
      };
    }
    case 7: {
      const lb = nonNegative ? 0 : int(rand, -5, 5);
      const extent = e + int(rand, nonNegative ? 0 : -e, 9);
      return { type: D.resized(old, lb, extent), model: { bytes: om.bytes, lb, ub: lb + extent } };
    }
    default: {
      const n = int(rand, 1, 3);
      const sizes = Array.from({ length: n }, () => int(rand, 1, 4));
      const subsizes = sizes.map((s) => int(rand, 1, s));
      const starts = sizes.map((s, i) => int(rand, 0, s - subsizes[i]));
      const order = pick(rand, ['C', 'Fortran'] as const);
      return {
        type: D.subarray(sizes, subsizes, starts, order, old),
        model: refSubarray(sizes, subsizes, starts, order, om),
      };
    }
  }
}

/** Displacements (in units) for blocks: increasing and apart by the blocks' lengths when ordered. */
function orderedDisps(rand: Rand, bls: number[], nonNegative: boolean): number[] {
  if (!nonNegative) return bls.map(() => int(rand, -6, 12));
  let at = int(rand, 0, 3);
  return bls.map((bl) => {
    const d = at;
    at += bl + int(rand, 0, 3);
    return d;
  });
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

describe('predefined types', () => {
  it.each(PREDEFINED.map(([t, s]) => [t.name, t, s] as const))(
    '%s has size and extent %i',
    (_n, type, size) => {
      expect([type.size, type.lb, type.ub, type.extent]).toEqual([size, 0, size, size]);
      expect(type.combiner).toBe('named');
      expect(type.isContiguous).toBe(true);
      expectMatches(type, named(size));
    },
  );

  it('names follow MPI', () => {
    expect(D.DOUBLE.name).toBe('MPI_DOUBLE');
    expect(D.INT64.name).toBe('MPI_INT64_T');
    expect(String(D.vector(3, 2, 4, D.INT))).toBe('vector(3,2,4,MPI_INT)');
  });
});

describe('constructors: sizes and extents as MPI defines them', () => {
  it('vector(3, 2, 4, INT): size 24, extent 40, three 8-byte runs', () => {
    const t = D.vector(3, 2, 4, D.INT);
    expect([t.size, t.lb, t.ub, t.extent]).toEqual([24, 0, 40, 40]);
    const f = t.flatten();
    expect([...f.offsets]).toEqual([0, 16, 32]);
    expect([...f.lengths]).toEqual([8, 8, 8]);
    expect(t.isContiguous).toBe(false);
  });

  it('contiguous and abutting vectors flatten to one run', () => {
    expect(D.contiguous(5, D.DOUBLE).flatten().count).toBe(1);
    expect(D.contiguous(5, D.DOUBLE).isContiguous).toBe(true);
    const v = D.vector(1_000_000_000, 2, 2, D.BYTE);
    expect(v.flatten().count).toBe(1);
    expect(v.size).toBe(2_000_000_000);
    expect(D.contiguous(2 ** 40, D.BYTE).flatten().lengths[0]).toBe(2 ** 40);
  });

  it('negative stride: the first block is at the upper end', () => {
    const t = D.vector(3, 1, -2, D.INT);
    expect([t.lb, t.ub, t.size]).toEqual([-16, 4, 12]);
    expect([...t.flatten().offsets]).toEqual([0, -8, -16]);
  });

  it('indexed, hindexed, indexedBlock', () => {
    const t = D.indexed([2, 1], [0, 5], D.INT);
    expect([t.size, t.extent, [...t.flatten().offsets], [...t.flatten().lengths]]).toEqual([
      12,
      24,
      [0, 20],
      [8, 4],
    ]);
    const h = D.hindexed([1, 1], [16, 0], D.DOUBLE);
    expect([h.lb, h.ub, [...h.flatten().offsets]]).toEqual([0, 24, [16, 0]]);
    const b = D.indexedBlock(2, [4, 0], D.INT16);
    expect([b.size, b.extent, [...b.flatten().offsets]]).toEqual([8, 12, [8, 0]]);
    expect(D.indexed([0, 0], [3, 7], D.INT).extent).toBe(0);
  });

  it('subarray: extent is the whole array, consecutive elements tile whole arrays', () => {
    const t = D.subarray([4, 6], [2, 3], [1, 2], 'C', D.INT);
    expect([t.size, t.lb, t.extent, t.trueLb, t.trueUb]).toEqual([24, 0, 96, 32, 68]);
    expect([...t.flatten().offsets]).toEqual([32, 56]);
    const two = D.contiguous(2, t).flatten();
    expect([...two.offsets]).toEqual([32, 56, 128, 152]);
    const f = D.subarray([4, 6], [2, 3], [1, 2], 'Fortran', D.INT);
    expect([...f.flatten().offsets]).toEqual([36, 52, 68]);
    expect([...f.flatten().lengths]).toEqual([8, 8, 8]);
  });

  it('struct places blocks of different types, without alignment padding', () => {
    const t = D.struct([1, 2], [0, 8], [D.INT, D.DOUBLE]);
    expect([t.size, t.lb, t.ub, [...t.flatten().offsets], [...t.flatten().lengths]]).toEqual([
      20,
      0,
      24,
      [0, 8],
      [4, 16],
    ]);
  });

  it('resized changes the tiling step, not the data', () => {
    const t = D.resized(D.INT, 0, 12);
    expect([t.size, t.extent, t.isContiguous]).toEqual([4, 12, false]);
    expect([...D.contiguous(3, t).flatten().offsets]).toEqual([0, 12, 24]);
    const shifted = D.resized(D.DOUBLE, -8, 16);
    expect([shifted.lb, shifted.ub, shifted.trueLb, shifted.trueUb]).toEqual([-8, 8, 0, 8]);
  });

  it('empty types have size 0 and extent 0', () => {
    for (const t of [
      D.contiguous(0, D.INT),
      D.vector(0, 3, 4, D.INT),
      D.indexed([], [], D.INT),
      D.struct([], [], []),
    ]) {
      expect([t.size, t.extent, t.flatten().count]).toEqual([0, 0, 0]);
    }
  });
});

describe('flatten against a brute-force reference (seeded)', () => {
  const cases = 300;

  it(`subarray in C and Fortran order, 1-4 dimensions, ${cases} random cases`, () => {
    const rand = seededRandom(1);
    for (let c = 0; c < cases; c++) {
      const n = int(rand, 1, 4);
      const sizes = Array.from({ length: n }, () => int(rand, 1, 7));
      const subsizes = sizes.map((s) => int(rand, 1, s));
      const starts = sizes.map((s, i) => int(rand, 0, s - subsizes[i]));
      const order = pick(rand, ['C', 'Fortran'] as const);
      const [old, size] = pick(rand, PREDEFINED);
      const type = D.subarray(sizes, subsizes, starts, order, old);
      expectMatches(type, refSubarray(sizes, subsizes, starts, order, named(size)));
    }
  });

  it.each([
    ['contiguous', 2],
    ['vector', 3],
    ['hvector', 4],
    ['indexed', 5],
    ['hindexed', 6],
    ['indexedBlock', 7],
    ['struct', 8],
    ['resized', 9],
  ])(`%s over random children, ${cases} cases`, (combiner, seed) => {
    const rand = seededRandom(seed);
    let hits = 0;
    for (let c = 0; hits < cases && c < 100 * cases; c++) {
      const { type, model } = randomType(rand, 3);
      if (type.name.split('(')[0] !== combiner || model.bytes.length > 20_000) continue;
      hits++;
      expectMatches(type, model);
    }
    expect(hits).toBe(cases);
  });

  it('nested random types, 500 cases', () => {
    const rand = seededRandom(10);
    for (let c = 0; c < 500; c++) {
      const { type, model } = randomType(rand, 4);
      if (model.bytes.length > 50_000) continue;
      expectMatches(type, model);
    }
  });
});

describe('big types', () => {
  it('256^3 doubles with a 128^3 subarray: 16384 runs of 1 KiB, quickly', () => {
    const t0 = performance.now();
    const t = D.subarray([256, 256, 256], [128, 128, 128], [64, 32, 100], 'C', D.DOUBLE);
    const f = t.flatten();
    expect(performance.now() - t0).toBeLessThan(500);
    expect([f.count, t.size, t.extent]).toEqual([16384, 128 ** 3 * 8, 256 ** 3 * 8]);
    expect(f.lengths.every((l) => l === 1024)).toBe(true);
    expect(f.offsets[0]).toBe(((64 * 256 + 32) * 256 + 100) * 8);
    expect(f.offsets[1] - f.offsets[0]).toBe(256 * 8);
    expect(f.offsets[128] - f.offsets[0]).toBe(256 * 256 * 8);
    // Fortran order folds the other way: rows along the first dimension.
    const g = D.subarray([256, 256, 256], [128, 128, 128], [64, 32, 100], 'Fortran', D.DOUBLE).flatten();
    expect(g.count).toBe(16384);
    // Full trailing dimensions fold into longer runs.
    expect(D.subarray([512, 256, 256], [100, 256, 256], [7, 0, 0], 'C', D.DOUBLE).flatten().count).toBe(1);
  });

  it(`refuses to flatten past DATATYPE_RUNS_MAX (${DATATYPE_RUNS_MAX}) runs`, () => {
    const t = D.vector(DATATYPE_RUNS_MAX + 1, 1, 2, D.BYTE);
    expect(t.size).toBe(DATATYPE_RUNS_MAX + 1);
    expectInval(() => t.flatten(), /DATATYPE_RUNS_MAX/);
  });

  it('refuses sizes past 2^53', () => {
    expectInval(() => D.contiguous(2 ** 50, D.contiguous(2 ** 10, D.BYTE)), /passes 2\^53/);
  });
});

/** The data byte k of `count` tiled elements, per the model: the byte at (k / size) * extent + bytes[k % size]. */
const modelByte = (m: Model, k: number): number =>
  Math.floor(k / m.bytes.length) * ext(m) + m.bytes[k % m.bytes.length];

describe('RunCursor over a data range of tiled elements', () => {
  it('random types and ranges match the byte map, runs merged, buffer offsets in order', () => {
    const rand = seededRandom(20);
    for (let c = 0; c < 400; c++) {
      const { type, model } = randomType(rand, 3);
      if (model.bytes.length === 0 || model.bytes.length > 5000) continue;
      const count = int(rand, 1, 5);
      const total = count * type.size;
      const pos = int(rand, 0, total);
      const length = int(rand, 0, total - pos);
      const base = int(rand, -3, 100);
      const got: number[] = [];
      const bufs: number[] = [];
      let prevEnd = Number.NaN;
      for (const run of new RunCursor(type, count, pos, length, base)) {
        expect(run.length).toBeGreaterThan(0);
        expect(run.offset).not.toBe(prevEnd);
        prevEnd = run.offset + run.length;
        expect(run.bufOffset).toBe(got.length);
        for (let b = 0; b < run.length; b++) got.push(run.offset + b);
        bufs.push(run.bufOffset);
      }
      const want = Array.from({ length }, (_, i) => base + modelByte(model, pos + i));
      expect(got).toEqual(want);
      if (length > 0) expect(type.locate(pos)).toBe(modelByte(model, pos));
    }
  });

  it('walks an unbounded tiling lazily', () => {
    const t = D.vector(2, 1, 3, D.DOUBLE);
    const c = new RunCursor(t, Infinity, 2 ** 40, 2 ** 45);
    const seen: number[][] = [];
    for (let i = 0; i < 3 && c.next(); i++) seen.push([c.offset, c.length, c.bufOffset]);
    const e = 2 ** 40 / 16;
    expect(seen).toEqual([
      [e * 32, 8, 0],
      [e * 32 + 24, 16, 8], // the second block abuts the next element's first
      [e * 32 + 56, 16, 24],
    ]);
  });

  it('a contiguous type yields one run for any range', () => {
    const c = new RunCursor(D.DOUBLE, Infinity, 3, 2 ** 50, 10);
    expect([c.next(), c.offset, c.length, c.next()]).toEqual([true, 13, 2 ** 50, false]);
  });

  it('rejects ranges past count elements', () => {
    expectInval(() => new RunCursor(D.INT, 2, 4, 5), /passes the 8 bytes of 2 x MPI_INT/);
    expectInval(() => new RunCursor(D.INT, -1, 0, 0), /count must be a non-negative integer, got -1/);
  });
});

describe('pack and unpack', () => {
  it('round trips random types against the byte map', () => {
    const rand = seededRandom(30);
    let done = 0;
    for (let c = 0; c < 400; c++) {
      const { type, model } = randomType(rand, 3, true);
      if (model.bytes.length === 0 || model.bytes.length > 5000 || type.trueLb < 0) continue;
      const count = int(rand, 1, 3);
      const span = (count - 1) * type.extent + type.trueUb;
      const src = Uint8Array.from({ length: span + int(rand, 0, 5) }, () => int(rand, 0, 255));
      const packed = pack(type, count, src);
      expect(packed.length).toBe(packedSize(type, count));
      const want = Array.from({ length: count * type.size }, (_, k) => src[modelByte(model, k)]);
      expect([...packed]).toEqual(want);
      // unpack puts each packed byte back where the model says; other bytes stay untouched.
      const dst = new Uint8Array(src.length).fill(0xee);
      unpack(type, count, packed, dst);
      const expected = new Uint8Array(src.length).fill(0xee);
      for (let k = 0; k < packed.length; k++) expected[modelByte(model, k)] = packed[k];
      expect(dst).toEqual(expected);
      done++;
    }
    expect(done).toBeGreaterThan(100);
  });

  it('packs the interior of a 3-D array with ghost cells and unpacks it back', () => {
    const [n, g] = [6, 1];
    const full = n + 2 * g;
    const local = new Float64Array(full ** 3).map((_, i) => i);
    const interior = D.subarray([full, full, full], [n, n, n], [g, g, g], 'C', D.DOUBLE);
    const packed = new Float64Array(pack(interior, 1, local).buffer);
    const want: number[] = [];
    for (let z = g; z < g + n; z++)
      for (let y = g; y < g + n; y++) for (let x = g; x < g + n; x++) want.push((z * full + y) * full + x);
    expect([...packed]).toEqual(want);
    const back = new Float64Array(full ** 3);
    unpack(interior, 1, packed, back);
    for (const i of want) expect(back[i]).toBe(i);
    expect(back.reduce((a, b) => a + b, 0)).toBe(want.reduce((a, b) => a + b, 0));
  });

  it('refuses buffers the type does not fit', () => {
    const t = D.vector(2, 1, 3, D.INT);
    expectInval(
      () => pack(t, 2, new Uint8Array(30)),
      /src holds 30 bytes, 2 x vector\(2,1,3,MPI_INT\) reaches byte 32/,
    );
    expectInval(
      () => pack(D.hindexed([1], [-4], D.INT), 1, new Uint8Array(30)),
      /data at byte -4, before the start of src/,
    );
    expectInval(
      () => unpack(t, 1, new Uint8Array(7), new Uint8Array(40)),
      /contiguous holds 7 bytes, 1 x .* needs 8/,
    );
    expectInval(
      () => unpack(t, 2, new Uint8Array(16), new Uint8Array(31)),
      /dst holds 31 bytes, 2 x .* reaches byte 32/,
    );
    expectInval(() => pack(t, -1, new Uint8Array(40)), /count must be a non-negative integer, got -1/);
  });
});

describe('bad arguments are rejected, naming the argument', () => {
  const cases: [string, () => unknown, RegExp][] = [
    [
      'negative count',
      () => D.contiguous(-1, D.INT),
      /Datatype.contiguous: count must be a non-negative integer, got -1/,
    ],
    ['fractional count', () => D.contiguous(1.5, D.INT), /count must be a non-negative integer, got 1.5/],
    [
      'negative blocklength',
      () => D.vector(2, -1, 3, D.INT),
      /Datatype.vector: blocklength must be a non-negative integer/,
    ],
    [
      'non-integer stride',
      () => D.hvector(2, 1, 0.5, D.INT),
      /Datatype.hvector: strideBytes must be an integer, got 0.5/,
    ],
    ['old not a type', () => D.vector(2, 1, 3, 4 as unknown as Datatype), /old must be a Datatype/],
    [
      'mismatched indexed',
      () => D.indexed([1, 2], [0], D.INT),
      /blocklengths and displacements must have the same length \(2 vs 1\)/,
    ],
    [
      'negative blocklengths[i]',
      () => D.hindexed([1, -2], [0, 8], D.INT),
      /blocklengths\[1\] must be a non-negative integer, got -2/,
    ],
    ['bad displacement', () => D.indexed([1], [Number.NaN], D.INT), /displacements\[0\] must be an integer/],
    ['bad indexedBlock', () => D.indexedBlock(-1, [0], D.INT), /Datatype.indexedBlock: blocklength must be/],
    [
      'struct types length',
      () => D.struct([1, 1], [0, 4], [D.INT]),
      /types must have one entry per block \(2\), got 1/,
    ],
    ['struct type', () => D.struct([1], [0], [null as unknown as Datatype]), /types\[0\] must be a Datatype/],
    [
      'resized negative extent',
      () => D.resized(D.INT, 0, -4),
      /Datatype.resized: extent must be a non-negative integer/,
    ],
    ['subarray no dims', () => D.subarray([], [], [], 'C', D.INT), /sizes must be a non-empty array/],
    [
      'subarray lengths',
      () => D.subarray([4, 4], [2], [0, 0], 'C', D.INT),
      /sizes, subsizes and starts must have the same length \(2, 1, 2\)/,
    ],
    [
      'subsizes > sizes',
      () => D.subarray([4, 4], [2, 5], [0, 0], 'C', D.INT),
      /subsizes\[1\] must be an integer in \[1, sizes\[1\] = 4\], got 5/,
    ],
    [
      'subsize 0',
      () => D.subarray([4], [0], [0], 'C', D.INT),
      /subsizes\[0\] must be an integer in \[1, sizes\[0\] = 4\], got 0/,
    ],
    [
      'starts out of range',
      () => D.subarray([4, 4], [2, 2], [0, 3], 'C', D.INT),
      /starts\[1\] must be an integer in \[0, sizes\[1\] - subsizes\[1\] = 2\], got 3/,
    ],
    [
      'negative start',
      () => D.subarray([4], [2], [-1], 'C', D.INT),
      /starts\[0\] must be an integer in \[0, .*\], got -1/,
    ],
    ['sizes 0', () => D.subarray([0], [0], [0], 'C', D.INT), /sizes\[0\] must be a positive integer, got 0/],
    [
      'bad order',
      () => D.subarray([4], [2], [0], 'F' as 'C', D.INT),
      /order must be 'C' or 'Fortran', got F/,
    ],
    [
      'too many dims',
      () =>
        D.subarray(
          new Array(SUBARRAY_NDIMS_MAX + 1).fill(1),
          new Array(SUBARRAY_NDIMS_MAX + 1).fill(1),
          new Array(SUBARRAY_NDIMS_MAX + 1).fill(0),
          'C',
          D.BYTE,
        ),
      /33 dimensions, at most 32/,
    ],
  ];
  it.each(cases)('%s', (_what, fn, message) => expectInval(fn, message));
});
