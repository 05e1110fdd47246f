import { describe, expect, it } from 'vitest';
import { PUNCH_AKEY, PUNCH_DKEY, PUNCH_OBJ, punchKey, punchPrefix } from './keys.js';
import { PunchedObjects, punchLevelBit } from './punched.js';

const b = (s: string) => Buffer.from(s);
const A = { hi: 1n, lo: 2n };
/** Objects that share two of A's three coordinates (container, hi, lo) each. */
const SAME_LO = { hi: 9n, lo: 2n };
const SAME_HI = { hi: 1n, lo: 3n };

describe('PunchedObjects', () => {
  it('keeps each object apart, with the levels of its punch keys', () => {
    const p = new PunchedObjects();
    expect(p.levels(1, A)).toBe(0);
    p.noteKey(punchKey(punchPrefix(1, A, b('d')), 5n));
    p.noteKey(punchKey(punchPrefix(1, A, b('d'), b('a')), 6n));
    p.noteKey(punchKey(punchPrefix(1, A, b('e')), 7n));
    p.noteKey(punchKey(punchPrefix(2, A), 8n));
    p.noteKey(punchKey(punchPrefix(1, SAME_LO), 9n));
    expect(p.size).toBe(3);
    expect(p.levels(1, A)).toBe(punchLevelBit(PUNCH_DKEY) | punchLevelBit(PUNCH_AKEY));
    expect(p.levels(2, A)).toBe(punchLevelBit(PUNCH_OBJ));
    expect(p.levels(1, SAME_LO)).toBe(punchLevelBit(PUNCH_OBJ));
    expect(p.levels(1, SAME_HI)).toBe(0);
    expect(p.levels(3, A)).toBe(0);
  });

  it('forgets one object by any key of it, and a whole container', () => {
    const p = new PunchedObjects();
    for (const [cid, oid] of [
      [1, A],
      [1, SAME_LO],
      [1, SAME_HI],
      [2, A],
    ] as const)
      p.noteKey(punchKey(punchPrefix(cid, oid), 1n));
    p.forgetKey(punchPrefix(1, A, b('any dkey')));
    expect(p.size).toBe(3);
    expect(p.levels(1, A)).toBe(0);
    expect(p.levels(1, SAME_HI)).toBe(punchLevelBit(PUNCH_OBJ));
    p.forgetKey(punchPrefix(1, A)); // not held any more: nothing changes
    expect(p.size).toBe(3);
    p.forgetContainer(1);
    expect(p.size).toBe(1);
    expect(p.levels(1, SAME_LO)).toBe(0);
    expect(p.levels(2, A)).toBe(punchLevelBit(PUNCH_OBJ));
    p.noteKey(punchKey(punchPrefix(1, A), 2n));
    expect(p.size).toBe(2);
  });
});
