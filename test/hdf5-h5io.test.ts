/**
 * .h5 files through h5wasm (adapters/hdf5-vol/h5io.ts), checked against h5py and h5dump: a fixture
 * written by h5py with every feature is read into our description and compared with h5py's own
 * dump, then written back and the new file read by h5py (same dump) and by h5dump (same structure).
 */

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DtypeValues } from '../adapters/hdf5-vol/dtype.js';
import { lookup3 } from '../adapters/hdf5-vol/h5-object-header.js';
import { writeH5 } from '../adapters/hdf5-vol/h5-write.js';
import {
  type H5DatasetNode,
  type H5GroupNode,
  type H5Node,
  readH5,
  slabsOf,
} from '../adapters/hdf5-vol/h5io.js';
import { describeTree, h5dumpStructure, h5dumpText, makeFixture, oracleDump, PYTHON } from './hdf5-oracle.js';

let dir: string;
let fixture: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'daos-h5io-'));
  fixture = join(dir, 'fixture.h5');
  makeFixture(fixture);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The same tree, with every readSlab call's byte size checked against `slabBytes`. */
function watchSlabs(root: H5GroupNode, slabBytes: number, calls: number[]): H5GroupNode {
  const copies = new Map<H5Node, H5Node>();
  const copy = (n: H5Node): H5Node => {
    const known = copies.get(n);
    if (known) return known;
    if (n.kind === 'dataset') {
      const ds: H5DatasetNode = {
        ...n,
        readSlab: async (start, count) => {
          const elems = count.reduce((a, b) => a * b, 1);
          const bytes = elems * (n.dtype.class === 'vlen-string' ? 64 : (n.dtype as { size: number }).size);
          expect(elems === 1 || bytes <= slabBytes).toBe(true);
          calls.push(bytes);
          return n.readSlab(start, count);
        },
      };
      copies.set(n, ds);
      return ds;
    }
    const links: H5GroupNode['links'][number][] = [];
    const g: H5GroupNode = { ...n, links };
    copies.set(n, g);
    for (const l of n.links) links.push(l.type === 'hard' ? { ...l, target: copy(l.target) } : l);
    return g;
  };
  return copy(root) as H5GroupNode;
}

