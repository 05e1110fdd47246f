/**
 * The LMDB environment of one target and its sub-databases:
 *
 *   main       versions, extents and akey metas (key layout in keys.ts, values in records.ts)
 *   punch      versioned punch records of objects, dkeys and akeys
 *   conts      container uuid -> local id (uint32), so record keys start with 4 bytes, not 36
 *   free       data-file free list: offset(8 BE) -> length
 *   state      nextContId, the data file's layout (and highWater, kept by earlier builds: see dataLayout)
 *   dtx        prepared distributed transactions: id -> msgpack plan
 *   committed  coordinator outcome markers: id -> epoch
 */
import { ABORT, type Database, open, type RootDatabase } from 'lmdb';
import { assert } from '../../core/common/errors.js';
import { TARGET_MAP_BYTES } from '../../core/common/limits.js';
import type { AllocatorStore, Extent } from '../bio/allocator.js';
import { type DataLayout, SINGLE_FILE, STRIPED } from '../bio/data-file.js';
import { KIND_ARRAY } from './records.js';

/** 8 KiB pages raise LMDB's key limit to 4026 bytes: two escaped 512-byte keys need up to 2089. */
const INDEX_PAGE_BYTES = 8192;
const INDEX_DBS_MAX = 12;
const CONT_ID_MAX = 0xffff_ffff;

export type BinDb = Database<Buffer, Buffer>;
export type StrDb = Database<Buffer, string>;

export class IndexStore {
  readonly env: RootDatabase;
  readonly main: BinDb;
  readonly punch: BinDb;
  private readonly conts: Database<number, string>;
  readonly free: BinDb;
  readonly state: Database<number, string>;
  readonly dtx: StrDb;
  readonly committed: Database<string, string>;
  /** Container uuid -> local id, as persisted or assigned in a transaction that has run. */
  private readonly contIds = new Map<string, number>();
  /** Containers registered by transactions not yet known to have committed (see contIdForWrite). */
  private readonly unsettled = new Set<string>();
  /**
   * Containers the running transaction registered, or found on file while unsettled (a set: with
   * 'fsync' no transaction reports its outcome, and it only ever holds the unsettled ones).
   */
  private readonly touched = new Set<string>();
  private nextContId: number;

  /**
   * `sync: false` (durability 'process'): commits go to the OS page cache without fsync, which is
   * what surviving a killed process needs; `sync: true` ('fsync') makes each commit durable on disk.
   */
  constructor(dir: string, mapBytes = TARGET_MAP_BYTES, sync = false) {
    this.env = open({
      path: dir,
      mapSize: mapBytes,
      pageSize: INDEX_PAGE_BYTES,
      maxDbs: INDEX_DBS_MAX,
      noSync: !sync,
      overlappingSync: sync,
      // A write map: a commit changes pages in place in the shared mapping and writes no copies.
      // Not with 'fsync', whose commits run as lmdb-js child transactions (none in a write map).
      useWritemap: !sync,
    });
    const bin = { keyEncoding: 'binary' as const, encoding: 'binary' as const };
    this.main = this.env.openDB<Buffer, Buffer>('main', bin);
    this.punch = this.env.openDB<Buffer, Buffer>('punch', bin);
    this.conts = this.env.openDB<number, string>('conts', { encoding: 'msgpack' });
    this.free = this.env.openDB<Buffer, Buffer>('free', bin);
    this.state = this.env.openDB<number, string>('state', { encoding: 'msgpack' });
    this.dtx = this.env.openDB<Buffer, string>('dtx', { encoding: 'binary' });
    this.committed = this.env.openDB<string, string>('committed', { encoding: 'msgpack' });
    for (const { key, value } of this.conts.getRange({})) this.contIds.set(key, value);
    this.nextContId = this.state.get('nextContId') ?? 1;
  }

  /** The local id of a container, or undefined when nothing was ever written to it. */
  contId(cont: string): number | undefined {
    return this.contIds.get(cont);
  }

  /** Whether local id `id` belongs to a container (used at open, before any write). */
  knowsContId(id: number): boolean {
    for (const v of this.contIds.values()) if (v === id) return true;
    return false;
  }

