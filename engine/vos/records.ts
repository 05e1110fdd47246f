/**
 * Byte layout of the LMDB values of the main index (the keys are in keys.ts):
 *
 *   single version  S:  where(1) | payload
 *   array extent    E:  where(1) | nr(8 BE) | recordSize(4 BE) | payload
 *   akey meta       M:  kind(1) | recordSize(4 BE) | maxNr(8 BE) then, for a single-value akey,
 *                       [newest(8 BE) [| off(8 BE) len(4 BE)]]; for an array akey,
 *                       [epoch(8 BE) | idx(8 BE) | nr(8 BE) | off(8 BE) len(4 BE)] (its sole extent)
 *
 *   payload by where:  INLINE -> the bytes | FILE -> offset(8 BE) length(4 BE) | HOLE -> nothing
 *
 *   where | CSUM_FLAG (0x80): the record has checksums, stored between the header and the payload
 *   as count(4 BE) | count x crc32c(4 BE) — the CRC32C of each CSUM_CHUNK_BYTES chunk of the
 *   record's bytes from its first byte (core/csum). Stored bytes never change, so they stay valid.
 *
 * Binary rather than msgpack: these are decoded on every read, and the inline bytes of a value can
 * be handed out as a view of the record without a copy.
 */
import { writeU64BE } from '../../core/common/bigint.js';
import { assert } from '../../core/common/errors.js';
import { TAG_EXTENT, TAG_SINGLE } from './keys.js';

export const WHERE_INLINE = 0;
export const WHERE_FILE = 1;
export const WHERE_HOLE = 2;
/** Set in the where byte of a record that carries checksums. */
const CSUM_FLAG = 0x80;

export const KIND_SINGLE = 1;
export const KIND_ARRAY = 2;

const EXTENT_HEADER_BYTES = 1 + 8 + 4;
const FILE_REF_BYTES = 8 + 4;
const META_BYTES = 1 + 4 + 8;
/** A meta with `newest` (single-value akeys; metas written before it was kept are META_BYTES). */
const META_NEWEST_BYTES = META_BYTES + 8;
/** A meta with `newest` and `newestFile`. */
const META_NEWEST_FILE_BYTES = META_NEWEST_BYTES + FILE_REF_BYTES;
/** An array akey's meta with its sole extent. */
const META_SOLE_BYTES = META_BYTES + 8 + 8 + 8 + FILE_REF_BYTES;
/** Data-file offsets are JS numbers: 2^53 bytes is far past any data file. */
const OFFSET_SAFE_MAX = Number.MAX_SAFE_INTEGER;

/** Where the bytes of a version or extent are, and their chunk checksums if they have any. */
export type Payload =
  | { where: typeof WHERE_INLINE; bytes: Buffer; csums?: Uint32Array }
  | { where: typeof WHERE_FILE; off: number; len: number; csums?: Uint32Array }
  | { where: typeof WHERE_HOLE };

/** A payload in the data file. */
export type FilePayload = Extract<Payload, { where: typeof WHERE_FILE }>;

export interface ExtentRecord {
  nr: bigint;
  recordSize: number;
  payload: Payload;
}

export interface AkeyMeta {
  kind: typeof KIND_SINGLE | typeof KIND_ARRAY;
  recordSize: number;
  /** The largest extent length ever written, so an overlap scan may start at idx - maxNr + 1. */
  maxNr: bigint;
  /**
   * Single-value akeys: no version on file is newer than this epoch (the newest one written), so
   * a read at or above it looks its version up by its exact key (Visibility.singleOf). Absent in
   * arrays' metas and in those of stores written before it was kept.
   */
  newest?: bigint;
  /**
   * Where the value of the version at `newest` is, when it is in the data file without
   * checksums: a read of the newest version takes it from here, with no second lookup. Kept with
   * that version (effects.ts, noteNewestSingle) and dropped when it is removed (aggregation).
   */
  newestFile?: FilePayload;
  /**
   * Array akeys: the akey's only extent record, while it has exactly one and that one is in the
   * data file without checksums (an array chunk written once, the common case): a read takes it
   * from here, with no range scan. Set by the write of an akey's first record, dropped by the write
   * of any other record and by the removal of any (effects.ts noteArrayExtent, forgetSoleExtent):
   * absent, a read scans as before. Absent in the metas of stores written before it was kept.
   */
  sole?: SoleExtent;
}

/** An extent record kept in its akey's meta (AkeyMeta.sole): its key's idx and epoch, its length, its bytes. */
export interface SoleExtent {
  idx: bigint;
  epoch: bigint;
  nr: bigint;
  payload: FilePayload;
}

function csumsOf(p: Payload): Uint32Array | undefined {
  return p.where === WHERE_HOLE ? undefined : p.csums;
}

function payloadBytes(p: Payload): number {
  const c = csumsOf(p);
  const cs = c === undefined ? 0 : 4 + 4 * c.length;
  return cs + (p.where === WHERE_INLINE ? p.bytes.length : p.where === WHERE_FILE ? FILE_REF_BYTES : 0);
}

function whereByte(p: Payload): number {
  return csumsOf(p) === undefined ? p.where : p.where | CSUM_FLAG;
}

function writePayload(out: Buffer, pos: number, p: Payload): void {
  const c = csumsOf(p);
  if (c !== undefined) {
    out.writeUInt32BE(c.length, pos);
    pos += 4;
    for (let i = 0; i < c.length; i++, pos += 4) out.writeUInt32BE(c[i]!, pos);
  }
  if (p.where === WHERE_INLINE) {
    out.set(p.bytes, pos);
  } else if (p.where === WHERE_FILE) {
    assert(p.off >= 0 && p.off <= OFFSET_SAFE_MAX, () => `data-file offset ${p.off} out of range`);
    out.writeUIntBE(Math.floor(p.off / 2 ** 32), pos, 4);
    out.writeUInt32BE(p.off % 2 ** 32, pos + 4);
    out.writeUInt32BE(p.len, pos + 8);
  }
}

