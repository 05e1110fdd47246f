import { describe, expect, it } from 'vitest';
import { makePoolMap, markRankDown, setTargetsState } from './pool-map.js';

describe('setTargetsState', () => {
  it('moves targets through exclude, drain and reintegrate; a no-op keeps the map and its version', () => {
    const m1 = makePoolMap([0, 1], 2);
    const m2 = setTargetsState(m1, [{ rank: 1, target: 0 }], 'DOWN');
    expect(m2.version).toBe(2);
    expect(m2.states).toEqual(['UPIN', 'UPIN', 'DOWN', 'UPIN']);
    expect(setTargetsState(m2, [{ rank: 1, target: 0 }], 'DOWN')).toBe(m2);
    // DRAIN applies to fully-in targets only: the DOWN one stays DOWN.
    const m3 = setTargetsState(m2, m2.targets, 'DRAIN');
    expect(m3.states).toEqual(['DRAIN', 'DRAIN', 'DOWN', 'DRAIN']);
    const m4 = setTargetsState(m3, m3.targets, 'UPIN');
    expect(m4.states).toEqual(['UPIN', 'UPIN', 'UPIN', 'UPIN']);
    expect(m4.version).toBe(4);
    expect(markRankDown(m4, 0).states).toEqual(['DOWN', 'DOWN', 'UPIN', 'UPIN']);
    expect(m1.states).toEqual(['UPIN', 'UPIN', 'UPIN', 'UPIN']);
  });
});
