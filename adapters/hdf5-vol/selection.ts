/**
 * Hyperslab selections and how they fall on chunks. A selection is normalized to HDF5's regular
 * hyperslab (start, stride, count, block per dimension); `chunkPlan` turns it into, per chunk,
 * the record extents inside the chunk and where each lands in the caller's flat (C-order) buffer.
 * Everything here counts elements, not bytes.
 */
import { DaosError } from '../../core/common/errors.js';
import { EXTENTS_PER_IOD_MAX } from '../../core/common/limits.js';

/** Most dimensions a dataspace may have (HDF5's H5S_MAX_RANK). */
export const RANK_MAX = 32;

/** One dimension in numpy's form: `[start, stop, step?]`, one index, or null for all of it. */
export type DimSlice = readonly [number, number, number?] | readonly [number, number] | number | null;

/** HDF5's regular hyperslab; stride and block default to 1 in every dimension. */
export interface Hyperslab {
  readonly start: readonly number[];
  readonly stride?: readonly number[];
  readonly count: readonly number[];
  readonly block?: readonly number[];
}

/** What `ds.read` and `ds.write` take: numpy-like slices per dimension, a hyperslab, or null for all. */
export type Selection = readonly DimSlice[] | Hyperslab | null | undefined;

/** A checked selection: selected points of dimension d are start + i*stride + j, i < count, j < block. */
export interface Slab {
  readonly start: number[];
  readonly stride: number[];
  readonly count: number[];
  readonly block: number[];
  /** Selected points per dimension (count × block): the shape of the caller's buffer. */
  readonly shape: number[];
  /** Selected points in all. */
  readonly size: number;
}

function bad(msg: string): never {
  throw new DaosError('DER_INVAL', msg);
}

function isHyperslab(sel: Selection): sel is Hyperslab {
  return typeof sel === 'object' && sel !== null && !Array.isArray(sel);
}

function checkCount(v: unknown, what: string, min: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min)
    bad(`${what} is ${String(v)}; it must be an integer ≥ ${min}`);
  return v;
}

/** Check a selection against a dataspace's shape and bring it to hyperslab form. */
export function normalizeSelection(sel: Selection, shape: readonly number[]): Slab {
  const rank = shape.length;
  const start: number[] = [];
  const stride: number[] = [];
  const count: number[] = [];
  const block: number[] = [];
  if (sel === null || sel === undefined) {
    for (const n of shape) {
      start.push(0);
      stride.push(1);
      count.push(1);
      block.push(n);
    }
  } else if (isHyperslab(sel)) {
    for (const [k, v] of [
      ['start', sel.start],
      ['count', sel.count],
      ['stride', sel.stride],
      ['block', sel.block],
    ] as const) {
      if (v !== undefined && (!Array.isArray(v) || v.length !== rank))
        bad(`hyperslab ${k} must list ${rank} values (one per dimension), got ${JSON.stringify(v)}`);
    }
    for (let d = 0; d < rank; d++) {
      start.push(checkCount(sel.start[d], `hyperslab start[${d}]`, 0));
      stride.push(checkCount(sel.stride?.[d] ?? 1, `hyperslab stride[${d}]`, 1));
      count.push(checkCount(sel.count[d], `hyperslab count[${d}]`, 0));
      block.push(checkCount(sel.block?.[d] ?? 1, `hyperslab block[${d}]`, 0));
      if (count[d]! > 1 && block[d]! > stride[d]!)
        bad(
          `hyperslab dimension ${d}: block ${block[d]} is larger than stride ${stride[d]} (blocks would overlap)`,
        );
    }
  } else {
    if (!Array.isArray(sel)) bad(`a selection is an array of per-dimension slices, a hyperslab or null`);
    if (sel.length !== rank)
      bad(
        `selection has ${sel.length} dimension(s); the dataspace has ${rank} (use null for a whole dimension)`,
      );
    for (let d = 0; d < rank; d++) {
      const n = shape[d]!;
      const s = sel[d];
      if (s === null || s === undefined) {
        start.push(0);
        stride.push(1);
        count.push(1);
        block.push(n);
        continue;
      }
      if (typeof s === 'number') {
        if (!Number.isSafeInteger(s)) bad(`selection index ${s} in dimension ${d} is not an integer`);
        const i = s < 0 ? s + n : s;
        if (i < 0 || i >= n) bad(`selection index ${s} is out of bounds in dimension ${d} of extent ${n}`);
        start.push(i);
        stride.push(1);
        count.push(1);
        block.push(1);
        continue;
      }
      if (!Array.isArray(s) || s.length < 2 || s.length > 3)
        bad(
          `selection dimension ${d} must be [start, stop, step?], an index or null, got ${JSON.stringify(s)}`,
        );
      const [a, b, st = 1] = s as [number, number, number?];
      for (const v of [a, b, st])
        if (!Number.isSafeInteger(v))
          bad(`selection dimension ${d}: ${JSON.stringify(s)} holds a non-integer`);
      if (st < 1) bad(`selection dimension ${d}: step ${st} must be ≥ 1`);
      const lo = a < 0 ? a + n : a;
      const hi = b < 0 ? b + n : b;
      if (lo < 0 || lo > n || hi < 0 || hi > n)
        bad(`selection [${a}, ${b}] is out of bounds in dimension ${d} of extent ${n}`);
      const len = Math.max(0, hi - lo);
      start.push(lo);
      if (st === 1) {
        stride.push(1);
        count.push(1);
        block.push(len);
      } else {
        stride.push(st);
        count.push(Math.ceil(len / st));
        block.push(1);
      }
    }
  }
  const out: number[] = [];
  let size = 1;
  for (let d = 0; d < rank; d++) {
    const sel = count[d]! * block[d]!;
    if (sel > 0) {
      const last = start[d]! + (count[d]! - 1) * stride[d]! + block[d]! - 1;
      if (last >= shape[d]!)
        bad(`selection reaches index ${last} in dimension ${d}, past its extent ${shape[d]}`);
    }
    out.push(sel);
    size *= sel;
  }
  return { start, stride, count, block, shape: out, size };
}

