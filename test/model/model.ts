/**
 * The reference model of the model-based test: what the store should hold, as plain maps, and
 * the random generator of operations. The model has no epochs: it is the current state only; a
 * snapshot is a deep copy of it kept by the runner. Every semantic rule the test relies on is
 * written here, once, in the simplest form:
 *
 * - A single akey exists iff it has a value (a 0-byte value counts); an array akey exists iff one
 *   of its records holds data; a dkey exists iff one of its akeys exists. Listings return exactly
 *   the existing keys. The maps below never hold a non-existing key (empty entries are removed).
 * - An array extent written without data punches those records (they read as zero holes).
 * - Fetch of an array: the requested extents' records concatenated (holes zero-filled) and `map`,
 *   the maximal runs of data-holding indexes inside the requested ranges, in index order.
 * - Conditions: dkey_insert -> DER_EXIST if the dkey exists, dkey_update -> DER_NONEXIST if not,
 *   akey_insert / akey_update the same per akey of the update; dkey_fetch / akey_fetch ->
 *   DER_NONEXIST when the dkey / an akey is missing; punch with mustExist -> DER_NONEXIST unless
 *   every key exists. A failed op changes nothing.
 * - Transactions: the writes apply in order (a later write of a key wins) and atomically; a
 *   failing condition in one fails the commit with nothing visible; a key the tx wrote or read
 *   that a plain write changed after the tx opened fails the commit with DER_TX_RESTART, and after
 *   restart() the same writes commit. Reads through a tx see the state at its open.
 * - Array objects (cell size 4): the size is the highest data cell + 1; setSize(n) leaves cells
 *   past n reading 0 and (for n > 0) makes getSize() return n.
 */
import type { DerName, Key, ObjType } from '../../index.js';
import type { Prng } from './prng.js';

// ---------------------------------------------------------------------------------------------
// The key spaces

export type KeyOrder = 'lexical' | 'uint64' | 'hashed';

export interface KeySpec {
  /** The key as passed to the store. */
  key: Key;
  /** Canonical id: 'u:<decimal>' for uint64 keys, 'h:<hex of the UTF-8 / raw bytes>' otherwise. */
  id: string;
  /** Human label for messages. */
  label: string;
}

export interface AkeySpec extends KeySpec {
  kind: 'single' | 'array';
  /** Record size of an array akey (fixed: the store forbids changing it). */
  recordSize: number;
}

export interface ObjSpec {
  name: string;
  type: ObjType;
  oclass: string;
  order: KeyOrder;
  dkeys: KeySpec[];
  akeys: AkeySpec[];
}

/** Array akeys have records at indexes 0..ARRAY_INDEXES-1. */
export const ARRAY_INDEXES = 64;
/** Fetches may ask a little past the written range. */
const FETCH_INDEX_END = 72;
/** The DaosArray under test. */
export const ARR_CELL_BYTES = 4;
export const ARR_CHUNK_CELLS = 16;
/** Cells written, read and sized: 0..ARR_CELLS-1 (11 chunks). */
export const ARR_CELLS = 176;
export const KV_KEYS = ['k0', 'k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7'];

export function keyId(key: Key | Buffer, order: KeyOrder): string {
  if (order === 'uint64') return `u:${BigInt(key as number | bigint)}`;
  if (typeof key === 'string') return `h:${Buffer.from(key, 'utf8').toString('hex')}`;
  if (key instanceof Uint8Array) return `h:${Buffer.from(key).toString('hex')}`;
  return `u:${key}`;
}

/** The id of a key as a listing gives it back (bigint for uint64 keys, bytes otherwise). */
export function listedId(key: Buffer | bigint): string {
  return typeof key === 'bigint' ? `u:${key}` : `h:${key.toString('hex')}`;
}

function dk(key: Key, order: KeyOrder): KeySpec {
  return { key, id: keyId(key, order), label: showKey(key) };
}
function ak(key: Key, order: KeyOrder, kind: 'single' | 'array', recordSize = 0): AkeySpec {
  return { key, id: keyId(key, order), label: showKey(key), kind, recordSize };
}
function showKey(key: Key): string {
  if (typeof key === 'string') return JSON.stringify(key);
  if (typeof key === 'number' || typeof key === 'bigint') return String(key);
  return `0x${Buffer.from(key).toString('hex')}`;
}

