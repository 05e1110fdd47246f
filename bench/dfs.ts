/**
 * bench:dfs — the POSIX namespace (core/dfs, through its fs.promises-shaped `dfs.fs`) against
 * Node's own fs on the local disk, side by side in one run:
 *   (a) 1 GiB written and read through streams: `dfs.fs.createWriteStream` / `createReadStream`
 *       against `fs.createWriteStream` / `createReadStream`, the same generator of 1 MiB buffers
 *       fed by `pipeline`, the same `for await` consumer, highWaterMark 1 MiB on every stream;
 *   (b) 10,000 empty files created (`writeFile(path, '')`), stat'ed and unlinked, with the same
 *       calls and the same number in flight on both sides (1, and 16 as mdtest tasks would).
 *
 *   npm run bench:dfs                    real sizes; refreshes the bench:dfs block of bench/RESULTS.md
 *   npm run bench:dfs -- --quick         small sizes (smoke run; RESULTS.md untouched)
 * Options: --dir DIR (scratch folder for the store and the local baseline; default the OS temp
 * dir), --keep, --mib N (stream volume), --files N, --depths 1,16 (files in flight), --reps N
 * (alternating segments per side), --oclass CLASS (file class of the goal rows; default the
 * mount's), --small-oclass CLASS (information rows of (b) with this file class; default S1, 'none'
 * skips them),
 * --results / --no-results.
 */
import { randomFillSync } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, stat, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join, resolve } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { EngineCounters } from '../core/daos/engine-counters.js';
import { ENGINE_OPS } from '../core/daos/engine-counters.js';
import { Dfs } from '../core/dfs/index.js';
import { DaosSystem } from '../index.js';
import {
  benchFlags,
  inFlight,
  MiB,
  machine,
  mibps,
  progress,
  type Row,
  settleDisk,
  table,
  updateResults,
  WARM_MARGIN_BYTES,
  warmPageCache,
} from './common.js';

/** Bytes of each buffer the producer yields, and the highWaterMark of every stream. */
const STREAM_PIECE_BYTES = MiB;
/**
 * Buffers the producer cycles through. A write stream holds a buffer until it has called its
 * write back (Node's and DfsFs's alike: one at a time here, plus what the stream has buffered);
 * reuse past that is caught by the stamp check on the read back.
 */
const PRODUCER_RING_BUFFERS = 16;
const FILE_CHUNK_BYTES = MiB;
/**
 * Pieces each side writes and reads back, untimed, before the stream rows (code warm-up): with 64,
 * our first timed segment still ran at about half the speed of the next three.
 */
const STREAM_WARMUP_PIECES = 256;
/**
 * Files each side creates, stats and unlinks, untimed, before the (b) rows of a depth, at most:
 * as many as the timed rows (`--files`). The timed segments then measure warmed code on both
 * sides (JIT-compiled paths, a grown heap), as benchmark.js's warm-up cycles do, not a cold
 * process: V8 compiles on other threads, which take this VM's second core, and a DFS stat ran at
 * ~130, 84, 41, then 17–30 µs per call over the first segments of 2,000 (bench/README.md).
 */
const WARMUP_FILES = 10_000;

interface BenchOptions {
  quick: boolean;
  dir: string;
  keep: boolean;
  streamBytes: number;
  files: number;
  depths: number[];
  reps: number;
  oclass: string | undefined;
  smallOclass: string | undefined;
  writeResults: boolean;
}

function parseOptions(argv: string[]): BenchOptions {
  const f = benchFlags(argv, {
    numbers: {
      mib: [1024, 64, 'BENCH_DFS_MIB'],
      files: [10_000, 1_000, 'BENCH_DFS_FILES'],
      reps: [4, 2],
    },
    lists: { depths: '1,16' },
    strings: ['dir', 'oclass', 'small-oclass'],
  });
  const mib = f.num('mib');
  return {
    quick: f.quick,
    dir: resolve(f.str('dir') ?? os.tmpdir()),
    keep: f.keep,
    streamBytes: mib * MiB,
    files: f.num('files'),
    depths: f.list('depths'),
    reps: f.num('reps'),
    oclass: f.str('oclass'),
    smallOclass: f.str('small-oclass') === 'none' ? undefined : (f.str('small-oclass') ?? 'S1'),
    writeResults: f.writeResults,
  };
}