/** A run of consecutive points of one dimension inside one chunk. */
interface Run {
  /** First point, relative to the chunk's origin. */
  local: number;
  len: number;
  /** Its position along this dimension of the caller's buffer. */
  mem: number;
}

/** The selected runs of one dimension, grouped by chunk index along it. */
interface DimChunk {
  chunk: number;
  runs: Run[];
}

function dimChunks(start: number, stride: number, count: number, block: number, chunk: number): DimChunk[] {
  const out: DimChunk[] = [];
  // Blocks that touch (stride == block) are one run.
  const merged = stride === block || count === 1;
  const blocks = merged ? 1 : count;
  const blockLen = merged ? count * block : block;
  for (let i = 0; i < blocks; i++) {
    let x = start + i * stride;
    let mem = i * blockLen;
    let left = blockLen;
    while (left > 0) {
      const c = Math.floor(x / chunk);
      const local = x - c * chunk;
      const len = Math.min(left, chunk - local);
      const tail = out[out.length - 1];
      if (tail && tail.chunk === c) tail.runs.push({ local, len, mem });
      else out.push({ chunk: c, runs: [{ local, len, mem }] });
      x += len;
      mem += len;
      left -= len;
    }
  }
  return out;
}

/**
 * Record extents of one chunk and where each sits in the caller's buffer (elements), as three
 * parallel arrays (a strided selection makes thousands per chunk: no object per extent).
 * Sorted by idx, non-overlapping; `mem` increases with idx.
 */
export interface ChunkIo {
  /** The chunk's coordinates in chunk units (its dkey). */
  coords: number[];
  idx: number[];
  nr: number[];
  mem: number[];
}

/** The extents of `io` as an iod's extent list. */
export function extentList(io: ChunkIo): Array<{ idx: number; nr: number }> {
  const out = new Array<{ idx: number; nr: number }>(io.idx.length);
  for (let i = 0; i < out.length; i++) out[i] = { idx: io.idx[i]!, nr: io.nr[i]! };
  return out;
}

