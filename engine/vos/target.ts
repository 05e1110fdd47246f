/**
 * One target's versioned object store: the LMDB index, the data file and its allocator, the
 * dtx locks, tied together behind the VosTarget contract.
 *
 * Every write goes through `commit`, batched with every other commit queued by the same event
 * into one LMDB commit (group commit): with durability 'process', one synchronous LMDB
 * transaction run once the microtask queue is empty (`inBatch`); with 'fsync', lmdb-js's
 * asynchronous transactions (its write thread overlaps the fsyncs). Each commit first writes the queued data-file bytes and persists
 * the allocator, so the space a record references is on file, and accounted, no later than the
 * commit that makes the record visible.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ABORT } from 'lmdb';
import { assert, check, DaosError } from '../../core/common/errors.js';
import {
  INDEX_FREE_BYTES_MIN,
  INDEX_FREE_CHECK_MS,
  INDEX_FREE_RECHECK_BYTES,
  INLINE_BYTES_MAX_DEFAULT,
  TARGET_MAP_BYTES,
} from '../../core/common/limits.js';
import type { Oid } from '../../core/common/oid.js';
import { TurnBudget } from '../../core/common/turns.js';
import { BYTES_ZERO } from '../../core/common/units.js';
import type { ShardRole } from '../../core/ec/stripe.js';
import type { Extent, ExtentAllocator } from '../bio/allocator.js';
import { DataFile, dataBytesQueued } from '../bio/data-file.js';
import { aggregateContainer, destroyContainerRecords, discardDkeyRecords } from './aggregate.js';
import { type DtxRecord, decodeDtx, encodeDtx, LockTable, opLockNames, readLockNames } from './dtx.js';
import {
  buildAndWriteInOrder,
  buildEffects,
  checkNoConflict,
  type Effects,
  stageOps,
  writeEffects,
} from './effects.js';
import { IndexStore } from './index-store.js';
import { akeyPrefix, punchKey, punchPrefix } from './keys.js';
import { readLeftoverPunches } from './punch-journal.js';
import * as reads from './reads.js';
import { KIND_ARRAY } from './records.js';
import { recover } from './recovery.js';
import type {
  AggregateStats,
  DtxCoordinator,
  FetchCond,
  FetchIod,
  FetchResult,
  RecoveryStats,
  TxCheck,
  VosOp,
  VosOptions,
  VosTarget,
} from './types.js';
import {
  checkEpoch,
  checkFetchIods,
  checkKey,
  checkOps,
  checkTarget,
  checkTxCheck,
  checkWriteEpoch,
} from './validate.js';
import { Visibility } from './visibility.js';

const DATA_FILE_NAME = 'data.bin';
/** Where earlier builds kept object punches acknowledged before a commit carried them (replayed on open). */
const PUNCH_JOURNAL_NAME = 'punch.journal';
const EMPTY = Buffer.alloc(0);

/**
 * How a commit's work runs: 'plain' in the batch's shared transaction (it must fail before it
 * writes anything), 'child' in a transaction of its own, rolled back alone if it throws part way,
 * 'dry-run' in a transaction of its own that is always rolled back.
 */
type CommitMode = 'plain' | 'child' | 'dry-run';

/** A commit queued for its target's next batch: `fn(freed, arg)` runs in the transaction (Target.runCommit). */
interface BatchItem {
  fn: (freed: Extent[], arg: unknown) => unknown;
  arg: unknown;
  freed: Extent[];
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  mode: CommitMode;
}

/**
 * The commit path makes no function per commit that a microtask, a promise or a batch runs: V8
 * gives such a function optimized code of its own, which dies with it, so that after each full
 * collection the next one is compiled again, inlined callees and all (engine/bio/data-file.ts,
 * groupToSettle). A commit's work is a long-lived function and an argument (BatchItem), its
 * continuations async methods, and the item inBatch makes a promise for goes to this executor.
 */
let itemToQueue: BatchItem | undefined;

function takeItemSettlers(resolve: (v: unknown) => void, reject: (e: unknown) => void): void {
  itemToQueue!.resolve = resolve;
  itemToQueue!.reject = reject;
  itemToQueue = undefined;
}

type BatchOutcome = { ok: true; value: unknown } | { ok: false; err: unknown };

/** Until inBatch's promise hands over its settlers. */
function nothingYet(): void {}

