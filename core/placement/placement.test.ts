import { describe, expect, it } from 'vitest';
import { makeOid } from '../common/oid.js';
import { seededRandom as seeded } from '../wire/seeded-random.js';
import {
  dkeyGroup,
  groupOf,
  jumpConsistentHash,
  layoutsDiffer,
  objectLayout,
  oidPlacementHash,
} from './layout.js';
import { checkClassForRf, defaultOclass, oclassByName, REDUN } from './oclass.js';
import { completeRebuild, extendMap, makePoolMap, setTargetsState } from './pool-map.js';

/** The 64-bit definitions in BigInt: the number-pair arithmetic of layout.ts must give the same bits. */
const U64 = (1n << 64n) - 1n;
function refOidHash(hi: bigint, lo: bigint): bigint {
  let z = (hi ^ ((lo << 17n) | (lo >> 47n))) & U64;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & U64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & U64;
  return (z ^ (z >> 31n)) & U64;
}
function refJump(key: bigint, buckets: number): number {
  let b = -1;
  let j = 0;
  let k = key;
  while (j < buckets) {
    b = j;
    k = (k * 2862933555777941757n + 1n) & U64;
    j = Math.floor(((b + 1) * 2 ** 31) / Number((k >> 33n) + 1n));
  }
  return b;
}

describe('placement', () => {
  const map = makePoolMap([0, 1], 4);

  it('hashes object ids and jumps exactly as the 64-bit definitions do', () => {
    const rand = seeded(7);
    const u32 = () => BigInt(Math.floor(rand() * 2 ** 32));
    const u64 = () => (u32() << 32n) | u32();
    const edges = [0n, 1n, U64, 1n << 63n, (1n << 32n) - 1n, 1n << 32n, 0xffffffff00000000n];
    const values = [...edges, ...Array.from({ length: 5000 }, u64)];
    for (const hi of values.slice(0, 200))
      for (const lo of values.slice(0, 25)) expect(oidPlacementHash({ hi, lo })).toBe(refOidHash(hi, lo));
    for (const k of values)
      for (const buckets of [1, 2, 3, 7, 8, 24, 1000, 65536])
        expect(jumpConsistentHash(k, buckets)).toBe(refJump(k, buckets));
  });

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

  it('moves the shards of out targets to spares: data layout where they are, goal layout where they go', () => {
    const wide = makePoolMap([0, 1, 2, 3, 4, 5], 2);
    const rank2 = wide.targets.filter((t) => t.rank === 2);
    const down = setTargetsState(wide, rank2, 'DOWN');
    expect(layoutsDiffer(wide)).toBe(false);
    expect(layoutsDiffer(down)).toBe(true);
    const out = completeRebuild(down);
    expect(out.states.filter((x) => x === 'DOWNOUT')).toHaveLength(2);
    for (const [redun, size] of [
      [REDUN.RP_2, 2],
      [REDUN.EC_2P1, 3],
    ] as const) {
      for (let u = 1n; u < 60n; u++) {
        const oid = makeOid('multi_hashed', redun, Math.floor(12 / size), u);
        const before = objectLayout(oid, wide);
        // DOWN: reads stay where the data is (degraded); the goal puts the shard elsewhere.
        expect(objectLayout(oid, down)).toEqual(before);
        const goal = objectLayout(oid, down, 'goal');
        // DOWNOUT (rebuilt): the data layout is the goal of the DOWN map.
        expect(objectLayout(oid, out)).toEqual(goal);
        for (let g = 0; g < goal.groups; g++) {
          const members = goal.shards.slice(g * size, (g + 1) * size);
          expect(members.some((t) => t.rank === 2)).toBe(false);
          expect(new Set(members.map((t) => t.rank)).size).toBe(size);
          // Only the shards that were on rank 2 moved.
          members.forEach((t, i) => {
            const was = before.shards[g * size + i]!;
            if (was.rank !== 2) expect(t).toEqual(was);
          });
        }
      }
    }
  });

  it('drains, reintegrates and extends through the same two layouts', () => {
    const map = makePoolMap([0, 1, 2, 3], 2);
    const oid = makeOid('multi_hashed', REDUN.RP_2, 4, 7n);
    const drain = setTargetsState(
      map,
      map.targets.filter((t) => t.rank === 1),
      'DRAIN',
    );
    expect(objectLayout(oid, drain)).toEqual(objectLayout(oid, map));
    expect(objectLayout(oid, drain, 'goal').shards.some((t) => t.rank === 1)).toBe(false);
    const drained = completeRebuild(drain);
    const back = setTargetsState(
      drained,
      drained.targets.filter((t) => t.rank === 1),
      'UP',
    );
    expect(back.states.filter((x) => x === 'UP')).toHaveLength(2);
    // Reintegrating: read from the spares, written to the returning targets.
    expect(objectLayout(oid, back)).toEqual(objectLayout(oid, drained));
    expect(objectLayout(oid, back, 'goal')).toEqual(objectLayout(oid, map));
    expect(objectLayout(oid, completeRebuild(back))).toEqual(objectLayout(oid, map));
    // Extension: NEW targets are not placed until the rebuild made them UPIN.
    const ext = extendMap(map, [4, 5], 2);
    expect(ext.targets).toHaveLength(12);
    expect(objectLayout(oid, ext)).toEqual(objectLayout(oid, map));
    expect(objectLayout(oid, completeRebuild(ext))).toEqual(objectLayout(oid, ext, 'goal'));
  });
});
