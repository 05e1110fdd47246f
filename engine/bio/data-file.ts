/**
 * A target's data file: the bytes of values too large to keep inline in the index, at offsets the
 * ExtentAllocator hands out.
 *
 * Writes are queued at submission. Long runs go to the thread pool before the index transaction
 * that will reference them is queued (`flushWritesAsync`) when several are due at once; the rest,
 * a lone long one too, wait for that transaction,
 * which writes every one its target holds (`flushWrites`), in one positional writev per contiguous
 * run, so the values of a batch of commits become a few large writes, not one write each.
 * Reads are queued, merged the same way and done together in a microtask queued by the first.
 */
import fs from 'node:fs';
import { assert, DaosError } from '../../core/common/errors.js';
import { TurnBudget } from '../../core/common/turns.js';
import { BYTES_ZERO } from '../../core/common/units.js';
import { isSpaceErrno, reserveBlocks } from './fallocate.js';

/**
 * Values read out are carved from slabs of this size, as Node's Buffer pool does for small
 * buffers: a fresh ArrayBuffer per 4 KiB value costs more in allocation and GC than the read.
 */
const READ_SLAB_BYTES = 1024 * 1024;
/** Larger values get their own buffer. */
const SLAB_VALUE_BYTES_MAX = 64 * 1024;
/** Linux's IOV_MAX: the most buffers one writev may take. */
const IOVECS_PER_WRITE_MAX = 1024;
/**
 * When one turn's flush has several runs at least this long, they go through libuv's thread pool,
 * so that their copies run in parallel while the main thread serves the next requests. A lone
 * run, or a short one, is copied right away: a thread-pool round trip costs more than it saves.
 */
const ASYNC_RUN_BYTES_MIN = 256 * 1024;
/**
 * Contiguous pieces merge into one run up to this many bytes: past it a new run starts, so that
 * several requests for neighbouring data (a sequential reader with requests in flight) still
 * become several runs that the thread pool copies in parallel, not one the main thread copies.
 */
const RUN_BYTES_MAX = 1024 * 1024;

/**
 * A new target's data is striped over this many member files: logical offset `o` lies in file
 * `floor(o / DATA_STRIPE_BYTES) % DATA_FILE_STRIPES`. The kernel holds a file's lock for the whole
 * of a buffered write, so the copies of long writes into one file take turns; over two files the
 * thread pool copies two at once (writes in flight; each run is one `writev` per member file).
 * A lone long write was once split over the members too, half here, half on the pool: on a VM
 * whose scheduler runs the woken pool thread on the main thread's core that gained nothing, and
 * copied whole into reserved blocks it was faster (bench/README.md, "Lone writes whole again").
 */
export const DATA_FILE_STRIPES = 2;
/** A stripe: long values (1 MiB, aligned as the allocator hands them out) split evenly over the files. */
export const DATA_STRIPE_BYTES = 512 * 1024;

/**
 * A data file reserves the blocks its next writes will fill (fallocate, size unchanged:
 * engine/bio/fallocate.ts) once a write passes what it reserved: as many bytes again as lie below
 * that write's end, at least DATA_RESERVE_BYTES_MIN and at most DATA_RESERVE_BYTES_MAX. A buffered
 * write into blocks the file system has not allocated pays for their allocation page by page
 * (ext4's delayed allocation); into reserved blocks a lone 1 MiB write of the store took a median
 * 281–283 µs against 334–357 (this VM, 2026-11-28; bench/README.md, "Blocks reserved ahead").
 * A small store reserves little; what is left unused is given back when the file is closed. Not
 * on a file system in memory (MEMORY_FS_TYPES): there, reserving allocates and zeroes the pages.
 */
export const DATA_RESERVE_BYTES_MIN = 1024 * 1024;
export const DATA_RESERVE_BYTES_MAX = 64 * 1024 * 1024;
/** statfs `f_type`s of file systems held in memory: tmpfs (/dev/shm), ramfs. */
const MEMORY_FS_TYPES: ReadonlySet<number> = new Set([0x01021994, 0x858458f6]);

/** How a data file's logical bytes lie in its member files (kept by the target: see IndexStore.dataLayout). */
export interface DataLayout {
  files: number;
  stripeBytes: number;
}

/** One file, no striping: a target made before striping, and a DataFile opened on its own. */
export const SINGLE_FILE: DataLayout = { files: 1, stripeBytes: 0 };

/** The layout of a new target. */
export const STRIPED: DataLayout = { files: DATA_FILE_STRIPES, stripeBytes: DATA_STRIPE_BYTES };

/**
 * The bytes of a logical range that lie in one member file: contiguous there, at `pos`, held by
 * `bufs` (pieces of the caller's buffers, in order).
 */
interface Part {
  fd: number;
  pos: number;
  len: number;
  bufs: Uint8Array[];
}

/** `bufs` without their first `n` bytes. */
function skipBytes(bufs: Uint8Array[], n: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const b of bufs) {
    if (n >= b.length) {
      n -= b.length;
      continue;
    }
    out.push(n === 0 ? b : b.subarray(n));
    n = 0;
  }
  return out;
}

/** Write (or read) all of `p` from its `done`th byte on, here; a read past the end of its file throws. */
function partSync(write: boolean, p: Part, done: number): void {
  let bufs = done === 0 ? p.bufs : skipBytes(p.bufs, done);
  while (done < p.len) {
    const pos = p.pos + done;
    const n = write
      ? bufs.length === 1
        ? fs.writeSync(p.fd, bufs[0]!, 0, bufs[0]!.length, pos)
        : fs.writevSync(p.fd, bufs, pos)
      : bufs.length === 1
        ? fs.readSync(p.fd, bufs[0]!, 0, bufs[0]!.length, pos)
        : fs.readvSync(p.fd, bufs, pos);
    assert(n > 0, () =>
      write
        ? `data-file write at ${pos} made no progress`
        : `data file ends before ${p.pos + p.len} (read at ${pos})`,
    );
    done += n;
    if (done < p.len) bufs = skipBytes(bufs, n);
  }
}

