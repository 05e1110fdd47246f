/**
 * bench:vos — the embedded store against what it is built on, side by side in one run:
 *   (a) 1 MiB array writes and reads (DaosArray) against a plain file through a FileHandle;
 *   (b) 4 KiB KV puts and gets (KV) against raw `lmdb` puts and gets of the same keys and values;
 *   (c) resident memory before, during and after writing 2 GiB through the array API.
 *
 *   npm run bench:vos                    real sizes; refreshes the table in bench/RESULTS.md
 *   npm run bench:vos -- --quick         small sizes (smoke run; RESULTS.md untouched)
 *   BENCH_QUICK=1 npm run bench:vos      the same
 * Options: --dir DIR (scratch folder; default the OS temp dir), --keep, --array-mib N, --depths 1,8,
 * --kv-ops N, --kv-window N, --seq-ops N, --mem-mib N, --reps N (alternating segments per side),
 * --results / --no-results.
 */
import { randomFillSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { open as openFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { open as openLmdb } from 'lmdb';
import { type Container, type DaosArray, DaosSystem, type KV } from '../index.js';
import {
  benchFlags,
  MiB,
  machine,
  mibps,
  progress,
  type Row,
  settleDisk,
  type ThreadCpu,
  table,
  threadCpu,
  updateResults,
  WARM_MARGIN_BYTES,
  warmPageCache,
} from './common.js';

const ARRAY_WRITE_BYTES = MiB;
/**
 * Writes each side makes, untimed, before the timed segments of a depth (past the timed range),
 * each then read once: V8 optimizes the store's write path only after ~1,300–2,500 writes
 * (`--trace-opt`: Target.runBatch at ~1,800, buildEffects and DaosArray's writePiece at ~2,500),
 * which (c)'s 2,048 and these reach before the first timed write, and again after each time it
 * deoptimizes it (so the counters that pass 2^31 start as doubles, and (a)'s arrays are made
 * before (c): bench/README.md, "Closures made per call"). A timed read is the first of its chunk
 * since the write ("The first read of a chunk").
 */
const ARRAY_WARMUP_WRITES = 1024;
/** Of those, the ones the warm-up reads below read over and over (the re-read path). */
const ARRAY_WARMUP_OPS = 256;

/** Bytes of the warm-up writes of one depth (at most twice the timed volume: a --quick run). */
function arrayWarmupBytes(o: { arrayBytes: number }): number {
  return Math.min(ARRAY_WARMUP_WRITES * ARRAY_WRITE_BYTES, 2 * o.arrayBytes);
}
/**
 * Reads (of those writes, over and over) each side makes, untimed, before the timed segments of a
 * depth, each way (into the caller's buffers, into new ones): V8 compiles the read path over its
 * first few thousand 1 MiB reads, at 50–60% of the warm rate meanwhile (bench/README.md), and a
 * timed GiB of reads at 8 in flight is over in a fraction of a second.
 */
const ARRAY_WARMUP_READS = 4096;
const KV_VALUE_BYTES = 4096;
/** Puts and gets (in windows, of their own keys) each KV side makes, untimed, before its timed segments. */
const KV_WARMUP_OPS = 8192;
/** Growth of resident memory that still counts as flat. */
const RSS_GROWTH_BYTES_MAX = 200 * MiB;
const RSS_SAMPLE_EVERY_WRITES = 32;

interface BenchOptions {
  quick: boolean;
  dir: string;
  keep: boolean;
  arrayBytes: number;
  depths: number[];
  kvOps: number;
  kvWindow: number;
  seqOps: number;
  memBytes: number;
  reps: number;
  writeResults: boolean;
}

function parseOptions(argv: string[]): BenchOptions {
  const f = benchFlags(argv, {
    numbers: {
      'array-mib': [1024, 64],
      'kv-ops': [100_000, 5_000],
      'kv-window': [1000, 1000],
      'seq-ops': [2_000, 200],
      'mem-mib': [2048, 256],
      reps: [4, 2],
    },
    lists: { depths: '1,8' },
    strings: ['dir'],
  });
  return {
    quick: f.quick,
    dir: f.str('dir') ?? os.tmpdir(),
    keep: f.keep,
    arrayBytes: f.num('array-mib') * MiB,
    depths: f.list('depths'),
    kvOps: f.num('kv-ops'),
    kvWindow: f.num('kv-window'),
    seqOps: f.num('seq-ops'),
    memBytes: f.num('mem-mib') * MiB,
    reps: f.num('reps'),
    writeResults: f.writeResults,
  };
}

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/**
 * Run op(i, slot) for i in [0, count) with `depth` in flight; resolves to elapsed seconds. No
 * forced gc() before a timed segment (nor in `windows` and `sequential`), as bench:dfs found too:
 * a full collection slows the next few hundred I/Os of both sides, the side with the larger heap
 * the more (bench/README.md, "Forced collections between segments").
 */
async function pipelined(
  count: number,
  depth: number,
  op: (i: number, slot: number) => Promise<void>,
): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(depth, count) }, async (_, slot) => {
      for (let i = next++; i < count; i = next++) await op(i, slot);
    }),
  );
  return (performance.now() - t0) / 1000;
}

