/**
 * The objects of a target that have punch records, each with the levels (object, dkey, akey) it
 * has them at, as a mask of `punchLevelBit`s: reads of other objects skip punch lookups, and reads
 * of these look only at the levels present. For the dkey and akey levels it also keeps a hash of
 * each dkey that has a punch record at either level, so that a read or conditional write of a
 * dkey that was never punched (a new name in a directory whose other entries were removed) skips
 * the punch lookups of its object's dkeys. A superset of what the punch db holds is safe (it costs
 * lookups); a subset is not.
 *
 * Every read asks, so a lookup allocates nothing: container local id → object id hi → lo → entry
 * (V8 hashes numbers and BigInts by value), where a key of the object's 20-byte key prefix as a
 * string needed a buffer and a string per lookup.
 */
import type { Oid } from '../../core/common/oid.js';
import { OBJ_PREFIX_BYTES, PUNCH_OBJ } from './keys.js';

/**
 * Dkey hashes a target keeps, over all its objects (8–16 bytes each in a Set: at most ~16 MiB).
 * An object that would pass it stops keeping its own (its lookups of dkey punches then always
 * look), so that a directory with millions of removed entries cannot grow the set without bound.
 */
export const PUNCHED_DKEY_HASHES_MAX = 1 << 20;

/** Bit of a punch level (keys.ts PUNCH_OBJ, PUNCH_DKEY, PUNCH_AKEY) in a mask. */
export function punchLevelBit(level: number): number {
  return 1 << (level - 1);
}

/** What is known of one punched object. */
export interface PunchedObject {
  /** Levels with punch records. */
  mask: number;
  /**
   * Hashes (`dkeyHash`) of the dkeys with dkey or akey punch records; undefined while there are
   * none, null once the object stopped keeping them (every dkey may have one).
   */
  dkeys: Set<number> | undefined | null;
}

/** FNV-1a over the raw bytes of a dkey (`bytes[start, end)`), as a 32-bit integer. */
export function dkeyHash(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return h | 0;
}

/** The hash of the escaped dkey at `pos` of a punch key, unescaping as it goes. */
function escapedDkeyHash(key: Buffer, pos: number): number {
  let h = 0x811c9dc5;
  for (;;) {
    const b = key[pos]!;
    if (b === 0) {
      if (key[pos + 1] === 0 || pos + 1 >= key.length) return h | 0;
      pos += 2; // 0x00 0x01: a zero byte of the key
    } else pos++;
    h = Math.imul(h ^ b, 0x01000193);
  }
}

/**
 * What an object with object-level punches only is known by (an unlinked file's shards: most of
 * the set): its mask stays a number in the map, and lookups get one of these, so that it costs
 * no object of its own.
 */
const MASK_ONLY: readonly PunchedObject[] = Array.from({ length: 8 }, (_, mask) =>
  Object.freeze({ mask, dkeys: undefined }),
);

export class PunchedObjects {
  /** container → oid hi → lo → the levels' mask alone (no dkey hashes yet), or the whole entry. */
  private readonly conts = new Map<number, Map<bigint, Map<bigint, number | PunchedObject>>>();
  private objects = 0;
  private hashes = 0;

  constructor(private readonly hashesMax = PUNCHED_DKEY_HASHES_MAX) {}

  /** Objects held. */
  get size(): number {
    return this.objects;
  }

  /** Dkey hashes held, over all objects. */
  get dkeyHashes(): number {
    return this.hashes;
  }

  /** What is known of an object, or undefined when it has no punch records. */
  entry(cid: number, oid: Oid): PunchedObject | undefined {
    if (this.objects === 0) return undefined;
    const v = this.conts.get(cid)?.get(oid.hi)?.get(oid.lo);
    return typeof v === 'number' ? MASK_ONLY[v] : v;
  }

  /** The levels an object has punch records at (0: none). */
  levels(cid: number, oid: Oid): number {
    return this.entry(cid, oid)?.mask ?? 0;
  }

  /** Whether `dkey` of the object of `entry` may have dkey or akey punch records. */
  mayHaveDkeyPunch(entry: PunchedObject, dkey: Uint8Array): boolean {
    const set = entry.dkeys;
    if (set === null) return true;
    return set?.has(dkeyHash(dkey)) === true;
  }

  /** Note a punch key (container | oid | level | ...): its object has a record at its level. */
  noteKey(key: Buffer): void {
    const cid = key.readUInt32BE(0);
    const hi = key.readBigUInt64BE(4);
    const lo = key.readBigUInt64BE(12);
    let byHi = this.conts.get(cid);
    if (byHi === undefined) this.conts.set(cid, (byHi = new Map()));
    let byLo = byHi.get(hi);
    if (byLo === undefined) byHi.set(hi, (byLo = new Map()));
    const had = byLo.get(lo);
    if (had === undefined) this.objects++;
    const level = key[OBJ_PREFIX_BYTES]!;
    const bit = punchLevelBit(level);
    let entry: PunchedObject;
    if (had === undefined || typeof had === 'number') {
      const mask = (had ?? 0) | bit;
      if (level === PUNCH_OBJ) {
        byLo.set(lo, mask);
        return;
      }
      byLo.set(lo, (entry = { mask, dkeys: undefined }));
    } else {
      entry = had;
      entry.mask |= bit;
    }
    if (level === PUNCH_OBJ || entry.dkeys === null) return;
    const h = escapedDkeyHash(key, OBJ_PREFIX_BYTES + 1);
    if (entry.dkeys === undefined) entry.dkeys = new Set();
    else if (entry.dkeys.has(h)) return;
    if (this.hashes >= this.hashesMax) {
      this.hashes -= entry.dkeys.size;
      entry.dkeys = null;
      return;
    }
    entry.dkeys.add(h);
    this.hashes++;
  }

  /** Forget the object a key (or key prefix of at least OBJ_PREFIX_BYTES bytes) belongs to. */
  forgetKey(key: Buffer): void {
    const cid = key.readUInt32BE(0);
    const hi = key.readBigUInt64BE(4);
    const byHi = this.conts.get(cid);
    const byLo = byHi?.get(hi);
    const lo = key.readBigUInt64BE(12);
    const entry = byLo?.get(lo);
    if (entry === undefined) return;
    byLo!.delete(lo);
    this.drop(entry);
    if (byLo!.size > 0) return;
    byHi!.delete(hi);
    if (byHi!.size === 0) this.conts.delete(cid);
  }

  /** Forget every object of a container. */
  forgetContainer(cid: number): void {
    const byHi = this.conts.get(cid);
    if (byHi === undefined) return;
    for (const byLo of byHi.values()) for (const entry of byLo.values()) this.drop(entry);
    this.conts.delete(cid);
  }

  private drop(entry: number | PunchedObject): void {
    this.objects--;
    if (typeof entry !== 'number' && entry.dkeys) this.hashes -= entry.dkeys.size;
  }
}
