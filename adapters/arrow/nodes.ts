/**
 * The storage tree of an Arrow schema: one node per field, per child field and per dictionary's
 * value type, numbered in a fixed order (depth first, a dictionary's values right after its
 * indices), so the schema alone gives every node its id. Each node keeps its buffers in up to
 * three DAOS arrays ("slots"); what a slot holds depends on the node's kind.
 */
import { Data, type DataType, type Field, type Schema, Type } from 'apache-arrow';
import { DaosError } from '../../core/common/errors.js';

/**
 * How a node's buffers are laid out:
 * - `null`: no buffers (only a length);
 * - `bool`: validity + values, both bitmaps;
 * - `fixed`: validity + values of a fixed byte width (ints, floats, decimals, dates, times,
 *   timestamps, intervals, durations, fixed-size binary);
 * - `varbin`: validity + offsets (int32, or int64 for the large types) + value bytes;
 * - `view`: validity + 16-byte views (in the offsets slot) + the bytes of the long values, the
 *   views pointing into them as buffer 0 (Utf8View, BinaryView);
 * - `list`: validity + offsets, and one child (list, large list, map);
 * - `fixedlist`: validity and one child of `listSize` values per row;
 * - `struct`: validity and one child per field;
 * - `dict`: validity + indices (values slot), and the dictionary's value tree in `dict`.
 */
export type NodeKind =
  | 'null'
  | 'bool'
  | 'fixed'
  | 'varbin'
  | 'view'
  | 'list'
  | 'fixedlist'
  | 'struct'
  | 'dict';

/** The DAOS arrays a node may use. */
export const SLOTS = ['validity', 'offsets', 'values'] as const;
export type Slot = (typeof SLOTS)[number];

export interface TypeNode {
  id: number;
  kind: NodeKind;
  type: DataType;
  /** Bytes per value (`fixed`, `dict` indices), offset width (`varbin`, `list`: 4 or 8). */
  width: number;
  children: TypeNode[];
  /** A dictionary's value tree. */
  dict?: TypeNode;
  slots: Slot[];
}

const SLOTS_OF: Record<NodeKind, Slot[]> = {
  null: [],
  bool: ['validity', 'values'],
  fixed: ['validity', 'values'],
  varbin: ['validity', 'offsets', 'values'],
  view: ['validity', 'offsets', 'values'],
  list: ['validity', 'offsets'],
  fixedlist: ['validity'],
  struct: ['validity'],
  dict: ['validity', 'values'],
};

/** Bytes of one value of a fixed-width type, as apache-arrow holds it (stride × element size). */
function fixedWidth(type: DataType): number {
  const probe = type as DataType & { ArrayType: { BYTES_PER_ELEMENT: number } };
  const stride = strideOf(type);
  return stride * probe.ArrayType.BYTES_PER_ELEMENT;
}

/** apache-arrow's stride (elements of ArrayType per value), as its Data computes it. */
function strideOf(type: DataType): number {
  return new Data(type, 0, 0).stride;
}

/** Whether the type is one the adapter stores (unions are not). */
export function unsupportedReason(type: DataType): string | undefined {
  switch (type.typeId) {
    case Type.Union:
    case Type.DenseUnion:
    case Type.SparseUnion:
      return 'union types are not supported';
    default:
      return undefined;
  }
}

function kindOf(type: DataType): NodeKind {
  switch (type.typeId) {
    case Type.Null:
      return 'null';
    case Type.Bool:
      return 'bool';
    case Type.Int:
    case Type.Float:
    case Type.Decimal:
    case Type.Date:
    case Type.Time:
    case Type.Timestamp:
    case Type.Interval:
    case Type.Duration:
    case Type.FixedSizeBinary:
      return 'fixed';
    case Type.Utf8:
    case Type.Binary:
    case Type.LargeUtf8:
    case Type.LargeBinary:
      return 'varbin';
    case Type.Utf8View:
    case Type.BinaryView:
      return 'view';
    case Type.List:
    case Type.LargeList:
    case Type.Map:
      return 'list';
    case Type.FixedSizeList:
      return 'fixedlist';
    case Type.Struct:
      return 'struct';
    case Type.Dictionary:
      return 'dict';
    default:
      throw new DaosError('DER_NOTSUPPORTED', `Arrow type ${String(type)} is not supported`);
  }
}

/** The node tree of a schema: one root per field, ids 0.. in depth-first order. */
export function schemaNodes(schema: Schema): { roots: TypeNode[]; all: TypeNode[] } {
  const all: TypeNode[] = [];
  const build = (field: Field, path: string): TypeNode => {
    const type = field.type as DataType;
    const why = unsupportedReason(type);
    if (why) throw new DaosError('DER_NOTSUPPORTED', `column "${path}" (${String(type)}): ${why}`);
    const kind = kindOf(type);
    const node: TypeNode = { id: all.length, kind, type, width: 0, children: [], slots: SLOTS_OF[kind] };
    all.push(node);
    if (kind === 'fixed') node.width = fixedWidth(type);
    else if (kind === 'varbin' || kind === 'list')
      node.width =
        type.typeId === Type.LargeUtf8 || type.typeId === Type.LargeBinary || type.typeId === Type.LargeList
          ? 8
          : 4;
    else if (kind === 'dict') {
      const d = type as unknown as { indices: DataType; dictionary: DataType };
      node.width = fixedWidth(d.indices);
      const valueField = { name: 'dictionary', type: d.dictionary } as Field;
      node.dict = build(valueField, `${path}.dictionary`);
    }
    const kids = (type.children ?? []) as Field[];
    for (const c of kids) node.children.push(build(c, `${path}.${c.name}`));
    return node;
  };
  const roots = schema.fields.map((f) => build(f as Field, f.name));
  return { roots, all };
}
