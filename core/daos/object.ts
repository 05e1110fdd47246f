import { bigMax, bigMin } from '../common/bigint.js';
import { DaosError } from '../common/errors.js';
import { EPOCH_MAX } from '../common/hlc.js';
import {
  EXTENTS_PER_IOD_MAX,
  IO_BYTES_MAX,
  IODS_PER_IO_MAX,
  LIST_PAGE_KEYS,
  RECORD_BYTES_MAX,
  RECORD_INDEX_LIMIT,
  SINGLE_VALUE_BYTES_MAX,
} from '../common/limits.js';
import { akeyKind, dkeyKind, type KeyKind, type Oid, oidType } from '../common/oid.js';
import { chunkCsums } from '../csum/index.js';
import { cellExtent, cellRecordsFor, splitExtent, untagParity } from '../ec/stripe.js';
import {
  type CellRead,
  ecCellBytes,
  ecShape,
  mergeRecx,
  readStripeCells,
  shardUnavailable,
} from '../ec/stripe-io.js';
import { dkeyGroup, type ObjectLayout, objectLayout } from '../placement/layout.js';
import { type PoolMap, type TargetRef, targetUp } from '../placement/pool-map.js';
import type {
  ArrayFetchResult,
  FetchCond,
  FetchIod,
  FetchResult,
  Recx,
  UpdateCond,
  UpdateIod,
} from '../wire/obj-types.js';
import type { Container } from './container.js';
import { decodeKey, encodeKey, type Key, type ListedKey, valueBytes } from './keys.js';
import type { ObjTarget, TxOp } from './link.js';
import type { Tx } from './tx.js';

/** Read failures worth another try: a stale map or an unreachable target (map refresh), a corrupt copy. */
const RETRIED_READ_CODES: ReadonlySet<string> = new Set(['DER_UNREACH', 'DER_STALE', 'DER_CSUM']);
/** Write failures worth another try: those two (map refresh), and a key a prepared dtx holds. */
const RETRIED_WRITE_CODES: ReadonlySet<string> = new Set(['DER_UNREACH', 'DER_STALE', 'DER_TX_RESTART']);
const DONE: Promise<void> = Promise.resolve();
const firstOut = (out: FetchOut[]) => out[0];
const nothing = (): void => {};

/**
 * Times a plain write (no transaction) is sent again when it met a key locked by a prepared
 * distributed transaction (DER_TX_RESTART: nothing was applied), e.g. one whose member just
 * failed and is being resolved; the wait doubles from WRITE_RESTART_DELAY_MS each time.
 */
export const WRITE_RESTARTS_MAX = 6;
export const WRITE_RESTART_DELAY_MS = 20;

/** Record indexes and counts as users give them. */
export type Index = number | bigint;

export type UpdateIodIn =
  | { akey: Key; kind: 'single'; value: Uint8Array | string }
  | {
      akey: Key;
      kind: 'array';
      recordSize: number;
      extents: Array<{ idx: Index; nr: Index; data?: Uint8Array }>;
    };

export type FetchIodIn =
  | { akey: Key; kind: 'single' }
  | {
      akey: Key;
      kind: 'array';
      recordSize: number;
      extents: Array<{ idx: Index; nr: Index }>;
      /** Read into this buffer (it must hold the requested bytes); `data` is then a view of it. */
      out?: Uint8Array;
    };

/** A fetch result per iod: a single value (undefined when absent) or an array's data and map. */
export type FetchOut = Uint8Array | undefined | ArrayFetchResult;

export interface UpdateOptions {
  cond?: UpdateCond;
  tx?: Tx;
}
export interface FetchOptions {
  cond?: FetchCond;
  /** Read at this epoch (a snapshot's); default: the handle's epoch, or the newest. */
  epoch?: bigint;
  tx?: Tx;
}
export interface PunchOptions {
  /** DAOS's punch-must-exist: fail with DER_NONEXIST if a key is not there. */
  mustExist?: boolean;
  tx?: Tx;
}

/**
 * A DAOS object: dkeys holding akeys holding single values or arrays of records. An object
 * exists from its first write. Its id's type decides key order; its class decides placement.
 */
export class DaosObject {
  readonly oid: Oid;
  readonly container: Container;
  private readonly tx: Tx | undefined;
  private readonly dkeyKind: KeyKind;
  private readonly akeyKind: KeyKind;
  private layoutCache: ObjectLayout | undefined;
  private layoutMap: PoolMap | undefined;
  /**
   * Per pool map, reset with the layout (every I/O places itself, so placement allocates nothing
   * it has made before): each group's serving members, and the request target of each shard.
   */
  private servingCache: Array<TargetRef[] | undefined> = [];
  private targetCache: Map<TargetRef, ObjTarget> | undefined;
  private readTurn = 0;
  /** k data + p parity shards per group for an erasure-coded object. */
  private readonly ec: { k: number; p: number } | undefined;

  constructor(container: Container, oid: Oid, tx?: Tx) {
    this.container = container;
    this.oid = oid;
    this.tx = tx;
    const type = oidType(oid);
    this.dkeyKind = dkeyKind(type);
    this.akeyKind = akeyKind(type);
    this.ec = ecShape(oid);
  }

  private get layout(): ObjectLayout {
    const map = this.container.pool.map;
    if (this.layoutMap !== map) {
      this.layoutCache = objectLayout(this.oid, map);
      this.layoutMap = map;
      this.servingCache = [];
      this.targetCache = undefined;
    }
    return this.layoutCache!;
  }

  /** The members of redundancy group `g`. */
  private members(g: number): TargetRef[] {
    const layout = this.layout;
    return layout.shards.slice(g * layout.groupSize, (g + 1) * layout.groupSize);
  }

  private groupOfDkey(dkey: Uint8Array): number {
    return dkeyGroup(dkey, this.layout);
  }

  /** Serving members of group `g`; DER_UNREACH naming the DOWN targets when none serves. */
  private serving(g: number): TargetRef[] {
    const members = this.members(g); // (refreshes the caches on a new map)
    const cached = this.servingCache[g];
    if (cached !== undefined) return cached;
    const map = this.container.pool.map;
    const up = members.filter((t) => targetUp(map, t));
    if (up.length === 0) {
      const where = members.map((t) => `${t.rank}:${t.target}`).join(', ');
      throw new DaosError(
        'DER_UNREACH',
        `object ${this.oid.hi.toString(16)}.${this.oid.lo.toString(16)}: every shard of group ${g} is on a DOWN target (${where}; pool map version ${map.version})`,
      );
    }
    this.servingCache[g] = up;
    return up;
  }