/** Per-slot 1 MiB buffers of random bytes; the first 8 bytes carry the write's index. */
function slotBuffers(depth: number): Buffer[] {
  return Array.from({ length: depth }, () => randomFillSync(Buffer.allocUnsafe(ARRAY_WRITE_BYTES)));
}

function checkStamp(what: string, got: Uint8Array, i: number): void {
  const b = Buffer.from(got.buffer, got.byteOffset, got.byteLength);
  if (b.byteLength !== ARRAY_WRITE_BYTES || b.readUInt32LE(0) !== i)
    throw new Error(`${what}: read ${i} returned the wrong bytes (length ${b.byteLength})`);
}

const opsps = (ops: number, s: number) => `${Math.round(ops / s).toLocaleString('en-US')} ops/s`;

// ---- (a) 1 MiB array I/O against a FileHandle ----

async function arrayVsFile(arrays: Map<number, DaosArray>, o: BenchOptions, scratch: string): Promise<Row[]> {
  const rows: Row[] = [];
  const count = o.arrayBytes / ARRAY_WRITE_BYTES;
  const perRep = Math.ceil(count / o.reps);
  for (const depth of o.depths) {
    const bufs = slotBuffers(depth);
    const readBufs = Array.from({ length: depth }, () => Buffer.allocUnsafe(ARRAY_WRITE_BYTES));
    const daosReadBufs = Array.from({ length: depth }, () => Buffer.allocUnsafe(ARRAY_WRITE_BYTES));
    const arr = arrays.get(depth)!;
    const path = join(scratch, `file-qd${depth}.bin`);
    const fh = await openFile(path, 'w+');
    const t = { dWrite: 0, fWrite: 0, dRead: 0, dReadNew: 0, fRead: 0, fReadNew: 0 };
    type Kind = keyof typeof t;
    // CPU of the timed segments (ThreadCpu, µs), per kind.
    const cpu = Object.fromEntries(Object.keys(t).map((k) => [k, { main: 0, all: 0 }])) as Record<
      Kind,
      ThreadCpu
    >;
    // One side's ops [0, n) with `depth` in flight, their seconds added to `into` (and their CPU
    // to `cpu` when timed).
    const run = async (
      kind: Kind,
      into: typeof t,
      n: number,
      op: (j: number, slot: number) => Promise<void>,
    ) => {
      const c0 = into === t ? threadCpu() : undefined;
      into[kind] += await pipelined(n, depth, op);
      const c1 = c0 === undefined ? undefined : threadCpu();
      if (c0 !== undefined && c1 !== undefined) {
        cpu[kind].main += c1.main - c0.main;
        cpu[kind].all += c1.all - c0.all;
      }
    };
    // Each side's writes and reads of writes [base, base + n); they add their seconds to `into`.
    const daosWrite = (base: number, n: number, into = t) =>
      run('dWrite', into, n, async (j, slot) => {
        const i = base + j;
        bufs[slot]!.writeUInt32LE(i, 0);
        await arr.write(i * ARRAY_WRITE_BYTES, bufs[slot]!);
      });
    const fileWrite = (base: number, n: number, into = t) =>
      run('fWrite', into, n, async (j, slot) => {
        const i = base + j;
        bufs[slot]!.writeUInt32LE(i, 0);
        await fh.write(bufs[slot]!, 0, ARRAY_WRITE_BYTES, i * ARRAY_WRITE_BYTES);
      });
    // Reads into the slot's buffer (the goal rows), and into a new buffer each (for information),
    // each side's as one function of (base, n, seconds' tally).
    const daosRead = (base: number, n: number, into = t) =>
      run('dRead', into, n, async (j, slot) => {
        const i = base + j;
        const dst = daosReadBufs[slot]!;
        checkStamp('DaosArray', await arr.read(i * ARRAY_WRITE_BYTES, ARRAY_WRITE_BYTES, { into: dst }), i);
      });
    const daosReadNew = (base: number, n: number, into = t) =>
      run('dReadNew', into, n, async (j) => {
        const i = base + j;
        checkStamp('DaosArray', await arr.read(i * ARRAY_WRITE_BYTES, ARRAY_WRITE_BYTES), i);
      });
    const fileRead = (base: number, n: number, into = t) =>
      run('fRead', into, n, async (j, slot) => {
        const i = base + j;
        const { bytesRead } = await fh.read(readBufs[slot]!, 0, ARRAY_WRITE_BYTES, i * ARRAY_WRITE_BYTES);
        checkStamp('FileHandle', readBufs[slot]!.subarray(0, bytesRead), i);
      });
    // The same with a new buffer per read, as a read that hands out its bytes must.
    const fileReadNew = (base: number, n: number, into = t) =>
      run('fReadNew', into, n, async (j) => {
        const i = base + j;
        const b = Buffer.allocUnsafe(ARRAY_WRITE_BYTES);
        const { bytesRead } = await fh.read(b, 0, ARRAY_WRITE_BYTES, i * ARRAY_WRITE_BYTES);
        checkStamp('FileHandle', b.subarray(0, bytesRead), i);
      });
    // Untimed: page cache this VM has backed for both sides' writes at this depth (bench/README.md,
    // "Memory of this VM"), then each side's code, past the timed range: after the scratch file's
    // deletion, so that the first timed segment (ours) does not take on what that deletion left
    // the file system to do (as bench:dfs warms up).
    const writes = arrayWarmupBytes(o) / ARRAY_WRITE_BYTES;
    const warm = Math.min(ARRAY_WARMUP_OPS, writes);
    warmPageCache(scratch, 2 * (o.arrayBytes + writes * ARRAY_WRITE_BYTES));
    const untimed = { ...t };
    // In this store: the same warm-up in a DaosSystem of its own left this one's first reads as
    // slow as without it (bench/README.md).
    await daosWrite(count, writes, untimed);
    await fileWrite(count, writes, untimed);
    await daosRead(count, writes, untimed);
    await fileRead(count, writes, untimed);
    for (let done = 0; done < ARRAY_WARMUP_READS; done += warm) {
      await daosRead(count, warm, untimed);
      await fileRead(count, warm, untimed);
      await daosReadNew(count, warm, untimed);
      await fileReadNew(count, warm, untimed);
    }
    // Segments alternate between the two sides, each starting first in turn, so that both see
    // the same machine (this VM's page-cache speed swings by 2x from minute to minute).
    for (let rep = 0; rep < o.reps; rep++) {
      const base = rep * perRep;
      const n = Math.min(perRep, count - base);
      // Each write segment after page cache this VM has backed for it (which also syncs): a
      // single warm-up per depth left later segments, of either side, in the slow regime.
      const daos = () => {
        warmPageCache(scratch, n * ARRAY_WRITE_BYTES);
        return daosWrite(base, n);
      };
      const file = () => {
        warmPageCache(scratch, n * ARRAY_WRITE_BYTES);
        return fileWrite(base, n);
      };
      if (rep % 2 === 0) await daos().then(file);
      else await file().then(daos);
    }
    // Each kind of read in its own round of segments: a segment of reads into new buffers leaves
    // V8 collecting 256 MiB of them (external-memory pressure) into whatever runs next, which
    // slowed the caller's-buffer reads after it, ours the more (bench/README.md, "Reads into
    // new buffers").
    for (const [daosSide, fileSide] of [
      [daosRead, fileRead],
      [daosReadNew, fileReadNew],
    ] as const) {
      // Not while the kernel writes back the last write segments' pages (up to 512 MiB): that
      // takes this VM's cores from whichever side reads meanwhile (bench/README.md).
      settleDisk();
      for (let rep = 0; rep < o.reps; rep++) {
        const base = rep * perRep;
        const n = Math.min(perRep, count - base);
        if (rep % 2 === 0) await daosSide(base, n).then(() => fileSide(base, n));
        else await fileSide(base, n).then(() => daosSide(base, n));
      }
    }
    await fh.close();
    rmSync(path, { force: true });

    const vol = `${(o.arrayBytes / MiB).toFixed(0)} MiB`;
    const b = o.arrayBytes;
    // µs of CPU per operation: main thread / all threads, ours · FileHandle's.
    const perOp = (c: ThreadCpu) => `${(c.main / count).toFixed(0)} / ${(c.all / count).toFixed(0)}`;
    const cpuOf = (ours: Kind, base: Kind) =>
      threadCpu() === undefined ? undefined : `${perOp(cpu[ours])} · ${perOp(cpu[base])}`;
    rows.push(
      {
        test: `1 MiB array write, ${depth} in flight (${vol})`,
        ours: mibps(b, t.dWrite),
        base: `FileHandle ${mibps(b, t.fWrite)}`,
        ratio: t.fWrite / t.dWrite,
        goal: 0.8,
        cpu: cpuOf('dWrite', 'fWrite'),
      },
      {
        test: `1 MiB array read into the caller's buffer, ${depth} in flight (${vol})`,
        ours: mibps(b, t.dRead),
        base: `FileHandle ${mibps(b, t.fRead)}`,
        ratio: t.fRead / t.dRead,
        goal: 0.8,
        cpu: cpuOf('dRead', 'fRead'),
      },
      {
        test: `1 MiB array read into a new buffer each time, ${depth} in flight`,
        ours: mibps(b, t.dReadNew),
        base: `FileHandle ${mibps(b, t.fReadNew)}`,
        ratio: t.fReadNew / t.dReadNew,
        goal: undefined,
        cpu: cpuOf('dReadNew', 'fReadNew'),
      },
    );
    progress(rows.slice(-3));
  }
  return rows;
}

