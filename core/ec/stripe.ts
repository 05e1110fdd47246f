/**
 * Pure geometry of erasure-coded arrays. An EC group has k data shards (0..k-1) and p parity
 * shards (k..k+p-1). An array akey of record size rsize is cut into cells of `cellRecords`
 * records; stripe s is the k consecutive cells covering records [s*k*cr, (s+1)*k*cr). Data shard i
 * holds cell i of every stripe at its original record indexes; parity shard k+j holds parity cell j
 * of stripe s at records [s*cr, (s+1)*cr) tagged with bit 63 and j in bits 60..62 (so one target's
 * records of two roles never meet). Array indexes of EC objects stay below EC_RECORD_INDEX_LIMIT.
 * Record indexes are bigints, as `Recx` on the wire.
 */

import { bigMax, bigMin } from '../common/bigint.js';
import { check, DaosError } from '../common/errors.js';
import type { Recx } from '../wire/obj-types.js';
import {
  EC_CELL_BYTES_DEFAULT,
  EC_PARITY_BIT,
  EC_PARITY_CELL_SHIFT,
  EC_PIECES_MAX,
  EC_RECORD_INDEX_LIMIT,
} from './limits.js';

/** Records per cell for a record size: max(1, floor(cellBytes / rsize)). */
export function cellRecordsFor(rsize: number, cellBytes: number = EC_CELL_BYTES_DEFAULT): number {
  check(
    Number.isSafeInteger(rsize) && rsize >= 1,
    'DER_INVAL',
    () => `EC record size must be >= 1 byte, got ${rsize}`,
  );
  check(
    Number.isSafeInteger(cellBytes) && cellBytes >= 1,
    'DER_INVAL',
    () => `EC cell size must be >= 1 byte, got ${cellBytes}`,
  );
  return Math.max(1, Math.floor(cellBytes / rsize));
}

/** One part of an extent that falls in a single cell. */
export interface ExtentPiece {
  /** Data shard (0..k-1) holding the piece. */
  shard: number;
  stripe: bigint;
  /** First record, at its original index (data shards keep original indexes). */
  idx: bigint;
  nr: bigint;
  /** Records from the start of the extent to the start of this piece. */
  offsetInExtent: bigint;
}

export type CellCover = 'full' | 'partial' | 'none';

/** A stripe an I/O touches: whether the extents cover it whole, and how each data cell is covered. */
export interface StripeCover {
  stripe: bigint;
  full: boolean;
  cells: CellCover[];
}

/** Where one record lives. */
export interface RecordPlace {
  stripe: bigint;
  /** Data shard 0..k-1. */
  shard: number;
  /** Records from the start of its cell. */
  offsetInCell: number;
}

/** A cell to read from one shard (data shards 0..k-1, parity shards k..k+p-1). */
export interface CellFetch {
  shard: number;
  recx: Recx;
}

/** What a reader fetches to serve one stripe while some shards are out. */
export interface DegradedReadPlan {
  /** Data shards whose cell must be rebuilt (the unavailable ones). */
  rebuild: number[];
  /** k whole cells from available shards, data shards first; empty when nothing needs rebuilding. */
  fetch: CellFetch[];
}

function checkShape(k: number, cellRecords: number): bigint {
  check(
    Number.isInteger(k) && k >= 1,
    'DER_INVAL',
    () => `EC data shards k must be an integer >= 1, got ${k}`,
  );
  check(
    Number.isSafeInteger(cellRecords) && cellRecords >= 1,
    'DER_INVAL',
    () => `EC cell records must be an integer >= 1, got ${cellRecords}`,
  );
  return BigInt(cellRecords);
}

function checkRecx(idx: bigint, nr: bigint, what: string): void {
  check(
    typeof idx === 'bigint' && typeof nr === 'bigint',
    'DER_INVAL',
    () => `${what}: idx and nr must be bigints`,
  );
  check(idx >= 0n && nr >= 1n, 'DER_INVAL', () => `${what}: idx ${idx} must be >= 0 and nr ${nr} >= 1`);
  check(
    idx + nr <= EC_RECORD_INDEX_LIMIT,
    'DER_INVAL',
    () =>
      `${what}: idx ${idx} + nr ${nr} passes 2^60, the end of an erasure-coded array (EC_RECORD_INDEX_LIMIT)`,
  );
}

