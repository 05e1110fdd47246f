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
  const first = jumpConsistentHash(hashOid(oid), n);
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
