import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DaosError } from '../../core/common/errors.js';
import { hlc } from '../../core/common/hlc.js';
import { oidRedun } from '../../core/common/oid.js';
import { TurnBudget } from '../../core/common/turns.js';
import type { EngineCounters, EngineOp } from '../../core/daos/engine-counters.js';
import type {
  EnginePeer,
  EngineRebuildStatus,
  ObjApi,
  ObjTarget,
  RebuildReadReply,
  RebuildReadReq,
  TokenCheck,
  TxCheckIn,
  TxOp,
} from '../../core/daos/link.js';
import { cellRecordsFor, rangesOfShard, type ShardRole } from '../../core/ec/stripe.js';
import { ecCellBytes, ecShape } from '../../core/ec/stripe-io.js';
import { dkeyGroup, layoutsDiffer, objectLayout } from '../../core/placement/layout.js';
import { redunInfo } from '../../core/placement/oclass.js';
import {
  type PoolMap,
  ranksDown,
  type TargetRef,
  targetState,
  targetUp,
} from '../../core/placement/pool-map.js';
import type {
  FetchCond,
  FetchIod,
  FetchResult,
  Recx,
  UpdateCond,
  UpdateIod,
} from '../../core/wire/obj-types.js';
import { filling, Rebuilder, type RebuildSnapshots, rebuildReadLocal } from '../rebuild/rebuild.js';
import { openVosTarget } from '../vos/index.js';
import type { TxCheck, VosOp, VosOptions, VosTarget } from '../vos/types.js';
import { asCellRead, ecExpand, ecLockNames, NEWEST, StripeCache } from './ec-write.js';
import { NameLocks } from './name-locks.js';
import { EngineStats } from './stats.js';

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
  /** How this engine reaches its peers (itself for its own rank). Can be set later with setPeers. */
  peers?: (rank: number) => EnginePeer;
  /** Where errors of background work (transaction resolution) are reported. Default: stderr. */
  onBackgroundError?: (err: unknown) => void;
  /** Where data corruption found by a read (DER_CSUM) is logged, one line each. Default: stderr. */
  log?: (line: string) => void;
  /**
   * Checks a request's capability token against the management service's key of its pool
   * (control/security/token.ts tokenChecker). With it, every object RPC to a pool whose key the
   * service gave (poolCreate) must carry a container token granting r (reads) or w (writes);
   * without it, tokens are not checked.
   */
  checkToken?: TokenCheck;
  /** The rebuild throttle, bytes per second (default REBUILD_BYTES_PER_SEC_MAX). */
  rebuildBytesPerSec?: number;
}

/**
 * Object calls (of every engine of the process) whose results may be given back one after
 * another in microtasks before one waits for the next event-loop turn. In one process (the
 * embedded system) reads answered from the index settle at once, so a loop of 20,000 awaited KV
 * gets or DFS stats never let a 1 ms timer fire (0.5 s and 1.6 s of it); over a socket every
 * request comes in its own turn and the budget is never spent.
 */
const ENGINE_CALLS_PER_TURN_MAX = 128;
const callTurns = new TurnBudget(ENGINE_CALLS_PER_TURN_MAX);
/** Targets of a collective call checked for repeats pairwise; more are checked through a set. */
const COLLECTIVE_PAIRWISE_MAX = 16;

interface Part {
  ref: TargetRef;
  ops: TxOp[];
  epochs: bigint[];
  check?: TxCheckIn;
}

export class Engine implements ObjApi, EnginePeer {
  readonly rank: number;
  readonly targets: VosTarget[];
  private peerOf: (rank: number) => EnginePeer;
  private readonly onBackgroundError: (err: unknown) => void;
  private readonly log: (line: string) => void;
  private readonly poolQuota = new Map<string, number>();
  /** The management service's public key (SPKI PEM) per pool, when it gave one. */
  private readonly poolTokenKeys = new Map<string, string>();
  private readonly checkToken: TokenCheck | undefined;
  private readonly poolConts = new Map<string, Set<string>>();
  private readonly contPool = new Map<string, string>();
  private readonly poolMaps = new Map<string, PoolMap>();
  private resolving: Promise<number> | undefined;
  /** Read-modify-write of EC stripes: one commit at a time per (object, dkey, akey) here. */
  private readonly ecLocks = new NameLocks();
  /** Calls, failures, latency and bytes of the object service (counters()). */
  private readonly stats = new EngineStats();
  /** This engine's part of pool rebuilds (engine/rebuild). */
  private readonly rebuilder: Rebuilder;

  private constructor(options: EngineOptions, targets: VosTarget[]) {
    this.rank = options.rank;
    this.targets = targets;
    this.peerOf =
      options.peers ??
      ((rank) => {
        if (rank === this.rank) return this;
        throw new DaosError('DER_UNREACH', `engine rank ${this.rank} has no route to rank ${rank}`);
      });
    this.onBackgroundError =
      options.onBackgroundError ??
      ((err) => process.stderr.write(`engine rank ${this.rank}: ${(err as Error)?.message ?? err}\n`));
    this.log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
    this.checkToken = options.checkToken;
    this.rebuilder = new Rebuilder({
      rank: this.rank,
      targets: this.targets,
      containers: (pool) => [...(this.poolConts.get(pool) ?? [])],
      poolMap: (pool) => this.poolMaps.get(pool),
      peer: (rank) => this.peer(rank),
      bytesPerSec: options.rebuildBytesPerSec,
    });
  }

  // ---- rebuild (told by the management service; engine/rebuild) ----