  /** Where a group's writes go: its first serving member (the leader forwards to the others). */
  private leaderOf(g: number): ObjTarget {
    return this.at(this.serving(g)[0]!);
  }

  /** Where a group's reads go: any serving member (in turn). */
  private readerOf(g: number): ObjTarget {
    const up = this.serving(g);
    return this.at(up[this.readTurn++ % up.length]!);
  }

  /**
   * Where a group's listings and key queries go: one serving member for a replicated object. For
   * EC, a serving parity shard (it holds every key of the group: see engine/obj/ec-write.ts), or
   * every data shard when no parity shard serves (their union is every key).
   */
  private listersOf(g: number): ObjTarget[] {
    if (!this.ec) return [this.readerOf(g)];
    const map = this.container.pool.map;
    const members = this.members(g);
    const parity = members.slice(this.ec.k).filter((t) => targetUp(map, t));
    if (parity.length > 0) return [this.at(parity[this.readTurn++ % parity.length]!)];
    this.serving(g);
    return members
      .slice(0, this.ec.k)
      .filter((t) => targetUp(map, t))
      .map((t) => this.at(t));
  }

  /**
   * Run `fn`; when a target was unreachable or the map stale, refresh the map and, if it changed,
   * run it again. An engine that answered that one of its peers is unreachable (a member that
   * just failed, which that engine's map does not show yet) is asked again after a pause, up to
   * WRITE_RESTARTS_MAX times, even when the map did not change.
   */
  private async retried<T>(fn: () => Promise<T>): Promise<T> {
    for (let i = 0; ; i++) {
      try {
        return await fn();
      } catch (err) {
        if (!(err instanceof DaosError) || (err.code !== 'DER_UNREACH' && err.code !== 'DER_STALE'))
          throw err;
        if (i >= 2 * WRITE_RESTARTS_MAX) throw err;
        if (await this.container.pool.refreshMap()) continue;
        if (!err.remote || i >= WRITE_RESTARTS_MAX) throw err;
        await new Promise((r) => setTimeout(r, WRITE_RESTART_DELAY_MS * 2 ** i));
      }
    }
  }

  /** Where a dkey's writes go. */
  private targetFor(dkey: Uint8Array): ObjTarget {
    return this.leaderOf(this.groupOfDkey(dkey));
  }

  private at(target: ObjTarget['target']): ObjTarget {
    void this.layout; // (refreshes the caches on a new map)
    let to = this.targetCache?.get(target);
    if (to === undefined) {
      const pool = this.container.pool;
      const token = this.container.token;
      to =
        token === undefined
          ? {
              pool: pool.uuid,
              cont: this.container.uuid,
              oid: this.oid,
              target,
              mapVersion: pool.map.version,
            }
          : {
              pool: pool.uuid,
              cont: this.container.uuid,
              oid: this.oid,
              target,
              mapVersion: pool.map.version,
              token,
            };
      (this.targetCache ??= new Map()).set(target, to);
    }
    return to;
  }

  /** Group leaders, one per redundancy group: where listings and object punches go. */
  private groupTargets(): ObjTarget[] {
    const out: ObjTarget[] = [];
    for (let g = 0; g < this.layout.groups; g++) out.push(this.leaderOf(g));
    return out;
  }

  private engineFor(to: ObjTarget) {
    return this.container.pool.link.engine(to.target.rank);
  }

  /**
   * Run an I/O on the target `pick` chooses; when it fails because the target is unreachable or
   * the map was stale, refresh the pool map and, if it changed, pick again and retry once.
   */
  private io<T>(pick: () => ObjTarget, call: (to: ObjTarget) => Promise<T>): Promise<T> {
    return this.retried(() => call(pick()));
  }

  private writeTx(options: { tx?: Tx } | undefined): Tx | undefined {
    this.container.checkWritable();
    return options?.tx ?? this.tx;
  }

  private readEpoch(options: FetchOptions | undefined): bigint {
    this.container.checkOpen();
    const tx = options?.tx ?? this.tx;
    return options?.epoch ?? tx?.epoch ?? this.container.epoch ?? EPOCH_MAX;
  }

