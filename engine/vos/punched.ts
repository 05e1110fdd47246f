/**
 * The objects of a target that have punch records, each with the levels (object, dkey, akey) it
 * has them at, as a mask of `punchLevelBit`s: reads of other objects skip punch lookups, and reads
 * of these look only at the levels present (a directory whose entries were removed has dkey
 * punches only). A superset of what the punch db holds is safe (it costs lookups); a subset is not.
 *
 * Every read asks, so a lookup allocates nothing: container local id → object id hi → lo → mask
 * (V8 hashes numbers and BigInts by value), where a key of the object's 20-byte key prefix as a
 * string needed a buffer and a string per lookup.
 */
import type { Oid } from '../../core/common/oid.js';
import { OBJ_PREFIX_BYTES } from './keys.js';

/** Bit of a punch level (keys.ts PUNCH_OBJ, PUNCH_DKEY, PUNCH_AKEY) in a mask. */
export function punchLevelBit(level: number): number {
  return 1 << (level - 1);
}

export class PunchedObjects {
  private readonly conts = new Map<number, Map<bigint, Map<bigint, number>>>();
  private objects = 0;

  /** Objects held. */
  get size(): number {
    return this.objects;
  }

  /** The levels an object has punch records at (0: none). */
  levels(cid: number, oid: Oid): number {
    if (this.objects === 0) return 0;
    return this.conts.get(cid)?.get(oid.hi)?.get(oid.lo) ?? 0;
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
    byLo.set(lo, (had ?? 0) | punchLevelBit(key[OBJ_PREFIX_BYTES]!));
  }

  /** Forget the object a key (or key prefix of at least OBJ_PREFIX_BYTES bytes) belongs to. */
  forgetKey(key: Buffer): void {
    const cid = key.readUInt32BE(0);
    const hi = key.readBigUInt64BE(4);
    const byHi = this.conts.get(cid);
    const byLo = byHi?.get(hi);
    if (byLo === undefined || !byLo.delete(key.readBigUInt64BE(12))) return;
    this.objects--;
    if (byLo.size > 0) return;
    byHi!.delete(hi);
    if (byHi!.size === 0) this.conts.delete(cid);
  }

  /** Forget every object of a container. */
  forgetContainer(cid: number): void {
    const byHi = this.conts.get(cid);
    if (byHi === undefined) return;
    for (const byLo of byHi.values()) this.objects -= byLo.size;
    this.conts.delete(cid);
  }
}