/** The file system type holding `dir` (the longest mount point above it in /proc/mounts). */
function fsTypeOf(dir: string): string {
  try {
    let best = { at: '', type: 'unknown' };
    for (const line of readFileSync('/proc/mounts', 'utf8').split('\n')) {
      const [, at, type] = line.split(' ');
      if (!at || !type) continue;
      const inside = dir === at || dir.startsWith(at.endsWith('/') ? at : `${at}/`);
      if (inside && at.length > best.at.length) best = { at, type };
    }
    return `${best.type} (mounted at ${best.at})`;
  } catch {
    return 'unknown';
  }
}

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

// ---- (a) 1 GiB through streams ----

/** The two sides' stream factories: the same options, the same shape. */
interface StreamSide {
  name: string;
  writer(path: string, start: number): Writable;
  reader(path: string, start: number, end: number): Readable;
}

/** `count` stamped 1 MiB buffers (the first 4 bytes: the piece's index) from a ring. */
function* producer(ring: Buffer[], first: number, count: number): Generator<Buffer> {
  for (let i = first; i < first + count; i++) {
    const b = ring[i % ring.length]!;
    b.writeUInt32LE(i, 0);
    yield b;
  }
}

/** Read [first, first+count) pieces and check every piece's stamp; resolves to seconds. */
async function consume(stream: Readable, what: string, first: number, count: number): Promise<void> {
  let at = first * STREAM_PIECE_BYTES;
  const end = (first + count) * STREAM_PIECE_BYTES;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    // A stamp sits at every piece boundary inside the chunk.
    const next = at + chunk.byteLength;
    for (let p = Math.ceil(at / STREAM_PIECE_BYTES) * STREAM_PIECE_BYTES; p < next; p += STREAM_PIECE_BYTES) {
      if (chunk.readUInt32LE(p - at) !== p / STREAM_PIECE_BYTES)
        throw new Error(`${what}: piece ${p / STREAM_PIECE_BYTES} read back wrong`);
    }
    at = next;
  }
  if (at !== end)
    throw new Error(
      `${what}: read ${at - first * STREAM_PIECE_BYTES} bytes, wanted ${end - first * STREAM_PIECE_BYTES}`,
    );
}