// ---- (b) 4 KiB KV against raw lmdb ----

const kvKey = (prefix: string, i: number) => `${prefix}${i.toString().padStart(9, '0')}`;

/** One 4 KiB value per window slot, stamped with its slot: key i stores values[i % window]. */
function kvValues(window: number): Buffer[] {
  const base = randomFillSync(Buffer.allocUnsafe(KV_VALUE_BYTES));
  return Array.from({ length: window }, (_, j) => {
    const v = Buffer.from(base);
    v.writeUInt32LE(j, 0);
    return v;
  });
}

/** Keys [from, to) in windows of `window` concurrent ops; resolves to elapsed seconds. */
async function windows(
  from: number,
  to: number,
  window: number,
  op: (i: number) => Promise<unknown>,
): Promise<number> {
  const t0 = performance.now();
  for (let w = from; w < to; w += window) {
    const batch: Array<Promise<unknown>> = [];
    for (let i = w; i < Math.min(to, w + window); i++) batch.push(op(i));
    await Promise.all(batch);
  }
  return (performance.now() - t0) / 1000;
}

async function sequential(
  from: number,
  to: number,
  op: (i: number) => Promise<unknown> | unknown,
): Promise<number> {
  const t0 = performance.now();
  for (let i = from; i < to; i++) await op(i);
  return (performance.now() - t0) / 1000;
}

