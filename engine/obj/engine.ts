import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DaosError } from '../../core/common/errors.js';
import { hlc } from '../../core/common/hlc.js';
import type { ObjApi, ObjTarget, TxOp } from '../../core/daos/link.js';
import type { TargetRef } from '../../core/placement/pool-map.js';
import type {
  FetchCond,
  FetchIod,
  FetchResult,
  Recx,
  UpdateCond,
  UpdateIod,
} from '../../core/wire/obj-types.js';
import { openVosTarget } from '../vos/index.js';
import type { DtxCoordinator, TxCheck, VosOp, VosOptions, VosTarget } from '../vos/types.js';

/**
 * One engine rank: its targets' stores and the object service in front of them. Writes get
 * their epoch here; multi-target transactions are committed with a two-phase DTX that this
 * engine coordinates (prepare on every target, the coordinator's commit record decides).
 */

export interface EngineOptions {
  dir: string;
  rank: number;
  targets: number;
  vos?: VosOptions;
  /** How this engine reaches its peers (in-process now; RPC stubs in the distributed system). */
  peers: (rank: number) => Engine;
}

type TxCheckIn = Parameters<ObjApi['txCommit']>[1];

export class Engine implements ObjApi {
  readonly rank: number;
  readonly targets: VosTarget[];
  private readonly peers: (rank: number) => Engine;
  private readonly poolQuota = new Map<string, number>();
  private readonly poolConts = new Map<string, Set<string>>();
  private readonly contPool = new Map<string, string>();

  private constructor(options: EngineOptions, targets: VosTarget[]) {
    this.rank = options.rank;
    this.targets = targets;
    this.peers = options.peers;
  }

  /** Open (or create) the engine's targets under `dir`, running each store's recovery. */
  static async start(options: EngineOptions): Promise<Engine> {
    mkdirSync(options.dir, { recursive: true });
    const targets: VosTarget[] = [];
    for (let t = 0; t < options.targets; t++) {
      targets.push(await openVosTarget(join(options.dir, `target-${t}`), options.vos));
    }
    return new Engine(options, targets);
  }

  get targetCount(): number {
    return this.targets.length;
  }

  /** Finish transactions a crash left prepared: commit those whose coordinator recorded a commit. */
  async resolvePendingDtx(): Promise<number> {
    let resolved = 0;
    for (const target of this.targets) {
      for (const { dtxId, coordinator } of target.pendingDtx()) {
        const coord = this.peers(coordinator.rank).targets[coordinator.target];
        if (coord?.dtxCommitted(dtxId)) await target.commitDtx(dtxId);
        else await target.abortDtx(dtxId);
        resolved++;
      }
    }
    return resolved;
  }

  /** Forget coordinator records once no participant still holds the transaction prepared. */
  async forgetResolvedDtx(ids: Iterable<string>): Promise<void> {
    for (const target of this.targets)
      for (const id of ids) if (target.dtxCommitted(id)) await target.forgetDtx(id);
  }

  // ---- pools and containers (told by the management service) ----

  poolCreate(pool: string, bytesPerTarget: number): void {
    this.poolQuota.set(pool, bytesPerTarget);
    if (!this.poolConts.has(pool)) this.poolConts.set(pool, new Set());
  }

  /** DER_NONEXIST for a pool this engine was never told about. */
  poolDestroy(pool: string): void {
    if (!this.poolConts.has(pool)) throw new DaosError('DER_NONEXIST', `pool ${pool} is not on this engine`);
    for (const cont of this.poolConts.get(pool) ?? []) this.contPool.delete(cont);
    this.poolQuota.delete(pool);
    this.poolConts.delete(pool);
  }

  /**
   * Register `cont` in `pool` (again: a no-op). The pool must be here, and the container must not
   * belong to another pool: the targets key data by container alone, so re-binding it would hand
   * its data to that pool (and cut it off from its own).
   */
  contCreate(pool: string, cont: string): void {
    const conts = this.poolConts.get(pool);
    if (conts === undefined) throw new DaosError('DER_NONEXIST', `pool ${pool} is not on this engine`);
    const owner = this.contPool.get(cont);
    if (owner !== undefined && owner !== pool)
      throw new DaosError('DER_EXIST', `container ${cont} belongs to pool ${owner}, not ${pool}`);
    conts.add(cont);
    this.contPool.set(cont, pool);
  }

