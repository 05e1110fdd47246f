/**
 * The HDF5 adapter on a real embedded system: files, groups, links, attributes, every datatype,
 * hyperslabs against a dense in-memory reference, resize, bad input that writes nothing, and the
 * example.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Dataset,
  type Dtype,
  type DtypeValues,
  encodeValues,
  type Group,
  H5File,
  type Hyperslab,
  normalizeSelection,
  RANK_MAX,
  typedArrayFor,
} from '../adapters/hdf5-vol/index.js';
import { seededRandom } from '../core/wire/seeded-random.js';
import { DaosSystem, type Pool } from '../index.js';

const root = join(import.meta.dirname, '..');

let sys: DaosSystem;
let dir: string;
let pool: Pool;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hdf5-test-'));
  sys = await DaosSystem.start({ dir, targetsPerEngine: 2 });
  await sys.createPool({ label: 'tank', size: '2G' });
  pool = await (await sys.connect()).connectPool('tank');
}, 60_000);

afterAll(async () => {
  await sys?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function names(g: Group, order?: 'name' | 'creation'): Promise<string[]> {
  const out: string[] = [];
  for await (const n of g.keys(order ? { order } : {})) out.push(n);
  return out;
}

/** Points of a normalized selection, per dimension. */
function points(sel: ReturnType<typeof normalizeSelection>): number[][] {
  return sel.start.map((s, d) => {
    const out: number[] = [];
    for (let i = 0; i < sel.count[d]!; i++)
      for (let j = 0; j < sel.block[d]!; j++) out.push(s + i * sel.stride[d]! + j);
    return out;
  });
}

/** Call fn(flat index in the dataset, flat index in the selection) for every selected point. */
function eachPoint(
  shape: number[],
  sel: ReturnType<typeof normalizeSelection>,
  fn: (at: number, mem: number) => void,
) {
  const pts = points(sel);
  const rank = shape.length;
  const idx = new Array<number>(rank).fill(0);
  if (sel.size === 0) return;
  for (let mem = 0; mem < sel.size; mem++) {
    let at = 0;
    for (let d = 0; d < rank; d++) at = at * shape[d]! + pts[d]![idx[d]!]!;
    fn(at, mem);
    for (let d = rank - 1; d >= 0; d--) {
      if (++idx[d]! < pts[d]!.length) break;
      idx[d] = 0;
    }
  }
}

type Value = number | bigint | string | Record<string, number | bigint | string>;

/** Random values of a dtype, and the same as a plain list. */
function randomValues(t: Dtype, n: number, rnd: () => number): { values: DtypeValues; list: Value[] } {
  const ctor = typedArrayFor(t);
  if (ctor && t.class === 'int') {
    const bits = t.size * 8;
    const list: Value[] = [];
    for (let i = 0; i < n; i++) {
      if (t.size === 8) {
        const v = BigInt.asUintN(
          64,
          BigInt(Math.floor(rnd() * 2 ** 32)) * 2n ** 32n + BigInt(Math.floor(rnd() * 2 ** 32)),
        );
        list.push(t.signed ? BigInt.asIntN(64, v) : v);
      } else {
        const v = Math.floor(rnd() * 2 ** bits);
        list.push(t.signed && v >= 2 ** (bits - 1) ? v - 2 ** bits : v);
      }
    }
    return { values: (ctor as unknown as { from(a: Value[]): DtypeValues }).from(list), list };
  }
  if (ctor) {
    const arr = new (ctor as Float64ArrayConstructor)(n).map(() => Math.round((rnd() - 0.5) * 1e6) / 64);
    return { values: arr as DtypeValues, list: Array.from(arr) };
  }
  if (t.class === 'string' || t.class === 'vlen-string') {
    const len = t.class === 'string' ? t.size : 12;
    const list = Array.from({ length: n }, () =>
      'abcdefghijklmnopqrstuvwxyzé'.slice(0, Math.floor(rnd() * (len / 2 + 1))),
    );
    return { values: list, list };
  }
  if (t.class === 'compound') {
    const list = Array.from({ length: n }, () => ({
      id: Math.floor(rnd() * 1000) - 500,
      x: Math.floor(rnd() * 1e6) / 8,
      tag: 'tag'.slice(0, Math.floor(rnd() * 4)),
    }));
    return { values: list, list };
  }
  throw new Error('unreachable');
}

