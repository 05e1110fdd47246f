/**
 * Rebuild (and rebalance): an engine's part of moving a pool's shards from where they are (the
 * pool map's data layout) to where they go (its goal layout), see core/placement/layout.ts.
 *
 * Every engine scans the objects its targets hold. For each redundancy group whose goal layout
 * differs from its data layout, one engine does the work: the one holding the group's first
 * serving member (parity shards first for EC: they hold every key of the group). It lists the
 * group's dkeys and akeys at the rebuild epoch and, for every shard that moves, writes the
 * shard's content to its new home at the epochs the data was written with:
 *
 * - a replica (or a single value of an EC object): copied from the local member;
 * - an EC shard whose old home still serves (drain, reintegration, extension): copied from it;
 * - an EC shard whose old home is DOWN: data cells decoded from k surviving cells of each stripe
 *   (at the parity's epoch), parity cells re-encoded from the data cells (at the newest epoch of
 *   the stripe's data).
 *
 * Writes that arrive during the rebuild go to the new homes too (the engines place them with the
 * goal layout as well), at newer epochs than the rebuild epoch, so what the rebuild copies never
 * hides them. The rebuild reads at an epoch taken after REBUILD_SETTLE_MS, so that writes placed
 * with the older map have landed. Throughput is bounded by REBUILD_BYTES_PER_SEC_MAX per engine.
 */
import { bigCompare, bigMax, bigMin } from '../../core/common/bigint.js';
import { DaosError } from '../../core/common/errors.js';
import { hlc } from '../../core/common/hlc.js';
import type { Oid } from '../../core/common/oid.js';
import type {
  EnginePeer,
  EngineRebuildStatus,
  RebuildReadReply,
  RebuildReadReq,
  TxOp,
} from '../../core/daos/link.js';
import {
  cellExtent,
  cellRecordsFor,
  parityIndex,
  rangesOfShard,
  type ShardRole,
  untagParity,
} from '../../core/ec/stripe.js';
import {
  type CellRead,
  codecFor,
  ecCellBytes,
  ecShape,
  type Ranges,
  rangesOf,
  readStripeCells,
  subtractRange,
} from '../../core/ec/stripe-io.js';
import { dkeyGroup, layoutsDiffer, objectLayout } from '../../core/placement/layout.js';
import { type PoolMap, type TargetRef, targetServes, targetState } from '../../core/placement/pool-map.js';
import type { Recx, UpdateIod } from '../../core/wire/obj-types.js';
import type { VosTarget } from '../vos/types.js';

/** Bytes per second one engine's rebuild writes at most (the rebuild throttle). */
export const REBUILD_BYTES_PER_SEC_MAX = 256 * 1024 * 1024;
/** Largest piece of an array one rebuild read or write carries. */
export const REBUILD_EXTENT_BYTES_MAX = 1024 * 1024;
/** Objects one engine rebuilds at a time. */
export const REBUILD_OBJECTS_PARALLEL = 4;
/** Wait after a map change before the rebuild reads (writes placed with the old map land first). */
export const REBUILD_SETTLE_MS = 250;
/** Keys per page when a rebuild lists its own store. */
const LIST_PAGE = 1024;

/** What the rebuild needs of its engine. */
export interface RebuildHost {
  readonly rank: number;
  readonly targets: readonly VosTarget[];
  /** The containers of a pool on this engine. */
  containers(pool: string): string[];
  poolMap(pool: string): PoolMap | undefined;
  peer(rank: number): EnginePeer;
  /** The throttle (default REBUILD_BYTES_PER_SEC_MAX). */
  bytesPerSec?: number;
}

/** Each container's snapshot epochs (container uuid → epochs), as the management service keeps them. */
export type RebuildSnapshots = Record<string, bigint[]>;

interface Run {
  snapshots: RebuildSnapshots;
  status: EngineRebuildStatus;
  aborted: boolean;
  done: Promise<void>;
}

/** An engine's rebuilds, one per pool at a time; a newer map version replaces a running one. */
export class Rebuilder {
  private readonly runs = new Map<string, Run>();

  constructor(private readonly host: RebuildHost) {}

