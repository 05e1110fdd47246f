/**
 * A dataset: one DAOS object. Its metadata (dkey `/Internal Metadata`: Datatype, Dataspace,
 * Creation Property List, Fill Value) and its chunks (dkey = zero byte + chunk coordinates as
 * uint64 LE, akey `0` = an array of elements). A read or write cuts its hyperslab per chunk and
 * moves each chunk's part in one fetch or update; records never written read as the fill value.
 * Variable-length strings are stored as vlen.ts says.
 */
import { DaosError } from '../../core/common/errors.js';
import type { Oid } from '../../core/common/oid.js';
import { DaosObject } from '../../core/daos/object.js';
import type { ArrayFetchResult, Recx } from '../../core/wire/obj-types.js';
import { AttributeManager } from './attrs.js';
import { fillPattern, forHoles, gather, putSieve, takeSieve } from './chunk-io.js';
import {
  checkStorableDtype,
  checkStrings,
  decodeScalar,
  decodeValues,
  describeDtype,
  encodeScalar,
  encodeValues,
  type ScalarValue,
  typedArrayFor,
} from './codec.js';
import { type Dtype, type DtypeLike, type DtypeValues, dtypeSize, parseDtype } from './dtype.js';
import {
  AKEY_CPL,
  AKEY_DATASPACE,
  AKEY_DATATYPE,
  AKEY_FILL,
  CHUNK_AKEY,
  CHUNK_IOS_IN_FLIGHT,
  CHUNK_TARGET_BYTES,
  chunkDkey,
  type FileContext,
  json,
  MD_DKEY,
  parseJson,
  runLimited,
  SELECTION_BYTES_MAX,
  SIEVE_BYTES_MAX,
} from './layout.js';
import {
  autoChunks,
  chunkPlan,
  extentList,
  normalizeSelection,
  RANK_MAX,
  type Selection,
  type Slab,
} from './selection.js';
import { readStrings, writeStrings } from './vlen.js';

export interface DatasetOptions {
  /** Extent per dimension ([] for a scalar dataset). */
  shape: readonly number[];
  dtype: DtypeLike;
  /** Chunk shape; default: about 1 MiB chunks (the VOL's automatic chunking). */
  chunks?: readonly number[];
  /** Largest extent per dimension, null for unlimited; default: the shape (not resizable). */
  maxshape?: ReadonlyArray<number | null>;
  /** Value of elements never written; default zero (empty string for strings). */
  fillvalue?: ScalarValue;
  /** Initial contents: all elements, flat in C order. */
  data?: DtypeValues | Uint8Array;
}

interface Dataspace {
  shape: number[];
  maxshape: Array<number | null>;
}
interface CreationProps {
  layout: 'chunked' | 'contiguous';
  chunks: number[];
}

/** When a dataset grows past its shape without chunks given, chunks are sized for this many elements per growable dimension. */
const GROWABLE_EXTENT_GUESS = 1024;

function bad(msg: string): never {
  throw new DaosError('DER_INVAL', msg);
}

function checkExtents(shape: unknown, what: string, allowNull: boolean): Array<number | null> {
  if (!Array.isArray(shape)) bad(`${what} must be an array of extents`);
  if (shape.length > RANK_MAX) bad(`${what} has ${shape.length} dimensions; the limit is ${RANK_MAX}`);
  for (const n of shape) {
    if (n === null && allowNull) continue;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0)
      bad(
        `${what} holds ${String(n)}; extents are integers ≥ 0${allowNull ? ' (or null for unlimited)' : ''}`,
      );
  }
  return shape as Array<number | null>;
}

/** An HDF5 dataset in a container (h5py's Dataset, asynchronous). */
export class Dataset {
  readonly file: FileContext;
  readonly oid: Oid;
  /** Absolute path it was reached by. */
  readonly name: string;
  readonly dtype: Dtype;
  readonly attrs: AttributeManager;
  /** 'contiguous' when the chunks were chosen automatically, as the VOL does. */
  readonly layout: 'chunked' | 'contiguous';
  readonly chunks: readonly number[];
  readonly maxshape: ReadonlyArray<number | null>;
  private space: number[];
  private readonly obj: DaosObject;
  private readonly fillBytes: Uint8Array;
  private readonly fillZero: boolean;
  private readonly elementBytes: number;

  private constructor(
    file: FileContext,
    oid: Oid,
    name: string,
    dtype: Dtype,
    space: Dataspace,
    cpl: CreationProps,
    fill: Uint8Array,
  ) {
    this.file = file;
    this.oid = oid;
    this.name = name;
    this.dtype = dtype;
    this.space = space.shape;
    this.maxshape = space.maxshape;
    this.layout = cpl.layout;
    this.chunks = cpl.chunks;
    this.obj = new DaosObject(file.container, oid);
    this.attrs = new AttributeManager(this.obj, file, `dataset '${name}'`);
    this.fillBytes = fill;
    this.fillZero = dtype.class !== 'vlen-string' && fill.every((b) => b === 0);
    this.elementBytes = dtypeSize(dtype);
  }

