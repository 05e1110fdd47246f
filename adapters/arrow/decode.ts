/**
 * From stored buffers back to apache-arrow Data, fetching only the byte ranges rows [s, e) of a
 * batch need: bitmaps from byte s/8 (shifted to bit 0 when needed), fixed-width
 * values from s × width, offsets [s, e] and then only the values or child rows they point at,
 * views [s, e) and then only the range of bytes the long ones point at.
 */
import { Data, type DataType, makeVector, type Vector } from 'apache-arrow';
import { DaosError } from '../../core/common/errors.js';
import {
  copyBits,
  type DictRec,
  type NodeRec,
  type Rec,
  VIEW_BYTES,
  VIEW_INLINE_BYTES_MAX,
} from './encode.js';
import type { Slot, TypeNode } from './nodes.js';

/** Reads `len` bytes at byte `off` of a node's slot array (the store's I/O). */
export type SlotReader = (node: number, slot: Slot, off: number, len: number) => Promise<Uint8Array>;
/**
 * The dictionary a node's batch uses, given its stored index k (the store's I/O, cached by the
 * caller), and the base to add to the batch's indices (nonzero when dictionaries are joined).
 */
export type DictReader = (node: TypeNode, k: number) => Promise<{ vector: Vector; base: number }>;

function typed<T>(Ctor: new (b: ArrayBuffer, o: number, n: number) => T, bytes: Uint8Array, per: number): T {
  return new Ctor(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength / per);
}

function region(rec: NodeRec, slot: Slot): [number, number] {
  const r = rec.b?.[slot];
  if (!r) throw new DaosError('DER_IO', `stored batch lacks its ${slot} buffer`);
  return r;
}

export class Decoder {
  constructor(
    private readonly read: SlotReader,
    private readonly dict: DictReader,
  ) {}

  private async bytes(
    node: TypeNode,
    rec: NodeRec,
    slot: Slot,
    from: number,
    to: number,
  ): Promise<Uint8Array> {
    const [off, len] = region(rec, slot);
    if (from < 0 || to > len || from > to)
      throw new DaosError(
        'DER_IO',
        `stored ${slot} buffer of node ${node.id} is shorter (${len}) than needed (${to})`,
      );
    if (to === from) return new Uint8Array(0);
    return this.read(node.id, slot, off + from, to - from);
  }

