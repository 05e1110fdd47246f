/**
 * .h5 files into and out of containers: `importH5` reads a file through h5io (h5wasm) and makes
 * the same groups, links, datasets and attributes through the adapter's API; `exportH5` describes
 * a container's file as an h5io tree and writes it. Dataset values move slab by slab (at most
 * H5_SLAB_BYTES_MAX at once), so a dataset of any size crosses in bounded memory.
 *
 * Attributes are imported in the source's iteration order (creation order where it tracks it),
 * so their creation indices follow it, and exported in creation order. String types keep their
 * padding (Dtype.padding).
 *
 * What does not cross exactly (the adapter keeps no record of it):
 * - Whether an object tracks creation order: every adapter group records link creation order and
 *   every object attribute creation order. An exported object is marked as tracking (h5py's
 *   track_order) when its links' or attributes' creation order differs from name order.
 * - A fill value equal to zero is HDF5's default and exports as "not user-defined".
 */

import { DaosError } from '../../core/common/errors.js';
import { type ScalarValue, valuesOfOne } from './codec.js';
import { Dataset } from './dataset.js';
import type { DtypeValues } from './dtype.js';
import type { H5File } from './file.js';
import { Group, type H5Object } from './group.js';
import { writeH5 } from './h5-write.js';
import {
  H5_SLAB_BYTES_MAX,
  type H5Attribute,
  type H5DatasetNode,
  type H5GroupNode,
  type H5Link,
  type H5Node,
  readH5,
  slabsOf,
  VLEN_SLAB_ELEMENT_BYTES,
} from './h5io.js';
import type { Selection } from './selection.js';

export interface TransferOptions {
  /** Largest slab of values moved at once (default H5_SLAB_BYTES_MAX, 64 MiB). */
  readonly slabBytes?: number;
}

/** What a transfer moved. */
export interface TransferStats {
  groups: number;
  datasets: number;
  links: number;
  attributes: number;
  /** Dataset value bytes (a vlen string counted as its UTF-8 bytes). */
  bytes: number;
}

function newStats(): TransferStats {
  return { groups: 0, datasets: 0, links: 0, attributes: 0, bytes: 0 };
}

function valueBytes(values: DtypeValues, elementBytes: number): number {
  if (ArrayBuffer.isView(values)) return values.byteLength;
  if (values.length && typeof values[0] === 'string')
    return (values as string[]).reduce((n, s) => n + Buffer.byteLength(s), 0);
  return values.length * elementBytes;
}

function elementBytesOf(ds: { dtype: H5DatasetNode['dtype'] }): number {
  return ds.dtype.class === 'vlen-string' ? VLEN_SLAB_ELEMENT_BYTES : ds.dtype.size;
}

function toSelection(start: readonly number[], count: readonly number[]): Selection {
  if (start.length === 0) return null;
  return start.map((s, d): [number, number] => [s, s + count[d]!]);
}

/** Every external link in the tree (the adapter has none), found before anything is written. */
function checkImportable(root: H5GroupNode): void {
  const seen = new Set<H5Node>();
  const walk = (g: H5GroupNode, path: string) => {
    if (seen.has(g)) return;
    seen.add(g);
    for (const l of g.links) {
      const p = path === '/' ? `/${l.name}` : `${path}/${l.name}`;
      if (l.type === 'external')
        throw new DaosError('DER_NOTSUPPORTED', `${p}: external link to ${l.file}:${l.path} (not supported)`);
      if (l.type === 'hard' && l.target.kind === 'group') walk(l.target, p);
    }
  };
  walk(root, '/');
}

async function setAttributes(
  obj: H5Object,
  attrs: readonly H5Attribute[],
  stats: TransferStats,
): Promise<void> {
  for (const a of attrs) {
    if (a.shape.length === 0) await obj.attrs.set(a.name, a.value[0], { dtype: a.dtype });
    else await obj.attrs.set(a.name, a.value, { dtype: a.dtype, shape: a.shape });
    stats.attributes++;
  }
}