/**
 * The chunks a selection touches, each with its extents (adjacent ones merged: a selection that
 * covers whole chunk rows is one extent). A chunk with more than `extentsMax` extents comes out as
 * several ChunkIo of the same coords.
 */
export function* chunkPlan(
  slab: Slab,
  chunks: readonly number[],
  extentsMax: number = EXTENTS_PER_IOD_MAX,
): Generator<ChunkIo> {
  const rank = chunks.length;
  if (slab.size === 0) return;
  if (rank === 0) {
    // A scalar dataspace: one element in a chunk of one.
    yield { coords: [], idx: [0], nr: [1], mem: [0] };
    return;
  }
  const perDim = chunks.map((c, d) =>
    dimChunks(slab.start[d]!, slab.stride[d]!, slab.count[d]!, slab.block[d]!, c),
  );
  // Strides of a chunk's records and of the caller's buffer, C order.
  const cStride = new Array<number>(rank);
  const mStride = new Array<number>(rank);
  let cs = 1;
  let ms = 1;
  for (let d = rank - 1; d >= 0; d--) {
    cStride[d] = cs;
    mStride[d] = ms;
    cs *= chunks[d]!;
    ms *= slab.shape[d]!;
  }
  const pick = new Array<number>(rank).fill(0);
  for (;;) {
    const coords = pick.map((p, d) => perDim[d]![p]!.chunk);
    const pending: ChunkIo[] = [];
    let io: ChunkIo = { coords, idx: [], nr: [], mem: [] };
    const inner = perDim[rank - 1]![pick[rank - 1]!]!.runs;
    const walk = (d: number, idx: number, mem: number) => {
      if (d === rank - 1) {
        for (const r of inner) {
          const at = idx + r.local;
          const m = mem + r.mem;
          const n = io.idx.length;
          // Merge with the previous extent when both the records and the buffer continue it.
          if (n > 0 && io.idx[n - 1]! + io.nr[n - 1]! === at && io.mem[n - 1]! + io.nr[n - 1]! === m) {
            io.nr[n - 1]! += r.len;
            continue;
          }
          io.idx.push(at);
          io.nr.push(r.len);
          io.mem.push(m);
          if (n + 1 >= extentsMax) {
            pending.push(io);
            io = { coords, idx: [], nr: [], mem: [] };
          }
        }
        return;
      }
      const runs = perDim[d]![pick[d]!]!.runs;
      for (const r of runs)
        for (let k = 0; k < r.len; k++)
          walk(d + 1, idx + (r.local + k) * cStride[d]!, mem + (r.mem + k) * mStride[d]!);
    };
    walk(0, 0, 0);
    if (io.idx.length > 0) pending.push(io);
    yield* pending;
    // Next chunk combination, last dimension fastest.
    let d = rank - 1;
    while (d >= 0) {
      pick[d]!++;
      if (pick[d]! < perDim[d]!.length) break;
      pick[d] = 0;
      d--;
    }
    if (d < 0) return;
  }
}

/**
 * HDF5 DAOS VOL's automatic chunking of a contiguous dataset: from the fastest dimension, take
 * whole extents while a chunk stays under the minimum, then split the next dimension into about
 * size/target chunks. Datasets up to target·√2 are one chunk.
 */
export function autoChunks(shape: readonly number[], elementBytes: number, targetBytes: number): number[] {
  const rank = shape.length;
  const dims = shape.map((n) => Math.max(1, n));
  let total = elementBytes;
  for (const n of dims) total *= n;
  const maxContig = targetBytes * Math.SQRT2;
  if (total <= maxContig || total <= elementBytes) return dims.slice();
  const minChunk = (targetBytes * Math.SQRT2) / 2;
  const out = new Array<number>(rank).fill(1);
  let size = elementBytes;
  for (let d = rank - 1; d >= 0; d--) {
    size *= dims[d]!;
    if (size < minChunk && d > 0) {
      out[d] = dims[d]!;
      continue;
    }
    let n = Math.floor(size / targetBytes) + (size % targetBytes > targetBytes / 3 ? 1 : 0);
    n = Math.min(Math.max(n, 1), dims[d]!);
    out[d] = Math.ceil(dims[d]! / n);
    break;
  }
  return out;
}
