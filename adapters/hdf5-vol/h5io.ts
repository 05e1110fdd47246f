/**
 * .h5 files in and out through h5wasm (HDF5 compiled to WebAssembly), as a neutral description:
 * a tree of groups and datasets joined by links, with attributes, and dataset values fetched
 * slab by slab so a dataset larger than memory never has to be held at once.
 *
 * `readH5` opens a file and describes it; `writeH5` writes a description (from a file, or from a
 * container through importH5/exportH5). Both sides speak Dtype (./dtype.ts).
 *
 * What h5wasm 0.10.3 (HDF5 2.0.0) cannot express, and what is done about it:
 * - Fill values: no getter or setter. Reading parses the dataset's object header for the Fill
 *   Value message (./h5-object-header.ts). Writing creates the datasets, closes the file, rewrites
 *   each Fill Value message in the header's free space, then reopens the file to add the
 *   datasets' attributes (so that free space is still there when the fill value goes in).
 *   Variable-length string fill values are neither read nor written.
 * - Creation-order tracking: not reported. Read from the Link Info / Attribute Info messages of the
 *   object header; written through h5wasm's track_order flags (links and attributes together).
 * - Byte order: data arrives little-endian; datasets and attributes are written little-endian.
 * - Fixed strings are written NULLTERM (ascii) or SPACEPAD (utf-8), HDF5's C and Fortran string
 *   types; h5py writes NULLPAD. Values are unchanged (trailing spaces of a SPACEPAD value are pad).
 * - Types outside Dtype (enums and bools, arrays, references, opaque, bitfields, vlen sequences,
 *   named datatypes, compounds holding variable-length strings) fail with DER_NOTSUPPORTED.
 */

import fs from 'node:fs';
import { Module, ready } from 'h5wasm/node';
import { DaosError } from '../../core/common/errors.js';
import {
  decodeScalar,
  decodeValues,
  encodeScalar,
  encodeValues,
  littleEndian,
  type ScalarValue,
} from './codec.js';
import { type Dtype, type DtypeValues, dtypeSize } from './dtype.js';
import { ObjectHeaderReader } from './h5-object-header.js';

/** Largest slab of dataset values read or written at once. */
export const H5_SLAB_BYTES_MAX = 64 * 1024 * 1024;
/** HDF5's highest dataset rank. */
export const H5_RANK_MAX = 32;
/** A variable-length string's element in wasm memory: a 32-bit pointer. */
const WASM_POINTER_BYTES = 4;
/** Bytes per element assumed for variable-length strings when sizing slabs. */
const VLEN_SLAB_ELEMENT_BYTES = 64;
/** HDF5's "unlimited" extent (2^64 - 1). */
const H5S_UNLIMITED = 0xffff_ffff_ffff_ffffn;

/** h5wasm's class numbers (H5T_class_t). */
const H5T_INTEGER = 0;
const H5T_FLOAT = 1;
const H5T_STRING = 3;
const H5T_COMPOUND = 6;
const H5T_CSET_UTF8 = 1;
const H5T_STR_SPACEPAD = 2;

export interface H5Attribute {
  readonly name: string;
  readonly dtype: Dtype;
  /** [] for a scalar. */
  readonly shape: readonly number[];
  readonly value: DtypeValues;
}

export interface H5GroupNode {
  readonly kind: 'group';
  /** Links and attributes iterate in creation order (else in name order). */
  readonly trackOrder: boolean;
  readonly attrs: readonly H5Attribute[];
  /** In iteration order. */
  readonly links: readonly H5Link[];
}

