/**
 * Stripe I/O shared by the client (reads, degraded reads) and the coordinating engine (the
 * read-back of a partial-stripe write): reading a stripe's data cells through a caller-given
 * fetch, reconstructing the cells of unavailable data shards from parity, and the range
 * arithmetic both sides need. No transport here: the caller's `fetch` reaches the shards.
 */
import { DaosError } from '../common/errors.js';
import { type Oid, oidRedun } from '../common/oid.js';
import { redunInfo } from '../placement/oclass.js';
import type { PoolMap } from '../placement/pool-map.js';
import type { Recx } from '../wire/obj-types.js';
import { EcCodec } from './codec.js';
import { EC_CELL_BYTES_DEFAULT } from './limits.js';
import { cellExtent, degradedReadPlan, parityIndex } from './stripe.js';

/** k data and p parity shards of an erasure-coded object; undefined for other classes. */
export function ecShape(oid: Oid): { k: number; p: number } | undefined {
  let info: ReturnType<typeof redunInfo>;
  try {
    info = redunInfo(oidRedun(oid));
  } catch {
    return undefined; // an id of no known class: placement refuses it where it matters
  }
  if (info.kind !== 'ec') return undefined;
  const k = info.dataCells!;
  return { k, p: info.groupSize - k };
}

/** The pool's EC cell size in bytes. */
export function ecCellBytes(map: PoolMap | undefined): number {
  return map?.ecCellBytes ?? EC_CELL_BYTES_DEFAULT;
}

const codecs = new Map<string, EcCodec>();

/** One codec per (k, p), made on first use (the native context is reusable). */
export function codecFor(k: number, p: number): EcCodec {
  const key = `${k}+${p}`;
  let c = codecs.get(key);
  if (!c) {
    c = new EcCodec(k, p);
    codecs.set(key, c);
  }
  return c;
}

/** Errors that mean "this shard cannot answer now" (a degraded read goes around it). */
export function shardUnavailable(err: unknown): boolean {
  return (
    err instanceof DaosError &&
    (err.code === 'DER_UNREACH' ||
      err.code === 'DER_TIMEDOUT' ||
      err.code === 'DER_HG' ||
      // A corrupt copy (checksummed container): rebuilt from the other cells like a lost one.
      err.code === 'DER_CSUM')
  );
}

/** One cell as a shard returned it: cellRecords * rsize bytes (holes zero) and its data ranges. */
export interface CellRead {
  data: Uint8Array;
  map: Recx[];
}

/** Fetch `recx` of shard `shard` (0..k-1 data, k..k+p-1 parity) of the stripe's group. */
export type CellFetcher = (shard: number, recx: Recx) => Promise<CellRead>;

export interface StripeReadIn {
  k: number;
  p: number;
  cellRecords: number;
  stripe: bigint;
  /** Data shards whose cells are wanted. */
  want: number[];
  /** Shards known to be out (DOWN in the pool map); more are added when a fetch finds one unreachable. */
  unavailable: Set<number>;
  fetch: CellFetcher;
}

export interface StripeReadOut {
  /** cells[i] for every wanted data shard i (others may be absent). */
  cells: Array<Uint8Array | undefined>;
  /**
   * Data ranges (absolute record indexes) per wanted cell. A reconstructed cell's holes are not
   * known: it counts as data throughout, unless the stripe's parity is a hole (no data at all).
   */
  maps: Array<Recx[] | undefined>;
  /** Data shards that were rebuilt from parity. */
  rebuilt: number[];
}

/**
 * The wanted data cells of one stripe: fetched from their shards, or rebuilt (EcCodec) from k
 * surviving cells when a shard is out or unreachable. More than p shards out is DER_DATA_LOSS.
 */
export async function readStripeCells(input: StripeReadIn): Promise<StripeReadOut> {
  const { k, p, cellRecords, stripe, want, unavailable, fetch } = input;
  const got = new Map<number, CellRead>();
  const tryFetch = async (shard: number): Promise<void> => {
    if (got.has(shard) || unavailable.has(shard)) return;
    const recx =
      shard < k ? cellExtent(stripe, shard, k, cellRecords) : parityIndex(stripe, cellRecords, shard - k);
    try {
      got.set(shard, await fetch(shard, recx));
    } catch (err) {
      if (!shardUnavailable(err)) throw err;
      unavailable.add(shard);
    }
  };
  await Promise.all(want.map(tryFetch));
  const out: StripeReadOut = {
    cells: new Array(k).fill(undefined),
    maps: new Array(k).fill(undefined),
    rebuilt: [],
  };
  const missing = want.filter((s) => !got.has(s));
  if (missing.length > 0) {
    // Degraded: k cells from the shards still there, then reconstruct. A fetch failing on the way
    // makes a new plan (each round loses a shard, so at most p + 1 rounds).
    for (;;) {
      const plan = degradedReadPlan(stripe, k, p, cellRecords, unavailable);
      const before = unavailable.size;
      await Promise.all(plan.fetch.map((f) => tryFetch(f.shard)));
      if (unavailable.size === before) break;
    }
    const slots: Array<Uint8Array | undefined> = new Array(k + p).fill(undefined);
    let parityHasData = false;
    let parityFetched = false;
    for (const [shard, c] of got) {
      slots[shard] = c.data;
      if (shard >= k) {
        parityFetched = true;
        if (c.map.length > 0) parityHasData = true;
      }
    }
    const all = await codecFor(k, p).reconstruct(slots);
    for (const s of missing) {
      out.cells[s] = all[s];
      out.maps[s] = parityFetched && !parityHasData ? [] : [cellExtent(stripe, s, k, cellRecords)];
      out.rebuilt.push(s);
    }
  }
  for (const s of want) {
    const c = got.get(s);
    if (c) {
      out.cells[s] = c.data;
      out.maps[s] = c.map;
    }
  }
  return out;
}

// ---- record ranges as half-open [start, end) bigint pairs, sorted and disjoint ----

export type Ranges = Array<[bigint, bigint]>;

/** Sorted, merged (overlapping or adjacent joined) ranges of some extents. */
export function mergeRecx(list: readonly Recx[]): Recx[] {
  const sorted = [...list].sort((a, b) => (a.idx < b.idx ? -1 : a.idx > b.idx ? 1 : 0));
  const out: Recx[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.idx <= last.idx + last.nr) {
      const end = r.idx + r.nr;
      if (end > last.idx + last.nr) last.nr = end - last.idx;
    } else out.push({ idx: r.idx, nr: r.nr });
  }
  return out;
}

export function rangesOf(list: readonly Recx[]): Ranges {
  return mergeRecx(list).map((r) => [r.idx, r.idx + r.nr]);
}

/** `ranges` with [start, end) added. */
export function addRange(ranges: Ranges, start: bigint, end: bigint): Ranges {
  return rangesOf([...ranges.map(([a, b]) => ({ idx: a, nr: b - a })), { idx: start, nr: end - start }]);
}

/** `ranges` with [start, end) taken out. */
export function subtractRange(ranges: Ranges, start: bigint, end: bigint): Ranges {
  const out: Ranges = [];
  for (const [a, b] of ranges) {
    if (b <= start || a >= end) out.push([a, b]);
    else {
      if (a < start) out.push([a, start]);
      if (b > end) out.push([end, b]);
    }
  }
  return out;
}