  /** The current extent per dimension. */
  get shape(): readonly number[] {
    return this.space;
  }

  /** Elements in the dataset. */
  get size(): number {
    return this.space.reduce((a, b) => a * b, 1);
  }

  /** The fill value (unwritten elements read as this). */
  get fillvalue(): ScalarValue {
    return decodeScalar(this.dtype, this.fillBytes);
  }

  /** @internal Check options and work out the metadata, before anything is written. */
  static plan(
    options: DatasetOptions,
    what: string,
  ): { dtype: Dtype; space: Dataspace; cpl: CreationProps; fill: Uint8Array } {
    if (typeof options !== 'object' || options === null)
      bad(`${what}: options { shape, dtype } are required`);
    const shape = checkExtents(options.shape, `${what}: shape`, false) as number[];
    const dtype = parseDtype(options.dtype);
    checkStorableDtype(dtype, what);
    const rank = shape.length;
    const maxshape =
      options.maxshape === undefined
        ? shape.slice()
        : checkExtents(options.maxshape, `${what}: maxshape`, true);
    if (maxshape.length !== rank)
      bad(`${what}: maxshape has ${maxshape.length} dimensions; shape has ${rank}`);
    for (let d = 0; d < rank; d++) {
      const m = maxshape[d];
      if (m !== null && m !== undefined && m < shape[d]!)
        bad(`${what}: maxshape[${d}] = ${m} is below shape[${d}] = ${shape[d]}`);
    }
    const es = dtypeSize(dtype);
    let chunks: number[];
    let layout: CreationProps['layout'];
    if (options.chunks !== undefined) {
      chunks = checkExtents(options.chunks, `${what}: chunks`, false) as number[];
      if (chunks.length !== rank) bad(`${what}: chunks has ${chunks.length} dimensions; shape has ${rank}`);
      if (chunks.some((c) => c < 1)) bad(`${what}: chunk extents must be ≥ 1`);
      layout = 'chunked';
    } else {
      const resizable = maxshape.some((m, d) => m !== shape[d]);
      const guess = shape.map((n, d) => {
        const m = maxshape[d];
        if (m === shape[d]) return n;
        return m === null
          ? Math.max(n, GROWABLE_EXTENT_GUESS)
          : Math.max(n, Math.min(m!, GROWABLE_EXTENT_GUESS));
      });
      chunks = autoChunks(guess, es, CHUNK_TARGET_BYTES);
      layout = resizable ? 'chunked' : 'contiguous';
    }
    let chunkElems = 1;
    for (const c of chunks) chunkElems *= c;
    if (chunkElems * es > 2 ** 32) bad(`${what}: a chunk of ${chunkElems * es} bytes is too large`);
    const fill =
      options.fillvalue === undefined
        ? dtype.class === 'vlen-string'
          ? new Uint8Array(0)
          : new Uint8Array(es)
        : encodeScalar(dtype, options.fillvalue, `${what}: fillvalue`);
    return {
      dtype,
      space: { shape, maxshape: maxshape.map((m) => m ?? null) },
      cpl: { layout, chunks },
      fill,
    };
  }

  /** @internal Check initial data against a planned dataset (all of it, flat in C order). */
  static checkData(plan: ReturnType<typeof Dataset.plan>, data: unknown, what: string): void {
    const n = plan.space.shape.reduce((a, b) => a * b, 1);
    if (plan.dtype.class === 'vlen-string') checkStrings(data, n, what);
    else encodeValues(plan.dtype, data, n, what);
  }

  /** @internal Write a new dataset's metadata (and data) into object `oid`. */
  static async create(
    file: FileContext,
    oid: Oid,
    name: string,
    plan: ReturnType<typeof Dataset.plan>,
  ): Promise<Dataset> {
    const obj = new DaosObject(file.container, oid);
    await obj.update(MD_DKEY, [
      { akey: AKEY_DATATYPE, kind: 'single', value: json(plan.dtype) },
      { akey: AKEY_DATASPACE, kind: 'single', value: json(plan.space) },
      { akey: AKEY_CPL, kind: 'single', value: json(plan.cpl) },
      // A single value may not be empty: the vlen default '' is stored with a marker byte.
      { akey: AKEY_FILL, kind: 'single', value: Buffer.concat([Buffer.from([1]), plan.fill]) },
    ]);
    return new Dataset(file, oid, name, plan.dtype, plan.space, plan.cpl, plan.fill);
  }

