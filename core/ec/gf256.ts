/**
 * A small, byte-wise systematic Reed–Solomon code over GF(2^8) (polynomial 0x11d) with a Cauchy
 * parity matrix. EcCodec uses it only for the last (cell length mod 8) bytes of each cell, which
 * the native library cannot take (its shards are multiples of 8 bytes); speed does not matter.
 */
import { assert } from '../common/errors.js';

const EXP = new Uint8Array(512);
const LOG = new Uint8Array(256);
{
  let x = 1;
  for (let i = 0; i < 255; i++) {
    EXP[i] = x;
    LOG[x] = i;
    x <<= 1;
    if (x & 0x100) x ^= 0x11d;
  }
  for (let i = 255; i < 512; i++) EXP[i] = EXP[i - 255]!;
}

export function gfMul(a: number, b: number): number {
  if (a === 0 || b === 0) return 0;
  return EXP[LOG[a]! + LOG[b]!]!;
}

export function gfInv(a: number): number {
  assert(a !== 0, 'GF(256) inverse of 0');
  return EXP[255 - LOG[a]!]!;
}

/**
 * Row `row` (0..k+p-1) of the generator matrix: identity rows for data, then Cauchy rows
 * 1 / (x_j + y_i) with x_j = k + j and y_i = i (disjoint, so every square submatrix is invertible).
 */
function generatorRow(k: number, row: number): Uint8Array {
  const r = new Uint8Array(k);
  if (row < k) r[row] = 1;
  else for (let i = 0; i < k; i++) r[i] = gfInv(row ^ i);
  return r;
}

/** Invert a k x k matrix over GF(256) (Gauss–Jordan); the caller guarantees it is invertible. */
function invert(m: Uint8Array[]): Uint8Array[] {
  const k = m.length;
  const a = m.map((r) => Uint8Array.from(r));
  const inv = m.map((_, i) => {
    const r = new Uint8Array(k);
    r[i] = 1;
    return r;
  });
  for (let c = 0; c < k; c++) {
    let piv = c;
    while (piv < k && a[piv]![c] === 0) piv++;
    assert(piv < k, 'singular GF(256) matrix');
    [a[c], a[piv]] = [a[piv]!, a[c]!];
    [inv[c], inv[piv]] = [inv[piv]!, inv[c]!];
    const s = gfInv(a[c]![c]!);
    for (let j = 0; j < k; j++) {
      a[c]![j] = gfMul(a[c]![j]!, s);
      inv[c]![j] = gfMul(inv[c]![j]!, s);
    }
    for (let r = 0; r < k; r++) {
      const f = a[r]![c]!;
      if (r === c || f === 0) continue;
      for (let j = 0; j < k; j++) {
        a[r]![j]! ^= gfMul(f, a[c]![j]!);
        inv[r]![j]! ^= gfMul(f, inv[c]![j]!);
      }
    }
  }
  return inv;
}

/** out = sum_i coef[i] * cells[i], byte by byte. */
function combine(coef: Uint8Array, cells: Uint8Array[], len: number): Uint8Array {
  const out = new Uint8Array(len);
  for (let i = 0; i < coef.length; i++) {
    const c = coef[i]!;
    if (c === 0) continue;
    const src = cells[i]!;
    for (let b = 0; b < len; b++) out[b]! ^= gfMul(c, src[b]!);
  }
  return out;
}

/** p parity cells of k equal-length data cells. */
export function gfEncode(k: number, p: number, data: Uint8Array[], len: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let j = 0; j < p; j++) out.push(combine(generatorRow(k, k + j), data, len));
  return out;
}

/**
 * All k+p cells from at least k present ones (undefined = missing). Present cells are returned
 * as given; the caller has checked counts and lengths.
 */
export function gfReconstruct(
  k: number,
  p: number,
  cells: Array<Uint8Array | undefined>,
  len: number,
): Uint8Array[] {
  const present: number[] = [];
  for (let i = 0; i < k + p && present.length < k; i++) if (cells[i]) present.push(i);
  assert(present.length === k, 'gfReconstruct needs k present cells');
  const inv = invert(present.map((i) => generatorRow(k, i)));
  const src = present.map((i) => cells[i]!);
  const data: Uint8Array[] = [];
  for (let i = 0; i < k; i++) data.push(cells[i] ?? combine(inv[i]!, src, len));
  const out: Uint8Array[] = [...data];
  for (let j = 0; j < p; j++) out.push(cells[k + j] ?? combine(generatorRow(k, k + j), data, len));
  return out;
}
