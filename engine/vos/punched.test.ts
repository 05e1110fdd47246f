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

  it('knows which dkeys may have dkey or akey punches, zero bytes and all', () => {
    const p = new PunchedObjects();
    const zeros = Buffer.from([0, 1, 0, 0, 7]);
    p.noteKey(punchKey(punchPrefix(1, A, b('gone')), 5n));
    p.noteKey(punchKey(punchPrefix(1, A, zeros), 5n));
    p.noteKey(punchKey(punchPrefix(1, A, b('has'), b('akey')), 6n));
    p.noteKey(punchKey(punchPrefix(1, SAME_HI), 7n));
    const a = p.entry(1, A)!;
    for (const d of [b('gone'), zeros, b('has')]) expect(p.mayHaveDkeyPunch(a, d)).toBe(true);
    for (const d of [b('kept'), Buffer.from([0, 1, 0, 0]), b('')])
      expect(p.mayHaveDkeyPunch(a, d)).toBe(false);
    // An object punch alone says nothing of its dkeys' own punch records.
    expect(p.mayHaveDkeyPunch(p.entry(1, SAME_HI)!, b('gone'))).toBe(false);
    // A dkey punch on that object later: both levels, and that dkey.
    p.noteKey(punchKey(punchPrefix(1, SAME_HI, b('later')), 8n));
    expect(p.levels(1, SAME_HI)).toBe(punchLevelBit(PUNCH_OBJ) | punchLevelBit(PUNCH_DKEY));
    expect(p.mayHaveDkeyPunch(p.entry(1, SAME_HI)!, b('later'))).toBe(true);
    expect(p.size).toBe(2);
    p.forgetKey(punchPrefix(1, SAME_HI));
    expect(p.dkeyHashes).toBe(3);
    p.forgetKey(punchPrefix(1, A));
    expect(p.dkeyHashes).toBe(0);
  });

  it("stops keeping an object's dkeys past its budget: then every dkey may have punches", () => {
    const p = new PunchedObjects(3);
    for (const d of ['a', 'b', 'c']) p.noteKey(punchKey(punchPrefix(1, A, b(d)), 5n));
    expect(p.mayHaveDkeyPunch(p.entry(1, A)!, b('z'))).toBe(false);
    p.noteKey(punchKey(punchPrefix(1, A, b('d')), 5n));
    expect(p.dkeyHashes).toBe(0);
    expect(p.mayHaveDkeyPunch(p.entry(1, A)!, b('z'))).toBe(true);
    // The budget freed goes to other objects.
    p.noteKey(punchKey(punchPrefix(1, SAME_HI, b('x')), 5n));
    expect(p.mayHaveDkeyPunch(p.entry(1, SAME_HI)!, b('x'))).toBe(true);
    expect(p.mayHaveDkeyPunch(p.entry(1, SAME_HI)!, b('y'))).toBe(false);
    expect(p.dkeyHashes).toBe(1);
  });
});
