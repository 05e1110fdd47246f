/**
 * MPI datatypes as pure data: a type map (which bytes, in which order) with MPI's size, lower and
 * upper bounds, flattened to (offset, length) byte runs the way ROMIO's ADIOI_Flatten does. No I/O.
 *
 * A derived type is a list of blocks, each `copies` consecutive copies of a child type (copy j at
 * `disp + j * child.extent`). Sizes and bounds follow from the blocks at construction; the runs
 * are built on first use and cached, in type-map order with exactly adjacent runs merged.
 */
import { assert, check, DaosError } from '../../core/common/errors.js';

/** Most byte runs one flattened type (or one materialized range) may hold: 1 Mi runs, 24 MiB with their starts. */
export const DATATYPE_RUNS_MAX = 1 << 20;
/** Most dimensions of a subarray type (MPICH and HDF5 allow 32). */
export const SUBARRAY_NDIMS_MAX = 32;
/** Runs shorter than this are copied byte by byte in pack/unpack: cheaper than a subarray view. */
const COPY_LOOP_BYTES_MAX = 32;

/** Flattened type map: run k covers bytes [offsets[k], offsets[k] + lengths[k]) from the origin. */
export interface FlatRuns {
  readonly count: number;
  readonly offsets: Float64Array;
  readonly lengths: Float64Array;
}

/** How a type was made (MPI_Type_get_envelope's combiner). */
export type Combiner =
  | 'named'
  | 'contiguous'
  | 'vector'
  | 'hvector'
  | 'indexed'
  | 'hindexed'
  | 'indexed_block'
  | 'subarray'
  | 'struct'
  | 'resized';

/** Array order of a subarray: 'C' (last index fastest) or 'Fortran' (first index fastest). */
export type ArrayOrder = 'C' | 'Fortran';

type BlockVisitor = (disp: number, copies: number, child: Datatype) => void;

interface Shape {
  name: string;
  combiner: Combiner;
  size: number;
  lb: number;
  ub: number;
  trueLb: number;
  trueUb: number;
  /** Visits the blocks in type-map order; null for a named type (one run of `size` bytes). */
  blocks: ((visit: BlockVisitor) => void) | null;
}

/** An immutable MPI datatype. Build with the static constructors; predefined types are statics. */
export class Datatype {
  /** Name for messages: `MPI_DOUBLE`, `vector(3,2,4,MPI_INT)`. */
  readonly name: string;
  readonly combiner: Combiner;
  /** Bytes of data in one element (holes excluded). */
  readonly size: number;
  /** Lower and upper bounds (MPI_Type_get_extent): the span one element occupies when tiled. */
  readonly lb: number;
  readonly ub: number;
  /** Bounds of the data bytes alone (MPI_Type_get_true_extent); 0 for an empty type. */
  readonly trueLb: number;
  readonly trueUb: number;
  readonly #blocks: ((visit: BlockVisitor) => void) | null;
  #flat: FlatRuns | null = null;
  #starts: Float64Array | null = null;

  private constructor(shape: Shape) {
    this.name = shape.name;
    this.combiner = shape.combiner;
    this.size = shape.size;
    this.lb = shape.lb;
    this.ub = shape.ub;
    this.trueLb = shape.trueLb;
    this.trueUb = shape.trueUb;
    this.#blocks = shape.blocks;
    const span = Math.max(Math.abs(this.lb), Math.abs(this.ub), Math.abs(this.trueLb), Math.abs(this.trueUb));
    check(
      Number.isSafeInteger(this.size) && Number.isSafeInteger(span) && Number.isSafeInteger(this.extent),
      'DER_INVAL',
      () => `${this.name}: size or extent passes 2^53 bytes`,
    );
    assert(this.size >= 0 && this.ub >= this.lb && this.trueUb >= this.trueLb, `bounds of ${this.name}`);
  }

  /** ub - lb: the step between consecutive elements of this type. */
  get extent(): number {
    return this.ub - this.lb;
  }

  /** True when count elements are one run of count * size bytes (size === extent, no holes). */
  get isContiguous(): boolean {
    if (this.size === 0 || this.size !== this.extent) return false;
    return this.flatten().count === 1;
  }