function checkValue(what: string, v: Uint8Array | undefined, i: number, window: number): void {
  if (
    v === undefined ||
    v.byteLength !== KV_VALUE_BYTES ||
    Buffer.from(v.buffer, v.byteOffset, 4).readUInt32LE(0) !== i % window
  )
    throw new Error(`${what}: get of key ${i} returned the wrong value`);
}

/** The operations of one side of (b), each over a key range; resolving to seconds. */
interface KvSide {
  /** Untimed: puts then gets of `n` keys of their own, in windows (code warm-up). */
  warm(n: number): Promise<unknown>;
  put(from: number, to: number): Promise<number>;
  get(from: number, to: number): Promise<number>;
  seqPut(from: number, to: number): Promise<number>;
  seqGet(from: number, to: number): Promise<number>;
}

function lmdbSide(db: ReturnType<typeof openLmdb>, values: Buffer[], w: number): KvSide {
  const get = (p: string, i: number) => checkValue('lmdb', db.get(kvKey(p, i)) as Buffer | undefined, i, w);
  return {
    warm: async (n) => {
      await windows(0, n, w, (i) => db.put(kvKey('w', i), values[i % w]!));
      await windows(0, n, w, async (i) => get('w', i));
    },
    put: (a, b) => windows(a, b, w, (i) => db.put(kvKey('k', i), values[i % w]!)),
    get: (a, b) => sequential(a, b, (i) => get('k', i)),
    seqPut: (a, b) => sequential(a, b, (i) => db.put(kvKey('s', i), values[i % w]!)),
    seqGet: (a, b) => sequential(a, b, (i) => get('s', i)),
  };
}