/** A staged apply's work in its transaction (Target.applyStaged). */
interface StagedWork {
  epoch: bigint;
  staged: ReturnType<typeof stageOps>['staged'];
  reserved: Extent[];
  txCheck: TxCheck | undefined;
  write: (eff: Effects, freed: Extent[]) => void;
}

/**
 * Free bytes on one file system when statfs was last asked (`Target.checkIndexSpace`), when, and
 * the process's data-file bytes queued then. The targets of an engine share their file system,
 * and each asking for itself made a statfs every 4 MiB written over four targets, 17–20 µs each
 * in the write path (median; 9 µs per 1 MiB write at 1 in flight, this VM, 2026-11-28).
 */
interface SpaceCheck {
  free: number;
  at: number;
  bytesQueued: number;
}

const spaceChecks = new Map<number, SpaceCheck>();

/** The SpaceCheck of the file system holding `dir`. */
function spaceCheckOf(dir: string): SpaceCheck {
  const dev = fs.statSync(dir).dev;
  let s = spaceChecks.get(dev);
  if (s === undefined) {
    s = { free: BYTES_ZERO, at: -Infinity, bytesQueued: BYTES_ZERO };
    spaceChecks.set(dev, s);
  }
  return s;
}

/**
 * Batches (of every target of the process) that may run back to back, each as soon as the
 * microtask queue is empty, before one waits for the next event-loop turn.
 */
const BATCHES_PER_TURN_MAX = 32;
const batchTurns = new TurnBudget(BATCHES_PER_TURN_MAX);

/**
 * Run a batch once the microtask queue is empty (`process.nextTick` from a promise continuation
 * runs then), so that every commit queued by the continuations of one event shares it. Waiting
 * for the next event-loop turn instead (setImmediate) costs a poll of the loop per batch: a DFS
 * unlink, one in flight, took 121–128 µs that way and 87–104 µs this way (alternating runs). A
 * caller awaiting commit after commit never lets the loop turn this way, so every
 * BATCHES_PER_TURN_MAX-th batch in a row waits for the turn, letting timers and sockets in.
 */
function scheduleBatch(run: () => void): void {
  batchTurns.schedule(run, process.nextTick);
}

export class Target implements VosTarget {
  private closed = false;
  /** Commits queued for the next batch (durability 'process'); run by `runBatch`. */
  private batch: BatchItem[] | undefined;
  /** Fetched chunks that failed their checksum (since the store was opened). */
  private csumErrors = 0;
  private readonly locks = new LockTable();
  private readonly pending = new Map<string, DtxRecord>();
  /** Free bytes on the index's file system when last asked (`checkIndexSpace`). */
  private readonly space: SpaceCheck;

  private constructor(
    readonly dir: string,
    readonly recovery: RecoveryStats,
    private readonly store: IndexStore,
    private readonly data: DataFile,
    private readonly alloc: ExtentAllocator,
    private readonly vis: Visibility,
    private readonly contBytes: Map<number, number>,
    private readonly inlineBytesMax: number,
    private readonly fsync: boolean,
    private readonly indexFreeBytesMin: number,
  ) {
    this.space = spaceCheckOf(dir);
  }

  static open(dir: string, options: VosOptions = {}): Target {
    const inlineBytesMax = options.inlineBytesMax ?? INLINE_BYTES_MAX_DEFAULT;
    check(
      Number.isInteger(inlineBytesMax) && inlineBytesMax >= 0,
      'DER_INVAL',
      `inlineBytesMax ${inlineBytesMax} must be >= 0`,
    );
    fs.mkdirSync(dir, { recursive: true });
    const store = new IndexStore(dir, options.mapBytes ?? TARGET_MAP_BYTES, options.durability === 'fsync');
    const data = DataFile.open(path.join(dir, DATA_FILE_NAME), store.dataLayout());
    const journalFile = path.join(dir, PUNCH_JOURNAL_NAME);
    const left = readLeftoverPunches(journalFile);
    let replayed = 0;
    if (left.length > 0) {
      // Punches an earlier build acknowledged in a process killed before a commit carried them
      // (and perhaps punches already on file: writing those again changes nothing).
      store.writeSync(() => {
        for (const p of left) {
          if (!store.knowsContId(p.cid)) continue;
          const key = punchKey(punchPrefix(p.cid, p.oid), p.epoch);
          if (store.punch.get(key) !== undefined) continue;
          store.punch.put(key, EMPTY);
          replayed++;
        }
      });
    }
    fs.rmSync(journalFile, { force: true });
    const r = recover(store, data);
    r.stats.punchesReplayed = replayed;
    const vis = new Visibility(store, data, r.punched, r.objects);
    const t = new Target(
      dir,
      r.stats,
      store,
      data,
      r.alloc,
      vis,
      r.contBytes,
      inlineBytesMax,
      options.durability === 'fsync',
      options.indexFreeBytesMin ?? INDEX_FREE_BYTES_MIN,
    );
    for (const d of r.dtx) {
      t.pending.set(d.dtxId, d);
      t.locks.lock(d.locks);
    }
    return t;
  }

