/**
 * One target's versioned object store: the LMDB index, the data file and its allocator, the
 * dtx locks, tied together behind the VosTarget contract.
 *
 * Every write goes through `commit`, batched with every other commit of the event turn into one
 * LMDB commit (group commit): with durability 'process', one synchronous LMDB transaction run at
 * the end of the turn (`inBatch`); with 'fsync', lmdb-js's asynchronous transactions (its write
 * thread overlaps the fsyncs). Each commit first writes the queued data-file bytes and persists
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
import { akeyPrefix, contPrefix, objPrefix, prefixEnd, punchKey, punchPrefix } from './keys.js';
import { PunchJournal } from './punch-journal.js';
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
const PUNCH_JOURNAL_NAME = 'punch.journal';
/** Deferred object punches (see `runBatch`) a target holds before it writes them in a commit of their own. */
const DEFERRED_PUNCHES_MAX = 1024;
/** How long a deferred object punch waits, at most, for another commit of its target to carry it. */
const DEFERRED_PUNCH_MS_MAX = 20;
/**
 * A batch of more object punches than this commits them at once: they share that commit, and
 * looking each object up first would cost more than the commit saved (measured with bench:dfs's
 * unlinks: 1 in flight gains, 16 in flight lost a little when every batch was deferred).
 */
const DEFERRED_PUNCH_BATCH_MAX = 8;
const EMPTY = Buffer.alloc(0);

/** An object punch a batch may defer: its container's local id, the object, the punch epoch. */
interface PunchOnly {
  cid: number;
  oid: Oid;
  epoch: bigint;
}

/** A deferred object punch: the punch record to write, and whose. */
interface DeferredPunch {
  cid: number;
  key: Buffer;
  oid: Oid;
  epoch: bigint;
}

/**
 * How a commit's work runs: 'plain' in the batch's shared transaction (it must fail before it
 * writes anything), 'child' in a transaction of its own, rolled back alone if it throws part way,
 * 'dry-run' in a transaction of its own that is always rolled back.
 */
type CommitMode = 'plain' | 'child' | 'dry-run';

/** A commit queued for this turn's batch (durability 'process'). */
interface BatchItem {
  work: () => unknown;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  punchOnly: PunchOnly | undefined;
  mode: CommitMode;
}