export interface H5DatasetNode {
  readonly kind: 'dataset';
  readonly shape: readonly number[];
  /** null = unlimited. */
  readonly maxshape: readonly (number | null)[];
  /** null = contiguous. */
  readonly chunks: readonly number[] | null;
  readonly dtype: Dtype;
  /** The user-defined fill value, if any. */
  readonly fillvalue?: ScalarValue;
  /** Attributes iterate in creation order. */
  readonly trackOrder: boolean;
  readonly attrs: readonly H5Attribute[];
  /** Values of the block at `start` of extent `count`, C order. */
  readSlab(start: readonly number[], count: readonly number[]): Promise<DtypeValues>;
}

export type H5Node = H5GroupNode | H5DatasetNode;

/** A hard link names a node (two links to one node object are two names of one HDF5 object). */
export type H5Link =
  | { readonly name: string; readonly type: 'hard'; readonly target: H5Node }
  | { readonly name: string; readonly type: 'soft'; readonly path: string }
  | { readonly name: string; readonly type: 'external'; readonly file: string; readonly path: string };

export interface H5Source {
  readonly root: H5GroupNode;
  close(): Promise<void>;
}

let loaded: Promise<unknown> | undefined;
async function h5(): Promise<typeof Module> {
  loaded ??= ready;
  await loaded;
  return Module;
}

function childPath(parent: string, name: string): string {
  return parent === '/' ? `/${name}` : `${parent}/${name}`;
}

function big(xs: readonly number[]): bigint[] {
  return xs.map((x) => BigInt(x));
}

function product(xs: readonly number[]): number {
  return xs.reduce((a, b) => a * b, 1);
}

interface H5Metadata {
  type: number;
  size: number;
  signed: boolean;
  littleEndian: boolean;
  vlen: boolean;
  cset?: number;
  strpad?: number;
  compound_type?: { members: (H5Metadata & { name: string; offset: number })[]; nmembers: number };
  shape: number[] | null;
  maxshape: number[] | null;
  chunks: number[] | null;
  total_size: number;
}

function dtypeOf(m: H5Metadata, where: string): Dtype {
  const order = m.littleEndian ? '<' : '>';
  switch (m.type) {
    case H5T_INTEGER:
      if (m.size !== 1 && m.size !== 2 && m.size !== 4 && m.size !== 8) break;
      return { class: 'int', size: m.size, signed: m.signed, order: m.size === 1 ? '|' : order };
    case H5T_FLOAT:
      if (m.size !== 4 && m.size !== 8) break;
      return { class: 'float', size: m.size, order };
    case H5T_STRING: {
      const charset = m.cset === H5T_CSET_UTF8 ? 'utf-8' : 'ascii';
      return m.vlen ? { class: 'vlen-string', charset } : { class: 'string', size: m.size, charset };
    }
    case H5T_COMPOUND: {
      const fields = (m.compound_type?.members ?? []).map((f) => ({
        name: f.name,
        offset: f.offset,
        type: dtypeOf(f, `${where}.${f.name}`),
      }));
      if (fields.some((f) => f.type.class === 'vlen-string'))
        throw new DaosError('DER_NOTSUPPORTED', `${where}: compounds holding variable-length strings`);
      return { class: 'compound', size: m.size, fields };
    }
  }
  throw new DaosError('DER_NOTSUPPORTED', `${where}: HDF5 type class ${m.type} of ${m.size} bytes`);
}

/** h5wasm's write metadata for a Dtype. */
function metadataOf(t: Dtype): H5Metadata {
  const base = { signed: false, littleEndian: true, vlen: false, shape: null, maxshape: null, chunks: null };
  switch (t.class) {
    case 'int':
      return { ...base, type: H5T_INTEGER, size: t.size, signed: t.signed, total_size: 0 };
    case 'float':
      return { ...base, type: H5T_FLOAT, size: t.size, total_size: 0 };
    case 'string':
      return { ...base, type: H5T_STRING, size: t.size, cset: t.charset === 'utf-8' ? 1 : 0, total_size: 0 };
    case 'vlen-string':
      return {
        ...base,
        type: H5T_STRING,
        size: WASM_POINTER_BYTES,
        vlen: true,
        cset: t.charset === 'utf-8' ? 1 : 0,
        total_size: 0,
      };
    case 'compound': {
      const members = t.fields.map((f) => ({ ...metadataOf(f.type), name: f.name, offset: f.offset }));
      return {
        ...base,
        type: H5T_COMPOUND,
        size: t.size,
        compound_type: { members, nmembers: members.length },
        total_size: 0,
      };
    }
  }
}

