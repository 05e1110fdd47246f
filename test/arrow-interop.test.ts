/**
 * The Arrow adapter against an independent implementation (nodejs-polars, a Rust Arrow): IPC
 * written by polars (strings as Utf8View) imports correctly, and polars reads our exports with
 * the same values. And projection: reading 1 of 20 columns fetches at most a tenth of the bytes,
 * by the engine's byte counter.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as A from 'apache-arrow';
import pl from 'nodejs-polars';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportIpc, importIpc, openDataset, readTable, writeTable } from '../adapters/arrow/index.js';
import { type Container, DaosSystem } from '../index.js';
import { describeSchema, everyTypeTable, plain, prng, tableValues } from './arrow-helpers.js';

const MiB = 1 << 20;

/** A polars value as plain data, in the shapes `plain` gives Arrow values. */
function polarsPlain(v: unknown, column: A.Field): unknown {
  if (v === null || v === undefined) return null;
  if (v instanceof Date) return v.getTime();
  const id = column.type.typeId;
  if (id === A.Type.Int && (column.type as A.Int).bitWidth === 64) return `${BigInt(v as number)}n`;
  if (typeof v === 'bigint') return `${v}n`;
  if (Array.isArray(v)) {
    const child = column.type.children?.[0] as A.Field;
    return v.map((x) => polarsPlain(x, child));
  }
  if (typeof v === 'object') {
    const kids = column.type.children as A.Field[];
    return Object.fromEntries(
      kids.map((k) => [k.name, polarsPlain((v as Record<string, unknown>)[k.name], k)]),
    );
  }
  return v;
}