function daosSide(kv: KV, values: Buffer[], w: number): KvSide {
  const get = async (p: string, i: number) => checkValue('KV', await kv.get(kvKey(p, i)), i, w);
  return {
    warm: async (n) => {
      await windows(0, n, w, (i) => kv.put(kvKey('w', i), values[i % w]!));
      await windows(0, n, w, (i) => get('w', i));
    },
    put: (a, b) => windows(a, b, w, (i) => kv.put(kvKey('k', i), values[i % w]!)),
    get: (a, b) => windows(a, b, w, (i) => get('k', i)),
    seqPut: (a, b) => sequential(a, b, (i) => kv.put(kvKey('s', i), values[i % w]!)),
    seqGet: (a, b) => sequential(a, b, (i) => get('s', i)),
  };
}

type KvTimes = Record<Exclude<keyof KvSide, 'warm'>, number>;

/** Run every side over the same keys, in alternating segments (see arrayVsFile). */
async function interleaved(sides: KvSide[], o: BenchOptions): Promise<KvTimes[]> {
  for (const side of sides) await side.warm(KV_WARMUP_OPS);
  const times = sides.map(() => ({ put: 0, get: 0, seqPut: 0, seqGet: 0 }));
  const phases: Array<[keyof KvTimes, number]> = [
    ['put', o.kvOps],
    ['get', o.kvOps],
    ['seqPut', o.seqOps],
    ['seqGet', o.seqOps],
  ];
  for (const [phase, total] of phases) {
    const perRep = Math.ceil(total / o.reps);
    for (let rep = 0; rep < o.reps; rep++) {
      const a = rep * perRep;
      const b = Math.min(total, a + perRep);
      for (let k = 0; k < sides.length; k++) {
        const s = (k + rep) % sides.length;
        times[s]![phase] += await sides[s]![phase](a, b);
      }
    }
  }
  return times;
}