  /**
   * Start (or restart) the rebuild of `pool` for map `version`; returns at once. The rebuilt shards
   * answer reads at every snapshot epoch of `snapshots` as the old ones did.
   */
  start(pool: string, version: number, snapshots: RebuildSnapshots = {}): void {
    const old = this.runs.get(pool);
    // A late ask for an older map than the run's (the management service retrying) changes nothing.
    if (old && old.status.version > version) return;
    if (old && old.status.version === version && old.status.state !== 'failed') return;
    if (old) old.aborted = true;
    const run: Run = {
      snapshots,
      status: { version, state: 'busy', objects: 0, bytes: 0 },
      aborted: false,
      done: Promise.resolve(),
    };
    this.runs.set(pool, run);
    run.done = (old?.done ?? Promise.resolve())
      .then(() => this.run(pool, run))
      .then(
        () => {
          if (!run.aborted) run.status.state = 'done';
        },
        (err: unknown) => {
          run.status.state = 'failed';
          run.status.error = (err as Error)?.message ?? String(err);
        },
      );
  }

  status(pool: string): EngineRebuildStatus {
    const r = this.runs.get(pool);
    return r ? { ...r.status } : { version: 0, state: 'idle', objects: 0, bytes: 0 };
  }

  /** Stop every rebuild (engine shutdown); resolves once they stopped. */
  async stop(): Promise<void> {
    for (const r of this.runs.values()) r.aborted = true;
    await Promise.all([...this.runs.values()].map((r) => r.done));
  }

  private async run(pool: string, run: Run): Promise<void> {
    await sleep(REBUILD_SETTLE_MS);
    if (run.aborted) return;
    const map = this.host.poolMap(pool);
    if (!map || map.version < run.status.version)
      throw new DaosError(
        'DER_STALE',
        `rebuild of pool ${pool}: this engine has no map version ${run.status.version}`,
      );
    if (!layoutsDiffer(map)) return;
    const epoch = hlc.now();
    const throttle = new Throttle(this.host.bytesPerSec ?? REBUILD_BYTES_PER_SEC_MAX);
    for (const cont of this.host.containers(pool)) {
      // The epochs whose reads the copy reproduces: the container's snapshots before the rebuild
      // epoch, then the rebuild epoch (later writes reach the new homes by themselves).
      const checkpoints = [...new Set(run.snapshots[cont] ?? [])].filter((e) => e < epoch).sort(bigCompare);
      checkpoints.push(epoch);
      const seen = new Set<string>();
      const oids: Oid[] = [];
      for (const t of this.host.targets) {
        for (const oid of t.listObjects(cont)) {
          const id = `${oid.hi}.${oid.lo}`;
          if (seen.has(id)) continue;
          seen.add(id);
          oids.push(oid);
        }
      }
      let next = 0;
      const worker = async () => {
        while (next < oids.length && !run.aborted) {
          const oid = oids[next++]!;
          const job = new ObjectJob(this.host, pool, cont, oid, map, checkpoints, throttle, run);
          if (await job.run()) run.status.objects++;
        }
      };
      await Promise.all(Array.from({ length: REBUILD_OBJECTS_PARALLEL }, worker));
      if (run.aborted) return;
    }
  }
}

/** A bytes-per-second bound: callers wait until their bytes fit. */
class Throttle {
  private readonly start = Date.now();
  private bytes = 0;
  constructor(private readonly bytesPerSec: number) {}

  async take(bytes: number): Promise<void> {
    this.bytes += bytes;
    const due = this.start + (this.bytes / this.bytesPerSec) * 1000;
    const wait = due - Date.now();
    if (wait > 0) await sleep(wait);
  }
}