  /** Write akeys under one dkey, atomically. */
  update(dkey: Key, iods: UpdateIodIn[], options?: UpdateOptions): Promise<void> {
    try {
      const tx = this.writeTx(options);
      const dk = encodeKey(dkey, this.dkeyKind, 'dkey');
      const checked = this.checkUpdateIods(iods);
      const cond = options?.cond;
      if (tx) {
        tx.add({ kind: 'update', to: this.targetFor(dk), dkey: dk, iods: checked, cond });
        return DONE;
      }
      // The leader asked here rather than through a function made per write (see
      // engine/bio/data-file.ts, groupToSettle); that function only for a retry.
      const g = this.groupOfDkey(dk);
      const leader = this.leaderOf(g);
      let answer: Promise<unknown>;
      try {
        answer = this.engineFor(leader).update(leader, dk, checked, cond);
      } catch (err) {
        answer = Promise.reject(err);
      }
      return this.written(g, answer, (to) => this.engineFor(to).update(to, dk, checked, cond));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * A write to group `g`'s leader, `answer` its first attempt, retried as
   * `restarted(() => this.io(...))` would (a stale map, an unreachable target, DER_TX_RESTART);
   * the common case, answered at once, costs one promise reaction and no async frame.
   */
  private written(
    g: number,
    answer: Promise<unknown>,
    call: (to: ObjTarget) => Promise<unknown>,
  ): Promise<void> {
    return answer.then(nothing, (err: unknown) => {
      if (!(err instanceof DaosError) || !RETRIED_WRITE_CODES.has(err.code)) throw err;
      // The loops below, their first attempt being the one that failed.
      let first: Promise<unknown> | undefined = Promise.reject(err);
      const attempt = () => {
        const f = first;
        first = undefined;
        return f ?? call(this.leaderOf(g));
      };
      return restarted(() => this.retried(attempt)).then(nothing);
    });
  }

  /**
   * Read akeys under one dkey: one result per iod, in order. (Not an async function: a KV get
   * is this and one engine call, and an async frame per call, alive while the read waits, was
   * what the garbage collector copied most with many gets in flight.)
   */
  fetch(dkey: Key, iods: FetchIodIn[], options?: FetchOptions): Promise<FetchOut[]> {
    return this.fetchWith(dkey, iods, options, true);
  }

  /** @internal fetch of one iod, resolving to its result (no extra promise for picking it): an array chunk's read. */
  fetchOne(dkey: Key, iod: FetchIodIn, options?: FetchOptions): Promise<FetchOut> {
    return this.fetchWith(dkey, [iod], options, true, firstOut);
  }

  /**
   * @internal fetch with iods already checked by `checkedFetchIods` (a KV's one akey): the same
   * array may serve every call, as nothing downstream changes it.
   */
  fetchChecked(dkey: Key, checked: readonly FetchIod[], options?: FetchOptions): Promise<FetchOut[]> {
    return this.fetchWith(dkey, checked, options, false);
  }

  /** @internal fetchChecked of one iod, resolving to its value (no extra promise for picking it). */
  fetchOneChecked(dkey: Key, checked: readonly FetchIod[], options?: FetchOptions): Promise<FetchOut> {
    return this.fetchWith(dkey, checked, options, false, firstOut);
  }

  /** @internal What fetch makes of `iods` (DER_INVAL and the like for bad ones), for fetchChecked. */
  checkedFetchIods(iods: FetchIodIn[]): readonly FetchIod[] {
    return this.checkFetchIods(iods);
  }

  private fetchWith(
    dkey: Key,
    iods: FetchIodIn[] | readonly FetchIod[],
    options: FetchOptions | undefined,
    check: boolean,
  ): Promise<FetchOut[]>;
  private fetchWith<R>(
    dkey: Key,
    iods: FetchIodIn[] | readonly FetchIod[],
    options: FetchOptions | undefined,
    check: boolean,
    pick: (out: FetchOut[]) => R,
  ): Promise<R>;
  private fetchWith(
    dkey: Key,
    iods: FetchIodIn[] | readonly FetchIod[],
    options: FetchOptions | undefined,
    check: boolean,
    pick?: (out: FetchOut[]) => unknown,
  ): Promise<unknown> {
    try {
      const epoch = this.readEpoch(options);
      const dk = encodeKey(dkey, this.dkeyKind, 'dkey');
      const checked = check ? this.checkFetchIods(iods as FetchIodIn[]) : (iods as FetchIod[]);
      const g = this.groupOfDkey(dk);
      const tx = options?.tx ?? this.tx;
      if (tx) for (const iod of checked) tx.noteRead(this.leaderOf(g), dk, iod.akey);
      if (this.ec) {
        const out = this.retried(() => this.ecFetch(g, epoch, dk, checked, options?.cond));
        return pick === undefined ? out : out.then(pick);
      }
      // The first reader asked here rather than through a function made per read (see
      // engine/bio/data-file.ts, groupToSettle); that function only for a retry.
      const cond = options?.cond;
      const first = this.readerOf(g);
      let answer: Promise<FetchOut[]>;
      try {
        answer = this.engineFor(first).fetch(first, epoch, dk, checked, cond);
      } catch (err) {
        answer = Promise.reject(err);
      }
      return this.answered(
        g,
        first,
        answer,
        (to) => this.engineFor(to).fetch(to, epoch, dk, checked, cond),
        pick,
      );
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * A read of group `g` (through `io`): on DER_CSUM (the replica's copy is corrupt; the engine
   * counted and logged it) the same read goes to another serving member; DER_CSUM only when
   * every serving member failed it. The common case, one serving member answering, costs one
   * promise reaction, which also applies `pick` to the answer when given.
   */
  private readIo<T>(g: number, call: (to: ObjTarget) => Promise<T>): Promise<T>;
  private readIo<T, R>(
    g: number,
    call: (to: ObjTarget) => Promise<T>,
    pick: ((v: T) => R) | undefined,
  ): Promise<R>;
  private readIo<T>(
    g: number,
    call: (to: ObjTarget) => Promise<T>,
    pick?: (v: T) => unknown,
  ): Promise<unknown> {
    const first = this.readerOf(g);
    let answer: Promise<T>;
    try {
      answer = call(first);
    } catch (err) {
      answer = Promise.reject(err);
    }
    return this.answered(g, first, answer, call, pick);
  }

  /** readIo once `first` was asked (`answer`): `call` asks another target on a retry. */
  private answered<T>(
    g: number,
    first: ObjTarget,
    answer: Promise<T>,
    call: (to: ObjTarget) => Promise<T>,
    pick: ((v: T) => unknown) | undefined,
  ): Promise<unknown> {
    return answer.then(pick, (err: unknown) => {
      if (!(err instanceof DaosError) || !RETRIED_READ_CODES.has(err.code)) throw err;
      const again = this.readIoRetry(g, call, first.target, err);
      return pick === undefined ? again : again.then(pick);
    });
  }

  /** readIo after `firstTarget` failed with `err`: map refresh, or the other replicas on DER_CSUM. */
  private async readIoRetry<T>(
    g: number,
    call: (to: ObjTarget) => Promise<T>,
    firstTarget: TargetRef,
    err: DaosError,
  ): Promise<T> {
    const tried = new Set<string>();
    const id = (t: TargetRef) => `${t.rank}:${t.target}`;
    const pick = () => {
      if (tried.size === 0) return this.readerOf(g);
      const up = this.serving(g);
      return this.at(up.find((t) => !tried.has(id(t))) ?? up[0]!);
    };
    tried.add(id(firstTarget));
    if (err.code !== 'DER_CSUM') {
      // Unreachable or stale: a newer map may place the read elsewhere.
      if (!(await this.container.pool.refreshMap())) throw err;
      tried.clear();
    } else if (this.serving(g).every((t) => tried.has(id(t)))) {
      throw err;
    }
    for (;;) {
      try {
        return await this.io(pick, (to) => {
          tried.add(id(to.target));
          return call(to);
        });
      } catch (e) {
        if (!(e instanceof DaosError) || e.code !== 'DER_CSUM') throw e;
        if (this.serving(g).every((t) => tried.has(id(t)))) throw e;
      }
    }
  }

  /**
   * Punch the whole object: every dkey, at once. With `independent`, each redundancy group is
   * punched on its own, in parallel, instead of in one distributed transaction: for an object no
   * name reaches any more (libdfs's unlink), where all-or-nothing buys nothing and a failure
   * leaves only unreachable data behind.
   */
  async punch(options?: { tx?: Tx; independent?: boolean }): Promise<void> {
    const tx = this.writeTx(options);
    if (options?.independent && !tx && this.layout.groups > 1 && this.layout.groupSize === 1) {
      await restarted(() => this.retried(() => this.punchPerRank()));
      return;
    }
    // One punch per group, to its leader (which punches the other members).
    const ops: TxOp[] = this.groupTargets().map((to) => ({ kind: 'punch_obj', to }));
    if (options?.independent && !tx && ops.length > 1) {
      await Promise.all(ops.map((op) => this.submitPunches([op], undefined)));
      return;
    }
    await this.submitPunches(ops, tx);
  }

  /**
   * An independent punch of an object without redundancy: one collective punch per rank, naming
   * every target of that rank that holds a shard (one call instead of one per shard).
   */
  private async punchPerRank(): Promise<void> {
    await Promise.all(
      this.shardsByRank().map(([first, ...rest]) => {
        const to = this.at(first!);
        return this.engineFor(to).punch({ kind: 'punch_obj', to, shards: rest });
      }),
    );
  }

  /**
   * The shards of an object of single-member groups (no redundancy) by rank, for a collective
   * call per rank (a DFS stat or unlink makes a new object per file and asks this once: from the
   * layout itself, without the per-group caches). DER_UNREACH, naming it, for a shard on a target
   * that does not serve (its group has no other member).
   */
  private shardsByRank(): TargetRef[][] {
    const map = this.container.pool.map;
    const shards = this.layout.shards;
    if (!shards.every((t) => targetUp(map, t))) this.groupTargets(); // throws: some group has no serving member
    const byRank = new Map<number, TargetRef[]>();
    for (const t of shards) {
      const list = byRank.get(t.rank);
      if (list === undefined) byRank.set(t.rank, [t]);
      else list.push(t);
    }
    return [...byRank.values()];
  }

  /** Punch dkeys (and everything under them). */
  async punchDkeys(dkeys: Key[], options?: PunchOptions): Promise<void> {
    const tx = this.writeTx(options);
    if (!Array.isArray(dkeys) || dkeys.length === 0)
      throw new DaosError('DER_INVAL', 'punchDkeys needs at least one dkey');
    const byTarget = new Map<string, { to: ObjTarget; dkeys: Uint8Array[] }>();
    for (const key of dkeys) {
      const dk = encodeKey(key, this.dkeyKind, 'dkey');
      // One op per redundancy group (a target may lead several groups' shards).
      const id = String(this.groupOfDkey(dk));
      const entry = byTarget.get(id) ?? { to: this.targetFor(dk), dkeys: [] };
      entry.dkeys.push(dk);
      byTarget.set(id, entry);
    }
    const ops: TxOp[] = [...byTarget.values()].map((e) => ({
      kind: 'punch_dkeys',
      to: e.to,
      dkeys: e.dkeys,
      mustExist: options?.mustExist,
    }));
    await this.submitPunches(ops, tx);
  }

  /** Punch akeys under one dkey. */
  async punchAkeys(dkey: Key, akeys: Key[], options?: PunchOptions): Promise<void> {
    const tx = this.writeTx(options);
    if (!Array.isArray(akeys) || akeys.length === 0)
      throw new DaosError('DER_INVAL', 'punchAkeys needs at least one akey');
    const dk = encodeKey(dkey, this.dkeyKind, 'dkey');
    const aks = akeys.map((a) => encodeKey(a, this.akeyKind, 'akey'));
    await this.submitPunches(
      [{ kind: 'punch_akeys', to: this.targetFor(dk), dkey: dk, akeys: aks, mustExist: options?.mustExist }],
      tx,
    );
  }

  private async submitPunches(ops: TxOp[], tx: Tx | undefined): Promise<void> {
    if (tx) {
      for (const op of ops) tx.add(op);
      return;
    }
    if (ops.length === 1) {
      const op = ops[0] as Exclude<TxOp, { kind: 'update' }>;
      const layout = this.layout;
      const shard = layout.shards.findIndex(
        (t) => t.rank === op.to.target.rank && t.target === op.to.target.target,
      );
      const g =
        op.kind === 'punch_dkeys'
          ? this.groupOfDkey(op.dkeys[0]!)
          : op.kind === 'punch_akeys'
            ? this.groupOfDkey(op.dkey)
            : Math.floor(shard / layout.groupSize);
      await restarted(() =>
        this.io(
          () => this.leaderOf(g),
          (to) => this.engineFor(to).punch({ ...op, to }),
        ),
      );
      return;
    }
    // Several targets: one transaction so that the punch is all-or-nothing.
    await restarted(() => this.engineFor(ops[0]!.to).txCommit(ops));
  }

  /** Visible dkeys, in key order for lexical and uint64 objects; `after` starts past that key (a cursor). */
  async *listDkeys(options?: { epoch?: bigint; after?: Key }): AsyncGenerator<ListedKey> {
    const epoch = this.readEpoch(options);
    const start = options?.after === undefined ? undefined : encodeKey(options.after, this.dkeyKind, 'dkey');
    const sources: Source[] = [];
    const groups = this.layout.groups;
    for (let g = 0; g < groups; g++) {
      const listers = this.listersOf(g);
      for (const first of listers) {
        sources.push({
          fetchPage: (after) =>
            this.io(
              () => (listers.length === 1 ? this.listersOf(g)[0]! : first),
              (to) => this.engineFor(to).listDkeys(to, epoch, after, LIST_PAGE_KEYS),
            ),
          // A target may hold shards of several groups (a spare after a rebuild): only this group's keys.
          keep: groups === 1 ? undefined : (k) => this.groupOfDkey(k) === g,
        });
      }
    }
    const dedupe = sources.length > groups;
    for await (const k of mergeSorted(sources, dedupe, start)) yield decodeKey(k, this.dkeyKind);
  }

  /** Visible akeys under a dkey. */
  async *listAkeys(dkey: Key, options?: { epoch?: bigint }): AsyncGenerator<ListedKey> {
    const epoch = this.readEpoch(options);
    const dk = encodeKey(dkey, this.dkeyKind, 'dkey');
    const g = this.groupOfDkey(dk);
    const listers = this.listersOf(g);
    const sources: Source[] = listers.map((first) => ({
      fetchPage: (after: Uint8Array | undefined) =>
        this.io(
          () => (listers.length === 1 ? this.listersOf(g)[0]! : first),
          (to) => this.engineFor(to).listAkeys(to, epoch, dk, after, LIST_PAGE_KEYS),
        ),
    }));
    for await (const k of mergeSorted(sources, sources.length > 1)) yield decodeKey(k, this.akeyKind);
  }

  /** Visible data ranges of an array akey, each with the epoch that wrote it. */
  async listRecx(
    dkey: Key,
    akey: Key,
    options?: { epoch?: bigint },
  ): Promise<Array<Recx & { epoch: bigint }>> {
    const epoch = this.readEpoch(options);
    const dk = encodeKey(dkey, this.dkeyKind, 'dkey');
    const ak = encodeKey(akey, this.akeyKind, 'akey');
    const g = this.groupOfDkey(dk);
    if (this.ec) return this.retried(() => this.ecListRecx(g, epoch, dk, ak));
    return this.io(
      () => this.readerOf(g),
      (to) => this.engineFor(to).listRecx(to, epoch, dk, ak),
    );
  }

  /** The largest (or smallest) visible dkey, or undefined for an empty object (DAOS's query_key). */
  async queryDkey(which: 'max' | 'min', options?: { epoch?: bigint }): Promise<ListedKey | undefined> {
    const epoch = this.readEpoch(options);
    // The common case (a DFS stat asks this of every file): each lister once, nothing retried.
    // When one was unreachable or placed with a stale map, the whole query runs again the
    // careful way, member by member.
    let keys: Array<Uint8Array | undefined>;
    try {
      const asks: Array<Promise<Uint8Array | undefined>> = [];
      if (this.layout.groupSize === 1 && this.layout.groups > 1) {
        // No redundancy: one collective query per rank, naming each of its shards.
        for (const [first, ...rest] of this.shardsByRank()) {
          const to = this.at(first!);
          asks.push(this.engineFor(to).queryDkey(to, epoch, which, rest));
        }
      } else {
        for (let g = 0; g < this.layout.groups; g++)
          for (const to of this.listersOf(g)) asks.push(this.engineFor(to).queryDkey(to, epoch, which));
      }
      keys = await Promise.all(asks);
    } catch (err) {
      if (!(err instanceof DaosError) || (err.code !== 'DER_UNREACH' && err.code !== 'DER_STALE')) throw err;
      keys = await this.queryDkeyRetried(epoch, which);
    }
    let best: Uint8Array | undefined;
    for (const k of keys) {
      if (k === undefined) continue;
      const c = best === undefined ? 0 : Buffer.compare(k, best);
      if (best === undefined || (which === 'max' ? c > 0 : c < 0)) best = k;
    }
    return best === undefined ? undefined : decodeKey(best, this.dkeyKind);
  }

  /** queryDkey's answers from every lister, each retried on a refreshed map (see `io`). */
  private queryDkeyRetried(epoch: bigint, which: 'max' | 'min'): Promise<Array<Uint8Array | undefined>> {
    const asks: Array<Promise<Uint8Array | undefined>> = [];
    for (let g = 0; g < this.layout.groups; g++) {
      const listers = this.listersOf(g);
      for (const first of listers) {
        asks.push(
          this.io(
            () => (listers.length === 1 ? this.listersOf(g)[0]! : first),
            (to) => this.engineFor(to).queryDkey(to, epoch, which),
          ),
        );
      }
    }
    return Promise.all(asks);
  }

  /** The highest (or lowest) visible data range of an array akey. */
  async queryRecx(
    dkey: Key,
    akey: Key,
    which: 'max' | 'min',
    options?: { epoch?: bigint },
  ): Promise<Recx | undefined> {
    const epoch = this.readEpoch(options);
    const dk = encodeKey(dkey, this.dkeyKind, 'dkey');
    const ak = encodeKey(akey, this.akeyKind, 'akey');
    const g = this.groupOfDkey(dk);
    if (this.ec) {
      // The data shards' ranges, merged (a range may continue from one cell into the next).
      const merged = mergeRecx(await this.retried(() => this.ecListRecx(g, epoch, dk, ak)));
      return which === 'max' ? merged[merged.length - 1] : merged[0];
    }
    return this.io(
      () => this.readerOf(g),
      (to) => this.engineFor(to).queryRecx(to, epoch, dk, ak, which),
    );
  }

  // ---- erasure-coded reads ----

  /**
   * Fetch of an EC object: single values from any serving member; each array extent cut per data
   * shard, one fetch per data shard in parallel, the pieces put back in request order and the
   * shards' maps merged. A data shard DOWN in the map or unreachable: its pieces are rebuilt per
   * stripe from k surviving cells (degraded read; rebuilt records count as data in the map,
   * unless the stripe's parity is a hole). A condition is checked on a parity shard (which holds
   * every key), or on the first serving member when none serves.
   */
  private async ecFetch(
    g: number,
    epoch: bigint,
    dk: Uint8Array,
    iods: FetchIod[],
    cond: FetchCond | undefined,
  ): Promise<FetchResult[]> {
    const { k, p } = this.ec!;
    const map = this.container.pool.map;
    const members = this.members(g);
    const up = members.map((t) => targetUp(map, t));
    const cellBytes = ecCellBytes(map);
    if (cond) {
      const judge = members.slice(k).find((t) => targetUp(map, t)) ?? this.serving(g)[0]!;
      const probe: FetchIod[] = iods.map((iod) =>
        iod.kind === 'single'
          ? iod
          : { akey: iod.akey, kind: 'array', recordSize: iod.recordSize, extents: [{ idx: 0n, nr: 1n }] },
      );
      await this.engineFor(this.at(judge)).fetch(this.at(judge), epoch, dk, probe, cond);
    }
    const results: FetchResult[] = new Array(iods.length).fill(undefined);
    const tasks: Array<Promise<void>> = [];
    const singles = iods.flatMap((iod, i) => (iod.kind === 'single' ? [i] : []));
    if (singles.length > 0) {
      tasks.push(
        this.readIo(g, (to) =>
          this.engineFor(to).fetch(
            to,
            epoch,
            dk,
            singles.map((i) => iods[i]!),
          ),
        ).then((r) => {
          singles.forEach((i, n) => {
            results[i] = r[n];
          });
        }),
      );
    }
    // Array pieces per data shard: where each goes in its iod's output.
    interface Piece {
      iod: number;
      idx: bigint;
      nr: bigint;
      stripe: bigint;
      at: number;
    }
    const perShard: Piece[][] = Array.from({ length: k }, () => []);
    const maps: Recx[][] = iods.map(() => []);
    const outs: Uint8Array[] = [];
    iods.forEach((iod, i) => {
      if (iod.kind !== 'array') return;
      const rs = iod.recordSize;
      const cr = cellRecordsFor(rs, cellBytes);
      let base = 0;
      for (const e of iod.extents) {
        for (const piece of splitExtent(e.idx, e.nr, k, cr)) {
          perShard[piece.shard]!.push({
            iod: i,
            idx: piece.idx,
            nr: piece.nr,
            stripe: piece.stripe,
            at: base + Number(piece.offsetInExtent) * rs,
          });
        }
        base += Number(e.nr) * rs;
      }
      const out = iod.out ? iod.out.subarray(0, base) : new Uint8Array(base);
      if (iod.out) out.fill(0);
      outs[i] = out;
      results[i] = { data: out, map: maps[i]! };
    });
    const unavailable = new Set<number>();
    up.forEach((u, s) => {
      if (!u) unavailable.add(s);
    });
    const cellOf = (iod: FetchIod & { kind: 'array' }) => (shard: number, recx: Recx) =>
      this.ecCell(members[shard]!, epoch, dk, iod, recx);
    const degraded = async (shard: number) => {
      // Per stripe of the shard's pieces: rebuild its cell, copy the pieces out of it.
      const byStripe = new Map<string, Piece[]>();
      for (const piece of perShard[shard]!) {
        const key = `${piece.iod}/${piece.stripe}`;
        const list = byStripe.get(key) ?? [];
        list.push(piece);
        byStripe.set(key, list);
      }
      await Promise.all(
        [...byStripe.values()].map(async (pieces) => {
          const iod = iods[pieces[0]!.iod]! as FetchIod & { kind: 'array' };
          const rs = iod.recordSize;
          const cr = cellRecordsFor(rs, cellBytes);
          const stripe = pieces[0]!.stripe;
          const r = await readStripeCells({
            k,
            p,
            cellRecords: cr,
            stripe,
            want: [shard],
            unavailable,
            fetch: cellOf(iod),
          });
          const cell = r.cells[shard]!;
          const cellStart = cellExtent(stripe, shard, k, cr).idx;
          for (const piece of pieces) {
            const from = Number(piece.idx - cellStart) * rs;
            outs[piece.iod]!.set(cell.subarray(from, from + Number(piece.nr) * rs), piece.at);
            for (const m of r.maps[shard] ?? []) clip(maps[piece.iod]!, m, piece);
          }
        }),
      );
    };
    for (let shard = 0; shard < k; shard++) {
      const pieces = perShard[shard]!;
      if (pieces.length === 0) continue;
      if (!up[shard]) {
        tasks.push(degraded(shard));
        continue;
      }
      const list = [...new Set(pieces.map((x) => x.iod))];
      const shardIods: FetchIod[] = list.map((i) => {
        const iod = iods[i]! as FetchIod & { kind: 'array' };
        const extents = pieces.filter((x) => x.iod === i).map((x) => ({ idx: x.idx, nr: x.nr }));
        return { akey: iod.akey, kind: 'array', recordSize: iod.recordSize, extents };
      });
      const to = this.at(members[shard]!);
      tasks.push(
        this.engineFor(to)
          .fetch(to, epoch, dk, shardIods)
          .then(
            (res) => {
              list.forEach((i, n) => {
                const r = res[n] as ArrayFetchResult;
                const rs = (iods[i] as FetchIod & { kind: 'array' }).recordSize;
                let off = 0;
                for (const piece of pieces) {
                  if (piece.iod !== i) continue;
                  const len = Number(piece.nr) * rs;
                  outs[i]!.set(r.data.subarray(off, off + len), piece.at);
                  off += len;
                }
                maps[i]!.push(...r.map);
              });
            },
            (err: unknown) => {
              if (!shardUnavailable(err)) throw err;
              unavailable.add(shard);
              return degraded(shard);
            },
          ),
      );
    }
    await Promise.all(tasks);
    iods.forEach((iod, i) => {
      if (iod.kind === 'array') results[i] = { data: outs[i]!, map: mergeRecx(maps[i]!) };
    });
    return results;
  }

  /** One extent of an array akey from one shard target. */
  private async ecCell(
    ref: TargetRef,
    epoch: bigint,
    dk: Uint8Array,
    iod: FetchIod & { kind: 'array' },
    recx: Recx,
  ): Promise<CellRead> {
    const to = this.at(ref);
    const [r] = await this.engineFor(to).fetch(to, epoch, dk, [
      { akey: iod.akey, kind: 'array', recordSize: iod.recordSize, extents: [recx] },
    ]);
    return r as ArrayFetchResult;
  }

  /**
   * Data ranges of an EC array akey: every data shard's, in index order, adjacent ranges of one
   * epoch joined (as one target reports them). A data shard out: its cell of every stripe whose
   * parity holds data counts as data, with the parity's epoch.
   */
  private async ecListRecx(
    g: number,
    epoch: bigint,
    dk: Uint8Array,
    ak: Uint8Array,
  ): Promise<Array<Recx & { epoch: bigint }>> {
    const { k } = this.ec!;
    const map = this.container.pool.map;
    const members = this.members(g);
    const down: number[] = [];
    const all = await Promise.all(
      members.slice(0, k).map(async (ref, s) => {
        if (!targetUp(map, ref)) {
          down.push(s);
          return [];
        }
        const to = this.at(ref);
        try {
          return await this.engineFor(to).listRecx(to, epoch, dk, ak);
        } catch (err) {
          if (!shardUnavailable(err)) throw err;
          down.push(s);
          return [];
        }
      }),
    );
    const out = all.flat();
    if (down.length > 0) {
      const parity = members.slice(k).find((t) => targetUp(map, t));
      if (!parity)
        throw new DaosError(
          'DER_DATA_LOSS',
          `EC group ${g}: data shards ${down.join(',')} and every parity shard are out`,
        );
      const to = this.at(parity);
      const parityRecx = await this.engineFor(to).listRecx(to, epoch, dk, ak);
      // The record size is not known here: the cell size in records comes from the parity
      // records themselves (a parity shard holds cellRecords records per stripe).
      const rsize = await this.ecRecordSize(to, epoch, dk, ak);
      const cr = BigInt(cellRecordsFor(rsize, ecCellBytes(map)));
      for (const r of parityRecx) {
        const idx = untagParity(r.idx);
        for (let s = idx / cr; s <= (idx + r.nr - 1n) / cr; s++) {
          for (const shard of down) out.push({ ...cellExtent(s, shard, k, Number(cr)), epoch: r.epoch });
        }
      }
    }
    out.sort((a, b) => (a.idx < b.idx ? -1 : a.idx > b.idx ? 1 : 0));
    const joined: Array<Recx & { epoch: bigint }> = [];
    for (const r of out) {
      const last = joined[joined.length - 1];
      if (last && last.epoch === r.epoch && last.idx + last.nr === r.idx) last.nr += r.nr;
      else joined.push({ ...r });
    }
    return joined;
  }

  /** The record size of an array akey, learnt from the store's answer to a 1-record fetch. */
  private async ecRecordSize(to: ObjTarget, epoch: bigint, dk: Uint8Array, ak: Uint8Array): Promise<number> {
    try {
      await this.engineFor(to).fetch(to, epoch, dk, [
        { akey: ak, kind: 'array', recordSize: 1, extents: [{ idx: 0n, nr: 1n }] },
      ]);
      return 1;
    } catch (err) {
      const m =
        err instanceof DaosError && err.code === 'DER_REC_SIZE'
          ? /record size (\d+)/.exec(err.message)
          : null;
      if (!m) throw err;
      return Number(m[1]);
    }
  }

  private checkUpdateIods(iods: UpdateIodIn[]): UpdateIod[] {
    checkIodCount(iods);
    // A checksummed container: every value and extent carries its chunk checksums.
    const csum = this.container.props.checksum === 'crc32c';
    let bytes = 0;
    const seen = iods.length > 1 ? new Set<string>() : undefined;
    // Loops, not callbacks made per call (see engine/bio/data-file.ts, groupToSettle).
    const out: UpdateIod[] = [];
    for (const iod of iods) {
      const akey = this.checkAkey(iod.akey, seen);
      if (iod.kind === 'single') {
        const value = valueBytes(iod.value, 'single value');
        if (value.byteLength > SINGLE_VALUE_BYTES_MAX) {
          throw new DaosError(
            'DER_REC2BIG',
            `single value is ${value.byteLength} bytes; the limit is ${SINGLE_VALUE_BYTES_MAX}`,
          );
        }
        bytes += value.byteLength;
        out.push(
          csum && value.byteLength > 0
            ? { akey, kind: 'single', value, csums: chunkCsums(value) }
            : { akey, kind: 'single', value },
        );
        continue;
      }
      if (iod.kind !== 'array')
        throw new DaosError(
          'DER_INVAL',
          `iod kind must be 'single' or 'array', not ${String((iod as { kind: unknown }).kind)}`,
        );
      checkRecordSize(iod.recordSize);
      const checked = checkExtents(iod.extents, true);
      const extents: Array<Recx & { data?: Uint8Array; csums?: Uint32Array }> = [];
      for (let i = 0; i < checked.length; i++) {
        const e = checked[i]!;
        const data = iod.extents[i]!.data;
        if (data === undefined) {
          extents.push(e);
          continue;
        }
        if (!(data instanceof Uint8Array))
          throw new DaosError('DER_INVAL', 'extent data must be a Uint8Array');
        const expect = e.nr * BigInt(iod.recordSize);
        if (BigInt(data.byteLength) !== expect) {
          throw new DaosError(
            'DER_INVAL',
            `extent {idx ${e.idx}, nr ${e.nr}} of record size ${iod.recordSize} needs ${expect} bytes, got ${data.byteLength}`,
          );
        }
        bytes += data.byteLength;
        extents.push(csum ? { ...e, data, csums: chunkCsums(data) } : { ...e, data });
      }
      out.push({ akey, kind: 'array', recordSize: iod.recordSize, extents });
    }
    if (bytes > IO_BYTES_MAX)
      throw new DaosError('DER_REC2BIG', `update carries ${bytes} bytes; the limit is ${IO_BYTES_MAX}`);
    return out;
  }

  private checkFetchIods(iods: FetchIodIn[]): FetchIod[] {
    checkIodCount(iods);
    let bytes = 0n;
    const seen = iods.length > 1 ? new Set<string>() : undefined;
    // Loops, not callbacks made per call (see engine/bio/data-file.ts, groupToSettle).
    const out: FetchIod[] = [];
    for (const iod of iods) {
      const akey = this.checkAkey(iod.akey, seen);
      if (iod.kind === 'single') {
        out.push({ akey, kind: 'single' });
        continue;
      }
      if (iod.kind !== 'array')
        throw new DaosError(
          'DER_INVAL',
          `iod kind must be 'single' or 'array', not ${String((iod as { kind: unknown }).kind)}`,
        );
      checkRecordSize(iod.recordSize);
      const extents = checkExtents(iod.extents, false);
      let iodBytes = 0n;
      for (const e of extents) iodBytes += e.nr * BigInt(iod.recordSize);
      bytes += iodBytes;
      if (iod.out === undefined) {
        out.push({ akey, kind: 'array', recordSize: iod.recordSize, extents });
        continue;
      }
      if (!(iod.out instanceof Uint8Array) || BigInt(iod.out.byteLength) < iodBytes) {
        throw new DaosError('DER_INVAL', `output buffer must be a Uint8Array of at least ${iodBytes} bytes`);
      }
      out.push({ akey, kind: 'array', recordSize: iod.recordSize, extents, out: iod.out });
    }
    if (bytes > BigInt(IO_BYTES_MAX))
      throw new DaosError('DER_REC2BIG', `fetch asks for ${bytes} bytes; the limit is ${IO_BYTES_MAX}`);
    return out;
  }

  private checkAkey(akey: Key, seen: Set<string> | undefined): Uint8Array {
    const bytes = encodeKey(akey, this.akeyKind, 'akey');
    if (!seen) return bytes;
    const id = Buffer.from(bytes).toString('hex');
    if (seen.has(id))
      throw new DaosError(
        'DER_INVAL',
        `akey "${Buffer.from(bytes).toString()}" appears twice in one request`,
      );
    seen.add(id);
    return bytes;
  }
}

/** Run a plain write; on DER_TX_RESTART (nothing applied) wait and send it again, WRITE_RESTARTS_MAX times. */
async function restarted<T>(fn: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof DaosError) || err.code !== 'DER_TX_RESTART' || i >= WRITE_RESTARTS_MAX) throw err;
      await new Promise((r) => setTimeout(r, WRITE_RESTART_DELAY_MS * 2 ** i));
    }
  }
}

