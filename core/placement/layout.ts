import { DaosError } from '../common/errors.js';
import { type Oid, oidGroups, oidRedun } from '../common/oid.js';
import { redunInfo } from './oclass.js';
import type { PoolMap, TargetRef, TargetState } from './pool-map.js';

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

/*
 * 64-bit arithmetic on [hi, lo] pairs of uint32 numbers: placement hashes an object id at every
 * layout a process computes (a create, stat or unlink of a new file computes one), and BigInt
 * multiplications allocate. The results are the same bits as the 64-bit definitions (the test
 * checks them against BigInt versions), so layouts never change.
 */

/** The high 32 bits of the 64-bit product of two uint32s (16-bit limbs: every product is exact). */
function mulHi32(a: number, b: number): number {
  const a0 = a & 0xffff;
  const a1 = a >>> 16;
  const b0 = b & 0xffff;
  const b1 = b >>> 16;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const mid = ((a0 * b0) >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  return (a1 * b1 + Math.floor(p01 / 0x10000) + Math.floor(p10 / 0x10000) + (mid >>> 16)) >>> 0;
}

/** Scratch result of the 64-bit helpers: [hi, lo]. */
const r64 = new Uint32Array(2);

/** r64 = (ah:al * bh:bl) mod 2^64. */
function mul64(ah: number, al: number, bh: number, bl: number): void {
  r64[0] = mulHi32(al, bl) + Math.imul(ah, bl) + Math.imul(al, bh);
  r64[1] = Math.imul(al, bl);
}

/** Scratch view that splits an object id's two 64-bit halves into 32-bit words. */
const halves = new DataView(new ArrayBuffer(16));

/** r64 = x ^ (x >> s), 0 < s < 32. */
function xorShift(hi: number, lo: number, s: number): void {
  r64[0] = hi ^ (hi >>> s);
  r64[1] = lo ^ ((lo >>> s) | (hi << (32 - s)));
}

/** 64-bit mix of an object id (splitmix64 finaliser over hi ^ lo rotated left by 17), into r64. */
function hashOid(oid: Oid): void {
  // The id's four 32-bit words through a DataView (no BigInt arithmetic).
  halves.setBigUint64(0, oid.hi);
  halves.setBigUint64(8, oid.lo);
  const lh = halves.getUint32(8);
  const ll = halves.getUint32(12);
  // lo rotated left by 17: bits of ll move up into the high word, bits of lh wrap to the low one.
  let hi = halves.getUint32(0) ^ ((lh << 17) | (ll >>> 15));
  let lo = halves.getUint32(4) ^ ((ll << 17) | (lh >>> 15));
  xorShift(hi, lo, 30);
  mul64(r64[0]!, r64[1]!, 0xbf58476d, 0x1ce4e5b9);
  xorShift(r64[0]!, r64[1]!, 27);
  mul64(r64[0]!, r64[1]!, 0x94d049bb, 0x133111eb);
  hi = r64[0]!;
  lo = r64[1]!;
  // x ^ (x >> 31)
  r64[0] = hi ^ (hi >>> 31);
  r64[1] = lo ^ ((lo >>> 31) | (hi << 1));
}

/** Lamping & Veach's jump consistent hash of the 64-bit key hi:lo -> bucket in [0, buckets). */
function jumpHash(hi: number, lo: number, buckets: number): number {
  let b = -1;
  let j = 0;
  while (j < buckets) {
    b = j;
    // k = k * 2862933555777941757 + 1 (mod 2^64)
    mul64(hi, lo, 0x27bb2ee6, 0x87b0b0fd);
    lo = (r64[1]! + 1) >>> 0;
    hi = (r64[0]! + (lo === 0 ? 1 : 0)) >>> 0;
    // (k >> 33) + 1
    j = Math.floor(((b + 1) * 2 ** 31) / ((hi >>> 1) + 1));
  }
  return b;
}

/** Lamping & Veach's jump consistent hash: key (64 bits) -> bucket in [0, buckets). */
export function jumpConsistentHash(key: bigint, buckets: number): number {
  halves.setBigUint64(0, BigInt.asUintN(64, key));
  return jumpHash(halves.getUint32(0), halves.getUint32(4), buckets);
}

/** The placement hash of an object id (exported for tests): splitmix64's finaliser, as a bigint. */
export function oidPlacementHash(oid: Oid): bigint {
  hashOid(oid);
  return (BigInt(r64[0]!) << 32n) | BigInt(r64[1]!);
}

/**
 * Which layout of a map: 'data' is where an object's shards are now (reads go there), 'goal' is
 * where they are going (a rebuild, drain, reintegration or extension moves them; writes go to
 * both while they differ). With every target UPIN or DOWNOUT the two are the same.
 *
 * - data: NEW targets (an extension not yet rebalanced) are not part of the placement at all;
 *   DOWNOUT and UP (reintegrating) targets are replaced by spares (where rebuild put their
 *   shards); DOWN targets keep their shards (degraded: nothing serves them).
 * - goal: every target is part of the placement; DOWN, DOWNOUT and DRAIN targets are replaced by
 *   spares.
 */
export type LayoutMode = 'data' | 'goal';

/** Whether a target in `state` gives its shards to spares in this layout. */
function replaced(state: TargetState, mode: LayoutMode): boolean {
  return mode === 'data'
    ? state === 'DOWNOUT' || state === 'UP'
    : state === 'DOWN' || state === 'DOWNOUT' || state === 'DRAIN';
}

interface Placement {
  /** The placed targets in rank-interleaved order. */
  targets: TargetRef[];
  /** Their states, in the same order. */
  states: TargetState[];
  ranks: number;
}

/** The map's placed targets in rank-interleaved order (cached per map object and mode). */
const interleavedCache = new WeakMap<PoolMap, Partial<Record<LayoutMode, Placement>>>();

function interleaved(map: PoolMap, mode: LayoutMode = 'data'): Placement {
  let byMode = interleavedCache.get(map);
  if (!byMode) {
    byMode = {};
    interleavedCache.set(map, byMode);
  }
  let c = byMode[mode];
  if (!c) {
    const placed = map.targets
      .map((t, i) => ({ t, s: map.states[i]! }))
      .filter((x) => mode === 'goal' || x.s !== 'NEW')
      .sort((a, b) => a.t.target - b.t.target || a.t.rank - b.t.rank);
    const targets = placed.map((x) => x.t);
    c = { targets, states: placed.map((x) => x.s), ranks: new Set(targets.map((t) => t.rank)).size };
    byMode[mode] = c;
  }
  return c;
}

/**
 * The layout of an object over a pool map: where its shards are now (mode 'data', the default,
 * what reads use) or where they are going (mode 'goal').
 *
 * A shard whose target is replaced (see LayoutMode) goes to a spare: the first target after the
 * object's window in placement order that is not replaced, not on a rank of another member of
 * its redundancy group, and (when one is left) holds no other shard of the object. Client,
 * engines and rebuild compute the same spares from the same map. Cached per map object: callers
 * share the result and must not change it.
 */
export function objectLayout(oid: Oid, map: PoolMap, mode: LayoutMode = 'data'): ObjectLayout {
  let cache = layoutCache.get(map);
  if (cache === undefined) layoutCache.set(map, (cache = { held: 0, data: new Map(), goal: new Map() }));
  const byHi = cache[mode];
  let byLo = byHi.get(oid.hi);
  const hit = byLo?.get(oid.lo);
  if (hit !== undefined) return hit;
  const layout = computeLayout(oid, map, mode);
  if (cache.held >= LAYOUT_CACHE_ENTRIES) {
    cache.data.clear();
    cache.goal.clear();
    cache.held = 0;
    byLo = undefined;
  }
  if (byLo === undefined) byHi.set(oid.hi, (byLo = new Map()));
  byLo.set(oid.lo, layout);
  cache.held++;
  return layout;
}

/**
 * Layouts a process keeps per pool map object (client and engines alike ask for an object's
 * layout at every I/O): at most this many per map, then they are all dropped and computed again.
 */
export const LAYOUT_CACHE_ENTRIES = 4096;

/** Computed layouts per map object, mode, oid hi and lo (maps keyed by value: no string per lookup). */
const layoutCache = new WeakMap<
  PoolMap,
  { held: number } & Record<LayoutMode, Map<bigint, Map<bigint, ObjectLayout>>>
>();

function computeLayout(oid: Oid, map: PoolMap, mode: LayoutMode): ObjectLayout {
  const info = redunInfo(oidRedun(oid));
  const groups = oidGroups(oid);
  const { targets, states, ranks } = interleaved(map, mode);
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
  const n = targets.length;
  hashOid(oid);
  const first = jumpHash(r64[0]!, r64[1]!, n);
  const pos: number[] = [];
  for (let s = 0; s < need; s++) pos.push((first + s) % n);
  if (pos.some((p) => replaced(states[p]!, mode))) {
    const used = new Set(pos.filter((p) => !replaced(states[p]!, mode)));
    for (let s = 0; s < need; s++) {
      if (!replaced(states[pos[s]!]!, mode)) continue;
      const g = Math.floor(s / info.groupSize);
      const groupRanks = new Set<number>();
      for (let m = g * info.groupSize; m < (g + 1) * info.groupSize; m++)
        if (m !== s && !replaced(states[pos[m]!]!, mode)) groupRanks.add(targets[pos[m]!]!.rank);
      const spare = findSpare(targets, states, mode, first + need, groupRanks, used);
      if (spare === undefined) continue; // nowhere to go: the shard stays (degraded)
      used.add(spare);
      pos[s] = spare;
    }
  }
  return { groups, groupSize: info.groupSize, shards: pos.map((p) => targets[p]!) };
}

/** A spare position: see objectLayout. */
function findSpare(
  targets: TargetRef[],
  states: TargetState[],
  mode: LayoutMode,
  from: number,
  groupRanks: Set<number>,
  used: Set<number>,
): number | undefined {
  const n = targets.length;
  let fallback: number | undefined;
  for (let i = 0; i < n; i++) {
    const p = (from + i) % n;
    if (replaced(states[p]!, mode) || groupRanks.has(targets[p]!.rank)) continue;
    if (!used.has(p)) return p;
    fallback ??= p;
  }
  return fallback;
}

/** Whether the goal layout of `map` differs from its data layout for some object (something to move). */
export function layoutsDiffer(map: PoolMap): boolean {
  return map.states.some((s) => s === 'NEW' || s === 'UP' || s === 'DOWN' || s === 'DRAIN');
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