async function streamRows(
  sides: [StreamSide, StreamSide],
  paths: [string, string],
  o: BenchOptions,
): Promise<Row[]> {
  const count = o.streamBytes / STREAM_PIECE_BYTES;
  const perRep = Math.ceil(count / o.reps);
  const ring = Array.from({ length: PRODUCER_RING_BUFFERS }, () =>
    randomFillSync(Buffer.allocUnsafe(STREAM_PIECE_BYTES)),
  );
  const wr = [0, 0];
  const rd = [0, 0];
  const timed = async (fn: () => Promise<unknown>) => {
    gc();
    const t0 = performance.now();
    await fn();
    return (performance.now() - t0) / 1000;
  };
  // Untimed: page cache this VM has backed for all the writes below, so that neither side meets
  // the first touch of pages the host took back (bench/README.md, "Memory of this VM"); then each
  // side's stream code, into a file of its own: after the scratch file's deletion, so that the
  // first timed segment (ours, in rep 0) does not take on what that deletion left the file system
  // to do, and long enough that the timed segments run warmed code (as the (b) rows warm up).
  const warm = Math.min(STREAM_WARMUP_PIECES, count);
  warmPageCache(o.dir, 2 * (o.streamBytes + warm * STREAM_PIECE_BYTES));
  for (let s = 0; s < 2; s++) {
    const path = `${paths[s]!}.warm`;
    await pipeline(producer(ring, 0, warm), sides[s]!.writer(path, 0));
    await consume(sides[s]!.reader(path, 0, warm * STREAM_PIECE_BYTES - 1), sides[s]!.name, 0, warm);
  }
  // Segment k writes (then reads) pieces [k*perRep, (k+1)*perRep) of one file per side, each side
  // first in turn, so that both see the same minutes of this machine.
  for (let rep = 0; rep < o.reps; rep++) {
    const first = rep * perRep;
    const n = Math.min(perRep, count - first);
    for (let k = 0; k < 2; k++) {
      const s = (rep + k) % 2;
      settleDisk();
      wr[s]! += await timed(() =>
        pipeline(producer(ring, first, n), sides[s]!.writer(paths[s]!, first * STREAM_PIECE_BYTES)),
      );
    }
  }
  for (let rep = 0; rep < o.reps; rep++) {
    const first = rep * perRep;
    const n = Math.min(perRep, count - first);
    for (let k = 0; k < 2; k++) {
      const s = (rep + k) % 2;
      const start = first * STREAM_PIECE_BYTES;
      rd[s]! += await timed(() =>
        consume(
          sides[s]!.reader(paths[s]!, start, start + n * STREAM_PIECE_BYTES - 1),
          sides[s]!.name,
          first,
          n,
        ),
      );
    }
  }
  const vol = `${o.streamBytes / MiB} MiB`;
  const rows: Row[] = [
    {
      test: `stream write, 1 MiB pieces (${vol})`,
      ours: mibps(o.streamBytes, wr[0]!),
      base: `fs ${mibps(o.streamBytes, wr[1]!)}`,
      ratio: wr[1]! / wr[0]!,
      goal: 0.8,
    },
    {
      test: `stream read (${vol})`,
      ours: mibps(o.streamBytes, rd[0]!),
      base: `fs ${mibps(o.streamBytes, rd[1]!)}`,
      ratio: rd[1]! / rd[0]!,
      goal: 0.8,
    },
  ];
  progress(rows);
  return rows;
}

// ---- (b) create, stat and unlink of empty files ----

/** The fs.promises calls of (b): the same on both sides. */
interface MetaSide {
  name: string;
  mkdir(path: string): Promise<unknown>;
  writeFile(path: string, data: string): Promise<void>;
  stat(path: string): Promise<{ size: number; isFile(): boolean }>;
  unlink(path: string): Promise<void>;
}

type MetaPhase = 'create' | 'stat' | 'unlink';

const fileName = (dir: string, i: number) => `${dir}/f${i.toString().padStart(6, '0')}`;