async function kvVsLmdb(cont: Container, o: BenchOptions, scratch: string): Promise<Row[]> {
  const values = kvValues(o.kvWindow);
  const n = o.kvOps;
  const w = o.kvWindow;
  // The baseline as asked: lmdb's defaults (each commit is flushed to disk, overlapped). The
  // noSync variant has the durability of the store's default 'process' mode: survives kill -9.
  const db = openLmdb({ path: join(scratch, 'lmdb'), compression: false, encoding: 'binary' });
  const dbNoSync = openLmdb({
    path: join(scratch, 'lmdb-nosync'),
    compression: false,
    encoding: 'binary',
    noSync: true,
  });
  const s1 = cont.kv(await cont.newOid({ type: 'kv', oclass: 'S1' }));
  const sx = cont.kv(await cont.newOid({ type: 'kv', oclass: 'SX' }));
  const [lm, lmNs, d1, dx] = await interleaved(
    [
      lmdbSide(db, values, w),
      lmdbSide(dbNoSync, values, w),
      daosSide(s1, values, w),
      daosSide(sx, values, w),
    ],
    o,
  );
  await db.close();
  await dbNoSync.close();

  const rows: Row[] = [];
  const keys = `${n.toLocaleString('en-US')} keys`;
  const seqKeys = `${o.seqOps.toLocaleString('en-US')} keys`;
  for (const [cls, d] of [
    ['S1', d1!],
    ['SX', dx!],
  ] as const) {
    rows.push(
      {
        test: `4 KiB KV put, windows of ${w} (class ${cls}, ${keys})`,
        ours: opsps(n, d.put),
        base: `lmdb ${opsps(n, lm!.put)}`,
        ratio: lm!.put / d.put,
        goal: 0.5,
      },
      {
        test: `4 KiB KV get, windows of ${w} (class ${cls})`,
        ours: opsps(n, d.get),
        base: `lmdb ${opsps(n, lm!.get)}`,
        ratio: lm!.get / d.get,
        goal: 0.5,
      },
    );
  }
  for (const [cls, d] of [
    ['S1', d1!],
    ['SX', dx!],
  ] as const) {
    rows.push(
      {
        test: `4 KiB KV put, one at a time (class ${cls}, ${seqKeys})`,
        ours: opsps(o.seqOps, d.seqPut),
        base: `lmdb ${opsps(o.seqOps, lm!.seqPut)}`,
        ratio: lm!.seqPut / d.seqPut,
        goal: undefined,
      },
      {
        test: `4 KiB KV get, one at a time (class ${cls})`,
        ours: opsps(o.seqOps, d.seqGet),
        base: `lmdb ${opsps(o.seqOps, lm!.seqGet)}`,
        ratio: lm!.seqGet / d.seqGet,
        goal: undefined,
      },
    );
  }
  rows.push(
    {
      test: `4 KiB KV put, windows of ${w} (class S1) vs lmdb noSync`,
      ours: opsps(n, d1!.put),
      base: `lmdb noSync ${opsps(n, lmNs!.put)}`,
      ratio: lmNs!.put / d1!.put,
      goal: undefined,
    },
    {
      test: `4 KiB KV put, one at a time (class S1) vs lmdb noSync`,
      ours: opsps(o.seqOps, d1!.seqPut),
      base: `lmdb noSync ${opsps(o.seqOps, lmNs!.seqPut)}`,
      ratio: lmNs!.seqPut / d1!.seqPut,
      goal: undefined,
    },
  );
  progress(rows);
  return rows;
}

// ---- (c) resident memory while writing through the array API ----

interface MemResult {
  before: number;
  peak: number;
  after: number;
  seconds: number;
  rows: Row[];
}

async function memoryFlat(cont: Container, o: BenchOptions): Promise<MemResult> {
  const depth = 8;
  const bufs = slotBuffers(depth);
  const arr: DaosArray = await cont.createArray({ cellSize: 1, chunkSize: ARRAY_WRITE_BYTES, oclass: 'SX' });
  gc();
  const before = process.memoryUsage().rss;
  let peak = before;
  const seconds = await pipelined(o.memBytes / ARRAY_WRITE_BYTES, depth, async (i, slot) => {
    bufs[slot]!.writeUInt32LE(i, 0);
    await arr.write(i * ARRAY_WRITE_BYTES, bufs[slot]!);
    if (i % RSS_SAMPLE_EVERY_WRITES === 0) peak = Math.max(peak, process.memoryUsage().rss);
  });
  peak = Math.max(peak, process.memoryUsage().rss);
  gc();
  const after = process.memoryUsage().rss;
  const vol = `${(o.memBytes / 2 ** 30).toFixed(o.memBytes >= 2 ** 30 ? 0 : 2)} GiB`;
  const mb = (b: number) => `${(b / MiB).toFixed(0)} MiB`;
  const rows: Row[] = [
    {
      test: `RSS before writing ${vol} (1 MiB writes, 8 in flight)`,
      ours: mb(before),
      base: '',
      ratio: undefined,
      goal: undefined,
    },
    {
      test: `RSS peak while writing (${mibps(o.memBytes, seconds)})`,
      ours: mb(peak),
      base: `growth ${mb(peak - before)}`,
      ratio: undefined,
      goal: undefined,
    },
    {
      test: 'RSS after writing, after gc()',
      ours: mb(after),
      base: `growth ${mb(after - before)}`,
      ratio: undefined,
      goal: undefined,
    },
  ];
  progress(rows);
  return { before, peak, after, seconds, rows };
}