/** Parts on the thread pool: `done(err)` once every one is over (the first failure, if any). */
class PartsOnPool {
  private left: number;
  private err: unknown;

  constructor(
    private readonly write: boolean,
    parts: Part[],
    private readonly done: (err: unknown) => void,
  ) {
    this.left = parts.length;
    for (const p of parts) {
      // The callback made per part only hands on (see groupToSettle).
      const cb = (err: NodeJS.ErrnoException | null, n: number) => this.partDone(p, err ?? undefined, n);
      try {
        if (write) fs.writev(p.fd, p.bufs, p.pos, cb);
        else fs.readv(p.fd, p.bufs, p.pos, cb);
      } catch (err) {
        this.partDone(p, err, 0);
      }
    }
  }

  /** A part is over after `n` bytes: the rest of a short transfer here, as partSync does. */
  partDone(p: Part, err: unknown, n: number): void {
    if (err === undefined && n < p.len) {
      try {
        partSync(this.write, p, n);
      } catch (e) {
        err = e;
      }
    }
    this.err ??= err;
    if (--this.left === 0) this.done(this.err);
  }
}

/**
 * Read flushes that may run back to back, each in a microtask, before one waits for the next
 * event-loop turn: a reader whose reads are copied at once would otherwise go from read to read
 * in microtasks alone, holding up timers, sockets and the thread pool's completions for as long
 * as it reads.
 */
const READ_FLUSHES_PER_TURN_MAX = 32;
const readTurns = new TurnBudget(READ_FLUSHES_PER_TURN_MAX);

/**
 * A lone long run goes to the thread pool, not the main thread, when at least this many long runs
 * of its kind (reads, or writes) are there already: many readers or writers at once. A read
 * copied here would settle in a microtask and its reader would plan the next read, and the next,
 * while the pool's readers waited for the loop to turn (one of eight readers made 1,017 of 1,024
 * 1 MiB reads that way, the others one each). A write copied here would hold the main
 * thread from the other writers' commits; writers in flight, each committed once its own bytes
 * are written, come a turn apart, each a lone run. With fewer (one or two readers), the copy here
 * is faster than a pool round trip, and READ_FLUSHES_PER_TURN_MAX bounds how long the other
 * reader waits.
 */
const POOL_RUNS_TO_JOIN = 2;

/**
 * A lone read at least this long, with no other long read on the thread pool, is split in two
 * parts copied side by side: the first by the main thread, the rest on the pool. With nothing
 * else in flight (a reader with one read at a time) the main thread would otherwise only wait
 * for the pool's copy, or the pool for the main thread's; split, a 1 MiB read from the page cache
 * took 90–112 µs against 124–162 copied here and 162–199 on the pool alone (this VM,
 * 2026-11-27). Writes are not split: within one file the kernel holds its lock for a whole
 * buffered write, and over a striped layout's files it gained nothing (DATA_FILE_STRIPES).
 */
const SPLIT_READ_BYTES_MIN = 512 * 1024;
/** Where a split read's pool part begins: a page boundary of the file. */
const SPLIT_ALIGN_BYTES = 4096;
/**
 * The loop turn of the last read flush, and how many flushes ran in it: a read is split only in
 * the first flush of its turn. A lone reader's every read, waiting for the pool, begins a turn;
 * many readers' reads come several a turn (as their pool reads complete, or one after another
 * when each is copied here), where the cores are busy anyway and a split only adds a pool round
 * trip. (Split there too, reads at 8 in flight ran 0.59x–0.64x of FileHandle's against
 * 0.67x–0.70x unsplit, one store, alternating segments; but two runs of one code differed as
 * much, so the rule keeps those reads as they were rather than claiming a gain.)
 */
let flushTurn = -1;
let flushesInTurn = 0;

function noteReadFlush(): void {
  const turn = readTurns.mark();
  if (turn !== flushTurn) {
    flushTurn = turn;
    flushesInTurn = 0;
  }
  flushesInTurn++;
}

/** Whether a flush's lone read of `len` bytes is split (SPLIT_READ_BYTES_MIN). */
function splitsLoneRead(len: number): boolean {
  return flushesInTurn === 1 && len >= SPLIT_READ_BYTES_MIN && poolReads === 0;
}

/**
 * Which runs of a flush go to the thread pool: every long one, when there are several; a lone
 * long one when `running` long runs of its kind are there already (POOL_RUNS_TO_JOIN).
 */
function offloaded<T>(runs: Array<Run<T>>, running = 0): Set<Run<T>> {
  const long = longRuns(runs);
  if (long.size === 1) for (const r of long) if (!loneRunJoins(r.len, running)) long.clear();
  return long;
}

/** The runs of at least ASYNC_RUN_BYTES_MIN. */
function longRuns<T>(runs: Array<Run<T>>): Set<Run<T>> {
  const long = new Set<Run<T>>();
  for (const r of runs) if (r.len >= ASYNC_RUN_BYTES_MIN) long.add(r);
  return long;
}

/** Whether a flush's only run, of `len` bytes, goes to the pool with `running` long runs of its kind there. */
function loneRunJoins(len: number, running: number): boolean {
  return len >= ASYNC_RUN_BYTES_MIN && running >= POOL_RUNS_TO_JOIN;
}

export interface Run<T> {
  off: number;
  len: number;
  items: T[];
}

/**
 * Sort by offset and merge exactly contiguous pieces into runs of at most IOVECS_PER_WRITE_MAX
 * pieces and RUN_BYTES_MAX bytes (a longer piece is a run of its own).
 * Writes never overlap (each has its own reserved space); reads may (one value read twice).
 */
function contiguousRuns<T extends { off: number }>(
  items: T[],
  lenOf: (t: T) => number,
  mayOverlap: boolean,
): Array<Run<T>> {
  items.sort((a, b) => a.off - b.off);
  const runs: Array<Run<T>> = [];
  for (const item of items) {
    const last = runs[runs.length - 1];
    if (
      last &&
      item.off === last.off + last.len &&
      last.items.length < IOVECS_PER_WRITE_MAX &&
      last.len + lenOf(item) <= RUN_BYTES_MAX
    ) {
      last.items.push(item);
      last.len += lenOf(item);
    } else {
      assert(
        mayOverlap || !last || item.off >= last.off + last.len,
        () => `overlapping data-file writes at ${item.off}`,
      );
      runs.push({ off: item.off, len: lenOf(item), items: [item] });
    }
  }
  return runs;
}

