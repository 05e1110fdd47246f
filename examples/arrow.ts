/**
 * Arrow tables on daos-ts: write a table into a container, read back one column of a few rows,
 * append while a reader holds a snapshot, and export an IPC file another Arrow implementation
 * (polars, when installed) reads.
 * Run: npm run build && node dist/examples/arrow.js [DIR]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as A from 'apache-arrow';
import { appendBatches, exportIpc, openDataset, readTable, writeTable } from '../adapters/arrow/index.js';
import { DaosSystem } from '../index.js';

/** Rows [start, start + n) of a table of taxi trips. */
function trips(start: number, n: number): A.Table {
  const vendors = A.vectorFromArray(['acme', 'bolt', 'cab co'], new A.Utf8());
  const idx = Int32Array.from({ length: n }, (_, i) => (start + i) % 3);
  return new A.Table({
    id: A.makeVector(Int32Array.from({ length: n }, (_, i) => start + i)),
    fare: A.makeVector(Float64Array.from({ length: n }, (_, i) => Math.round((start + i) * 1 + 50) / 100)),
    vendor: A.makeVector(
      A.makeData({
        type: new A.Dictionary(new A.Utf8(), new A.Int32()),
        length: n,
        data: idx,
        dictionary: vendors,
      }),
    ),
    pickup: A.vectorFromArray(
      Array.from({ length: n }, (_, i) => Date.UTC(2026, 0, 1) + (start + i) * 60_000),
      new A.TimestampMillisecond('UTC'),
    ),
    passengers: A.vectorFromArray(
      Array.from({ length: n }, (_, i) => ((start + i) % 10 === 0 ? null : 1 + ((start + i) % 4))),
      new A.Uint8(),
    ),
    note: A.vectorFromArray(
      Array.from({ length: n }, (_, i) =>
        (start + i) % 7 === 0 ? `late night ride number ${start + i}` : null,
      ),
      new A.Utf8View(),
    ),
  });
}

const given = process.argv[2];
const dir = given ?? mkdtempSync(join(tmpdir(), 'daos-arrow-example-'));
const sys = await DaosSystem.start({ dir, engines: 1, targetsPerEngine: 4 });
try {
  await sys.createPool({ label: 'tank', size: '2G' });
  const pool = await (await sys.connect()).connectPool('tank');
  await pool.createContainer({ label: 'analytics' });
  const cont = await pool.openContainer('analytics');

  const table = trips(0, 100_000);
  await writeTable(cont, 'trips', table);
  console.log(`wrote trips: ${table.numRows} rows, ${table.numCols} columns`);

  // Only the fare column's bytes for those rows are fetched.
  const some = await readTable(cont, 'trips', { columns: ['fare'], rows: [1000, 1005] });
  console.log(`fare of rows [1000, 1005): ${[...some.getChild('fare')!].join(', ')}`);

  // A reader holds a snapshot; an append lands; the reader still sees its rows, a new open all.
  const held = await openDataset(cont, 'trips');
  await appendBatches(cont, 'trips', trips(100_000, 50_000).batches);
  const now = await openDataset(cont, 'trips');
  console.log(`held snapshot: ${held.numRows} rows; reopened: ${now.numRows} rows`);
  let batches = 0;
  for await (const b of now.batches({ columns: ['id'] })) batches += b.numRows > 0 ? 1 : 0;
  console.log(`batches: ${batches}`);

  // An IPC file for any other Arrow implementation.
  const out = join(dir, 'trips.ipc');
  await exportIpc(cont, 'trips', out);
  try {
    const pl = (await import('nodejs-polars')).default;
    const df = pl.readIPC(out);
    console.log(
      `polars read the export: ${df.height} rows, mean fare ${Number(df.getColumn('fare').mean()).toFixed(2)}`,
    );
  } catch (err) {
    console.log(`polars not available (${(err as Error).message.split('\n')[0]}); export at ${out}`);
  }
  console.log('arrow example done');
} finally {
  await sys.stop();
  if (given === undefined) rmSync(dir, { recursive: true, force: true });
}
