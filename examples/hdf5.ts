/**
 * HDF5 on daos-ts: an h5py-shaped file in a container (type HDF5), laid out as the HDF5 DAOS VOL
 * connector lays it out. Groups, a chunked resizable dataset written and read by hyperslab,
 * attributes, links, strings and a compound type, then the file reopened read-only.
 * Run: npm run build && node dist/examples/hdf5.js [DIR]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Dataset, type Group, H5File } from '../adapters/hdf5-vol/index.js';
import { type DaosError, DaosSystem } from '../index.js';

const given = process.argv[2];
const dir = given ?? mkdtempSync(join(tmpdir(), 'daos-hdf5-example-'));
const sys = await DaosSystem.start({ dir, engines: 1, targetsPerEngine: 2 });
try {
  await sys.createPool({ label: 'tank', size: '1G' });
  const pool = await (await sys.connect()).connectPool('tank');

  // 'w' creates the container (type HDF5) or truncates it, as h5py's mode 'w' does a file.
  const f = await H5File.open(pool, 'daos://tank/climate', 'w');
  await f.attrs.set('title', 'a small climate run');
  const run = await f.createGroup('runs/2026');
  const temp = await run.createDataset('temperature', {
    shape: [4, 6],
    dtype: '<f8',
    chunks: [2, 4],
    maxshape: [null, 6],
    fillvalue: Number.NaN,
  });
  await temp.attrs.set('units', 'K');
  // Rows 0 and 1, every column; then a strided hyperslab: rows 2..3, columns 0, 2, 4.
  await temp.write(
    [[0, 2], null],
    new Float64Array(12).map((_, i) => 280 + i),
  );
  await temp.write(
    { start: [2, 0], stride: [1, 2], count: [2, 3], block: [1, 1] },
    new Float64Array([1, 2, 3, 4, 5, 6]),
  );
  const row2 = await temp.read([[2, 3], null]);
  console.log(`row 2: ${Array.from(row2 as Float64Array).join(' ')} (NaN = never written: the fill value)`);
  await temp.resize([6, 6]);
  console.log(
    `resized to ${temp.shape.join('x')}, chunks ${temp.chunks.join('x')}, maxshape ${JSON.stringify(temp.maxshape)}`,
  );

  const cities = await run.createDataset('cities', {
    shape: [3],
    dtype: { class: 'vlen-string', charset: 'utf-8' },
    data: ['Zürich', 'Lyon', 'Kyōto'],
  });
  const stations = await run.createDataset('stations', {
    shape: [2],
    dtype: {
      class: 'compound',
      size: 16,
      fields: [
        { name: 'id', offset: 0, type: { class: 'int', size: 4, signed: true, order: '<' } },
        { name: 'elevation', offset: 8, type: { class: 'float', size: 8, order: '<' } },
      ],
    },
    data: [
      { id: 7, elevation: 408 },
      { id: 9, elevation: 1720.5 },
    ],
  });
  console.log(
    `cities: ${(await cities.read()).join(', ')}; stations: ${JSON.stringify(await stations.read())}`,
  );
  await f.symlink('latest', '/runs/2026');
  await f.close();

  // Read it back read-only: names in creation order, a soft link, and a refused write.
  const r = await H5File.open(pool, 'climate', 'r');
  const keys: string[] = [];
  for await (const k of ((await r.get('latest')) as Group).keys({ order: 'creation' })) keys.push(k);
  console.log(`latest/ holds (creation order): ${keys.join(', ')}`);
  const t = (await r.get('latest/temperature')) as Dataset;
  console.log(
    `temperature units: ${await t.attrs.get('units')}, column 2: ${Array.from((await t.read([null, [2, 3]])) as Float64Array).join(' ')}`,
  );
  try {
    await t.write(null, new Float64Array(36));
  } catch (err) {
    console.log(`write in mode 'r': ${(err as DaosError).code}`);
  }
  await r.close();
  console.log('hdf5 example done');
} finally {
  await sys.stop();
  if (!given) rmSync(dir, { recursive: true, force: true });
}
