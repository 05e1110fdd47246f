/**
 * The outside oracle for .h5 import and export: h5py (through /usr/bin/python3) writes the fixture
 * and dumps any .h5 file as JSON; h5dump (the HDF5 tools' binary) reads files independently.
 * `describeTree` renders our own description in the oracle's JSON form, so the two compare equal.
 */

import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { ScalarValue } from '../adapters/hdf5-vol/codec.js';
import type { Dtype, DtypeValues } from '../adapters/hdf5-vol/dtype.js';
import { type H5GroupNode, type H5Node, slabsOf } from '../adapters/hdf5-vol/h5io.js';

const fixtures = join(import.meta.dirname, 'fixtures', 'hdf5');
export const PYTHON = '/usr/bin/python3';
export const H5DUMP = '/usr/bin/h5dump';

/** Write the h5py fixture to `out`. */
export function makeFixture(out: string): void {
  execFileSync(PYTHON, [join(fixtures, 'make_fixture.py'), out], { stdio: ['ignore', 'ignore', 'inherit'] });
}

/** h5py's view of an .h5 file. */
export function oracleDump(file: string): OracleDump {
  const out = execFileSync(PYTHON, [join(fixtures, 'dump_h5.py'), file], { maxBuffer: 1 << 28 });
  return JSON.parse(out.toString('utf8')) as OracleDump;
}

export interface OracleDump {
  objects: Record<string, Record<string, unknown>>;
}

function jsonScalar(v: ScalarValue, t: Dtype): unknown {
  switch (t.class) {
    case 'int':
      return t.size === 8 ? String(v) : Number(v);
    case 'float':
      return Number(v);
    case 'string':
    case 'vlen-string':
      return v;
    case 'compound': {
      const rec = v as Record<string, ScalarValue>;
      return Object.fromEntries(t.fields.map((f) => [f.name, jsonScalar(rec[f.name]!, f.type)]));
    }
  }
}

function jsonValues(values: DtypeValues, t: Dtype): unknown[] {
  return Array.from(values as ArrayLike<ScalarValue>, (v) => jsonScalar(v, t));
}

/** Our tree in dump_h5.py's form; dataset values are read in slabs of `slabBytes`. */
export async function describeTree(root: H5GroupNode, slabBytes = 1024): Promise<OracleDump> {
  const objects: Record<string, Record<string, unknown>> = {};
  const seen = new Map<H5Node, string>();
  const attrs = (node: H5Node) =>
    node.attrs.map((a) => ({
      name: a.name,
      dtype: a.dtype,
      shape: [...a.shape],
      value: jsonValues(a.value, a.dtype),
    }));
  const visit = async (path: string, node: H5Node): Promise<Record<string, unknown>> => {
    const first = seen.get(node);
    if (first !== undefined) return { hard: first };
    seen.set(node, path);
    if (node.kind === 'dataset') {
      const data: unknown[] = [];
      const size = node.dtype.class === 'vlen-string' ? 16 : 1;
      for (const { start, count } of slabsOf(node.shape, size, slabBytes, node.chunks)) {
        const part = await node.readSlab(start, count);
        // Slabs come in C order but a slab may cover a block; reassemble into the flat C-order array.
        placeSlab(data, node.shape, start, count, jsonValues(part, node.dtype));
      }
      objects[path] = {
        kind: 'dataset',
        shape: [...node.shape],
        maxshape: [...node.maxshape],
        chunks: node.chunks ? [...node.chunks] : null,
        dtype: node.dtype,
        fillvalue: node.fillvalue === undefined ? null : jsonScalar(node.fillvalue, node.dtype),
        track_order: { attrs: node.trackOrder },
        attrs: attrs(node),
        data,
      };
      return { object: path };
    }
    const links: unknown[] = [];
    objects[path] = {
      kind: 'group',
      track_order: { links: node.trackOrder, attrs: node.trackOrder },
      attrs: attrs(node),
      links,
    };
    for (const link of node.links) {
      const child = path === '/' ? `/${link.name}` : `${path}/${link.name}`;
      if (link.type === 'soft') links.push({ name: link.name, soft: link.path });
      else if (link.type === 'external') links.push({ name: link.name, external: [link.file, link.path] });
      else links.push({ name: link.name, ...(await visit(child, link.target)) });
    }
    return { object: path };
  };
  await visit('/', root);
  return JSON.parse(JSON.stringify({ objects })) as OracleDump;
}

