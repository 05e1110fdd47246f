/**
 * From apache-arrow Data to stored buffers: every node's rows [s, s+n) become buffers that start
 * at row 0 (validity and boolean bits shifted to bit 0, offsets rebased to 0, views pointing into
 * one byte buffer), each appended at the end of its slot's DAOS array. What apache-arrow holds
 * (its Data): values, offsets and views already start at the Data's first row, only bitmaps are
 * read at `offset + i`; struct and fixed-size-list children are sliced with their parent, list
 * children are not (the offsets point into them).
 */
import type { Data, Vector } from 'apache-arrow';
import { DaosError } from '../../core/common/errors.js';
import type { Slot, TypeNode } from './nodes.js';

/** A node's part of one batch (or dictionary): rows, nulls, and [offset, bytes] per slot. */
export interface NodeRec {
  len: number;
  nulls: number;
  b?: Partial<Record<Slot, [number, number]>>;
  /** A dictionary node's dictionary (its index among the node's stored dictionaries). */
  k?: number;
}
/** Node records by node id. */
export type Rec = Record<number, NodeRec>;

/** A stored dictionary: its value chunks (an apache-arrow Vector may hold several). */
export interface DictRec {
  parts: Array<{ len: number; nodes: Rec }>;
}

/** A buffer to write: node, slot, byte offset in the slot's array, bytes. */
export interface Piece {
  node: number;
  slot: Slot;
  off: number;
  bytes: Uint8Array;
}

/** Views longer than this keep their bytes in a data buffer; shorter ones inline. */
export const VIEW_INLINE_BYTES_MAX = 12;
/** Bytes the long values of one batch's view column may span (views hold int32 offsets). */
export const VIEW_DATA_BYTES_MAX = 0x7fffffff;
/** Bytes of one view (Utf8View, BinaryView). */
export const VIEW_BYTES = 16;

export function slotKey(node: number, slot: Slot): string {
  return `${node}.${slot}`;
}

function bytesOf(a: ArrayBufferView, fromByte: number, toByte: number): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset + fromByte, toByte - fromByte);
}

/** Bits [bit, bit + n) of `src` as a new bitmap starting at bit 0 (a view when byte aligned). */
export function copyBits(src: Uint8Array, bit: number, n: number): Uint8Array {
  const bytes = (n + 7) >> 3;
  if ((bit & 7) === 0) return src.subarray(bit >> 3, (bit >> 3) + bytes);
  const out = new Uint8Array(bytes);
  const shift = bit & 7;
  let j = bit >> 3;
  for (let i = 0; i < bytes; i++, j++)
    out[i] = ((src[j]! >> shift) | ((src[j + 1] ?? 0) << (8 - shift))) & 0xff;
  return out;
}

function popcount(bits: Uint8Array, n: number): number {
  let ones = 0;
  const whole = n >> 3;
  for (let i = 0; i < whole; i++) {
    let v = bits[i]!;
    v = v - ((v >> 1) & 0x55);
    v = (v & 0x33) + ((v >> 2) & 0x33);
    ones += (v + (v >> 4)) & 0x0f;
  }
  for (let i = whole << 3; i < n; i++) if ((bits[i >> 3]! >> (i & 7)) & 1) ones++;
  return ones;
}

/**
 * Encodes batches of one append: lays their buffers out after `ends` (the slot arrays' current
 * ends, advanced here) and collects the pieces to write and the dictionaries to store.
 */
export class Encoder {
  readonly pieces: Piece[] = [];
  /** New dictionaries: node id, index, record. */
  readonly newDicts: Array<{ node: number; k: number; rec: DictRec }> = [];
  private readonly seen = new Map<Vector, number>();

  constructor(
    private readonly ends: Record<string, number>,
    private readonly dictCounts: Record<number, number>,
  ) {}

  private put(node: TypeNode, slot: Slot, bytes: Uint8Array, rec: NodeRec): void {
    const key = slotKey(node.id, slot);
    const off = this.ends[key] ?? 0;
    this.ends[key] = off + bytes.byteLength;
    if (bytes.byteLength > 0) this.pieces.push({ node: node.id, slot, off, bytes });
    rec.b ??= {};
    rec.b[slot] = [off, bytes.byteLength];
  }

  /** Encode rows [s, s + n) of `d` (of node `node`'s type) and its descendants into `out`. */
  encode(node: TypeNode, d: Data, s: number, n: number, out: Rec): void {
    const rec: NodeRec = { len: n, nulls: 0 };
    out[node.id] = rec;
    if (node.kind === 'null') {
      rec.nulls = n;
      return;
    }
    let validity: Uint8Array | undefined;
    if (d.nullCount > 0 && d.nullBitmap && d.nullBitmap.byteLength > 0) {
      validity = copyBits(d.nullBitmap, d.offset + s, n);
      rec.nulls = n - popcount(validity, n);
      if (rec.nulls > 0) this.put(node, 'validity', validity, rec);
      else validity = undefined;
    }
    switch (node.kind) {
      case 'bool':
        this.put(node, 'values', copyBits(d.values as Uint8Array, d.offset + s, n), rec);
        return;
      case 'fixed':
      case 'dict': {
        const v = d.values as ArrayBufferView;
        this.put(node, 'values', bytesOf(v, s * node.width, (s + n) * node.width), rec);
        if (node.kind === 'dict') rec.k = this.dictionary(node, d.dictionary);
        return;
      }
      case 'varbin':
      case 'list': {
        const [offsets, first, last] = rebased(
          d.valueOffsets as Int32Array | BigInt64Array | undefined,
          s,
          n,
          node.width,
        );
        this.put(node, 'offsets', offsets, rec);
        if (node.kind === 'varbin')
          this.put(node, 'values', (d.values as Uint8Array).subarray(first, last), rec);
        else this.encode(node.children[0]!, d.children[0]!, first, last - first, out);
        return;
      }
      case 'view':
        this.views(node, d, s, n, validity, rec);
        return;
      case 'fixedlist': {
        const size = (node.type as unknown as { listSize: number }).listSize;
        this.encode(node.children[0]!, d.children[0]!, s * size, n * size, out);
        return;
      }
      case 'struct':
        for (let i = 0; i < node.children.length; i++)
          this.encode(node.children[i]!, d.children[i]!, s, n, out);
        return;
    }
  }