  /** Rows [s, e) of node `node` of a stored batch (or dictionary part) `recs`. */
  async decode(node: TypeNode, recs: Rec, s: number, e: number): Promise<Data> {
    const rec = recs[node.id];
    if (!rec) throw new DaosError('DER_IO', `stored batch lacks node ${node.id}`);
    const n = e - s;
    const type = node.type as DataType & { ArrayType: { BYTES_PER_ELEMENT: number } };
    if (node.kind === 'null') return new Data(type, 0, n, n);
    const shift = s & 7;
    const bitFrom = s >> 3;
    const bitTo = (e + 7) >> 3;
    // Bitmaps are read from byte s/8 and shifted to bit 0 when s is not on a byte: every Data
    // made here has offset 0 (apache-arrow 21.2.0's IPC writer mishandles views at an offset).
    const bits = async (slot: Slot): Promise<Uint8Array> => {
      const raw = await this.bytes(node, rec, slot, bitFrom, bitTo);
      return shift === 0 ? raw : copyBits(raw, shift, n);
    };
    const validityP = rec.nulls > 0 ? bits('validity') : Promise.resolve(undefined);
    const whole = s === 0 && e === rec.len;
    const nulls = rec.nulls === 0 ? 0 : whole ? rec.nulls : -1;
    const make = (
      validity: Uint8Array | undefined,
      offsets: unknown,
      values: unknown,
      children: Data[] = [],
      dictionary?: Vector,
      variadic?: Uint8Array[],
    ): Data => {
      return new Data(
        type,
        0,
        n,
        nulls,
        [offsets, values, validity, undefined] as never,
        children,
        dictionary,
        variadic,
      );
    };
    switch (node.kind) {
      case 'bool': {
        const [v, values] = await Promise.all([validityP, bits('values')]);
        return make(v, undefined, values);
      }
      case 'fixed':
      case 'dict': {
        const [v, raw, dictionary] = await Promise.all([
          validityP,
          this.bytes(node, rec, 'values', s * node.width, e * node.width),
          node.kind === 'dict' ? this.dict(node, rec.k ?? 0) : undefined,
        ]);
        const valueType = node.kind === 'dict' ? (type as unknown as { indices: typeof type }).indices : type;
        const Ctor = valueType.ArrayType;
        const values = typed(Ctor as never, raw, Ctor.BYTES_PER_ELEMENT) as Int32Array | BigInt64Array;
        if (dictionary && dictionary.base > 0)
          rebaseIndices(values, dictionary.base, dictionary.vector.length, valueType);
        return make(v, undefined, values, [], dictionary?.vector);
      }
      case 'varbin':
      case 'list': {
        const w = node.width;
        const [v, raw] = await Promise.all([validityP, this.bytes(node, rec, 'offsets', s * w, (e + 1) * w)]);
        const offsets = w === 8 ? typed(BigInt64Array, raw, 8) : typed(Int32Array, raw, 4);
        const first = Number(offsets[0] ?? 0);
        const last = Number(offsets[n] ?? 0);
        if (first !== 0) {
          if (offsets instanceof BigInt64Array) {
            const f = BigInt(first);
            for (let i = 0; i <= n; i++) offsets[i] = offsets[i]! - f;
          } else for (let i = 0; i <= n; i++) offsets[i] = offsets[i]! - first;
        }
        if (node.kind === 'varbin')
          return make(v, offsets, await this.bytes(node, rec, 'values', first, last));
        return make(v, offsets, undefined, [await this.decode(node.children[0]!, recs, first, last)]);
      }
      case 'view': {
        const [v, views] = await Promise.all([
          validityP,
          this.bytes(node, rec, 'offsets', s * VIEW_BYTES, e * VIEW_BYTES),
        ]);
        const dv = new DataView(views.buffer, views.byteOffset, views.byteLength);
        let lo = Number.POSITIVE_INFINITY;
        let hi = 0;
        for (let i = 0; i < n; i++) {
          const len = dv.getInt32(i * VIEW_BYTES, true);
          if (len <= VIEW_INLINE_BYTES_MAX) continue;
          const at = dv.getInt32(i * VIEW_BYTES + 12, true);
          if (at < lo) lo = at;
          if (at + len > hi) hi = at + len;
        }
        if (hi === 0) return make(v, undefined, views, [], undefined, []);
        const data = await this.bytes(node, rec, 'values', lo, hi);
        if (lo > 0)
          for (let i = 0; i < n; i++)
            if (dv.getInt32(i * VIEW_BYTES, true) > VIEW_INLINE_BYTES_MAX)
              dv.setInt32(i * VIEW_BYTES + 12, dv.getInt32(i * VIEW_BYTES + 12, true) - lo, true);
        return make(v, undefined, views, [], undefined, [data]);
      }
      case 'fixedlist': {
        const size = (node.type as unknown as { listSize: number }).listSize;
        const [v, child] = await Promise.all([
          validityP,
          this.decode(node.children[0]!, recs, s * size, e * size),
        ]);
        return make(v, undefined, undefined, [child]);
      }
      case 'struct': {
        const [v, ...children] = await Promise.all([
          validityP,
          ...node.children.map((c) => this.decode(c, recs, s, e)),
        ]);
        return make(v as Uint8Array | undefined, undefined, undefined, children as Data[]);
      }
    }
  }

  /** A whole stored dictionary as a Vector. */
  async dictionary(node: TypeNode, rec: DictRec): Promise<Vector> {
    const parts = await Promise.all(rec.parts.map((p) => this.decode(node.dict!, p.nodes, 0, p.len)));
    return makeVector(parts);
  }
}

/** Add `base` to dictionary indices (for a joined dictionary of `size` values), refusing overflow. */
function rebaseIndices(values: Int32Array | BigInt64Array, base: number, size: number, type: DataType): void {
  const t = type as unknown as { bitWidth: number; isSigned: boolean };
  const max = 2 ** (t.isSigned ? t.bitWidth - 1 : t.bitWidth) - 1;
  if (size - 1 > max)
    throw new DaosError(
      'DER_OVERFLOW',
      `joined dictionary of ${size} values does not fit ${String(type)} indices (export as an IPC stream instead)`,
    );
  if (values instanceof BigInt64Array) {
    const b = BigInt(base);
    for (let i = 0; i < values.length; i++) values[i] = values[i]! + b;
  } else for (let i = 0; i < values.length; i++) values[i] = values[i]! + base;
}
