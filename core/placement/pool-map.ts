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
}

/** A fresh map over `ranks` engines with `targetsPerEngine` targets each, all UPIN. */
export function makePoolMap(ranks: number[], targetsPerEngine: number): PoolMap {
  const targets: TargetRef[] = [];
  for (const rank of ranks) for (let t = 0; t < targetsPerEngine; t++) targets.push({ rank, target: t });
  return { version: 1, targets, states: targets.map(() => 'UPIN') };
}
