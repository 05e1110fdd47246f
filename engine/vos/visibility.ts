/**
 * What is visible at an epoch: punches, versions, extents, key existence. Used by reads (against
 * the last committed snapshot) and by conditional writes (inside the write transaction, whose
 * reads see the batch's earlier writes).
 *
 * Visibility at epoch e: P = the newest punch <= e of the object, the dkey and the akey (0 if
 * none). A single value is visible iff its newest version v <= e has v > P. An array record takes
 * the newest extent with P < epoch <= e covering it; a hole extent there makes it a hole.
 */
import { writeU64BE } from '../../core/common/bigint.js';
import type { Oid } from '../../core/common/oid.js';
import type { DataFile } from '../bio/data-file.js';
import { type Candidate, resolveExtents } from './extents.js';
import type { IndexStore } from './index-store.js';
import {
  akeyPrefix,
  dkeyPrefix,
  EPOCH_BYTES,
  extentKeyIdx,
  keyEpoch,
  objPrefix,
  PUNCH_AKEY,
  PUNCH_DKEY,
  PUNCH_OBJ,
  prefixEnd,
  punchKey,
  punchPrefix,
  readEsc,
  singleKey,
  TAG_EXTENT,
  TAG_META,
  TAG_SINGLE,
  withTag,
} from './keys.js';
import type { ObjectFilter } from './object-filter.js';
import { type PunchedObject, type PunchedObjects, punchLevelBit } from './punched.js';
import {
  type AkeyMeta,
  decodeExtent,
  decodeMeta,
  decodeSingle,
  type ExtentRecord,
  KIND_ARRAY,
  KIND_SINGLE,
  type Payload,
  WHERE_FILE,
  WHERE_HOLE,
  WHERE_INLINE,
} from './records.js';

const IDX_ZERO = Buffer.alloc(8);

/**
 * Array akey metas a target keeps (Visibility.arrayMeta): past this many it forgets them all and
 * starts again. A meta kept is ~0.2 KB (16,384 chunks of 1 MiB: 16 GiB read again from ~3 MB).
 */
const ARRAY_METAS_KEPT_MAX = 16_384;

const OBJ_BIT = punchLevelBit(PUNCH_OBJ);
const DKEY_BIT = punchLevelBit(PUNCH_DKEY);
const AKEY_BIT = punchLevelBit(PUNCH_AKEY);

export interface VisibleVersion {
  epoch: bigint;
  payload: Payload;
}

export class Visibility {
  /** Array akey metas as the store holds them, by akey prefix (latin1): read, or written by a committed transaction. */
  private readonly arrayMetas = new Map<string, AkeyMeta>();

  constructor(
    readonly store: IndexStore,
    readonly data: DataFile,
    /** Every object with a punch record, and the levels it has them at. */
    readonly punched: PunchedObjects,
    /** The objects this target may hold records of. */
    readonly objects: ObjectFilter,
  ) {
    store.onMetas = (notes, committed) => this.metasWritten(notes, committed);
  }

  /**
   * Keep what a write transaction made of array metas (IndexStore.onMetas): once committed, the
   * records it wrote (a chunk read after its write takes its meta from here); when not known to
   * be, none of those akeys' (read again when next needed).
   */
  private metasWritten(notes: ReadonlyMap<string, Buffer | undefined>, committed: boolean): void {
    const kept = this.arrayMetas;
    for (const [name, value] of notes) {
      // (Only array metas are noted: IndexStore.putMeta.)
      if (!committed || value === undefined) {
        kept.delete(name);
        continue;
      }
      if (kept.size >= ARRAY_METAS_KEPT_MAX && !kept.has(name)) kept.clear();
      // Decoded now: the record is a slice of Node's shared pool, which a kept slice would pin.
      kept.set(name, decodeMeta(value));
    }
  }

  /** Record that the punch db holds (or is about to hold, in this transaction) punch key `key`. */
  notePunchKey(key: Uint8Array): void {
    this.punched.noteKey(Buffer.isBuffer(key) ? key : Buffer.from(key.buffer, key.byteOffset, key.length));
  }

  /** The punch levels that may hold records for `dkey` of an object (its own, and the object's). */
  private dkeyLevels(cid: number, oid: Oid, dkey: Uint8Array): number {
    const entry = this.punched.entry(cid, oid);
    return entry === undefined ? 0 : this.levelsOf(entry, dkey);
  }

  /** An entry's levels, without the dkey and akey ones when `dkey` has no records there. */
  private levelsOf(entry: PunchedObject, dkey: Uint8Array): number {
    return this.punched.mayHaveDkeyPunch(entry, dkey) ? entry.mask : entry.mask & OBJ_BIT;
  }