/** One file class's rows: `goal` 1.0 for the class the goal is about, undefined for information. */
async function metaRows(
  sides: [MetaSide, MetaSide],
  roots: [string, string],
  depth: number,
  o: BenchOptions,
  cls: { tag: string; label: string; goal: number | undefined },
  counters: () => Promise<EngineCounters>,
): Promise<{ rows: Row[]; calls: string }> {
  const dirs = roots.map((r) => `${r}/md-${cls.tag}-qd${depth}`) as [string, string];
  for (let s = 0; s < 2; s++) await sides[s]!.mkdir(dirs[s]!);
  const ops: Record<MetaPhase, (side: MetaSide, dir: string) => (i: number) => Promise<void>> = {
    create: (side, dir) => (i) => side.writeFile(fileName(dir, i), ''),
    stat: (side, dir) => async (i) => {
      const st = await side.stat(fileName(dir, i));
      if (!st.isFile() || st.size !== 0) throw new Error(`${side.name}: stat of file ${i} is wrong`);
    },
    unlink: (side, dir) => (i) => side.unlink(fileName(dir, i)),
  };
  const secs: Record<MetaPhase, [number, number]> = { create: [0, 0], stat: [0, 0], unlink: [0, 0] };
  // Engine calls the DfsFs side made, per kind: what each operation costs, free of this machine's noise.
  const calls: Record<MetaPhase, Map<string, number>> = {
    create: new Map(),
    stat: new Map(),
    unlink: new Map(),
  };
  for (let s = 0; s < 2; s++) {
    const warm = `${dirs[s]!}-warmup`;
    await sides[s]!.mkdir(warm);
    for (const phase of ['create', 'stat', 'unlink'] as const)
      await inFlight(0, Math.min(WARMUP_FILES, o.files), depth, ops[phase](sides[s]!, warm));
  }
  const perRep = Math.ceil(o.files / o.reps);
  for (const phase of ['create', 'stat', 'unlink'] as const) {
    for (let rep = 0; rep < o.reps; rep++) {
      const a = rep * perRep;
      const b = Math.min(o.files, a + perRep);
      for (let k = 0; k < 2; k++) {
        const s = (rep + k) % 2;
        if (phase !== 'stat') settleDisk();
        const before = s === 0 ? await counters() : undefined;
        secs[phase][s] += await inFlight(a, b, depth, ops[phase](sides[s]!, dirs[s]!));
        if (before) {
          const after = await counters();
          for (const op of ENGINE_OPS) {
            const n = after.ops[op].count - before.ops[op].count;
            if (n > 0) calls[phase].set(op, (calls[phase].get(op) ?? 0) + n);
          }
        }
      }
    }
  }
  const n = o.files;
  const rate = (s: number) => `${Math.round(n / s).toLocaleString('en-US')} ops/s`;
  const what: Record<MetaPhase, string> = {
    create: `create (writeFile(path, '')) of ${n.toLocaleString('en-US')} empty files`,
    stat: 'stat of the same files',
    unlink: 'unlink of the same files',
  };
  const rows = (['create', 'stat', 'unlink'] as const).map((p) => ({
    test: `${what[p]}, ${depth} in flight (${cls.label})`,
    ours: rate(secs[p][0]),
    base: `fs ${rate(secs[p][1])}`,
    ratio: secs[p][1] / secs[p][0],
    goal: cls.goal,
  }));
  progress(rows);
  const perOp = (p: MetaPhase) =>
    [...calls[p]].map(([op, k]) => `${Number((k / n).toFixed(2))} ${op}`).join(' + ') || 'none';
  return {
    rows,
    calls: `${cls.label}, ${depth} in flight: create ${perOp('create')}; stat ${perOp('stat')}; unlink ${perOp('unlink')}`,
  };
}