/** Elements of `t` in wasm memory: Dtype's packed size, or a pointer for a vlen string. */
function memoryElementBytes(t: Dtype): number {
  return t.class === 'vlen-string' ? WASM_POINTER_BYTES : dtypeSize(t);
}

/** Copy `count` elements of `t` out of wasm memory at `ptr`. */
function readHeap(M: typeof Module, ptr: number, t: Dtype, count: number, spacePadded: boolean): DtypeValues {
  if (t.class === 'vlen-string') {
    const ptrs = new Uint32Array(M.HEAPU8.buffer, ptr, count);
    return Array.from(ptrs, (p) => (p === 0 ? '' : M.UTF8ToString(p)));
  }
  const bytes = M.HEAPU8.slice(ptr, ptr + dtypeSize(t) * count);
  const values = decodeValues(littleEndian(t), bytes, count);
  if (spacePadded && t.class === 'string') return (values as string[]).map((s) => s.replace(/ +$/, ''));
  return values;
}

/** Allocate `values` of `t` in wasm memory; returns the pointer and a free function. */
function writeHeap(
  M: typeof Module,
  values: DtypeValues,
  t: Dtype,
  what: string,
): { ptr: number; free(): void } {
  const count = values.length;
  if (t.class === 'vlen-string') {
    const encoded = (values as string[]).map((s) => {
      if (typeof s !== 'string') throw new DaosError('DER_INVAL', `${what}: ${String(s)} is not a string`);
      return Buffer.from(`${s}\0`, 'utf8');
    });
    const total = encoded.reduce((n, b) => n + b.length, 0);
    const ptr = M._malloc(count * WASM_POINTER_BYTES + total);
    if (ptr === 0) throw new DaosError('DER_NOMEM', `wasm heap: ${total} bytes of strings`);
    let at = ptr + count * WASM_POINTER_BYTES;
    const ptrs = new Uint32Array(count);
    for (let i = 0; i < count; i++) {
      M.HEAPU8.set(encoded[i]!, at);
      ptrs[i] = at;
      at += encoded[i]!.length;
    }
    M.HEAPU8.set(new Uint8Array(ptrs.buffer), ptr);
    return { ptr, free: () => M._free(ptr) };
  }
  const bytes = encodeValues(littleEndian(t), values, count, what);
  const ptr = M._malloc(Math.max(bytes.length, 1));
  if (ptr === 0) throw new DaosError('DER_NOMEM', `wasm heap: ${bytes.length} bytes`);
  M.HEAPU8.set(bytes, ptr);
  return { ptr, free: () => M._free(ptr) };
}

function objectAddress(M: typeof Module, fileId: bigint, path: string): bigint {
  const ref = Uint8Array.from(M.create_object_reference(fileId, path));
  return Buffer.from(ref).readBigUInt64LE(0);
}

function readAttributes(M: typeof Module, fileId: bigint, path: string): H5Attribute[] {
  const out: H5Attribute[] = [];
  for (const name of M.get_attribute_names(fileId, path)) {
    const where = `${path} attribute '${name}'`;
    const m = M.get_attribute_metadata(fileId, path, name) as unknown as H5Metadata;
    if (m.shape === null) throw new DaosError('DER_NOTSUPPORTED', `${where}: empty (null dataspace)`);
    const dtype = dtypeOf(m, where);
    const count = product(m.shape);
    const ptr = M._malloc(Math.max(m.size * count, 1));
    try {
      M.get_attribute_data(fileId, path, name, BigInt(ptr));
      const value = readHeap(M, ptr, dtype, count, m.strpad === H5T_STR_SPACEPAD);
      out.push({ name, dtype, shape: m.shape, value });
    } finally {
      if (m.vlen) M.reclaim_vlen_memory(fileId, path, name, BigInt(ptr));
      M._free(ptr);
    }
  }
  return out;
}

