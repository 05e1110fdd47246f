import { DaosError } from '../common/errors.js';
import { type Oid, oidGroups, oidRedun } from '../common/oid.js';
import { redunInfo } from './oclass.js';
import type { PoolMap, TargetRef } from './pool-map.js';

/**
 * Placement: which target holds which shard of an object. Client and engine compute the same
 * answer from the same pool map, so no lookup service sits on the I/O path.
 *
 * An object has G redundancy groups of `groupSize` shards. Placement walks the pool's targets in
 * rank-interleaved order (target 0 of every rank, then target 1 of every rank, ...): its first
 * shard lands on the position chosen by jump consistent hashing of the object id, the following
 * shards take the next positions. So the shards of one object are on distinct targets while
 * G * groupSize ≤ targets, and any groupSize consecutive shards (one redundancy group) are on
 * distinct ranks, the fault domain, while groupSize ≤ ranks. A dkey's hash picks its group.
 */

export interface ObjectLayout {
  groups: number;
  groupSize: number;
  /** shards[g * groupSize + i] = target of member i of group g. */
  shards: TargetRef[];
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** 32-bit FNV-1a of bytes: dkey -> group. Fast, stable across processes and versions. */
export function hashBytes32(bytes: Uint8Array): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i]!;
    h = Math.imul(h, FNV_PRIME);
  }
  return h >>> 0;
}

const U64 = (1n << 64n) - 1n;

/** 64-bit mix of an object id (splitmix64 finaliser over hi ^ rotated lo). */
function hashOid(oid: Oid): bigint {
  let z = (oid.hi ^ ((oid.lo << 17n) | (oid.lo >> 47n))) & U64;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & U64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & U64;
  return (z ^ (z >> 31n)) & U64;
}

/** Lamping & Veach's jump consistent hash: key -> bucket in [0, buckets). */
export function jumpConsistentHash(key: bigint, buckets: number): number {
  let b = -1;
  let j = 0;
  let k = key & U64;
  while (j < buckets) {
    b = j;
    k = (k * 2862933555777941757n + 1n) & U64;
    j = Math.floor(((b + 1) * 2 ** 31) / Number((k >> 33n) + 1n));
  }
  return b;
}

/** The map's targets in rank-interleaved order (cached per map object). */
const interleavedCache = new WeakMap<PoolMap, { targets: TargetRef[]; ranks: number }>();

function interleaved(map: PoolMap): { targets: TargetRef[]; ranks: number } {
  let c = interleavedCache.get(map);
  if (!c) {
    const ranks = new Set(map.targets.map((t) => t.rank)).size;
    const targets = [...map.targets].sort((a, b) => a.target - b.target || a.rank - b.rank);
    c = { targets, ranks };
    interleavedCache.set(map, c);
  }
  return c;
}

/** The layout of an object over a pool map. */
export function objectLayout(oid: Oid, map: PoolMap): ObjectLayout {
  const info = redunInfo(oidRedun(oid));
  const groups = oidGroups(oid);
  const { targets, ranks } = interleaved(map);
  const need = groups * info.groupSize;
  if (need > targets.length) {
    throw new DaosError(
      'DER_INVAL',
      `object needs ${need} targets (${groups} groups of ${info.groupSize}); the pool has ${targets.length}`,
    );
  }
  if (info.groupSize > ranks) {
    throw new DaosError(
      'DER_INVAL',
      `a redundancy group of this object needs ${info.groupSize} engine ranks (fault domains); the pool has ${ranks}`,
    );
  }
  const first = jumpConsistentHash(hashOid(oid), targets.length);
  const shards: TargetRef[] = [];
  for (let s = 0; s < need; s++) shards.push(targets[(first + s) % targets.length]!);
  return { groups, groupSize: info.groupSize, shards };
}

/** The members of the redundancy group holding shard target `ref`, or undefined when it holds none. */
export function groupOf(layout: ObjectLayout, ref: TargetRef): TargetRef[] | undefined {
  const s = layout.shards.findIndex((t) => t.rank === ref.rank && t.target === ref.target);
  if (s < 0) return undefined;
  const g = Math.floor(s / layout.groupSize);
  return layout.shards.slice(g * layout.groupSize, (g + 1) * layout.groupSize);
}

/** The redundancy group a dkey belongs to. */
export function dkeyGroup(dkey: Uint8Array, layout: ObjectLayout): number {
  return layout.groups === 1 ? 0 : hashBytes32(dkey) % layout.groups;
}