  /**
   * Run `fn(freed, arg)` in the next group commit; resolves once committed (and flushed, with
   * fsync). `freed` collects space whose records the transaction deleted: released only after the
   * commit. `reserved`: data-file space the caller reserved for it, released if it fails.
   * Every write of the target passes here: its continuations are async methods (`commitAfter`,
   * `committed`), not closures made per commit.
   */
  private commit<T, A = undefined>(
    fn: (freed: Extent[], arg: A) => T,
    mode: CommitMode = 'plain',
    dataWritten = false,
    reserved?: Extent[],
    arg?: A,
  ): Promise<T> {
    if (this.closed) {
      if (reserved !== undefined) for (const r of reserved) this.alloc.release(r.off, r.len);
      return Promise.reject(new Error('invariant violated: target used after close'));
    }
    // Large data-file writes run on the thread pool; the index commit waits for them.
    const writing = dataWritten ? undefined : this.data.flushWritesAsync();
    return writing === undefined
      ? this.commitNow(fn, mode, reserved, arg as A)
      : this.commitAfter(writing, fn, mode, reserved, arg as A);
  }

  /** commit, once `writing` (the data-file writes it waits for) is done. */
  private async commitAfter<T, A>(
    writing: Promise<void>,
    fn: (freed: Extent[], arg: A) => T,
    mode: CommitMode,
    reserved: Extent[] | undefined,
    arg: A,
  ): Promise<T> {
    await writing;
    return this.commitNow(fn, mode, reserved, arg);
  }

  /** commit, once the data-file writes it waits for are done. */
  private commitNow<T, A>(
    fn: (freed: Extent[], arg: A) => T,
    mode: CommitMode,
    reserved: Extent[] | undefined,
    arg: A,
  ): Promise<T> {
    const freed: Extent[] = [];
    if (this.fsync)
      return this.commitDurable(() => this.runCommit(fn, freed, arg, mode), freed, mode, reserved);
    let done: Promise<T>;
    try {
      this.checkIndexSpace();
      done = this.inBatch(fn, freed, arg, mode);
    } catch (err) {
      return Promise.reject(this.commitFailed(err, mode, reserved));
    }
    return this.committed(done, freed, mode, reserved);
  }

  /** A commit's work in its transaction: the data-file writes it holds, the allocator's state, then `fn`. */
  private runCommit<T, A>(fn: (freed: Extent[], arg: A) => T, freed: Extent[], arg: A, mode: CommitMode): T {
    this.data.flushWrites();
    if (this.fsync) this.data.sync();
    // A dry run is always aborted: persisting there would mark the allocator clean for nothing.
    if (mode !== 'dry-run') this.alloc.persist(this.store.allocatorStore);
    return fn(freed, arg);
  }

  /** A batched commit's outcome: freed space released once committed; on failure, commitFailed. */
  private async committed<T>(
    done: Promise<T>,
    freed: Extent[],
    mode: CommitMode,
    reserved: Extent[] | undefined,
  ): Promise<T> {
    let result: T;
    try {
      result = await done;
    } catch (err) {
      throw this.commitFailed(err, mode, reserved);
    }
    this.releaseAfterReads(freed);
    return result;
  }

  /** Durable commits: lmdb-js's own group commit, fsyncs overlapped on its write thread. */
  private async commitDurable<T>(
    run: () => T,
    freed: Extent[],
    mode: CommitMode,
    reserved: Extent[] | undefined,
  ): Promise<T> {
    // (An async arrow: a throw of store.write is a rejection `committed` sees.)
    const written = (async () => this.store.write(run, mode !== 'plain'))();
    const result = await this.committed(written, freed, mode, reserved);
    await this.store.env.flushed;
    return result;
  }

