/**
 * .h5 files in and out of daos-ts: import an .h5 file into an HDF5 container, work on it through
 * the adapter (a hyperslab read, a new attribute, a resize), export it to a new .h5 file and read
 * that back through h5wasm. Without an input file, one is first written through h5wasm.
 * Run: npm run build && node dist/examples/hdf5-import.js [IN.h5] [DIR]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type Dataset,
  exportH5,
  type H5DatasetNode,
  H5File,
  importH5,
  readH5,
  writeH5,
} from '../adapters/hdf5-vol/index.js';
import { DaosSystem } from '../index.js';

const scratch = mkdtempSync(join(tmpdir(), 'daos-hdf5-import-example-'));
const dir = process.argv[3] ?? join(scratch, 'system');
let input = process.argv[2];

if (!input) {
  // A small file: a 2-D float64 dataset (chunked, growable along rows) with an attribute.
  input = join(scratch, 'sample.h5');
  const temps = new Float64Array(8 * 4).map((_, i) => 10 + i / 4);
  const temperature: H5DatasetNode = {
    kind: 'dataset',
    shape: [8, 4],
    maxshape: [null, 4],
    chunks: [4, 4],
    dtype: { class: 'float', size: 8, order: '<' },
    fillvalue: Number.NaN,
    trackOrder: false,
    attrs: [{ name: 'units', dtype: { class: 'vlen-string', charset: 'utf-8' }, shape: [], value: ['degC'] }],
    // Values are handed over slab by slab: rows [start[0], start[0] + count[0]).
    readSlab: async (start, count) => temps.slice(start[0]! * 4, (start[0]! + count[0]!) * 4),
  };
  await writeH5(input, {
    kind: 'group',
    trackOrder: true,
    attrs: [
      { name: 'title', dtype: { class: 'vlen-string', charset: 'utf-8' }, shape: [], value: ['sample run'] },
    ],
    links: [
      { name: 'temperature', type: 'hard', target: temperature },
      { name: 'latest', type: 'soft', path: '/temperature' },
    ],
  });
}

const sys = await DaosSystem.start({ dir, engines: 1, targetsPerEngine: 2 });
try {
  await sys.createPool({ label: 'tank', size: '1G' });
  const pool = await (await sys.connect()).connectPool('tank');

  // Import: every group, link, dataset and attribute of the file, values moved in slabs.
  const f = await H5File.open(pool, 'daos://tank/imported', 'w');
  const stats = await importH5(input, f);
  console.log(`imported ${stats.groups} groups, ${stats.datasets} datasets, ${stats.attributes} attributes`);

  const names: string[] = [];
  for await (const name of f.keys({ order: 'creation' })) names.push(name);
  console.log(`top level (creation order): ${names.join(', ')}`);
  const first = (await f.get(names.find((n) => n !== 'latest') ?? names[0]!)) as Dataset | undefined;
  if (first && 'read' in first) {
    const rows = Math.min(2, first.shape[0] ?? 1);
    const part = first.shape.length
      ? await first.read([[0, rows], ...first.shape.slice(1).map(() => null)])
      : await first.read();
    console.log(
      `${first.name}: shape [${first.shape}], first values ${Array.from(part as ArrayLike<unknown>)
        .slice(0, 4)
        .join(' ')}`,
    );
    await first.attrs.set('imported_by', 'daos-ts');
  }
  await f.close();

  // Export: the container back to an .h5 file, read here through h5wasm.
  const out = join(scratch, 'exported.h5');
  const ro = await H5File.open(pool, 'daos://tank/imported', 'r');
  await exportH5(ro, out);
  await ro.close();
  const back = await readH5(out);
  console.log(`exported: ${back.root.links.map((l) => `${l.name} (${l.type})`).join(', ')}`);
  await back.close();
  console.log('hdf5-import example done');
} finally {
  await sys.stop();
  rmSync(scratch, { recursive: true, force: true });
}