  /** Views of rows [s, s+n) pointing into one buffer (the variadic buffers joined), nulls zeroed. */
  private views(
    node: TypeNode,
    d: Data,
    s: number,
    n: number,
    validity: Uint8Array | undefined,
    rec: NodeRec,
  ): void {
    const src = d.values as Uint8Array;
    const views = new Uint8Array(n * VIEW_BYTES);
    views.set(src.subarray(s * VIEW_BYTES, (s + n) * VIEW_BYTES));
    const dv = new DataView(views.buffer);
    const bufs = d.variadicBuffers;
    const base: number[] = [];
    let total = 0;
    for (const buf of bufs) {
      base.push(total);
      total += buf.byteLength;
    }
    // Long values' positions in the buffers joined; only the range they span is stored.
    const pos = new Float64Array(n).fill(-1);
    let lo = Number.POSITIVE_INFINITY;
    let hi = 0;
    for (let i = 0; i < n; i++) {
      const at = i * VIEW_BYTES;
      if (validity && !((validity[i >> 3]! >> (i & 7)) & 1)) {
        views.fill(0, at, at + VIEW_BYTES);
        continue;
      }
      const len = dv.getInt32(at, true);
      if (len <= VIEW_INLINE_BYTES_MAX) continue;
      const p = base[dv.getInt32(at + 8, true)]! + dv.getInt32(at + 12, true);
      pos[i] = p;
      if (p < lo) lo = p;
      if (p + len > hi) hi = p + len;
    }
    if (hi === 0) lo = 0;
    if (hi - lo > VIEW_DATA_BYTES_MAX)
      throw new DaosError(
        'DER_REC2BIG',
        `a view column's batch spans ${hi - lo} bytes of long values (at most ${VIEW_DATA_BYTES_MAX})`,
      );
    for (let i = 0; i < n; i++) {
      if (pos[i]! < 0) continue;
      dv.setInt32(i * VIEW_BYTES + 8, 0, true);
      dv.setInt32(i * VIEW_BYTES + 12, pos[i]! - lo, true);
    }
    this.put(node, 'offsets', views, rec);
    let data: Uint8Array;
    if (bufs.length === 1) data = bufs[0]!.subarray(lo, hi);
    else {
      data = new Uint8Array(hi - lo);
      bufs.forEach((buf, i) => {
        const from = Math.max(lo, base[i]!);
        const to = Math.min(hi, base[i]! + buf.byteLength);
        if (from < to) data.set(buf.subarray(from - base[i]!, to - base[i]!), from - lo);
      });
    }
    this.put(node, 'values', data, rec);
  }

  /** The stored index of a dictionary, encoding it the first time this append meets it. */
  private dictionary(node: TypeNode, dict: Vector | undefined): number {
    if (!dict) throw new DaosError('DER_INVAL', 'a dictionary-encoded column has no dictionary');
    const known = this.seen.get(dict);
    if (known !== undefined) return known;
    const k = this.dictCounts[node.id] ?? 0;
    this.dictCounts[node.id] = k + 1;
    const rec: DictRec = { parts: [] };
    for (const part of dict.data) {
      const nodes: Rec = {};
      this.encode(node.dict!, part, 0, part.length, nodes);
      rec.parts.push({ len: part.length, nodes });
    }
    this.seen.set(dict, k);
    this.newDicts.push({ node: node.id, k, rec });
    return k;
  }
}

/** Offsets [s, s+n] rebased to start at 0, and the range [first, last) of what they point at. */
function rebased(
  o: Int32Array | BigInt64Array | undefined,
  s: number,
  n: number,
  width: number,
): [Uint8Array, number, number] {
  if (!o || o.length === 0) return [new Uint8Array((n + 1) * width), 0, 0];
  const part = o.subarray(s, s + n + 1);
  const first = Number(part[0] ?? 0);
  const last = Number(part[n] ?? 0);
  if (first === 0) return [bytesOf(part, 0, part.byteLength), first, last];
  if (part instanceof BigInt64Array) {
    const out = new BigInt64Array(n + 1);
    const f = BigInt(first);
    for (let i = 0; i <= n; i++) out[i] = part[i]! - f;
    return [new Uint8Array(out.buffer), first, last];
  }
  const out = new Int32Array(n + 1);
  for (let i = 0; i <= n; i++) out[i] = part[i]! - first;
  return [new Uint8Array(out.buffer), first, last];
}
