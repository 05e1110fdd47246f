import { describe, expect, it } from 'vitest';
import { objPrefix } from './keys.js';
import { ObjectFilter } from './object-filter.js';

describe('ObjectFilter', () => {
  it('holds every object whose key it noted, and few others', () => {
    const f = new ObjectFilter(1 << 16);
    const noted = Array.from({ length: 1000 }, (_, i) => ({
      cid: 1 + (i % 3),
      oid: { hi: (BigInt(i) << 40n) | 0x1_0000_0001n, lo: BigInt(i) * 0x1_0000_0003n },
    }));
    for (const { cid, oid } of noted) f.noteKey(Buffer.concat([objPrefix(cid, oid), Buffer.from('dkey')]));
    for (const { cid, oid } of noted) expect(f.mayHold(cid, oid)).toBe(true);
    // 1,000 objects in 65,536 bits with 4 probes: ~0.25% false positives expected.
    let falsePositives = 0;
    for (let i = 0; i < 10_000; i++)
      if (f.mayHold(1, { hi: BigInt(i) << 40n, lo: BigInt(i) + 7n })) falsePositives++;
    expect(falsePositives).toBeLessThan(100);
    // Container id, hi and lo each count.
    const one = noted[0]!;
    expect(f.mayHold(one.cid + 100, one.oid)).toBe(false);
  });

  it('wants a power of two of at least 32 bits', () => {
    expect(() => new ObjectFilter(1000)).toThrow(/power of two/);
  });
});