/** Is `names` in HDF5's name order (byte-wise)? */
function inNameOrder(names: readonly string[]): boolean {
  for (let i = 1; i < names.length; i++)
    if (Buffer.compare(Buffer.from(names[i - 1]!), Buffer.from(names[i]!)) > 0) return false;
  return true;
}

/** Describe the .h5 file at `path`. Dataset values stay in the file until `readSlab`; `close()` after. */
export async function readH5(path: string): Promise<H5Source> {
  const M = await h5();
  if (!fs.existsSync(path)) throw new DaosError('DER_NONEXIST', `${path}: no such file`);
  const fileId = withHdf5ErrorsMuted(() => M.open(path, M.H5F_ACC_RDONLY, false, -1, -1));
  if (fileId < 0n) throw new DaosError('DER_INVAL', `${path}: not an HDF5 file`);
  let open = true;
  const headers = new ObjectHeaderReader(path);
  const seen = new Map<bigint, H5Node>();

  const factsOf = (p: string) => {
    try {
      return headers.facts(objectAddress(M, fileId, p));
    } catch {
      return undefined; // an unusual header: order then comes from the names, no fill value
    }
  };

  const dataset = (p: string): H5DatasetNode => {
    const m = M.get_dataset_metadata(fileId, p) as unknown as H5Metadata;
    if (m.shape === null) throw new DaosError('DER_NOTSUPPORTED', `${p}: empty (null dataspace) dataset`);
    if (m.shape.length > H5_RANK_MAX) throw new DaosError('DER_NOTSUPPORTED', `${p}: rank ${m.shape.length}`);
    const dtype = dtypeOf(m, p);
    const facts = factsOf(p);
    let fillvalue: ScalarValue | undefined;
    if (facts?.fillValue && dtype.class !== 'vlen-string' && facts.fillValue.length === dtypeSize(dtype))
      fillvalue = decodeScalar(dtype, facts.fillValue);
    const shape = m.shape;
    const spacePadded = m.strpad === H5T_STR_SPACEPAD;
    return {
      kind: 'dataset',
      shape,
      maxshape: (m.maxshape ?? shape).map((x) => (x >= Number(H5S_UNLIMITED) ? null : x)),
      chunks: m.chunks,
      dtype,
      fillvalue,
      trackOrder: facts?.attrOrderTracked ?? false,
      attrs: readAttributes(M, fileId, p),
      readSlab: async (start, count) => {
        if (!open) throw new DaosError('DER_NO_HDL', `${path}: closed`);
        checkSlab(p, shape, start, count);
        const n = product(count);
        const bytes = memoryElementBytes(dtype) * n;
        if (bytes > H5_SLAB_BYTES_MAX && dtype.class !== 'vlen-string')
          throw new DaosError('DER_OVERFLOW', `${p}: slab of ${bytes} bytes exceeds ${H5_SLAB_BYTES_MAX}`);
        if (n === 0) return readHeap(M, 0, dtype, 0, false);
        const ptr = M._malloc(bytes);
        if (ptr === 0) throw new DaosError('DER_NOMEM', `wasm heap: ${bytes} bytes`);
        const ones = count.map(() => 1n);
        try {
          const rc =
            shape.length === 0
              ? M.get_dataset_data(fileId, p, null, null, null, BigInt(ptr))
              : M.get_dataset_data(fileId, p, big(count), big(start), ones, BigInt(ptr));
          if (rc < 0) throw new DaosError('DER_IO', `${p}: HDF5 read failed (${rc})`);
          return readHeap(M, ptr, dtype, n, spacePadded);
        } finally {
          if (dtype.class === 'vlen-string')
            M.reclaim_vlen_memory_count(fileId, p, '', BigInt(ptr), big(count));
          M._free(ptr);
        }
      },
    };
  };

  const group = (p: string): H5GroupNode => {
    const names = M.get_names(fileId, p, false);
    const facts = factsOf(p);
    const links: H5Link[] = [];
    const node: H5GroupNode = {
      kind: 'group',
      trackOrder: facts ? facts.linkOrderTracked || facts.attrOrderTracked : !inNameOrder(names),
      attrs: readAttributes(M, fileId, p),
      links,
    };
    seen.set(objectAddress(M, fileId, p), node);
    for (const name of names) {
      const cp = childPath(p, name);
      const soft = M.get_symbolic_link(fileId, cp);
      if (typeof soft === 'string') {
        links.push({ name, type: 'soft', path: soft });
        continue;
      }
      const ext = M.get_external_link(fileId, cp);
      if (ext && typeof ext.filename === 'string') {
        links.push({ name, type: 'external', file: ext.filename, path: ext.obj_path });
        continue;
      }
      const addr = objectAddress(M, fileId, cp);
      const known = seen.get(addr);
      if (known) {
        links.push({ name, type: 'hard', target: known });
        continue;
      }
      const type = M.get_type(fileId, cp);
      if (type === M.H5G_GROUP) links.push({ name, type: 'hard', target: group(cp) });
      else if (type === M.H5G_DATASET) {
        const ds = dataset(cp);
        seen.set(addr, ds);
        links.push({ name, type: 'hard', target: ds });
      } else throw new DaosError('DER_NOTSUPPORTED', `${cp}: HDF5 object type ${type} (named datatype?)`);
    }
    return node;
  };

  try {
    const root = group('/');
    return {
      root,
      close: async () => {
        if (!open) return;
        open = false;
        headers.close();
        M.close_file(fileId);
      },
    };
  } catch (e) {
    headers.close();
    M.close_file(fileId);
    throw e;
  }
}

