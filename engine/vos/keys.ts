/**
 * Byte layout of the LMDB keys of the index. Every key orders the way a listing must return it:
 *
 *   main:   contId(4 BE) | oid.hi(8 BE) | oid.lo(8 BE) | esc(dkey) | esc(akey) | tag(1) | ...
 *             tag 'S' | ~epoch(8 BE)                 single-value version (newest first)
 *             tag 'E' | idx(8 BE) | ~epoch(8 BE)     array extent starting at idx
 *             tag 'M'                                akey meta (kind, record size, largest nr)
 *   punch:  contId | oid | level(1) | [esc(dkey) | [esc(akey)]] | ~epoch(8 BE)
 *
 * esc() escapes 0x00 as 0x00 0x01 and terminates with 0x00 0x00, so comparing escaped keys byte
 * by byte compares the raw keys byte by byte, and a shorter key sorts before its extensions.
 */
import { writeU64BE } from '../../core/common/bigint.js';
import { assert } from '../../core/common/errors.js';
import type { Oid } from '../../core/common/oid.js';

export const CONT_ID_BYTES = 4;
export const OID_BYTES = 16;
/** contId + oid: the prefix of every record of one object. */
export const OBJ_PREFIX_BYTES = CONT_ID_BYTES + OID_BYTES;
export const EPOCH_BYTES = 8;
const U64_MAX = (1n << 64n) - 1n;

export const TAG_EXTENT = 0x45; // 'E'
export const TAG_META = 0x4d; // 'M'
export const TAG_SINGLE = 0x53; // 'S'

export const PUNCH_OBJ = 1;
export const PUNCH_DKEY = 2;
export const PUNCH_AKEY = 3;

/** Bytes esc(key) takes. */
export function escLength(key: Uint8Array): number {
  let n = key.length + 2;
  for (let i = 0; i < key.length; i++) if (key[i] === 0) n++;
  return n;
}

/** Write esc(key) at `pos`; returns the position after it. */
export function writeEsc(out: Buffer, pos: number, key: Uint8Array): number {
  for (let i = 0; i < key.length; i++) {
    const b = key[i]!;
    out[pos++] = b;
    if (b === 0) out[pos++] = 1;
  }
  out[pos++] = 0;
  out[pos++] = 0;
  return pos;
}

/** Read an escaped key starting at `pos`; returns the raw key and the position after its terminator. */
export function readEsc(buf: Uint8Array, pos: number): { key: Buffer; end: number } {
  const bytes: number[] = [];
  for (;;) {
    assert(pos < buf.length, 'escaped key runs past the end of its record key');
    const b = buf[pos]!;
    if (b !== 0) {
      bytes.push(b);
      pos++;
      continue;
    }
    const next = buf[pos + 1];
    if (next === 0) return { key: Buffer.from(bytes), end: pos + 2 };
    assert(next === 1, () => `bad escape byte ${next} in record key`);
    bytes.push(0);
    pos += 2;
  }
}

/** ~epoch: newer epochs sort first. */
export function invEpoch(epoch: bigint): bigint {
  return U64_MAX - epoch;
}

/** The epoch stored in the last 8 bytes of a version, extent or punch key. */
export function keyEpoch(key: Buffer): bigint {
  return U64_MAX - key.readBigUInt64BE(key.length - EPOCH_BYTES);
}

export function objPrefix(contId: number, oid: Oid): Buffer {
  const b = Buffer.allocUnsafe(OBJ_PREFIX_BYTES);
  b.writeUInt32BE(contId, 0);
  writeU64BE(b, oid.hi, 4);
  writeU64BE(b, oid.lo, 12);
  return b;
}

export function contPrefix(contId: number): Buffer {
  const b = Buffer.allocUnsafe(CONT_ID_BYTES);
  b.writeUInt32BE(contId, 0);
  return b;
}

/** contId | oid | esc(dkey): every record under one dkey starts with it. */
export function dkeyPrefix(contId: number, oid: Oid, dkey: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(OBJ_PREFIX_BYTES + escLength(dkey));
  objPrefixInto(b, contId, oid);
  writeEsc(b, OBJ_PREFIX_BYTES, dkey);
  return b;
}

/** contId | oid | esc(dkey) | esc(akey): every record of one akey starts with it. */
export function akeyPrefix(contId: number, oid: Oid, dkey: Uint8Array, akey: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(OBJ_PREFIX_BYTES + escLength(dkey) + escLength(akey));
  objPrefixInto(b, contId, oid);
  writeEsc(b, writeEsc(b, OBJ_PREFIX_BYTES, dkey), akey);
  return b;
}