export interface PendingWrite {
  off: number;
  bytes: Uint8Array;
  /** Its place in its file's queue (see DataFile.flushWritesAsync). */
  seq: number;
}

const writeLen = (w: PendingWrite): number => w.bytes.length;

export interface QueuedRead {
  off: number;
  len: number;
  out: Uint8Array;
  outOff: number;
  /** The deferReads call the read belongs to (told when the read is done). */
  group: ReadGroup | undefined;
  /** A split read's pool part: how its head, read here meanwhile, failed (told instead of the part's outcome). */
  headErr: unknown;
}

const readLen = (r: QueuedRead): number => r.len;

/** The reads one deferReads call planned: it resolves to `value` once all of them are in place. */
class ReadGroup {
  left = 0;
  failed = false;
  value: unknown;
  // Set by deferReads once its planning returned (unset, as for a plan that threw, settling does nothing).
  resolve: ((value: unknown) => void) | undefined;
  reject: ((err: unknown) => void) | undefined;

  done(err: unknown): void {
    if (this.failed) return;
    if (err !== undefined) {
      this.failed = true;
      this.reject?.(err);
    } else if (--this.left === 0) this.resolve?.(this.value);
  }
}

/**
 * The read path makes no function per call that a microtask, a promise or a thread-pool completion
 * runs (the same holds in core/daos and engine/obj): V8 gives such a function optimized code of
 * its own, which dies with it, so that after each full collection the next one is compiled again,
 * inlined callees and all (bench/README.md, "Closures made per call"). The group deferReads
 * makes a promise for, handed to the one executor below.
 */
let groupToSettle: ReadGroup | undefined;

function takeSettlers(resolve: (value: unknown) => void, reject: (err: unknown) => void): void {
  groupToSettle!.resolve = resolve;
  groupToSettle!.reject = reject;
  groupToSettle = undefined;
}

/** The read flush deferReads queues: one function for every flush (see groupToSettle). */
function flushQueuedReads(): void {
  flushQueued = false;
  flushAllReads();
}

/** Tell every read of a run that it is done (or failed). */
function settleRun(run: Run<QueuedRead>, err?: unknown): void {
  for (const r of run.items) r.group?.done(err);
}

function views(reads: QueuedRead[]): Uint8Array[] {
  // A read into the whole of its buffer (a value read out) needs no view of its own.
  return reads.map((r) =>
    r.outOff === 0 && r.len === r.out.length ? r.out : r.out.subarray(r.outOff, r.outOff + r.len),
  );
}

/**
 * The data files of this process share one I/O schedule: the reads queued before a flush and
 * the writes a flush takes, over every target, are merged into runs and spread at once —
 * long runs onto the thread pool when there are several, the rest copied by the main thread — so
 * that requests in flight on several targets use several cores.
 */
const filesWithReads = new Set<DataFile>();
/** A flush of the queued reads is due at the end of this turn. */
let flushQueued = false;
const filesWithWrites = new Set<DataFile>();
/** Bytes queued for writing to the data files of this process, ever (see `dataBytesQueued`). */
let bytesQueued = BYTES_ZERO;

/** Bytes queued for writing to the data files of this process so far. */
export function dataBytesQueued(): number {
  return bytesQueued;
}
const writesInFlight = new Set<Promise<void>>();
/** Bytes of the writes in every file's `pending` (queued, not yet taken by a flush). */
let bytesPending = 0;
/** Long read runs on the thread pool now, over every data file of the process. */
let poolReads = 0;

/**
 * Do the queued reads. The common case has a path of its own: one read queued on one file (a
 * reader whose previous read just completed), which needs no sorting, merging or bookkeeping
 * arrays; at 8 reads in flight every µs of the main thread's work per read counts
 * (bench/README.md, "Main-thread work per read").
 */
function flushAllReads(): void {
  noteReadFlush();
  if (filesWithReads.size === 1) {
    for (const f of filesWithReads) {
      if (!f.hasOneQueuedRead) break;
      filesWithReads.clear();
      f.flushOneRead();
      return;
    }
  }
  void flushReadRuns();
}

async function flushReadRuns(): Promise<void> {
  const files = [...filesWithReads];
  filesWithReads.clear();
  const work = files.flatMap((f) => f.takeReadRuns().map((run) => ({ f, run })));
  const async = offloaded(
    work.map((w) => w.run),
    poolReads,
  );
  // Runs copied here are told once the flush is over; runs on the thread pool each as soon as
  // they are in place, so that a reader does not wait for the slowest of the pool's runs.
  // Nothing below throws: each run's failure goes to its own readers.
  const copied: Array<{ run: Run<QueuedRead>; err?: unknown }> = [];
  try {
    const waits = work
      .filter((w) => async.has(w.run))
      .map((w) => {
        poolReads++;
        const done = (err?: unknown) => {
          poolReads--;
          settleRun(w.run, err);
        };
        return w.f.readRunAsync(w.run).then(() => done(), done);
      });
    for (const w of work) {
      if (async.has(w.run)) continue;
      try {
        w.f.readRunSync(w.run);
        copied.push({ run: w.run });
      } catch (err) {
        copied.push({ run: w.run, err });
      }
    }
    await Promise.all(waits);
  } finally {
    for (const f of files) f.readsSettled();
  }
  for (const c of copied) settleRun(c.run, c.err);
}

/** Whether a lone long write goes to the thread pool too (see writeLoneRunsOnPool). */
let loneWritesOnPool = false;

/**
 * For a process that serves remote clients (daos_engine): a flush's long write runs go to the
 * thread pool even when there is only one, so that the main thread reads the next requests while
 * the kernel copies. Measured with two engine processes, one client alternating 256 MiB of 1 MiB
 * updates between them: at 4 in flight 9–40% more MiB/s (six runs); at 1 in flight 2–18% less (five),
 * as a pool round trip costs more than it saves when nothing else waits. In one process (the
 * embedded system) the caller waits for its write either way, and a lone run stays here.
 */