function checkSlab(
  where: string,
  shape: readonly number[],
  start: readonly number[],
  count: readonly number[],
) {
  if (start.length !== shape.length || count.length !== shape.length)
    throw new DaosError(
      'DER_INVAL',
      `${where}: slab rank ${start.length}/${count.length}, dataset rank ${shape.length}`,
    );
  for (let d = 0; d < shape.length; d++) {
    const s = start[d]!;
    const c = count[d]!;
    if (!Number.isInteger(s) || !Number.isInteger(c) || s < 0 || c < 0 || s + c > shape[d]!)
      throw new DaosError(
        'DER_INVAL',
        `${where}: slab [${s}, ${s + c}) out of bounds 0..${shape[d]} in dim ${d}`,
      );
  }
}

/**
 * The slabs covering `shape`, in C order, each at most `slabBytes` (one element at least): whole
 * trailing dimensions, a run along one dimension (a multiple of the chunk edge when chunked).
 */
export function* slabsOf(
  shape: readonly number[],
  elementBytes: number,
  slabBytes: number,
  chunks: readonly number[] | null = null,
): Generator<{ start: number[]; count: number[] }> {
  const rank = shape.length;
  if (rank === 0) {
    yield { start: [], count: [] };
    return;
  }
  if (shape.some((n) => n === 0)) return;
  // k: the first dimension whose trailing block fits; the slab runs along k.
  let k = rank - 1;
  let inner = elementBytes;
  for (let d = rank - 1; d >= 0; d--) {
    const trailing = product(shape.slice(d + 1)) * elementBytes;
    if (trailing > slabBytes) break;
    k = d;
    inner = trailing;
  }
  let run = Math.max(1, Math.floor(slabBytes / inner));
  const edge = chunks?.[k];
  if (edge && run >= edge) run -= run % edge;
  run = Math.min(run, shape[k]!);
  const index = new Array<number>(k).fill(0);
  for (;;) {
    for (let s = 0; s < shape[k]!; s += run) {
      yield {
        start: [...index, s, ...shape.slice(k + 1).map(() => 0)],
        count: [...index.map(() => 1), Math.min(run, shape[k]! - s), ...shape.slice(k + 1)],
      };
    }
    let d = k - 1;
    while (d >= 0 && ++index[d]! === shape[d]!) index[d--] = 0;
    if (d < 0) return;
  }
}

