/**
 * .h5 import and export on a real embedded system: the h5py fixture imported into a container, read
 * back through the adapter's API (values equal to h5py's), exported, and the exported file read by
 * h5py and h5dump; the same through `daos hdf5 import|export` and the example.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Dataset,
  describeH5File,
  exportH5,
  type Group,
  H5File,
  importH5,
} from '../adapters/hdf5-vol/index.js';
import { DaosSystem, type Pool } from '../index.js';
import {
  describeTree,
  h5dumpStructure,
  h5dumpText,
  makeFixture,
  type OracleDump,
  oracleDump,
  PYTHON,
} from './hdf5-oracle.js';

const root = join(import.meta.dirname, '..');
let dir: string;
let sys: DaosSystem;
let pool: Pool;
let fixture: string;
let oracle: OracleDump;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hdf5-transfer-'));
  fixture = join(dir, 'fixture.h5');
  makeFixture(fixture);
  oracle = oracleDump(fixture);
  sys = await DaosSystem.start({ dir: join(dir, 'sys'), targetsPerEngine: 2 });
  await sys.createPool({ label: 'tank', size: '1G' });
  pool = await (await sys.connect()).connectPool('tank');
}, 60_000);

afterAll(async () => {
  await sys?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Equal dumps: every object, its types (string padding included) and its attributes in order. */
function expectSameDump(ours: OracleDump, theirs: OracleDump) {
  expect(Object.keys(ours.objects).sort()).toEqual(Object.keys(theirs.objects).sort());
  for (const path of Object.keys(theirs.objects))
    expect([path, ours.objects[path]]).toEqual([path, theirs.objects[path]]);
}

function counts(d: OracleDump): { groups: number; datasets: number } {
  const kinds = Object.values(d.objects).map((o) => o.kind);
  return {
    groups: kinds.filter((k) => k === 'group').length,
    datasets: kinds.filter((k) => k === 'dataset').length,
  };
}

async function names(g: Group, order: 'name' | 'creation'): Promise<string[]> {
  const out: string[] = [];
  for await (const n of g.keys({ order })) out.push(n);
  return out;
}