function asList(v: DtypeValues): Value[] {
  return Array.from(v as ArrayLike<Value>);
}

/** A random hyperslab (or numpy slice form) inside `shape`. */
function randomSelection(
  shape: number[],
  rnd: () => number,
): Hyperslab | Array<[number, number, number?] | null> {
  const pick = (n: number) => Math.floor(rnd() * n);
  if (rnd() < 0.3) {
    return shape.map((n) => {
      if (rnd() < 0.2) return null;
      const a = pick(n);
      const b = a + 1 + pick(n - a);
      return rnd() < 0.5 ? [a, b] : [a, b, 1 + pick(3)];
    });
  }
  const start: number[] = [];
  const stride: number[] = [];
  const count: number[] = [];
  const block: number[] = [];
  for (const n of shape) {
    const b = 1 + pick(Math.min(n, 4));
    const st = b + pick(4);
    const s = pick(n - b + 1);
    const maxCount = Math.floor((n - s - b) / st) + 1;
    start.push(s);
    block.push(b);
    stride.push(st);
    count.push(1 + pick(maxCount));
  }
  return { start, stride, count, block };
}

const COMPOUND: Dtype = {
  class: 'compound',
  size: 16,
  fields: [
    { name: 'id', offset: 0, type: { class: 'int', size: 2, signed: true, order: '<' } },
    { name: 'x', offset: 4, type: { class: 'float', size: 8, order: '>' } },
    { name: 'tag', offset: 12, type: { class: 'string', size: 4, charset: 'ascii' } },
  ],
};