  /**
   * Inside a write transaction: the local id of a container, registering it if new. A container
   * registered by a transaction not known to have committed is checked against the database: that
   * transaction may have been aborted since (a failed multi-op call, a dry run), and then this one
   * writes the record again, with the same id (a dry run's effects use it).
   */
  contIdForWrite(cont: string): number {
    const id = this.contIds.get(cont);
    if (id !== undefined) {
      if (this.unsettled.size > 0 && this.unsettled.has(cont)) {
        if (this.conts.get(cont) === undefined) {
          this.conts.put(cont, id);
          this.state.put('nextContId', this.nextContId);
        }
        this.touched.add(cont);
      }
      return id;
    }
    assert(this.nextContId <= CONT_ID_MAX, 'container ids exhausted');
    const fresh = this.nextContId++;
    this.conts.put(cont, fresh);
    this.state.put('nextContId', this.nextContId);
    // The map changes now, inside the transaction: it only ever commits with it or the process dies.
    this.contIds.set(cont, fresh);
    this.unsettled.add(cont);
    this.touched.add(cont);
    return fresh;
  }

  /** Write transactions whose body is running now (the lookups it makes see its own writes). */
  private bodies = 0;

  /**
   * Akey metas written by the transaction whose body runs now, by akey prefix (latin1): the new
   * record, or undefined for one removed (see putMeta); made by the first.
   */
  private metaNotes: Map<string, Buffer | undefined> | undefined;

  /** The body `writeSync` runs next, by `runBody` (one function for every synchronous transaction). */
  private syncBody: (() => unknown) | undefined;
  private readonly runBody = (): unknown => {
    const fn = this.syncBody!;
    this.syncBody = undefined;
    return this.body(fn);
  };

  /**
   * Told of the akey metas each write transaction wrote (see putMeta): `committed` after a
   * synchronous transaction committed them; otherwise (an asynchronous transaction, whose reads
   * meanwhile may see the records before it, or one whose outcome is not known here) after its
   * body ran and again once it is over, to forget what it may have changed.
   */
  onMetas: ((notes: ReadonlyMap<string, Buffer | undefined>, committed: boolean) => void) | undefined;

  /** Whether a write transaction's body is running (its lookups see what it wrote so far). */
  get writing(): boolean {
    return this.bodies > 0;
  }

  /**
   * Inside a write transaction: write an akey's meta record (key: the akey prefix and TAG_META),
   * an array's noted for `onMetas`. With removeMeta, the only writer of meta records: what a reader
   * keeps of array metas (Visibility.arrayMeta) stays true through writes because every change
   * passes here. (A single value's meta is not noted: an akey's kind stays until its meta is
   * removed, so no array meta is kept where a single value's is written.)
   */
  putMeta(key: Buffer, value: Buffer): void {
    this.main.put(key, value);
    if (value[0] === KIND_ARRAY) this.noteMeta(key, value);
  }

  /** Inside a write transaction: remove an akey's meta record, noted for `onMetas` (see putMeta). */
  removeMeta(key: Buffer): void {
    this.main.remove(key);
    this.noteMeta(key, undefined);
  }

  private noteMeta(key: Buffer, value: Buffer | undefined): void {
    assert(this.bodies > 0, 'an akey meta is written inside a write transaction');
    (this.metaNotes ??= new Map()).set(key.toString('latin1', 0, key.length - 1), value);
  }

  /** A write transaction's body. */
  private body<T>(fn: () => T): T {
    this.bodies++;
    try {
      return fn();
    } finally {
      this.bodies--;
    }
  }

  /** Hand the meta writes noted so far to `onMetas`. */
  private metasNoted(committed: boolean): void {
    const notes = this.metaNotes;
    if (notes === undefined) return;
    this.metaNotes = undefined;
    this.onMetas?.(notes, committed);
  }

  /**
   * Run `fn` in a synchronous write transaction (lmdb-js transactionSync: ABORT rolls it back).
   * Not inside another transaction's body: its meta writes would be the outer's to report.
   */
  writeSync<T>(fn: () => T): T {
    assert(this.bodies === 0, 'a synchronous write transaction inside another transaction');
    this.syncBody = fn;
    let committed = false;
    try {
      const out = this.env.transactionSync(this.runBody) as T;
      committed = out !== ABORT;
      return out;
    } finally {
      this.syncBody = undefined;
      this.metasNoted(committed);
    }
  }

