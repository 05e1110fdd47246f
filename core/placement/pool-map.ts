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

/** States in which a target serves I/O. */
export function targetServes(state: TargetState): boolean {
  return state === 'UP' || state === 'UPIN' || state === 'DRAIN';
}

/** The state of a target in the map (undefined when the map does not list it). */
export function targetState(map: PoolMap, ref: TargetRef): TargetState | undefined {
  const i = map.targets.findIndex((t) => t.rank === ref.rank && t.target === ref.target);
  return i < 0 ? undefined : map.states[i];
}

/** Whether a target is listed and serving I/O. */
export function targetUp(map: PoolMap, ref: TargetRef): boolean {
  const s = targetState(map, ref);
  return s !== undefined && targetServes(s);
}

/** A new map (version + 1) with every target of `rank` DOWN; the same map when nothing changes. */
export function markRankDown(map: PoolMap, rank: number): PoolMap {
  let changed = false;
  const states = map.states.map((s, i) => {
    if (map.targets[i]!.rank !== rank || !targetServes(s)) return s;
    changed = true;
    return 'DOWN' as const;
  });
  return changed ? { ...map, version: map.version + 1, states } : map;
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