describe('HDF5 adapter', () => {
  it('smoke: create, write, read, reopen', async () => {
    const f = await H5File.open(pool, 'smoke', 'w');
    const g = await f.createGroup('grp/sub');
    expect(g.name).toBe('/grp/sub');
    const ds = await g.createDataset('x', {
      shape: [100, 8],
      dtype: '<f8',
      chunks: [10, 8],
      maxshape: [null, 8],
    });
    const v = new Float64Array(80).map((_, i) => i);
    await ds.write([[0, 10], null], v);
    expect(
      Array.from(
        (await ds.read([
          [2, 4],
          [0, 3],
        ])) as Float64Array,
      ),
    ).toEqual([16, 17, 18, 24, 25, 26]);
    await f.close();
    const r = await H5File.open(pool, 'daos://tank/smoke', 'r');
    const x = (await r.get('grp/sub/x')) as Dataset;
    expect(x.shape).toEqual([100, 8]);
    expect(x.maxshape).toEqual([null, 8]);
    expect(
      Array.from(
        (await x.read([
          [9, 11],
          [7, 8],
        ])) as Float64Array,
      ),
    ).toEqual([79, 0]);
    await r.close();
  });

  it('hyperslab reads and writes match a dense reference (1 to 4 dims, strides, blocks, partial chunks, fill)', async () => {
    const rnd = seededRandom(0x4d5f);
    const f = await H5File.open(pool, 'slabs', 'w');
    const dtypes: Array<{ t: Dtype | string; fill: Value }> = [
      { t: '<f8', fill: -1.5 },
      { t: '<i4', fill: 7 },
      { t: '|u1', fill: 0 },
      { t: '<i8', fill: -3n },
      { t: '>u2', fill: 513 },
      { t: '>f4', fill: 0.25 },
      { t: '|S6', fill: 'fill' },
      { t: { class: 'vlen-string', charset: 'utf-8' }, fill: '∅' },
      { t: COMPOUND, fill: { id: -1, x: 0.5, tag: 'na' } },
    ];
    let checks = 0;
    let ix = 0;
    for (let rank = 1; rank <= 4; rank++) {
      for (const { t, fill } of dtypes) {
        const shape = Array.from(
          { length: rank },
          () => 3 + Math.floor(rnd() * (rank === 1 ? 60 : rank === 2 ? 14 : 6)),
        );
        // Chunk shapes that do not divide the shape.
        const chunks = shape.map((n) => Math.max(1, Math.min(n, 2 + Math.floor(rnd() * 5))));
        const ds = await f.createDataset(`d${ix++}`, { shape, dtype: t, chunks, fillvalue: fill });
        const size = shape.reduce((a, b) => a * b, 1);
        const ref: Value[] = new Array(size).fill(fill);
        for (let round = 0; round < 6; round++) {
          const sel = randomSelection(shape, rnd);
          const slab = normalizeSelection(sel, shape);
          const { values, list } = randomValues(ds.dtype, slab.size, rnd);
          await ds.write(sel, values);
          eachPoint(shape, slab, (at, mem) => {
            ref[at] = list[mem]!;
          });
          const rsel = randomSelection(shape, rnd);
          const rslab = normalizeSelection(rsel, shape);
          const want: Value[] = new Array(rslab.size);
          eachPoint(shape, rslab, (at, mem) => {
            want[mem] = ref[at]!;
          });
          expect(
            asList(await ds.read(rsel)),
            `${JSON.stringify(t)} shape ${shape} chunks ${chunks} read ${JSON.stringify(rsel)}`,
          ).toEqual(want);
          checks++;
          // readDirect into a reused buffer holding stale values: holes must come back as the fill value.
          const ctor = typedArrayFor(ds.dtype);
          if (ctor) {
            const dest = new (ctor as unknown as { new (n: number): DtypeValues })(rslab.size);
            (dest as unknown as { fill(v: unknown): void }).fill(
              ds.dtype.class === 'int' && ds.dtype.size === 8 ? 5n : 5,
            );
            expect(asList(await ds.readDirect(dest, rsel))).toEqual(want);
          } else if (ds.dtype.class === 'compound') {
            const raw = await ds.readDirect(new Uint8Array(rslab.size * 16).fill(9), rsel);
            expect(raw).toEqual(encodeValues(ds.dtype, want, rslab.size, 'expected'));
          }
        }
        expect(asList(await ds.read())).toEqual(ref);
      }
    }
    expect(checks).toBe(4 * dtypes.length * 6);
    await f.close();
  }, 120_000);

  it("racing creators: distinct names all land, one name once; 'w' starts over", async () => {
    const f = await H5File.open(pool, 'race', 'w');
    const other = await H5File.open(pool, 'race', 'r+');
    await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? f : other).createGroup(`g${i}`)));
    const same = await Promise.allSettled([f.createGroup('one'), other.createGroup('one')]);
    expect(same.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(same.find((r) => r.status === 'rejected')).toMatchObject({
      reason: { code: 'DER_EXIST', message: expect.stringMatching(/'\/one' already exists/) },
    });
    expect(await names(f)).toEqual(['g0', 'g1', 'g2', 'g3', 'g4', 'g5', 'g6', 'g7', 'one']);
    await other.close();
    await f.close();
    const fresh = await H5File.open(pool, 'race', 'w');
    expect(await names(fresh)).toEqual([]);
    await fresh.close();
  });

  it('strided reads of a large chunk: sieved span, extent lists, and fill in both', async () => {
    const f = await H5File.open(pool, 'bigchunk', 'w');
    const n = 512;
    const ds = await f.createDataset('x', { shape: [n, n], dtype: '<f8', chunks: [n, n], fillvalue: -1 });
    // Rows 0..255 written, the rest left to the fill value.
    const half = new Float64Array((n / 2) * n).map((_, i) => i);
    await ds.write([[0, n / 2], null], half);
    const at = (r: number, c: number) => (r < n / 2 ? r * n + c : -1);
    // Far apart in a 2 MiB chunk: sent as a list of extents.
    const cols = Array.from((await ds.read([null, [3, n, 100]])) as Float64Array);
    expect(cols).toEqual(Array.from({ length: n * 6 }, (_, i) => at(Math.floor(i / 6), 3 + (i % 6) * 100)));
    // Close together: one span, picked apart.
    const near = Array.from(
      (await ds.read([
        [250, 262],
        [10, 20, 3],
      ])) as Float64Array,
    );
    expect(near).toEqual(
      Array.from({ length: 12 * 4 }, (_, i) => at(250 + Math.floor(i / 4), 10 + (i % 4) * 3)),
    );
    await f.close();
  });

  it('groups, links, creation order, attributes, every type, resize and 32 dims survive close and reopen', async () => {
    const f = await H5File.open(pool, 'daos://tank/tour', 'w');
    await f.attrs.set('title', 'round trip');
    await f.attrs.set('version', 3n);
    await f.attrs.set('scale', 0.5);
    await f.attrs.set('matrix', new Int32Array([1, 2, 3, 4, 5, 6]), { shape: [2, 3] });
    await f.attrs.set('labels', ['a', 'bb', 'ccc']);
    await f.attrs.set('fixed', 'xyz', '|S8');
    await f.attrs.set('point', { x: 1.5, y: -2n, name: 'p' });
    await f.attrs.set('empty', new Float32Array(0));
    // Created out of name order: creation order must remember it.
    for (const n of ['zeta', 'alpha', 'mid']) await f.createGroup(`groups/${n}`);
    await f.createGroup('a/b/c');
    const types: Record<string, Dtype | string> = {
      i1: '|i1',
      u1: '|u1',
      i2: '<i2',
      u2: '>u2',
      i4: '<i4',
      u4: '<u4',
      i8: '<i8',
      u8: '<u8',
      f4: '<f4',
      f8: '>f8',
      s5: '|S5',
      vlen: { class: 'vlen-string', charset: 'utf-8' },
      comp: COMPOUND,
    };
    const rnd = seededRandom(7);
    const written: Record<string, Value[]> = {};
    for (const [name, t] of Object.entries(types)) {
      const ds = await f.createDataset(`types/${name}`, { shape: [3, 5], dtype: t });
      const { values, list } = randomValues(ds.dtype, 15, rnd);
      await ds.write(null, values);
      written[name] = list;
      await ds.attrs.set('kind', name);
    }
    const grow = await f.createDataset('grow', {
      shape: [4, 3],
      dtype: '<i4',
      maxshape: [null, 6],
      fillvalue: -9,
      data: new Int32Array(12).map((_, i) => i),
    });
    await grow.resize([6, 5]);
    await grow.write(
      [
        [4, 6],
        [3, 5],
      ],
      new Int32Array([40, 41, 50, 51]),
    );
    // Shrinking drops what falls outside (the 40 and 41 at column 3 and 4); growing again shows the fill.
    await grow.resize([5, 2]);
    await grow.resize([6, 4]);
    const dims = Array.from({ length: RANK_MAX }, (_, d) => (d % 8 === 0 ? 2 : 1));
    const big = await f.createDataset('rank32', { shape: dims, dtype: '<u2', chunks: dims.map(() => 1) });
    await big.write(
      null,
      new Uint16Array(16).map((_, i) => i * 3),
    );
    const target = (await f.get('types/f8')) as Dataset;
    await f.link('hard-f8', target);
    await (f.get('a/b') as Promise<Group>).then((g) => g.symlink('up', '/groups'));
    await f.symlink('dangling', '/no/such/thing');
    await f.symlink('links/deep/to-grow', '/grow');
    await f.link('links/hard-grow', grow);
    await f.createGroup('doomed');
    await f.delete('doomed');
    await f.createGroup('a/b/gone');
    await f.delete('a/b/gone');
    await f.attrs.set('list', [1, 2.5, -3]);
    await f.attrs.set('ints', [1, 2, 300], '<i2');
    const scalar = await f.createDataset('scalar', {
      shape: [],
      dtype: '<i8',
      data: new BigInt64Array([-42n]),
    });
    expect(scalar.size).toBe(1);
    await f.close();

    const r = await H5File.open(pool, 'tour', 'r');
    expect(await names(r)).toEqual([
      'a',
      'dangling',
      'groups',
      'grow',
      'hard-f8',
      'links',
      'rank32',
      'scalar',
      'types',
    ]);
    expect(await names(r, 'creation')).toEqual([
      'groups',
      'a',
      'types',
      'grow',
      'rank32',
      'hard-f8',
      'dangling',
      'links',
      'scalar',
    ]);
    expect(await names((await r.get('a/b')) as Group)).toEqual(['c', 'up']);
    expect(await r.getLink('a/b/up')).toEqual({ type: 'soft', path: '/groups' });
    expect(await r.getLink('no/such/link')).toBeUndefined();
    expect(((await r.get('links/deep/to-grow')) as Dataset).oid).toEqual(grow.oid);
    expect(await r.getLink('links/hard-grow')).toEqual({ type: 'hard', oid: grow.oid });
    expect(Array.from((await r.attrs.get('list')) as Float64Array)).toEqual([1, 2.5, -3]);
    expect((await r.attrs.get('ints')) as Int16Array).toEqual(new Int16Array([1, 2, 300]));
    const sc = (await r.get('scalar')) as Dataset;
    expect(sc.shape).toEqual([]);
    expect(await sc.read()).toEqual(new BigInt64Array([-42n]));
    const groups = (await r.get('groups')) as Group;
    expect(await names(groups)).toEqual(['alpha', 'mid', 'zeta']);
    expect(await names(groups, 'creation')).toEqual(['zeta', 'alpha', 'mid']);
    expect(await r.attrs.keys()).toEqual([
      'empty',
      'fixed',
      'ints',
      'labels',
      'list',
      'matrix',
      'point',
      'scale',
      'title',
      'version',
    ]);
    expect(await r.attrs.keys({ order: 'creation' })).toEqual([
      'title',
      'version',
      'scale',
      'matrix',
      'labels',
      'fixed',
      'point',
      'empty',
      'list',
      'ints',
    ]);
    expect(await r.attrs.get('title')).toBe('round trip');
    expect(await r.attrs.get('version')).toBe(3n);
    expect(await r.attrs.get('scale')).toBe(0.5);
    expect(Array.from((await r.attrs.get('matrix')) as Int32Array)).toEqual([1, 2, 3, 4, 5, 6]);
    expect((await r.attrs.info('matrix'))?.shape).toEqual([2, 3]);
    expect(await r.attrs.get('labels')).toEqual(['a', 'bb', 'ccc']);
    expect(await r.attrs.get('fixed')).toBe('xyz');
    expect((await r.attrs.info('fixed'))?.dtype).toEqual({ class: 'string', size: 8, charset: 'ascii' });
    expect(await r.attrs.get('point')).toEqual({ x: 1.5, y: -2n, name: 'p' });
    expect(await r.attrs.get('empty')).toEqual(new Float32Array(0));
    expect(await r.attrs.get('missing')).toBeUndefined();
    for (const [name, t] of Object.entries(types)) {
      const ds = (await r.get(`/types/${name}`)) as Dataset;
      expect(ds.name).toBe(`/types/${name}`);
      expect(ds.dtype).toEqual(typeof t === 'string' ? expect.objectContaining({}) : t);
      expect(ds.shape).toEqual([3, 5]);
      expect(ds.layout).toBe('contiguous');
      expect(asList(await ds.read()), name).toEqual(written[name]);
      expect(await ds.attrs.get('kind')).toBe(name);
    }
    const g2 = (await r.get('grow')) as Dataset;
    expect(g2.shape).toEqual([6, 4]);
    expect(g2.maxshape).toEqual([null, 6]);
    expect(g2.fillvalue).toBe(-9);
    expect(Array.from((await g2.read()) as Int32Array)).toEqual([
      0, 1, -9, -9, 3, 4, -9, -9, 6, 7, -9, -9, 9, 10, -9, -9, -9, -9, -9, -9, -9, -9, -9, -9,
    ]);
    const b2 = (await r.get('rank32')) as Dataset;
    expect(b2.shape).toEqual(dims);
    expect(Array.from((await b2.read()) as Uint16Array)).toEqual(Array.from({ length: 16 }, (_, i) => i * 3));
    const sel = dims.map((n) => (n === 2 ? ([1, 2] as [number, number]) : null));
    expect(Array.from((await b2.read(sel)) as Uint16Array)).toEqual([45]);
    const hard = await r.getLink('hard-f8');
    expect(hard).toEqual({ type: 'hard', oid: target.oid });
    expect(asList(await ((await r.get('hard-f8')) as Dataset).read())).toEqual(written.f8);
    expect(await r.getLink('dangling')).toEqual({ type: 'soft', path: '/no/such/thing' });
    expect(await r.get('dangling')).toBeUndefined();
    expect(await names((await r.get('a/b/up')) as Group)).toEqual(['alpha', 'mid', 'zeta']);
    expect(await r.has('a/b/up/mid')).toBe(true);
    expect(await r.has('doomed')).toBe(false);
    const info = await pool.link.mgmt.contLookup(pool.uuid, 'tour');
    expect(info.type).toBe('HDF5');
    await r.close();
  });

  it('bad input fails with a clear error and writes nothing', async () => {
    const f = await H5File.open(pool, 'strict', 'w');
    const ds = await f.createDataset('d', {
      shape: [10, 6],
      dtype: '<f4',
      chunks: [4, 4],
      maxshape: [12, 6],
      data: new Float32Array(60).map((_, i) => i),
    });
    const before = Array.from((await ds.read()) as Float32Array);
    const attempts: Array<[() => Promise<unknown>, RegExp]> = [
      [() => ds.write([[0, 11], null], new Float32Array(66)), /out of bounds in dimension 0 of extent 10/],
      [
        () => ds.write({ start: [8, 0], count: [2, 1], block: [2, 6], stride: [2, 1] }, new Float32Array(24)),
        /reaches index 11/,
      ],
      [
        () => ds.write({ start: [0, 0], count: [2, 1], block: [3, 6], stride: [2, 1] }, new Float32Array(36)),
        /block 3 is larger than stride 2/,
      ],
      [
        () => ds.write({ start: [0, 0], count: [3, 1], stride: [4, 1], block: [3, 6] }, new Float32Array(54)),
        /reaches index 10 in dimension 0, past its extent 10/,
      ],
      [() => ds.write([[0, 2], null], new Float64Array(12)), /must be a Float32Array, got Float64Array/],
      [() => ds.write([[0, 2], null], new Float32Array(11)), /selection holds 12 elements; got 11/],
      [() => ds.write([[0, 2]], new Float32Array(6)), /selection has 1 dimension\(s\); the dataspace has 2/],
      [() => ds.write([[0, 2, 0], null], new Float32Array(6)), /step 0 must be ≥ 1/],
      [
        () =>
          ds.read([
            [0, 10],
            [5, 7],
          ]),
        /out of bounds in dimension 1 of extent 6/,
      ],
      [() => ds.resize([13, 6]), /extent 13 in dimension 0 passes maxshape 12/],
      [() => ds.resize([10, 7]), /passes maxshape 6/],
      [
        () => f.createDataset('bad', { shape: [3], dtype: '<i4', data: new Int16Array(3) }),
        /must be a Int32Array/,
      ],
      [
        () => f.createDataset('bad', { shape: [3], dtype: '<i2', data: new Int16Array(4) }),
        /holds 3 elements; got 4/,
      ],
      [
        () => f.createDataset('bad', { shape: [3], dtype: '|S2', data: ['a', 'b', 'long'] }),
        /does not fit \|S2/,
      ],
      [() => f.createDataset('bad', { shape: [3], dtype: '<f9' }), /unsupported dtype|floats are 4 or 8/],
      [
        () => f.createDataset('bad', { shape: [4], maxshape: [3], dtype: '<i4' }),
        /maxshape\[0\] = 3 is below/,
      ],
      [
        () => f.createDataset('bad', { shape: new Array(33).fill(1), dtype: '<i4' }),
        /33 dimensions; the limit is 32/,
      ],
      [() => f.createDataset('bad', { shape: [2], dtype: '<i4', fillvalue: 1.5 }), /needs an integer/],
      [() => f.createDataset('d', { shape: [2], dtype: '<i4' }), /'\/d' already exists/],
      [() => f.createGroup('d/x'), /is a dataset, not a group/],
      [() => f.attrs.set('a/b', 1), /must not contain '\/'/],
      [() => f.attrs.set('n', 300, '|u1'), /300 does not fit \|u1/],
      [() => f.attrs.set('n', new Int8Array(4), { shape: [3] }), /holds 3 values; got 4/],
      [() => f.attrs.set('n', [1, 2.5], '<i4'), /element 1: <i4 needs an integer number, got 2.5/],
      [() => f.delete('nothing'), /group '\/' has no link 'nothing'/],
    ];
    for (const [i, [attempt, message]] of attempts.entries())
      await expect(attempt(), `attempt ${i}`).rejects.toThrow(message);
    expect(Array.from((await ds.read()) as Float32Array)).toEqual(before);
    expect(ds.shape).toEqual([10, 6]);
    expect(await names(f)).toEqual(['d']);
    expect(await f.attrs.keys()).toEqual([]);
    await expect(f.attrs.keys({ order: 'size' as 'name' })).rejects.toThrow(
      /order must be 'name' or 'creation'/,
    );
    await expect(
      f.attrs.set('s', 'x', {
        dtype: { class: 'vlen-string', charset: 'utf-8', padding: 'zero' as 'nullterm' },
      }),
    ).rejects.toThrow(/string padding 'zero'/);
    expect(await f.attrs.keys()).toEqual([]);

    // Attribute creation order: replacing an attribute makes it the newest (as h5py's attrs[name] = v);
    // deleting one leaves the others' order.
    await f.attrs.set('z', 1);
    await f.attrs.set('m', 2);
    await f.attrs.set('a', 3);
    await f.attrs.set('z', 4);
    await f.attrs.delete('m');
    await f.attrs.set('b', 5);
    expect(await f.attrs.keys({ order: 'creation' })).toEqual(['a', 'z', 'b']);
    expect(await f.attrs.keys()).toEqual(['a', 'b', 'z']);
    for (const n of ['a', 'z', 'b']) await f.attrs.delete(n);
    await f.close();

    // Read-only: every write fails before reaching the store.
    const r = await H5File.open(pool, 'strict', 'r');
    const rd = (await r.get('d')) as Dataset;
    for (const attempt of [
      () => rd.write(null, new Float32Array(60)),
      () => rd.resize([11, 6]),
      () => r.createGroup('g'),
      () => r.attrs.set('a', 1),
      () => r.delete('d'),
      () => rd.attrs.set('a', 1),
    ])
      await expect(attempt()).rejects.toThrow(/open read-only \(mode 'r'\)/);
    await r.close();
    // 'w-' refuses an existing file and leaves it as it was; 'r' and 'r+' refuse a missing one.
    await expect(H5File.open(pool, 'strict', 'w-')).rejects.toThrow(/exists \(mode 'w-' creates only\)/);
    await expect(H5File.open(pool, 'nowhere', 'r+')).rejects.toThrow(/does not exist/);
    await expect(H5File.open(pool, 'daos://other/strict', 'r')).rejects.toThrow(/names pool 'other'/);
    await pool.createContainer({ label: 'posix-cont', type: 'POSIX' });
    await expect(H5File.open(pool, 'posix-cont', 'a')).rejects.toThrow(/is of type POSIX, not HDF5/);
    const again = await H5File.open(pool, 'strict', 'a');
    expect(Array.from((await ((await again.get('d')) as Dataset).read()) as Float32Array)).toEqual(before);
    await again.close();
  });

  it('examples/hdf5.ts runs end to end', () => {
    const out = execFileSync(process.execPath, [join(root, 'dist/examples/hdf5.js')], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(out).toContain('row 2: 1 NaN 2 NaN 3 NaN');
    expect(out).toContain('resized to 6x6, chunks 2x4, maxshape [null,6]');
    expect(out).toContain(
      'cities: Zürich, Lyon, Kyōto; stations: [{"id":7,"elevation":408},{"id":9,"elevation":1720.5}]',
    );
    expect(out).toContain('latest/ holds (creation order): temperature, cities, stations');
    expect(out).toContain('temperature units: K, column 2: 282 288 2 5 NaN NaN');
    expect(out).toContain("write in mode 'r': DER_NO_PERM");
    expect(out).toContain('hdf5 example done');
  });
});