/**
 * Import the .h5 file at `path` into `file` (opened writable, and empty: an import adds to no
 * existing tree). Unsupported content (external links, types outside Dtype) fails before anything
 * is written.
 */
export async function importH5(
  path: string,
  file: H5File,
  options: TransferOptions = {},
): Promise<TransferStats> {
  const slabBytes = options.slabBytes ?? H5_SLAB_BYTES_MAX;
  file.file.checkWritable(`import ${path}`);
  const src = await readH5(path);
  try {
    checkImportable(src.root);
    for await (const name of file.keys()) {
      throw new DaosError(
        'DER_EXIST',
        `${file.filename}: not empty (holds '${name}'); import into an empty file`,
      );
    }
    if ((await file.attrs.keys()).length)
      throw new DaosError('DER_EXIST', `${file.filename}: has attributes; import into an empty file`);
    const stats = newStats();
    const made = new Map<H5Node, H5Object>([[src.root, file]]);

    const importDataset = async (g: Group, name: string, node: H5DatasetNode): Promise<Dataset> => {
      const ds = await g.createDataset(name, {
        shape: node.shape,
        dtype: node.dtype,
        ...(node.chunks ? { chunks: node.chunks } : {}),
        maxshape: node.maxshape,
        ...(node.fillvalue !== undefined ? { fillvalue: node.fillvalue } : {}),
      });
      for (const { start, count } of slabsOf(node.shape, elementBytesOf(node), slabBytes, ds.chunks)) {
        const values = await node.readSlab(start, count);
        await ds.write(toSelection(start, count), values);
        stats.bytes += valueBytes(values, elementBytesOf(node));
      }
      stats.datasets++;
      return ds;
    };

    const importGroup = async (g: Group, node: H5GroupNode): Promise<void> => {
      await setAttributes(g, node.attrs, stats);
      for (const link of node.links) {
        stats.links++;
        if (link.type === 'soft') {
          await g.symlink(link.name, link.path);
          continue;
        }
        if (link.type !== 'hard') continue; // external: refused above
        const known = made.get(link.target);
        if (known) {
          await g.link(link.name, known);
          continue;
        }
        if (link.target.kind === 'group') {
          const sub = await g.createGroup(link.name);
          made.set(link.target, sub);
          stats.groups++;
          await importGroup(sub, link.target);
        } else {
          const ds = await importDataset(g, link.name, link.target);
          made.set(link.target, ds);
          await setAttributes(ds, link.target.attrs, stats);
        }
      }
    };

    stats.groups++;
    await importGroup(file, src.root);
    return stats;
  } finally {
    await src.close();
  }
}

function inNameOrder(names: readonly string[]): boolean {
  for (let i = 1; i < names.length; i++)
    if (Buffer.compare(Buffer.from(names[i - 1]!), Buffer.from(names[i]!)) > 0) return false;
  return true;
}

function isZero(v: ScalarValue): boolean {
  if (typeof v === 'number') return v === 0 && !Object.is(v, -0);
  if (typeof v === 'bigint') return v === 0n;
  if (typeof v === 'string') return v === '';
  return Object.values(v).every(isZero);
}

async function readAttributes(obj: H5Object): Promise<H5Attribute[]> {
  const out: H5Attribute[] = [];
  for (const name of await obj.attrs.keys({ order: 'creation' })) {
    const info = await obj.attrs.info(name);
    const value = await obj.attrs.get(name);
    if (!info || value === undefined) continue; // removed meanwhile
    if (info.shape === null) {
      out.push({ name, dtype: info.dtype, shape: [], value: valuesOfOne(info.dtype, value as ScalarValue) });
    } else {
      out.push({ name, dtype: info.dtype, shape: info.shape, value: value as DtypeValues });
    }
  }
  return out;
}