// ---- reporting ----

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  mkdirSync(o.dir, { recursive: true });
  const scratch = mkdtempSync(join(o.dir, 'daos-bench-dfs-'));
  const command = `npm run bench:dfs${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  const started = new Date();
  const fsType = fsTypeOf(o.dir);
  console.error(`bench:dfs${o.quick ? ' (quick)' : ''} in ${scratch} (${fsType})\n${machine()}`);
  const load0 = os.loadavg()[0]!;
  const local = join(scratch, 'local');
  mkdirSync(local);
  const sys = await DaosSystem.start({ dir: join(scratch, 'daos') });
  const rows: Row[] = [];
  const callLines: string[] = [];
  let dfs: Dfs | undefined;
  let small: Dfs | undefined;
  try {
    await sys.createPool({ label: 'bench', size: '64G' });
    const pool = await (await sys.connect()).connectPool('bench');
    dfs = await Dfs.mount(pool, 'dfs', { create: true, chunkSize: FILE_CHUNK_BYTES, oclass: o.oclass });
    const dfsFs = dfs.fs;
    const hwm = STREAM_PIECE_BYTES;
    const dfsStreams: StreamSide = {
      name: 'DfsFs',
      writer: (path, start) =>
        dfsFs.createWriteStream(path, { flags: start === 0 ? 'w' : 'r+', start, highWaterMark: hwm }),
      reader: (path, start, end) => dfsFs.createReadStream(path, { start, end, highWaterMark: hwm }),
    };
    const fsStreams: StreamSide = {
      name: 'fs',
      writer: (path, start) =>
        createWriteStream(path, { flags: start === 0 ? 'w' : 'r+', start, highWaterMark: hwm }),
      reader: (path, start, end) => createReadStream(path, { start, end, highWaterMark: hwm }),
    };
    console.error('(a) streams');
    rows.push(...(await streamRows([dfsStreams, fsStreams], ['/stream.bin', join(local, 'stream.bin')], o)));
    await dfsFs.unlink('/stream.bin');
    rmSync(join(local, 'stream.bin'));
    console.error('(b) empty files');
    const metaOf = (m: Dfs): MetaSide => ({
      name: 'DfsFs',
      mkdir: (p) => m.fs.mkdir(p),
      writeFile: (p, d) => m.fs.writeFile(p, d),
      stat: (p) => m.fs.stat(p),
      unlink: (p) => m.fs.unlink(p),
    });
    const fsMeta: MetaSide = { name: 'fs', mkdir: (p) => mkdir(p), writeFile, stat, unlink };
    const goalClass = { tag: 'main', label: `files ${o.oclass ?? 'SX, the default'}`, goal: 1.0 };
    const counters = () => sys.engineCounters(0);
    for (const depth of o.depths) {
      const m = await metaRows([metaOf(dfs), fsMeta], ['', local], depth, o, goalClass, counters);
      rows.push(...m.rows);
      callLines.push(m.calls);
    }
    if (o.smallOclass !== undefined) {
      // For information: the same with one-group files (DAOS's `file:single` hint, IO500's mdtest
      // runs with --dfs.oclass S1), in a second container.
      small = await Dfs.mount(pool, 'dfs-small', {
        create: true,
        chunkSize: FILE_CHUNK_BYTES,
        oclass: o.smallOclass,
      });
      const info = { tag: 'small', label: `files ${o.smallOclass}`, goal: undefined };
      for (const depth of o.depths) {
        const m = await metaRows([metaOf(small), fsMeta], ['', local], depth, o, info, counters);
        rows.push(...m.rows);
        callLines.push(m.calls);
      }
    }
  } finally {
    await small?.umount();
    await dfs?.umount();
    await sys.stop();
    if (!o.keep) rmSync(scratch, { recursive: true, force: true });
  }
  const load1 = os.loadavg()[0]!;
  const block = [
    `Command: \`${command}\` (node --expose-gc dist/bench/dfs.js)  `,
    `Date: ${started.toISOString()}  `,
    `Machine: ${machine()}  `,
    `Load average (1 min): ${load0.toFixed(2)} at the start, ${load1.toFixed(2)} at the end  `,
    `Scratch folder: ${o.dir}, ${fsType}; the embedded store (1 engine, 4 targets, durability 'process': nothing fsynced) and the local baseline folder are both in it. File class: ${o.oclass ?? "the mount's default (SX at redundancy factor 0, as DAOS)"}${o.smallOclass ? `; the (b) rows marked ${o.smallOclass} repeat (b) in a second container whose files are ${o.smallOclass}, for information` : ''}; chunk 1 MiB. Streams: highWaterMark ${STREAM_PIECE_BYTES / MiB} MiB on all four (Node's defaults are 64 KiB for read streams, 16 KiB for write streams; a DfsFs stream's is 1 MiB), fed by \`pipeline\` from a generator of 1 MiB buffers and read with \`for await\`. The two sides run in alternating segments (${o.reps} each), every write segment after a \`sync\`, after an untimed warm-up: ${(2 * (o.streamBytes + Math.min(STREAM_WARMUP_PIECES, o.streamBytes / STREAM_PIECE_BYTES) * STREAM_PIECE_BYTES) + WARM_MARGIN_BYTES) / MiB} MiB written to a scratch file and deleted (page cache this VM has backed; bench/README.md), then ${STREAM_WARMUP_PIECES} pieces written to a file of each side's own and read back.`,
    '',
    table(rows),
    '',
    'Engine calls per operation of the DfsFs side (from the engine counters; an update, punch or tx_commit is a commit):',
    '',
    ...callLines.map((l) => `- ${l}`),
  ].join('\n');
  console.log(`\n${block}\n`);
  if (o.writeResults) console.error(`updated ${updateResults('dfs', block)}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