  /** Run `fn` in a write transaction that lmdb-js's writer thread commits (a child transaction when `child`). */
  async write<T>(fn: () => T, child: boolean): Promise<T> {
    let notes: Map<string, Buffer | undefined> | undefined;
    const run = () => {
      try {
        return this.body(fn);
      } finally {
        notes = this.metaNotes;
        this.metasNoted(false);
      }
    };
    try {
      return (await (child ? this.env.childTransaction(run) : this.env.transaction(run))) as T;
    } finally {
      if (notes !== undefined) this.onMetas?.(notes, false);
    }
  }

  /** Before a synchronous write transaction whose outcome the caller reports (`txnCommitted`). */
  txnStarting(): void {
    this.touched.clear();
  }

  /** After that transaction committed: the containers it registered or found are on file. */
  txnCommitted(): void {
    for (const cont of this.touched) this.unsettled.delete(cont);
    this.touched.clear();
  }

  /** Inside a write transaction: forget a destroyed container. */
  dropCont(cont: string): void {
    this.conts.remove(cont);
    this.contIds.delete(cont);
  }

  /**
   * How this target's data lies in its data files: kept from the target's first open (a new
   * target's data is STRIPED); a target an earlier build made, with data-file space handed out
   * (the high-water mark those builds persisted) and no layout kept, has a single file.
   */
  dataLayout(): DataLayout {
    const files = this.state.get('dataFiles');
    if (files !== undefined) return { files, stripeBytes: this.state.get('dataStripeBytes') ?? 0 };
    if ((this.state.get('highWater') ?? 0) > 0) return SINGLE_FILE;
    this.writeSync(() => {
      this.state.put('dataFiles', STRIPED.files);
      this.state.put('dataStripeBytes', STRIPED.stripeBytes);
    });
    return STRIPED;
  }

  freeExtents(): Extent[] {
    const out: Extent[] = [];
    for (const { key, value } of this.free.getRange({}))
      out.push({ off: offsetOf(key), len: value.readUInt32BE(0) });
    return out;
  }

  /** The allocator's persisted state, written inside the current write transaction. */
  readonly allocatorStore: AllocatorStore = {
    putFree: (off, len) => {
      const v = Buffer.allocUnsafe(4);
      v.writeUInt32BE(len, 0);
      this.free.put(offsetKey(off), v);
    },
    removeFree: (off) => {
      this.free.remove(offsetKey(off));
    },
  };

  /** The first entry of [start, end), or undefined. */
  first(db: BinDb, start: Buffer, end: Buffer): { key: Buffer; value: Buffer } | undefined {
    for (const e of db.getRange({ start, end, limit: 1 })) return e;
    return undefined;
  }

  /** The first key of [start, end), or undefined. */
  firstKey(db: BinDb, start: Buffer, end: Buffer): Buffer | undefined {
    for (const k of db.getKeys({ start, end, limit: 1 })) return k;
    return undefined;
  }

  /** The first `limit` keys of [start, end). */
  firstKeys(db: BinDb, start: Buffer, end: Buffer, limit: number): Buffer[] {
    const out: Buffer[] = [];
    for (const k of db.getKeys({ start, end, limit })) out.push(k);
    return out;
  }

  /** The last key of [low, high), or undefined. */
  lastKey(db: BinDb, low: Buffer, high: Buffer): Buffer | undefined {
    for (const k of db.getKeys({ start: high, end: low, reverse: true, limit: 2 })) {
      if (Buffer.compare(k, high) < 0) return k;
    }
    return undefined;
  }

  async close(): Promise<void> {
    await this.env.close();
  }
}

/** Free-list keys are the offset as 8 big-endian bytes, so the sub-db iterates in file order. */
function offsetKey(off: number): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeUInt32BE(Math.floor(off / 2 ** 32), 0);
  b.writeUInt32BE(off % 2 ** 32, 4);
  return b;
}
function offsetOf(b: Buffer): number {
  return b.readUInt32BE(0) * 2 ** 32 + b.readUInt32BE(4);
}