  /** @internal Open the dataset in object `oid`; undefined when it holds no dataset metadata. */
  static async open(file: FileContext, oid: Oid, name: string): Promise<Dataset | undefined> {
    const obj = new DaosObject(file.container, oid);
    const [t, s, c, f] = (await obj.fetch(MD_DKEY, [
      { akey: AKEY_DATATYPE, kind: 'single' },
      { akey: AKEY_DATASPACE, kind: 'single' },
      { akey: AKEY_CPL, kind: 'single' },
      { akey: AKEY_FILL, kind: 'single' },
    ])) as Array<Uint8Array | undefined>;
    if (!t) return undefined;
    return new Dataset(
      file,
      oid,
      name,
      parseJson<Dtype>(t, `datatype of '${name}'`),
      parseJson<Dataspace>(s, `dataspace of '${name}'`),
      parseJson<CreationProps>(c, `creation properties of '${name}'`),
      f ? f.subarray(1) : new Uint8Array(0),
    );
  }

  private slab(sel: Selection): Slab {
    const slab = normalizeSelection(sel, this.space);
    if (slab.size * this.elementBytes > SELECTION_BYTES_MAX)
      bad(
        `selection of ${slab.size} elements (${slab.size * this.elementBytes} bytes) passes the ${SELECTION_BYTES_MAX}-byte limit of one read or write`,
      );
    return slab;
  }

  /** Read a selection (default: everything): values flat in C order of the selection's shape. */
  async read(selection?: Selection): Promise<DtypeValues> {
    const slab = this.slab(selection);
    if (this.dtype.class === 'vlen-string')
      return readStrings(this.obj, this.chunks, slab, Buffer.from(this.fillBytes).toString('utf8'));
    const out = new Uint8Array(slab.size * this.elementBytes);
    await this.readBytes(slab, out);
    if (slab.size === 0) {
      const ctor = typedArrayFor(this.dtype);
      return ctor ? (new ctor(0) as DtypeValues) : [];
    }
    return decodeValues(this.dtype, out, slab.size);
  }

  /**
   * Read a selection into `dest` (h5py's read_direct): the dtype's typed array (a Uint8Array of
   * n × size bytes for compounds) of exactly the selection's size. Reusing one buffer spares
   * a fresh allocation per read, whose first touch costs more than the read on some machines.
   */
  async readDirect<T extends DtypeValues | Uint8Array>(dest: T, selection?: Selection): Promise<T> {
    const slab = this.slab(selection);
    const what = `readDirect from dataset '${this.name}'`;
    const es = this.elementBytes;
    const ctor = typedArrayFor(this.dtype);
    const kind = ctor ?? (this.dtype.class === 'compound' ? Uint8Array : undefined);
    if (!kind) bad(`${what}: ${describeDtype(this.dtype)} values are strings; use read()`);
    if (!(dest instanceof kind))
      bad(
        `${what}: ${describeDtype(this.dtype)} needs a ${kind.name}, got ${dest?.constructor?.name ?? typeof dest}`,
      );
    const view = dest as unknown as Uint8Array;
    const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
    if (bytes.byteLength !== slab.size * es)
      bad(
        `${what}: the selection holds ${slab.size} elements (${slab.size * es} bytes); dest has ${bytes.byteLength} bytes`,
      );
    await this.readBytes(slab, bytes);
    const t = this.dtype;
    if ((t.class === 'int' || t.class === 'float') && t.order === '>' && es > 1) {
      const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      if (es === 2) b.swap16();
      else if (es === 4) b.swap32();
      else b.swap64();
    }
    return dest;
  }