function checkCount(count: bigint, what: string): void {
  if (count > BigInt(EC_PIECES_MAX)) {
    throw new DaosError(
      'DER_INVAL',
      `${what} spans ${count} cells or stripes, more than EC_PIECES_MAX (${EC_PIECES_MAX})`,
    );
  }
}

/** The stripe, data shard and offset in its cell of record `idx`. */
export function locateRecord(idx: bigint, k: number, cellRecords: number): RecordPlace {
  const cr = checkShape(k, cellRecords);
  checkRecx(idx, 1n, 'record');
  const cell = idx / cr;
  return { stripe: cell / BigInt(k), shard: Number(cell % BigInt(k)), offsetInCell: Number(idx % cr) };
}

/** Cut extent [idx, idx+nr) at cell boundaries, in index order. */
export function splitExtent(idx: bigint, nr: bigint, k: number, cellRecords: number): ExtentPiece[] {
  const cr = checkShape(k, cellRecords);
  checkRecx(idx, nr, 'extent');
  const end = idx + nr;
  checkCount((end - 1n) / cr - idx / cr + 1n, `extent [${idx}, ${end})`);
  const kb = BigInt(k);
  const pieces: ExtentPiece[] = [];
  for (let pos = idx; pos < end; ) {
    const cell = pos / cr;
    const cellEnd = (cell + 1n) * cr;
    const stop = bigMin(end, cellEnd);
    pieces.push({
      shard: Number(cell % kb),
      stripe: cell / kb,
      idx: pos,
      nr: stop - pos,
      offsetInExtent: pos - idx,
    });
    pos = stop;
  }
  return pieces;
}

/** Records [idx, idx+nr) of stripe `stripe` (all k data cells). */
export function stripeExtent(stripe: bigint, k: number, cellRecords: number): Recx {
  const cr = checkShape(k, cellRecords);
  const nr = BigInt(k) * cr;
  return { idx: stripe * nr, nr };
}

/** Where data cell `cell` (= data shard) of a stripe lives on its shard: its original indexes. */
export function cellExtent(stripe: bigint, cell: number, k: number, cellRecords: number): Recx {
  const cr = checkShape(k, cellRecords);
  check(
    Number.isInteger(cell) && cell >= 0 && cell < k,
    'DER_INVAL',
    () => `data cell ${cell} is not in 0..${k - 1}`,
  );
  return { idx: (stripe * BigInt(k) + BigInt(cell)) * cr, nr: cr };
}

/** Where parity cell `parityCell` (0..p-1) of a stripe lives on its parity shard (tagged, see above). */
export function parityIndex(stripe: bigint, cellRecords: number, parityCell: number): Recx {
  const cr = checkShape(1, cellRecords);
  check(
    typeof stripe === 'bigint' && stripe >= 0n && stripe * cr < EC_RECORD_INDEX_LIMIT,
    'DER_INVAL',
    () => `stripe ${stripe} must be a bigint >= 0 below EC_RECORD_INDEX_LIMIT / cell records`,
  );
  check(
    Number.isInteger(parityCell) && parityCell >= 0 && parityCell < 1 << 3,
    'DER_INVAL',
    () => `parity cell ${parityCell} is not in 0..7`,
  );
  return { idx: parityTag(parityCell) | (stripe * cr), nr: cr };
}

function parityTag(parityCell: number): bigint {
  return EC_PARITY_BIT | (BigInt(parityCell) << EC_PARITY_CELL_SHIFT);
}

/** One shard (role) of an EC group, as a target that may hold several roles' records needs to know it. */
export interface ShardRole {
  /** Data shards of the group. */
  k: number;
  /** 0..k-1 a data shard, k.. a parity shard. */
  shard: number;
  /** The pool's cell size: an akey's cell records follow from its record size. */
  cellBytes: number;
}

/** Whether an extent starting at `idx` of an akey with `recordSize`-byte records belongs to `role`. */
export function recordOfRole(idx: bigint, recordSize: number, role: ShardRole): boolean {
  return recordShard(idx, role.k, cellRecordsFor(recordSize, role.cellBytes)) === role.shard;
}

/** A parity index without its tag: s * cellRecords + offset for stripe s. */
export function untagParity(idx: bigint): bigint {
  return idx % EC_RECORD_INDEX_LIMIT;
}

