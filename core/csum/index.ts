/**
 * Data checksums of a container whose `checksum` property is 'crc32c': CRC32C (Castagnoli, the
 * iSCSI polynomial, SIMD-accelerated by @node-rs/crc32) of each CSUM_CHUNK_BYTES chunk of a
 * buffer, the last chunk short. The client computes them for every value and extent it writes;
 * the engine checks them on update and stores each record's with the record's bytes, chunked
 * from the record's first byte; every fetch checks the whole chunks it reads.
 *
 * On the wire a checksum list travels as bytes: each CRC a little-endian uint32.
 */
import { crc32c } from '@node-rs/crc32';
import { DaosError } from '../common/errors.js';

/** Bytes covered by one checksum (DAOS's default chunk size is 32 KiB too). */
export const CSUM_CHUNK_BYTES = 32 * 1024;

/** The CRC32C of `data` (one value, not chunked). */
export function crc32cOf(data: Uint8Array): number {
  return crc32c(data) >>> 0;
}

/** Checksums a buffer of `len` bytes has: one per started chunk. */
export function csumChunkCount(len: number): number {
  return Math.ceil(len / CSUM_CHUNK_BYTES);
}

/** CRC32C of each CSUM_CHUNK_BYTES chunk of `data` (the last chunk short); empty for empty data. */
export function chunkCsums(data: Uint8Array): Uint32Array {
  const n = csumChunkCount(data.length);
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const start = i * CSUM_CHUNK_BYTES;
    out[i] = crc32c(data.subarray(start, Math.min(start + CSUM_CHUNK_BYTES, data.length))) >>> 0;
  }
  return out;
}

/**
 * The first chunk of `data` whose CRC32C differs from `csums[firstChunk + i]`, or -1 when all
 * match. `data` holds whole chunks of a record starting at chunk `firstChunk` (the last one may
 * be the record's short last chunk).
 */
export function firstBadChunk(data: Uint8Array, csums: Uint32Array, firstChunk = 0): number {
  const n = csumChunkCount(data.length);
  for (let i = 0; i < n; i++) {
    const start = i * CSUM_CHUNK_BYTES;
    const crc = crc32c(data.subarray(start, Math.min(start + CSUM_CHUNK_BYTES, data.length))) >>> 0;
    if (crc !== csums[firstChunk + i]) return firstChunk + i;
  }
  return -1;
}

/** Whether `csums` are the chunk checksums of `data`. */
export function csumsMatch(data: Uint8Array, csums: Uint32Array): boolean {
  return csums.length === csumChunkCount(data.length) && firstBadChunk(data, csums) < 0;
}

/** Checksums as wire bytes (little-endian uint32 each). */
export function csumsToBytes(csums: Uint32Array): Uint8Array {
  const out = Buffer.allocUnsafe(csums.length * 4);
  for (let i = 0; i < csums.length; i++) out.writeUInt32LE(csums[i]!, i * 4);
  return out;
}

/** Wire bytes back to checksums; DER_INVAL unless a whole number of uint32s. */
export function csumsFromBytes(bytes: Uint8Array, field = 'csums'): Uint32Array {
  if (bytes.length % 4 !== 0)
    throw new DaosError('DER_INVAL', `bad request: ${field} must be a multiple of 4 bytes`);
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const out = new Uint32Array(bytes.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = b.readUInt32LE(i * 4);
  return out;
}
