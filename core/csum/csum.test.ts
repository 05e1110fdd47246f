import { describe, expect, it } from 'vitest';
import {
  CSUM_CHUNK_BYTES,
  chunkCsums,
  crc32cOf,
  csumChunkCount,
  csumsFromBytes,
  csumsMatch,
  csumsToBytes,
  firstBadChunk,
} from './index.js';

describe('CRC32C chunk checksums', () => {
  it('matches the known CRC32C vectors', () => {
    // RFC 3720 B.4 and the usual check value.
    expect(crc32cOf(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32cOf(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crc32cOf(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    expect(crc32cOf(Uint8Array.from({ length: 32 }, (_, i) => i))).toBe(0x46dd794e);
    expect(crc32cOf(Uint8Array.from({ length: 32 }, (_, i) => 31 - i))).toBe(0x113fdb5c);
    expect(crc32cOf(new Uint8Array(0))).toBe(0);
  });

  it('chunks by 32 KiB with a short last chunk', () => {
    expect(CSUM_CHUNK_BYTES).toBe(32 * 1024);
    expect(chunkCsums(new Uint8Array(0))).toEqual(new Uint32Array(0));
    expect(csumChunkCount(1)).toBe(1);
    expect(csumChunkCount(CSUM_CHUNK_BYTES)).toBe(1);
    expect(csumChunkCount(CSUM_CHUNK_BYTES + 1)).toBe(2);
    const data = Uint8Array.from({ length: 2 * CSUM_CHUNK_BYTES + 100 }, (_, i) => (i * 7) & 0xff);
    const c = chunkCsums(data);
    expect(c.length).toBe(3);
    expect(c[0]).toBe(crc32cOf(data.subarray(0, CSUM_CHUNK_BYTES)));
    expect(c[1]).toBe(crc32cOf(data.subarray(CSUM_CHUNK_BYTES, 2 * CSUM_CHUNK_BYTES)));
    expect(c[2]).toBe(crc32cOf(data.subarray(2 * CSUM_CHUNK_BYTES)));
    expect(csumsMatch(data, c)).toBe(true);
    expect(firstBadChunk(data.subarray(CSUM_CHUNK_BYTES), c, 1)).toBe(-1);
    const bad = Uint8Array.from(data);
    bad[CSUM_CHUNK_BYTES + 5]! ^= 1;
    expect(csumsMatch(bad, c)).toBe(false);
    expect(firstBadChunk(bad, c)).toBe(1);
    expect(csumsMatch(data, c.subarray(0, 2))).toBe(false);
  });

  it('round-trips through wire bytes (little-endian)', () => {
    const c = Uint32Array.from([0xe3069283, 0, 0xffffffff]);
    const b = csumsToBytes(c);
    expect(Buffer.from(b).toString('hex')).toBe('839206e300000000ffffffff');
    // From an unaligned view too.
    const shifted = new Uint8Array(b.length + 1);
    shifted.set(b, 1);
    expect(csumsFromBytes(shifted.subarray(1))).toEqual(c);
    expect(() => csumsFromBytes(new Uint8Array(5))).toThrow(/DER_INVAL/);
  });
});