function readPayload(whereByte: number, buf: Buffer, pos: number): Payload {
  const where = whereByte & ~CSUM_FLAG;
  let csums: Uint32Array | undefined;
  if (whereByte & CSUM_FLAG) {
    const n = buf.readUInt32BE(pos);
    pos += 4;
    csums = new Uint32Array(n);
    for (let i = 0; i < n; i++, pos += 4) csums[i] = buf.readUInt32BE(pos);
  }
  if (where === WHERE_INLINE) {
    const bytes = buf.subarray(pos);
    return csums === undefined ? { where, bytes } : { where, bytes, csums };
  }
  if (where === WHERE_FILE) {
    const off = buf.readUInt32BE(pos) * 2 ** 32 + buf.readUInt32BE(pos + 4);
    const len = buf.readUInt32BE(pos + 8);
    return csums === undefined ? { where, off, len } : { where, off, len, csums };
  }
  assert(where === WHERE_HOLE, () => `unknown payload kind ${where}`);
  return { where };
}

export function encodeSingle(p: Payload): Buffer {
  assert(p.where !== WHERE_HOLE, 'a single value is never a hole');
  const b = Buffer.allocUnsafe(1 + payloadBytes(p));
  b[0] = whereByte(p);
  writePayload(b, 1, p);
  return b;
}

export function decodeSingle(buf: Buffer): Payload {
  return readPayload(buf[0]!, buf, 1);
}

export function encodeExtent(r: ExtentRecord): Buffer {
  const b = Buffer.allocUnsafe(EXTENT_HEADER_BYTES + payloadBytes(r.payload));
  b[0] = whereByte(r.payload);
  writeU64BE(b, r.nr, 1);
  b.writeUInt32BE(r.recordSize, 9);
  writePayload(b, EXTENT_HEADER_BYTES, r.payload);
  return b;
}

export function decodeExtent(buf: Buffer): ExtentRecord {
  return {
    nr: buf.readBigUInt64BE(1),
    recordSize: buf.readUInt32BE(9),
    payload: readPayload(buf[0]!, buf, EXTENT_HEADER_BYTES),
  };
}

/** The payload of a main record of any tag, or undefined for a meta record. */
export function decodeAnyPayload(tag: number, buf: Buffer): Payload | undefined {
  if (tag === TAG_SINGLE) return decodeSingle(buf);
  if (tag === TAG_EXTENT) return decodeExtent(buf).payload;
  return undefined;
}

export function encodeMeta(m: AkeyMeta): Buffer {
  if (m.kind === KIND_ARRAY) {
    const sole = m.sole;
    const b = Buffer.allocUnsafe(sole === undefined ? META_BYTES : META_SOLE_BYTES);
    writeMetaHeader(b, m);
    if (sole !== undefined) {
      writeU64BE(b, sole.epoch, META_BYTES);
      writeU64BE(b, sole.idx, META_BYTES + 8);
      writeU64BE(b, sole.nr, META_BYTES + 16);
      writePayload(b, META_BYTES + 24, sole.payload);
    }
    return b;
  }
  const file = m.newest === undefined ? undefined : m.newestFile;
  const b = Buffer.allocUnsafe(
    m.newest === undefined ? META_BYTES : file === undefined ? META_NEWEST_BYTES : META_NEWEST_FILE_BYTES,
  );
  writeMetaHeader(b, m);
  if (m.newest !== undefined) writeU64BE(b, m.newest, META_BYTES);
  if (file !== undefined) writePayload(b, META_NEWEST_BYTES, file);
  return b;
}

function writeMetaHeader(b: Buffer, m: AkeyMeta): void {
  b[0] = m.kind;
  b.writeUInt32BE(m.recordSize, 1);
  writeU64BE(b, m.maxNr, 5);
}

export function decodeMeta(buf: Buffer): AkeyMeta {
  const kind = buf[0];
  assert(kind === KIND_SINGLE || kind === KIND_ARRAY, () => `unknown akey kind ${kind}`);
  // (A single value's maxNr is 0: no bigint read for it, on every read of a value.)
  const maxNr = buf.readUInt32BE(5) === 0 && buf.readUInt32BE(9) === 0 ? 0n : buf.readBigUInt64BE(5);
  const m: AkeyMeta = { kind, recordSize: buf.readUInt32BE(1), maxNr };
  if (kind === KIND_ARRAY) {
    if (buf.length >= META_SOLE_BYTES) {
      const p = readPayload(WHERE_FILE, buf, META_BYTES + 24);
      if (p.where === WHERE_FILE)
        m.sole = {
          epoch: buf.readBigUInt64BE(META_BYTES),
          idx: buf.readBigUInt64BE(META_BYTES + 8),
          nr: buf.readBigUInt64BE(META_BYTES + 16),
          payload: p,
        };
    }
    return m;
  }
  if (buf.length >= META_NEWEST_BYTES) m.newest = buf.readBigUInt64BE(META_BYTES);
  if (buf.length >= META_NEWEST_FILE_BYTES) {
    const p = readPayload(WHERE_FILE, buf, META_NEWEST_BYTES);
    if (p.where === WHERE_FILE) m.newestFile = p;
  }
  return m;
}

/** Bytes a record holds for accounting: inline bytes or its data-file extent. */
export function payloadHeldBytes(p: Payload): number {
  return p.where === WHERE_INLINE ? p.bytes.length : p.where === WHERE_FILE ? p.len : 0;
}