  /**
   * A commit failed before its transaction ran (a full disk, a failed batch): write what it left
   * held, so that none of it is queued when its space is given back (`reserved`, here). Returns `err`.
   */
  private commitFailed(err: unknown, mode: CommitMode, reserved: Extent[] | undefined): unknown {
    this.data.flushWrites();
    // An aborted child took the allocator's persisted changes with it: persist them again.
    if (mode === 'child') this.alloc.markAllDirty();
    if (reserved !== undefined) for (const r of reserved) this.alloc.release(r.off, r.len);
    return err;
  }

  /** Release space a commit freed once reads planned before it (perhaps still queued) are done. */
  private releaseAfterReads(freed: Extent[]): void {
    if (freed.length > 0)
      this.data.afterReads(() => {
        for (const f of freed) this.alloc.release(f.off, f.len);
      });
  }

  /**
   * Run `work` in the target's next batch: every commit a target queues until the microtask queue
   * runs dry runs, in queue order, in synchronous LMDB transactions then (durability 'process': no
   * fsync, and the index is a write map, so a commit writes the meta page and no copies; see
   * `scheduleBatch` for when). Plain
   * items share one transaction; a 'child' or 'dry-run' item gets one of its own, since a write
   * map has no nested transactions (see `runBatch`). One path for every commit of the target keeps
   * them in program order.
   */
  private inBatch<T, A>(
    fn: (freed: Extent[], arg: A) => T,
    freed: Extent[],
    arg: A,
    mode: CommitMode,
  ): Promise<T> {
    if (!this.batch) {
      this.batch = [];
      scheduleBatch(this.runBatch);
    }
    const item: BatchItem = {
      fn: fn as BatchItem['fn'],
      arg,
      freed,
      resolve: nothingYet,
      reject: nothingYet,
      mode,
    };
    this.batch.push(item);
    itemToQueue = item;
    return new Promise<unknown>(takeItemSettlers) as Promise<T>;
  }

  /** Commit the batch: runs of plain items share a transaction, a child or dry-run item is one alone. */
  private readonly runBatch = (): void => {
    const items = this.batch ?? [];
    this.batch = undefined;
    const txns: BatchItem[][] = [];
    for (const item of items) {
      const last = txns[txns.length - 1];
      if (item.mode === 'plain' && last !== undefined && last[0]!.mode === 'plain') last.push(item);
      else txns.push([item]);
    }
    for (let t = 0; t < txns.length; t++) {
      const group = txns[t]!;
      const outcomes: BatchOutcome[] = [];
      this.txnItems = group;
      this.txnOutcomes = outcomes;
      this.txnCommitted = false;
      this.store.txnStarting();
      try {
        this.store.writeSync(this.runTxn);
        if (this.txnCommitted) this.store.txnCommitted();
      } catch (err) {
        // This transaction is not on file (the allocator's state included), and the items after
        // it have not run: fail them all rather than commit them out of order.
        this.alloc.markAllDirty();
        for (const rest of txns.slice(t)) for (const item of rest) item.reject(err);
        return;
      } finally {
        this.txnItems = [];
        this.txnOutcomes = [];
      }
      for (let i = 0; i < group.length; i++) {
        const o = outcomes[i]!;
        if (o.ok) group[i]!.resolve(o.value);
        else group[i]!.reject(o.err);
      }
    }
  };

  /** The items of the transaction runBatch is running, their outcomes, and whether it committed (runTxn's). */
  private txnItems: BatchItem[] = [];
  private txnOutcomes: BatchOutcome[] = [];
  private txnCommitted = false;

  /** The body of runBatch's transaction (one function for every transaction: see itemToQueue). */
  private readonly runTxn = (): typeof ABORT | undefined => {
    const group = this.txnItems;
    const outcomes = this.txnOutcomes;
    const alone = group.length === 1 && group[0]!.mode !== 'plain' ? group[0]! : undefined;
    if (alone !== undefined) {
      // A throw rolls back this transaction only, and a dry run is always rolled back.
      try {
        const value = this.runCommit(alone.fn, alone.freed, alone.arg, alone.mode);
        outcomes.push({ ok: true, value });
        if (alone.mode === 'dry-run') return ABORT;
        this.txnCommitted = true;
        return undefined;
      } catch (err) {
        outcomes.push({ ok: false, err });
        return ABORT;
      }
    }
    for (const item of group) {
      try {
        outcomes.push({ ok: true, value: this.runCommit(item.fn, item.freed, item.arg, item.mode) });
      } catch (err) {
        outcomes.push({ ok: false, err });
      }
    }
    this.txnCommitted = true;
    return undefined;
  };

