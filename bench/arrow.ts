/**
 * bench:arrow — Arrow tables through the adapter (adapters/arrow) against Arrow IPC files on the
 * local disk, side by side in one run, on one table of 20 columns (18 float64, an int32 with
 * nulls, a utf8):
 *   (a) write: `writeTable` into a container against `tableToIPC(table, 'file')` + `writeFile`;
 *   (b) read: `readTable` of the whole table against `readFile` + `tableFromIPC`;
 *   (c) projection: `readTable` of 1 of the 20 columns against `readTable` of all of them, with
 *       the bytes the engine fetched (its bytesRead counter) for each.
 *
 *   npm run bench:arrow                  1 GiB; refreshes the bench:arrow block of bench/RESULTS.md
 *   npm run bench:arrow -- --quick       64 MiB (smoke run; RESULTS.md untouched)
 * Options: --size MIB (table size), --reps N (alternating repetitions per side; the best counts),
 * --dir DIR (scratch folder for the store and the local file; default the OS temp dir), --keep,
 * --results / --no-results.
 */
import { randomFillSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join, resolve } from 'node:path';
import * as A from 'apache-arrow';
import { readTable, removeDataset, writeTable } from '../adapters/arrow/index.js';
import { DaosSystem } from '../index.js';
import {
  benchFlags,
  MiB,
  machine,
  mibps,
  progress,
  type Row,
  settleDisk,
  table,
  updateResults,
} from './common.js';

const COLUMNS = 20;
const FLOAT_COLUMNS = 18;
/** Rows per record batch. */
const BATCH_ROWS = 1 << 20;
/** Average bytes of a row: 18 float64s, an int32 (and its validity bit), a utf8 of 10 bytes and its offset. */
const ROW_BYTES = FLOAT_COLUMNS * 8 + 4 + 1 / 8 + 10 + 4;
/** The column the projection reads. */
const PROJECTED = 'f7';

interface BenchOptions {
  quick: boolean;
  dir: string;
  keep: boolean;
  sizeMiB: number;
  reps: number;
  writeResults: boolean;
}

function parseOptions(argv: string[]): BenchOptions {
  const f = benchFlags(argv, {
    numbers: { size: [1024, 64, 'BENCH_ARROW_MIB'], reps: [2, 1] },
    strings: ['dir'],
  });
  return {
    quick: f.quick,
    dir: resolve(f.str('dir') ?? os.tmpdir()),
    keep: f.keep,
    sizeMiB: f.num('size'),
    reps: f.num('reps'),
    writeResults: f.writeResults,
  };
}

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** The bench table: random float64s, an int32 with every 16th row null, short strings. */
function makeTable(rows: number): A.Table {
  const batches: A.RecordBatch[] = [];
  for (let start = 0; start < rows; start += BATCH_ROWS) {
    const n = Math.min(BATCH_ROWS, rows - start);
    const cols: Record<string, A.Vector> = {};
    for (let c = 0; c < FLOAT_COLUMNS; c++) {
      const values = new Float64Array(n);
      randomFillSync(new Uint8Array(values.buffer));
      for (let i = 0; i < n; i++) if (!Number.isFinite(values[i]!)) values[i] = i; // no NaNs
      cols[`f${c}`] = A.makeVector(values);
    }
    const ints = new Int32Array(n);
    randomFillSync(new Uint8Array(ints.buffer));
    const validity = new Uint8Array((n + 7) >> 3).fill(0xff);
    for (let i = 0; i < n; i += 16) validity[i >> 3]! &= ~(1 << (i & 7));
    cols.n = A.makeVector(
      A.makeData({
        type: new A.Int32(),
        length: n,
        nullCount: Math.ceil(n / 16),
        nullBitmap: validity,
        data: ints,
      }),
    );
    const offsets = new Int32Array(n + 1);
    const bytes = new Uint8Array(n * 10);
    for (let i = 0; i < n; i++) {
      offsets[i + 1] = (i + 1) * 10;
      bytes.set(Buffer.from(`r${String(start + i).padStart(9, '0')}`, 'latin1'), i * 10);
    }
    cols.s = A.makeVector(A.makeData({ type: new A.Utf8(), length: n, valueOffsets: offsets, data: bytes }));
    batches.push(...new A.Table(cols).batches);
  }
  return new A.Table(batches);
}