describe('hdf5 import and export', () => {
  it('imports the h5py fixture; the adapter reads what h5py reads', async () => {
    const f = await H5File.open(pool, 'imported', 'w');
    const stats = await importH5(fixture, f, { slabBytes: 1024 });
    expect(stats).toMatchObject(counts(oracle));
    // The whole tree through the adapter's API (datasets by hyperslab reads), in h5py's form.
    const ours = await describeTree(await describeH5File(f), 700);
    expectSameDump(ours, oracle);
    // And some of it call by call.
    const o = oracle.objects;
    expect(await names(f, 'creation')).toEqual((o['/']!.links as { name: string }[]).map((l) => l.name));
    expect(await names((await f.get('ordered')) as Group, 'creation')).toEqual(['q', 'b', 'x', 'a']);
    const data = (await f.get('a/b/c/data')) as Dataset;
    expect(data.fillvalue).toBe(-7);
    expect(data.maxshape).toEqual([null, 5]);
    const cols = (await data.read([
      [0, 6],
      [1, 3],
    ])) as Int32Array;
    expect(Array.from(cols)).toEqual(
      (o['/a/b/c/data']!.data as number[]).filter((_, i) => i % 5 === 1 || i % 5 === 2),
    );
    expect(await f.getLink('soft_data')).toEqual({ type: 'soft', path: '/a/b/c/data' });
    expect(((await f.get('hard_data')) as Dataset).oid).toEqual(data.oid);
    const u64 = (await f.get('ints/u64')) as Dataset;
    expect(Array.from((await u64.read()) as BigUint64Array, String)).toEqual(o['/ints/u64']!.data);
    expect(await ((await f.get('compound/packed')) as Dataset).read([[1, 2]])).toEqual([
      { id: -2, x: 1e10, name: 'two!', flag: 0 },
    ]);
    expect(await f.attrs.get('big')).toBe(2n ** 64n - 1n);
    expect(((await f.get('dims32')) as Dataset).shape).toHaveLength(32);
    await f.close();
  });

  it('exports the imported file: h5py reads the fixture’s contents, h5dump its structure', async () => {
    const f = await H5File.open(pool, 'imported', 'r');
    const out = join(dir, 'exported.h5');
    const stats = await exportH5(f, out, { slabBytes: 1024 });
    await f.close();
    expect(stats).toMatchObject(counts(oracle));
    expect(stats.bytes).toBeGreaterThan(40 * 33 * 8);
    const exported = oracleDump(out);
    expectSameDump(exported, oracle);
    // Attributes of a creation-tracked group list in creation order, as in the source.
    expect((exported.objects['/ordered']!.attrs as { name: string }[]).map((a) => a.name)).toEqual([
      'z_first',
      'a_second',
    ]);
    expect(exported.objects['/ordered']!.track_order).toEqual({ links: true, attrs: true });
    // h5py's string paddings: NULLPAD fixed, NULLTERM variable-length (h5wasm's own differ).
    const padding = (p: string) => (exported.objects[p]!.dtype as { padding: string }).padding;
    expect(['fixed', 'fixed_utf8', 'vlen', 'vlen_ascii'].map((n) => padding(`/strings/${n}`))).toEqual([
      'nullpad',
      'nullpad',
      'nullterm',
      'nullterm',
    ]);
    expect(h5dumpStructure(out)).toEqual(h5dumpStructure(fixture));
    // All of h5dump's text: types (STRPAD included), dataspaces, attributes, every value.
    expect(h5dumpText(out)).toEqual(h5dumpText(fixture));
  });

  it('refuses to import into a file that is read-only or not empty, writing nothing', async () => {
    const ro = await H5File.open(pool, 'imported', 'r');
    await expect(importH5(fixture, ro)).rejects.toMatchObject({ code: 'DER_NO_PERM' });
    await ro.close();
    const f = await H5File.open(pool, 'imported', 'r+');
    const before = await names(f, 'name');
    await expect(importH5(fixture, f)).rejects.toMatchObject({ code: 'DER_EXIST' });
    expect(await names(f, 'name')).toEqual(before);
    await f.close();
    const g = await H5File.open(pool, 'fresh', 'w');
    await expect(importH5(join(dir, 'missing.h5'), g)).rejects.toMatchObject({ code: 'DER_NONEXIST' });
    expect(await names(g, 'name')).toEqual([]);
    // An external link (the adapter has none) is found before anything is written.
    const ext = join(dir, 'external.h5');
    execFileSync(PYTHON, [
      '-c',
      `import h5py
with h5py.File(${JSON.stringify(ext)}, 'w') as f:
    f['a'] = [1, 2]
    f['z'] = h5py.ExternalLink('other.h5', '/x')`,
    ]);
    await expect(importH5(ext, g)).rejects.toMatchObject({
      code: 'DER_NOTSUPPORTED',
      message: /\/z: external link/,
    });
    expect(await names(g, 'name')).toEqual([]);
    await g.close();
  });
});

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(root, 'dist/bin/daos.js'), ...args],
      { env: { ...process.env, DAOS_EMBEDDED: '' }, timeout: 120_000 },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('daos hdf5 import | export', () => {
  it('round-trips the fixture through the CLI', async () => {
    const cliDir = join(dir, 'cli');
    execFileSync(process.execPath, [
      join(root, 'dist/bin/dmg.js'),
      '--embedded',
      cliDir,
      'pool',
      'create',
      'p1',
      '--size',
      '1G',
    ]);
    const imp = await run(['--embedded', cliDir, 'hdf5', 'import', fixture, 'p1', 'h5c']);
    expect(imp.stderr).toBe('');
    expect(imp.code).toBe(0);
    const { groups, datasets } = counts(oracle);
    expect(imp.stdout).toMatch(
      new RegExp(`imported .*fixture\\.h5 to p1/h5c: ${groups} groups, ${datasets} datasets`),
    );
    const out = join(dir, 'cli-export.h5');
    const exp = await run(['--embedded', cliDir, '--json', 'hdf5', 'export', 'p1', 'h5c', out]);
    expect(exp.code).toBe(0);
    expect(JSON.parse(exp.stdout).response).toMatchObject({ container: 'h5c', datasets });
    expectSameDump(oracleDump(out), oracle);
    expect(h5dumpText(out)).toEqual(h5dumpText(fixture));
    expect(h5dumpStructure(out)).toEqual(h5dumpStructure(fixture));
    const again = await run(['--embedded', cliDir, 'hdf5', 'import', fixture, 'p1', 'h5c']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/DER_EXIST.*not empty/);
  });
});

describe('examples/hdf5-import.ts', () => {
  it('runs on its own sample file', () => {
    const out = execFileSync(process.execPath, [join(root, 'dist/examples/hdf5-import.js')], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(out).toContain('imported 1 groups, 1 datasets, 2 attributes');
    expect(out).toContain('top level (creation order): temperature, latest');
    expect(out).toContain('/temperature: shape [8,4], first values 10 10.25 10.5 10.75');
    expect(out).toContain('exported: temperature (hard), latest (soft)');
    expect(out).toContain('hdf5-import example done');
  });

  it('runs on the h5py fixture', () => {
    const out = execFileSync(process.execPath, [join(root, 'dist/examples/hdf5-import.js'), fixture], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(out).toContain(`imported ${counts(oracle).groups} groups, ${counts(oracle).datasets} datasets`);
    expect(out).toContain('top level (creation order): zeta, a, mid, ints');
    expect(out).toContain('hdf5-import example done');
  });
});
