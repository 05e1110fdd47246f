/**
 * The in-memory side of chunk reads: where a fetch's holes and data fall in the caller's buffer,
 * gathering sieved pieces, filling with the fill value, and the kept sieve buffers.
 */
import type { Recx } from '../../core/wire/obj-types.js';
import { CHUNK_IOS_IN_FLIGHT, SIEVE_BYTES_MAX } from './layout.js';
import type { ChunkIo } from './selection.js';

/**
 * Sieve buffers kept between reads (at most SIEVES_KEPT): a fresh buffer per chunk would
 * pay first-touch page faults on every read, which on some machines cost more than the read.
 */
const sieves: Uint8Array[] = [];
/** Sieve buffers kept at most. */
const SIEVES_KEPT = CHUNK_IOS_IN_FLIGHT;
/** Pieces up to this size are copied byte by byte (cheaper than a subarray and a set). */
const SMALL_COPY_BYTES = 64;

/** A sieve buffer of SIEVE_BYTES_MAX bytes: a kept one, or a new one. */
export function takeSieve(): Uint8Array {
  return sieves.pop() ?? new Uint8Array(SIEVE_BYTES_MAX);
}

/** Give a sieve buffer back for later reads. */
export function putSieve(b: Uint8Array): void {
  if (sieves.length < SIEVES_KEPT) sieves.push(b);
}

/** Call `fn(mem, nr)` for each part of `io`'s extents the fetch map says holds no data. */
export function forHoles(io: ChunkIo, map: Recx[], fn: (mem: number, nr: number) => void): void {
  let m = 0;
  for (let i = 0; i < io.idx.length; i++) {
    const idx = io.idx[i]!;
    const end = idx + io.nr[i]!;
    let at = idx;
    while (at < end) {
      while (m < map.length && Number(map[m]!.idx + map[m]!.nr) <= at) m++;
      const r = map[m];
      const rs = r ? Number(r.idx) : end;
      if (rs > at) {
        const stop = Math.min(rs, end);
        fn(io.mem[i]! + (at - idx), stop - at);
        at = stop;
        continue;
      }
      at = Math.min(end, Number(r!.idx + r!.nr));
    }
  }
}

/** Call `fn(idx, mem, nr, extentIdx)` for each part of `io`'s extents that holds data. */
export function forData(
  io: ChunkIo,
  map: Recx[],
  fn: (idx: number, mem: number, nr: number, extentIdx: number) => void,
): void {
  let m = 0;
  for (let i = 0; i < io.idx.length; i++) {
    const idx = io.idx[i]!;
    const end = idx + io.nr[i]!;
    while (m < map.length && Number(map[m]!.idx + map[m]!.nr) <= idx) m++;
    for (let k = m; k < map.length; k++) {
      const rs = Number(map[k]!.idx);
      if (rs >= end) break;
      const from = Math.max(rs, idx);
      const to = Math.min(end, Number(map[k]!.idx + map[k]!.nr));
      if (to > from) fn(from, io.mem[i]! + (from - idx), to - from, idx);
    }
  }
}

/**
 * Copy each extent of `io` from `data` (records from `first` on) to its place in `out`. Pieces of
 * whole 4-byte words go word by word when both sides are aligned; small ones byte by byte; larger
 * ones with one set.
 */
export function gather(out: Uint8Array, data: Uint8Array, io: ChunkIo, first: number, es: number): void {
  const words = es % 4 === 0 && out.byteOffset % 4 === 0 && data.byteOffset % 4 === 0;
  const o32 = words ? new Uint32Array(out.buffer, out.byteOffset, out.byteLength >>> 2) : undefined;
  const d32 = words ? new Uint32Array(data.buffer, data.byteOffset, data.byteLength >>> 2) : undefined;
  const w = es >>> 2;
  for (let i = 0; i < io.idx.length; i++) {
    const nr = io.nr[i]!;
    const bytes = nr * es;
    const from = (io.idx[i]! - first) * es;
    const to = io.mem[i]! * es;
    if (bytes > SMALL_COPY_BYTES) out.set(data.subarray(from, from + bytes), to);
    else if (o32 && d32) {
      const f = from >>> 2;
      const t = to >>> 2;
      for (let k = 0; k < nr * w; k++) o32[t + k] = d32[f + k]!;
    } else for (let k = 0; k < bytes; k++) out[to + k] = data[from + k]!;
  }
}

/** Fill elements [mem, mem + nr) of `out` with one element's bytes. */
export function fillPattern(out: Uint8Array, pattern: Uint8Array, mem: number, nr: number): void {
  const es = pattern.byteLength;
  const start = mem * es;
  const end = (mem + nr) * es;
  if (es === 1) {
    out.fill(pattern[0]!, start, end);
    return;
  }
  out.set(pattern, start);
  let filled = es;
  while (start + filled < end) {
    const n = Math.min(filled, end - start - filled);
    out.copyWithin(start + filled, start, start + n);
    filled += n;
  }
}