export function writeLoneRunsOnPool(on: boolean): void {
  loneWritesOnPool = on;
}

/**
 * The start of the queued writes is due at the end of this turn (startDueWrites), so that the
 * long writes of several commits in flight (eight 1 MiB array writes) go to the thread pool side
 * by side rather than each alone to the main thread.
 */
let writesDueQueued = false;
/** Files with commits waiting for that start (DataFile.flushWritesAsync), or runs it started. */
const filesToSettle = new Set<DataFile>();

/**
 * Queue the start of the queued writes for the end of this turn, unless they are all short:
 * then each waits for its commit's transaction (as `offloaded` would have it), with no runs built
 * here (a commit of one small value, many times a turn). Whether it was queued.
 */
function dueWrites(): boolean {
  if (writesDueQueued) return true;
  if (bytesPending < ASYNC_RUN_BYTES_MIN) {
    for (const f of filesWithWrites) f.holdPending();
    filesWithWrites.clear();
    return false;
  }
  writesDueQueued = true;
  queueMicrotask(startDueWrites);
  return true;
}

/** dueWrites's microtask (one function for every turn: see groupToSettle). */
function startDueWrites(): void {
  writesDueQueued = false;
  startWrites();
  for (const f of filesToSettle) f.settleWaiters();
  filesToSettle.clear();
}

/** The queued writes, now: long runs to the thread pool (see offloaded), the rest held for their commits. */
function startWrites(): void {
  // Loops, not callbacks made per call (see groupToSettle).
  const work: Array<{ f: DataFile; run: Run<PendingWrite> }> = [];
  const runs: Array<Run<PendingWrite>> = [];
  for (const f of filesWithWrites) {
    for (const run of f.takeWriteRuns()) {
      work.push({ f, run });
      runs.push(run);
    }
  }
  filesWithWrites.clear();
  // A lone long run joins the pool when others are there already (POOL_RUNS_TO_JOIN).
  const async = loneWritesOnPool ? longRuns(runs) : offloaded(runs, writesInFlight.size);
  // The pool's runs in turn from each file (each file's first, then each one's second, …): the
  // kernel holds a file's lock for a whole buffered write, so that the pool's threads, taking
  // requests in order, would otherwise wait on one file's lock while other files had writes queued.
  const byFile = new Map<DataFile, Array<Run<PendingWrite>>>();
  for (const w of work) {
    if (!async.has(w.run)) continue;
    const list = byFile.get(w.f);
    if (list === undefined) byFile.set(w.f, [w.run]);
    else list.push(w.run);
  }
  for (let i = 0, more = byFile.size > 0; more; i++) {
    more = false;
    for (const [f, list] of byFile) {
      if (i >= list.length) continue;
      more = true;
      f.started(list[i]!, f.writeRunAsync(list[i]!));
    }
  }
  // A run left here, a lone long one too, is written by its commit's transaction.
  for (const w of work) if (!async.has(w.run)) w.f.hold(w.run);
}

/** Track a started write until it is over (drain waits for it). */
function writeStarted(done: Promise<void>): void {
  writesInFlight.add(done);
  const forget = () => writesInFlight.delete(done);
  void done.then(forget, forget);
}

/**
 * Commits waiting for the start of the writes due this turn, sharing one promise: they wait for
 * the runs holding their file's writes up to `seq` (the last one's place in its file's queue).
 * A commit joins the waiter before it while less than ASYNC_RUN_BYTES_MIN was queued in between
 * (`bytesAt`): a thousand commits of 4 KiB values a turn share a few promises, not a thousand,
 * and each waits at most for a short run more than its own.
 */
interface WriteWaiter {
  seq: number;
  bytesAt: number;
  promise: Promise<void>;
  resolve: (written: PromiseLike<void> | undefined) => void;
}

/** The waiter DataFile.flushWritesAsync makes a promise for, handed to the one executor below. */
let waiterToQueue: WriteWaiter | undefined;

function takeWaiter(resolve: (written: PromiseLike<void> | undefined) => void): void {
  waiterToQueue!.resolve = resolve;
  waiterToQueue = undefined;
}

const nothing = (): void => {};

/** A failed data-file write as the error of the commits whose bytes it carried. */
function writeError(path: string, run: Run<PendingWrite>, err: unknown): DaosError {
  const code = (err as NodeJS.ErrnoException).code;
  return new DaosError(
    code === 'ENOSPC' ? 'DER_NOSPACE' : 'DER_IO',
    `data file ${path}: writing ${run.len} bytes at ${run.off} failed: ${(err as Error).message}`,
  );
}

function bytesOf(run: Run<PendingWrite>): Uint8Array[] {
  return run.items.map((w) => w.bytes);
}

export class DataFile {
  /** The first member file (the only one of a single-file layout, whose I/O paths use it alone). */
  private fd: number;
  /** Every member file, in stripe order. */
  private fds: number[];
  private pending: PendingWrite[] = [];
  private pendingBytes = 0;
  /** Writes queued so far (their `seq`s), and their bytes. */
  private writeSeq = 0;
  private queuedBytes = 0;
  /** Done when every write started so far on the thread pool or split is; undefined when none is running. */
  private running: Promise<void> | undefined;
  private runningLeft = 0;
  /** Runs started this turn, with the first queue place of their writes (settleWaiters). */
  private turnRuns: Array<{ seq: number; done: Promise<void> }> = [];
  /** Commits waiting for this turn's start, in the order they asked. */
  private waiters: WriteWaiter[] = [];
  /** Writes left by `flushWritesAsync` for the next `flushWrites` (their commit's transaction). */
  private held: PendingWrite[] = [];
  /** Failed writes by offset, until their commits ask (`checkWritten`). */
  private readonly failed = new Map<number, DaosError>();
  private slab = Buffer.allocUnsafeSlow(READ_SLAB_BYTES);
  private slabUsed = 0;
  /** Bytes written since the last fdatasync. */
  private unsynced = false;
  /** Logical bytes below which every member file has its blocks reserved (DATA_RESERVE_BYTES_MIN). */
  private reservedEnd = 0;
  /**
   * Whether to reserve blocks ahead: not on a file system in memory, and not once the file
   * system has said it cannot (no fallocate there, or no addon).
   */
  private reserves: boolean;
  /** Whether blocks were reserved since open (close gives back what is left unused). */
  private reservedSome = false;
  /** While set, `read` queues instead of reading (see deferReads). */
  /** The deferReads call running now: reads are queued for it. */
  private deferring: ReadGroup | undefined;
  private spareGroup: ReadGroup | undefined;
  private readQueue: QueuedRead[] = [];
  /** Reads taken for a flush and not yet done. */
  private readsInFlight = 0;
  private afterReadsQueue: Array<() => void> = [];