  static readonly BYTE = Datatype.#named('MPI_BYTE', 1);
  static readonly PACKED = Datatype.#named('MPI_PACKED', 1);
  static readonly CHAR = Datatype.#named('MPI_CHAR', 1);
  static readonly SIGNED_CHAR = Datatype.#named('MPI_SIGNED_CHAR', 1);
  static readonly UNSIGNED_CHAR = Datatype.#named('MPI_UNSIGNED_CHAR', 1);
  static readonly SHORT = Datatype.#named('MPI_SHORT', 2);
  static readonly UNSIGNED_SHORT = Datatype.#named('MPI_UNSIGNED_SHORT', 2);
  static readonly INT = Datatype.#named('MPI_INT', 4);
  static readonly UNSIGNED = Datatype.#named('MPI_UNSIGNED', 4);
  static readonly LONG = Datatype.#named('MPI_LONG', 8);
  static readonly UNSIGNED_LONG = Datatype.#named('MPI_UNSIGNED_LONG', 8);
  static readonly LONG_LONG = Datatype.#named('MPI_LONG_LONG', 8);
  static readonly UNSIGNED_LONG_LONG = Datatype.#named('MPI_UNSIGNED_LONG_LONG', 8);
  static readonly INT8 = Datatype.#named('MPI_INT8_T', 1);
  static readonly UINT8 = Datatype.#named('MPI_UINT8_T', 1);
  static readonly INT16 = Datatype.#named('MPI_INT16_T', 2);
  static readonly UINT16 = Datatype.#named('MPI_UINT16_T', 2);
  static readonly INT32 = Datatype.#named('MPI_INT32_T', 4);
  static readonly UINT32 = Datatype.#named('MPI_UINT32_T', 4);
  static readonly INT64 = Datatype.#named('MPI_INT64_T', 8);
  static readonly UINT64 = Datatype.#named('MPI_UINT64_T', 8);
  static readonly FLOAT = Datatype.#named('MPI_FLOAT', 4);
  static readonly DOUBLE = Datatype.#named('MPI_DOUBLE', 8);