  /**
   * Fail with DER_NOSPACE, before anything is written, while the file system holding the index
   * has less than `indexFreeBytesMin` free (asked every INDEX_FREE_CHECK_MS, or sooner after
   * INDEX_FREE_RECHECK_BYTES of data-file writes in this process): the index
   * is a write map (durability 'process'), and a page touched on a full disk raises SIGBUS.
   */
  private checkIndexSpace(): void {
    const s = this.space;
    const now = Date.now();
    const queued = dataBytesQueued();
    if (now - s.at >= INDEX_FREE_CHECK_MS || queued - s.bytesQueued >= INDEX_FREE_RECHECK_BYTES) {
      const st = fs.statfsSync(this.dir);
      s.free = st.bavail * st.bsize;
      s.at = now;
      s.bytesQueued = queued;
    }
    if (s.free < this.indexFreeBytesMin)
      throw new DaosError(
        'DER_NOSPACE',
        `target ${this.dir}: ${s.free} bytes free on its file system, the index needs ${this.indexFreeBytesMin}`,
      );
  }

  /** Stage ops, commit `fn` with them, and give the reserved space back if it fails. */
  private commitStaged(
    epoch: bigint,
    ops: VosOp[],
    txCheck: TxCheck | undefined,
    fn: (eff: Effects, freed: Extent[]) => void,
  ): Promise<void> {
    const { staged, reserved } = stageOps(ops, this.alloc, this.data, this.inlineBytesMax);
    const work: StagedWork = { epoch, staged, reserved, txCheck, write: fn };
    return this.commit(this.applyStaged, 'plain', false, reserved, work);
  }

  /** commitStaged's work in its transaction. */
  private readonly applyStaged = (freed: Extent[], w: StagedWork): void => {
    this.data.checkWritten(w.reserved);
    w.write(buildEffects(this.vis, this.store, w.epoch, w.staged, w.txCheck), freed);
  };