/** Which shard of a k-data group a record index on a shard belongs to: a data cell's, or k + j for parity cell j. */
export function recordShard(idx: bigint, k: number, cellRecords: number): number {
  if (idx >= EC_PARITY_BIT) return k + Number((idx - EC_PARITY_BIT) >> EC_PARITY_CELL_SHIFT);
  return Number((idx / BigInt(cellRecords)) % BigInt(k));
}

/**
 * The parts of a shard's ranges that belong to shard `shard` of the group (a target may also keep
 * records of another role of the object). Parity ranges keep their tag (see untagParity).
 */
export function rangesOfShard<R extends Recx>(
  ranges: R[],
  shard: number,
  k: number,
  cellRecords: number,
): R[] {
  const cr = checkShape(k, cellRecords);
  const out: R[] = [];
  if (shard >= k) {
    const tag = parityTag(shard - k);
    const end = tag + EC_RECORD_INDEX_LIMIT;
    for (const r of ranges) {
      const from = bigMax(r.idx, tag);
      const to = bigMin(r.idx + r.nr, end);
      if (to > from) out.push({ ...r, idx: from, nr: to - from });
    }
    return out;
  }
  const kb = BigInt(k);
  for (const r of ranges) {
    const stop = bigMin(r.idx + r.nr, EC_RECORD_INDEX_LIMIT);
    // The first cell of this shard at or after the range's start, then every k-th cell.
    let cell = r.idx / cr;
    const off = (BigInt(shard) - (cell % kb) + kb) % kb;
    for (cell += off; cell * cr < stop; cell += kb) {
      const from = bigMax(r.idx, cell * cr);
      const to = bigMin(stop, (cell + 1n) * cr);
      if (to > from) out.push({ ...r, idx: from, nr: to - from });
    }
  }
  return out;
}

/**
 * The stripes the extents touch, in stripe order, with how much of each data cell they cover
 * (overlapping or adjacent extents count as their union). A `full` stripe can be encoded from the
 * update alone; any other needs the cells that are not `full` read back first.
 */
export function stripesTouched(extents: readonly Recx[], k: number, cellRecords: number): StripeCover[] {
  const cr = checkShape(k, cellRecords);
  const kb = BigInt(k);
  const sr = kb * cr;
  const sorted = extents
    .map((e, i) => {
      checkRecx(e.idx, e.nr, `extent ${i}`);
      return { idx: e.idx, end: e.idx + e.nr };
    })
    .sort((a, b) => (a.idx < b.idx ? -1 : a.idx > b.idx ? 1 : 0));
  const merged: Array<{ idx: bigint; end: bigint }> = [];
  for (const e of sorted) {
    const last = merged[merged.length - 1];
    if (last && e.idx <= last.end) {
      if (e.end > last.end) last.end = e.end;
    } else merged.push({ ...e });
  }
  let count = 0n;
  for (const m of merged) count += (m.end - 1n) / sr - m.idx / sr + 1n;
  checkCount(count, 'the extents');

  const covered = new Map<bigint, bigint[]>();
  const order: bigint[] = [];
  for (const m of merged) {
    for (let s = m.idx / sr; s <= (m.end - 1n) / sr; s++) {
      let cells = covered.get(s);
      if (!cells) {
        cells = new Array<bigint>(k).fill(0n);
        covered.set(s, cells);
        order.push(s);
      }
      for (let c = 0; c < k; c++) {
        const lo = s * sr + BigInt(c) * cr;
        const from = bigMax(m.idx, lo);
        const to = bigMin(m.end, lo + cr);
        if (to > from) cells[c]! += to - from;
      }
    }
  }
  return order.map((stripe) => {
    const cells = covered
      .get(stripe)!
      .map((n): CellCover => (n === cr ? 'full' : n === 0n ? 'none' : 'partial'));
    return { stripe, full: cells.every((c) => c === 'full'), cells };
  });
}

/** For a partial-stripe write: the data cells to read back (every cell the update does not cover whole). */
export function cellsToReadBack(cover: StripeCover, k: number, cellRecords: number): CellFetch[] {
  const out: CellFetch[] = [];
  cover.cells.forEach((c, i) => {
    if (c !== 'full') out.push({ shard: i, recx: cellExtent(cover.stripe, i, k, cellRecords) });
  });
  return out;
}