/** The three generic objects: small key spaces so that operations collide. */
export function objectSpecs(): ObjSpec[] {
  return [
    {
      name: 'S1lex',
      type: 'multi_lexical',
      oclass: 'S1',
      order: 'lexical',
      // Byte order: 'B' < 'a' < 'ab' < 'b' < 'é' (c3 a9) < ff 00.
      dkeys: ['a', 'ab', 'b', 'B', 'é', Buffer.from([0xff, 0x00])].map((k) => dk(k, 'lexical')),
      akeys: [
        ak('x', 'lexical', 'single'),
        ak('xy', 'lexical', 'single'),
        ak('y', 'lexical', 'array', 1),
        ak('z', 'lexical', 'array', 8),
        // 64 records of 96 bytes: extents past 4 KiB take the data-file path.
        ak('big', 'lexical', 'array', 96),
      ],
    },
    {
      name: 'SXhash',
      type: 'multi_hashed',
      oclass: 'SX',
      order: 'hashed',
      dkeys: ['k0', 'k1', 'k2', 'k3', 'k4', 'k5'].map((k) => dk(k, 'hashed')),
      akeys: [
        ak('s0', 'hashed', 'single'),
        ak('s1', 'hashed', 'single'),
        ak('r1', 'hashed', 'array', 1),
        ak('r8', 'hashed', 'array', 8),
      ],
    },
    {
      name: 'S2u64',
      type: 'multi_uint64',
      oclass: 'S2',
      order: 'uint64',
      dkeys: [0, 1, 255, 256n, 2 ** 40, (1n << 64n) - 1n].map((k) => dk(k, 'uint64')),
      akeys: [
        ak(0, 'uint64', 'single'),
        ak(1, 'uint64', 'array', 1),
        ak(7n, 'uint64', 'single'),
        ak(1000, 'uint64', 'array', 8),
      ],
    },
  ];
}