/** Run `fn` with HDF5's error report (printed to stderr) suppressed: an expected failure. */
function withHdf5ErrorsMuted<T>(fn: () => T): T {
  const write = fs.writeSync;
  // Report every byte as written: a writer that sees 0 bytes written tries again, forever.
  const mute = ((fd: number, data: string | NodeJS.ArrayBufferView, ...rest: unknown[]) => {
    if (fd !== 2) return (write as (...a: unknown[]) => number)(fd, data, ...rest);
    if (typeof data === 'string') return Buffer.byteLength(data);
    return typeof rest[1] === 'number'
      ? rest[1]
      : data.byteLength - (typeof rest[0] === 'number' ? rest[0] : 0);
  }) as typeof fs.writeSync;
  fs.writeSync = mute;
  try {
    return fn();
  } finally {
    fs.writeSync = write;
  }
}

export interface WriteH5Options {
  /** Largest slab moved at once (default H5_SLAB_BYTES_MAX). */
  readonly slabBytes?: number;
}

/** Write the tree under `root` to a new .h5 file at `path` (replaced if it exists). */
export async function writeH5(path: string, root: H5GroupNode, options: WriteH5Options = {}): Promise<void> {
  const slabBytes = options.slabBytes ?? H5_SLAB_BYTES_MAX;
  const M = await h5();
  const written = new Map<H5Node, string>();
  const fills: { path: string; bytes: Uint8Array; address?: bigint }[] = [];
  const datasetAttrs: [string, readonly H5Attribute[]][] = [];
  let fileId = M.open(path, M.H5F_ACC_TRUNC, root.trackOrder, -1, -1);
  if (fileId < 0n) throw new DaosError('DER_IO', `${path}: cannot create`);
  const check = (rc: number, what: string) => {
    if (rc < 0) throw new DaosError('DER_IO', `${path}: ${what} failed (${rc})`);
  };

  const writeAttrs = (p: string, attrs: readonly H5Attribute[]) => {
    for (const a of attrs) {
      if (a.value.length !== product(a.shape))
        throw new DaosError(
          'DER_INVAL',
          `${p} attribute '${a.name}': ${a.value.length} values for shape [${a.shape}]`,
        );
      const meta = { ...metadataOf(a.dtype), shape: big(a.shape), maxshape: big(a.shape) };
      const heap = writeHeap(M, a.value, a.dtype, `${p} attribute '${a.name}'`);
      try {
        check(
          M.create_attribute(fileId, p, a.name, BigInt(heap.ptr), meta as never),
          `attribute ${p} '${a.name}'`,
        );
      } finally {
        heap.free();
      }
    }
  };

  const writeDataset = async (p: string, ds: H5DatasetNode) => {
    const { shape, dtype } = ds;
    if (shape.length > H5_RANK_MAX) throw new DaosError('DER_NOTSUPPORTED', `${p}: rank ${shape.length}`);
    const maxshape = ds.maxshape.map((x) => (x === null ? H5S_UNLIMITED : BigInt(x)));
    const meta = {
      ...metadataOf(dtype),
      shape: big(shape),
      maxshape,
      chunks: ds.chunks ? big(ds.chunks) : null,
      track_order: ds.trackOrder,
    };
    if (ds.fillvalue !== undefined && dtype.class !== 'vlen-string')
      fills.push({ path: p, bytes: encodeScalar(littleEndian(dtype), ds.fillvalue, `${p} fill value`) });
    const elementBytes = dtype.class === 'vlen-string' ? VLEN_SLAB_ELEMENT_BYTES : dtypeSize(dtype);
    const slabs = [...slabsOf(shape, elementBytes, slabBytes, ds.chunks)];
    if (slabs.length <= 1) {
      // One slab: create and write in one call.
      const values = slabs.length ? await ds.readSlab(slabs[0]!.start, slabs[0]!.count) : encodeEmpty(dtype);
      if (values.length !== product(shape))
        throw new DaosError('DER_INVAL', `${p}: ${values.length} values for shape [${shape}]`);
      const heap = writeHeap(M, values, dtype, p);
      try {
        check(M.create_dataset(fileId, p, BigInt(heap.ptr), meta as never), `dataset ${p}`);
      } finally {
        heap.free();
      }
      return;
    }
    // Create without data (h5wasm always writes on create; a null buffer makes that write fail,
    // harmlessly, after the dataset exists), then write slab by slab.
    withHdf5ErrorsMuted(() => M.create_dataset(fileId, p, 0n, meta as never));
    if (M.get_type(fileId, p) !== M.H5G_DATASET)
      throw new DaosError('DER_IO', `${path}: dataset ${p} not created`);
    for (const { start, count } of slabs) {
      const values = await ds.readSlab(start, count);
      if (values.length !== product(count))
        throw new DaosError('DER_INVAL', `${p}: slab gave ${values.length} values, want ${product(count)}`);
      const heap = writeHeap(M, values, dtype, p);
      try {
        check(
          M.set_dataset_data(
            fileId,
            p,
            big(count),
            big(start),
            count.map(() => 1n),
            BigInt(heap.ptr),
          ),
          `write ${p}`,
        );
      } finally {
        heap.free();
      }
    }
  };

  const writeGroup = async (p: string, g: H5GroupNode) => {
    writeAttrs(p, g.attrs);
    for (const link of g.links) {
      const cp = childPath(p, link.name);
      if (link.type === 'soft') check(M.create_soft_link(fileId, link.path, cp), `soft link ${cp}`);
      else if (link.type === 'external')
        check(M.create_external_link(fileId, link.file, link.path, cp), `external link ${cp}`);
      else {
        const first = written.get(link.target);
        if (first !== undefined) {
          check(M.create_hard_link(fileId, first, cp), `hard link ${cp}`);
          continue;
        }
        written.set(link.target, cp);
        if (link.target.kind === 'group') {
          check(M.create_group(fileId, cp, link.target.trackOrder), `group ${cp}`);
          await writeGroup(cp, link.target);
        } else {
          await writeDataset(cp, link.target);
          datasetAttrs.push([cp, link.target.attrs]);
        }
      }
    }
  };

  try {
    written.set(root, '/');
    await writeGroup('/', root);
    for (const f of fills) f.address = objectAddress(M, fileId, f.path);
  } finally {
    M.close_file(fileId);
  }
  if (fills.length) {
    const headers = new ObjectHeaderReader(path, 'r+');
    try {
      for (const f of fills) headers.setFillValue(f.address!, f.bytes);
    } finally {
      headers.close();
    }
  }
  if (datasetAttrs.some(([, attrs]) => attrs.length)) {
    fileId = M.open(path, M.H5F_ACC_RDWR, false, -1, -1);
    if (fileId < 0n) throw new DaosError('DER_IO', `${path}: cannot reopen`);
    try {
      for (const [p, attrs] of datasetAttrs) writeAttrs(p, attrs);
    } finally {
      M.close_file(fileId);
    }
  }
}

function encodeEmpty(t: Dtype): DtypeValues {
  return t.class === 'vlen-string' ? [] : decodeValues(t, new Uint8Array(0), 0);
}
