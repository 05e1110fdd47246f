import { describe, expect, it } from 'vitest';
import {
  badWords,
  fileName,
  fillPattern,
  OFFSET_STAMP_WORDS,
  readRank,
  stampOffset,
  transferOffsets,
} from './layout.js';
import { parseIorArgs } from './options.js';

describe('ior layout', () => {
  it('places transfers as IOR does: shared seg*N*b + rank*b + j*t, per process seg*b + j*t', () => {
    const shared = parseIorArgs(['-b', '4k', '-t', '1k', '-s', '2', '-N', '3']);
    expect([...transferOffsets(shared, 1, 0)]).toEqual([
      4096,
      5120,
      6144,
      7168,
      3 * 4096 + 4096,
      3 * 4096 + 5120,
      3 * 4096 + 6144,
      3 * 4096 + 7168,
    ]);
    const fpp = parseIorArgs(['-b', '4k', '-t', '2k', '-s', '2', '-N', '3', '-F']);
    expect([...transferOffsets(fpp, 2, 0)]).toEqual([0, 2048, 4096, 6144]);
    expect(fileName(fpp, 2)).toBe('testFile.00000002');
  });

  it('-z visits the same offsets in a seeded order; -C and -Z pick another rank', () => {
    const o = parseIorArgs(['-b', '64k', '-t', '1k', '-s', '3', '-N', '4', '-z']);
    const a = transferOffsets(o, 2, 7);
    expect([...a]).not.toEqual([...transferOffsets({ ...o, randomOffset: false }, 2, 7)]);
    expect([...a].sort((x, y) => x - y)).toEqual([...transferOffsets({ ...o, randomOffset: false }, 2, 7)]);
    expect([...transferOffsets(o, 2, 7)]).toEqual([...a]);
    const c = parseIorArgs(['-N', '4', '-C', '-Q', '3']);
    expect([0, 1, 2, 3].map((r) => readRank(c, r))).toEqual([3, 0, 1, 2]);
    const z = parseIorArgs(['-N', '5', '-Z']);
    expect([0, 1, 2, 3, 4].map((r) => readRank(z, r)).sort()).toEqual([0, 1, 2, 3, 4]);
  });

  it("fills IOR 4's timestamp pattern, rank << 32 | (signature + i), and counts bad words", () => {
    const words = new Uint32Array(64);
    fillPattern(words, 1234, 5);
    const view = new DataView(words.buffer);
    for (let i = 0; i < 32; i++) expect(view.getBigUint64(i * 8, true)).toBe((5n << 32n) | BigInt(1234 + i));
    const expected = new Uint32Array(64);
    fillPattern(expected, 1234, 5);
    expect(badWords(words, expected)).toBe(0);
    const b = new Uint8Array(words.buffer);
    b[104]! ^= 1;
    b[111]! ^= 0x80;
    expect(badWords(words, expected)).toBe(1);
    b[0]! ^= 1;
    expect(badWords(words, expected)).toBe(2);
    const other = new Uint32Array(64);
    fillPattern(other, 1234, 4);
    expect(badWords(expected, other)).toBe(32);
  });

  it('carries signature + i past 2^32 into the rank half as a 64-bit sum OR-ed with the rank', () => {
    const words = new Uint32Array(16);
    const sig = 2 ** 32 - 3;
    fillPattern(words, sig, 2);
    const view = new DataView(words.buffer);
    for (let i = 0; i < 8; i++)
      expect(view.getBigUint64(i * 8, true)).toBe((2n << 32n) | (BigInt(sig) + BigInt(i)));
  });

  it("stamps IOR 4's offset packet type every 512 words: rank << 32 | (uint32)(offset * k)", () => {
    const words = new Uint32Array(2 * 3 * OFFSET_STAMP_WORDS + 8);
    fillPattern(words, 99, 3);
    const before = Uint32Array.from(words);
    const offset = 2 ** 40 + 3 * 47008;
    stampOffset(words, offset, 3);
    const view = new DataView(words.buffer);
    for (let i = 0; i < words.length / 2; i++) {
      const got = view.getBigUint64(i * 8, true);
      if (i % OFFSET_STAMP_WORDS === 0) {
        const k = BigInt(i / OFFSET_STAMP_WORDS + 1);
        expect(got).toBe((3n << 32n) | ((BigInt(offset) * k) & 0xffff_ffffn));
      } else expect(got).toBe(new DataView(before.buffer).getBigUint64(i * 8, true));
    }
    const elsewhere = Uint32Array.from(before);
    stampOffset(elsewhere, offset + 47008, 3);
    expect(badWords(words, elsewhere)).toBe(4);
  });

  it('takes k/m/g sizes and refuses bad flags', () => {
    const o = parseIorArgs(['-b2m', '-t=64k', '-s', '4', '-wrv']);
    expect([o.blockSize, o.transferSize, o.segmentCount, o.writeFile, o.readFile, o.verbose]).toEqual([
      2 << 20,
      64 << 10,
      4,
      true,
      true,
      1,
    ]);
    expect(parseIorArgs(['-W']).writeFile).toBe(false);
    const kv = parseIorArgs(['-O', 'summaryFormat=JSON,summaryFile=/tmp/s.json']);
    expect([kv.summaryFormat, kv.summaryFile]).toEqual(['JSON', '/tmp/s.json']);
    expect(parseIorArgs([]).writeFile && parseIorArgs([]).readFile).toBe(true);
    expect(() => parseIorArgs(['-q'])).toThrow(/unknown option -q/);
    expect(() => parseIorArgs(['-b', '1x'])).toThrow(/not a size/);
    expect(() => parseIorArgs(['-b', '1m', '-t', '3k'])).toThrow(/multiple of transfer size/);
    expect(() => parseIorArgs(['-t', '12'])).toThrow(/multiple of 8/);
    expect(() => parseIorArgs(['-c'])).toThrow(/MPIIO/);
    expect(() => parseIorArgs(['-O', 'nope=1'])).toThrow(/unknown option "nope"/);
    expect(() => parseIorArgs(['--dfs.pol', 'x'])).toThrow(/unknown option --dfs.pol/);
    expect(parseIorArgs([]).dataPacketType).toBe('timestamp');
    expect(parseIorArgs(['-l', 'o']).dataPacketType).toBe('offset');
    expect(parseIorArgs(['--dataPacketType=timestamp']).dataPacketType).toBe('timestamp');
    expect(() => parseIorArgs(['-l', 'i'])).toThrow(/"i" \(incompressible, random\) is not supported here/);
    expect(() => parseIorArgs(['-l', 'x'])).toThrow(/unknown packet type "x"/);
  });
});