describe('h5io: .h5 files through h5wasm', () => {
  it('reads the h5py fixture into a description equal to h5py’s view (slab by slab)', async () => {
    const src = await readH5(fixture);
    try {
      const ours = await describeTree(src.root, 512);
      const theirs = oracleDump(fixture);
      expect(Object.keys(ours.objects).sort()).toEqual(Object.keys(theirs.objects).sort());
      for (const path of Object.keys(theirs.objects))
        expect([path, ours.objects[path]]).toEqual([path, theirs.objects[path]]);
      // Spot checks of what the comparison covers.
      const root = theirs.objects['/']!;
      expect((root.links as { name: string }[]).slice(0, 3).map((l) => l.name)).toEqual(['zeta', 'a', 'mid']);
      expect(theirs.objects['/a/b/c/data']!.fillvalue).toBe(-7);
      expect(theirs.objects['/dims32']!.shape).toHaveLength(32);
    } finally {
      await src.close();
    }
  });

  it('writes the description back: h5py reads the same file, h5dump the same structure', async () => {
    const out = join(dir, 'export.h5');
    const src = await readH5(fixture);
    const calls: number[] = [];
    try {
      await writeH5(out, watchSlabs(src.root, 1024, calls), { slabBytes: 1024 });
    } finally {
      await src.close();
    }
    expect(calls.length).toBeGreaterThan(20); // /slabbed (10 KiB) went in slabs
    expect(oracleDump(out)).toEqual(oracleDump(fixture));
    const dumped = h5dumpStructure(out); // throws unless h5dump exits 0
    expect(dumped).toEqual(h5dumpStructure(fixture));
    expect(dumped.get('/a/b/c/data')).toMatchObject({
      kind: 'dataset',
      type: 'H5T_STD_I32LE',
      space: 'SIMPLE { ( 6, 5 ) / ( H5S_UNLIMITED, 5 ) }',
    });
    expect(dumped.get('/compound/packed')).toMatchObject({ kind: 'dataset', type: 'H5T_COMPOUND' });
    expect(dumped.get('/strings/vlen')).toMatchObject({ kind: 'dataset', type: 'H5T_STRING' });
    expect(dumped.get('/hard_data')).toMatchObject({ kind: 'dataset', hardlink: '/a/b/c/data' });
    expect(dumped.get('/alias_b')).toMatchObject({ kind: 'group', hardlink: '/a/b' });
    expect(dumped.get('/dangling')).toEqual({ kind: 'softlink', target: '/no/such/object' });
    // Everything h5dump prints, values and string padding included.
    expect(h5dumpText(out)).toEqual(h5dumpText(fixture));
  });

  it('writes element-sized slabs too (every dataset created empty, then filled)', async () => {
    const out = join(dir, 'tiny-slabs.h5');
    const src = await readH5(fixture);
    try {
      await writeH5(out, src.root, { slabBytes: 8 });
    } finally {
      await src.close();
    }
    expect(oracleDump(out)).toEqual(oracleDump(fixture));
  });

  it('writes a tree built in memory', async () => {
    const values = new Float32Array(6 * 7).map((_, i) => i / 2);
    const ds: H5DatasetNode = {
      kind: 'dataset',
      shape: [6, 7],
      maxshape: [null, 7],
      chunks: [2, 7],
      dtype: { class: 'float', size: 4, order: '<' },
      fillvalue: -1,
      trackOrder: true, // its header then stores message creation indexes: the fill patch must step over them
      attrs: [
        { name: 'u', dtype: { class: 'vlen-string', charset: 'utf-8' }, shape: [], value: ['m/s'] },
        {
          name: 'b',
          dtype: { class: 'int', size: 2, signed: true, order: '<' },
          shape: [2],
          value: new Int16Array([1, -1]),
        },
      ],
      readSlab: async (start, count) => {
        const out = new Float32Array(count[0]! * count[1]!);
        for (let r = 0; r < count[0]!; r++)
          for (let c = 0; c < count[1]!; c++)
            out[r * count[1]! + c] = values[(start[0]! + r) * 7 + start[1]! + c]!;
        return out as DtypeValues;
      },
    };
    const root: H5GroupNode = {
      kind: 'group',
      trackOrder: true,
      attrs: [],
      links: [
        { name: 'z', type: 'hard', target: ds },
        { name: 'a', type: 'soft', path: '/z' },
      ],
    };
    const out = join(dir, 'memory.h5');
    await writeH5(out, root, { slabBytes: 60 });
    const dump = oracleDump(out);
    expect(dump.objects['/z']).toMatchObject({
      shape: [6, 7],
      maxshape: [null, 7],
      chunks: [2, 7],
      fillvalue: -1,
      track_order: { attrs: true },
    });
    expect((dump.objects['/z']!.attrs as { name: string }[]).map((a) => a.name)).toEqual(['u', 'b']);
    // A string type without a recorded padding gets h5py's.
    expect((dump.objects['/z']!.attrs as { dtype: unknown }[])[0]!.dtype).toEqual({
      class: 'vlen-string',
      charset: 'utf-8',
      padding: 'nullterm',
    });
    expect(dump.objects['/z']!.data).toEqual(Array.from(values));
    expect(dump.objects['/']!.links).toEqual([
      { name: 'z', object: '/z' },
      { name: 'a', soft: '/z' },
    ]);
  });

  it('fails clearly: missing file, non-HDF5 file, slab out of bounds', async () => {
    await expect(readH5(join(dir, 'nope.h5'))).rejects.toMatchObject({ code: 'DER_NONEXIST' });
    const junk = join(dir, 'junk.h5');
    writeFileSync(junk, 'not hdf5');
    await expect(readH5(junk)).rejects.toMatchObject({ code: 'DER_INVAL' });
    const src = await readH5(fixture);
    try {
      const data = src.root.links.find((l) => l.name === 'cube');
      const cube = (data as { target: H5DatasetNode }).target;
      await expect(cube.readSlab([0, 0, 0], [4, 1, 1])).rejects.toMatchObject({ code: 'DER_INVAL' });
      await expect(cube.readSlab([0, 0], [1, 1])).rejects.toMatchObject({ code: 'DER_INVAL' });
    } finally {
      await src.close();
    }
  });

  it('big-endian datasets read as their values; written back little-endian', async () => {
    const file = join(dir, 'big-endian.h5');
    execFileSync(PYTHON, [
      '-c',
      `import h5py, numpy as np
with h5py.File(${JSON.stringify(file)}, 'w') as f:
    f.create_dataset('i', data=np.array([1, -2, 2**30], dtype='>i4'))
    f.create_dataset('d', data=np.array([0.5, -1e300], dtype='>f8'), fillvalue=2.5)`,
    ]);
    const src = await readH5(file);
    const out = join(dir, 'big-endian-out.h5');
    try {
      const theirs = oracleDump(file);
      expect(await describeTree(src.root)).toEqual(theirs);
      expect(theirs.objects['/d']).toMatchObject({ dtype: { order: '>' }, fillvalue: 2.5 });
      await writeH5(out, src.root);
    } finally {
      await src.close();
    }
    const back = oracleDump(out);
    expect(back.objects['/i']).toMatchObject({ dtype: { order: '<' }, data: [1, -2, 2 ** 30] });
    expect(back.objects['/d']).toMatchObject({ dtype: { order: '<' }, data: [0.5, -1e300], fillvalue: 2.5 });
  });

  it('string padding crosses: every padding, fixed and variable-length, attributes and compound fields', async () => {
    const file = join(dir, 'padding.h5');
    execFileSync(PYTHON, [
      '-c',
      `import h5py, numpy as np
pads = {'nullterm': h5py.h5t.STR_NULLTERM, 'nullpad': h5py.h5t.STR_NULLPAD, 'spacepad': h5py.h5t.STR_SPACEPAD}
def strtype(size, pad):
    t = h5py.h5t.C_S1.copy()
    t.set_size(size)
    t.set_strpad(pads[pad])
    if size == h5py.h5t.VARIABLE:
        t.set_cset(h5py.h5t.CSET_UTF8)
    return t
with h5py.File(${JSON.stringify(file)}, 'w') as f:
    for pad in pads:
        d = h5py.h5d.create(f.id, ('fixed_' + pad).encode(), strtype(5, pad), h5py.h5s.create_simple((2,)))
        d.write(h5py.h5s.ALL, h5py.h5s.ALL, np.array([b'ab', b'abcd'], dtype='S5'))
        v = h5py.h5d.create(f.id, ('vlen_' + pad).encode(), strtype(h5py.h5t.VARIABLE, pad), h5py.h5s.create_simple((2,)))
        v.write(h5py.h5s.ALL, h5py.h5s.ALL, np.array(['x', 'yz'], dtype=h5py.string_dtype()))
        a = h5py.h5a.create(f.id, ('attr_' + pad).encode(), strtype(5, pad), h5py.h5s.create(h5py.h5s.SCALAR))
        a.write(np.array(b'hi', dtype='S5'))
    ct = h5py.h5t.create(h5py.h5t.COMPOUND, 9)
    ct.insert(b'n', 0, strtype(5, 'spacepad'))
    ct.insert(b'i', 5, h5py.h5t.STD_I32LE)
    c = h5py.h5d.create(f.id, b'compound', ct, h5py.h5s.create_simple((2,)))
    c.write(h5py.h5s.ALL, h5py.h5s.ALL, np.array([(b'ab', 1), (b'abcde', 2)], dtype=[('n', 'S5'), ('i', '<i4')]))`,
    ]);
    const theirs = oracleDump(file);
    for (const pad of ['nullterm', 'nullpad', 'spacepad']) {
      expect(theirs.objects[`/fixed_${pad}`]).toMatchObject({
        dtype: { padding: pad },
        data: ['ab', 'abcd'],
      });
      expect(theirs.objects[`/vlen_${pad}`]).toMatchObject({ dtype: { padding: pad }, data: ['x', 'yz'] });
    }
    const out = join(dir, 'padding-out.h5');
    const src = await readH5(file);
    try {
      expect(await describeTree(src.root)).toEqual(theirs);
      await writeH5(out, src.root);
    } finally {
      await src.close();
    }
    expect(oracleDump(out)).toEqual(theirs);
    expect(h5dumpText(out)).toEqual(h5dumpText(file));
    expect(h5dumpText(out)).toContain('"ab   "'); // space-padded bytes, as HDF5 stores them
  });

  it('refuses types outside Dtype, naming the dataset', async () => {
    const file = join(dir, 'bool.h5');
    execFileSync(PYTHON, [
      '-c',
      `import h5py, numpy as np
with h5py.File(${JSON.stringify(file)}, 'w') as f:
    f.create_dataset('flags', data=np.array([True, False]))`,
    ]);
    await expect(readH5(file)).rejects.toMatchObject({
      code: 'DER_NOTSUPPORTED',
      message: /\/flags: HDF5 type class 8/,
    });
  });

  it('a fill value too big for the header’s free space fails, leaving no file', async () => {
    const out = join(dir, 'big-fill.h5');
    const ds: H5DatasetNode = {
      kind: 'dataset',
      shape: [2],
      maxshape: [2],
      chunks: null,
      dtype: { class: 'string', size: 400, charset: 'ascii' },
      fillvalue: 'x'.repeat(400),
      trackOrder: false,
      attrs: [],
      readSlab: async () => ['a', 'b'],
    };
    const root: H5GroupNode = {
      kind: 'group',
      trackOrder: false,
      attrs: [],
      links: [{ name: 's', type: 'hard', target: ds }],
    };
    await expect(writeH5(out, root)).rejects.toMatchObject({ code: 'DER_NOSPACE' });
    expect(existsSync(out)).toBe(false);
    await expect(writeH5(join(dir, 'no/such/dir.h5'), root)).rejects.toMatchObject({ code: 'DER_IO' });
  });

  it('lookup3 is Bob Jenkins’ hashlittle (his test vectors)', () => {
    expect(lookup3(new Uint8Array(0))).toBe(0xdeadbeef);
    expect(lookup3(Buffer.from('Four score and seven years ago'))).toBe(0x17770551);
  });

  it('slabsOf covers a shape once, in C order, within the byte limit', () => {
    const shape = [3, 5, 7];
    for (const limit of [8, 56, 100, 280, 10_000]) {
      const seen = new Uint8Array(3 * 5 * 7);
      let last = -1;
      for (const { start, count } of slabsOf(shape, 8, limit, [2, 2, 7])) {
        expect(count.reduce((a, b) => a * b, 1) * 8 <= Math.max(limit, 8)).toBe(true);
        const first = (start[0]! * 5 + start[1]!) * 7 + start[2]!;
        expect(first).toBeGreaterThan(last);
        last = first;
        for (let a = 0; a < count[0]!; a++)
          for (let b = 0; b < count[1]!; b++)
            for (let c = 0; c < count[2]!; c++)
              seen[((start[0]! + a) * 5 + start[1]! + b) * 7 + start[2]! + c]!++;
      }
      expect([...seen].every((n) => n === 1)).toBe(true);
    }
    expect([...slabsOf([], 8, 8)]).toEqual([{ start: [], count: [] }]);
    expect([...slabsOf([4, 0], 8, 64)]).toEqual([]);
  });
});