/** Bytes of a table's buffers (what either side moves). */
function tableBytes(t: A.Table): number {
  return t.batches.reduce((n, b) => n + b.data.byteLength, 0);
}

/** Spot checks that a read table holds what was written. */
function check(got: A.Table, want: A.Table, what: string): void {
  if (got.numRows !== want.numRows) throw new Error(`${what}: ${got.numRows} rows, not ${want.numRows}`);
  for (const name of got.schema.names as string[]) {
    const a = got.getChild(name)!;
    const b = want.getChild(name)!;
    for (const i of [0, 1, 17, Math.floor(want.numRows / 2), want.numRows - 1])
      if (a.get(i) !== b.get(i)) throw new Error(`${what}: column ${name} row ${i} differs`);
  }
}

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  settleDisk();
  gc();
  const t0 = performance.now();
  const v = await fn();
  return [(performance.now() - t0) / 1000, v];
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  mkdirSync(o.dir, { recursive: true });
  const scratch = mkdtempSync(join(o.dir, 'daos-bench-arrow-'));
  const command = `npm run bench:arrow${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  const started = new Date();
  console.error(`bench:arrow${o.quick ? ' (quick)' : ''} in ${scratch}\n${machine()}`);
  const load0 = os.loadavg()[0]!;
  const rows = Math.floor((o.sizeMiB * MiB) / ROW_BYTES);
  const t = makeTable(rows);
  const bytes = tableBytes(t);
  const size = `${(bytes / MiB).toFixed(0)} MiB`;
  console.error(
    `table: ${rows.toLocaleString('en-US')} rows × ${COLUMNS} columns, ${size} in ${t.batches.length} batches`,
  );
  const file = join(scratch, 'table.arrow');
  const sys = await DaosSystem.start({ dir: join(scratch, 'daos'), engines: 1, targetsPerEngine: 4 });
  const result: Row[] = [];
  const best = { write: [Infinity, Infinity], read: [Infinity, Infinity], one: Infinity, all: Infinity };
  let fetched = { one: 0, all: 0 };
  let fileBytes = 0;
  try {
    await sys.createPool({ label: 'bench', size: '64G' });
    const pool = await (await sys.connect()).connectPool('bench');
    await pool.createContainer({ label: 'tables' });
    const cont = await pool.openContainer('tables');
    const counters = () => sys.engineCounters(0);
    for (let rep = 0; rep < o.reps; rep++) {
      const last = rep === o.reps - 1;
      // (a) and (b), the sides alternating in order from one repetition to the next.
      for (let k = 0; k < 2; k++) {
        if ((rep + k) % 2 === 0) {
          const [w] = await timed(() => writeTable(cont, 'bench', t));
          const [r, back] = await timed(() => readTable(cont, 'bench'));
          check(back, t, 'adapter read');
          best.write[0] = Math.min(best.write[0]!, w);
          best.read[0] = Math.min(best.read[0]!, r);
          console.error(`  rep ${rep + 1} adapter: write ${w.toFixed(2)} s, read ${r.toFixed(2)} s`);
        } else {
          const [w] = await timed(async () => {
            const ipc = A.tableToIPC(t, 'file');
            fileBytes = ipc.byteLength;
            await writeFile(file, ipc);
          });
          const [r, back] = await timed(async () => A.tableFromIPC(await readFile(file)));
          check(back, t, 'file read');
          best.write[1] = Math.min(best.write[1]!, w);
          best.read[1] = Math.min(best.read[1]!, r);
          console.error(`  rep ${rep + 1} IPC file: write ${w.toFixed(2)} s, read ${r.toFixed(2)} s`);
        }
      }
      // (c) 1 column against all of them, on the dataset just written.
      for (const cols of [[PROJECTED], undefined]) {
        const before = await counters();
        const [s, back] = await timed(() => readTable(cont, 'bench', { columns: cols }));
        const got = (await counters()).bytesRead - before.bytesRead;
        check(back, cols ? t.select(cols) : t, 'projection');
        if (cols) {
          best.one = Math.min(best.one, s);
          fetched = { ...fetched, one: got };
        } else {
          best.all = Math.min(best.all, s);
          fetched = { ...fetched, all: got };
        }
      }
      console.error(
        `  rep ${rep + 1} projection: 1 column ${best.one.toFixed(3)} s, all ${best.all.toFixed(2)} s`,
      );
      if (!last) {
        await removeDataset(cont, 'bench');
        rmSync(file, { force: true });
      }
    }
    const w = best.write as [number, number];
    const r = best.read as [number, number];
    result.push(
      {
        test: `(a) write a ${size} table (writeTable vs tableToIPC + writeFile)`,
        ours: mibps(bytes, w[0]),
        base: `IPC file ${mibps(bytes, w[1])}`,
        ratio: w[1] / w[0],
        goal: 0.8,
      },
      {
        test: '(b) read it whole (readTable vs readFile + tableFromIPC)',
        ours: mibps(bytes, r[0]),
        base: `IPC file ${mibps(bytes, r[1])}`,
        ratio: r[1] / r[0],
        goal: 1.0,
      },
      {
        test: `(c) read 1 of ${COLUMNS} columns vs all ${COLUMNS} (readTable, time)`,
        ours: `${(best.one * 1000).toFixed(0)} ms`,
        base: `all columns ${(best.all * 1000).toFixed(0)} ms`,
        ratio: best.all / best.one,
        goal: 5,
      },
      {
        test: `(c) bytes the engine fetched for 1 of ${COLUMNS} columns vs all (bytesRead counter)`,
        ours: `${(fetched.one / MiB).toFixed(1)} MiB`,
        base: `all columns ${(fetched.all / MiB).toFixed(1)} MiB`,
        ratio: fetched.all / Math.max(1, fetched.one),
        goal: 10,
      },
    );
    progress(result);
  } finally {
    await sys.stop();
    if (!o.keep) rmSync(scratch, { recursive: true, force: true });
  }
  const load1 = os.loadavg()[0]!;
  const block = [
    `Command: \`${command}\` (node --expose-gc dist/bench/arrow.js)  `,
    `Date: ${started.toISOString()}, ${((Date.now() - started.getTime()) / 1000).toFixed(0)} s  `,
    `Machine: ${machine()}  `,
    `Load average (1 min): ${load0.toFixed(2)} at the start, ${load1.toFixed(2)} at the end  `,
    `Table: ${rows.toLocaleString('en-US')} rows × ${COLUMNS} columns (${FLOAT_COLUMNS} float64, an int32 with every 16th row null, a 10-byte utf8), ${size} of buffers in ${t.batches.length} batches of ${BATCH_ROWS.toLocaleString('en-US')} rows; the IPC file is ${(fileBytes / MiB).toFixed(0)} MiB. Adapter: an embedded system in this process (1 engine, 4 targets, durability 'process': nothing fsynced), column arrays of 1 MiB chunks. Baseline: node:fs on ${o.dir} (the page cache; no fsync either). Best of ${o.reps} alternating repetition(s) per side; a \`sync\` before every timed step. Ratios are baseline time / daos-ts time (for bytes: all columns / one column).`,
    '',
    table(result),
  ].join('\n');
  console.log(`\n${block}\n`);
  if (o.writeResults) console.error(`updated ${updateResults('arrow', block)}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
