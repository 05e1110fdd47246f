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
import { INLINE_BYTES_MAX_DEFAULT, TARGET_MAP_BYTES } from '../../core/common/limits.js';
import type { Oid } from '../../core/common/oid.js';
import type { ShardRole } from '../../core/ec/stripe.js';
import type { Extent, ExtentAllocator } from '../bio/allocator.js';
import { DataFile } from '../bio/data-file.js';
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
import { akeyPrefix, contPrefix } from './keys.js';
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

export class Target implements VosTarget {
  private closed = false;
  /** Commits queued this turn (durability 'process'); run by `runBatch`. */
  private batch:
    | Array<{ work: () => unknown; resolve: (v: unknown) => void; reject: (e: unknown) => void }>
    | undefined;
  /** Fetched chunks that failed their checksum (since the store was opened). */
  private csumErrors = 0;
  private readonly locks = new LockTable();
  private readonly pending = new Map<string, DtxRecord>();

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
    const r = recover(store, data);
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
    mode: 'plain' | 'child' | 'dry-run' = 'plain',
    dataWritten = false,
  ): Promise<T> {
    assert(!this.closed, 'target used after close');
    // Large data-file writes run on the thread pool; the index commit waits for them.
    if (!dataWritten) await this.data.flushWritesAsync();
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
        // Child transactions run synchronously inside the batch's transaction.
        result = await this.inBatch(() =>
          mode === 'plain' ? run() : (this.store.env.childTransaction(run) as T),
        );
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
   * queue order, inside one synchronous LMDB transaction (durability 'process': no fsync, so the
   * commit itself is a few memory copies). One path for every commit of the target keeps them in
   * program order; a failing item (a child transaction) is rolled back alone.
   */
  private inBatch<T>(work: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (!this.batch) {
        this.batch = [];
        setImmediate(() => this.runBatch());
      }
      this.batch.push({ work, resolve: resolve as (v: unknown) => void, reject });
    });
  }

  private runBatch(): void {
    const items = this.batch ?? [];
    this.batch = undefined;
    const outcomes: Array<{ ok: true; value: unknown } | { ok: false; err: unknown }> = [];
    try {
      this.store.env.transactionSync(() => {
        for (const item of items) {
          try {
            outcomes.push({ ok: true, value: item.work() });
          } catch (err) {
            outcomes.push({ ok: false, err });
          }
        }
      });
    } catch (err) {
      // The commit itself failed: nothing of the batch is on file, the allocator's state included.
      this.alloc.markAllDirty();
      for (const item of items) item.reject(err);
      return;
    }
    items.forEach((item, i) => {
      const o = outcomes[i]!;
      if (o.ok) item.resolve(o.value);
      else item.reject(o.err);
    });
  }

  /** Stage ops, commit `fn` with them, and give the reserved space back if it fails. */
  private async commitStaged(
    epoch: bigint,
    ops: VosOp[],
    txCheck: TxCheck | undefined,
    fn: (eff: Effects, freed: Extent[]) => void,
  ) {
    const { staged, reserved } = stageOps(ops, this.alloc, this.data, this.inlineBytesMax);
    try {
      await this.commit((freed) => fn(buildEffects(this.vis, this.store, epoch, staged, txCheck), freed));
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
      await this.commitStaged(epoch, ops, txCheck, (eff, freed) => {
        writeEffects(this.vis, this.store, this.store.allocatorStore, eff, freed, this.contBytes);
      });
      return;
    }
    const { staged, reserved } = stageOps(ops, this.alloc, this.data, this.inlineBytesMax);
    const delta = new Map<number, number>();
    try {
      await this.commit((freed) => {
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
      if (cid !== undefined) checkNoConflict(this.vis, cid, r.oid, txCheck.readEpoch, r.dkey, r.akey);
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

  counters(): { csumErrors: number } {
    return { csumErrors: this.csumErrors };
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
    // Persist space released since the last commit, so a clean restart has nothing to reclaim.
    await this.commit(() => undefined);
    this.closed = true;
    await this.data.drain();
    await this.store.close();
    this.data.close();
  }
}
