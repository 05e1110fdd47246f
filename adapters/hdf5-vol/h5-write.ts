/**
 * Writing an h5io tree to an .h5 file through h5wasm: groups, links and datasets first (values
 * slab by slab), then the Fill Value messages h5wasm cannot set (h5-object-header.ts), then the
 * datasets' attributes (h5io.ts explains why in that order), then the string types' padding
 * (h5wasm picks its own; h5-object-header.ts rewrites it in the Datatype and Attribute messages).
 */

import { rmSync } from 'node:fs';
import { DaosError } from '../../core/common/errors.js';
import { decodeValues, encodeScalar, littleEndian } from './codec.js';
import { type Dtype, type DtypeValues, dtypeSize } from './dtype.js';
import { ObjectHeaderReader } from './h5-object-header.js';
import {
  H5_RANK_MAX,
  H5_SLAB_BYTES_MAX,
  type H5Attribute,
  type H5DatasetNode,
  type H5GroupNode,
  type H5Node,
  slabsOf,
  VLEN_SLAB_ELEMENT_BYTES,
} from './h5io.js';
import {
  big,
  childPath,
  H5S_UNLIMITED,
  h5,
  metadataOf,
  objectAddress,
  product,
  withHdf5ErrorsMuted,
  writeHeap,
} from './h5wasm-glue.js';

export interface WriteH5Options {
  /** Largest slab moved at once (default H5_SLAB_BYTES_MAX). */
  readonly slabBytes?: number;
}

/**
 * Write the tree under `root` to a new .h5 file at `path` (replaced if it exists). On any failure
 * (a slab that cannot be read, a value that does not fit its type) no partial file is left.
 */
export async function writeH5(path: string, root: H5GroupNode, options: WriteH5Options = {}): Promise<void> {
  try {
    await writeTree(path, root, options);
  } catch (err) {
    rmSync(path, { force: true });
    throw err;
  }
}

async function writeTree(path: string, root: H5GroupNode, options: WriteH5Options): Promise<void> {
  const slabBytes = options.slabBytes ?? H5_SLAB_BYTES_MAX;
  const M = await h5();
  const written = new Map<H5Node, string>();
  const fills: { path: string; bytes: Uint8Array; address?: bigint }[] = [];
  const datasetAttrs: [string, readonly H5Attribute[]][] = [];
  // Objects with string types whose padding is set after writing: the dataset's type, the attributes'.
  const paddings: { path: string; dataset?: Dtype; attrs: Map<string, Dtype>; address?: bigint }[] = [];
  const notePaddings = (p: string, dataset: Dtype | undefined, attrs: readonly H5Attribute[]) => {
    const strAttrs = new Map(attrs.filter((a) => hasString(a.dtype)).map((a) => [a.name, a.dtype]));
    const ds = dataset && hasString(dataset) ? dataset : undefined;
    if (ds || strAttrs.size) paddings.push({ path: p, ...(ds ? { dataset: ds } : {}), attrs: strAttrs });
  };
  let fileId = withHdf5ErrorsMuted(() => M.open(path, M.H5F_ACC_TRUNC, root.trackOrder, -1, -1));
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
    notePaddings(p, undefined, g.attrs);
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
          notePaddings(cp, link.target.dtype, link.target.attrs);
        }
      }
    }
  };

  try {
    written.set(root, '/');
    await writeGroup('/', root);
    for (const f of fills) f.address = objectAddress(M, fileId, f.path);
    for (const o of paddings) o.address = objectAddress(M, fileId, o.path);
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
  if (paddings.length) {
    const headers = new ObjectHeaderReader(path, 'r+');
    try {
      // Attributes in dense storage (HDF5 moves them there past 8 on one object) keep h5wasm's.
      for (const o of paddings) headers.setStringPaddings(o.address!, o.dataset, o.attrs);
    } finally {
      headers.close();
    }
  }
}

/** Does `t` hold a string type (whose padding the file records)? */
function hasString(t: Dtype): boolean {
  if (t.class === 'string' || t.class === 'vlen-string') return true;
  return t.class === 'compound' && t.fields.some((f) => hasString(f.type));
}

function encodeEmpty(t: Dtype): DtypeValues {
  return t.class === 'vlen-string' ? [] : decodeValues(t, new Uint8Array(0), 0);
}