  /** Destroy `cont`'s data; DER_NONEXIST unless it is a container of `pool` here. */
  async contDestroy(pool: string, cont: string): Promise<void> {
    if (this.contPool.get(cont) !== pool || !this.poolConts.has(pool))
      throw new DaosError('DER_NONEXIST', `container ${cont} is not in pool ${pool} on this engine`);
    this.poolConts.get(pool)?.delete(cont);
    this.contPool.delete(cont);
    for (const t of this.targets) await t.destroyContainer(cont);
  }

  poolUsedBytes(pool: string): number {
    let sum = 0;
    for (const cont of this.poolConts.get(pool) ?? [])
      for (const t of this.targets) sum += t.containerBytes(cont);
    return sum;
  }

  async aggregate(
    cont: string,
    upTo: bigint,
    keep: bigint[],
  ): Promise<{ recordsRemoved: number; bytesFreed: number }> {
    const total = { recordsRemoved: 0, bytesFreed: 0 };
    for (const t of this.targets) {
      const s = await t.aggregate(cont, upTo, keep);
      total.recordsRemoved += s.recordsRemoved;
      total.bytesFreed += s.bytesFreed;
    }
    return total;
  }

  async stop(): Promise<void> {
    for (const t of this.targets) await t.close();
  }

  // ---- the object service ----

  private store(to: ObjTarget): VosTarget {
    if (to.target.rank !== this.rank)
      throw new DaosError('DER_BAD_TARGET', `request for rank ${to.target.rank} reached rank ${this.rank}`);
    const t = this.targets[to.target.target];
    if (!t) throw new DaosError('DER_BAD_TARGET', `rank ${this.rank} has no target ${to.target.target}`);
    const pool = this.contPool.get(to.cont);
    if (pool === undefined || pool !== to.pool)
      throw new DaosError('DER_NO_HDL', `container ${to.cont} is not open in pool ${to.pool} here`);
    return t;
  }

  /** DER_NOSPACE when `bytes` more would pass the pool's share of this target. */
  private checkSpace(to: ObjTarget, bytes: number): void {
    if (bytes === 0) return;
    const quota = this.poolQuota.get(to.pool);
    if (quota === undefined) return;
    let used = 0;
    for (const cont of this.poolConts.get(to.pool) ?? [])
      used += this.targets[to.target.target]!.containerBytes(cont);
    if (used + bytes > quota) {
      throw new DaosError(
        'DER_NOSPACE',
        `pool ${to.pool} has ${quota - used} bytes left on target ${to.target.rank}:${to.target.target}; the write needs ${bytes}`,
      );
    }
  }

  async update(to: ObjTarget, dkey: Uint8Array, iods: UpdateIod[], cond?: UpdateCond): Promise<bigint> {
    const store = this.store(to);
    this.checkSpace(to, iodBytes(iods));
    const epoch = hlc.now();
    await store.apply(epoch, [{ op: 'update', cont: to.cont, oid: to.oid, dkey, iods, cond }]);
    return epoch;
  }

  async fetch(
    to: ObjTarget,
    epoch: bigint,
    dkey: Uint8Array,
    iods: FetchIod[],
    cond?: FetchCond,
  ): Promise<FetchResult[]> {
    return this.store(to).fetchAsync(to.cont, to.oid, epoch, dkey, iods, cond);
  }

  async punch(op: Exclude<TxOp, { kind: 'update' }>): Promise<bigint> {
    const store = this.store(op.to);
    const epoch = hlc.now();
    await store.apply(epoch, [toVosOp(op)]);
    return epoch;
  }

  async listDkeys(
    to: ObjTarget,
    epoch: bigint,
    after: Uint8Array | undefined,
    limit: number,
  ): Promise<Uint8Array[]> {
    return this.store(to).listDkeys(to.cont, to.oid, epoch, after, limit);
  }

  async listAkeys(
    to: ObjTarget,
    epoch: bigint,
    dkey: Uint8Array,
    after: Uint8Array | undefined,
    limit: number,
  ): Promise<Uint8Array[]> {
    return this.store(to).listAkeys(to.cont, to.oid, epoch, dkey, after, limit);
  }

  async listRecx(
    to: ObjTarget,
    epoch: bigint,
    dkey: Uint8Array,
    akey: Uint8Array,
  ): Promise<Array<Recx & { epoch: bigint }>> {
    return this.store(to).listRecx(to.cont, to.oid, epoch, dkey, akey);
  }

  async queryDkey(to: ObjTarget, epoch: bigint, which: 'max' | 'min'): Promise<Uint8Array | undefined> {
    return this.store(to).queryDkey(to.cont, to.oid, epoch, which);
  }

