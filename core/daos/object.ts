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
import { dkeyGroup, type ObjectLayout, objectLayout } from '../placement/layout.js';
import { type PoolMap, type TargetRef, targetUp } from '../placement/pool-map.js';
import type {
  ArrayFetchResult,
  FetchCond,
  FetchIod,
  Recx,
  UpdateCond,
  UpdateIod,
} from '../wire/obj-types.js';
import type { Container } from './container.js';
import { decodeKey, encodeKey, type Key, type ListedKey, valueBytes } from './keys.js';
import type { ObjTarget, TxOp } from './link.js';
import type { Tx } from './tx.js';

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
  private readTurn = 0;

  constructor(container: Container, oid: Oid, tx?: Tx) {
    this.container = container;
    this.oid = oid;
    this.tx = tx;
    const type = oidType(oid);
    this.dkeyKind = dkeyKind(type);
    this.akeyKind = akeyKind(type);
  }

  private get layout(): ObjectLayout {
    const map = this.container.pool.map;
    if (this.layoutMap !== map) {
      this.layoutCache = objectLayout(this.oid, map);
      this.layoutMap = map;
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
    const map = this.container.pool.map;
    const members = this.members(g);
    const up = members.filter((t) => targetUp(map, t));
    if (up.length === 0) {
      const where = members.map((t) => `${t.rank}:${t.target}`).join(', ');
      throw new DaosError(
        'DER_UNREACH',
        `object ${this.oid.hi.toString(16)}.${this.oid.lo.toString(16)}: every shard of group ${g} is on a DOWN target (${where}; pool map version ${map.version})`,
      );
    }
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

  /** Where a dkey's writes go. */
  private targetFor(dkey: Uint8Array): ObjTarget {
    return this.leaderOf(this.groupOfDkey(dkey));
  }

  private at(target: ObjTarget['target']): ObjTarget {
    const pool = this.container.pool;
    return {
      pool: pool.uuid,
      cont: this.container.uuid,
      oid: this.oid,
      target,
      mapVersion: pool.map.version,
    };
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
  private async io<T>(pick: () => ObjTarget, call: (to: ObjTarget) => Promise<T>): Promise<T> {
    const to = pick();
    try {
      return await call(to);
    } catch (err) {
      if (!(err instanceof DaosError) || (err.code !== 'DER_UNREACH' && err.code !== 'DER_STALE')) throw err;
      if (!(await this.container.pool.refreshMap())) throw err;
      return call(pick());
    }
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
  async update(dkey: Key, iods: UpdateIodIn[], options?: UpdateOptions): Promise<void> {
    const tx = this.writeTx(options);
    const dk = encodeKey(dkey, this.dkeyKind, 'dkey');
    const checked = this.checkUpdateIods(iods);
    if (tx) {
      tx.add({ kind: 'update', to: this.targetFor(dk), dkey: dk, iods: checked, cond: options?.cond });
      return;
    }
    const g = this.groupOfDkey(dk);
    await this.io(
      () => this.leaderOf(g),
      (to) => this.engineFor(to).update(to, dk, checked, options?.cond),
    );
  }

  /** Read akeys under one dkey: one result per iod, in order. */
  async fetch(dkey: Key, iods: FetchIodIn[], options?: FetchOptions): Promise<FetchOut[]> {
    const epoch = this.readEpoch(options);
    const dk = encodeKey(dkey, this.dkeyKind, 'dkey');
    const checked = this.checkFetchIods(iods);
    const g = this.groupOfDkey(dk);
    const tx = options?.tx ?? this.tx;
    if (tx) for (const iod of checked) tx.noteRead(this.leaderOf(g), dk, iod.akey);
    return this.readIo(g, (to) => this.engineFor(to).fetch(to, epoch, dk, checked, options?.cond));
  }

  /**
   * A read of group `g` (through `io`): on DER_CSUM (the replica's copy is corrupt; the engine
   * counted and logged it) the same read goes to another serving member; DER_CSUM only when
   * every serving member failed it.
   */
  private async readIo<T>(g: number, call: (to: ObjTarget) => Promise<T>): Promise<T> {
    const tried = new Set<string>();
    const id = (t: TargetRef) => `${t.rank}:${t.target}`;
    const pick = () => {
      if (tried.size === 0) return this.readerOf(g);
      const up = this.serving(g);
      return this.at(up.find((t) => !tried.has(id(t))) ?? up[0]!);
    };
    for (;;) {
      try {
        return await this.io(pick, (to) => {
          tried.add(id(to.target));
          return call(to);
        });
      } catch (err) {
        if (!(err instanceof DaosError) || err.code !== 'DER_CSUM') throw err;
        if (this.serving(g).every((t) => tried.has(id(t)))) throw err;
      }
    }
  }

  /** Punch the whole object: every dkey, at once. */
  async punch(options?: { tx?: Tx }): Promise<void> {
    const tx = this.writeTx(options);
    // One punch per group, to its leader (which punches the other members).
    const ops: TxOp[] = this.groupTargets().map((to) => ({ kind: 'punch_obj', to }));
    await this.submitPunches(ops, tx);
  }

  /** Punch dkeys (and everything under them). */
  async punchDkeys(dkeys: Key[], options?: PunchOptions): Promise<void> {
    const tx = this.writeTx(options);
    if (!Array.isArray(dkeys) || dkeys.length === 0)
      throw new DaosError('DER_INVAL', 'punchDkeys needs at least one dkey');
    const byTarget = new Map<string, { to: ObjTarget; dkeys: Uint8Array[] }>();
    for (const key of dkeys) {
      const dk = encodeKey(key, this.dkeyKind, 'dkey');
      const to = this.targetFor(dk);
      const id = `${to.target.rank}:${to.target.target}`;
      const entry = byTarget.get(id) ?? { to, dkeys: [] };
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
      const g = Math.floor(shard / layout.groupSize);
      await this.io(
        () => this.leaderOf(g),
        (to) => this.engineFor(to).punch({ ...op, to }),
      );
      return;
    }
    // Several targets: one transaction so that the punch is all-or-nothing.
    await this.engineFor(ops[0]!.to).txCommit(ops);
  }

  /** Visible dkeys, in key order for lexical and uint64 objects. */
  async *listDkeys(options?: { epoch?: bigint }): AsyncGenerator<ListedKey> {
    const epoch = this.readEpoch(options);
    const sources = Array.from(
      { length: this.layout.groups },
      (_, g) => (after: Uint8Array | undefined) =>
        this.io(
          () => this.readerOf(g),
          (to) => this.engineFor(to).listDkeys(to, epoch, after, LIST_PAGE_KEYS),
        ),
    );
    for await (const k of mergeSorted(sources)) yield decodeKey(k, this.dkeyKind);
  }

  /** Visible akeys under a dkey. */
  async *listAkeys(dkey: Key, options?: { epoch?: bigint }): AsyncGenerator<ListedKey> {
    const epoch = this.readEpoch(options);
    const dk = encodeKey(dkey, this.dkeyKind, 'dkey');
    const g = this.groupOfDkey(dk);
    const source = (after: Uint8Array | undefined) =>
      this.io(
        () => this.readerOf(g),
        (to) => this.engineFor(to).listAkeys(to, epoch, dk, after, LIST_PAGE_KEYS),
      );
    for await (const k of mergeSorted([source])) yield decodeKey(k, this.akeyKind);
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
    return this.io(
      () => this.readerOf(g),
      (to) => this.engineFor(to).listRecx(to, epoch, dk, ak),
    );
  }

  /** The largest (or smallest) visible dkey, or undefined for an empty object (DAOS's query_key). */
  async queryDkey(which: 'max' | 'min', options?: { epoch?: bigint }): Promise<ListedKey | undefined> {
    const epoch = this.readEpoch(options);
    let best: Uint8Array | undefined;
    for (let g = 0; g < this.layout.groups; g++) {
      const k = await this.io(
        () => this.readerOf(g),
        (to) => this.engineFor(to).queryDkey(to, epoch, which),
      );
      if (k === undefined) continue;
      const c = best === undefined ? 0 : Buffer.compare(k, best);
      if (best === undefined || (which === 'max' ? c > 0 : c < 0)) best = k;
    }
    return best === undefined ? undefined : decodeKey(best, this.dkeyKind);
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
    return this.io(
      () => this.readerOf(g),
      (to) => this.engineFor(to).queryRecx(to, epoch, dk, ak, which),
    );
  }

  private checkUpdateIods(iods: UpdateIodIn[]): UpdateIod[] {
    checkIodCount(iods);
    // A checksummed container: every value and extent carries its chunk checksums.
    const csum = this.container.props.checksum === 'crc32c';
    let bytes = 0;
    const seen = iods.length > 1 ? new Set<string>() : undefined;
    const out = iods.map((iod): UpdateIod => {
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
        return csum && value.byteLength > 0
          ? { akey, kind: 'single', value, csums: chunkCsums(value) }
          : { akey, kind: 'single', value };
      }
      if (iod.kind !== 'array')
        throw new DaosError(
          'DER_INVAL',
          `iod kind must be 'single' or 'array', not ${String((iod as { kind: unknown }).kind)}`,
        );
      checkRecordSize(iod.recordSize);
      const extents = checkExtents(iod.extents, true).map((e, i) => {
        const data = iod.extents[i]!.data;
        if (data !== undefined) {
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
        }
        if (data === undefined) return e;
        return csum ? { ...e, data, csums: chunkCsums(data) } : { ...e, data };
      });
      return { akey, kind: 'array', recordSize: iod.recordSize, extents };
    });
    if (bytes > IO_BYTES_MAX)
      throw new DaosError('DER_REC2BIG', `update carries ${bytes} bytes; the limit is ${IO_BYTES_MAX}`);
    return out;
  }

  private checkFetchIods(iods: FetchIodIn[]): FetchIod[] {
    checkIodCount(iods);
    let bytes = 0n;
    const seen = iods.length > 1 ? new Set<string>() : undefined;
    const out = iods.map((iod): FetchIod => {
      const akey = this.checkAkey(iod.akey, seen);
      if (iod.kind === 'single') return { akey, kind: 'single' };
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
      if (iod.out === undefined) return { akey, kind: 'array', recordSize: iod.recordSize, extents };
      if (!(iod.out instanceof Uint8Array) || BigInt(iod.out.byteLength) < iodBytes) {
        throw new DaosError('DER_INVAL', `output buffer must be a Uint8Array of at least ${iodBytes} bytes`);
      }
      return { akey, kind: 'array', recordSize: iod.recordSize, extents, out: iod.out };
    });
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
  const out = extents.map(({ idx, nr }) => {
    const i = toIndex(idx, 'extent idx');
    const n = toIndex(nr, 'extent nr');
    if (n < 1n) throw new DaosError('DER_INVAL', `extent at ${i} has nr ${n}; it must be at least 1`);
    if (i + n > RECORD_INDEX_LIMIT)
      throw new DaosError('DER_INVAL', `extent {idx ${i}, nr ${n}} passes record index 2^64`);
    return { idx: i, nr: n };
  });
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

/** Merge sorted, paged key streams (one per group) into one sorted stream. */
async function* mergeSorted(
  sources: Array<(after: Uint8Array | undefined) => Promise<Uint8Array[]>>,
): AsyncGenerator<Uint8Array> {
  const state = sources.map((fetchPage) => ({
    fetchPage,
    page: [] as Uint8Array[],
    pos: 0,
    done: false,
    last: undefined as Uint8Array | undefined,
  }));
  const refill = async (s: (typeof state)[number]) => {
    if (s.pos < s.page.length || s.done) return;
    s.page = await s.fetchPage(s.last);
    s.pos = 0;
    // A short page is the last one.
    s.done = s.page.length < LIST_PAGE_KEYS;
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
    best.last = key;
    yield key;
    await refill(best);
  }
}
