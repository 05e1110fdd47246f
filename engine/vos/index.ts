/**
 * The versioned object store of one target. `openVosTarget` creates the folder if needed, runs
 * recovery, and returns the VosTarget of types.ts.
 */
import { Target } from './target.js';
import type { VosOptions, VosTarget } from './types.js';

export type * from './types.js';

export async function openVosTarget(dir: string, options?: VosOptions): Promise<VosTarget> {
  return Target.open(dir, options);
}
