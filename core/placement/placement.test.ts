import { describe, expect, it } from 'vitest';
import { makeOid } from '../common/oid.js';
import { dkeyGroup, groupOf, jumpConsistentHash, objectLayout } from './layout.js';
import { checkClassForRf, defaultOclass, oclassByName, REDUN } from './oclass.js';
import { makePoolMap } from './pool-map.js';

describe('placement', () => {
  const map = makePoolMap([0, 1], 4);

  it('jump consistent hash moves few keys when buckets grow', () => {
    let moved = 0;
    for (let k = 0n; k < 2000n; k++)
      if (jumpConsistentHash(k * 7919n, 8) !== jumpConsistentHash(k * 7919n, 9)) moved++;
    expect(moved / 2000).toBeGreaterThan(0.05);
    expect(moved / 2000).toBeLessThan(0.2);
  });

  it('puts the shards of an object on distinct targets and spreads objects', () => {
    const firsts = new Set<string>();
    for (let u = 1n; u < 200n; u++) {
      const layout = objectLayout(makeOid('multi_hashed', 1, 4, u), map);
      const names = layout.shards.map((t) => `${t.rank}:${t.target}`);
      expect(new Set(names).size).toBe(4);
      firsts.add(names[0]!);
    }
    expect(firsts.size).toBe(8);
  });

  it('maps dkeys over all groups of an object', () => {
    const layout = objectLayout(makeOid('multi_hashed', 1, 8, 5n), map);
    const groups = new Set<number>();
    for (let i = 0; i < 500; i++) groups.add(dkeyGroup(Buffer.from(`dkey-${i}`), layout));
    expect(groups.size).toBe(8);
  });

  it('puts the members of every redundancy group on distinct ranks', () => {
    const wide = makePoolMap([0, 1, 2, 3], 4);
    for (const [redun, size] of [
      [REDUN.RP_2, 2],
      [REDUN.RP_3, 3],
      [REDUN.EC_2P1, 3],
    ] as const) {
      for (let u = 1n; u < 100n; u++) {
        const groups = Math.floor(16 / size);
        const layout = objectLayout(makeOid('multi_hashed', redun, groups, u), wide);
        expect(new Set(layout.shards.map((t) => `${t.rank}:${t.target}`)).size).toBe(groups * size);
        for (let g = 0; g < groups; g++) {
          const members = layout.shards.slice(g * size, (g + 1) * size);
          expect(new Set(members.map((t) => t.rank)).size).toBe(size);
          expect(groupOf(layout, members[size - 1]!)).toEqual(members);
        }
      }
    }
    expect(() => objectLayout(makeOid('kv', REDUN.EC_4P2, 1, 1n), wide)).toThrow(/needs 6 engine ranks/);
  });

  it('refuses layouts wider than the pool', () => {
    expect(() => objectLayout(makeOid('kv', 1, 16, 1n), map)).toThrow(/needs 16 targets/);
  });

  it('knows DAOS class names and RF defaults', () => {
    expect(oclassByName('OC_SX').name).toBe('SX');
    expect(defaultOclass(0, 'array')).toBe('SX');
    expect(defaultOclass(1, 'kv')).toBe('RP_2GX');
    expect(() => checkClassForRf(oclassByName('S1'), 1)).toThrow(/redundancy factor is 1/);
    expect(() => oclassByName('Q9')).toThrow(/unknown object class/);
  });
});