  private constructor(
    readonly path: string,
    fds: number[],
    readonly layout: DataLayout,
  ) {
    this.fd = fds[0]!;
    this.fds = fds;
    this.reserves = !MEMORY_FS_TYPES.has(fs.statfsSync(path).type);
  }

  /** Open (or create) the data file at `path`; a striped layout's further member files are `path.1`, `path.2`, … */
  static open(path: string, layout: DataLayout = SINGLE_FILE): DataFile {
    const fds: number[] = [];
    try {
      for (let f = 0; f < layout.files; f++) {
        const p = DataFile.memberPath(path, f);
        fds.push(fs.openSync(p, fs.existsSync(p) ? 'r+' : 'w+'));
      }
    } catch (err) {
      for (const fd of fds) fs.closeSync(fd);
      throw err;
    }
    return new DataFile(path, fds, layout);
  }

  /** The path of member file `f` of the data file at `path`. */
  static memberPath(path: string, f: number): string {
    return f === 0 ? path : `${path}.${f}`;
  }

  /** Where the logical data ends: past the last byte of any member file. */
  get sizeBytes(): number {
    if (this.fds.length === 1) return fs.fstatSync(this.fd).size;
    const { files, stripeBytes } = this.layout;
    let end = 0;
    for (let f = 0; f < files; f++) {
      const size = fs.fstatSync(this.fds[f]!).size;
      if (size === 0) continue;
      const stripe = Math.floor((size - 1) / stripeBytes);
      end = Math.max(end, (stripe * files + f) * stripeBytes + size - stripe * stripeBytes);
    }
    return end;
  }

  /** Queue `bytes` for offset `off` (reserved by the caller); written by the next flushWrites. */
  queueWrite(off: number, bytes: Uint8Array): void {
    assert(bytes.length > 0, 'empty data-file write');
    bytesQueued += bytes.length;
    // A failure kept at `off` belongs to a commit that failed before it asked (the space was
    // released and is reserved again): this write's own outcome replaces it.
    if (this.failed.size > 0) this.failed.delete(off);
    if (off + bytes.length > this.reservedEnd && this.reserves) this.reserveAhead(off + bytes.length);
    this.pending.push({ off, bytes, seq: ++this.writeSeq });
    this.queuedBytes += bytes.length;
    this.pendingBytes += bytes.length;
    bytesPending += bytes.length;
    filesWithWrites.add(this);
  }

  /**
   * Reserve the member files' blocks up to `end` and as far again past it as DATA_RESERVE_BYTES_MIN
   * says. A failure is not the write's: it writes into unreserved blocks as before (and fails
   * there, if the disk is full). Short of space, the next window tries again; a file system that
   * cannot reserve is not asked again.
   */
  private reserveAhead(end: number): void {
    const to = end + Math.min(DATA_RESERVE_BYTES_MAX, Math.max(DATA_RESERVE_BYTES_MIN, end));
    for (let f = 0; f < this.fds.length; f++) {
      const from = this.memberLength(this.reservedEnd, f);
      const until = this.memberLength(to, f);
      if (until <= from) continue;
      const errno = reserveBlocks(this.fds[f]!, from, until - from);
      if (errno === 0) {
        this.reservedSome = true;
        continue;
      }
      if (!isSpaceErrno(errno)) this.reserves = false;
      break;
    }
    this.reservedEnd = to;
  }

  /** Whether this file reserves blocks ahead of its writes (DATA_RESERVE_BYTES_MIN): false where the file system or the platform cannot. */
  get reservesAhead(): boolean {
    return this.reserves;
  }

  get hasPendingWrites(): boolean {
    return this.pending.length > 0 || this.held.length > 0;
  }

  /**
   * Write this file's queued and held writes now, one positional writev per contiguous run. A
   * commit calls this in its transaction; one that fails before its transaction runs calls it too,
   * so that no write of space it gives back is still queued.
   */
  flushWrites(): void {
    if (this.pending.length === 0 && this.held.length === 0) return;
    filesWithWrites.delete(this);
    const writes = this.held.length === 0 ? this.pending : this.held.concat(this.pending);
    this.takePending();
    this.held = [];
    for (const run of this.runsOf(writes)) this.writeRunNow(run);
  }

  /** @internal Keep a run for the next `flushWrites`. */
  hold(run: Run<PendingWrite>): void {
    for (const w of run.items) this.held.push(w);
  }

  /** @internal Keep every queued write for the next `flushWrites`. */
  holdPending(): void {
    const writes = this.takePending();
    if (this.held.length === 0) this.held = writes;
    else for (const w of writes) this.held.push(w);
  }

  private takePending(): PendingWrite[] {
    const writes = this.pending;
    this.pending = [];
    bytesPending -= this.pendingBytes;
    this.pendingBytes = 0;
    return writes;
  }

  /**
   * Throw the error of a failed write to any of `extents` (their writes are flushed: see
   * flushWritesAsync). A commit calls this before its index records refer to the bytes. A flush
   * writes the runs of every file and target at once, so a failed run is kept here for the
   * commits whose bytes it carried, not thrown at whichever commit started the flush.
   */
  checkWritten(extents: ReadonlyArray<{ off: number }>): void {
    if (this.failed.size === 0) return;
    let err: DaosError | undefined;
    for (const x of extents) {
      const e = this.failed.get(x.off);
      if (e === undefined) continue;
      err ??= e;
      this.failed.delete(x.off);
    }
    if (err !== undefined) throw err;
  }

