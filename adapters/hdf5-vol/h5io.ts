/**
 * .h5 files in and out through h5wasm (HDF5 compiled to WebAssembly), as a neutral description:
 * a tree of groups and datasets joined by links, with attributes, and dataset values fetched
 * slab by slab so a dataset larger than memory never has to be held at once.
 *
 * `readH5` opens a file and describes it; `writeH5` (h5-write.ts) writes a description (from a
 * file, or from a container through importH5/exportH5). Both sides speak Dtype (./dtype.ts);
 * h5wasm-glue.ts holds what both need of h5wasm itself.
 *
 * What h5wasm 0.10.3 (HDF5 2.0.0) cannot express, and what is done about it:
 * - Fill values: no getter or setter. Reading parses the dataset's object header for the Fill
 *   Value message (./h5-object-header.ts). Writing creates the datasets, closes the file, rewrites
 *   each Fill Value message in the header's free space, then reopens the file to add the
 *   datasets' attributes (so that free space is still there when the fill value goes in).
 *   Variable-length string fill values are neither read nor written.
 * - Creation-order tracking: not reported. Read from the Link Info / Attribute Info messages of the
 *   object header; written through h5wasm's track_order flags (links and attributes together).
 *   Attribute names come in creation order where it is tracked.
 * - Byte order: data arrives little-endian; datasets and attributes are written little-endian.
 * - String padding: read from h5wasm's `strpad` into Dtype.padding. h5wasm writes NULLTERM (ascii)
 *   or SPACEPAD (utf-8) whatever it is asked, so writeH5 rewrites the padding field of each string
 *   type in the written headers afterwards (h5-object-header.ts), to Dtype.padding or h5py's
 *   convention (NULLPAD fixed, NULLTERM vlen). SPACEPAD values are read without their pad.
 * - Types outside Dtype (enums and bools, arrays, references, opaque, bitfields, vlen sequences,
 *   named datatypes, compounds holding variable-length strings) fail with DER_NOTSUPPORTED.
 */

import fs from 'node:fs';
import { DaosError } from '../../core/common/errors.js';
import { decodeScalar, type ScalarValue } from './codec.js';
import { type Dtype, type DtypeValues, dtypeSize } from './dtype.js';
import { ObjectHeaderReader } from './h5-object-header.js';
import {
  big,
  childPath,
  dtypeOf,
  type H5Metadata,
  type H5Module,
  H5S_UNLIMITED,
  h5,
  memoryElementBytes,
  objectAddress,
  product,
  readHeap,
  withHdf5ErrorsMuted,
} from './h5wasm-glue.js';

/** Largest slab of dataset values read or written at once. */
export const H5_SLAB_BYTES_MAX = 64 * 1024 * 1024;
/** Bytes per element assumed for variable-length strings when sizing slabs. */
export const VLEN_SLAB_ELEMENT_BYTES = 64;
/** HDF5's highest dataset rank. */
export const H5_RANK_MAX = 32;

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

function readAttributes(M: H5Module, fileId: bigint, path: string): H5Attribute[] {
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
      const value = readHeap(M, ptr, dtype, count);
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
        if (n === 0) return readHeap(M, 0, dtype, 0);
        const ptr = M._malloc(bytes);
        if (ptr === 0) throw new DaosError('DER_NOMEM', `wasm heap: ${bytes} bytes`);
        const ones = count.map(() => 1n);
        try {
          const rc =
            shape.length === 0
              ? M.get_dataset_data(fileId, p, null, null, null, BigInt(ptr))
              : M.get_dataset_data(fileId, p, big(count), big(start), ones, BigInt(ptr));
          if (rc < 0) throw new DaosError('DER_IO', `${p}: HDF5 read failed (${rc})`);
          return readHeap(M, ptr, dtype, n);
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