  /** Newest punch <= e with exactly this punch prefix, or 0n. */
  private punchAt(prefix: Buffer, e: bigint): bigint {
    const k = this.store.firstKey(this.store.punch, punchKey(prefix, e), prefixEnd(prefix));
    return k === undefined ? 0n : keyEpoch(k);
  }

  /** The punch floor of an object, a dkey of it, or an akey of that dkey at e. */
  floor(cid: number, oid: Oid, e: bigint, dkey?: Uint8Array, akey?: Uint8Array): bigint {
    const entry = this.punched.entry(cid, oid);
    if (entry === undefined) return 0n;
    const levels = dkey === undefined ? entry.mask : this.levelsOf(entry, dkey);
    let p = levels & OBJ_BIT ? this.punchAt(punchPrefix(cid, oid), e) : 0n;
    if (dkey === undefined) return p;
    if (levels & DKEY_BIT) {
      const d = this.punchAt(punchPrefix(cid, oid, dkey), e);
      if (d > p) p = d;
    }
    if (akey !== undefined && levels & AKEY_BIT) {
      const a = this.punchAt(punchPrefix(cid, oid, dkey, akey), e);
      if (a > p) p = a;
    }
    return p;
  }

  /**
   * The meta of an akey fetched as an array: `meta`, kept (see metasWritten). An array's chunks
   * are read again and again (a re-read, a strided reader, a dataset read twice), or read after
   * they were written, and a meta kept costs no index lookup: with the meta holding the chunk's
   * sole extent, a read of an object without punches then touches no index at all. Inside a
   * write transaction, its own view, not kept.
   */
  arrayMeta(akeyPfx: Buffer): AkeyMeta | undefined {
    if (this.store.writing) return this.meta(akeyPfx);
    const name = akeyPfx.toString('latin1');
    const kept = this.arrayMetas.get(name);
    if (kept !== undefined) return kept;
    const m = this.meta(akeyPfx);
    if (m !== undefined && m.kind === KIND_ARRAY) {
      if (this.arrayMetas.size >= ARRAY_METAS_KEPT_MAX) this.arrayMetas.clear();
      this.arrayMetas.set(name, m);
    }
    return m;
  }

  meta(akeyPfx: Buffer): AkeyMeta | undefined {
    // Decoded at once, so lmdb-js's shared buffer (no copy) will do.
    const v = this.store.main.getBinaryFast(withTag(akeyPfx, TAG_META));
    return v === undefined ? undefined : decodeMeta(v);
  }

  /** The visible single-value version at e above punch floor p (none for an array akey). */
  single(akeyPfx: Buffer, e: bigint, p: bigint): VisibleVersion | undefined {
    const m = this.meta(akeyPfx);
    return m === undefined || m.kind !== KIND_SINGLE ? undefined : this.singleOf(m, akeyPfx, e, p);
  }

  /**
   * The visible single-value version at e above punch floor p of the single-value akey whose meta
   * is `m`. When no version is newer than e (the meta's `newest`, the common read), it is the
   * meta's `newestFile` if it has one (a value in the data file: no lookup at all), else found
   * with one lookup; else, or when that version is gone (aggregated), with a seek.
   */
  singleOf(m: AkeyMeta, akeyPfx: Buffer, e: bigint, p: bigint): VisibleVersion | undefined {
    const newest = m.newest;
    if (newest !== undefined) {
      if (newest <= p) return undefined;
      if (newest <= e) {
        if (m.newestFile !== undefined) return { epoch: newest, payload: m.newestFile };
        // lmdb-js's shared buffer (no copy, which would be a new ArrayBuffer per read): decoded at
        // once, and inline bytes, the only part that would point into it, copied out.
        const v = this.store.main.getBinaryFast(singleKey(akeyPfx, newest));
        if (v !== undefined) return { epoch: newest, payload: ownBytes(decodeSingle(v)) };
      }
    }
    const hit = this.store.first(this.store.main, singleKey(akeyPfx, e), withTag(akeyPfx, TAG_SINGLE + 1));
    if (hit === undefined) return undefined;
    const epoch = keyEpoch(hit.key);
    return epoch > p ? { epoch, payload: decodeSingle(hit.value) } : undefined;
  }

  /**
   * extents() of an array akey whose meta is `m`: from the meta alone when it holds the akey's
   * sole extent (records.ts AkeyMeta.sole; the same answer, with no range scan).
   */
  extentsOf(
    m: AkeyMeta,
    akeyPfx: Buffer,
    e: bigint,
    p: bigint,
    lo: bigint,
    hi: bigint,
  ): Candidate<ExtentRecord>[] {
    const s = m.sole;
    if (s === undefined) return this.extents(akeyPfx, e, p, lo, hi, m.maxNr);
    if (s.epoch > e || s.epoch <= p || s.idx >= hi || s.idx + s.nr <= lo) return [];
    const src: ExtentRecord = { nr: s.nr, recordSize: m.recordSize, payload: s.payload };
    return [{ start: s.idx, end: s.idx + s.nr, epoch: s.epoch, order: 1, src }];
  }