  async queryRecx(
    to: ObjTarget,
    epoch: bigint,
    dkey: Uint8Array,
    akey: Uint8Array,
    which: 'max' | 'min',
  ): Promise<Recx | undefined> {
    return this.store(to).queryRecx(to.cont, to.oid, epoch, dkey, akey, which);
  }

  async txCommit(ops: TxOp[], check?: TxCheckIn): Promise<bigint> {
    if (ops.length === 0) throw new DaosError('DER_INVAL', 'transaction commit with no writes');
    // The ops take consecutive epochs in order (DAOS's minor epochs), so that a later write of a
    // key wins over an earlier one; the clock moves past the last before anything is applied.
    const first = hlc.now();
    const epoch = first + BigInt(ops.length - 1);
    hlc.update(epoch);
    // Group writes and reads by target; every target is validated before anything is written.
    const parts = new Map<
      string,
      { ref: TargetRef; ops: VosOp[]; check?: TxCheck; bytes: number; to: ObjTarget }
    >();
    const part = (to: ObjTarget) => {
      // Every op and read names its own pool and container: check each, not only the first one
      // of its target, before anything is written.
      this.peers(to.target.rank).store(to);
      const key = `${to.target.rank}:${to.target.target}`;
      let p = parts.get(key);
      if (!p) {
        p = {
          ref: to.target,
          ops: [],
          bytes: 0,
          to,
          check: check ? { readEpoch: check.readEpoch, readSet: [] } : undefined,
        };
        parts.set(key, p);
      }
      return p;
    };
    ops.forEach((op, i) => {
      const p = part(op.to);
      p.ops.push({ ...toVosOp(op), epoch: first + BigInt(i) });
      if (op.kind === 'update') p.bytes += iodBytes(op.iods);
    });
    for (const r of check?.readSet ?? []) {
      part(r.to).check!.readSet.push({ cont: r.to.cont, oid: r.to.oid, dkey: r.dkey, akey: r.akey });
    }
    const all = [...parts.values()];
    for (const p of all) {
      const engine = this.peers(p.ref.rank);
      engine.store(p.to);
      engine.checkSpace(p.to, p.bytes);
    }
    const writers = all.filter((p) => p.ops.length > 0);
    const storeOf = (p: (typeof all)[number]) => this.peers(p.ref.rank).store(p.to);
    /** Targets the transaction only read from are checked, not prepared. */
    const checkReadOnly = () => {
      for (const p of all) if (p.ops.length === 0 && p.check) storeOf(p).checkReads(p.check);
    };
    if (writers.length === 1) {
      checkReadOnly();
      await storeOf(writers[0]!).apply(epoch, writers[0]!.ops, writers[0]!.check);
      return epoch;
    }
    const dtxId = randomUUID();
    const coordinator: DtxCoordinator = writers[0]!.ref;
    const stores = writers.map(storeOf);
    const prepared: VosTarget[] = [];
    try {
      for (let i = 0; i < writers.length; i++) {
        await stores[i]!.prepareDtx(dtxId, epoch, writers[i]!.ops, coordinator, writers[i]!.check);
        prepared.push(stores[i]!);
      }
      checkReadOnly();
    } catch (err) {
      for (const s of prepared) await s.abortDtx(dtxId);
      throw err;
    }
    // The coordinator's commit (with its outcome record) is the commit point.
    await stores[0]!.commitDtx(dtxId, true);
    await Promise.all(stores.slice(1).map((s) => s.commitDtx(dtxId)));
    await stores[0]!.forgetDtx(dtxId);
    return epoch;
  }
}

function iodBytes(iods: UpdateIod[]): number {
  let n = 0;
  for (const iod of iods) {
    if (iod.kind === 'single') n += iod.value.byteLength;
    else for (const e of iod.extents) n += e.data?.byteLength ?? 0;
  }
  return n;
}

function toVosOp(op: TxOp): VosOp {
  const { cont, oid } = op.to;
  switch (op.kind) {
    case 'update':
      return { op: 'update', cont, oid, dkey: op.dkey, iods: op.iods, cond: op.cond };
    case 'punch_obj':
      return { op: 'punch_obj', cont, oid };
    case 'punch_dkeys':
      return { op: 'punch_dkeys', cont, oid, dkeys: op.dkeys, mustExist: op.mustExist };
    case 'punch_akeys':
      return { op: 'punch_akeys', cont, oid, dkey: op.dkey, akeys: op.akeys, mustExist: op.mustExist };
  }
}