describe('Arrow adapter: polars interop and projection', () => {
  let sys: DaosSystem;
  let dir: string;
  let cont: Container;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'daos-arrow-pl-'));
    sys = await DaosSystem.start({ dir, engines: 1, targetsPerEngine: 2 });
    await sys.createPool({ label: 'tank', size: '4G' });
    const pool = await (await sys.connect()).connectPool('tank');
    await pool.createContainer({ label: 'tables' });
    cont = await pool.openContainer('tables');
  });

  afterAll(async () => {
    await sys?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('imports IPC written by polars (Utf8View strings, dictionaries, lists, time zones)', async () => {
    const n = 5000;
    const rnd = prng(11);
    const words = ['a', 'short', 'a string longer than twelve bytes', 'ünïcødé ✓', ''];
    const df = pl
      .DataFrame({
        s: Array.from({ length: n }, (_, i) => (i % 7 === 3 ? null : `${words[i % 5]}-${i}`)),
        i: Array.from({ length: n }, (_, i) => (i % 11 === 0 ? null : i * 1000003 - 77)),
        f: Array.from({ length: n }, () => (rnd() < 0.1 ? null : rnd() * 1e9)),
        b: Array.from({ length: n }, (_, i) => (i % 13 === 0 ? null : rnd() < 0.5)),
        l: Array.from({ length: n }, (_, i) => (i % 17 === 0 ? null : [i, null, -i].slice(0, i % 4))),
        cat: Array.from({ length: n }, (_, i) => ['x', 'y', 'z'][i % 3]),
        t: Array.from({ length: n }, (_, i) => new Date(Date.UTC(2024, 0, 1) + i * 3_600_000)),
      })
      .withColumns(
        pl.col('i').cast(pl.Int64),
        pl.col('cat').cast(pl.Categorical),
        pl.col('t').cast(pl.Datetime('ms', 'America/New_York')),
      );
    const path = join(dir, 'from-polars.ipc');
    df.writeIPC(path);
    expect(await importIpc(cont, 'from-polars', path)).toBe(n);
    const ours = await readTable(cont, 'from-polars');
    // Against apache-arrow's own reading of the same bytes: schema (metadata too) and values.
    const theirs = A.tableFromIPC(readFileSync(path));
    expect(describeSchema(ours.schema)).toEqual(describeSchema(theirs.schema));
    expect(tableValues(ours)).toEqual(tableValues(theirs));
    expect(String(ours.schema.fields.find((f) => f.name === 's')!.type)).toBe('Utf8View');
    expect(ours.schema.fields.find((f) => f.name === 'cat')!.type.typeId).toBe(A.Type.Dictionary);
    // And against polars' own values.
    for (const f of ours.schema.fields)
      expect([...ours.getChild(f.name)!].map(plain), f.name).toEqual(
        df
          .getColumn(f.name)
          .toArray()
          .map((v: unknown) => polarsPlain(v, f)),
      );
    // A projection of the imported strings, mid-table.
    const part = await readTable(cont, 'from-polars', { columns: ['s'], rows: [1234, 1300] });
    expect([...part.getChild('s')!]).toEqual(df.getColumn('s').toArray().slice(1234, 1300));
  });

  it('exports IPC files and streams polars reads with the same values', async () => {
    const cols = [
      'i8',
      'i16',
      'i32',
      'i64',
      'u8',
      'u16',
      'u32',
      'u64',
      'f32',
      'f64',
      'bool',
      'utf8',
      'lutf8',
      'view',
      'date_ms',
      'ts_utc',
      'ts_paris',
      'ts_naive',
      'list',
      'dict',
      'nul',
    ];
    const t = everyTypeTable(3000, 4, 12).select(cols);
    await writeTable(cont, 'for-polars', t);
    for (const format of ['file', 'stream'] as const) {
      const path = join(dir, `for-polars.${format}.ipc`);
      expect(await exportIpc(cont, 'for-polars', path, { format })).toBe(3000);
      const df = format === 'file' ? pl.readIPC(path) : pl.readIPCStream(readFileSync(path));
      expect(df.height).toBe(3000);
      expect(df.columns).toEqual(cols);
      for (const f of t.schema.fields)
        expect(
          df
            .getColumn(f.name)
            .toArray()
            .map((v: unknown) => polarsPlain(v, f)),
          `${format} ${f.name}`,
        ).toEqual([...t.getChild(f.name)!].map(plain));
    }
  });

  it('reading 1 of 20 columns fetches at most a tenth of the bytes (engine byte counter)', async () => {
    // 20 float64 columns, 64 MiB in all, in 8 batches.
    const COLS = 20;
    const rows = Math.floor((64 * MiB) / (COLS * 8));
    const rnd = prng(5);
    const perBatch = Math.ceil(rows / 8);
    const batches: A.RecordBatch[] = [];
    for (let s = 0; s < rows; s += perBatch) {
      const n = Math.min(perBatch, rows - s);
      const cols: Record<string, A.Vector> = {};
      for (let c = 0; c < COLS; c++)
        cols[`c${c}`] = A.makeVector(Float64Array.from({ length: n }, () => rnd()));
      batches.push(...new A.Table(cols).batches);
    }
    const t = new A.Table(batches);
    await writeTable(cont, 'wide', t);
    const read = async (columns?: string[]): Promise<{ bytes: number; table: A.Table }> => {
      const before = (await sys.engineCounters(0)).bytesRead;
      const table = await readTable(cont, 'wide', { columns });
      return { bytes: (await sys.engineCounters(0)).bytesRead - before, table };
    };
    const whole = await read();
    const one = await read(['c7']);
    expect(whole.bytes).toBeGreaterThanOrEqual(64 * MiB);
    expect(one.bytes).toBeLessThanOrEqual(whole.bytes / 10);
    expect(one.bytes).toBeLessThanOrEqual((64 * MiB) / 10);
    expect(one.table.numRows).toBe(rows);
    expect(one.table.getChild('c7')!.get(rows - 1)).toBe(t.getChild('c7')!.get(rows - 1));
    const ds = await openDataset(cont, 'wide');
    expect(ds.numBatches).toBe(8);
    console.log(`projection: whole table ${whole.bytes} bytes fetched, 1 of 20 columns ${one.bytes} bytes`);
  });
});