  /**
   * Start this engine's part of the rebuild of `pool` for map `version` (returns at once);
   * `snapshots`: each container's snapshot epochs, whose reads the rebuilt shards must answer too.
   */
  rebuildStart(pool: string, version: number, snapshots?: RebuildSnapshots): void {
    if (!this.poolConts.has(pool)) throw new DaosError('DER_NONEXIST', `pool ${pool} is not on this engine`);
    this.rebuilder.start(pool, version, snapshots);
  }

  /** Progress of this engine's part of the pool's latest rebuild. */
  rebuildStatus(pool: string): EngineRebuildStatus {
    return this.rebuilder.status(pool);
  }

  /**
   * Drop everything `targets` (default all) of this engine hold for `pool`: a target coming back
   * (reintegration) is filled again from the others, without stale records of its own.
   */
  async rebuildDiscard(pool: string, targets?: readonly number[]): Promise<void> {
    const conts = this.poolConts.get(pool);
    if (!conts) throw new DaosError('DER_NONEXIST', `pool ${pool} is not on this engine`);
    for (const t of targets ?? this.targets.map((_, i) => i))
      for (const cont of conts) await this.localTarget(t).destroyContainer(cont);
  }

  /** A rebuild read of a local target (EnginePeer.rebuildRead). */
  async rebuildRead(target: number, req: RebuildReadReq): Promise<RebuildReadReply> {
    const store = this.localTarget(target);
    const pool = this.contPool.get(req.cont);
    if (pool === undefined || pool !== req.pool)
      throw new DaosError('DER_NO_HDL', `container ${req.cont} is not in pool ${req.pool} here`);
    return rebuildReadLocal(store, req);
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

  /** Route to peers (the distributed system learns their addresses after every engine started). */
  setPeers(peers: (rank: number) => EnginePeer): void {
    this.peerOf = peers;
  }

  private peer(rank: number): EnginePeer {
    return rank === this.rank ? this : this.peerOf(rank);
  }

  /**
   * Finish transactions left prepared (by a crash, or by a coordinator that went down): commit
   * those the coordinator recorded committed; when the coordinator's rank is DOWN, commit if any
   * other engine recorded it committed and abort if none did. Unreachable answers leave it for
   * the next call. `coordinatorDown` limits the pass to transactions whose coordinator is DOWN
   * (while running, others may be between prepare and commit). Resolves to the number resolved.
   */
  resolvePendingDtx(options: { coordinatorDown?: boolean } = {}): Promise<number> {
    // One pass at a time; a call during a pass waits for it and runs again.
    const run = (this.resolving ?? Promise.resolve(0)).then(() => this.resolveOnce(options.coordinatorDown));
    this.resolving = run.catch(() => 0);
    return run;
  }

  private async resolveOnce(onlyDown = false): Promise<number> {
    let resolved = 0;
    const down = this.ranksDown();
    for (const target of this.targets) {
      for (const { dtxId, coordinator } of target.pendingDtx()) {
        if (onlyDown && !down.has(coordinator.rank)) continue;
        const outcome = down.has(coordinator.rank)
          ? await this.askSurvivors(dtxId, down)
          : await this.ask(coordinator.rank, dtxId, coordinator.target);
        if (outcome === undefined) continue;
        if (outcome) await target.commitDtx(dtxId);
        else await target.abortDtx(dtxId);
        resolved++;
      }
    }
    return resolved;
  }

  /** Whether any reachable engine not DOWN recorded `dtxId` committed; undefined if one did not answer. */
  private async askSurvivors(dtxId: string, down: Set<number>): Promise<boolean | undefined> {
    let unknown = false;
    for (const rank of this.knownRanks()) {
      if (down.has(rank)) continue;
      const r = await this.ask(rank, dtxId);
      if (r === true) return true;
      if (r === undefined) unknown = true;
    }
    return unknown ? undefined : false;
  }

  /** A peer's answer to "did you commit dtxId?", undefined when it cannot be reached. */
  private async ask(rank: number, dtxId: string, target?: number): Promise<boolean | undefined> {
    try {
      return await this.peer(rank).dtxCommitted(dtxId, target);
    } catch {
      return undefined;
    }
  }

  private knownRanks(): Set<number> {
    const ranks = new Set<number>([this.rank]);
    for (const map of this.poolMaps.values()) for (const t of map.targets) ranks.add(t.rank);
    return ranks;
  }

  /** Ranks DOWN in some pool map this engine holds. */
  private ranksDown(): Set<number> {
    const down = new Set<number>();
    for (const map of this.poolMaps.values()) for (const r of ranksDown(map)) down.add(r);
    return down;
  }

  // ---- pools and containers (told by the management service) ----

  poolCreate(pool: string, bytesPerTarget: number, map?: PoolMap, tokenKey?: string): void {
    this.poolQuota.set(pool, bytesPerTarget);
    if (tokenKey !== undefined) this.poolTokenKeys.set(pool, tokenKey);
    if (!this.poolConts.has(pool)) this.poolConts.set(pool, new Set());
    if (map && !this.poolMaps.has(pool)) this.poolMaps.set(pool, map);
    else if (map) void this.poolMapUpdate(pool, map).catch(this.onBackgroundError);
  }

  /**
   * A newer pool map. Transactions whose coordinator went DOWN are resolved (with the surviving
   * participants) before the returned promise settles.
   */
  async poolMapUpdate(pool: string, map: PoolMap): Promise<void> {
    const old = this.poolMaps.get(pool);
    if (old && old.version >= map.version) return;
    const downBefore = this.ranksDown();
    this.poolMaps.set(pool, map);
    const newlyDown = [...this.ranksDown()].filter((r) => !downBefore.has(r));
    if (newlyDown.length > 0) await this.resolvePendingDtx({ coordinatorDown: true });
  }

  /** The pool map this engine holds (undefined before the management service told it). */
  poolMap(pool: string): PoolMap | undefined {
    return this.poolMaps.get(pool);
  }

  /** DER_NONEXIST for a pool this engine was never told about. */
  poolDestroy(pool: string): void {
    if (!this.poolConts.has(pool)) throw new DaosError('DER_NONEXIST', `pool ${pool} is not on this engine`);
    for (const cont of this.poolConts.get(pool) ?? []) this.contPool.delete(cont);
    this.poolQuota.delete(pool);
    this.poolConts.delete(pool);
    this.poolMaps.delete(pool);
    this.poolTokenKeys.delete(pool);
  }

  /**
   * DER_NO_PERM unless `to` carries a token granting `perm` on its container (only for pools whose
   * service key this engine holds, and only with a checker). No round trip: signature, expiry,
   * pool and container, and the letter, all checked here.
   */
  /** The store of `to` once its token allows reading (lists and queries). */
  private authorized(to: ObjTarget): VosTarget {
    this.authorize(to, 'r');
    this.checkFresh(to);
    return this.store(to);
  }

  /**
   * DER_STALE for a read placed with an older pool map than this engine's: where an object's
   * shards are may have changed since (a rebuild or rebalance finished), so the reader must look
   * again with the newer map (it comes back in the reply, or from the management service).
   */
  private checkFresh(to: ObjTarget): void {
    const map = to.mapVersion === undefined ? undefined : this.poolMaps.get(to.pool);
    if (map && map.version > to.mapVersion!)
      throw new DaosError(
        'DER_STALE',
        `read of target ${to.target.rank}:${to.target.target} placed with pool map version ${to.mapVersion}; this engine has version ${map.version}`,
      );
  }

  private authorize(to: ObjTarget, perm: 'r' | 'w'): void {
    if (this.checkToken === undefined) return;
    const key = this.poolTokenKeys.get(to.pool);
    if (key === undefined) return;
    if (to.token === undefined)
      throw new DaosError(
        'DER_NO_PERM',
        `no capability token for container ${to.cont} of pool ${to.pool}: open the container first`,
      );
    this.checkToken(key, to.token, perm, to.pool, to.cont);
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
    await this.rebuilder.stop();
    await this.resolving;
    for (const t of this.targets) await t.close();
  }

  // ---- the object service ----

  /**
   * Run an object call: counted and timed (EngineStats), and paced (ENGINE_CALLS_PER_TURN_MAX):
   * in one process a caller awaiting call after call, each answered within the turn it was made
   * in, would otherwise never let the loop turn.
   */
  private call<T, C = undefined>(
    op: EngineOp,
    fn: () => Promise<T> | T,
    onDone?: (result: T) => void,
    onError?: (err: unknown, ctx: C) => void,
    ctx?: C,
  ): Promise<T> {
    return this.stats.time(op, fn, onDone, onError, callTurns, ctx);
  }

  /** The store of `to`'s target. */
  private store(to: ObjTarget): VosTarget {
    return this.targetStore(to, to.target, this.requestMap(to));
  }

  /**
   * The stores of the targets a collective call names (`to`'s and `shards`, see collectiveRefs):
   * the container and the pool map looked up once for all of them.
   */
  private collectiveStores(to: ObjTarget, shards: TargetRef[]): VosTarget[] {
    const map = this.requestMap(to);
    return this.collectiveRefs(to, shards).map((ref) => this.targetStore(to, ref, map));
  }

  /**
   * DER_NO_HDL unless `to`'s container is open in `to`'s pool here; then this engine's map of
   * the pool when it is newer than the one the request was placed with (else undefined).
   */
  private requestMap(to: ObjTarget): PoolMap | undefined {
    const pool = this.contPool.get(to.cont);
    if (pool === undefined || pool !== to.pool)
      throw new DaosError('DER_NO_HDL', `container ${to.cont} is not open in pool ${to.pool} here`);
    if (to.mapVersion === undefined) return undefined;
    const map = this.poolMaps.get(to.pool);
    return map && map.version > to.mapVersion ? map : undefined;
  }

  /** The store of target `ref` of a request to `to`; `newerMap` from requestMap. */
  private targetStore(to: ObjTarget, ref: TargetRef, newerMap: PoolMap | undefined): VosTarget {
    if (ref.rank !== this.rank)
      throw new DaosError('DER_BAD_TARGET', `request for rank ${ref.rank} reached rank ${this.rank}`);
    const t = this.targets[ref.target];
    if (!t) throw new DaosError('DER_BAD_TARGET', `rank ${this.rank} has no target ${ref.target}`);
    if (newerMap && !targetUp(newerMap, ref)) {
      throw new DaosError(
        'DER_STALE',
        `target ${ref.rank}:${ref.target} is ${targetState(newerMap, ref)} in pool map version ${newerMap.version}; the request used version ${to.mapVersion}`,
      );
    }
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

  /**
   * The targets a write addressed to `to` (of dkey `dkey`, when it has one) goes to: the serving
   * members of its redundancy group in the data layout, and the members of the goal layout where
   * they differ (a rebuild, drain, reintegration or extension is moving the shard: its new home
   * gets every write from now on, the rebuild copies what came before). `extra` marks those.
   */
  private writeTargets(to: ObjTarget, dkey?: Uint8Array): Array<{ ref: TargetRef; extra: boolean }> {
    const map = this.poolMaps.get(to.pool);
    if (!map) return [{ ref: to.target, extra: false }];
    const { g, data, goal } = this.groupsFor(to, map, dkey);
    const none = redunInfo(oidRedun(to.oid)).kind === 'none';
    const out: Array<{ ref: TargetRef; extra: boolean }> = none
      ? [{ ref: to.target, extra: false }]
      : data.filter((t) => targetUp(map, t)).map((ref) => ({ ref, extra: false }));
    if (out.length === 0) {
      throw new DaosError(
        'DER_UNREACH',
        `every replica of group ${g} of object ${oidText(to.oid)} is on a DOWN target (pool map version ${map.version})`,
      );
    }
    for (const ref of goal) if (!out.some((o) => sameTarget(o.ref, ref))) out.push({ ref, extra: true });
    return out;
  }

  /**
   * The redundancy group of `to` — the group of `dkey`, or without one the first group whose
   * data-layout members include `to` (DER_BAD_TARGET when none does) — its data-layout members
   * and its goal-layout members that differ from them (same positions).
   */
  private groupsFor(
    to: ObjTarget,
    map: PoolMap,
    dkey?: Uint8Array,
  ): { g: number; data: TargetRef[]; goalAt: Array<TargetRef | undefined>; goal: TargetRef[] } {
    const layout = objectLayout(to.oid, map, 'data');
    let g: number;
    if (dkey !== undefined) g = dkeyGroup(dkey, layout);
    else {
      const s = layout.shards.findIndex((t) => sameTarget(t, to.target));
      if (s < 0) {
        throw new DaosError(
          'DER_BAD_TARGET',
          `target ${to.target.rank}:${to.target.target} holds no shard of object ${oidText(to.oid)} in pool map version ${map.version}`,
        );
      }
      g = Math.floor(s / layout.groupSize);
    }
    const n = layout.groupSize;
    const data = layout.shards.slice(g * n, (g + 1) * n);
    if (!layoutsDiffer(map)) return { g, data, goalAt: data.map(() => undefined), goal: [] };
    const goalLayout = objectLayout(to.oid, map, 'goal');
    const goalAt = goalLayout.shards
      .slice(g * n, (g + 1) * n)
      .map((t, i) => (sameTarget(t, data[i]!) && !filling(map, t) ? undefined : t));
    return { g, data, goalAt, goal: goalAt.filter((t): t is TargetRef => t !== undefined) };
  }

  /** The members of the redundancy group of `to` in the data layout. */
  private groupFor(to: ObjTarget, map: PoolMap, dkey?: Uint8Array): TargetRef[] {
    return this.groupsFor(to, map, dkey).data;
  }

  /** Whether writes to `to` are erasure-coded here (an EC object in a pool whose map this engine has). */
  private erasureCoded(to: ObjTarget): boolean {
    return this.poolMaps.has(to.pool) && ecShape(to.oid) !== undefined;
  }

  /** Whether a write to `to` involves targets other than `to` (a replicated or EC object). */
  private replicated(to: ObjTarget, dkey?: Uint8Array): boolean {
    if (this.erasureCoded(to)) return true;
    // No redundancy and no shard moving: a dkey's write goes to `to` alone, whatever its group.
    const map = this.poolMaps.get(to.pool);
    if (map && dkey !== undefined && redunInfo(oidRedun(to.oid)).kind === 'none' && !layoutsDiffer(map))
      return false;
    const targets = this.writeTargets(to, dkey);
    return targets.length !== 1 || !sameTarget(targets[0]!.ref, to.target);
  }

  /**
   * Where a transaction's read check of `to` goes: a member that holds every key of the group
   * (any serving replica; for EC, a serving parity shard, or a data shard when none serves).
   */
  private checkTarget(to: ObjTarget, dkey: Uint8Array): TargetRef {
    const serving = this.writeTargets(to, dkey).filter((t) => !t.extra);
    const map = this.poolMaps.get(to.pool);
    const shape = map && ecShape(to.oid);
    if (!shape || !map) return serving[0]!.ref;
    const group = this.groupFor(to, map, dkey);
    return group.slice(shape.k).find((t) => targetUp(map, t)) ?? serving[0]!.ref;
  }

  /** An EC op as per-member ops (data pieces, parity, conditions placed), see ec-write.ts. */
  private async ecPlace(op: TxOp, cache: StripeCache): Promise<Array<{ ref: TargetRef; op: TxOp }>> {
    const map = this.poolMaps.get(op.to.pool)!;
    const { k, p } = ecShape(op.to.oid)!;
    const dkey = op.kind === 'update' || op.kind === 'punch_akeys' ? op.dkey : undefined;
    const { data: members, goalAt } = this.groupsFor(op.to, map, dkey ?? opDkey(op));
    return ecExpand(
      op,
      {
        k,
        p,
        members,
        up: members.map((t) => targetUp(map, t)),
        also: goalAt,
        cellBytes: ecCellBytes(map),
        fetch: async (ref, dkey, akey, recordSize, recx) =>
          asCellRead(
            await this.peer(ref.rank).fetch({ ...op.to, target: ref, mapVersion: undefined }, NEWEST, dkey, [
              { akey, kind: 'array', recordSize, extents: [recx] },
            ]),
          ),
      },
      cache,
    );
  }

  // The ObjApi methods are counted and timed (stats) here, around the work; internal calls
  // between them (an update committed as a transaction) go to the uncounted bodies.

  // update and fetch, the hot paths: each begins its work inline, not in a function made per
  // call for `call` to run, and continues in async methods (`updateOnce`, `EngineStats.timed`),
  // not in closures made per call (see engine/bio/data-file.ts, groupToSettle); their bytes are
  // counted there (`updateOnce`, `timed`'s onDone for a fetch).
  update(to: ObjTarget, dkey: Uint8Array, iods: UpdateIod[], cond?: UpdateCond): Promise<bigint> {
    const start = performance.now();
    const begun = callTurns.mark();
    let work: Promise<bigint>;
    try {
      this.authorize(to, 'w');
      work = this.updateOnce(to, dkey, iods, cond);
    } catch (err) {
      work = Promise.reject(err);
    }
    return this.stats.timed('update', start, begun, work, undefined, undefined, callTurns);
  }

  /** An update's write, its bytes counted once done. */
  private async updateOnce(
    to: ObjTarget,
    dkey: Uint8Array,
    iods: UpdateIod[],
    cond?: UpdateCond,
  ): Promise<bigint> {
    const bytes = iodBytes(iods);
    let epoch: bigint;
    if (this.replicated(to, dkey)) {
      epoch = await this.txCommitOnce([{ kind: 'update', to, dkey, iods, cond }]);
    } else {
      const store = this.store(to);
      this.checkSpace(to, bytes);
      epoch = hlc.now();
      await store.apply(epoch, [{ op: 'update', cont: to.cont, oid: to.oid, dkey, iods, cond }]);
    }
    this.stats.bytesWritten += bytes;
    return epoch;
  }

  fetch(
    to: ObjTarget,
    epoch: bigint,
    dkey: Uint8Array,
    iods: FetchIod[],
    cond?: FetchCond,
  ): Promise<FetchResult[]> {
    const start = performance.now();
    const begun = callTurns.mark();
    let work: Promise<FetchResult[]>;
    try {
      this.authorize(to, 'r');
      this.checkFresh(to);
      work = this.store(to).fetchAsync(to.cont, to.oid, epoch, dkey, iods, cond);
    } catch (err) {
      work = Promise.reject(err);
    }
    return this.stats.timed('fetch', start, begun, work, this.fetched, this.fetchFailed, callTurns, to);
  }

  /** A fetch's outcomes (made once: every fetch passes here). */
  private readonly fetched = (results: FetchResult[]): void => {
    this.stats.bytesRead += fetchBytes(results);
  };

  private readonly fetchFailed = (err: unknown, to: ObjTarget): void => {
    // Corrupt data on this target: counted there; logged here, with where it was found.
    if (err instanceof DaosError && err.code === 'DER_CSUM')
      this.log(
        `engine rank ${this.rank} target ${to.target.target}: checksum error in container ${to.cont} object ${oidText(to.oid)}: ${err.message}`,
      );
  };

  /**
   * The engine's counters (core/daos/engine-counters.ts): checksum errors over its targets (see
   * VosTarget.counters), in total and per target; per kind of operation calls, failures and
   * latency; bytes written and read. Cumulative since the engine started.
   */
  counters(): EngineCounters {
    const targets = this.targets.map((t) => ({ csumErrors: t.counters().csumErrors }));
    return { csumErrors: targets.reduce((n, t) => n + t.csumErrors, 0), targets, ...this.stats.snapshot() };
  }

  punch(op: Exclude<TxOp, { kind: 'update' }>): Promise<bigint> {
    return this.call('punch', () => {
      this.authorize(op.to, 'w');
      return this.punchOnce(op);
    });
  }

  private async punchOnce(op: Exclude<TxOp, { kind: 'update' }>): Promise<bigint> {
    if (op.kind === 'punch_obj' && op.shards !== undefined) return this.punchShards(op.to, op.shards);
    if (this.replicated(op.to, opDkey(op))) return this.txCommitOnce([op]);
    const store = this.store(op.to);
    const epoch = hlc.now();
    await store.apply(epoch, [toVosOp(op)]);
    return epoch;
  }

  /** The targets a collective call names: `to`'s, then `shards` (DER_INVAL for a target named twice). */
  private collectiveRefs(to: ObjTarget, shards: TargetRef[]): TargetRef[] {
    const refs = [to.target, ...shards];
    const twice = (ref: TargetRef) =>
      new DaosError('DER_INVAL', `a collective call names target ${ref.rank}:${ref.target} twice`);
    if (refs.length <= COLLECTIVE_PAIRWISE_MAX) {
      // The usual few targets of one rank: pairwise is cheaper than building ids.
      for (let i = 1; i < refs.length; i++)
        for (let j = 0; j < i; j++) if (sameTarget(refs[i]!, refs[j]!)) throw twice(refs[i]!);
      return refs;
    }
    const seen = new Set<string>();
    for (const ref of refs) {
      const id = `${ref.rank}:${ref.target}`;
      if (seen.has(id)) throw twice(ref);
      seen.add(id);
    }
    return refs;
  }

  /** The shards a collective call names: `to` and `to` at each of `shards` (see collectiveRefs). */
  private collective(to: ObjTarget, shards: TargetRef[]): ObjTarget[] {
    return this.collectiveRefs(to, shards).map((ref) => ({ ...to, target: ref }));
  }

  /**
   * A collective object punch: the object's shards on `to` and on `shards`, all targets of this
   * rank, at one epoch, in one call (DAOS's collective punch of an object with many shards). Every
   * target is checked before any is punched; a shard with other members (a redundant class, or a
   * rebuild moving it) is punched as its own punch would be. The shards are punched independently:
   * a failure on one leaves the others punched (a retry punches them again, which changes nothing).
   */
  private async punchShards(to: ObjTarget, shards: TargetRef[]): Promise<bigint> {
    const map = this.requestMap(to);
    const all = this.collective(to, shards);
    const stores = all.map((shard) => this.targetStore(to, shard.target, map));
    if (all.some((shard) => this.replicated(shard))) {
      const epochs = await Promise.all(all.map((shard) => this.punchOnce({ kind: 'punch_obj', to: shard })));
      let newest = 0n;
      for (const e of epochs) if (e > newest) newest = e;
      return newest;
    }
    const epoch = hlc.now();
    const op: VosOp = { op: 'punch_obj', cont: to.cont, oid: to.oid };
    await Promise.all(stores.map((store) => store.apply(epoch, [op])));
    return epoch;
  }

  listDkeys(
    to: ObjTarget,
    epoch: bigint,
    after: Uint8Array | undefined,
    limit: number,
  ): Promise<Uint8Array[]> {
    return this.call('list', () => this.authorized(to).listDkeys(to.cont, to.oid, epoch, after, limit));
  }

  listAkeys(
    to: ObjTarget,
    epoch: bigint,
    dkey: Uint8Array,
    after: Uint8Array | undefined,
    limit: number,
  ): Promise<Uint8Array[]> {
    return this.call('list', () => this.authorized(to).listAkeys(to.cont, to.oid, epoch, dkey, after, limit));
  }

  /**
   * Visible ranges of an array akey on `to`; for an EC object, only those of the target's role in
   * the dkey's group (a target may also keep records of another role, see rebuild), parity ranges
   * still tagged.
   */
  listRecx(
    to: ObjTarget,
    epoch: bigint,
    dkey: Uint8Array,
    akey: Uint8Array,
  ): Promise<Array<Recx & { epoch: bigint }>> {
    return this.call('list', async () => {
      const store = this.authorized(to);
      const recx = store.listRecx(to.cont, to.oid, epoch, dkey, akey);
      const role = recx.length > 0 ? this.ecRoleOf(to, dkey) : undefined;
      if (!role) return recx;
      const v = store.akeyVersion(to.cont, to.oid, epoch, dkey, akey);
      if (v?.kind !== 'array') return recx;
      return rangesOfShard(recx, role.shard, role.k, cellRecordsFor(v.recordSize, role.cellBytes));
    });
  }

  /** The EC shard `to` is of the dkey's group in this engine's map (undefined: not EC, or no member). */
  private ecRoleOf(to: ObjTarget, dkey: Uint8Array): ShardRole | undefined {
    const map = this.poolMaps.get(to.pool);
    const shape = map && ecShape(to.oid);
    if (!map || !shape) return undefined;
    const shard = this.groupFor(to, map, dkey).findIndex((t) => sameTarget(t, to.target));
    return shard < 0 ? undefined : { k: shape.k, shard, cellBytes: ecCellBytes(map) };
  }

  queryDkey(
    to: ObjTarget,
    epoch: bigint,
    which: 'max' | 'min',
    shards?: TargetRef[],
  ): Promise<Uint8Array | undefined> {
    return this.call('query', () => {
      if (shards === undefined) return this.authorized(to).queryDkey(to.cont, to.oid, epoch, which);
      // A collective query: one token (the shards share the container), every named target
      // checked first, then each shard asked.
      this.authorize(to, 'r');
      this.checkFresh(to);
      const stores = this.collectiveStores(to, shards);
      let best: Uint8Array | undefined;
      for (const store of stores) {
        const k = store.queryDkey(to.cont, to.oid, epoch, which);
        if (k === undefined) continue;
        const c = best === undefined ? 0 : Buffer.compare(k, best);
        if (best === undefined || (which === 'max' ? c > 0 : c < 0)) best = k;
      }
      return best;
    });
  }

  queryRecx(
    to: ObjTarget,
    epoch: bigint,
    dkey: Uint8Array,
    akey: Uint8Array,
    which: 'max' | 'min',
  ): Promise<Recx | undefined> {
    return this.call('query', () => this.authorized(to).queryRecx(to.cont, to.oid, epoch, dkey, akey, which));
  }

  /**
   * Commit writes atomically, this engine coordinating. Op i gets epoch first + i (DAOS's minor
   * epochs, so a later write of a key wins over an earlier one); a replicated object's writes go to
   * every serving member of the group at the same epoch. One target: applied there at once; more:
   * two-phase DTX — prepare everywhere (in parallel), then the coordinator's commit (with its
   * outcome record) is the commit point, then the others commit.
   */
  txCommit(ops: TxOp[], check?: TxCheckIn): Promise<bigint> {
    return this.call(
      'tx_commit',
      async () => {
        for (const op of ops) {
          this.authorize(op.to, 'w');
          if (op.kind === 'punch_obj' && op.shards !== undefined)
            throw new DaosError('DER_INVAL', 'a collective punch cannot be part of a transaction');
        }
        for (const r of check?.readSet ?? []) this.authorize(r.to, 'r');
        return this.txCommitOnce(ops, check);
      },
      () => {
        for (const op of ops) if (op.kind === 'update') this.stats.bytesWritten += iodBytes(op.iods);
      },
    );
  }

  private async txCommitOnce(ops: TxOp[], check?: TxCheckIn): Promise<bigint> {
    if (ops.length === 0) throw new DaosError('DER_INVAL', 'transaction commit with no writes');
    const ec = ops.map((op) => this.erasureCoded(op.to));
    if (!ec.some(Boolean)) return this.txCommitPlaced(ops, ec, check);
    // EC stripes are read, merged and re-encoded here: no other commit through this engine may
    // change them in between (the client sends a group's writes to its leader).
    const names = ops.flatMap((op, i) => (ec[i] ? ecLockNames(op) : []));
    const release = await this.ecLocks.acquire(names);
    try {
      return await this.txCommitPlaced(ops, ec, check);
    } finally {
      release();
    }
  }

  private async txCommitPlaced(ops: TxOp[], ec: boolean[], check?: TxCheckIn): Promise<bigint> {
    // Where each op goes: every serving replica; an EC op's pieces and parity per member.
    const cache = new StripeCache();
    const placed: Array<Array<{ ref: TargetRef; op: TxOp }>> = [];
    for (const [i, op] of ops.entries()) {
      placed.push(
        ec[i]
          ? await this.ecPlace(op, cache)
          : this.writeTargets(op.to, opDkey(op)).map(({ ref, extra }) => ({
              ref,
              op: extra
                ? withoutConditions({ ...op, to: { ...op.to, target: ref, mapVersion: undefined } })
                : sameTarget(ref, op.to.target)
                  ? op
                  : { ...op, to: { ...op.to, target: ref } },
            })),
      );
    }
    if (check) hlc.update(check.readEpoch);
    const first = hlc.now();
    const epoch = first + BigInt(ops.length - 1);
    hlc.update(epoch);
    const parts = new Map<string, Part>();
    const part = (ref: TargetRef) => {
      const key = `${ref.rank}:${ref.target}`;
      let p = parts.get(key);
      if (!p) {
        p = { ref, ops: [], epochs: [] };
        if (check) p.check = { readEpoch: check.readEpoch, readSet: [] };
        parts.set(key, p);
      }
      return p;
    };
    placed.forEach((list, i) => {
      for (const { ref, op } of list) {
        const p = part(ref);
        p.ops.push(op);
        p.epochs.push(first + BigInt(i));
      }
    });
    for (const r of check?.readSet ?? []) {
      const ref = this.checkTarget(r.to, r.dkey);
      part(ref).check!.readSet.push({ ...r, to: { ...r.to, target: ref } });
    }
    const all = [...parts.values()];
    // Every participant's route first: an unknown rank fails the commit before anything starts.
    const peerOf = new Map<Part, EnginePeer>(all.map((p) => [p, this.peer(p.ref.rank)]));
    const peer = (p: Part) => peerOf.get(p)!;
    const writers = all.filter((p) => p.ops.length > 0);
    /** Targets the transaction only read from are checked, not prepared. */
    const checkReadOnly = () =>
      Promise.all(
        all.filter((p) => p.ops.length === 0 && p.check).map((p) => peer(p).tgtCheckReads(p.check!)),
      );
    if (writers.length === 1) {
      const w = writers[0]!;
      await checkReadOnly();
      await peer(w).tgtApply(epoch, w.ops, w.epochs, w.check);
      return epoch;
    }
    const dtxId = randomUUID();
    const coordinator = writers[0]!.ref;
    const prepared = await Promise.allSettled(
      writers.map((w) => peer(w).tgtPrepare(dtxId, epoch, w.ops, w.epochs, coordinator, w.check)),
    );
    let failure = prepared.find((r) => r.status === 'rejected')?.reason as unknown;
    if (failure === undefined) await checkReadOnly().catch((err: unknown) => (failure = err));
    if (failure !== undefined) {
      await Promise.all(
        writers.map((w, i) =>
          prepared[i]!.status === 'fulfilled'
            ? peer(w)
                .tgtAbort(w.ref.target, dtxId)
                .catch(() => undefined)
            : undefined,
        ),
      );
      throw failure;
    }
    await peer(writers[0]!).tgtCommit(coordinator.target, dtxId);
    // Committed. A participant that misses its commit now (down, or the RPC failed) resolves the
    // transaction later from the outcome records; they are forgotten only when all committed.
    const rest = writers.slice(1);
    const commits = await Promise.allSettled(rest.map((w) => peer(w).tgtCommit(w.ref.target, dtxId)));
    if (commits.every((r) => r.status === 'fulfilled')) {
      await Promise.all(
        writers.map((w) =>
          peer(w)
            .tgtForget(w.ref.target, dtxId)
            .catch(() => undefined),
        ),
      );
    }
    return epoch;
  }

  // ---- what peers ask of this engine's targets (EnginePeer) ----

  /** The one local target all `ops` address, checked (pool, container, space) before any write. */
  private partStore(ops: TxOp[]): { store: VosTarget; vosOps: (epochs: bigint[]) => VosOp[] } {
    const to = ops[0]!.to;
    const store = this.store(to);
    let bytes = 0;
    for (const op of ops) {
      if (!sameTarget(op.to.target, to.target))
        throw new DaosError('DER_INVAL', 'the ops of one target call address different targets');
      this.store(op.to);
      if (op.kind === 'update') bytes += iodBytes(op.iods);
    }
    this.checkSpace(to, bytes);
    return { store, vosOps: (epochs) => ops.map((op, i) => ({ ...toVosOp(op), epoch: epochs[i] })) };
  }

  private vosCheck(check: TxCheckIn | undefined): TxCheck | undefined {
    if (!check) return undefined;
    hlc.update(check.readEpoch);
    return {
      readEpoch: check.readEpoch,
      readSet: check.readSet.map((r) => {
        this.store(r.to);
        return { cont: r.to.cont, oid: r.to.oid, dkey: r.dkey, akey: r.akey };
      }),
    };
  }

  async tgtApply(epoch: bigint, ops: TxOp[], epochs: bigint[], check?: TxCheckIn): Promise<void> {
    checkPart(ops, epochs, epoch);
    hlc.update(epoch);
    const { store, vosOps } = this.partStore(ops);
    await this.lockRetried(store.apply(epoch, vosOps(epochs), this.vosCheck(check)));
  }

  /**
   * A write that met a key locked by a prepared transaction (DER_TX_RESTART): if that transaction's
   * coordinator is DOWN, resolving it frees the key, so a resolution pass starts (in the
   * background) before the error goes back; the client sends a plain write again.
   */
  private async lockRetried(write: Promise<void>): Promise<void> {
    try {
      await write;
    } catch (err) {
      if (err instanceof DaosError && err.code === 'DER_TX_RESTART' && this.ranksDown().size > 0)
        void this.resolvePendingDtx({ coordinatorDown: true }).catch(this.onBackgroundError);
      throw err;
    }
  }

  async tgtPrepare(
    dtxId: string,
    epoch: bigint,
    ops: TxOp[],
    epochs: bigint[],
    coordinator: TargetRef,
    check?: TxCheckIn,
  ): Promise<void> {
    checkPart(ops, epochs, epoch);
    hlc.update(epoch);
    const refuse = () =>
      new DaosError('DER_STALE', `transaction ${dtxId}: its coordinator, rank ${coordinator.rank}, is DOWN`);
    // A prepare from a coordinator already DOWN (sent before it died, read after): refused.
    if (this.ranksDown().has(coordinator.rank)) throw refuse();
    const { store, vosOps } = this.partStore(ops);
    await this.lockRetried(store.prepareDtx(dtxId, epoch, vosOps(epochs), coordinator, this.vosCheck(check)));
    // The coordinator went DOWN while this prepare ran: the resolution pass of that map change may
    // have missed it, so resolve again (with the survivors) before answering.
    if (this.ranksDown().has(coordinator.rank)) {
      await this.resolvePendingDtx({ coordinatorDown: true });
      throw refuse();
    }
  }

  private localTarget(target: number): VosTarget {
    const t = this.targets[target];
    if (!t) throw new DaosError('DER_BAD_TARGET', `rank ${this.rank} has no target ${target}`);
    return t;
  }

  async tgtCommit(target: number, dtxId: string): Promise<void> {
    await this.localTarget(target).commitDtx(dtxId, true);
  }

  async tgtAbort(target: number, dtxId: string): Promise<void> {
    await this.localTarget(target).abortDtx(dtxId);
  }

  async tgtForget(target: number, dtxId: string): Promise<void> {
    await this.localTarget(target).forgetDtx(dtxId);
  }

  async tgtCheckReads(check: TxCheckIn): Promise<void> {
    const byTarget = new Map<number, TxCheckIn['readSet']>();
    for (const r of check.readSet) {
      if (r.to.target.rank !== this.rank)
        throw new DaosError(
          'DER_BAD_TARGET',
          `read check for rank ${r.to.target.rank} reached rank ${this.rank}`,
        );
      const list = byTarget.get(r.to.target.target) ?? [];
      list.push(r);
      byTarget.set(r.to.target.target, list);
    }
    for (const [, readSet] of byTarget) {
      const store = this.store(readSet[0]!.to);
      store.checkReads(this.vosCheck({ readEpoch: check.readEpoch, readSet })!);
    }
  }

  async dtxCommitted(dtxId: string, target?: number): Promise<boolean> {
    if (target !== undefined) return this.localTarget(target).dtxCommitted(dtxId);
    return this.targets.some((t) => t.dtxCommitted(dtxId));
  }
}

function checkPart(ops: TxOp[], epochs: bigint[], epoch: bigint): void {
  if (ops.length === 0 || epochs.length !== ops.length)
    throw new DaosError(
      'DER_INVAL',
      `a target call needs ops and one epoch per op (${ops.length} ops, ${epochs.length} epochs)`,
    );
  for (const e of epochs)
    if (e > epoch) throw new DaosError('DER_INVAL', `an op's epoch ${e} is above the call's epoch ${epoch}`);
}

/** The dkey an op writes under (the first of a dkey punch); undefined for an object punch. */
function opDkey(op: TxOp): Uint8Array | undefined {
  if (op.kind === 'update' || op.kind === 'punch_akeys') return op.dkey;
  if (op.kind === 'punch_dkeys') return op.dkeys[0];
  return undefined;
}

/**
 * An op as a shard's new home gets it during a move: without its conditions (they were checked
 * on the members that hold the data; the new home may not have it yet).
 */
function withoutConditions(op: TxOp): TxOp {
  if (op.kind === 'update') return op.cond === undefined ? op : { ...op, cond: undefined };
  if (op.kind === 'punch_dkeys' || op.kind === 'punch_akeys')
    return op.mustExist === undefined ? op : { ...op, mustExist: undefined };
  return op;
}

function sameTarget(a: TargetRef, b: TargetRef): boolean {
  return a.rank === b.rank && a.target === b.target;
}

function oidText(oid: { hi: bigint; lo: bigint }): string {
  return `${oid.hi.toString(16)}.${oid.lo.toString(16)}`;
}

function iodBytes(iods: UpdateIod[]): number {
  let n = 0;
  for (const iod of iods) {
    if (iod.kind === 'single') n += iod.value.byteLength;
    else for (const e of iod.extents) n += e.data?.byteLength ?? 0;
  }
  return n;
}

/** Bytes a fetch returns: single values, and array extents as returned (holes included). */
function fetchBytes(results: FetchResult[]): number {
  let n = 0;
  for (const r of results) {
    if (r === undefined) continue;
    n += r instanceof Uint8Array ? r.byteLength : r.data.byteLength;
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