  /**
   * Start the queued writes of every data file (see the schedule above) and resolve when this
   * file's writes queued so far are written: a commit awaits this before its index transaction,
   * so that its bytes are on file before a record refers to them. Undefined when there is nothing
   * to wait for (every such write done, or held for the next `flushWrites`). A commit waits for
   * no other file's writes, nor for writes of this file queued after it: of eight writes in
   * flight, each commits once its own bytes (and those queued before them here) are written,
   * and the next write can start while the others are still copied. Each commit waits for at
   * least what the commits of this file before it wait for, so none reaches its transaction
   * before the bytes of those are on file; commits in flight together are not otherwise ordered
   * (nor were they when every commit waited for every write): what reads see follows their
   * epochs, given at submission.
   */
  flushWritesAsync(): Promise<void> | undefined {
    if (this.pending.length === 0 && this.waiters.length === 0) return this.running;
    if (!dueWrites()) return this.running;
    const last = this.waiters[this.waiters.length - 1];
    if (last !== undefined && this.queuedBytes - last.bytesAt < ASYNC_RUN_BYTES_MIN) {
      last.seq = this.writeSeq;
      return last.promise;
    }
    const waiter: WriteWaiter = {
      seq: this.writeSeq,
      bytesAt: this.queuedBytes,
      promise: undefined as unknown as Promise<void>,
      resolve: nothing,
    };
    waiterToQueue = waiter;
    waiter.promise = new Promise<void>(takeWaiter);
    this.waiters.push(waiter);
    filesToSettle.add(this);
    return waiter.promise;
  }

  /** @internal A run of this file started (on the thread pool, or split): `done` once it is over. */
  started(run: Run<PendingWrite>, done: Promise<void>): void {
    writeStarted(done);
    let seq = run.items[0]!.seq;
    for (const w of run.items) if (w.seq < seq) seq = w.seq;
    this.turnRuns.push({ seq, done });
    filesToSettle.add(this);
  }

  /**
   * @internal This turn's writes are started: each waiting commit is told to wait for the runs
   * holding writes queued up to it here, and for what the commit before it waits for.
   */
  settleWaiters(): void {
    const runs = this.turnRuns.sort((a, b) => a.seq - b.seq);
    this.turnRuns = [];
    let written = this.running;
    let r = 0;
    // `written` grows by the runs holding writes queued up to `seq`.
    const through = (seq: number) => {
      if (r === runs.length || runs[r]!.seq > seq) return;
      const parts: Array<Promise<void>> = written === undefined ? [] : [written];
      while (r < runs.length && runs[r]!.seq <= seq) parts.push(runs[r++]!.done);
      written = this.track(parts);
    };
    for (const w of this.waiters) {
      through(w.seq);
      w.resolve(written);
    }
    this.waiters = [];
    through(Number.POSITIVE_INFINITY);
  }

  /** `parts` as one promise, kept as `running` (this file's writes started so far) until it is done. */
  private track(parts: Array<Promise<void>>): Promise<void> {
    const all = parts.length === 1 ? parts[0]! : Promise.all(parts).then(nothing);
    this.running = all;
    this.runningLeft++;
    void all.then(() => {
      if (--this.runningLeft === 0) this.running = undefined;
    });
    return all;
  }

  /** @internal Take the queued writes as contiguous runs. */
  takeWriteRuns(): Array<Run<PendingWrite>> {
    return this.runsOf(this.takePending());
  }

  private runsOf(writes: PendingWrite[]): Array<Run<PendingWrite>> {
    if (writes.length > 0) this.unsynced = true;
    return contiguousRuns(writes, writeLen, false);
  }

  /** @internal Write a run on the thread pool; a failure is kept for checkWritten. */
  writeRunAsync(run: Run<PendingWrite>): Promise<void> {
    const bufs = bytesOf(run);
    const pos = this.memberPos(run.off, run.len);
    if (pos < 0) return this.writePartsAsync(run, this.partsOf(run.off, run.len, bufs));
    return new Promise<void>((resolve) =>
      fs.writev(this.memberFd(run.off), bufs, pos, (err, n) => {
        try {
          if (err) throw err;
          if (n < run.len) this.writeRunSync(run.off, run.len, bufs, n);
        } catch (e) {
          this.noteFailed(run, e);
        }
        resolve();
      }),
    );
  }