/** Whether a target is being filled by the rebuild (it takes writes, serves no reads yet). */
export function filling(map: PoolMap, t: TargetRef): boolean {
  const s = targetState(map, t);
  return s === 'UP' || s === 'NEW';
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const same = (a: TargetRef, b: TargetRef) => a.rank === b.rank && a.target === b.target;

/** The rebuild of one object's groups that this engine is responsible for. */
class ObjectJob {
  private moved = false;
  private readonly ec: { k: number; p: number } | undefined;
  /** The rebuild epoch: the last checkpoint. */
  private readonly epoch: bigint;

  constructor(
    private readonly host: RebuildHost,
    private readonly pool: string,
    private readonly cont: string,
    private readonly oid: Oid,
    private readonly map: PoolMap,
    /** Ascending epochs whose reads the copy reproduces; the last is the rebuild epoch. */
    private readonly checkpoints: readonly bigint[],
    private readonly throttle: Throttle,
    private readonly run_: Run,
  ) {
    this.ec = ecShape(oid);
    this.epoch = checkpoints[checkpoints.length - 1]!;
  }

  /** Resolves to whether some shard of the object moved here. */
  async run(): Promise<boolean> {
    const data = objectLayout(this.oid, this.map, 'data');
    const goal = objectLayout(this.oid, this.map, 'goal');
    const n = data.groupSize;
    for (let g = 0; g < data.groups; g++) {
      if (this.run_.aborted) return this.moved;
      const members = data.shards.slice(g * n, (g + 1) * n);
      const homes = goal.shards.slice(g * n, (g + 1) * n);
      // A shard moves when its home changes, or when its home is being filled (UP: reintegrated
      // with no spare to stand in for it meanwhile).
      const moves = homes.flatMap((t, j) => (same(t, members[j]!) && !filling(this.map, t) ? [] : [j]));
      if (moves.length === 0) continue;
      const serving = (t: TargetRef) => {
        const s = targetState(this.map, t);
        return s !== undefined && targetServes(s);
      };
      const order = this.ec
        ? [
            ...Array.from({ length: this.ec.p }, (_, i) => this.ec!.k + i),
            ...Array.from({ length: this.ec.k }, (_, i) => i),
          ]
        : Array.from({ length: n }, (_, i) => i);
      const lead = order.find((j) => serving(members[j]!));
      if (lead === undefined) continue; // every member is out: nothing to copy from
      if (members[lead]!.rank !== this.host.rank) continue;
      await this.group(g, data.groups, members, homes, moves, lead, serving);
    }
    return this.moved;
  }

  private async group(
    g: number,
    groups: number,
    members: TargetRef[],
    homes: TargetRef[],
    moves: number[],
    lead: number,
    serving: (t: TargetRef) => boolean,
  ): Promise<void> {
    // Where the group's keys are listed: the lead (a replica, or an EC parity shard, holds every
    // key); an EC group with no parity serving: the union of its serving data shards.
    const listers =
      this.ec && lead < this.ec.k ? members.slice(0, this.ec.k).filter(serving) : [members[lead]!];
    const inGroup = (dkey: Uint8Array) =>
      groups === 1 || dkeyGroup(dkey, { groups, groupSize: members.length, shards: [] }) === g;
    const dkeys = (await this.union(listers, { what: 'dkeys' })).filter(inGroup);
    // A new home that is a member now in another role (a rebalance can do that) keeps serving
    // that role until the map moves on. A replica holds the whole group already: nothing to copy.
    // An EC home takes the new role's records beside the old role's (parity indexes are tagged
    // per parity cell, data cells keep their own indexes, so roles never share a record).
    const swapped = (j: number) => members.some((m, i) => i !== j && same(m, homes[j]!));
    const copies = this.ec ? moves : moves.filter((j) => !swapped(j));
    for (const dkey of dkeys) {
      // A new home may keep records of the dkey from an older layout: cleared first, so they
      // cannot mix with the copy (all of them on a home that is no member now; on a member, only
      // the new role's). Writes placed with the goal layout are newer than the rebuild epoch and
      // stay.
      for (const j of copies) {
        await this.read(
          homes[j]!,
          swapped(j) ? { what: 'discard', dkey, role: this.role(j) } : { what: 'discard', dkey },
        );
      }
      await this.dkey(dkey, listers, members, homes, copies, lead, serving, swapped);
    }
  }

  /** EC shard `j` of this object's groups. */
  private role(j: number): ShardRole {
    return { k: this.ec!.k, shard: j, cellBytes: ecCellBytes(this.map) };
  }

  private async dkey(
    dkey: Uint8Array,
    listers: TargetRef[],
    members: TargetRef[],
    homes: TargetRef[],
    moves: number[],
    lead: number,
    serving: (t: TargetRef) => boolean,
    swapped: (j: number) => boolean,
  ): Promise<void> {
    const akeys = await this.union(listers, { what: 'akeys', dkey });
    for (const akey of akeys) {
      if (this.run_.aborted) return;
      const kind = await this.kindOf(listers, dkey, akey);
      if (!kind) continue;
      for (const j of moves) {
        const home = homes[j]!;
        if (kind.kind === 'single') {
          // A member in another role holds the group's single values already.
          if (!swapped(j)) await this.copySingle(listers, home, dkey, akey);
          continue;
        }
        if (!this.ec) await this.copyArray(members[lead]!, home, dkey, akey, kind.recordSize);
        else if (serving(members[j]!))
          await this.copyArray(members[j]!, home, dkey, akey, kind.recordSize, this.role(j));
        else await this.decodeCells(members, serving, j, home, dkey, akey, kind.recordSize);
      }
    }
  }

  /** Every key the listers hold at some checkpoint, in byte order, once. */
  private async union(
    listers: TargetRef[],
    req: { what: 'dkeys' } | { what: 'akeys'; dkey: Uint8Array },
  ): Promise<Uint8Array[]> {
    const seen = new Map<string, Uint8Array>();
    for (const e of this.checkpoints) {
      for (const l of listers) {
        for (const k of (await this.read(l, req, e)).keys ?? []) seen.set(Buffer.from(k).toString('hex'), k);
      }
    }
    return [...seen.values()].sort((a, b) => Buffer.compare(a, b));
  }

  /** An akey's kind (and an array's record size), from the newest checkpoint that knows it. */
  private async kindOf(
    listers: TargetRef[],
    dkey: Uint8Array,
    akey: Uint8Array,
  ): Promise<RebuildReadReply['akey']> {
    for (let c = this.checkpoints.length - 1; c >= 0; c--) {
      const info = await this.akeyAt(listers, dkey, akey, this.checkpoints[c]!);
      if (info) return info;
    }
    return undefined;
  }

  /** What the first lister that knows the akey says of it at `epoch`. */
  private async akeyAt(
    listers: TargetRef[],
    dkey: Uint8Array,
    akey: Uint8Array,
    epoch: bigint,
  ): Promise<RebuildReadReply['akey']> {
    for (const l of listers) {
      const info = (await this.read(l, { what: 'akey', dkey, akey }, epoch)).akey;
      if (info) return info;
    }
    return undefined;
  }

  /**
   * A single value, checkpoint by checkpoint: each version visible at one is written with its
   * epoch (once); one that is gone at the next (punched) is punched there at that checkpoint.
   */
  private async copySingle(listers: TargetRef[], home: TargetRef, dkey: Uint8Array, akey: Uint8Array) {
    let prev: bigint | undefined;
    let visible = false;
    for (const e of this.checkpoints) {
      const v = await this.akeyAt(listers, dkey, akey, e);
      if (v?.kind === 'single' && v.value !== undefined && v.epoch !== undefined) {
        if (prev === undefined || v.epoch > prev)
          await this.write(home, dkey, [{ akey, kind: 'single', value: v.value }], v.epoch);
        visible = true;
      } else if (visible) {
        await this.punchAkey(home, dkey, akey, e);
        visible = false;
      }
      prev = e;
    }
  }

  /**
   * Copy an array akey's visible ranges from `src` to `home`, checkpoint by checkpoint: ranges
   * written since the previous checkpoint at the epochs that wrote them, ranges gone since then
   * (punched) as holes at the checkpoint.
   */
  private async copyArray(
    src: TargetRef,
    home: TargetRef,
    dkey: Uint8Array,
    akey: Uint8Array,
    recordSize: number,
    role?: ShardRole,
  ): Promise<void> {
    const step = BigInt(Math.max(1, Math.floor(REBUILD_EXTENT_BYTES_MAX / recordSize)));
    let prev: bigint | undefined;
    let had: Ranges = [];
    for (const e of this.checkpoints) {
      const ranges =
        (await this.read(src, { what: 'recx', dkey, akey, ...(role && { role }) }, e)).recx ?? [];
      for (const r of ranges) {
        if (prev !== undefined && r.epoch <= prev) continue; // copied at the previous checkpoint
        for (let idx = r.idx; idx < r.idx + r.nr; idx += step) {
          if (this.run_.aborted) return;
          const nr = bigMin(r.idx + r.nr - idx, step);
          const got = await this.read(src, { what: 'extent', dkey, akey, recordSize, recx: { idx, nr } }, e);
          await this.writeExtents(home, dkey, akey, recordSize, got, { idx, nr }, r.epoch);
        }
      }
      const now = rangesOf(ranges);
      await this.punchGone(home, dkey, akey, recordSize, had, now, e);
      had = now;
      prev = e;
    }
  }

  /** Holes at `epoch` where `had` held data and `now` does not. */
  private async punchGone(
    home: TargetRef,
    dkey: Uint8Array,
    akey: Uint8Array,
    recordSize: number,
    had: Ranges,
    now: Ranges,
    epoch: bigint,
  ): Promise<void> {
    let gone = had;
    for (const [a, b] of now) gone = subtractRange(gone, a, b);
    if (gone.length === 0) return;
    const extents = gone.map(([a, b]) => ({ idx: a, nr: b - a }));
    await this.write(home, dkey, [{ akey, kind: 'array', recordSize, extents }], epoch);
  }

  /**
   * Rebuild EC shard `j` (its home `members[j]` is out) at `home`, stripe by stripe and
   * checkpoint by checkpoint: a data cell decoded from k surviving cells, a parity cell encoded
   * from the data cells; a stripe gone since the previous checkpoint (punched) becomes a hole.
   */
  private async decodeCells(
    members: TargetRef[],
    serving: (t: TargetRef) => boolean,
    j: number,
    home: TargetRef,
    dkey: Uint8Array,
    akey: Uint8Array,
    recordSize: number,
  ): Promise<void> {
    const { k, p } = this.ec!;
    const cr = cellRecordsFor(recordSize, ecCellBytes(this.map));
    const crb = BigInt(cr);
    const unavailable = new Set<number>();
    members.forEach((t, i) => {
      if (!serving(t)) unavailable.add(i);
    });
    const where = (stripe: bigint) => (j < k ? cellExtent(stripe, j, k, cr) : parityIndex(stripe, cr, j - k));
    const parity = members.slice(k).findIndex(serving);
    let prev: bigint | undefined;
    let had = new Map<bigint, bigint>();
    for (const e of this.checkpoints) {
      // Stripes with data at e, and the newest epoch each was written at: from a serving parity
      // shard (one parity range per stripe), else from the data shards' ranges.
      const stripes = new Map<bigint, bigint>();
      const note = (s: bigint, ep: bigint) => {
        const was = stripes.get(s);
        if (was === undefined || ep > was) stripes.set(s, ep);
      };
      if (parity >= 0 && j < k) {
        const role = this.role(k + parity);
        for (const r of (await this.read(members[k + parity]!, { what: 'recx', dkey, akey, role }, e)).recx ??
          []) {
          const idx = untagParity(r.idx);
          for (let s = idx / crb; s <= (idx + r.nr - 1n) / crb; s++) note(s, r.epoch);
        }
      } else {
        const stripeRecords = BigInt(k) * crb;
        for (let i = 0; i < k; i++) {
          if (!serving(members[i]!)) continue;
          const role = this.role(i);
          for (const r of (await this.read(members[i]!, { what: 'recx', dkey, akey, role }, e)).recx ?? [])
            for (let s = r.idx / stripeRecords; s <= (r.idx + r.nr - 1n) / stripeRecords; s++)
              note(s, r.epoch);
        }
      }
      const fetch = (shard: number, recx: Recx): Promise<CellRead> =>
        this.read(members[shard]!, { what: 'extent', dkey, akey, recordSize, recx }, e).then((r) => ({
          data: r.data ?? new Uint8Array(Number(recx.nr) * recordSize),
          map: r.map ?? [],
        }));
      for (const [stripe, epoch] of [...stripes].sort((a, b) => bigCompare(a[0], b[0]))) {
        if (this.run_.aborted) return;
        if (prev !== undefined && epoch <= prev) continue; // rebuilt at the previous checkpoint
        if (j < k) {
          const got = await readStripeCells({ k, p, cellRecords: cr, stripe, want: [j], unavailable, fetch });
          const map = got.maps[j] ?? [];
          if (map.length === 0) continue;
          await this.writeExtents(
            home,
            dkey,
            akey,
            recordSize,
            { data: got.cells[j]!, map },
            where(stripe),
            epoch,
          );
        } else {
          const want = Array.from({ length: k }, (_, i) => i);
          const got = await readStripeCells({ k, p, cellRecords: cr, stripe, want, unavailable, fetch });
          if (got.maps.every((m) => (m ?? []).length === 0)) continue;
          const cells = got.cells.map((c) => c ?? new Uint8Array(cr * recordSize));
          const par = await codecFor(k, p).encode(cells);
          const at = where(stripe);
          await this.writeExtents(home, dkey, akey, recordSize, { data: par[j - k]!, map: [at] }, at, epoch);
        }
      }
      const gone = [...had.keys()].filter((s) => !stripes.has(s));
      if (gone.length > 0) {
        const extents = gone.map(where);
        await this.write(home, dkey, [{ akey, kind: 'array', recordSize, extents }], e);
      }
      had = stripes;
      prev = e;
    }
  }

  /** Write the parts of `got` (records of `recx`) that hold data to `home` at `epoch`. */
  private async writeExtents(
    home: TargetRef,
    dkey: Uint8Array,
    akey: Uint8Array,
    recordSize: number,
    got: { data?: Uint8Array; map?: Recx[] },
    recx: Recx,
    epoch: bigint,
  ): Promise<void> {
    const data = got.data;
    if (!data) return;
    const extents = (got.map ?? []).flatMap((m) => {
      const from = bigMax(m.idx, recx.idx);
      const end = bigMin(m.idx + m.nr, recx.idx + recx.nr);
      if (end <= from) return [];
      const off = Number(from - recx.idx) * recordSize;
      return [{ idx: from, nr: end - from, data: data.subarray(off, off + Number(end - from) * recordSize) }];
    });
    if (extents.length === 0) return;
    await this.write(home, dkey, [{ akey, kind: 'array', recordSize, extents }], epoch);
  }

  private async write(home: TargetRef, dkey: Uint8Array, iods: UpdateIod[], epoch: bigint): Promise<void> {
    let bytes = 0;
    for (const iod of iods) {
      if (iod.kind === 'single') bytes += iod.value.byteLength;
      else for (const e of iod.extents) bytes += e.data?.byteLength ?? 0;
    }
    await this.throttle.take(bytes);
    await this.apply(home, epoch, { kind: 'update', to: this.at(home), dkey, iods });
    this.run_.status.bytes += bytes;
  }

  /** Punch an akey at `home` at `epoch` (a single value gone since the previous checkpoint). */
  private async punchAkey(home: TargetRef, dkey: Uint8Array, akey: Uint8Array, epoch: bigint): Promise<void> {
    await this.apply(home, epoch, { kind: 'punch_akeys', to: this.at(home), dkey, akeys: [akey] });
  }

  private at(home: TargetRef): TxOp['to'] {
    return { pool: this.pool, cont: this.cont, oid: this.oid, target: home };
  }

  private async apply(home: TargetRef, epoch: bigint, op: TxOp): Promise<void> {
    await this.host.peer(home.rank).tgtApply(epoch, [op], [epoch]);
    this.moved = true;
  }

  private read(
    from: TargetRef,
    req: DistributiveOmit<RebuildReadReq, 'pool' | 'cont' | 'oid' | 'epoch'>,
    epoch: bigint = this.epoch,
  ): Promise<RebuildReadReply> {
    const peer = this.host.peer(from.rank);
    if (!peer.rebuildRead)
      throw new DaosError('DER_NOTSUPPORTED', `engine rank ${from.rank} serves no rebuild reads`);
    return peer.rebuildRead(from.target, {
      ...req,
      pool: this.pool,
      cont: this.cont,
      oid: this.oid,
      epoch,
    } as RebuildReadReq);
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** Serve a rebuild read from a local target's store. */
export function rebuildReadLocal(
  store: VosTarget,
  req: RebuildReadReq,
): RebuildReadReply | Promise<RebuildReadReply> {
  const { cont, oid, epoch } = req;
  switch (req.what) {
    case 'dkeys':
    case 'akeys': {
      const keys: Uint8Array[] = [];
      for (let after: Uint8Array | undefined; ; ) {
        const page =
          req.what === 'dkeys'
            ? store.listDkeys(cont, oid, epoch, after, LIST_PAGE)
            : store.listAkeys(cont, oid, epoch, req.dkey, after, LIST_PAGE);
        keys.push(...page);
        if (page.length < LIST_PAGE) return { keys };
        after = page[page.length - 1];
      }
    }
    case 'akey': {
      const v = store.akeyVersion(cont, oid, epoch, req.dkey, req.akey);
      if (!v) return {};
      if (v.kind === 'array') return { akey: { kind: 'array', recordSize: v.recordSize } };
      return {
        akey: v.epoch === undefined ? { kind: 'single' } : { kind: 'single', epoch: v.epoch, value: v.value },
      };
    }
    case 'recx': {
      const recx = store.listRecx(cont, oid, epoch, req.dkey, req.akey);
      if (!req.role || recx.length === 0) return { recx };
      const v = store.akeyVersion(cont, oid, epoch, req.dkey, req.akey);
      if (v?.kind !== 'array') return { recx: [] };
      const cr = cellRecordsFor(v.recordSize, req.role.cellBytes);
      return { recx: rangesOfShard(recx, req.role.shard, req.role.k, cr) };
    }
    case 'discard':
      return store.discardDkey(cont, oid, req.dkey, epoch, req.role).then((removed) => ({ removed }));
    case 'extent':
      return store
        .fetchAsync(cont, oid, epoch, req.dkey, [
          { akey: req.akey, kind: 'array', recordSize: req.recordSize, extents: [req.recx] },
        ])
        .then(([r]) => {
          const a = r as { data: Uint8Array; map: Recx[] };
          return { data: a.data, map: a.map };
        });
  }
}