function checkIodCount(iods: unknown[]): void {
  if (!Array.isArray(iods) || iods.length === 0)
    throw new DaosError('DER_INVAL', 'at least one iod (akey) is required');
  if (iods.length > IODS_PER_IO_MAX)
    throw new DaosError('DER_INVAL', `${iods.length} iods in one request; the limit is ${IODS_PER_IO_MAX}`);
}

function checkRecordSize(size: number): void {
  if (!Number.isInteger(size) || size < 1 || size > RECORD_BYTES_MAX) {
    throw new DaosError('DER_INVAL', `record size ${size} must be an integer 1..${RECORD_BYTES_MAX}`);
  }
}

/** Extents: idx ≥ 0, nr ≥ 1, idx + nr ≤ 2^64, and (for updates) no two overlapping. */
function checkExtents(extents: Array<{ idx: Index; nr: Index }>, noOverlap: boolean): Recx[] {
  if (!Array.isArray(extents) || extents.length === 0)
    throw new DaosError('DER_INVAL', 'an array iod needs at least one extent');
  if (extents.length > EXTENTS_PER_IOD_MAX)
    throw new DaosError('DER_INVAL', `${extents.length} extents; the limit is ${EXTENTS_PER_IOD_MAX}`);
  const out: Recx[] = [];
  for (const { idx, nr } of extents) {
    const i = toIndex(idx, 'extent idx');
    const n = toIndex(nr, 'extent nr');
    if (n < 1n) throw new DaosError('DER_INVAL', `extent at ${i} has nr ${n}; it must be at least 1`);
    if (i + n > RECORD_INDEX_LIMIT)
      throw new DaosError('DER_INVAL', `extent {idx ${i}, nr ${n}} passes record index 2^64`);
    out.push({ idx: i, nr: n });
  }
  if (noOverlap && out.length > 1) {
    const sorted = [...out].sort((a, b) => (a.idx < b.idx ? -1 : a.idx > b.idx ? 1 : 0));
    for (let i = 1; i < sorted.length; i++) {
      const prev = sorted[i - 1]!;
      if (prev.idx + prev.nr > sorted[i]!.idx)
        throw new DaosError(
          'DER_INVAL',
          `extents at ${prev.idx} and ${sorted[i]!.idx} overlap in one update`,
        );
    }
  }
  return out;
}

