/**
 * A Bloom filter of the objects a target holds records of, so that a listing or query of an
 * object with nothing here (three of an SX file's four shards, for a file under one chunk: a DFS
 * stat asks all four for their largest dkey) answers without a range read of the index.
 * Every record written notes its object (`writeEffects`), and recovery notes every record on
 * file at open; nothing is ever taken out (a destroyed or aggregated object keeps its bits: a
 * superset is safe, it only costs the range read the filter would have saved).
 */
import type { Oid } from '../../core/common/oid.js';

/**
 * Bits of one target's filter (1 MiB of memory). With `OBJECT_FILTER_PROBES` probes, about 2%
 * false positives at a million objects on the target, 30% at four million; past that it says
 * "maybe" to almost everything, as if there were no filter.
 */
export const OBJECT_FILTER_BITS = 1 << 23;
export const OBJECT_FILTER_PROBES = 4;

/** murmur3's 32-bit finaliser. */
function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

export class ObjectFilter {
  private readonly words: Uint32Array;
  private readonly mask: number;

  constructor(bits = OBJECT_FILTER_BITS) {
    if (!Number.isInteger(Math.log2(bits)) || bits < 32)
      throw new RangeError(`object filter bits ${bits}: a power of two of at least 32`);
    this.words = new Uint32Array(bits / 32);
    this.mask = bits - 1;
  }

  /** Note the object of a main-db record key (container id | oid hi | oid lo | ...). */
  noteKey(key: Uint8Array): void {
    this.probe(word(key, 0), word(key, 4), word(key, 8), word(key, 12), word(key, 16), true);
  }

  /** False when the target holds no record of the object; true when it may. */
  mayHold(cid: number, oid: Oid): boolean {
    const hi = oid.hi;
    const lo = oid.lo;
    return this.probe(
      cid,
      Number(hi >> 32n),
      Number(hi & 0xffff_ffffn),
      Number(lo >> 32n),
      Number(lo & 0xffff_ffffn),
      false,
    );
  }

  private probe(c: number, h0: number, h1: number, l0: number, l1: number, set: boolean): boolean {
    // Two hashes of the 20 bytes; probe i at a + i·b (Kirsch–Mitzenmacher).
    let a = fmix(c ^ 0x9e3779b9);
    a = fmix(a ^ h0);
    a = fmix(a ^ h1);
    a = fmix(a ^ l0);
    a = fmix(a ^ l1);
    const b = fmix(a ^ 0x5bd1e995) | 1;
    for (let i = 0; i < OBJECT_FILTER_PROBES; i++) {
      const bit = (a + Math.imul(i, b)) & this.mask;
      const w = bit >>> 5;
      const m = 1 << (bit & 31);
      if (set) this.words[w]! |= m;
      else if ((this.words[w]! & m) === 0) return false;
    }
    return true;
  }
}

function word(key: Uint8Array, at: number): number {
  return ((key[at]! << 24) | (key[at + 1]! << 16) | (key[at + 2]! << 8) | key[at + 3]!) >>> 0;
}
