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
  unlockDataset,
  writeTable,
} from '../adapters/arrow/index.js';
import { type Container, DaosError, DaosSystem } from '../index.js';
import { describeSchema, everyTypeTable, moreTypesTable, tableValues } from './arrow-helpers.js';

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
    // A small slice stores only its own bytes (not the whole buffers it is a view of).
    const long = A.vectorFromArray(
      Array.from({ length: 10_000 }, (_, i) => `a string longer than twelve bytes, number ${i}`),
      new A.Utf8View(),
    );
    const before = (await sys.engineCounters(0)).bytesWritten;
    await writeTable(cont, 'sliced-views', new A.Table({ v: long.slice(5000, 5002) }));
    expect((await sys.engineCounters(0)).bytesWritten - before).toBeLessThan(16 * 1024);
    expect([...(await readTable(cont, 'sliced-views')).getChild('v')!]).toEqual([...long.slice(5000, 5002)]);
    // A slice of one column alone, as a vector, too.
    const v = t.getChild('lutf8')!.slice(5, 400);
    const one = new A.Table({ lutf8: v });
    await writeTable(cont, 'sliced-vector', one);
    expectSameTable(await readTable(cont, 'sliced-vector'), one);
  });

  it('round trips the rarer types: fixed-size lists, maps, large lists and binaries, views, times, intervals', async () => {
    const t = moreTypesTable(600, 3);
    await writeTable(cont, 'more', t);
    expectSameTable(await readTable(cont, 'more'), t);
    for (const [s, e] of [
      [5, 411],
      [199, 203],
    ] as const) {
      await writeTable(cont, `more-${s}`, t.slice(s, e));
      expectSameTable(await readTable(cont, `more-${s}`), t.slice(s, e));
      expectSameTable(
        await readTable(cont, 'more', { rows: [s, e], columns: ['map', 'bview', 'sdict', 'fsl'] }),
        t.select(['map', 'bview', 'sdict', 'fsl']).slice(s, e),
      );
    }
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

describe('Arrow adapter: appends, snapshots, bad input, IPC', () => {
  let sys: DaosSystem;
  let dir: string;
  let cont: Container;
  const counters = () => sys.engineCounters(0);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'daos-arrow2-'));
    sys = await DaosSystem.start({ dir, engines: 1, targetsPerEngine: 2 });
    await sys.createPool({ label: 'tank', size: '2G' });
    const pool = await (await sys.connect()).connectPool('tank');
    await pool.createContainer({ label: 'tables' });
    cont = await pool.openContainer('tables');
  });

  afterAll(async () => {
    await sys?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('appends from a reader, an async iterable and a Node stream; a held dataset keeps its snapshot', async () => {
    const all = everyTypeTable(900, 6, 3);
    const part = (s: number, e: number): A.Table => all.slice(s, e);
    await writeTable(cont, 'grow', part(0, 300));
    const held = await openDataset(cont, 'grow');
    expect(held.numRows).toBe(300);
    // A reader in the middle of iterating when the appends land.
    const it = held.batches()[Symbol.asyncIterator]();
    const first = await it.next();
    expect(first.done).toBe(false);

    // A RecordBatchReader over IPC bytes.
    // (IPC pieces start on a batch: apache-arrow 21.2.0's IPC writer garbles a Utf8View batch
    // sliced at an offset, before the adapter sees it.)
    const reader = A.RecordBatchReader.from(A.tableToIPC(part(300, 450), 'stream'));
    expect(await appendBatches(cont, 'grow', reader)).toBe(150);
    // An async iterable of batches (sliced ones).
    const batches = part(450, 750).batches;
    const gen = (async function* () {
      for (const b of batches) yield b;
    })();
    expect(await appendBatches(cont, 'grow', gen)).toBe(300);
    // A Node stream of IPC bytes (file format too).
    expect(await appendBatches(cont, 'grow', Readable.from([A.tableToIPC(part(750, 900), 'file')]))).toBe(
      150,
    );

    let rest = 0;
    for (let r = await it.next(); !r.done; r = await it.next()) rest += r.value.numRows;
    expect(first.value!.numRows + rest).toBe(300);
    expect(held.numRows).toBe(300);
    expectSameTable(await held.read(), part(0, 300));
    const now = await openDataset(cont, 'grow');
    expect(now.numRows).toBe(900);
    expectSameTable(await now.read(), all);
    // Appends brought new dictionaries: exports join them (the file format allows no
    // replacement dictionaries); a stream may keep them as replacements.
    for (const [format, joinDictionaries] of [
      ['file', true],
      ['stream', true],
      ['stream', false],
    ] as const) {
      const path = join(dir, `grow.${format}.${joinDictionaries}.arrow`);
      await exportIpc(cont, 'grow', path, { format, joinDictionaries });
      expectSameTable(A.tableFromIPC(readFileSync(path)), all);
    }
    await rejects(
      exportIpc(cont, 'grow', join(dir, 'never.arrow'), { joinDictionaries: false }),
      'DER_INVAL',
      /file format needs joined dictionaries/,
    );
    expectSameTable(
      await readTable(cont, 'grow', { columns: ['view', 'dict'], rows: [250, 750] }),
      all.select(['view', 'dict']).slice(250, 750),
    );
  });

  it('a container snapshot keeps a dataset as it was (read through cont.atSnapshot)', async () => {
    const all = everyTypeTable(400, 4, 9);
    await writeTable(cont, 'snap', all.slice(0, 200));
    const epoch = await cont.createSnapshot('before-append');
    await appendBatches(cont, 'snap', all.slice(200, 400));
    const then = cont.atSnapshot(epoch);
    expect((await openDataset(then, 'snap')).numRows).toBe(200);
    expectSameTable(
      await readTable(then, 'snap', { columns: ['view', 'dict'] }),
      all.slice(0, 200).select(['view', 'dict']),
    );
    expectSameTable(await readTable(cont, 'snap'), all);
    // Read-only: a snapshot view refuses appends.
    await rejects(appendBatches(then, 'snap', all.slice(0, 10)), 'DER_NO_PERM', /./);
  });

  it('one append at a time: a second concurrent append fails with DER_BUSY and changes nothing', async () => {
    const t = everyTypeTable(100, 2, 4);
    await writeTable(cont, 'busy', t);
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let started!: () => void;
    const inside = new Promise<void>((r) => {
      started = r;
    });
    const slow = (async function* () {
      yield t.batches[0]!;
      started();
      await gate;
      yield t.batches[1]!;
    })();
    const first = appendBatches(cont, 'busy', slow);
    await inside;
    await rejects(
      appendBatches(cont, 'busy', t),
      'DER_BUSY',
      /another append to dataset "busy" is in progress/,
    );
    release();
    expect(await first).toBe(100);
    expect((await openDataset(cont, 'busy')).numRows).toBe(200);
    // The lock is gone: appends work again.
    expect(await appendBatches(cont, 'busy', t)).toBe(100);
    expect(await unlockDataset(cont, 'busy')).toBe(false);
    // A writer that died holding the lock (its lock key written by hand, as it would have left
    // it: the catalog's reserved id, then the dataset object's `lock` key).
    const catalog = cont.kv(cont.reservedOid(0x41n << 64n, { type: 'multi_lexical' }));
    const [hi, lo] = Buffer.from((await catalog.get('busy'))!)
      .toString()
      .split('.');
    await cont.kv({ hi: BigInt(`0x${hi}`), lo: BigInt(`0x${lo}`) }).put('lock', 'a dead writer');
    await rejects(appendBatches(cont, 'busy', t), 'DER_BUSY', /if its writer died, unlockDataset clears it/);
    expect(await unlockDataset(cont, 'busy')).toBe(true);
    expect(await appendBatches(cont, 'busy', t)).toBe(100);
    expect((await openDataset(cont, 'busy')).numRows).toBe(400);
  });

  it('bad input fails clearly and writes nothing', async () => {
    const t = everyTypeTable(50, 1, 5);
    await writeTable(cont, 'good', t);
    const before = await counters();
    // Unknown column, rows out of range, on reads and exports.
    await rejects(readTable(cont, 'good', { columns: ['i8', 'nope'] }), 'DER_NONEXIST', /no column "nope"/);
    for (const rows of [
      [0, 51],
      [5, 3],
      [-1, 2],
      [1.5, 2],
    ] as Array<[number, number]>)
      await rejects(
        readTable(cont, 'good', { rows }),
        'DER_INVAL',
        /out of range: need 0 <= start <= end <= 50/,
      );
    await rejects(readTable(cont, 'missing'), 'DER_NONEXIST', /no Arrow dataset "missing"/);
    const out = join(dir, 'never.arrow');
    await rejects(exportIpc(cont, 'good', out, { columns: ['zz'] }), 'DER_NONEXIST', /no column "zz"/);
    expect(() => readFileSync(out)).toThrow(/ENOENT/);
    // Schema mismatch on append: another type, another column set.
    const wrongType = new A.Table({ i8: A.vectorFromArray(['x'], new A.Utf8()) });
    await rejects(
      appendBatches(cont, 'good', wrongType),
      'DER_INVAL',
      /schema mismatch.*columns \[i8\] differ/,
    );
    const retyped = t.select(['i8']).schema;
    const sameNames = new A.Table(
      t.schema.fields
        .map((f) => (f.name === 'i32' ? new A.Field('i32', new A.Float64()) : f))
        .reduce(
          (acc, f) => {
            acc[f.name] = f.name === 'i32' ? A.vectorFromArray(new Float64Array(50)) : t.getChild(f.name)!;
            return acc;
          },
          {} as Record<string, A.Vector>,
        ),
    );
    expect(retyped.fields).toHaveLength(1);
    await rejects(
      appendBatches(cont, 'good', sameNames),
      'DER_INVAL',
      /column "i32" is Float64 in the batch but Int32/,
    );
    // Existing name; unsupported type; missing dataset.
    await rejects(writeTable(cont, 'good', t), 'DER_EXIST', /exists/);
    const unionField = new A.Field(
      'u',
      new A.DenseUnion([0, 1], [new A.Field('n', new A.Float64()), new A.Field('s', new A.Utf8())]),
    );
    const union = new A.Table(new A.Schema([unionField]));
    await rejects(
      writeTable(cont, 'unions', union),
      'DER_NOTSUPPORTED',
      /column "u".*union types are not supported/,
    );
    await rejects(appendBatches(cont, 'missing', t), 'DER_NONEXIST', /no Arrow dataset "missing"/);
    const after = await counters();
    expect(after.bytesWritten).toBe(before.bytesWritten);
    expect(after.ops.update.count).toBe(before.ops.update.count);
    expect(await listDatasets(cont)).not.toContain('unions');
    // A mismatch in a later batch: the batches before it are not committed.
    const mixed = (async function* () {
      yield t.batches[0]!;
      yield wrongType.batches[0]!;
    })();
    await rejects(appendBatches(cont, 'good', mixed), 'DER_INVAL', /schema mismatch/);
    const ds = await openDataset(cont, 'good');
    expect(ds.numRows).toBe(50);
    expectSameTable(await ds.read(), t);
    expect(await appendBatches(cont, 'good', t)).toBe(50);
    expectSameTable(await readTable(cont, 'good', { rows: [50, 100] }), t);
  });

  it('exports IPC files and streams that read back equal, and imports them', async () => {
    const t = everyTypeTable(400, 3, 6);
    await writeTable(cont, 'ipc', t);
    for (const format of ['file', 'stream'] as const) {
      const path = join(dir, `out.${format}.arrow`);
      expect(await exportIpc(cont, 'ipc', path, { format })).toBe(400);
      const bytes = readFileSync(path);
      expect(bytes.subarray(0, 6).toString('latin1') === 'ARROW1').toBe(format === 'file');
      expectSameTable(A.tableFromIPC(bytes), t);
      expect(await importIpc(cont, `ipc-${format}`, path)).toBe(400);
      expectSameTable(await readTable(cont, `ipc-${format}`), t);
    }
    // A stream with delta dictionaries (the second batch's dictionary extends the first's).
    const d0 = A.vectorFromArray(['a', 'b'], new A.Utf8()).data[0]!;
    const d1 = A.vectorFromArray(['c', 'a longer value than twelve'], new A.Utf8()).data[0]!;
    const dtype = new A.Dictionary(new A.Utf8(), new A.Int32(), 4);
    const dictBatch = (idx: number[], chunks: A.Data<A.Utf8>[]) =>
      new A.Table({
        c: A.makeVector(
          A.makeData({
            type: dtype,
            length: idx.length,
            data: Int32Array.from(idx),
            dictionary: A.makeVector(chunks),
          }),
        ),
      }).batches[0]!;
    const deltas = new A.Table([dictBatch([0, 1, 1], [d0]), dictBatch([3, 2, 0], [d0, d1])]);
    const deltaBytes = A.tableToIPC(deltas, 'stream');
    expect(await importIpc(cont, 'deltas', deltaBytes)).toBe(6);
    expect([...(await readTable(cont, 'deltas')).getChild('c')!]).toEqual([
      'a',
      'b',
      'b',
      'a longer value than twelve',
      'c',
      'a',
    ]);
    const deltaOut = join(dir, 'deltas.arrow');
    await exportIpc(cont, 'deltas', deltaOut);
    expect([...A.tableFromIPC(readFileSync(deltaOut)).getChild('c')!]).toEqual([
      'a',
      'b',
      'b',
      'a longer value than twelve',
      'c',
      'a',
    ]);
    // From a Node stream, and some columns and rows out.
    expect(await importIpc(cont, 'ipc-node', Readable.from([A.tableToIPC(t, 'stream')]))).toBe(400);
    expectSameTable(await readTable(cont, 'ipc-node'), t);
    const part = join(dir, 'part.arrow');
    const cols = ['utf8', 'ts_paris', 'view', 'bool', 'struct'];
    expect(await exportIpc(cont, 'ipc', part, { columns: cols, rows: [11, 390] })).toBe(379);
    expectSameTable(A.tableFromIPC(readFileSync(part)), t.select(cols).slice(11, 390));
    expect(await listDatasets(cont)).toEqual(
      expect.arrayContaining(['ipc', 'ipc-file', 'ipc-stream', 'ipc-node']),
    );
    await removeDataset(cont, 'ipc-node');
    await rejects(readTable(cont, 'ipc-node'), 'DER_NONEXIST', /no Arrow dataset/);
    writeFileSync(join(dir, 'junk.arrow'), 'not arrow at all');
    await expect(importIpc(cont, 'junk', join(dir, 'junk.arrow'))).rejects.toThrow();
    expect(await listDatasets(cont)).not.toContain('junk');
  });
});