  /** Extents with p < epoch <= e that may overlap [lo, hi); `maxNr` bounds how far back one may start. */
  extents(
    akeyPfx: Buffer,
    e: bigint,
    p: bigint,
    lo: bigint,
    hi: bigint,
    maxNr: bigint,
  ): Candidate<ExtentRecord>[] {
    const from = lo - maxNr + 1n > 0n ? lo - maxNr + 1n : 0n;
    const start = idxKey(akeyPfx, from);
    const end = hi >= 1n << 64n ? withTag(akeyPfx, TAG_EXTENT + 1) : idxKey(akeyPfx, hi);
    const out: Candidate<ExtentRecord>[] = [];
    let order = 0;
    for (const { key, value } of this.store.main.getRange({ start, end })) {
      order++;
      const epoch = keyEpoch(key);
      if (epoch > e || epoch <= p) continue;
      const rec = decodeExtent(value);
      const idx = extentKeyIdx(key, akeyPfx.length);
      if (idx + rec.nr <= lo) continue;
      out.push({ start: idx, end: idx + rec.nr, epoch, order, src: rec });
    }
    return out;
  }

  /** Whether an akey holds a visible single value or at least one visible non-hole record at e. */
  akeyExists(akeyPfx: Buffer, e: bigint, p: bigint): boolean {
    if (this.single(akeyPfx, e, p) !== undefined) return true;
    const start = withTag(akeyPfx, TAG_EXTENT);
    const end = withTag(akeyPfx, TAG_EXTENT + 1);
    let data = false;
    let holes = false;
    for (const { key, value } of this.store.main.getRange({ start, end })) {
      const epoch = keyEpoch(key);
      if (epoch > e || epoch <= p) continue;
      if (value[0] === WHERE_HOLE) holes = true;
      else data = true;
    }
    // Without punched records every data extent shows somewhere; with them, resolve to be sure.
    if (!data || !holes) return data;
    return this.resolveAll(akeyPfx, e, p).some((x) => x.src.src.payload.where !== WHERE_HOLE);
  }

  /** Call `fn` with each akey (raw bytes and record prefix) under a dkey prefix, from `from`; stop on true. */
  eachAkey(dkeyPfx: Buffer, from: Buffer, fn: (akey: Buffer, akeyPfx: Buffer) => boolean): void {
    const end = prefixEnd(dkeyPfx);
    let pos = from;
    for (;;) {
      const k = this.store.firstKey(this.store.main, pos, end);
      if (k === undefined) return;
      const { key, end: at } = readEsc(k, dkeyPfx.length);
      const akeyPfx = Buffer.from(k.subarray(0, at));
      if (fn(key, akeyPfx)) return;
      pos = prefixEnd(akeyPfx);
    }
  }

  /** Whether a dkey has an existing akey at e; `floorDkey` is the object's and dkey's punch floor. */
  dkeyExists(cid: number, oid: Oid, dkey: Uint8Array, e: bigint, floorDkey: bigint): boolean {
    const pfx = dkeyPrefix(cid, oid, dkey);
    const punchedAkeys = (this.dkeyLevels(cid, oid, dkey) & AKEY_BIT) !== 0;
    if (!punchedAkeys) {
      // The common cases in one range read of two keys: no akey at all (a conditional insert of
      // a new key), or a first akey of single values with a visible newest version (a DFS entry).
      const two = this.store.firstKeys(this.store.main, pfx, prefixEnd(pfx), 2);
      if (two.length === 0) return false;
      if (two.length === 2 && newestSingleVisible(two[0]!, two[1]!, pfx.length, e, floorDkey)) return true;
    }
    let found = false;
    this.eachAkey(pfx, pfx, (akey, akeyPfx) => {
      let p = floorDkey;
      if (punchedAkeys) {
        const a = this.punchAt(punchPrefix(cid, oid, dkey, akey), e);
        if (a > p) p = a;
      }
      found = this.akeyExists(akeyPfx, e, p);
      return found;
    });
    return found;
  }