  /** Write `parts` of `run` on the thread pool; a failure is kept for checkWritten. */
  private writePartsAsync(run: Run<PendingWrite>, parts: Part[]): Promise<void> {
    if (parts.length === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      new PartsOnPool(true, parts, (err) => {
        if (err !== undefined) this.noteFailed(run, err);
        resolve();
      });
    });
  }

  /** @internal Write a run now; a failure is kept for checkWritten. */
  writeRunNow(run: Run<PendingWrite>): void {
    try {
      this.writeRunSync(run.off, run.len, bytesOf(run), 0);
    } catch (err) {
      this.noteFailed(run, err);
    }
  }

  private noteFailed(run: Run<PendingWrite>, err: unknown): void {
    const e = writeError(this.path, run, err);
    for (const w of run.items) this.failed.set(w.off, e);
  }

  /** @internal Write a run; `done` bytes of it are already written (after a short write). */
  writeRunSync(off: number, len: number, run: Uint8Array[], done: number): void {
    const pos = this.memberPos(off, len);
    if (pos < 0) {
      const rest = done === 0 ? run : skipBytes(run, done);
      for (const p of this.partsOf(off + done, len - done, rest)) partSync(true, p, 0);
      return;
    }
    const fd = this.memberFd(off);
    if (done === 0) {
      done = run.length === 1 ? fs.writeSync(fd, run[0]!, 0, len, pos) : fs.writevSync(fd, run, pos);
      if (done === len) return;
    }
    // A short write (rare: signals, a full disk): finish it buffer by buffer.
    let at = pos;
    for (const b of run) {
      let from = Math.min(b.length, Math.max(0, pos + done - at));
      while (from < b.length) {
        const n = fs.writeSync(fd, b, from, b.length - from, at + from);
        assert(n > 0, () => `data-file write at ${at + from} made no progress`);
        from += n;
      }
      at += b.length;
    }
  }

  /** Wait for writes running on the thread pool. */
  async drain(): Promise<void> {
    await Promise.allSettled(writesInFlight);
  }

  /** fdatasync when anything was written since the last sync. */
  sync(): void {
    if (!this.unsynced) return;
    for (const fd of this.fds) fs.fdatasyncSync(fd);
    this.unsynced = false;
  }

  /**
   * Run `fn` (which plans reads through `read`/`readValue`) with its reads queued; they are
   * performed in a microtask (queued by the first) together with every other read queued by then, sorted
   * and merged into one positional readv per contiguous run — as a block layer merges requests.
   * Resolves to fn's result once its bytes are in place.
   */
  deferReads<T>(fn: () => T): Promise<T> {
    // A group is only kept by an I/O that queued reads; one that queued none leaves it for the next.
    const group = this.spareGroup ?? new ReadGroup();
    this.spareGroup = undefined;
    this.deferring = group;
    let value: T;
    try {
      value = fn();
    } finally {
      this.deferring = undefined;
    }
    if (group.left === 0) {
      this.spareGroup = group;
      return Promise.resolve(value);
    }
    filesWithReads.add(this);
    if (!flushQueued) {
      flushQueued = true;
      readTurns.schedule(flushQueuedReads, queueMicrotask);
    }
    group.value = value;
    groupToSettle = group;
    return new Promise<unknown>(takeSettlers) as Promise<T>;
  }

  /** Whether reads are queued or running: space they refer to must not be reused until they are done. */
  get hasQueuedReads(): boolean {
    return this.readQueue.length > 0 || this.readsInFlight > 0;
  }

  /** Run `fn` once the queued and running reads are done (now, if there are none). */
  afterReads(fn: () => void): void {
    if (!this.hasQueuedReads) fn();
    else this.afterReadsQueue.push(fn);
  }

  /** @internal Whether exactly one read is queued (see flushOneRead). */
  get hasOneQueuedRead(): boolean {
    return this.readQueue.length === 1;
  }

  /**
   * @internal The queued read when it is the only one: what flushReadRuns does with a lone run,
   * with one `fs.read` and no arrays. Copied here, or on the thread pool (loneRunJoins).
   */
  flushOneRead(): void {
    const r = this.readQueue[0]!;
    this.readQueue = [];
    this.readsInFlight++;
    if (!loneRunJoins(r.len, poolReads)) {
      if (splitsLoneRead(r.len)) {
        this.readSplit(r);
        return;
      }
      let err: unknown;
      try {
        this.readNow(r.off, r.len, r.out, r.outOff);
      } catch (e) {
        err = e;
      }
      this.readsSettled();
      r.group?.done(err);
      return;
    }
    this.readOnPool(r);
  }

  /**
   * Read `r` on the thread pool, then `poolReadDone`; false when the read could not start (it
   * was told so). The callback made per read only hands on (see groupToSettle).
   */
  private readOnPool(r: QueuedRead): boolean {
    poolReads++;
    const pos = this.memberPos(r.off, r.len);
    if (pos < 0) {
      // Settled through poolReadDone like a single file's read, after every part (each done in full).
      const parts = this.partsOf(r.off, r.len, [r.out.subarray(r.outOff, r.outOff + r.len)]);
      new PartsOnPool(false, parts, (err) => this.poolReadDone(r, err, r.len));
      return true;
    }
    try {
      fs.read(this.memberFd(r.off), r.out, r.outOff, r.len, pos, (e, n) =>
        this.poolReadDone(r, e ?? undefined, n),
      );
      return true;
    } catch (err) {
      this.poolReadDone(r, err, 0);
      return false;
    }
  }

  /** A pool read of `r` is over with `n` bytes (or `err`): the rest of a short read here, as finishRun does. */
  private poolReadDone(r: QueuedRead, err: unknown, n: number): void {
    if (err === undefined && n < r.len) {
      try {
        this.readNow(r.off + n, r.len - n, r.out, r.outOff + n);
      } catch (e) {
        err = e;
      }
    }
    poolReads--;
    r.group?.done(r.headErr ?? err);
    this.readsSettled();
  }

  /** A lone long read in two parts at once (SPLIT_READ_BYTES_MIN): the rest on the pool, the head here. */
  private readSplit(r: QueuedRead): void {
    const head = Math.floor((r.off + r.len / 2) / SPLIT_ALIGN_BYTES) * SPLIT_ALIGN_BYTES - r.off;
    const rest: QueuedRead = {
      off: r.off + head,
      len: r.len - head,
      out: r.out,
      outOff: r.outOff + head,
      group: r.group,
      headErr: undefined,
    };
    // (The head is read before the pool part's callback can run.)
    if (!this.readOnPool(rest)) return;
    try {
      this.readNow(r.off, head, r.out, r.outOff);
    } catch (err) {
      rest.headErr = err;
    }
  }

  /** @internal Take the queued reads as contiguous runs; `readsSettled` must follow. */
  takeReadRuns(): Array<Run<QueuedRead>> {
    const runs = contiguousRuns(this.readQueue, readLen, true);
    this.readQueue = [];
    this.readsInFlight++;
    return runs;
  }

  /** @internal The reads taken by takeReadRuns are done (or failed). */
  readsSettled(): void {
    this.readsInFlight--;
    if (this.hasQueuedReads) return;
    const after = this.afterReadsQueue;
    this.afterReadsQueue = [];
    for (const fn of after) fn();
  }

  /** @internal */
  readRunSync(run: Run<QueuedRead>): void {
    const pos = this.memberPos(run.off, run.len);
    if (pos < 0) {
      for (const p of this.partsOf(run.off, run.len, views(run.items))) partSync(false, p, 0);
    } else if (run.items.length === 1) {
      this.readNow(run.off, run.len, run.items[0]!.out, run.items[0]!.outOff);
    } else {
      this.finishRun(run, fs.readvSync(this.memberFd(run.off), views(run.items), pos));
    }
  }

  /** @internal Read a run on the thread pool. */
  readRunAsync(run: Run<QueuedRead>): Promise<void> {
    const pos = this.memberPos(run.off, run.len);
    if (pos < 0) {
      const parts = this.partsOf(run.off, run.len, views(run.items));
      return new Promise((resolve, reject) => {
        new PartsOnPool(false, parts, (err) => (err === undefined ? resolve() : reject(err)));
      });
    }
    return new Promise((resolve, reject) =>
      fs.readv(this.memberFd(run.off), views(run.items), pos, (err, n) => {
        if (err) return reject(err);
        try {
          this.finishRun(run, n);
          resolve();
        } catch (e) {
          reject(e);
        }
      }),
    );
  }

  /** After a readv of `done` bytes: read what a short read left, piece by piece (ends checked there). */
  private finishRun(run: Run<QueuedRead>, done: number): void {
    if (done === run.len) return;
    let pos = run.off;
    for (const r of run.items) {
      const have = Math.min(r.len, Math.max(0, run.off + done - pos));
      if (have < r.len) this.readNow(pos + have, r.len - have, r.out, r.outOff + have);
      pos += r.len;
    }
  }

  /** Read `len` bytes at `off` into `out` at `outOff` (queued while deferring). */
  read(off: number, len: number, out: Uint8Array, outOff: number): void {
    if (this.deferring) {
      this.deferring.left++;
      this.readQueue.push({ off, len, out, outOff, group: this.deferring, headErr: undefined });
      return;
    }
    this.readNow(off, len, out, outOff);
  }

  private readNow(off: number, len: number, out: Uint8Array, outOff: number): void {
    const pos = this.memberPos(off, len);
    if (pos < 0) {
      for (const p of this.partsOf(off, len, [out.subarray(outOff, outOff + len)])) partSync(false, p, 0);
      return;
    }
    const fd = this.memberFd(off);
    let done = 0;
    while (done < len) {
      const n = fs.readSync(fd, out, outOff + done, len - done, pos + done);
      assert(n > 0, () => `data file ends before ${off + len} (read at ${off + done})`);
      done += n;
    }
  }

  /** A new buffer holding the `len` bytes at `off`. */
  readValue(off: number, len: number): Buffer {
    let out: Buffer;
    if (len > SLAB_VALUE_BYTES_MAX) {
      out = Buffer.allocUnsafe(len);
    } else {
      if (this.slabUsed + len > READ_SLAB_BYTES) {
        this.slab = Buffer.allocUnsafeSlow(READ_SLAB_BYTES);
        this.slabUsed = 0;
      }
      out = this.slab.subarray(this.slabUsed, this.slabUsed + len);
      // Keep slices 8-byte aligned, like Node's pool.
      this.slabUsed += (len + 7) & ~7;
    }
    this.read(off, len, out, 0);
    return out;
  }

  /** Cut the logical data at `len` bytes: each member file at what it holds of them. */
  truncate(len: number): void {
    for (let f = 0; f < this.fds.length; f++) fs.ftruncateSync(this.fds[f]!, this.memberLength(len, f));
  }

  /** How many bytes of member file `f` hold logical bytes [0, len). */
  private memberLength(len: number, f: number): number {
    if (this.fds.length === 1) return len;
    const { files, stripeBytes } = this.layout;
    const whole = Math.floor(len / stripeBytes);
    const last = whole % files;
    const partial = f < last ? stripeBytes : f === last ? len - whole * stripeBytes : 0;
    return Math.floor(whole / files) * stripeBytes + partial;
  }

  close(): void {
    assert(this.pending.length === 0, 'data file closed with writes still queued');
    // Give back the blocks reserved past each member's end: a truncate to its own size frees them.
    if (this.reservedSome)
      for (const fd of this.fds) {
        const st = fs.fstatSync(fd);
        if (st.isFile()) fs.ftruncateSync(fd, st.size);
      }
    for (const fd of this.fds) fs.closeSync(fd);
    this.fd = -1;
    this.fds = [];
  }

  /**
   * Where logical bytes [off, off + len) lie in their member file (`memberFd`) when that is one
   * stretch of one file — always with a single file, within one stripe when striped; -1 when they
   * cross a stripe boundary (partsOf). The common small read or write needs none of partsOf's arrays.
   */
  private memberPos(off: number, len: number): number {
    if (this.fds.length === 1) return off;
    const { files, stripeBytes } = this.layout;
    const stripe = Math.floor(off / stripeBytes);
    if (off + len > (stripe + 1) * stripeBytes) return -1;
    return Math.floor(stripe / files) * stripeBytes + off - stripe * stripeBytes;
  }

  /** The member file holding logical byte `off`. */
  private memberFd(off: number): number {
    if (this.fds.length === 1) return this.fd;
    return this.fds[Math.floor(off / this.layout.stripeBytes) % this.layout.files]!;
  }

  /** The member-file parts of logical bytes [off, off + len), held in order by `bufs`: one part per file touched. */
  private partsOf(off: number, len: number, bufs: Uint8Array[]): Part[] {
    const { files, stripeBytes } = this.layout;
    const byFile: Array<Part | undefined> = [];
    let bi = 0;
    let bo = 0;
    for (let o = off, end = off + len; o < end; ) {
      const stripe = Math.floor(o / stripeBytes);
      const inStripe = o - stripe * stripeBytes;
      const n = Math.min(stripeBytes - inStripe, end - o);
      const f = stripe % files;
      let p = byFile[f];
      if (p === undefined) {
        p = { fd: this.fds[f]!, pos: Math.floor(stripe / files) * stripeBytes + inStripe, len: 0, bufs: [] };
        byFile[f] = p;
      }
      p.len += n;
      for (let need = n; need > 0; ) {
        const b = bufs[bi]!;
        const take = Math.min(b.length - bo, need);
        p.bufs.push(bo === 0 && take === b.length ? b : b.subarray(bo, bo + take));
        need -= take;
        bo += take;
        if (bo === b.length) {
          bi++;
          bo = 0;
        }
      }
      o += n;
    }
    const parts: Part[] = [];
    for (const p of byFile) if (p !== undefined) parts.push(p);
    return parts;
  }
}