/**
 * The k data cells (cellRecords * rsize bytes each) of stripe `stripe` after writing `extents`
 * over `base` (the old cells, or zeros when omitted: a full-stripe write). Extents are an update's
 * (each `data` is nr * rsize bytes); parts outside the stripe are ignored; where extents overlap
 * the later one wins. `base` is not modified.
 */
export function assembleStripe(
  stripe: bigint,
  k: number,
  cellRecords: number,
  rsize: number,
  extents: ReadonlyArray<Recx & { data: Uint8Array }>,
  base?: readonly Uint8Array[],
): Uint8Array[] {
  const cr = checkShape(k, cellRecords);
  check(
    Number.isSafeInteger(rsize) && rsize >= 1,
    'DER_INVAL',
    () => `record size must be >= 1 byte, got ${rsize}`,
  );
  const cellBytes = cellRecords * rsize;
  check(
    Number.isSafeInteger(cellBytes),
    'DER_INVAL',
    () => `cell of ${cellRecords} x ${rsize} bytes is too large`,
  );
  if (base) {
    check(
      base.length === k,
      'DER_INVAL',
      () => `assembleStripe base has ${base.length} cells, expected ${k}`,
    );
    for (let i = 0; i < k; i++) {
      const c = base[i];
      check(
        c instanceof Uint8Array && c.length === cellBytes,
        'DER_INVAL',
        () => `base cell ${i} is ${c?.length} bytes, expected ${cellBytes}`,
      );
    }
  }
  const cells = Array.from({ length: k }, (_, i) =>
    base ? Uint8Array.from(base[i]!) : new Uint8Array(cellBytes),
  );
  const { idx: lo, nr: snr } = stripeExtent(stripe, k, cellRecords);
  const hi = lo + snr;
  extents.forEach((e, n) => {
    checkRecx(e.idx, e.nr, `extent ${n}`);
    check(
      e.data instanceof Uint8Array && BigInt(e.data.length) === e.nr * BigInt(rsize),
      'DER_INVAL',
      () => `extent ${n}: data is ${e.data?.length} bytes, expected nr ${e.nr} x rsize ${rsize}`,
    );
    const from = bigMax(e.idx, lo);
    const to = bigMin(e.idx + e.nr, hi);
    if (to <= from) return;
    for (const piece of splitExtent(from, to - from, k, cellRecords)) {
      const src = Number(piece.idx - e.idx) * rsize;
      const dst = Number(piece.idx % cr) * rsize;
      cells[piece.shard]!.set(e.data.subarray(src, src + Number(piece.nr) * rsize), dst);
    }
  });
  return cells;
}

/**
 * Degraded read of one stripe: with shards `unavailable` (0..k+p-1) out, which cells to fetch
 * from which shards so that EcCodec.reconstruct (cells placed at their shard's slot) rebuilds the
 * missing data cells. More than p unavailable is DER_DATA_LOSS.
 */
export function degradedReadPlan(
  stripe: bigint,
  k: number,
  p: number,
  cellRecords: number,
  unavailable: Iterable<number>,
): DegradedReadPlan {
  checkShape(k, cellRecords);
  check(
    Number.isInteger(p) && p >= 1,
    'DER_INVAL',
    () => `EC parity shards p must be an integer >= 1, got ${p}`,
  );
  const out = new Set<number>();
  for (const s of unavailable) {
    check(
      Number.isInteger(s) && s >= 0 && s < k + p,
      'DER_INVAL',
      () => `shard ${s} is not in 0..${k + p - 1}`,
    );
    out.add(s);
  }
  if (out.size > p) {
    throw new DaosError(
      'DER_DATA_LOSS',
      `stripe ${stripe}: shards ${[...out].sort((a, b) => a - b).join(',')} are out, an EC ${k}+${p} group survives ${p}`,
    );
  }
  const rebuild = [...out].filter((s) => s < k).sort((a, b) => a - b);
  if (rebuild.length === 0) return { rebuild, fetch: [] };
  const fetch: CellFetch[] = [];
  for (let s = 0; s < k + p && fetch.length < k; s++) {
    if (out.has(s)) continue;
    fetch.push({
      shard: s,
      recx: s < k ? cellExtent(stripe, s, k, cellRecords) : parityIndex(stripe, cellRecords, s - k),
    });
  }
  return { rebuild, fetch };
}