/** Key ids in the order a listing must give them (hashed objects: sorted, compared sorted). */
export function orderIds(ids: string[], order: KeyOrder): string[] {
  const out = [...ids];
  if (order === 'uint64') {
    out.sort((a, b) => {
      const x = BigInt(a.slice(2));
      const y = BigInt(b.slice(2));
      return x < y ? -1 : x > y ? 1 : 0;
    });
  } else if (order === 'lexical') {
    out.sort((a, b) => Buffer.compare(Buffer.from(a.slice(2), 'hex'), Buffer.from(b.slice(2), 'hex')));
  } else {
    out.sort();
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The state

export type AkeyVal =
  | { kind: 'single'; value: Uint8Array }
  /** Record index -> the bytes of that one record (present = holds data). */
  | { kind: 'array'; recs: Map<number, Uint8Array> };

/** dkey index -> akey index -> value. Only existing keys are present. */
export type ObjState = Map<number, Map<number, AkeyVal>>;

/** An update iod as generated: akey index; a single value or array extents (no data = punch). */
export interface GenUpdateIod {
  a: number;
  value?: Uint8Array;
  extents?: Array<{ idx: number; nr: number; data?: Uint8Array }>;
}

/** A fetch iod as generated: akey index, and extents for array akeys. */
export interface GenFetchIod {
  a: number;
  extents?: Array<{ idx: number; nr: number }>;
}

export type UpdateCondName = 'dkey_insert' | 'dkey_update' | 'akey_insert' | 'akey_update';
export type FetchCondName = 'dkey_fetch' | 'akey_fetch';

/** What a fetch iod should return: a single value (or undefined), or array data and map. */
export type Expected = Uint8Array | undefined | { data: Uint8Array; map: Array<{ idx: number; nr: number }> };

export class ModelState {
  constructor(
    readonly specs: ObjSpec[],
    readonly objs: ObjState[] = specs.map(() => new Map()),
    /** KV key index -> value. */
    readonly kv: Map<number, Uint8Array> = new Map(),
    /** DaosArray cell -> its ARR_CELL_BYTES bytes (present = holds data). */
    readonly cells: Map<number, Uint8Array> = new Map(),
  ) {}

  /** A deep copy (values are never mutated in place, so they are shared). */
  clone(): ModelState {
    const objs = this.objs.map((o) => {
      const c: ObjState = new Map();
      for (const [d, akeys] of o) {
        const m = new Map<number, AkeyVal>();
        for (const [a, v] of akeys)
          m.set(a, v.kind === 'single' ? v : { kind: 'array', recs: new Map(v.recs) });
        c.set(d, m);
      }
      return c;
    });
    return new ModelState(this.specs, objs, new Map(this.kv), new Map(this.cells));
  }

  // ---- objects

  dkeyExists(o: number, d: number): boolean {
    return this.objs[o]!.has(d);
  }

  akeyExists(o: number, d: number, a: number): boolean {
    return this.objs[o]!.get(d)?.has(a) ?? false;
  }

  /** The error a conditional update must fail with, or undefined when it applies. */
  updateCondError(
    o: number,
    d: number,
    iods: GenUpdateIod[],
    cond: UpdateCondName | undefined,
  ): DerName | undefined {
    switch (cond) {
      case undefined:
        return undefined;
      case 'dkey_insert':
        return this.dkeyExists(o, d) ? 'DER_EXIST' : undefined;
      case 'dkey_update':
        return this.dkeyExists(o, d) ? undefined : 'DER_NONEXIST';
      case 'akey_insert':
        return iods.some((i) => this.akeyExists(o, d, i.a)) ? 'DER_EXIST' : undefined;
      case 'akey_update':
        return iods.every((i) => this.akeyExists(o, d, i.a)) ? undefined : 'DER_NONEXIST';
    }
  }

  update(o: number, d: number, iods: GenUpdateIod[]): void {
    const obj = this.objs[o]!;
    const akeys = obj.get(d) ?? new Map<number, AkeyVal>();
    for (const iod of iods) {
      if (iod.value !== undefined) {
        akeys.set(iod.a, { kind: 'single', value: iod.value });
        continue;
      }
      const prev = akeys.get(iod.a);
      const recs = new Map(prev?.kind === 'array' ? prev.recs : undefined);
      const rs = this.specs[o]!.akeys[iod.a]!.recordSize;
      for (const e of iod.extents ?? []) {
        for (let i = 0; i < e.nr; i++) {
          if (e.data) recs.set(e.idx + i, e.data.slice(i * rs, (i + 1) * rs));
          else recs.delete(e.idx + i);
        }
      }
      if (recs.size > 0) akeys.set(iod.a, { kind: 'array', recs });
      else akeys.delete(iod.a);
    }
    if (akeys.size > 0) obj.set(d, akeys);
    else obj.delete(d);
  }

  punchObj(o: number): void {
    this.objs[o]!.clear();
  }

  punchDkeys(o: number, dkeys: number[]): void {
    for (const d of dkeys) this.objs[o]!.delete(d);
  }

  punchAkeys(o: number, d: number, akeys: number[]): void {
    const m = this.objs[o]!.get(d);
    if (!m) return;
    for (const a of akeys) m.delete(a);
    if (m.size === 0) this.objs[o]!.delete(d);
  }

  fetchCondError(
    o: number,
    d: number,
    iods: GenFetchIod[],
    cond: FetchCondName | undefined,
  ): DerName | undefined {
    if (cond === 'dkey_fetch') return this.dkeyExists(o, d) ? undefined : 'DER_NONEXIST';
    if (cond === 'akey_fetch')
      return iods.every((i) => this.akeyExists(o, d, i.a)) ? undefined : 'DER_NONEXIST';
    return undefined;
  }

  fetch(o: number, d: number, iods: GenFetchIod[]): Expected[] {
    const akeys = this.objs[o]!.get(d);
    return iods.map((iod) => {
      const spec = this.specs[o]!.akeys[iod.a]!;
      const v = akeys?.get(iod.a);
      if (spec.kind === 'single') return v?.kind === 'single' ? v.value : undefined;
      const recs = v?.kind === 'array' ? v.recs : new Map<number, Uint8Array>();
      return arrayFetch(recs, spec.recordSize, iod.extents ?? []);
    });
  }

  /** Existing dkeys, as ids in listing order. */
  dkeyIds(o: number): string[] {
    const spec = this.specs[o]!;
    const ids = [...this.objs[o]!.keys()].map((d) => spec.dkeys[d]!.id);
    return orderIds(ids, spec.order);
  }

  akeyIds(o: number, d: number): string[] {
    const spec = this.specs[o]!;
    const ids = [...(this.objs[o]!.get(d)?.keys() ?? [])].map((a) => spec.akeys[a]!.id);
    return orderIds(ids, spec.order);
  }

  // ---- the KV object

  kvKeys(): string[] {
    return [...this.kv.keys()].map((k) => KV_KEYS[k]!).sort();
  }

  // ---- the DaosArray

  arrSize(): number {
    let max = -1;
    for (const c of this.cells.keys()) if (c > max) max = c;
    return max + 1;
  }

  arrWrite(off: number, data: Uint8Array): void {
    for (let i = 0; i * ARR_CELL_BYTES < data.length; i++)
      this.cells.set(off + i, data.slice(i * ARR_CELL_BYTES, (i + 1) * ARR_CELL_BYTES));
  }

  arrRead(off: number, len: number): Uint8Array {
    const out = new Uint8Array(len * ARR_CELL_BYTES);
    for (let i = 0; i < len; i++) {
      const c = this.cells.get(off + i);
      if (c) out.set(c, i * ARR_CELL_BYTES);
    }
    return out;
  }

  arrPunch(off: number, len: number): void {
    for (let i = 0; i < len; i++) this.cells.delete(off + i);
  }

  arrSetSize(n: number): void {
    if (n === this.arrSize()) return;
    for (const c of [...this.cells.keys()]) if (c >= n) this.cells.delete(c);
    // DAOS's set_size writes a zero cell at n - 1 when none is there, so that the size is n.
    if (n > 0 && !this.cells.has(n - 1)) this.cells.set(n - 1, new Uint8Array(ARR_CELL_BYTES));
  }
}

/** Expected result of an array fetch over `recs`. */
export function arrayFetch(
  recs: Map<number, Uint8Array>,
  recordSize: number,
  extents: Array<{ idx: number; nr: number }>,
): { data: Uint8Array; map: Array<{ idx: number; nr: number }> } {
  let total = 0;
  for (const e of extents) total += e.nr * recordSize;
  const data = new Uint8Array(total);
  const covered = new Set<number>();
  let pos = 0;
  for (const e of extents) {
    for (let i = e.idx; i < e.idx + e.nr; i++) {
      const r = recs.get(i);
      if (r) {
        data.set(r, pos);
        covered.add(i);
      }
      pos += recordSize;
    }
  }
  const idxs = [...covered].sort((a, b) => a - b);
  const map: Array<{ idx: number; nr: number }> = [];
  for (const i of idxs) {
    const last = map[map.length - 1];
    if (last && last.idx + last.nr === i) last.nr++;
    else map.push({ idx: i, nr: 1 });
  }
  return { data, map };
}

// ---------------------------------------------------------------------------------------------
// Operations

/** A write inside a transaction; applied in order (a later write to the same key wins). */
export type TxWrite =
  | { w: 'update'; obj: number; dkey: number; iods: GenUpdateIod[]; cond?: UpdateCondName }
  | { w: 'punchAkeys'; obj: number; dkey: number; akeys: number[]; mustExist?: boolean }
  | { w: 'punchDkeys'; obj: number; dkey: number; mustExist?: boolean }
  | { w: 'kvPut'; key: number; value: Uint8Array; cond?: 'insert' | 'update' }
  | { w: 'kvRemove'; key: number; mustExist?: boolean };

/** Where a read goes: the current state, or snapshot #snap read with { epoch } or a snapshot view. */
export interface ReadAt {
  snap?: number;
  via?: 'epoch' | 'view';
}

export type Op =
  | { t: 'update'; obj: number; dkey: number; iods: GenUpdateIod[]; cond?: UpdateCondName }
  | ({ t: 'fetch'; obj: number; dkey: number; iods: GenFetchIod[]; cond?: FetchCondName } & ReadAt)
  | ({ t: 'listDkeys'; obj: number } & ReadAt)
  | ({ t: 'listAkeys'; obj: number; dkey: number } & ReadAt)
  | { t: 'punchObj'; obj: number }
  | { t: 'punchDkeys'; obj: number; dkeys: number[]; mustExist: boolean }
  | { t: 'punchAkeys'; obj: number; dkey: number; akeys: number[]; mustExist: boolean }
  | { t: 'snapCreate' }
  | { t: 'snapDestroy'; snap: number }
  | { t: 'aggregate' }
  | { t: 'tx'; writes: TxWrite[]; read?: { obj: number; dkey: number; iods: GenFetchIod[] } }
  | {
      t: 'txConflict';
      /** ww: the tx writes the key the plain update wrote; rw: the tx read it. */
      mode: 'ww' | 'rw';
      victim: { obj: number; dkey: number; iods: GenUpdateIod[] };
      writes: TxWrite[];
    }
  | { t: 'kvPut'; key: number; value: Uint8Array; cond?: 'insert' | 'update' }
  | ({ t: 'kvGet'; key: number; mustExist: boolean } & ReadAt)
  | { t: 'kvRemove'; key: number; mustExist: boolean }
  | ({ t: 'kvKeys' } & ReadAt)
  | { t: 'arrWrite'; off: number; data: Uint8Array }
  | ({ t: 'arrRead'; off: number; len: number } & ReadAt)
  | ({ t: 'arrSize' } & ReadAt)
  | { t: 'arrSetSize'; size: number }
  | { t: 'arrPunch'; off: number; len: number }
  | { t: 'restart' };

/** A short, readable description of an op for failure messages. */
export function describeOp(op: Op, specs: ObjSpec[]): string {
  const replacer = (k: string, v: unknown) => {
    if (v instanceof Uint8Array) return `<${v.length} bytes>`;
    if (typeof v === 'bigint') return `${v}n`;
    if (k === 'obj' && typeof v === 'number') return specs[v]?.name ?? v;
    return v;
  };
  return JSON.stringify(op, replacer);
}

// ---------------------------------------------------------------------------------------------
// The generator

export const MAX_LIVE_SNAPSHOTS = 6;

const WEIGHTS = {
  update: 22,
  condUpdate: 5,
  fetch: 13,
  listDkeys: 4,
  listAkeys: 4,
  punchObj: 0.5,
  punchDkeys: 4,
  punchAkeys: 5,
  snapCreate: 2.2,
  snapDestroy: 1,
  aggregate: 0.6,
  tx: 5,
  txConflict: 2,
  kvPut: 5,
  kvGet: 4,
  kvRemove: 2,
  kvKeys: 1.5,
  arrWrite: 5,
  arrRead: 4,
  arrSize: 2,
  arrSetSize: 2,
  arrPunch: 2,
} as const;

export interface GeneratorOptions {
  /** Generate transaction reads (tx fetch, read-write conflicts); default true. */
  txReads?: boolean;
  /** Generate array shrinks to a size whose last cell is a hole; default true. */
  shrinkToHole?: boolean;
  /** Let a transaction write one key twice (the later write wins, as DAOS's minor epochs order them); default true. */
  txSameKey?: boolean;
}

export class Generator {
  constructor(
    private readonly rng: Prng,
    private readonly specs: ObjSpec[],
    private readonly options: GeneratorOptions = {},
  ) {}

  /** The next op, given the current model and how many snapshots are live. */
  next(model: ModelState, liveSnapshots: number): Op {
    const r = this.rng;
    const kind = r.weighted(WEIGHTS);
    switch (kind) {
      case 'update':
        return { t: 'update', ...this.update() };
      case 'condUpdate': {
        const u = this.update(model);
        return {
          t: 'update',
          ...u,
          cond: r.pick(['dkey_insert', 'dkey_update', 'akey_insert', 'akey_update'] as const),
        };
      }
      case 'fetch': {
        const { obj, dkey } = this.objDkey(model);
        const cond = r.chance(0.15) ? r.pick(['dkey_fetch', 'akey_fetch'] as const) : undefined;
        return { t: 'fetch', obj, dkey, iods: this.fetchIods(obj), cond, ...this.readAt(liveSnapshots) };
      }
      case 'listDkeys':
        return { t: 'listDkeys', obj: r.int(this.specs.length), ...this.readAt(liveSnapshots) };
      case 'listAkeys': {
        const { obj, dkey } = this.objDkey(model);
        return { t: 'listAkeys', obj, dkey, ...this.readAt(liveSnapshots) };
      }
      case 'punchObj':
        return { t: 'punchObj', obj: r.int(this.specs.length) };
      case 'punchDkeys': {
        const obj = r.int(this.specs.length);
        const n = this.specs[obj]!.dkeys.length;
        // Prefer existing dkeys so that mustExist sometimes passes.
        const existing = [...model.objs[obj]!.keys()];
        const pool = existing.length > 0 && r.chance(0.6) ? existing : [...Array(n).keys()];
        return { t: 'punchDkeys', obj, dkeys: r.sample(pool, r.range(1, 3)), mustExist: r.chance(0.3) };
      }
      case 'punchAkeys': {
        const { obj, dkey } = this.objDkey(model);
        const existing = [...(model.objs[obj]!.get(dkey)?.keys() ?? [])];
        const all = [...this.specs[obj]!.akeys.keys()];
        const pool = existing.length > 0 && r.chance(0.6) ? existing : all;
        return { t: 'punchAkeys', obj, dkey, akeys: r.sample(pool, r.range(1, 3)), mustExist: r.chance(0.3) };
      }
      case 'snapCreate':
        if (liveSnapshots >= MAX_LIVE_SNAPSHOTS) return { t: 'snapDestroy', snap: r.int(liveSnapshots) };
        return { t: 'snapCreate' };
      case 'snapDestroy':
        if (liveSnapshots === 0) return { t: 'snapCreate' };
        return { t: 'snapDestroy', snap: r.int(liveSnapshots) };
      case 'aggregate':
        return { t: 'aggregate' };
      case 'tx': {
        const writes = this.txWrites(r.range(1, 4), new Set(), true);
        const read =
          r.chance(0.3) && this.options.txReads !== false
            ? (() => {
                const { obj, dkey } = this.objDkey(model);
                return { obj, dkey, iods: this.fetchIods(obj) };
              })()
            : undefined;
        return { t: 'tx', writes, read };
      }
      case 'txConflict': {
        const mode = r.chance(0.5) || this.options.txReads === false ? 'ww' : 'rw';
        const { obj, dkey } = this.objDkey(model);
        const victim = { obj, dkey, iods: this.updateIods(obj) };
        const used = new Set<string>([`${obj}/${dkey}`]);
        const writes: TxWrite[] = [];
        if (mode === 'ww') {
          // The tx writes the victim's first akey (and maybe others) under the same dkey.
          const first = victim.iods[0]!.a;
          const iods = this.updateIods(obj).filter((i) => i.a !== first);
          iods.unshift(this.updateIod(obj, first));
          writes.push({ w: 'update', obj, dkey, iods });
        }
        writes.push(...this.txWrites(mode === 'ww' ? r.range(0, 2) : r.range(1, 3), used));
        return { t: 'txConflict', mode, victim, writes };
      }
      case 'kvPut': {
        const cond = r.chance(0.25) ? r.pick(['insert', 'update'] as const) : undefined;
        return { t: 'kvPut', key: r.int(KV_KEYS.length), value: this.value(), cond };
      }
      case 'kvGet':
        return {
          t: 'kvGet',
          key: r.int(KV_KEYS.length),
          mustExist: r.chance(0.2),
          ...this.readAt(liveSnapshots),
        };
      case 'kvRemove':
        return { t: 'kvRemove', key: r.int(KV_KEYS.length), mustExist: r.chance(0.3) };
      case 'kvKeys':
        return { t: 'kvKeys', ...this.readAt(liveSnapshots) };
      case 'arrWrite': {
        const off = r.int(ARR_CELLS - 1);
        const len = r.range(1, Math.min(40, ARR_CELLS - off));
        return { t: 'arrWrite', off, data: r.bytes(len * ARR_CELL_BYTES) };
      }
      case 'arrRead': {
        const off = r.int(ARR_CELLS);
        return {
          t: 'arrRead',
          off,
          len: r.range(1, Math.min(48, ARR_CELLS - off)),
          ...this.readAt(liveSnapshots),
        };
      }
      case 'arrSize':
        return { t: 'arrSize', ...this.readAt(liveSnapshots) };
      case 'arrSetSize': {
        // Shrink and grow, to chunk boundaries sometimes, to 0 now and then.
        const size = r.chance(0.1) ? 0 : r.chance(0.2) ? ARR_CHUNK_CELLS * r.range(1, 10) : r.int(ARR_CELLS);
        const toHole = size > 0 && size < model.arrSize() && !model.cells.has(size - 1);
        if (toHole && this.options.shrinkToHole === false) return { t: 'arrSize' };
        return { t: 'arrSetSize', size };
      }
      case 'arrPunch': {
        const off = r.int(ARR_CELLS - 1);
        return { t: 'arrPunch', off, len: r.range(1, Math.min(40, ARR_CELLS - off)) };
      }
    }
  }

  private readAt(liveSnapshots: number): ReadAt {
    const r = this.rng;
    if (liveSnapshots === 0 || r.chance(0.55)) return {};
    return { snap: r.int(liveSnapshots), via: r.chance(0.5) ? 'epoch' : 'view' };
  }

  /** An object and a dkey; with a model, prefer existing dkeys half of the time. */
  private objDkey(model?: ModelState): { obj: number; dkey: number } {
    const r = this.rng;
    const obj = r.int(this.specs.length);
    const existing = model ? [...model.objs[obj]!.keys()] : [];
    if (existing.length > 0 && r.chance(0.5)) return { obj, dkey: r.pick(existing) };
    return { obj, dkey: r.int(this.specs[obj]!.dkeys.length) };
  }

  private update(model?: ModelState): { obj: number; dkey: number; iods: GenUpdateIod[] } {
    const { obj, dkey } = this.objDkey(model);
    return { obj, dkey, iods: this.updateIods(obj) };
  }

  private updateIods(obj: number): GenUpdateIod[] {
    const akeys = this.rng.sample([...this.specs[obj]!.akeys.keys()], this.rng.range(1, 3));
    return akeys.map((a) => this.updateIod(obj, a));
  }

  updateIod(obj: number, a: number): GenUpdateIod {
    const spec = this.specs[obj]!.akeys[a]!;
    if (spec.kind === 'single') return { a, value: this.value() };
    const r = this.rng;
    // 1..3 non-overlapping extents from 2k distinct sorted bounds in 0..ARRAY_INDEXES.
    const k = r.range(1, 3);
    const bounds = r.sample([...Array(ARRAY_INDEXES + 1).keys()], 2 * k).sort((x, y) => x - y);
    const extents: NonNullable<GenUpdateIod['extents']> = [];
    for (let i = 0; i < k; i++) {
      const idx = bounds[2 * i]!;
      const nr = bounds[2 * i + 1]! - idx;
      extents.push(r.chance(0.8) ? { idx, nr, data: r.bytes(nr * spec.recordSize) } : { idx, nr });
    }
    if (r.chance(0.3)) extents.reverse();
    return { a, extents };
  }

  private fetchIods(obj: number): GenFetchIod[] {
    const r = this.rng;
    const akeys = r.sample([...this.specs[obj]!.akeys.keys()], r.range(1, 4));
    return akeys.map((a) => {
      if (this.specs[obj]!.akeys[a]!.kind === 'single') return { a };
      // Fetch extents may overlap and run past the written range.
      const extents = Array.from({ length: r.range(1, 3) }, () => {
        const idx = r.int(FETCH_INDEX_END);
        return { idx, nr: r.range(1, Math.min(40, FETCH_INDEX_END - idx)) };
      });
      return { a, extents };
    });
  }

  /** A single value: sometimes empty, rarely past 4 KiB (the data-file path). */
  value(): Uint8Array {
    const r = this.rng;
    if (r.chance(0.1)) return new Uint8Array(0);
    if (r.chance(0.05)) return r.bytes(r.range(4097, 20000));
    return r.bytes(r.range(1, 200));
  }

  /**
   * `n` transaction writes, mostly on (object, dkey) pairs and KV keys not in `used`; with
   * txSameKey, sometimes on one already written (in this tx or, for conflicts, by the victim).
   */
  private txWrites(n: number, used: Set<string>, conds = false): TxWrite[] {
    const r = this.rng;
    const out: TxWrite[] = [];
    // Conditions and mustExist inside a tx: one failing fails the whole tx.
    const withCond = () => conds && r.chance(0.12);
    for (let tries = 0; out.length < n && tries < 50; tries++) {
      // The key: a fresh one, or (sometimes) one this tx or the victim already wrote.
      let id: string;
      if (this.options.txSameKey !== false && used.size > 0 && r.chance(0.2)) id = r.pick([...used]);
      else if (r.chance(0.2)) id = `kv/${r.int(KV_KEYS.length)}`;
      else {
        const obj = r.int(this.specs.length);
        id = `${obj}/${r.int(this.specs[obj]!.dkeys.length)}`;
        if (used.has(id)) continue;
      }
      if (id.startsWith('kv/')) {
        if (used.has(id) && this.options.txSameKey === false) continue;
        used.add(id);
        const key = Number(id.slice(3));
        if (r.chance(0.7)) {
          const cond = withCond() ? r.pick(['insert', 'update'] as const) : undefined;
          out.push({ w: 'kvPut', key, value: this.value(), ...(cond && { cond }) });
        } else out.push({ w: 'kvRemove', key, ...(withCond() && { mustExist: true }) });
        continue;
      }
      used.add(id);
      const [obj, dkey] = id.split('/').map(Number) as [number, number];
      const which = r.weighted({ update: 70, punchAkeys: 15, punchDkeys: 15 });
      if (which === 'update') {
        const cond = withCond()
          ? r.pick(['dkey_insert', 'dkey_update', 'akey_insert', 'akey_update'] as const)
          : undefined;
        out.push({ w: 'update', obj, dkey, iods: this.updateIods(obj), ...(cond && { cond }) });
      } else if (which === 'punchAkeys') {
        const akeys = r.sample([...this.specs[obj]!.akeys.keys()], r.range(1, 2));
        out.push({ w: 'punchAkeys', obj, dkey, akeys, ...(withCond() && { mustExist: true }) });
      } else out.push({ w: 'punchDkeys', obj, dkey, ...(withCond() && { mustExist: true }) });
    }
    return out;
  }
}

/** Apply a transaction write to the model, or return the error its condition fails with. */
export function applyTxWrite(m: ModelState, w: TxWrite): DerName | undefined {
  switch (w.w) {
    case 'update': {
      const err = m.updateCondError(w.obj, w.dkey, w.iods, w.cond);
      if (err === undefined) m.update(w.obj, w.dkey, w.iods);
      return err;
    }
    case 'punchAkeys':
      if (w.mustExist && w.akeys.some((a) => !m.akeyExists(w.obj, w.dkey, a))) return 'DER_NONEXIST';
      m.punchAkeys(w.obj, w.dkey, w.akeys);
      return undefined;
    case 'punchDkeys':
      if (w.mustExist && !m.dkeyExists(w.obj, w.dkey)) return 'DER_NONEXIST';
      m.punchDkeys(w.obj, [w.dkey]);
      return undefined;
    case 'kvPut': {
      const has = m.kv.has(w.key);
      if (w.cond === 'insert' && has) return 'DER_EXIST';
      if (w.cond === 'update' && !has) return 'DER_NONEXIST';
      m.kv.set(w.key, w.value);
      return undefined;
    }
    case 'kvRemove':
      if (w.mustExist && !m.kv.has(w.key)) return 'DER_NONEXIST';
      m.kv.delete(w.key);
      return undefined;
  }
}

/**
 * The outcome of a transaction's writes on `m`: the new state, or the errors its failing
 * conditions raise (the store reports the first it meets; which one depends on the order in which
 * targets are prepared, so any of them is right). Writes are evaluated in order, each seeing the
 * earlier ones, as the store evaluates a batch.
 */
export function txOutcome(m: ModelState, writes: TxWrite[]): { state: ModelState; errors: DerName[] } {
  const state = m.clone();
  const errors: DerName[] = [];
  for (const w of writes) {
    const err = applyTxWrite(state, w);
    if (err !== undefined) errors.push(err);
  }
  return { state, errors };
}