export class Target implements VosTarget {
  private closed = false;
  /** Commits queued this turn (durability 'process'); run by `runBatch`. */
  private batch: BatchItem[] | undefined;
  /**
   * Object punches acknowledged but not yet on file: punches of objects with no record on this
   * target, which hide nothing. The next commit of the target writes them first (see `runBatch`).
   */
  private deferred: DeferredPunch[] = [];
  private deferTimer: NodeJS.Timeout | undefined;
  /** Fetched chunks that failed their checksum (since the store was opened). */
  private csumErrors = 0;
  private readonly locks = new LockTable();
  private readonly pending = new Map<string, DtxRecord>();
  /** Free bytes on the index's file system when last asked (`checkIndexSpace`), and when. */
  private spaceFree = 0;
  private spaceCheckedAt = -Infinity;
  private spaceCheckedBytes = 0;

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
    private readonly journal: PunchJournal,
    private readonly indexFreeBytesMin: number,
  ) {}

  static open(dir: string, options: VosOptions = {}): Target {
    const inlineBytesMax = options.inlineBytesMax ?? INLINE_BYTES_MAX_DEFAULT;
    check(
      Number.isInteger(inlineBytesMax) && inlineBytesMax >= 0,
      'DER_INVAL',
      `inlineBytesMax ${inlineBytesMax} must be >= 0`,
    );
    fs.mkdirSync(dir, { recursive: true });
    const store = new IndexStore(dir, options.mapBytes ?? TARGET_MAP_BYTES, options.durability === 'fsync');
    const data = DataFile.open(path.join(dir, DATA_FILE_NAME));
    const { journal, left } = PunchJournal.open(path.join(dir, PUNCH_JOURNAL_NAME));
    let replayed = 0;
    if (left.length > 0) {
      // Punches acknowledged by a process that was killed before a commit carried them (and
      // perhaps punches already on file: writing those again changes nothing).
      store.env.transactionSync(() => {
        for (const p of left) {
          if (!store.knowsContId(p.cid)) continue;
          const key = punchKey(punchPrefix(p.cid, p.oid), p.epoch);
          if (store.punch.get(key) !== undefined) continue;
          store.punch.put(key, EMPTY);
          replayed++;
        }
      });
    }
    journal.clear();
    const r = recover(store, data);
    r.stats.punchesReplayed = replayed;
    const vis = new Visibility(store, data, r.punched);
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
      journal,
      options.indexFreeBytesMin ?? INDEX_FREE_BYTES_MIN,
    );
    for (const d of r.dtx) {
      t.pending.set(d.dtxId, d);
      t.locks.lock(d.locks);
    }
    return t;
  }

  /**
   * Run `fn` in the next group commit; resolves once committed (and flushed, with fsync).
   * `freed` collects space whose records the transaction deleted: released only after the commit.
   */
  private async commit<T>(
    fn: (freed: Extent[]) => T,
    mode: CommitMode = 'plain',
    dataWritten = false,
    punchOnly?: PunchOnly,
  ): Promise<T> {
    assert(!this.closed, 'target used after close');
    // Large data-file writes run on the thread pool; the index commit waits for them.
    if (!dataWritten) await this.data.flushWritesAsync();
    // After the flush: the caller releases its reserved space on failure, and no write of it may
    // still be queued then.
    if (!this.fsync) this.checkIndexSpace();
    const freed: Extent[] = [];
    const run = () => {
      this.data.flushWrites();
      if (this.fsync) this.data.sync();
      // A dry run is always aborted: persisting there would mark the allocator clean for nothing.
      if (mode !== 'dry-run') this.alloc.persist(this.store.allocatorStore);
      return fn(freed);
    };
    let result: T;
    try {
      if (this.fsync) {
        // Durable commits: lmdb-js's own group commit, fsyncs overlapped on its write thread.
        result = (await (mode === 'plain'
          ? this.store.env.transaction(run)
          : this.store.env.childTransaction(run))) as T;
      } else {
        result = await this.inBatch(run, mode, punchOnly);
      }
    } catch (err) {
      // An aborted child took the allocator's persisted changes with it: persist them again.
      if (mode === 'child') this.alloc.markAllDirty();
      throw err;
    }
    // Reads planned before this commit may still be queued for the space it freed.
    if (freed.length > 0)
      this.data.afterReads(() => {
        for (const f of freed) this.alloc.release(f.off, f.len);
      });
    if (this.fsync) await this.store.env.flushed;
    return result;
  }

  /**
   * Run `work` in this turn's batch: every commit a target queues in one event-loop turn runs, in
   * queue order, in synchronous LMDB transactions at the end of the turn (durability 'process': no
   * fsync, and the index is a write map, so a commit writes the meta page and no copies). Plain
   * items share one transaction; a 'child' or 'dry-run' item gets one of its own, since a write
   * map has no nested transactions (see `runBatch`). One path for every commit of the target keeps
   * them in program order. `punchOnly` marks a plain punch of a whole object.
   */
  private inBatch<T>(work: () => T, mode: CommitMode, punchOnly?: PunchOnly): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (!this.batch) {
        this.batch = [];
        setImmediate(() => this.runBatch());
      }
      this.batch.push({ work, resolve: resolve as (v: unknown) => void, reject, punchOnly, mode });
    });
  }

  /**
   * Commit this turn's batch. A batch of nothing but plain object punches (at most
   * DEFERRED_PUNCH_BATCH_MAX), each of an object with no record here (none in the index, at any
   * epoch), commits nothing: such a punch hides nothing yet, so it is deferred — written to the
   * punch journal (which a killed process cannot lose; replayed on open), acknowledged at once,
   * and written by the target's next commit, which writes every deferred punch first, before its
   * own items, and empties the journal. Whatever that commit carries (a write
   * of the object at any epoch, a transaction's conflict check, a prepared transaction's commit)
   * therefore meets the punch record exactly where an undeferred punch would have left it, and
   * reads meanwhile find nothing to hide. A target with deferred punches commits on its own within
   * DEFERRED_PUNCH_MS_MAX ms or at DEFERRED_PUNCHES_MAX of them, and on close. With durability
   * 'fsync' nothing is deferred: there every acknowledged write is on disk.
   */
  private runBatch(): void {
    const items = this.batch ?? [];
    this.batch = undefined;
    if (
      items.length <= DEFERRED_PUNCH_BATCH_MAX &&
      items.every((item) => item.punchOnly !== undefined && this.holdsNothing(item.punchOnly)) &&
      this.journaled(items)
    ) {
      for (const item of items) this.defer(item.punchOnly!);
      for (const item of items) item.resolve(undefined);
      return;
    }
    const carried = this.deferred;
    this.deferred = [];
    this.clearDeferTimer();
    // Runs of plain items share a transaction; a child or dry-run item is a transaction alone. The
    // carried punches go first, in the first transaction, or alone before a leading child item.
    const txns: BatchItem[][] = carried.length > 0 && items[0]?.mode !== 'plain' ? [[]] : [];
    for (const item of items) {
      const last = txns[txns.length - 1];
      if (item.mode === 'plain' && last !== undefined && (last.length === 0 || last[0]!.mode === 'plain'))
        last.push(item);
      else txns.push([item]);
    }
    for (let t = 0; t < txns.length; t++) {
      const group = txns[t]!;
      const outcomes: Array<{ ok: true; value: unknown } | { ok: false; err: unknown }> = [];
      try {
        this.store.env.transactionSync(() => {
          if (t === 0) {
            for (const d of carried) {
              this.store.punch.put(d.key, EMPTY);
              this.vis.notePunchKey(d.key);
            }
          }
          const alone = group.length === 1 && group[0]!.mode !== 'plain' ? group[0]! : undefined;
          if (alone !== undefined) {
            // A throw rolls back this transaction only, and a dry run is always rolled back.
            try {
              const value = alone.work();
              outcomes.push({ ok: true, value });
              return alone.mode === 'dry-run' ? ABORT : undefined;
            } catch (err) {
              outcomes.push({ ok: false, err });
              return ABORT;
            }
          }
          for (const item of group) {
            try {
              outcomes.push({ ok: true, value: item.work() });
            } catch (err) {
              outcomes.push({ ok: false, err });
            }
          }
          return undefined;
        });
      } catch (err) {
        // This transaction is not on file (the allocator's state included), and the items after
        // it have not run: fail them all rather than commit them out of order.
        this.alloc.markAllDirty();
        if (t === 0) {
          this.deferred = carried.concat(this.deferred);
          if (this.deferred.length > 0) this.armDeferTimer();
        }
        for (const rest of txns.slice(t)) for (const item of rest) item.reject(err);
        return;
      }
      // Every punch the journal holds is on file now (carried, or committed after a failed append).
      if (t === 0) this.journal.clear();
      group.forEach((item, i) => {
        const o = outcomes[i]!;
        if (o.ok) item.resolve(o.value);
        else item.reject(o.err);
      });
    }
  }

  /** Write the batch's punches to the journal; false (commit them instead) if a write fails. */
  private journaled(items: BatchItem[]): boolean {
    try {
      for (const item of items) this.journal.append(item.punchOnly!);
      return true;
    } catch {
      return false;
    }
  }

  /** Whether the index holds no record of the object (of any epoch, akey metas included). */
  private holdsNothing(p: PunchOnly): boolean {
    const pfx = objPrefix(p.cid, p.oid);
    return this.store.firstKey(this.store.main, pfx, prefixEnd(pfx)) === undefined;
  }

  private defer(p: PunchOnly): void {
    this.deferred.push({
      cid: p.cid,
      oid: p.oid,
      key: punchKey(punchPrefix(p.cid, p.oid), p.epoch),
      epoch: p.epoch,
    });
    if (this.deferred.length >= DEFERRED_PUNCHES_MAX) this.writeDeferred();
    else this.armDeferTimer();
  }

  private armDeferTimer(): void {
    if (this.deferTimer !== undefined || this.closed) return;
    this.deferTimer = setTimeout(() => {
      this.deferTimer = undefined;
      if (this.deferred.length > 0 && !this.closed) this.writeDeferred();
    }, DEFERRED_PUNCH_MS_MAX);
    this.deferTimer.unref();
  }

  private clearDeferTimer(): void {
    if (this.deferTimer === undefined) return;
    clearTimeout(this.deferTimer);
    this.deferTimer = undefined;
  }

  /**
   * Fail with DER_NOSPACE, before anything is written, while the file system holding the index
   * has less than `indexFreeBytesMin` free (asked every INDEX_FREE_CHECK_MS, or sooner after
   * INDEX_FREE_RECHECK_BYTES of data-file writes in this process): the index
   * is a write map (durability 'process'), and a page touched on a full disk raises SIGBUS.
   */
  private checkIndexSpace(): void {
    const now = Date.now();
    const queued = dataBytesQueued();
    if (
      now - this.spaceCheckedAt >= INDEX_FREE_CHECK_MS ||
      queued - this.spaceCheckedBytes >= INDEX_FREE_RECHECK_BYTES
    ) {
      const st = fs.statfsSync(this.dir);
      this.spaceFree = st.bavail * st.bsize;
      this.spaceCheckedAt = now;
      this.spaceCheckedBytes = queued;
    }
    if (this.spaceFree < this.indexFreeBytesMin)
      throw new DaosError(
        'DER_NOSPACE',
        `target ${this.dir}: ${this.spaceFree} bytes free on its file system, the index needs ${this.indexFreeBytesMin}`,
      );
  }

  /** A commit of nothing, for the deferred punches it writes first (a failure keeps them deferred). */
  private writeDeferred(): void {
    this.inBatch(() => undefined, 'plain').catch(() => undefined);
  }

  /**
   * The batch mark of an apply that may be deferred (see `runBatch`): a plain punch of a whole
   * object (no transaction check), durability 'process', in a container this target knows.
   */
  private punchOnly(epoch: bigint, op: VosOp, txCheck: TxCheck | undefined): PunchOnly | undefined {
    if (op.op !== 'punch_obj' || txCheck !== undefined || this.fsync || op.epoch !== undefined)
      return undefined;
    const cid = this.store.contId(op.cont);
    return cid === undefined ? undefined : { cid, oid: op.oid, epoch };
  }

  /** Stage ops, commit `fn` with them, and give the reserved space back if it fails. */
  private async commitStaged(
    epoch: bigint,
    ops: VosOp[],
    txCheck: TxCheck | undefined,
    fn: (eff: Effects, freed: Extent[]) => void,
    punchOnly?: PunchOnly,
  ) {
    const { staged, reserved } = stageOps(ops, this.alloc, this.data, this.inlineBytesMax);
    try {
      await this.commit(
        (freed) => {
          this.data.checkWritten(reserved);
          fn(buildEffects(this.vis, this.store, epoch, staged, txCheck), freed);
        },
        'plain',
        false,
        punchOnly,
      );
    } catch (err) {
      for (const r of reserved) this.alloc.release(r.off, r.len);
      throw err;
    }
  }

  async apply(epoch: bigint, ops: VosOp[], txCheck?: TxCheck): Promise<void> {
    checkWriteEpoch(epoch);
    checkOps(ops);
    if (txCheck !== undefined) {
      checkTxCheck(txCheck);
      this.locks.checkFree([...opLockNames(ops), ...readLockNames(txCheck)]);
    }
    if (ops.length === 1) {
      await this.commitStaged(
        epoch,
        ops,
        txCheck,
        (eff, freed) => {
          writeEffects(this.vis, this.store, this.store.allocatorStore, eff, freed, this.contBytes);
        },
        this.punchOnly(epoch, ops[0]!, txCheck),
      );
      return;
    }
    const { staged, reserved } = stageOps(ops, this.alloc, this.data, this.inlineBytesMax);
    const delta = new Map<number, number>();
    try {
      await this.commit((freed) => {
        this.data.checkWritten(reserved);
        buildAndWriteInOrder(this.vis, this.store, epoch, staged, txCheck, freed, delta);
      }, 'child');
    } catch (err) {
      for (const r of reserved) this.alloc.release(r.off, r.len);
      throw err;
    }
    for (const [cid, d] of delta) this.contBytes.set(cid, (this.contBytes.get(cid) ?? 0) + d);
  }

  checkReads(txCheck: TxCheck): void {
    checkTxCheck(txCheck);
    this.locks.checkFree(readLockNames(txCheck));
    for (const r of txCheck.readSet) {
      const cid = this.store.contId(r.cont);
      if (cid === undefined) continue;
      checkNoConflict(this.vis, cid, r.oid, txCheck.readEpoch, r.dkey, r.akey);
      // Outside a commit: a deferred punch is not on file yet, but conflicts all the same.
      for (const d of this.deferred) {
        if (d.cid === cid && d.epoch > txCheck.readEpoch && d.oid.hi === r.oid.hi && d.oid.lo === r.oid.lo)
          throw new DaosError('DER_TX_RESTART', `object changed after read epoch ${txCheck.readEpoch}`);
      }
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

  counters(): { csumErrors: number; deferredPunches: number; punchedObjects: number } {
    return {
      csumErrors: this.csumErrors,
      deferredPunches: this.deferred.length,
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
    const v = this.vis.single(pfx, epoch, this.vis.floor(cid, oid, epoch, dkey, akey));
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
    const cid = this.store.contId(cont);
    const deferred = this.deferred.filter((d) => d.cid === cid).map((d) => d.oid);
    return reads.listObjects(this.vis, cid, deferred);
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
    this.deferred = this.deferred.filter((d) => d.cid !== cid);
    await destroyContainerRecords(this.vis, cid, (fn) => this.commit(fn));
    await this.commit(() => this.store.dropCont(cont));
    this.contBytes.delete(cid);
    const cname = contPrefix(cid).toString('latin1');
    for (const name of [...this.vis.punched.keys()])
      if (name.startsWith(cname)) this.vis.punched.delete(name);
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
    // Persist space released since the last commit, so a clean restart has nothing to reclaim;
    // the commit writes the deferred punches too. Short of space, close without it: recovery
    // reclaims the space and the punch journal keeps the punches.
    try {
      await this.commit(() => undefined);
    } catch (err) {
      if (!(err instanceof DaosError && err.code === 'DER_NOSPACE')) throw err;
    }
    this.clearDeferTimer();
    this.closed = true;
    this.journal.close();
    await this.data.drain();
    await this.store.close();
    this.data.close();
  }
}