// ---- reporting ----

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  if ((globalThis as { gc?: unknown }).gc === undefined)
    console.error('note: run with node --expose-gc (npm run bench:vos does) for steadier numbers');
  mkdirSync(o.dir, { recursive: true });
  const scratch = mkdtempSync(join(o.dir, 'daos-bench-vos-'));
  const command = `npm run bench:vos${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  const started = new Date();
  console.error(`bench:vos${o.quick ? ' (quick)' : ''} in ${scratch}\n${machine()}`);
  const load0 = os.loadavg()[0]!;
  const daosDir = join(scratch, 'daos');
  const sys = await DaosSystem.start({ dir: daosDir });
  let rows: Row[] = [];
  let mem: MemResult;
  try {
    await sys.createPool({ label: 'bench', size: '64G' });
    const pool = await (await sys.connect()).connectPool('bench');
    await pool.createContainer({ label: 'vos' });
    const cont = await pool.openContainer('vos');
    // (a)'s arrays first: creating one writes its metadata, a single value, and the first single
    // value after thousands of array writes sends V8 back from the array-write path's optimized
    // code ("wrong map"), which it then compiled again only inside the timed segments
    // (bench/README.md, "Closures made per call"). Made here, (c)'s writes warm that path up too.
    const arrays = new Map<number, DaosArray>();
    for (const depth of o.depths)
      arrays.set(depth, await cont.createArray({ cellSize: 1, chunkSize: ARRAY_WRITE_BYTES, oclass: 'SX' }));
    console.error('(c) memory');
    mem = await memoryFlat(cont, o);
    console.error('(a) 1 MiB array I/O');
    const a = await arrayVsFile(arrays, o, scratch);
    console.error('(b) 4 KiB KV');
    const b = await kvVsLmdb(cont, o, scratch);
    await sys.stop();
    // Opening runs recovery over the whole index: worth watching as stores grow.
    const t0 = performance.now();
    const again = await DaosSystem.start({ dir: daosDir });
    const reopenMs = performance.now() - t0;
    await again.stop();
    const reopen: Row = {
      test: `Reopen the store after all of the above (${((o.memBytes + (o.arrayBytes + arrayWarmupBytes(o)) * o.depths.length) / 2 ** 30).toFixed(1)} GiB, ${(2 * (o.kvOps + o.seqOps)).toLocaleString('en-US')} KV keys)`,
      ours: `${reopenMs.toFixed(0)} ms`,
      base: '',
      ratio: undefined,
      goal: undefined,
    };
    progress([reopen]);
    rows = [...a, ...b, ...mem.rows, reopen];
  } finally {
    await sys.stop();
    if (!o.keep) rmSync(scratch, { recursive: true, force: true });
  }
  const load1 = os.loadavg()[0]!;
  const growth = mem.after - mem.before;
  const flat = growth <= RSS_GROWTH_BYTES_MAX;
  const block = [
    `Command: \`${command}\` (node --expose-gc dist/bench/vos.js)  `,
    `Date: ${started.toISOString()}  `,
    `Machine: ${machine()}  `,
    `Load average (1 min): ${load0.toFixed(2)} at the start, ${load1.toFixed(2)} at the end  `,
    `Scratch folder: ${o.dir}. The store runs with durability 'process' (survives kill -9): neither its data files nor its LMDB commits are fsynced, nor is the FileHandle baseline; the lmdb baseline runs with lmdb's defaults (each commit flushed to disk, overlapped with the next), plus a noSync variant for information. The two sides run in alternating segments (${o.reps} each), each (a) write segment after its volume plus ${WARM_MARGIN_BYTES / MiB} MiB written to a scratch file, synced and deleted (page cache this VM has backed; bench/README.md) and each round of read segments after a \`sync\`; before each depth's (a) segments, untimed: the same for twice the depth's volume, then ${ARRAY_WARMUP_WRITES.toLocaleString('en-US')} writes per side past the timed range, each read once, and ${ARRAY_WARMUP_READS.toLocaleString('en-US')} reads of the first ${ARRAY_WARMUP_OPS} of them each way (JIT warm-up); reads into the caller's buffers and into new ones run in separate rounds of segments, and no gc() is forced before a segment.`,
    '',
    table(rows, 'CPU µs per op, main thread / all threads (daos-ts · baseline)'),
    '',
    `Memory: ${flat ? 'flat' : '**not flat**'} — RSS grew ${(growth / MiB).toFixed(0)} MiB over ${(o.memBytes / 2 ** 30).toFixed(2)} GiB written (limit ${RSS_GROWTH_BYTES_MAX / MiB} MiB).`,
  ].join('\n');
  console.log(`\n${block}\n`);
  if (o.writeResults) console.error(`updated ${updateResults('vos', block)}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