function toIndex(v: Index, what: string): bigint {
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v) || v < 0)
      throw new DaosError('DER_INVAL', `${what} ${v} is not a non-negative integer`);
    return BigInt(v);
  }
  if (typeof v !== 'bigint' || v < 0n)
    throw new DaosError('DER_INVAL', `${what} ${String(v)} is not a non-negative integer`);
  return v;
}

/** A paged key stream; `keep` filters its keys (paging goes by the unfiltered pages). */
interface Source {
  fetchPage: (after: Uint8Array | undefined) => Promise<Uint8Array[]>;
  keep?: ((key: Uint8Array) => boolean) | undefined;
}

/** Merge sorted, paged key streams (one per group) into one sorted stream. */
async function* mergeSorted(
  sources: Source[],
  dedupe = false,
  after?: Uint8Array,
): AsyncGenerator<Uint8Array> {
  const seen = dedupe ? new Set<string>() : undefined;
  const state = sources.map(({ fetchPage, keep }) => ({
    fetchPage,
    keep,
    page: [] as Uint8Array[],
    pos: 0,
    done: false,
    last: after,
  }));
  const refill = async (s: (typeof state)[number]) => {
    while (s.pos >= s.page.length && !s.done) {
      const raw = await s.fetchPage(s.last);
      // A short page is the last one.
      s.done = raw.length < LIST_PAGE_KEYS;
      if (raw.length > 0) s.last = raw[raw.length - 1];
      s.page = s.keep ? raw.filter(s.keep) : raw;
      s.pos = 0;
    }
  };
  await Promise.all(state.map(refill));
  for (;;) {
    let best: (typeof state)[number] | undefined;
    for (const s of state) {
      if (s.pos >= s.page.length) continue;
      if (!best || Buffer.compare(s.page[s.pos]!, best.page[best.pos]!) < 0) best = s;
    }
    if (!best) return;
    const key = best.page[best.pos++]!;
    const id = seen ? Buffer.from(key).toString('hex') : '';
    if (!seen?.has(id)) {
      seen?.add(id);
      yield key;
    }
    await refill(best);
  }
}

/** Add to `map` the part of data range `m` inside `piece`. */
function clip(map: Recx[], m: Recx, piece: { idx: bigint; nr: bigint }): void {
  const from = bigMax(m.idx, piece.idx);
  const end = bigMin(m.idx + m.nr, piece.idx + piece.nr);
  if (end > from) map.push({ idx: from, nr: end - from });
}