  static #named(name: string, size: number): Datatype {
    return new Datatype({
      name,
      combiner: 'named',
      size,
      lb: 0,
      ub: size,
      trueLb: 0,
      trueUb: size,
      blocks: null,
    });
  }

  /** MPI_Type_contiguous: count copies of old, one after another (step old.extent). */
  static contiguous(count: number, old: Datatype): Datatype {
    const where = 'Datatype.contiguous';
    checkCount(where, 'count', count);
    checkType(where, 'old', old);
    return Datatype.#derived(`contiguous(${count},${old.name})`, 'contiguous', (v) => v(0, count, old));
  }

  /** MPI_Type_vector: count blocks of blocklength copies of old, block starts stride elements apart. */
  static vector(count: number, blocklength: number, stride: number, old: Datatype): Datatype {
    const where = 'Datatype.vector';
    checkCount(where, 'count', count);
    checkCount(where, 'blocklength', blocklength);
    checkInteger(where, 'stride', stride);
    checkType(where, 'old', old);
    const name = `vector(${count},${blocklength},${stride},${old.name})`;
    return Datatype.#strided(name, 'vector', count, blocklength, stride * old.extent, old);
  }

  /** MPI_Type_create_hvector: as vector, with the stride in bytes. */
  static hvector(count: number, blocklength: number, strideBytes: number, old: Datatype): Datatype {
    const where = 'Datatype.hvector';
    checkCount(where, 'count', count);
    checkCount(where, 'blocklength', blocklength);
    checkInteger(where, 'strideBytes', strideBytes);
    checkType(where, 'old', old);
    const name = `hvector(${count},${blocklength},${strideBytes},${old.name})`;
    return Datatype.#strided(name, 'hvector', count, blocklength, strideBytes, old);
  }

  /** MPI_Type_indexed: block i is blocklengths[i] copies of old at displacements[i] elements. */
  static indexed(blocklengths: readonly number[], displacements: readonly number[], old: Datatype): Datatype {
    const where = 'Datatype.indexed';
    checkBlocks(where, blocklengths, displacements, 'displacements');
    checkType(where, 'old', old);
    const disps = displacements.map((d) => d * old.extent);
    return Datatype.#listed(
      `indexed([${blocklengths.length}],${old.name})`,
      'indexed',
      blocklengths,
      disps,
      old,
    );
  }

  /** MPI_Type_create_hindexed: as indexed, with displacements in bytes. */
  static hindexed(
    blocklengths: readonly number[],
    byteDisplacements: readonly number[],
    old: Datatype,
  ): Datatype {
    const where = 'Datatype.hindexed';
    checkBlocks(where, blocklengths, byteDisplacements, 'byteDisplacements');
    checkType(where, 'old', old);
    const name = `hindexed([${blocklengths.length}],${old.name})`;
    return Datatype.#listed(name, 'hindexed', blocklengths, [...byteDisplacements], old);
  }

  /** MPI_Type_create_indexed_block: indexed with one blocklength for every block. */
  static indexedBlock(blocklength: number, displacements: readonly number[], old: Datatype): Datatype {
    const where = 'Datatype.indexedBlock';
    checkCount(where, 'blocklength', blocklength);
    checkBlocks(
      where,
      displacements.map(() => blocklength),
      displacements,
      'displacements',
    );
    checkType(where, 'old', old);
    const name = `indexedBlock(${blocklength},[${displacements.length}],${old.name})`;
    const disps = displacements.map((d) => d * old.extent);
    return Datatype.#listed(
      name,
      'indexed_block',
      disps.map(() => blocklength),
      disps,
      old,
    );
  }

  /**
   * MPI_Type_create_subarray: the elements [starts, starts + subsizes) of a sizes-shaped array of
   * old. Its extent is the whole array (lb 0), so consecutive elements of this type tile whole arrays.
   */
  static subarray(
    sizes: readonly number[],
    subsizes: readonly number[],
    starts: readonly number[],
    order: ArrayOrder,
    old: Datatype,
  ): Datatype {
    const where = 'Datatype.subarray';
    const n = Array.isArray(sizes) ? sizes.length : 0;
    check(n >= 1, 'DER_INVAL', `${where}: sizes must be a non-empty array`);
    check(
      n <= SUBARRAY_NDIMS_MAX,
      'DER_INVAL',
      () => `${where}: ${n} dimensions, at most ${SUBARRAY_NDIMS_MAX}`,
    );
    check(
      Array.isArray(subsizes) && subsizes.length === n && Array.isArray(starts) && starts.length === n,
      'DER_INVAL',
      () =>
        `${where}: sizes, subsizes and starts must have the same length (${n}, ${subsizes?.length}, ${starts?.length})`,
    );
    check(
      order === 'C' || order === 'Fortran',
      'DER_INVAL',
      () => `${where}: order must be 'C' or 'Fortran', got ${String(order)}`,
    );
    checkType(where, 'old', old);
    for (let d = 0; d < n; d++) {
      const [size, sub, start] = [sizes[d], subsizes[d], starts[d]];
      check(
        Number.isSafeInteger(size) && size >= 1,
        'DER_INVAL',
        () => `${where}: sizes[${d}] must be a positive integer, got ${size}`,
      );
      check(
        Number.isSafeInteger(sub) && sub >= 1 && sub <= size,
        'DER_INVAL',
        () => `${where}: subsizes[${d}] must be an integer in [1, sizes[${d}] = ${size}], got ${sub}`,
      );
      check(
        Number.isSafeInteger(start) && start >= 0 && start + sub <= size,
        'DER_INVAL',
        () =>
          `${where}: starts[${d}] must be an integer in [0, sizes[${d}] - subsizes[${d}] = ${size - sub}], got ${start}`,
      );
    }
    // Work in C order (Fortran reversed); fold full trailing dimensions into the one before them:
    // the type map is the same, with fewer and longer blocks.
    const rev = <T>(a: readonly T[]): T[] => (order === 'C' ? [...a] : [...a].reverse());
    const [sz, sub, st] = [rev(sizes), rev(subsizes), rev(starts)];
    while (sz.length > 1 && sub[sz.length - 1] === sz[sz.length - 1]) {
      const last = sz.pop()!;
      sub.pop();
      st.pop();
      sz[sz.length - 1] *= last;
      sub[sz.length - 1] *= last;
      st[sz.length - 1] *= last;
    }
    const dims = sz.length;
    const strides = new Array<number>(dims);
    let elements = 1;
    for (let d = dims - 1; d >= 0; d--) {
      strides[d] = elements;
      elements *= sz[d];
    }
    const ext = old.extent;
    const inner = dims - 1;
    const blocks = (visit: BlockVisitor): void => {
      const idx = st.slice(0, inner);
      for (;;) {
        let lin = st[inner];
        for (let d = 0; d < inner; d++) lin += idx[d] * strides[d];
        visit(lin * ext, sub[inner], old);
        let d = inner - 1;
        for (; d >= 0; d--) {
          if (++idx[d] < st[d] + sub[d]) break;
          idx[d] = st[d];
        }
        if (d < 0) return;
      }
    };
    let first = 0;
    let last = 0;
    for (let d = 0; d < dims; d++) {
      first += st[d] * strides[d];
      last += (st[d] + sub[d] - 1) * strides[d];
    }
    const size = sub.reduce((a, b) => a * b, 1) * old.size;
    const name = `subarray([${sizes}],[${subsizes}],[${starts}],${order},${old.name})`;
    const bounds = boundsOf((v) => {
      v(first * ext, 1, old);
      v(last * ext, 1, old);
    });
    return new Datatype({ name, combiner: 'subarray', size, ...bounds, lb: 0, ub: elements * ext, blocks });
  }

  /**
   * MPI_Type_create_struct, minimal: block i is blocklengths[i] copies of types[i] at
   * byteDisplacements[i]. No alignment padding is added to the upper bound (use resized for that).
   */
  static struct(
    blocklengths: readonly number[],
    byteDisplacements: readonly number[],
    types: readonly Datatype[],
  ): Datatype {
    const where = 'Datatype.struct';
    checkBlocks(where, blocklengths, byteDisplacements, 'byteDisplacements');
    check(
      Array.isArray(types) && types.length === blocklengths.length,
      'DER_INVAL',
      () => `${where}: types must have one entry per block (${blocklengths.length}), got ${types?.length}`,
    );
    for (let i = 0; i < types.length; i++) checkType(where, `types[${i}]`, types[i]);
    const [bls, disps, ts] = [[...blocklengths], [...byteDisplacements], [...types]];
    const name = `struct([${bls.length}],[${[...new Set(ts.map((t) => t.name))]}])`;
    return Datatype.#derived(name, 'struct', (v) => {
      for (let i = 0; i < bls.length; i++) v(disps[i], bls[i], ts[i]);
    });
  }

  /** MPI_Type_create_resized: the same data with bounds lb and lb + extent. */
  static resized(old: Datatype, lb: number, extent: number): Datatype {
    const where = 'Datatype.resized';
    checkType(where, 'old', old);
    checkInteger(where, 'lb', lb);
    checkCount(where, 'extent', extent);
    return new Datatype({
      name: `resized(${old.name},${lb},${extent})`,
      combiner: 'resized',
      size: old.size,
      lb,
      ub: lb + extent,
      trueLb: old.trueLb,
      trueUb: old.trueUb,
      blocks: (v) => v(0, 1, old),
    });
  }

  static #strided(
    name: string,
    combiner: Combiner,
    count: number,
    bl: number,
    strideBytes: number,
    old: Datatype,
  ): Datatype {
    if (strideBytes === bl * old.extent) {
      // Blocks abut: the type map is contiguous(count * bl, old), in one block.
      return Datatype.#derived(name, combiner, (v) => v(0, count * bl, old));
    }
    const bounds = boundsOf((v) => {
      if (count === 0) return;
      v(0, bl, old);
      v((count - 1) * strideBytes, bl, old);
    });
    const blocks = (v: BlockVisitor): void => {
      for (let i = 0; i < count; i++) v(i * strideBytes, bl, old);
    };
    return new Datatype({ name, combiner, size: count * bl * old.size, ...bounds, blocks });
  }

  static #listed(
    name: string,
    combiner: Combiner,
    bls: readonly number[],
    disps: readonly number[],
    old: Datatype,
  ): Datatype {
    const [b, d] = [[...bls], [...disps]];
    return Datatype.#derived(name, combiner, (v) => {
      for (let i = 0; i < b.length; i++) v(d[i], b[i], old);
    });
  }

  static #derived(name: string, combiner: Combiner, blocks: (visit: BlockVisitor) => void): Datatype {
    let size = 0;
    blocks((_d, copies, child) => {
      size += copies * child.size;
    });
    return new Datatype({ name, combiner, size, ...boundsOf(blocks), blocks });
  }

  /** The type map as byte runs from the origin, in type-map order, adjacent runs merged. Cached. */
  flatten(): FlatRuns {
    if (this.#flat) return this.#flat;
    const out = new RunBuilder(this.name);
    if (this.#blocks === null) out.push(0, this.size);
    else {
      const appender = new CopyAppender(out);
      this.#blocks((disp, copies, child) => appender.append(disp, copies, child));
    }
    this.#flat = out.finish();
    assert(this.#flat.count === 0 ? this.size === 0 : true, `empty flattening of ${this.name}`);
    return this.#flat;
  }

  /** starts[k]: data bytes before run k in one element (length count + 1, last = size). Cached. */
  runStarts(): Float64Array {
    if (this.#starts) return this.#starts;
    const flat = this.flatten();
    const starts = new Float64Array(flat.count + 1);
    for (let k = 0; k < flat.count; k++) starts[k + 1] = starts[k] + flat.lengths[k];
    assert(starts[flat.count] === this.size, `run lengths of ${this.name} add up to its size`);
    this.#starts = starts;
    return starts;
  }

  /** Byte offset, from the origin of element 0, of data byte `pos` of consecutive elements. */
  locate(pos: number): number {
    check(this.size > 0, 'DER_INVAL', () => `${this.name}: an empty type holds no data byte`);
    check(
      Number.isSafeInteger(pos) && pos >= 0,
      'DER_INVAL',
      () => `locate: pos must be a non-negative integer, got ${pos}`,
    );
    const elem = Math.floor(pos / this.size);
    const within = pos - elem * this.size;
    const starts = this.runStarts();
    const k = runContaining(starts, within);
    return elem * this.extent + this.flatten().offsets[k] + (within - starts[k]);
  }

  toString(): string {
    return this.name;
  }
}

/** Bounds of a type made of blocks, by MPI's rule: the extremes of its copies' bounds. */
function boundsOf(blocks: (visit: BlockVisitor) => void): Pick<Shape, 'lb' | 'ub' | 'trueLb' | 'trueUb'> {
  let [lb, ub, trueLb, trueUb] = [Infinity, -Infinity, Infinity, -Infinity];
  blocks((disp, copies, child) => {
    if (copies === 0) return;
    const last = disp + (copies - 1) * child.extent;
    const [lo, hi] = [Math.min(disp, last), Math.max(disp, last)];
    lb = Math.min(lb, lo + child.lb);
    ub = Math.max(ub, hi + child.ub);
    if (child.size === 0) return;
    trueLb = Math.min(trueLb, lo + child.trueLb);
    trueUb = Math.max(trueUb, hi + child.trueUb);
  });
  if (lb === Infinity) [lb, ub] = [0, 0];
  if (trueLb === Infinity) [trueLb, trueUb] = [0, 0];
  return { lb, ub, trueLb, trueUb };
}

/** Appends copies of children to a RunBuilder; remembers the last child, as blocks mostly share one. */
class CopyAppender {
  #child: Datatype | null = null;
  #flat: FlatRuns = { count: 0, offsets: new Float64Array(0), lengths: new Float64Array(0) };
  #contiguous = false;
  constructor(readonly out: RunBuilder) {}

  append(disp: number, copies: number, child: Datatype): void {
    if (copies === 0 || child.size === 0) return;
    if (child !== this.#child) {
      this.#child = child;
      this.#flat = child.flatten();
      this.#contiguous = child.isContiguous;
    }
    const out = this.out;
    const flat = this.#flat;
    if (this.#contiguous) {
      out.push(disp + flat.offsets[0], copies * child.size);
      return;
    }
    for (let j = 0; j < copies; j++) {
      const base = disp + j * child.extent;
      for (let k = 0; k < flat.count; k++) out.push(base + flat.offsets[k], flat.lengths[k]);
    }
  }
}

/** A growing list of runs that merges a run into the previous one when they abut. */
class RunBuilder {
  #offsets = new Float64Array(16);
  #lengths = new Float64Array(16);
  #count = 0;
  constructor(readonly what: string) {}

  push(offset: number, length: number): void {
    if (length === 0) return;
    const n = this.#count;
    if (n > 0 && this.#offsets[n - 1] + this.#lengths[n - 1] === offset) {
      this.#lengths[n - 1] += length;
      return;
    }
    if (n === this.#offsets.length) {
      if (n >= DATATYPE_RUNS_MAX) {
        throw new DaosError(
          'DER_INVAL',
          `${this.what}: flattens to more than DATATYPE_RUNS_MAX (${DATATYPE_RUNS_MAX}) runs`,
        );
      }
      const cap = Math.min(n * 2, DATATYPE_RUNS_MAX);
      const [offsets, lengths] = [new Float64Array(cap), new Float64Array(cap)];
      offsets.set(this.#offsets);
      lengths.set(this.#lengths);
      [this.#offsets, this.#lengths] = [offsets, lengths];
    }
    this.#offsets[n] = offset;
    this.#lengths[n] = length;
    this.#count = n + 1;
  }

  finish(): FlatRuns {
    const n = this.#count;
    return { count: n, offsets: this.#offsets.slice(0, n), lengths: this.#lengths.slice(0, n) };
  }
}

/** Index k of the run holding data byte `within` of one element: starts[k] <= within < starts[k+1]. */
function runContaining(starts: Float64Array, within: number): number {
  let [lo, hi] = [0, starts.length - 2];
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (starts[mid] <= within) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * Pull-style walk over the byte runs that hold data bytes [dataOffset, dataOffset + dataLength)
 * of `count` consecutive elements of a type (element i at base + i * extent), in data order,
 * adjacent runs merged. Nothing is materialized beyond one element's flattening. After a true
 * next(): the run is [offset, offset + length) and its data starts bufOffset bytes into the range.
 */
export class RunCursor {
  offset = 0;
  length = 0;
  bufOffset = 0;
  readonly #flat: FlatRuns;
  readonly #starts: Float64Array;
  readonly #contiguous: boolean;
  readonly #size: number;
  readonly #extent: number;
  readonly #base: number;
  readonly #begin: number;
  readonly #end: number;
  #pos: number;
  #elem: number;
  #k: number;
  // One raw run read ahead of the merged one being built; rawLength 0 when there is none.
  #rawOffset = 0;
  #rawLength = 0;
  #rawPos = 0;

  constructor(type: Datatype, count: number, dataOffset: number, dataLength: number, base = 0) {
    checkType('RunCursor', 'type', type);
    check(
      count === Infinity || (Number.isSafeInteger(count) && count >= 0),
      'DER_INVAL',
      () => `RunCursor: count must be a non-negative integer, got ${count}`,
    );
    checkCount('RunCursor', 'dataOffset', dataOffset);
    checkCount('RunCursor', 'dataLength', dataLength);
    checkInteger('RunCursor', 'base', base);
    check(
      dataOffset + dataLength <= count * type.size,
      'DER_INVAL',
      () =>
        `RunCursor: data range [${dataOffset}, ${dataOffset + dataLength}) passes the ${count * type.size} bytes of ${count} x ${type.name}`,
    );
    this.#flat = type.flatten();
    this.#starts = dataLength > 0 ? type.runStarts() : new Float64Array(1);
    this.#contiguous = dataLength > 0 && type.isContiguous;
    this.#size = type.size;
    this.#extent = type.extent;
    this.#base = base;
    this.#begin = dataOffset;
    this.#end = dataOffset + dataLength;
    this.#pos = dataOffset;
    this.#elem = dataLength > 0 ? Math.floor(dataOffset / type.size) : 0;
    this.#k = dataLength > 0 ? runContaining(this.#starts, dataOffset - this.#elem * type.size) : 0;
  }

  /** Advance to the next merged run; false when the range is done. */
  next(): boolean {
    if (this.#rawLength === 0 && !this.#stepRaw()) return false;
    this.offset = this.#rawOffset;
    this.length = this.#rawLength;
    this.bufOffset = this.#rawPos - this.#begin;
    this.#rawLength = 0;
    while (this.#stepRaw() && this.#rawOffset === this.offset + this.length) {
      this.length += this.#rawLength;
      this.#rawLength = 0;
    }
    return true;
  }

  /** The runs as objects, for code that prefers for-of over next(). */
  *[Symbol.iterator](): Generator<{ offset: number; length: number; bufOffset: number }> {
    while (this.next()) yield { offset: this.offset, length: this.length, bufOffset: this.bufOffset };
  }

  #stepRaw(): boolean {
    const pos = this.#pos;
    if (pos >= this.#end) return false;
    const within = pos - this.#elem * this.#size;
    const skip = within - this.#starts[this.#k];
    const base = this.#base + this.#elem * this.#extent;
    // A contiguous type maps the whole range linearly: one run.
    const length = this.#contiguous
      ? this.#end - pos
      : Math.min(this.#flat.lengths[this.#k] - skip, this.#end - pos);
    this.#rawOffset = base + this.#flat.offsets[this.#k] + skip;
    this.#rawLength = length;
    this.#rawPos = pos;
    this.#pos = pos + length;
    if (++this.#k === this.#flat.count) {
      this.#k = 0;
      this.#elem++;
    }
    return true;
  }
}

/** Bytes `count` elements of `type` pack to. */
export function packedSize(type: Datatype, count: number): number {
  checkType('packedSize', 'type', type);
  checkCount('packedSize', 'count', count);
  return count * type.size;
}

/** MPI_Pack: gather the data of `count` elements of `type` laid out in `src` into contiguous bytes. */
export function pack(type: Datatype, count: number, src: ArrayBufferView): Uint8Array {
  const bytes = asBytes('pack', 'src', src);
  checkMemory('pack', 'src', type, count, bytes.byteLength);
  const out = new Uint8Array(count * type.size);
  const c = new RunCursor(type, count, 0, out.byteLength);
  while (c.next()) copyBytes(bytes, c.offset, out, c.bufOffset, c.length);
  return out;
}

/** MPI_Unpack: scatter the first count * size bytes of `contiguous` into `dst` laid out as `type`. */
export function unpack(
  type: Datatype,
  count: number,
  contiguous: ArrayBufferView,
  dst: ArrayBufferView,
): void {
  const from = asBytes('unpack', 'contiguous', contiguous);
  const to = asBytes('unpack', 'dst', dst);
  checkMemory('unpack', 'dst', type, count, to.byteLength);
  const n = count * type.size;
  check(
    from.byteLength >= n,
    'DER_INVAL',
    () => `unpack: contiguous holds ${from.byteLength} bytes, ${count} x ${type.name} needs ${n}`,
  );
  const c = new RunCursor(type, count, 0, n);
  while (c.next()) copyBytes(from, c.bufOffset, to, c.offset, c.length);
}

function copyBytes(src: Uint8Array, from: number, dst: Uint8Array, to: number, length: number): void {
  if (length <= COPY_LOOP_BYTES_MAX) {
    for (let i = 0; i < length; i++) dst[to + i] = src[from + i];
  } else {
    dst.set(src.subarray(from, from + length), to);
  }
}

function asBytes(where: string, arg: string, view: ArrayBufferView): Uint8Array {
  check(
    ArrayBuffer.isView(view),
    'DER_INVAL',
    `${where}: ${arg} must be a Uint8Array or another ArrayBufferView`,
  );
  return view instanceof Uint8Array ? view : new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

/** count elements of type, tiled from byte 0, must stay inside a buffer of `bytes` bytes. */
function checkMemory(where: string, arg: string, type: Datatype, count: number, bytes: number): void {
  checkType(where, 'type', type);
  checkCount(where, 'count', count);
  if (count === 0 || type.size === 0) return;
  check(
    type.trueLb >= 0,
    'DER_INVAL',
    () => `${where}: ${type.name} has data at byte ${type.trueLb}, before the start of ${arg}`,
  );
  const end = (count - 1) * type.extent + type.trueUb;
  check(
    end <= bytes,
    'DER_INVAL',
    () => `${where}: ${arg} holds ${bytes} bytes, ${count} x ${type.name} reaches byte ${end}`,
  );
}

function checkCount(where: string, arg: string, value: number): void {
  check(
    Number.isSafeInteger(value) && value >= 0,
    'DER_INVAL',
    () => `${where}: ${arg} must be a non-negative integer, got ${value}`,
  );
}

function checkInteger(where: string, arg: string, value: number): void {
  check(Number.isSafeInteger(value), 'DER_INVAL', () => `${where}: ${arg} must be an integer, got ${value}`);
}

function checkType(where: string, arg: string, value: Datatype): void {
  check(
    value instanceof Datatype,
    'DER_INVAL',
    () => `${where}: ${arg} must be a Datatype, got ${String(value)}`,
  );
}

function checkBlocks(
  where: string,
  blocklengths: readonly number[],
  disps: readonly number[],
  dispsName: string,
): void {
  check(Array.isArray(blocklengths), 'DER_INVAL', `${where}: blocklengths must be an array`);
  check(Array.isArray(disps), 'DER_INVAL', `${where}: ${dispsName} must be an array`);
  check(
    blocklengths.length === disps.length,
    'DER_INVAL',
    () =>
      `${where}: blocklengths and ${dispsName} must have the same length (${blocklengths.length} vs ${disps.length})`,
  );
  for (let i = 0; i < disps.length; i++) {
    checkCount(where, `blocklengths[${i}]`, blocklengths[i]);
    checkInteger(where, `${dispsName}[${i}]`, disps[i]);
  }
}
