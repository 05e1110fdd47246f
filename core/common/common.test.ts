import { describe, expect, it } from 'vitest';
import { writeU64BE, writeU64LE } from './bigint.js';
import { DaosError, DER, derName } from './errors.js';
import { EPOCH_MAX, Hlc } from './hlc.js';
import { makeOid, oidGroups, oidParse, oidRedun, oidToString, oidType, oidUser } from './oid.js';
import { parseBytes } from './units.js';

describe('DER numbers', () => {
  it('follow DAOS: GURT block from -1001, DAOS block from -2001', () => {
    expect(DER.DER_NO_PERM).toBe(-1001);
    expect(DER.DER_NONEXIST).toBe(-1005);
    expect(DER.DER_NOTDIR).toBe(-1027);
    expect(DER.DER_IO).toBe(-2001);
    expect(DER.DER_CSUM).toBe(-2021);
    expect(DER.DER_TX_RESTART).toBe(-2025);
    expect(DER.DER_RF).toBe(-2031);
    expect(derName(-2037)).toBe('DER_NOTSUPPORTED');
  });
  it('errors carry code, errno and a message naming the cause', () => {
    const e = new DaosError('DER_EXIST', 'pool label "tank" is taken');
    expect(e).toBeInstanceOf(Error);
    expect(e.code).toBe('DER_EXIST');
    expect(e.errno).toBe(-1004);
    expect(e.message).toBe('DER_EXIST(-1004): pool label "tank" is taken');
    expect(DaosError.from(e.code, e.message).message).toBe(e.message);
  });
});

describe('object ids', () => {
  it('put type, redundancy and group count in the top 32 bits of hi', () => {
    const user = (0xabcdn << 64n) | 42n;
    const oid = makeOid('array', 1, 4, user);
    expect(oid.hi >> 56n).toBe(11n);
    expect((oid.hi >> 48n) & 0xffn).toBe(1n);
    expect((oid.hi >> 32n) & 0xffffn).toBe(4n);
    expect(oidType(oid)).toBe('array');
    expect(oidRedun(oid)).toBe(1);
    expect(oidGroups(oid)).toBe(4);
    expect(oidUser(oid)).toBe(user);
    expect(oidParse(oidToString(oid))).toEqual(oid);
  });
  it('reject user parts beyond 96 bits', () => {
    expect(() => makeOid('kv', 1, 1, 1n << 96n)).toThrow(/2\^96/);
  });
});

describe('HLC', () => {
  it('only moves forward and orders after remote timestamps', () => {
    const c = new Hlc();
    let last = 0n;
    for (let i = 0; i < 10_000; i++) {
      const e = c.now();
      expect(e > last).toBe(true);
      last = e;
    }
    c.update(last + 1_000_000_000n);
    expect(c.now() > last + 1_000_000_000n).toBe(true);
    expect(c.now() < EPOCH_MAX).toBe(true);
  });
});

describe('sizes', () => {
  it('parse binary suffixes as dmg and IOR do', () => {
    expect(parseBytes('4G')).toBe(4 * 2 ** 30);
    expect(parseBytes('512k')).toBe(512 * 1024);
    expect(parseBytes('1MiB')).toBe(2 ** 20);
    expect(parseBytes(4096)).toBe(4096);
    expect(() => parseBytes('four')).toThrow(/cannot parse/);
  });
});

describe('64-bit writes', () => {
  it('write what Buffer.writeBigUInt64BE/LE write, in pooled and own buffers, and refuse what they refuse', () => {
    const values = [0n, 1n, 0xffn, 0x1234_5678_9abc_def0n, (1n << 63n) + 5n, (1n << 64n) - 1n];
    for (const make of [(n: number) => Buffer.allocUnsafe(n).fill(9), (n: number) => Buffer.alloc(n, 9)]) {
      for (const v of values) {
        for (const off of [0, 3, 8]) {
          const [a, b, c, d] = [make(16), make(16), make(16), make(16)];
          writeU64BE(a, v, off);
          b.writeBigUInt64BE(v, off);
          writeU64LE(c, v, off);
          d.writeBigUInt64LE(v, off);
          expect(a.equals(b) && c.equals(d)).toBe(true);
        }
      }
    }
    const b = Buffer.alloc(16);
    expect(() => writeU64BE(b, -1n, 0)).toThrow(RangeError);
    expect(() => writeU64LE(b, 1n << 64n, 0)).toThrow(RangeError);
    expect(() => writeU64BE(b, 1n, 9)).toThrow(RangeError);
    expect(b.equals(Buffer.alloc(16))).toBe(true);
  });
});
