import { describe, expect, it } from 'vitest';
import {
  akeyPrefix,
  dkeyPrefix,
  escLength,
  prefixEnd,
  readEsc,
  recordTag,
  singleKey,
  TAG_SINGLE,
  writeEsc,
} from './keys.js';

const OID = { hi: 1n, lo: 2n };

describe('escaped keys', () => {
  it('round-trip and preserve byte order, shorter keys first', () => {
    const keys = [[], [0], [0, 0], [0, 1], [0, 255], [1], [1, 0], [255], [255, 0], [255, 255, 0]].map((k) =>
      Buffer.from(k),
    );
    for (const k of keys) {
      const out = Buffer.alloc(escLength(k));
      writeEsc(out, 0, k);
      expect(readEsc(out, 0).key).toEqual(k);
    }
    for (let i = 0; i < keys.length; i++) {
      for (let j = 0; j < keys.length; j++) {
        const a = akeyPrefix(1, OID, keys[i]!, Buffer.from('a'));
        const b = akeyPrefix(1, OID, keys[j]!, Buffer.from('a'));
        expect(Math.sign(Buffer.compare(a, b))).toBe(Math.sign(Buffer.compare(keys[i]!, keys[j]!)));
      }
    }
  });

  it('keeps a dkey subtree inside [prefix, prefixEnd(prefix))', () => {
    const d = dkeyPrefix(1, OID, Buffer.from([0, 7]));
    const inside = singleKey(akeyPrefix(1, OID, Buffer.from([0, 7]), Buffer.from([255, 255])), 1n);
    const longer = dkeyPrefix(1, OID, Buffer.from([0, 7, 0]));
    expect(Buffer.compare(inside, d) > 0 && Buffer.compare(inside, prefixEnd(d)) < 0).toBe(true);
    expect(Buffer.compare(longer, prefixEnd(d)) >= 0).toBe(true);
    expect(recordTag(inside)).toBe(TAG_SINGLE);
  });
});