  /** Storage bytes of a selection into `out` (fill value in the holes). */
  private async readBytes(slab: Slab, out: Uint8Array): Promise<void> {
    const es = this.elementBytes;
    await runLimited(chunkPlan(slab, this.chunks), CHUNK_IOS_IN_FLIGHT, async (io) => {
      const dk = chunkDkey(io.coords);
      const n = io.idx.length;
      const first = io.idx[0]!;
      const span = io.idx[n - 1]! + io.nr[n - 1]! - first;
      let selected = 0;
      for (let i = 0; i < n; i++) selected += io.nr[i]!;
      let map: Recx[];
      if (n === 1) {
        // One extent lands in one piece of the output: read straight into it.
        const piece = out.subarray(io.mem[0]! * es, (io.mem[0]! + io.nr[0]!) * es);
        const [res] = (await this.obj.fetch(dk, [
          {
            akey: CHUNK_AKEY,
            kind: 'array',
            recordSize: es,
            extents: [{ idx: first, nr: io.nr[0]! }],
            out: piece,
          },
        ])) as [ArrayFetchResult];
        if (res.data.buffer !== piece.buffer || res.data.byteOffset !== piece.byteOffset) piece.set(res.data);
        map = res.map;
      } else if (span * es <= SIEVE_BYTES_MAX || span <= 2 * selected) {
        // Many small pieces close together (a strided selection): one extent over all of them,
        // picked apart here (HDF5's data sieving); per-extent costs dwarf the extra bytes.
        const scratch = span * es <= SIEVE_BYTES_MAX ? takeSieve() : undefined;
        try {
          const [res] = (await this.obj.fetch(dk, [
            {
              akey: CHUNK_AKEY,
              kind: 'array',
              recordSize: es,
              extents: [{ idx: first, nr: span }],
              ...(scratch ? { out: scratch.subarray(0, span * es) } : {}),
            },
          ])) as [ArrayFetchResult];
          gather(out, res.data, io, first, es);
          map = res.map;
        } finally {
          if (scratch) putSieve(scratch);
        }
      } else {
        const [res] = (await this.obj.fetch(dk, [
          { akey: CHUNK_AKEY, kind: 'array', recordSize: es, extents: extentList(io) },
        ])) as [ArrayFetchResult];
        let pos = 0;
        for (let i = 0; i < n; i++) {
          out.set(res.data.subarray(pos, pos + io.nr[i]! * es), io.mem[i]! * es);
          pos += io.nr[i]! * es;
        }
        map = res.map;
      }
      if (!this.fillZero) forHoles(io, map, (mem, nr) => fillPattern(out, this.fillBytes, mem, nr));
    });
  }

  /**
   * Write `values` (flat in C order of the selection's shape) into a selection (null: all).
   * The values and the selection are checked whole before the first chunk is written.
   */
  async write(selection: Selection, values: DtypeValues | Uint8Array): Promise<void> {
    const what = `write to dataset '${this.name}'`;
    this.file.checkWritable(what);
    const slab = this.slab(selection);
    if (this.dtype.class === 'vlen-string') {
      const strings = checkStrings(values, slab.size, what);
      await writeStrings(this.obj, this.chunks, slab, strings);
      return;
    }
    const bytes = encodeValues(this.dtype, values, slab.size, what);
    const es = this.elementBytes;
    await runLimited(chunkPlan(slab, this.chunks), CHUNK_IOS_IN_FLIGHT, async (io) => {
      await this.obj.update(chunkDkey(io.coords), [
        {
          akey: CHUNK_AKEY,
          kind: 'array',
          recordSize: es,
          extents: io.idx.map((idx, i) => ({
            idx,
            nr: io.nr[i]!,
            data: bytes.subarray(io.mem[i]! * es, (io.mem[i]! + io.nr[i]!) * es),
          })),
        },
      ]);
    });
  }

  /**
   * Change the extent (h5py's resize). Each dimension may grow up to maxshape (null: unlimited)
   * or shrink; elements cut off are removed, so growing again shows the fill value there.
   */
  async resize(shape: readonly number[]): Promise<void> {
    const what = `resize of dataset '${this.name}'`;
    this.file.checkWritable(what);
    const next = checkExtents(shape, `${what}: shape`, false) as number[];
    const rank = this.space.length;
    if (next.length !== rank) bad(`${what}: shape has ${next.length} dimensions; the dataset has ${rank}`);
    for (let d = 0; d < rank; d++) {
      const m = this.maxshape[d];
      if (m !== null && m !== undefined && next[d]! > m)
        bad(`${what}: extent ${next[d]} in dimension ${d} passes maxshape ${m}`);
    }
    const old = this.space;
    // What no longer fits: for each shrunk dimension d, [next_d, old_d) × the rest.
    const cut: Slab[] = [];
    for (let d = 0; d < rank; d++) {
      if (next[d]! >= old[d]!) continue;
      const start = old.map(() => 0);
      start[d] = next[d]!;
      const block = old.map((n, k) => (k < d ? Math.min(n, next[k]!) : n));
      block[d] = old[d]! - next[d]!;
      cut.push(normalizeSelection({ start, count: old.map(() => 1), block }, old));
    }
    for (const slab of cut) {
      await runLimited(chunkPlan(slab, this.chunks), CHUNK_IOS_IN_FLIGHT, async (io) => {
        await this.obj.update(chunkDkey(io.coords), [
          {
            akey: CHUNK_AKEY,
            kind: 'array',
            recordSize: this.elementBytes,
            extents: extentList(io),
          },
        ]);
      });
    }
    await this.obj.update(MD_DKEY, [
      { akey: AKEY_DATASPACE, kind: 'single', value: json({ shape: next, maxshape: this.maxshape }) },
    ]);
    this.space = next;
  }

  /** numpy's spelling of the dtype, or a description for compounds and vlen strings. */
  get dtypeName(): string {
    return describeDtype(this.dtype);
  }
}