function placeSlab(
  out: unknown[],
  shape: readonly number[],
  start: number[],
  count: number[],
  vals: unknown[],
) {
  const rank = shape.length;
  if (rank === 0) {
    out[0] = vals[0];
    return;
  }
  const idx = new Array<number>(rank).fill(0);
  for (let i = 0; i < vals.length; i++) {
    let flat = 0;
    for (let d = 0; d < rank; d++) flat = flat * shape[d]! + start[d]! + idx[d]!;
    out[flat] = vals[i];
    for (let d = rank - 1; d >= 0; d--) {
      if (++idx[d]! < count[d]!) break;
      idx[d] = 0;
    }
  }
}

export interface H5DumpObject {
  kind: 'group' | 'dataset' | 'softlink';
  /** For datasets: the DATATYPE's first word (H5T_STD_I32LE, H5T_STRING, H5T_COMPOUND...). */
  type?: string;
  /** For datasets: the DATASPACE, e.g. "SIMPLE { ( 6, 5 ) / ( H5S_UNLIMITED, 5 ) }". */
  space?: string;
  /** A second name of an object shown once: the path h5dump shows it at. */
  hardlink?: string;
  /** A soft link's target. */
  target?: string;
}

/** Run h5dump -H on `file` (throws unless it exits 0) and list the objects it shows by path. */
export function h5dumpStructure(file: string): Map<string, H5DumpObject> {
  const text = execFileSync(H5DUMP, ['-H', file], { maxBuffer: 1 << 28 }).toString('utf8');
  const out = new Map<string, H5DumpObject>();
  // One entry per open brace: the object it opens (if a group, dataset or soft link) and its path.
  const stack: { obj?: H5DumpObject; path?: string }[] = [];
  const parentPath = () => {
    for (let i = stack.length - 1; i >= 0; i--) if (stack[i]!.obj?.kind === 'group') return stack[i]!.path!;
    return '';
  };
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const top = stack[stack.length - 1]?.obj;
    const m = /^(GROUP|DATASET|SOFTLINK) "([^"]*)"/.exec(line);
    if (m) {
      const kind = m[1]!.toLowerCase() as H5DumpObject['kind'];
      const parent = parentPath();
      const path = m[2] === '/' ? '/' : `${parent === '/' ? '' : parent}/${m[2]}`;
      const obj: H5DumpObject = { kind };
      out.set(path, obj);
      if (line.endsWith('{')) stack.push({ obj, path });
      continue;
    }
    if (top && !stack[stack.length - 1]!.obj?.type) {
      const t = /^DATATYPE\s+(\S+)/.exec(line);
      if (t && top.kind === 'dataset') top.type = t[1]!;
    }
    const s = /^DATASPACE\s+(.*)$/.exec(line);
    if (s && top?.kind === 'dataset') top.space = s[1]!.trim();
    const h = /^HARDLINK "([^"]*)"/.exec(line);
    if (h && top) top.hardlink = h[1]!;
    const l = /^LINKTARGET "([^"]*)"/.exec(line);
    if (l && top) top.target = l[1]!;
    if (line.endsWith('{')) stack.push({});
    else if (line.startsWith('}')) stack.pop();
  }
  return out;
}

/**
 * h5dump's full text of `file` (types with their string padding, dataspaces, attributes and every
 * value; groups and attributes in name order; no line wrapping), less the file name line.
 */
export function h5dumpText(file: string): string {
  const text = execFileSync(H5DUMP, ['-w', '0', file], { maxBuffer: 1 << 28 }).toString('utf8');
  return text.split('\n').slice(1).join('\n');
}