  /** Visible dkeys of an object in byte order, after `after`, at most `limit` (reverse: from the end). */
  dkeys(
    cid: number,
    oid: Oid,
    e: bigint,
    after: Uint8Array | undefined,
    limit: number,
    reverse = false,
  ): Buffer[] {
    if (!this.objects.mayHold(cid, oid)) return [];
    const obj = objPrefix(cid, oid);
    const objEnd = prefixEnd(obj);
    const pFloor = this.floor(cid, oid, e);
    const out: Buffer[] = [];
    let low = obj;
    let high = objEnd;
    if (after !== undefined) {
      const ap = dkeyPrefix(cid, oid, after);
      if (reverse) high = ap;
      else low = prefixEnd(ap);
    }
    while (out.length < limit) {
      const k = reverse
        ? this.store.lastKey(this.store.main, low, high)
        : this.store.firstKey(this.store.main, low, high);
      if (k === undefined) break;
      const { key: dkey, end } = readEsc(k, obj.length);
      const dpfx = k.subarray(0, end);
      let p = pFloor;
      if (this.dkeyLevels(cid, oid, dkey) & DKEY_BIT) {
        const d = this.punchAt(punchPrefix(cid, oid, dkey), e);
        if (d > p) p = d;
      }
      if (this.dkeyExists(cid, oid, dkey, e, p)) out.push(dkey);
      if (reverse) high = Buffer.from(dpfx);
      else low = prefixEnd(Buffer.from(dpfx));
    }
    return out;
  }

  /** Visible akeys of a dkey in byte order, after `after`, at most `limit`. */
  akeys(
    cid: number,
    oid: Oid,
    e: bigint,
    dkey: Uint8Array,
    after: Uint8Array | undefined,
    limit: number,
  ): Buffer[] {
    if (!this.objects.mayHold(cid, oid)) return [];
    const pfx = dkeyPrefix(cid, oid, dkey);
    const pDkey = this.floor(cid, oid, e, dkey);
    const from = after === undefined ? pfx : prefixEnd(akeyPrefix(cid, oid, dkey, after));
    const punchedAkeys = (this.dkeyLevels(cid, oid, dkey) & AKEY_BIT) !== 0;
    const out: Buffer[] = [];
    if (limit <= 0) return out;
    this.eachAkey(pfx, from, (akey, akeyPfx) => {
      let p = pDkey;
      if (punchedAkeys) {
        const a = this.punchAt(punchPrefix(cid, oid, dkey, akey), e);
        if (a > p) p = a;
      }
      if (this.akeyExists(akeyPfx, e, p)) out.push(akey);
      return out.length >= limit;
    });
    return out;
  }

  /** Copy a payload's bytes [from, from + len) into out at outOff. */
  copyPayload(payload: Payload, from: number, len: number, out: Uint8Array, outOff: number): void {
    if (len === 0) return;
    if (payload.where === WHERE_FILE) this.data.read(payload.off + from, len, out, outOff);
    else if (payload.where !== WHERE_HOLE) out.set(payload.bytes.subarray(from, from + len), outOff);
  }

  /** The bytes of a single-value payload. */
  singleBytes(payload: Payload): Uint8Array {
    if (payload.where === WHERE_FILE) return this.data.readValue(payload.off, payload.len);
    return payload.where === WHERE_HOLE ? Buffer.alloc(0) : payload.bytes;
  }

  /** Resolve the whole index range of an array akey at e: visible pieces, holes included. */
  resolveAll(akeyPfx: Buffer, e: bigint, p: bigint) {
    const cands = this.extents(akeyPfx, e, p, 0n, 1n << 64n, 1n);
    return resolveExtents(cands, 0n, 1n << 64n);
  }
}

/** `p` with its inline bytes, if any, copied out of the buffer they were decoded from. */
function ownBytes(p: Payload): Payload {
  if (p.where !== WHERE_INLINE) return p;
  return { ...p, bytes: Buffer.from(p.bytes) };
}

function idxKey(akeyPfx: Buffer, idx: bigint): Buffer {
  const b = Buffer.allocUnsafe(akeyPfx.length + 9);
  akeyPfx.copy(b, 0);
  b[akeyPfx.length] = TAG_EXTENT;
  if (idx === 0n) IDX_ZERO.copy(b, akeyPfx.length + 1);
  else writeU64BE(b, idx, akeyPfx.length + 1);
  return b;
}

/**
 * Whether `meta` is the meta record of an akey under a dkey prefix of `dkeyPfxLen` bytes and
 * `next`, the key after it, that akey's newest single-value version, visible at e above floor p.
 * (Keys of an akey sort extents, meta, then single versions newest first.)
 */
function newestSingleVisible(meta: Buffer, next: Buffer, dkeyPfxLen: number, e: bigint, p: bigint): boolean {
  const at = readEsc(meta, dkeyPfxLen).end;
  if (meta.length !== at + 1 || meta[at] !== TAG_META) return false;
  if (
    next.length !== at + 1 + EPOCH_BYTES ||
    next[at] !== TAG_SINGLE ||
    meta.compare(next, 0, at, 0, at) !== 0
  )
    return false;
  const v = keyEpoch(next);
  return v <= e && v > p;
}
