/**
 * bench:hdf5 — the HDF5 adapter (daos-ts/hdf5 on an embedded system) against h5wasm writing and
 * reading a local .h5 file, side by side: a 2-D float64 dataset (default 1 GiB, rows of 64 KiB)
 * written and read in hyperslabs of whole rows (default 64 MiB), goal ≥ 1.0x both ways; then
 * strided column reads (every 64th column, all rows), reported.
 * Both sides use chunks of 16 rows (1 MiB): ours chooses them (the VOL's auto-chunking), h5wasm is
 * given them (a dataset it can grow slab by slab, so it never holds the whole array).
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import h5wasm from 'h5wasm/node';
import { type Dataset, H5File } from '../adapters/hdf5-vol/index.js';
import { DaosSystem } from '../embedded/system.js';
import { benchFlags, MiB, machine, mibps, progress, type Row, table, updateResults } from './common.js';

const COLS = 8192;
const ROW_BYTES = COLS * 8;
/** Every COLUMN_STRIDE-th column in the strided read. */
const COLUMN_STRIDE = 64;

function seconds(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

async function main(): Promise<void> {
  const started = new Date();
  const argv = process.argv.slice(2);
  const f = benchFlags(argv, {
    numbers: { size: [1024, 128, 'BENCH_HDF5_MIB'], slab: [64, 16], reps: [4, 1] },
    strings: ['dir'],
  });
  const totalBytes = f.num('size') * MiB;
  const slabBytes = Math.min(f.num('slab') * MiB, totalBytes);
  const rows = Math.floor(totalBytes / ROW_BYTES);
  const slabRows = Math.floor(slabBytes / ROW_BYTES);
  if (rows < 1 || slabRows < 1 || rows % slabRows !== 0)
    throw new Error(
      `--size ${f.num('size')} MiB must be a multiple of --slab ${f.num('slab')} MiB (rows of ${ROW_BYTES / 1024} KiB)`,
    );
  const slabs = rows / slabRows;
  const reps = f.num('reps');
  const scratch = mkdtempSync(join(f.str('dir') ?? os.tmpdir(), 'bench-hdf5-'));
  const load0 = os.loadavg()[0]!;
  const buf = new Float64Array(slabRows * COLS);
  for (let i = 0; i < buf.length; i++) buf[i] = i * 0.5;
  const best = {
    ours: { write: Infinity, read: Infinity, alloc: Infinity, cols: Infinity },
    base: { write: Infinity, read: Infinity, alloc: Infinity, cols: Infinity },
  };
  const colBytes = rows * Math.ceil(COLS / COLUMN_STRIDE) * 8;
  const check = (got: Float64Array, what: string) => {
    if (got.length !== buf.length || got[got.length - 1] !== buf[buf.length - 1] || got[1] !== buf[1])
      throw new Error(`${what}: data read back differs`);
  };

  await h5wasm.ready;
  const sys = await DaosSystem.start({ dir: join(scratch, 'daos'), engines: 1, targetsPerEngine: 4 });
  try {
    await sys.createPool({ label: 'tank', size: `${Math.max(4, Math.ceil((totalBytes * 3) / 2 ** 30))}G` });
    const pool = await (await sys.connect()).connectPool('tank');

    const ours = async (rep: number) => {
      const file = await H5File.open(pool, `bench${rep}`, 'w');
      const ds = await file.createDataset('x', { shape: [rows, COLS], dtype: '<f8' });
      let t0 = process.hrtime.bigint();
      for (let s = 0; s < slabs; s++) await ds.write([[s * slabRows, (s + 1) * slabRows], null], buf);
      const w = seconds(t0);
      best.ours.write = Math.min(best.ours.write, w);
      console.error(`  run ${rep} daos-ts: write ${mibps(totalBytes, w)}`);
      const r = (await file.get('x')) as Dataset;
      // h5py's read_direct: every slab into one buffer.
      const into = new Float64Array(buf.length);
      t0 = process.hrtime.bigint();
      for (let s = 0; s < slabs; s++) await r.readDirect(into, [[s * slabRows, (s + 1) * slabRows], null]);
      best.ours.read = Math.min(best.ours.read, seconds(t0));
      check(into, 'daos-ts');
      // read(): a new array per slab, as h5wasm's slice() returns.
      t0 = process.hrtime.bigint();
      for (let s = 0; s < slabs; s++) {
        const got = (await r.read([[s * slabRows, (s + 1) * slabRows], null])) as Float64Array;
        if (s === slabs - 1) check(got, 'daos-ts');
      }
      best.ours.alloc = Math.min(best.ours.alloc, seconds(t0));
      t0 = process.hrtime.bigint();
      await r.read([null, [0, COLS, COLUMN_STRIDE]]);
      best.ours.cols = Math.min(best.ours.cols, seconds(t0));
      await file.close();
      await pool.destroyContainer(`bench${rep}`, { force: true });
    };

    const base = (rep: number) => {
      const path = join(scratch, `bench${rep}.h5`);
      let t0 = process.hrtime.bigint();
      const file = new h5wasm.File(path, 'w');
      const ds = file.create_dataset({
        name: 'x',
        data: buf,
        shape: [slabRows, COLS],
        maxshape: [rows, COLS],
        chunks: [16, COLS],
        dtype: '<d',
      });
      for (let s = 1; s < slabs; s++) {
        ds.resize([(s + 1) * slabRows, COLS]);
        ds.write_slice([[s * slabRows, (s + 1) * slabRows], []], buf);
      }
      file.close();
      const w = seconds(t0);
      best.base.write = Math.min(best.base.write, w);
      console.error(`  run ${rep} h5wasm: write ${mibps(totalBytes, w)}`);
      if (statSync(path).size < totalBytes) throw new Error('h5wasm: file smaller than the dataset');
      t0 = process.hrtime.bigint();
      const rf = new h5wasm.File(path, 'r');
      const rd = rf.get('x') as InstanceType<typeof h5wasm.Dataset>;
      for (let s = 0; s < slabs; s++) {
        const got = rd.slice([[s * slabRows, (s + 1) * slabRows], []]) as Float64Array;
        if (s === slabs - 1) check(got, 'h5wasm');
      }
      best.base.read = Math.min(best.base.read, seconds(t0));
      best.base.alloc = best.base.read;
      t0 = process.hrtime.bigint();
      rd.slice([[], [0, COLS, COLUMN_STRIDE]]);
      best.base.cols = Math.min(best.base.cols, seconds(t0));
      rf.close();
      rmSync(path, { force: true });
    };

    for (let i = 0; i < reps; i++) {
      // ABBA: neither side always runs first.
      if (i % 2 === 0) {
        await ours(i);
        base(i);
      } else {
        base(i);
        await ours(i);
      }
    }
  } finally {
    await sys.stop();
    if (!f.keep) rmSync(scratch, { recursive: true, force: true });
  }
  const size = `${rows}×${COLS} float64 (${totalBytes / MiB} MiB)`;
  const rowsOut: Row[] = [
    {
      test: `write ${size} in ${slabBytes / MiB} MiB hyperslabs`,
      ours: mibps(totalBytes, best.ours.write),
      base: mibps(totalBytes, best.base.write),
      ratio: best.base.write / best.ours.write,
      goal: 1,
    },
    {
      test: `read ${size} in ${slabBytes / MiB} MiB hyperslabs (ours: readDirect into one buffer; h5wasm: slice)`,
      ours: mibps(totalBytes, best.ours.read),
      base: mibps(totalBytes, best.base.read),
      ratio: best.base.read / best.ours.read,
      goal: 1,
    },
    {
      test: `read ${size} in ${slabBytes / MiB} MiB hyperslabs (both: a new array per slab)`,
      ours: mibps(totalBytes, best.ours.alloc),
      base: mibps(totalBytes, best.base.alloc),
      ratio: best.base.alloc / best.ours.alloc,
      goal: undefined,
    },
    {
      test: `strided column read: every ${COLUMN_STRIDE}th column, all rows (${(colBytes / MiB).toFixed(0)} MiB)`,
      ours: mibps(colBytes, best.ours.cols),
      base: mibps(colBytes, best.base.cols),
      ratio: best.base.cols / best.ours.cols,
      goal: undefined,
    },
  ];
  progress(rowsOut);
  const block = [
    `Command: \`npm run bench:hdf5${argv.length ? ` -- ${argv.join(' ')}` : ''}\` (node dist/bench/hdf5.js)  `,
    `Date: ${started.toISOString()}  `,
    `Machine: ${machine()}  `,
    `Load average (1 min): ${load0.toFixed(2)} at the start, ${os.loadavg()[0]!.toFixed(2)} at the end  `,
    `"daos-ts" is daos-ts/hdf5 on an embedded system (1 engine, 4 targets, in-process, files in ${os.tmpdir()}); "baseline" is h5wasm ${h5wasmVersion()} writing and reading a local .h5 file in the same folder (page cache). Both datasets are chunked 16 rows × ${COLS} columns (1 MiB). Write time includes closing the file; each side runs ${reps} time(s), alternating; the best is shown.`,
    '',
    table(rowsOut),
  ].join('\n');
  console.log(`\n${block}\n`);
  if (f.writeResults) console.error(`updated ${updateResults('hdf5', block)}`);
}

/** h5wasm's version as installed (dist/bench/ → the package's node_modules). */
function h5wasmVersion(): string {
  try {
    const url = new URL('../../node_modules/h5wasm/package.json', import.meta.url);
    return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
  } catch {
    return '(version unknown)';
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
