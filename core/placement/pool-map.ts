/**
 * The pool map: the targets a pool spans, their states and a version that grows with every
 * change. Placement reads it; later issues move targets through DAOS's states on failure.
 */

/** DAOS's pool-map target states. */
export type TargetState = 'NEW' | 'UP' | 'UPIN' | 'DOWN' | 'DOWNOUT' | 'DRAIN';

/** A target: engine rank and target index inside that engine. */
export interface TargetRef {
  rank: number;
  target: number;
}

export interface PoolMap {
  version: number;
  /** Targets in map order (rank-major). Placement indexes into this list. */
  targets: TargetRef[];
  states: TargetState[];
  /**
   * Bytes per cell of the pool's erasure-coded arrays (DAOS's pool property ec_cell_sz); absent:
   * EC_CELL_BYTES_DEFAULT. Fixed at pool creation: client and engines cut stripes the same way.
   */
  ecCellBytes?: number;
}

/** A fresh map over `ranks` engines with `targetsPerEngine` targets each, all UPIN. */
export function makePoolMap(ranks: number[], targetsPerEngine: number, ecCellBytes?: number): PoolMap {
  const targets: TargetRef[] = [];
  for (const rank of ranks) for (let t = 0; t < targetsPerEngine; t++) targets.push({ rank, target: t });
  const map: PoolMap = { version: 1, targets, states: targets.map(() => 'UPIN') };
  if (ecCellBytes !== undefined) map.ecCellBytes = ecCellBytes;
  return map;
}

/**
 * States in which a target serves I/O: UPIN, and DRAIN (its data is still there while it moves
 * off). An UP target (being reintegrated) and a NEW one (being added) only receive writes until
 * the rebuild has filled them (see core/placement/layout.ts).
 */
export function targetServes(state: TargetState): boolean {
  return state === 'UPIN' || state === 'DRAIN';
}

/** The state of a target in the map (undefined when the map does not list it). */
export function targetState(map: PoolMap, ref: TargetRef): TargetState | undefined {
  // A plain loop: this runs for every I/O's placement, and a findIndex closure is garbage each time.
  const targets = map.targets;
  for (let i = 0; i < targets.length; i++) {
    const t = targets[i]!;
    if (t.rank === ref.rank && t.target === ref.target) return map.states[i];
  }
  return undefined;
}

/** Whether a target is listed and serving I/O. */
export function targetUp(map: PoolMap, ref: TargetRef): boolean {
  const s = targetState(map, ref);
  return s !== undefined && targetServes(s);
}

/**
 * The state a target moves to when an operator asks for `to`, or undefined when the request does
 * not apply (already there, or nothing to do): DOWN takes a serving (or new) target out
 * (exclude), DRAIN a fully-in one (drain); UP starts a reintegration that a rebuild completes
 * (from DOWNOUT; a DRAIN target just comes back UPIN, its data never left); UPIN brings a target
 * back at once (systems without rebuild).
 */
function transition(from: TargetState, to: TargetState): TargetState | undefined {
  if (from === to) return undefined;
  if (to === 'DOWN') return targetServes(from) || from === 'NEW' || from === 'UP' ? 'DOWN' : undefined;
  if (to === 'DRAIN') return from === 'UPIN' || from === 'UP' ? 'DRAIN' : undefined;
  if (to === 'UP') return from === 'DOWNOUT' ? 'UP' : from === 'DRAIN' ? 'UPIN' : undefined;
  if (to === 'UPIN') return to;
  return undefined;
}

/**
 * The map once the rebuild of `map` finished (version + 1): DOWN and DRAIN targets are out
 * (DOWNOUT), UP and NEW ones in (UPIN). The same map when nothing was in transition.
 */
export function completeRebuild(map: PoolMap): PoolMap {
  const done: Partial<Record<TargetState, TargetState>> = {
    DOWN: 'DOWNOUT',
    DRAIN: 'DOWNOUT',
    UP: 'UPIN',
    NEW: 'UPIN',
  };
  let changed = false;
  const states = map.states.map((s) => {
    const next = done[s];
    if (next === undefined) return s;
    changed = true;
    return next;
  });
  return changed ? { ...map, version: map.version + 1, states } : map;
}

/** A new map (version + 1) with `targetsPerEngine` NEW targets for each of `ranks` (pool extend). */
export function extendMap(map: PoolMap, ranks: readonly number[], targetsPerEngine: number): PoolMap {
  const targets = [...map.targets];
  const states = [...map.states];
  for (const rank of ranks) {
    for (let t = 0; t < targetsPerEngine; t++) {
      targets.push({ rank, target: t });
      states.push('NEW');
    }
  }
  return { ...map, version: map.version + 1, targets, states };
}

/**
 * A new map (version + 1) with the listed targets moved towards `state` (see `transition`);
 * the same map when nothing changes. Every ref must be in the map (the caller checks).
 */
export function setTargetsState(map: PoolMap, refs: readonly TargetRef[], state: TargetState): PoolMap {
  const wanted = new Set(refs.map((r) => `${r.rank}/${r.target}`));
  let changed = false;
  const states = map.states.map((s, i) => {
    const t = map.targets[i]!;
    if (!wanted.has(`${t.rank}/${t.target}`)) return s;
    const next = transition(s, state);
    if (next === undefined) return s;
    changed = true;
    return next;
  });
  return changed ? { ...map, version: map.version + 1, states } : map;
}

/** A new map (version + 1) with every target of `rank` DOWN; the same map when nothing changes. */
export function markRankDown(map: PoolMap, rank: number): PoolMap {
  return setTargetsState(
    map,
    map.targets.filter((t) => t.rank === rank),
    'DOWN',
  );
}

/** Ranks with no target serving I/O in the map. */
export function ranksDown(map: PoolMap): Set<number> {
  const up = new Set<number>();
  const all = new Set<number>();
  map.targets.forEach((t, i) => {
    all.add(t.rank);
    if (targetServes(map.states[i]!)) up.add(t.rank);
  });
  return new Set([...all].filter((r) => !up.has(r)));
}