  apply(epoch: bigint, ops: VosOp[], txCheck?: TxCheck): Promise<void> {
    try {
      checkWriteEpoch(epoch);
      checkOps(ops);
      if (txCheck !== undefined) {
        checkTxCheck(txCheck);
        this.locks.checkFree([...opLockNames(ops), ...readLockNames(txCheck)]);
      }
      if (ops.length === 1) return this.commitStaged(epoch, ops, txCheck, this.writeNow);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.applyInOrder(epoch, ops, txCheck);
  }

  /** apply's write of one op's effects, in its transaction. */
  private readonly writeNow = (eff: Effects, freed: Extent[]): void => {
    writeEffects(this.vis, this.store, this.store.allocatorStore, eff, freed, this.contBytes);
  };

  /** apply of several ops: each sees the ones before it (buildAndWriteInOrder). */
  private async applyInOrder(epoch: bigint, ops: VosOp[], txCheck: TxCheck | undefined): Promise<void> {
    const { staged, reserved } = stageOps(ops, this.alloc, this.data, this.inlineBytesMax);
    const delta = new Map<number, number>();
    await this.commit(
      (freed) => {
        this.data.checkWritten(reserved);
        buildAndWriteInOrder(this.vis, this.store, epoch, staged, txCheck, freed, delta);
      },
      'child',
      false,
      reserved,
    );
    for (const [cid, d] of delta) this.contBytes.set(cid, (this.contBytes.get(cid) ?? 0) + d);
  }

  checkReads(txCheck: TxCheck): void {
    checkTxCheck(txCheck);
    this.locks.checkFree(readLockNames(txCheck));
    for (const r of txCheck.readSet) {
      const cid = this.store.contId(r.cont);
      if (cid === undefined) continue;
      checkNoConflict(this.vis, cid, r.oid, txCheck.readEpoch, r.dkey, r.akey);
    }
  }

  async prepareDtx(
    dtxId: string,
    epoch: bigint,
    ops: VosOp[],
    coordinator: DtxCoordinator,
    txCheck?: TxCheck,
  ): Promise<void> {
    check(typeof dtxId === 'string' && dtxId.length > 0, 'DER_INVAL', 'dtx id must be a non-empty string');
    check(!this.pending.has(dtxId), 'DER_EXIST', `dtx ${dtxId} is already prepared`);
    checkWriteEpoch(epoch);
    checkOps(ops);
    if (txCheck !== undefined) checkTxCheck(txCheck);
    const names = opLockNames(ops);
    this.locks.checkFree([...names, ...readLockNames(txCheck)]);
    // Locked now, at submission, so that a second prepare of the same turn sees the first.
    this.locks.lock(names);
    const record: DtxRecord = {
      dtxId,
      coordinator: { rank: coordinator.rank, target: coordinator.target },
      locks: names,
      effects: undefined as unknown as Effects,
    };
    this.pending.set(dtxId, record);
    try {
      if (ops.length === 1) {
        await this.commitStaged(epoch, ops, txCheck, (eff) => {
          record.effects = eff;
          this.store.dtx.put(dtxId, encodeDtx(record));
        });
      } else {
        await this.prepareInOrder(record, epoch, ops, txCheck);
      }
    } catch (err) {
      this.pending.delete(dtxId);
      this.locks.unlock(names);
      throw err;
    }
  }

  /**
   * Prepare several ops so that each sees the ones before it: a dry run writes them in order in a
   * child transaction and aborts it, keeping the effects; the transaction queued right behind it
   * (nothing can come between) stores them as the prepared record.
   */
  private async prepareInOrder(record: DtxRecord, epoch: bigint, ops: VosOp[], txCheck: TxCheck | undefined) {
    const { staged, reserved } = stageOps(ops, this.alloc, this.data, this.inlineBytesMax);
    let effects: Effects | undefined;
    try {
      // Data first, so that the two commits below are queued back to back with nothing between.
      await this.data.flushWritesAsync();
    } catch (err) {
      for (const r of reserved) this.alloc.release(r.off, r.len);
      throw err;
    }
    const dryRun = this.commit(
      (freed) => {
        this.data.checkWritten(reserved);
        effects = buildAndWriteInOrder(this.vis, this.store, epoch, staged, txCheck, freed, new Map());
        return ABORT;
      },
      'dry-run',
      true,
    );
    const store = this.commit(
      () => {
        if (effects === undefined) return; // the dry run failed: its error is reported below
        // The dry run's container registrations were aborted with it; the effects use their ids.
        for (const op of ops) this.store.contIdForWrite(op.cont);
        record.effects = effects;
        this.store.dtx.put(record.dtxId, encodeDtx(record));
      },
      'plain',
      true,
    );
    const [dry, stored] = await Promise.allSettled([dryRun, store]);
    const failure =
      dry.status === 'rejected' ? dry.reason : stored.status === 'rejected' ? stored.reason : undefined;
    if (failure !== undefined || effects === undefined) {
      for (const r of reserved) this.alloc.release(r.off, r.len);
      throw failure ?? new Error('invariant violated: dry run produced no effects');
    }
  }

  private pendingOrThrow(dtxId: string): DtxRecord {
    const r = this.pending.get(dtxId);
    if (r === undefined || r.effects === undefined)
      throw new DaosError('DER_NONEXIST', `no prepared dtx ${dtxId}`);
    return r;
  }

  async commitDtx(dtxId: string, asCoordinator = false): Promise<void> {
    const r = this.pendingOrThrow(dtxId);
    this.pending.delete(dtxId);
    try {
      await this.commit((freed) => {
        const stored = this.store.dtx.get(dtxId);
        assert(stored !== undefined, () => `dtx ${dtxId} prepared in memory but not in the index`);
        writeEffects(
          this.vis,
          this.store,
          this.store.allocatorStore,
          decodeDtx(stored).effects,
          freed,
          this.contBytes,
        );
        this.store.dtx.remove(dtxId);
        if (asCoordinator) this.store.committed.put(dtxId, r.effects.epoch);
      });
    } catch (err) {
      this.pending.set(dtxId, r);
      throw err;
    }
    this.locks.unlock(r.locks);
  }

  async abortDtx(dtxId: string): Promise<void> {
    const r = this.pendingOrThrow(dtxId);
    this.pending.delete(dtxId);
    try {
      await this.commit((freed) => {
        this.store.dtx.remove(dtxId);
        for (const e of r.effects.refs) {
          this.store.allocatorStore.putFree(e.off, e.len);
          freed.push(e);
        }
      });
    } catch (err) {
      this.pending.set(dtxId, r);
      throw err;
    }
    this.locks.unlock(r.locks);
  }

  dtxCommitted(dtxId: string): boolean {
    return this.store.committed.get(dtxId) !== undefined;
  }

  async forgetDtx(dtxId: string): Promise<void> {
    await this.commit(() => this.store.committed.remove(dtxId));
  }

  pendingDtx(): Array<{ dtxId: string; coordinator: DtxCoordinator }> {
    return [...this.pending.values()]
      .filter((r) => r.effects !== undefined)
      .map((r) => ({ dtxId: r.dtxId, coordinator: r.coordinator }));
  }

  /** Validate and plan a fetch: its data-file reads are issued (or queued) and its checksum checks collected. */
  private planFetch(
    cont: string,
    oid: Oid,
    epoch: bigint,
    dkey: Uint8Array,
    iods: FetchIod[],
    cond: FetchCond | undefined,
    checks: reads.CsumChecks,
  ): FetchResult[] {
    checkTarget(cont, oid);
    checkEpoch(epoch, 'read');
    checkKey(dkey, 'dkey');
    checkFetchIods(iods);
    return reads.fetch(this.vis, this.store.contId(cont), oid, epoch, dkey, iods, cond, checks);
  }

  /** Run a fetch's checksum checks once its bytes are in place; each failure is counted. */
  private runChecks(checks: reads.CsumChecks): void {
    let first: unknown;
    for (const c of checks) {
      try {
        c();
      } catch (err) {
        if (err instanceof DaosError && err.code === 'DER_CSUM') this.csumErrors++;
        first ??= err;
      }
    }
    if (first !== undefined) throw first;
  }

  fetch(
    cont: string,
    oid: Oid,
    epoch: bigint,
    dkey: Uint8Array,
    iods: FetchIod[],
    cond?: FetchCond,
  ): FetchResult[] {
    const checks: reads.CsumChecks = [];
    const out = this.planFetch(cont, oid, epoch, dkey, iods, cond, checks);
    if (checks.length > 0) this.runChecks(checks);
    return out;
  }

  fetchAsync(
    cont: string,
    oid: Oid,
    epoch: bigint,
    dkey: Uint8Array,
    iods: FetchIod[],
    cond?: FetchCond,
  ): Promise<FetchResult[]> {
    const checks: reads.CsumChecks = [];
    const planned = this.data.deferReads(() => this.planFetch(cont, oid, epoch, dkey, iods, cond, checks));
    if (checks.length === 0) return planned;
    return planned.then((out) => {
      this.runChecks(checks);
      return out;
    });
  }

  counters(): { csumErrors: number; punchedObjects: number } {
    return {
      csumErrors: this.csumErrors,
      punchedObjects: this.vis.punched.size,
    };
  }

  listDkeys(
    cont: string,
    oid: Oid,
    epoch: bigint,
    after: Uint8Array | undefined,
    limit: number,
  ): Uint8Array[] {
    checkTarget(cont, oid);
    checkEpoch(epoch, 'read');
    if (after !== undefined) checkKey(after, 'dkey');
    const cid = this.store.contId(cont);
    return cid === undefined ? [] : this.vis.dkeys(cid, oid, epoch, after, limit);
  }

  listAkeys(
    cont: string,
    oid: Oid,
    epoch: bigint,
    dkey: Uint8Array,
    after: Uint8Array | undefined,
    limit: number,
  ): Uint8Array[] {
    checkTarget(cont, oid);
    checkEpoch(epoch, 'read');
    checkKey(dkey, 'dkey');
    if (after !== undefined) checkKey(after, 'akey');
    const cid = this.store.contId(cont);
    return cid === undefined ? [] : this.vis.akeys(cid, oid, epoch, dkey, after, limit);
  }

  listRecx(cont: string, oid: Oid, epoch: bigint, dkey: Uint8Array, akey: Uint8Array) {
    checkTarget(cont, oid);
    checkEpoch(epoch, 'read');
    checkKey(dkey, 'dkey');
    checkKey(akey, 'akey');
    return reads.listRecx(this.vis, this.store.contId(cont), oid, epoch, dkey, akey);
  }

  queryDkey(cont: string, oid: Oid, epoch: bigint, which: 'max' | 'min'): Uint8Array | undefined {
    checkTarget(cont, oid);
    checkEpoch(epoch, 'read');
    const cid = this.store.contId(cont);
    return cid === undefined ? undefined : this.vis.dkeys(cid, oid, epoch, undefined, 1, which === 'max')[0];
  }

  queryRecx(cont: string, oid: Oid, epoch: bigint, dkey: Uint8Array, akey: Uint8Array, which: 'max' | 'min') {
    checkTarget(cont, oid);
    checkEpoch(epoch, 'read');
    checkKey(dkey, 'dkey');
    checkKey(akey, 'akey');
    return reads.queryRecx(this.vis, this.store.contId(cont), oid, epoch, dkey, akey, which);
  }

  akeyVersion(cont: string, oid: Oid, epoch: bigint, dkey: Uint8Array, akey: Uint8Array) {
    checkTarget(cont, oid);
    checkEpoch(epoch, 'read');
    checkKey(dkey, 'dkey');
    checkKey(akey, 'akey');
    const cid = this.store.contId(cont);
    if (cid === undefined) return undefined;
    const pfx = akeyPrefix(cid, oid, dkey, akey);
    const m = this.vis.meta(pfx);
    if (m === undefined) return undefined;
    if (m.kind === KIND_ARRAY) return { kind: 'array' as const, recordSize: m.recordSize };
    const v = this.vis.singleOf(m, pfx, epoch, this.vis.floor(cid, oid, epoch, dkey, akey));
    if (v === undefined) return { kind: 'single' as const, epoch: undefined, value: undefined };
    return {
      kind: 'single' as const,
      epoch: v.epoch,
      value: Uint8Array.from(this.vis.singleBytes(v.payload)),
    };
  }

  async discardDkey(
    cont: string,
    oid: Oid,
    dkey: Uint8Array,
    upTo: bigint,
    role?: ShardRole,
  ): Promise<number> {
    checkTarget(cont, oid);
    checkKey(dkey, 'dkey');
    checkEpoch(upTo, 'discard');
    const cid = this.store.contId(cont);
    if (cid === undefined) return 0;
    return discardDkeyRecords(this.vis, cid, oid, dkey, upTo, this.contBytes, (fn) => this.commit(fn), role);
  }

  listObjects(cont: string): Oid[] {
    check(
      typeof cont === 'string' && cont.length > 0,
      'DER_INVAL',
      'container id must be a non-empty string',
    );
    return reads.listObjects(this.vis, this.store.contId(cont));
  }

  async aggregate(cont: string, upTo: bigint, keep: bigint[]): Promise<AggregateStats> {
    checkEpoch(upTo, 'aggregation');
    for (const k of keep) checkEpoch(k, 'kept');
    const cid = this.store.contId(cont);
    if (cid === undefined) return { recordsRemoved: 0, bytesFreed: 0 };
    return aggregateContainer(this.vis, cid, upTo, keep, this.pending.size > 0, this.contBytes, (fn) =>
      this.commit(fn),
    );
  }

  async destroyContainer(cont: string): Promise<void> {
    const cid = this.store.contId(cont);
    if (cid === undefined) return;
    await destroyContainerRecords(this.vis, cid, (fn) => this.commit(fn));
    await this.commit(() => this.store.dropCont(cont));
    this.contBytes.delete(cid);
    this.vis.punched.forgetContainer(cid);
  }

  containerBytes(cont: string): number {
    const cid = this.store.contId(cont);
    return cid === undefined ? 0 : (this.contBytes.get(cid) ?? 0);
  }

  usage(): { fileBytes: number; usedBytes: number; freeBytes: number } {
    return {
      fileBytes: this.alloc.highWater,
      usedBytes: this.alloc.usedBytes,
      freeBytes: this.alloc.freeBytes,
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // Persist space released since the last commit, so a clean restart has nothing to reclaim.
    // Short of space, close without it: recovery reclaims the space.
    try {
      await this.commit(() => undefined);
    } catch (err) {
      if (!(err instanceof DaosError && err.code === 'DER_NOSPACE')) throw err;
    }
    this.closed = true;
    await this.data.drain();
    await this.store.close();
    this.data.close();
  }
}