function objPrefixInto(b: Buffer, contId: number, oid: Oid): void {
  b.writeUInt32BE(contId, 0);
  writeU64BE(b, oid.hi, 4);
  writeU64BE(b, oid.lo, 12);
}

/** prefix | tag (| ...): a record key of an akey. */
export function withTag(prefix: Buffer, tag: number): Buffer {
  const b = Buffer.allocUnsafe(prefix.length + 1);
  prefix.copy(b, 0);
  b[prefix.length] = tag;
  return b;
}

export function singleKey(akeyPfx: Buffer, epoch: bigint): Buffer {
  const b = Buffer.allocUnsafe(akeyPfx.length + 1 + EPOCH_BYTES);
  akeyPfx.copy(b, 0);
  b[akeyPfx.length] = TAG_SINGLE;
  writeU64BE(b, invEpoch(epoch), akeyPfx.length + 1);
  return b;
}

export function extentKey(akeyPfx: Buffer, idx: bigint, epoch: bigint): Buffer {
  const b = Buffer.allocUnsafe(akeyPfx.length + 1 + 8 + EPOCH_BYTES);
  akeyPfx.copy(b, 0);
  b[akeyPfx.length] = TAG_EXTENT;
  writeU64BE(b, idx, akeyPfx.length + 1);
  writeU64BE(b, invEpoch(epoch), akeyPfx.length + 9);
  return b;
}

/** Bytes of an extent key after its akey prefix: tag, idx, epoch. */
export const EXTENT_KEY_TAIL_BYTES = 1 + 8 + EPOCH_BYTES;

/** Start index of an extent key whose akey prefix is `pfxLen` bytes. */
export function extentKeyIdx(key: Buffer, pfxLen: number): bigint {
  return key.readBigUInt64BE(pfxLen + 1);
}

/** The first key after every key that starts with `prefix` (escaped prefixes never end in 0xff). */
export function prefixEnd(prefix: Buffer): Buffer {
  const b = Buffer.from(prefix);
  let i = b.length - 1;
  while (i >= 0 && b[i] === 0xff) b[i--] = 0;
  assert(i >= 0, 'prefix of all 0xff bytes has no end');
  b[i]!++;
  return b;
}

/** Punch record key: contId | oid | level | [esc(dkey) | [esc(akey)]] | ~epoch. */
export function punchKey(prefix: Buffer, epoch: bigint): Buffer {
  const b = Buffer.allocUnsafe(prefix.length + EPOCH_BYTES);
  prefix.copy(b, 0);
  writeU64BE(b, invEpoch(epoch), prefix.length);
  return b;
}

/** The prefix of the punch records of an object, dkey or akey (its level byte included). */
export function punchPrefix(contId: number, oid: Oid, dkey?: Uint8Array, akey?: Uint8Array): Buffer {
  const level = dkey === undefined ? PUNCH_OBJ : akey === undefined ? PUNCH_DKEY : PUNCH_AKEY;
  let n = OBJ_PREFIX_BYTES + 1;
  if (dkey !== undefined) n += escLength(dkey);
  if (akey !== undefined) n += escLength(akey);
  const b = Buffer.allocUnsafe(n);
  objPrefixInto(b, contId, oid);
  b[OBJ_PREFIX_BYTES] = level;
  let pos = OBJ_PREFIX_BYTES + 1;
  if (dkey !== undefined) pos = writeEsc(b, pos, dkey);
  if (akey !== undefined) writeEsc(b, pos, akey);
  return b;
}

/** The object id in a main or punch key. */
export function keyOid(key: Buffer): Oid {
  return { hi: key.readBigUInt64BE(4), lo: key.readBigUInt64BE(12) };
}

/** A string naming the object a main or punch key belongs to: its 20-byte key prefix as latin1. */
export function objNameOfKey(key: Buffer): string {
  return key.toString('latin1', 0, OBJ_PREFIX_BYTES);
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(a, b) === 0;
}

/** Position after an escaped key starting at `pos`. */
function skipEsc(key: Uint8Array, pos: number): number {
  for (;;) {
    assert(pos + 1 < key.length, 'escaped key runs past the end of its record key');
    if (key[pos] === 0) {
      if (key[pos + 1] === 0) return pos + 2;
      pos += 2;
    } else {
      pos++;
    }
  }
}

/** The tag byte of a main record key (TAG_SINGLE, TAG_EXTENT or TAG_META). */
export function recordTag(key: Uint8Array): number {
  return key[recordTagPos(key)]!;
}

/** Where the tag byte of a main record key is (the length of its akey prefix). */
export function recordTagPos(key: Uint8Array): number {
  return skipEsc(key, skipEsc(key, OBJ_PREFIX_BYTES));
}