function datasetNode(ds: Dataset, attrs: H5Attribute[]): H5DatasetNode {
  const shape = [...ds.shape];
  const resizable = ds.maxshape.some((m, d) => m !== shape[d]);
  const fill = ds.fillvalue as ScalarValue;
  return {
    kind: 'dataset',
    shape,
    maxshape: [...ds.maxshape],
    // A contiguous dataset is chunked in the container only as the VOL does it; HDF5 needs chunks
    // for a resizable one.
    chunks: ds.layout === 'contiguous' && !resizable ? null : [...ds.chunks],
    dtype: ds.dtype,
    fillvalue: isZero(fill) ? undefined : fill,
    trackOrder: !inNameOrder(attrs.map((a) => a.name)),
    attrs,
    readSlab: (start, count) => ds.read(toSelection(start, count)),
  };
}

/** The file in `file` as an h5io tree; dataset values are read when a slab is asked for. */
export async function describeH5File(file: H5File): Promise<H5GroupNode> {
  const seen = new Map<string, H5Node>();
  const describe = async (g: Group): Promise<H5GroupNode> => {
    const names: string[] = [];
    for await (const n of g.keys({ order: 'creation' })) names.push(n);
    const links: H5Link[] = [];
    const attrs = await readAttributes(g);
    const node: H5GroupNode = {
      kind: 'group',
      trackOrder: !inNameOrder(names) || !inNameOrder(attrs.map((a) => a.name)),
      attrs,
      links,
    };
    seen.set(`${g.oid.hi}.${g.oid.lo}`, node);
    for (const name of names) {
      const link = await g.getLink(name);
      if (!link) continue; // unlinked meanwhile
      if (link.type === 'soft') {
        links.push({ name, type: 'soft', path: link.path });
        continue;
      }
      const key = `${link.oid.hi}.${link.oid.lo}`;
      let target = seen.get(key);
      if (!target) {
        const obj = await g.get(name);
        if (obj instanceof Group) target = await describe(obj);
        else if (obj instanceof Dataset) {
          target = datasetNode(obj, await readAttributes(obj));
          seen.set(key, target);
        } else throw new DaosError('DER_NONEXIST', `${g.name}/${name}: hard link to a missing object`);
      }
      links.push({ name, type: 'hard', target });
    }
    return node;
  };
  return describe(file);
}

/** Export the file in `file` to a new .h5 file at `path` (replaced if it exists). */
export async function exportH5(
  file: H5File,
  path: string,
  options: TransferOptions = {},
): Promise<TransferStats> {
  const root = await describeH5File(file);
  const stats = newStats();
  const counted = new Set<H5Node>();
  const count = (g: H5GroupNode) => {
    if (counted.has(g)) return;
    counted.add(g);
    stats.groups++;
    stats.attributes += g.attrs.length;
    for (const l of g.links) {
      stats.links++;
      if (l.type !== 'hard' || counted.has(l.target)) continue;
      if (l.target.kind === 'group') count(l.target);
      else {
        counted.add(l.target);
        stats.datasets++;
        stats.attributes += l.target.attrs.length;
      }
    }
  };
  count(root);
  // Count the bytes as they go by.
  const watch = (g: H5GroupNode, done = new Map<H5Node, H5Node>()): H5GroupNode => {
    const links: H5Link[] = [];
    const copy: H5GroupNode = { ...g, links };
    done.set(g, copy);
    for (const l of g.links) {
      if (l.type !== 'hard') {
        links.push(l);
        continue;
      }
      let t = done.get(l.target);
      if (!t) {
        if (l.target.kind === 'group') t = watch(l.target, done);
        else {
          const ds = l.target;
          t = {
            ...ds,
            readSlab: async (start, c) => {
              const v = await ds.readSlab(start, c);
              stats.bytes += valueBytes(v, elementBytesOf(ds));
              return v;
            },
          };
          done.set(l.target, t);
        }
      }
      links.push({ ...l, target: t });
    }
    return copy;
  };
  await writeH5(path, watch(root), options);
  return stats;
}
