/**
 * A reader for the few object-header facts h5wasm does not expose: whether a group tracks link
 * and attribute creation order, and a dataset's user-defined fill value. It reads the .h5 file's
 * bytes directly (HDF5 file format spec, "Data Object Headers"), starting at the object address
 * h5wasm's object reference gives (an H5R_OBJECT1 reference is that address).
 *
 * Only what these facts need is parsed: version 1 and 2 object headers, continuation blocks,
 * the Link Info (0x02), Attribute Info (0x15), Fill Value (0x05) and old Fill Value (0x04)
 * messages. Shared messages (a fill value kept in the shared-message heap) are not followed.
 *
 * `setStringPaddings` rewrites the padding field of the string types in a header's Datatype and
 * Attribute messages (h5wasm picks its own padding); sizes do not change, checksums are redone.
 *
 * `setFillValue` also writes one: h5wasm creates datasets with HDF5's default fill value and has no
 * way to set another, so after the file is closed the dataset's Fill Value message is rewritten
 * in the free space (a NULL message) of its version-2 object header, and the checksum redone.
 */

import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { DaosError } from '../../core/common/errors.js';
import { type Dtype, paddingOf, STRING_PADDINGS } from './dtype.js';

const SIGNATURE = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);
/** Where a superblock may start: 0, then 512 doubling (after a user block). */
const SUPERBLOCK_SEARCH_MAX_BYTES = 1 << 30;
/** Continuation blocks followed per header before giving up (a corrupt loop). */
const CONTINUATIONS_MAX = 1024;
/** Largest header chunk read in one piece. */
const HEADER_CHUNK_BYTES_MAX = 1 << 24;

const MSG_NULL = 0x00;
const MSG_LINK_INFO = 0x02;
const MSG_FILL_OLD = 0x04;
const MSG_FILL = 0x05;
const MSG_DATATYPE = 0x03;
const MSG_ATTRIBUTE = 0x0c;
const MSG_CONTINUATION = 0x10;
const MSG_ATTR_INFO = 0x15;
const MSG_FLAG_SHARED = 0x02;

export interface ObjectHeaderFacts {
  /** A Link Info message is present and says creation order is tracked (new-style groups only). */
  readonly linkOrderTracked: boolean;
  /** An Attribute Info message says attribute creation order is tracked. */
  readonly attrOrderTracked: boolean;
  /** The user-defined fill value's bytes in the file's type layout, if one is set. */
  readonly fillValue?: Uint8Array;
}

/** An open .h5 file for header reads; `close()` when done. */
export class ObjectHeaderReader {
  private readonly fd: number;
  private readonly base: bigint;

  constructor(path: string, mode: 'r' | 'r+' = 'r') {
    this.fd = openSync(path, mode);
    try {
      this.base = this.findBaseAddress();
    } catch (e) {
      closeSync(this.fd);
      throw e;
    }
  }

  close(): void {
    closeSync(this.fd);
  }

  private read(at: bigint, n: number): Buffer {
    const buf = Buffer.alloc(n);
    const got = readSync(this.fd, buf, 0, n, at);
    if (got !== n) throw new DaosError('DER_IO', `h5 header: short read at ${at} (${got} of ${n} bytes)`);
    return buf;
  }

  /** The superblock's base address: file addresses are relative to it. */
  private findBaseAddress(): bigint {
    for (let at = 0; at <= SUPERBLOCK_SEARCH_MAX_BYTES; at = at === 0 ? 512 : at * 2) {
      const head = Buffer.alloc(64);
      const got = readSync(this.fd, head, 0, 64, at);
      if (got < 32) break;
      if (!head.subarray(0, 8).equals(SIGNATURE)) continue;
      const version = head[8]!;
      if (version >= 2) {
        if (head[9] !== 8) throw new DaosError('DER_NOTSUPPORTED', `h5 header: ${head[9]}-byte file offsets`);
        return head.readBigUInt64LE(12);
      }
      if (head[13] !== 8) throw new DaosError('DER_NOTSUPPORTED', `h5 header: ${head[13]}-byte file offsets`);
      return head.readBigUInt64LE(version === 0 ? 24 : 28);
    }
    throw new DaosError('DER_INVAL', 'h5 header: no HDF5 superblock found');
  }

  /** The facts of the object whose header is at file address `address`. */
  facts(address: bigint): ObjectHeaderFacts {
    let linkOrderTracked = false;
    let attrOrderTracked = false;
    let fillValue: Uint8Array | undefined;
    let oldFill: Uint8Array | undefined;
    this.forEachMessage(address, (type, flags, body) => {
      if (flags & MSG_FLAG_SHARED) return;
      if (type === MSG_LINK_INFO) linkOrderTracked = (body[1]! & 1) !== 0;
      else if (type === MSG_ATTR_INFO) attrOrderTracked = (body[1]! & 1) !== 0;
      else if (type === MSG_FILL) fillValue = parseFill(body);
      else if (type === MSG_FILL_OLD) {
        const size = body.readUInt32LE(0);
        if (size > 0) oldFill = Uint8Array.from(body.subarray(4, 4 + size));
      }
    });
    return { linkOrderTracked, attrOrderTracked, fillValue: fillValue ?? oldFill };
  }

  /**
   * Make `value` (bytes in the dataset's type layout) the user-defined fill value of the dataset
   * whose version-2 object header is at `address`. The old Fill Value message becomes free space;
   * the new one is carved from a NULL message of the first header chunk.
   */
  setFillValue(address: bigint, value: Uint8Array): void {
    const at = this.base + address;
    const first = this.read(at, 16);
    if (first.subarray(0, 4).toString('latin1') !== 'OHDR')
      throw new DaosError(
        'DER_NOTSUPPORTED',
        `h5 header: fill value patch needs a version 2 header at ${address}`,
      );
    const flags = first[5]!;
    let pos = 6 + (flags & 0x20 ? 16 : 0) + (flags & 0x10 ? 4 : 0);
    const sizeBytes = 1 << (flags & 3);
    const chunkLen = Number(this.read(at, pos + sizeBytes).readUIntLE(pos, Math.min(sizeBytes, 6)));
    pos += sizeBytes;
    const total = pos + chunkLen; // the checksum follows the chunk
    const chunk = this.read(at, total + 4);
    const headerBytes = 4 + (flags & 0x04 ? 2 : 0);
    let fill: { pos: number; size: number } | undefined;
    let free: { pos: number; size: number } | undefined;
    for (let p = pos; p + headerBytes <= total; ) {
      const type = chunk[p]!;
      const size = chunk.readUInt16LE(p + 1);
      if (type === MSG_FILL) fill = { pos: p, size };
      else if (type === MSG_NULL && (!free || size > free.size)) free = { pos: p, size };
      p += headerBytes + size;
    }
    if (!fill)
      throw new DaosError('DER_NOTSUPPORTED', `h5 header: no Fill Value message in chunk 0 at ${address}`);
    const old = chunk.subarray(fill.pos + headerBytes, fill.pos + headerBytes + fill.size);
    if (old[0] !== 3)
      throw new DaosError('DER_NOTSUPPORTED', `h5 header: fill value message version ${old[0]}`);
    const body = Buffer.alloc(6 + value.length);
    body[0] = 3;
    body[1] = (old[1]! & 0x0f) | 0x20; // keep allocation and write times; "value defined"
    body.writeUInt32LE(value.length, 2);
    body.set(value, 6);
    if (!free || free.size < body.length)
      throw new DaosError(
        'DER_NOSPACE',
        `h5 header: a ${value.length}-byte fill value does not fit the free space of the header at ${address}`,
      );
    const fillFlags = chunk[fill.pos + 3]!;
    chunk[fill.pos] = MSG_NULL; // the old message's bytes become free space
    chunk[fill.pos + 3] = 0;
    const rest = free.size - body.length;
    const bodyLen = rest >= headerBytes ? body.length : free.size; // a too-small remainder pads the body
    chunk[free.pos] = MSG_FILL;
    chunk.writeUInt16LE(bodyLen, free.pos + 1);
    chunk[free.pos + 3] = fillFlags;
    chunk.fill(0, free.pos + 4, free.pos + headerBytes + bodyLen);
    chunk.set(body, free.pos + headerBytes);
    if (bodyLen !== free.size) {
      const nul = free.pos + headerBytes + bodyLen;
      chunk[nul] = MSG_NULL;
      chunk.writeUInt16LE(rest - headerBytes, nul + 1);
      chunk.fill(0, nul + 3, nul + headerBytes + rest - headerBytes);
    }
    chunk.writeUInt32LE(lookup3(chunk.subarray(0, total)), total);
    const wrote = writeSync(this.fd, chunk, 0, total + 4, Number(at));
    if (wrote !== total + 4) throw new DaosError('DER_IO', `h5 header: short write at ${at}`);
  }

  /**
   * Give the string types of the object at `address` the paddings `dataset` (its Datatype message)
   * and `attrs` (its attributes' types, by name) say, h5py's when they say none. Only messages in
   * the header are patched: attributes in dense storage (a fractal heap) keep theirs. Returns the
   * names of the attributes patched.
   */
  setStringPaddings(
    address: bigint,
    dataset: Dtype | undefined,
    attrs: ReadonlyMap<string, Dtype>,
  ): string[] {
    const at = this.base + address;
    const first = this.read(at, 16);
    if (first.subarray(0, 4).toString('latin1') !== 'OHDR')
      throw new DaosError(
        'DER_NOTSUPPORTED',
        `h5 header: padding patch needs a version 2 header at ${address}`,
      );
    const flags = first[5]!;
    let pos = 6 + (flags & 0x20 ? 16 : 0) + (flags & 0x10 ? 4 : 0);
    const sizeBytes = 1 << (flags & 3);
    const chunkLen = Number(this.read(at, pos + sizeBytes).readUIntLE(pos, Math.min(sizeBytes, 6)));
    pos += sizeBytes;
    const headerBytes = 4 + (flags & 0x04 ? 2 : 0);
    // Each block: its bytes (checksum last), where messages start and end.
    const blocks: { at: bigint; bytes: Buffer; start: number; end: number }[] = [
      { at, bytes: this.read(at, pos + chunkLen + 4), start: pos, end: pos + chunkLen },
    ];
    const patched: string[] = [];
    for (let i = 0; i < blocks.length; i++) {
      if (i > CONTINUATIONS_MAX) throw new DaosError('DER_INVAL', 'h5 header: too many continuation blocks');
      const b = blocks[i]!;
      let changed = false;
      for (let p = b.start; p + headerBytes <= b.end; ) {
        const type = b.bytes[p]!;
        const size = b.bytes.readUInt16LE(p + 1);
        const msgFlags = b.bytes[p + 3]!;
        const body = b.bytes.subarray(p + headerBytes, p + headerBytes + size);
        if (type === MSG_CONTINUATION) {
          const len = Number(body.readBigUInt64LE(8));
          if (len > HEADER_CHUNK_BYTES_MAX) throw new DaosError('DER_INVAL', 'h5 header: chunk too large');
          const cat = this.base + body.readBigUInt64LE(0);
          const bytes = this.read(cat, len);
          if (bytes.subarray(0, 4).toString('latin1') !== 'OCHK')
            throw new DaosError('DER_INVAL', `h5 header: bad continuation block at ${cat}`);
          blocks.push({ at: cat, bytes, start: 4, end: len - 4 });
        } else if (!(msgFlags & MSG_FLAG_SHARED)) {
          if (type === MSG_DATATYPE && dataset) changed = setPaddings(body, 0, dataset) || changed;
          else if (type === MSG_ATTRIBUTE) {
            const attr = attributeDatatype(body);
            const t = attr && attrs.get(attr.name);
            if (attr && t) {
              changed = setPaddings(body, attr.at, t) || changed;
              patched.push(attr.name);
            }
          }
        }
        p += headerBytes + size;
      }
      if (!changed) continue;
      b.bytes.writeUInt32LE(lookup3(b.bytes.subarray(0, b.bytes.length - 4)), b.bytes.length - 4);
      const wrote = writeSync(this.fd, b.bytes, 0, b.bytes.length, Number(b.at));
      if (wrote !== b.bytes.length) throw new DaosError('DER_IO', `h5 header: short write at ${b.at}`);
    }
    return patched;
  }

  private forEachMessage(address: bigint, visit: (type: number, flags: number, body: Buffer) => void): void {
    const at = this.base + address;
    const first = this.read(at, 16);
    const blocks: { at: bigint; len: number }[] = [];
    let v2 = false;
    let v2Flags = 0;
    if (first.subarray(0, 4).toString('latin1') === 'OHDR') {
      v2 = true;
      v2Flags = first[5]!;
      let pos = 6;
      if (v2Flags & 0x20) pos += 16; // access, modification, change, birth times
      if (v2Flags & 0x10) pos += 4; // attribute storage phase change values
      const sizeBytes = 1 << (v2Flags & 3);
      const head = this.read(at, pos + sizeBytes);
      const len = Number(head.readUIntLE(pos, Math.min(sizeBytes, 6)));
      blocks.push({ at: at + BigInt(pos + sizeBytes), len });
    } else if (first[0] === 1) {
      blocks.push({ at: at + 16n, len: first.readUInt32LE(8) });
    } else {
      throw new DaosError('DER_NOTSUPPORTED', `h5 header: object header version ${first[0]} at ${address}`);
    }
    for (let i = 0; i < blocks.length; i++) {
      if (i > CONTINUATIONS_MAX) throw new DaosError('DER_INVAL', 'h5 header: too many continuation blocks');
      const block = blocks[i]!;
      if (block.len > HEADER_CHUNK_BYTES_MAX) throw new DaosError('DER_INVAL', 'h5 header: chunk too large');
      let bytes = this.read(block.at, block.len);
      if (v2 && i > 0) {
        if (bytes.subarray(0, 4).toString('latin1') !== 'OCHK')
          throw new DaosError('DER_INVAL', `h5 header: bad continuation block at ${block.at}`);
        bytes = bytes.subarray(4);
      }
      const end = v2 && i > 0 ? bytes.length - 4 : bytes.length; // continuation blocks end in a checksum
      const headerBytes = v2 ? 4 + (v2Flags & 0x04 ? 2 : 0) : 8;
      let pos = 0;
      while (pos + headerBytes <= end) {
        const type = v2 ? bytes[pos]! : bytes.readUInt16LE(pos);
        const size = v2 ? bytes.readUInt16LE(pos + 1) : bytes.readUInt16LE(pos + 2);
        const flags = v2 ? bytes[pos + 3]! : bytes[pos + 4]!;
        const body = bytes.subarray(pos + headerBytes, pos + headerBytes + size);
        if (type === MSG_CONTINUATION) {
          blocks.push({ at: this.base + body.readBigUInt64LE(0), len: Number(body.readBigUInt64LE(8)) });
        } else {
          visit(type, flags, body);
        }
        pos += headerBytes + size;
      }
    }
  }
}

/** An Attribute message's name and where its (not shared) datatype starts in `body`. */
function attributeDatatype(body: Buffer): { name: string; at: number } | undefined {
  const version = body[0]!;
  if (version < 1 || version > 3) return undefined;
  if (version > 1 && body[1]! & 0x01) return undefined; // a shared datatype
  const nameSize = body.readUInt16LE(2);
  const nameAt = version === 3 ? 9 : 8;
  const name = body.subarray(nameAt, nameAt + nameSize - 1).toString('utf8');
  const pad8 = (n: number) => (version === 1 ? Math.ceil(n / 8) * 8 : n);
  return { name, at: nameAt + pad8(nameSize) };
}

/** HDF5 datatype classes this patch walks through. */
const DT_FIXED = 0;
const DT_FLOAT = 1;
const DT_STRING = 3;
const DT_COMPOUND = 6;
const DT_VLEN = 9;

/**
 * Set the padding of every string type in the datatype encoded at `body[at]` to what `t` says.
 * Returns whether a byte changed; a type that does not match `t` is left alone.
 */
function setPaddings(body: Buffer, at: number, t: Dtype): boolean {
  return walkDatatype(body, at, t).changed;
}

function walkDatatype(body: Buffer, at: number, t: Dtype | undefined): { changed: boolean; length: number } {
  const cls = body[at]! & 0x0f;
  const version = body[at]! >> 4;
  const bits = body.readUIntLE(at + 1, 3);
  const size = body.readUInt32LE(at + 4);
  let changed = false;
  const setPad = (byte: number, shift: number, want: number) => {
    const old = body[byte]!;
    const now = (old & ~(0x0f << shift)) | (want << shift);
    if (now !== old) {
      body[byte] = now;
      changed = true;
    }
  };
  switch (cls) {
    case DT_FIXED:
      return { changed, length: 8 + 4 };
    case DT_FLOAT:
      return { changed, length: 8 + 12 };
    case DT_STRING:
      if (t?.class === 'string') setPad(at + 1, 0, STRING_PADDINGS.indexOf(paddingOf(t)));
      return { changed, length: 8 };
    case DT_VLEN: {
      if ((bits & 0x0f) === 1 && t?.class === 'vlen-string')
        setPad(at + 1, 4, STRING_PADDINGS.indexOf(paddingOf(t)));
      const base = walkDatatype(body, at + 8, undefined);
      return { changed, length: 8 + base.length };
    }
    case DT_COMPOUND: {
      const members = bits & 0xffff;
      let p = at + 8;
      const offsetBytes = size < 1 << 8 ? 1 : size < 1 << 16 ? 2 : size < 1 << 24 ? 3 : 4;
      for (let i = 0; i < members; i++) {
        const nul = body.indexOf(0, p);
        if (nul < 0) throw new DaosError('DER_INVAL', 'h5 header: unterminated compound member name');
        const name = body.subarray(p, nul).toString('utf8');
        if (version >= 3) p = nul + 1 + offsetBytes;
        else {
          p += Math.ceil((nul + 1 - p) / 8) * 8;
          p += version === 1 ? 4 + 28 : 4;
        }
        const field = t?.class === 'compound' ? t.fields.find((f) => f.name === name) : undefined;
        const member = walkDatatype(body, p, field?.type);
        changed = member.changed || changed;
        p += member.length;
      }
      return { changed, length: p - at };
    }
    default:
      throw new DaosError('DER_NOTSUPPORTED', `h5 header: datatype class ${cls} in a padding patch`);
  }
}

/** Fill Value message versions 1-3; undefined when no user value is stored. */
function parseFill(body: Buffer): Uint8Array | undefined {
  const version = body[0]!;
  let sizeAt: number;
  if (version === 3) {
    if (!(body[1]! & 0x20)) return undefined;
    sizeAt = 2;
  } else {
    const defined = body[3]!;
    if (version > 1 && !defined) return undefined;
    sizeAt = 4;
  }
  const size = body.readUInt32LE(sizeAt);
  return size > 0 ? Uint8Array.from(body.subarray(sizeAt + 4, sizeAt + 4 + size)) : undefined;
}

/** Bob Jenkins' lookup3 hashlittle with initval 0: HDF5's metadata checksum. */
export function lookup3(k: Uint8Array): number {
  let length = k.length;
  let a = (0xdeadbeef + length) | 0;
  let b = a;
  let c = a;
  const rot = (x: number, r: number) => (x << r) | (x >>> (32 - r));
  let i = 0;
  while (length > 12) {
    a = (a + (k[i]! | (k[i + 1]! << 8) | (k[i + 2]! << 16) | (k[i + 3]! << 24))) | 0;
    b = (b + (k[i + 4]! | (k[i + 5]! << 8) | (k[i + 6]! << 16) | (k[i + 7]! << 24))) | 0;
    c = (c + (k[i + 8]! | (k[i + 9]! << 8) | (k[i + 10]! << 16) | (k[i + 11]! << 24))) | 0;
    a = (a - c) | 0;
    a ^= rot(c, 4);
    c = (c + b) | 0;
    b = (b - a) | 0;
    b ^= rot(a, 6);
    a = (a + c) | 0;
    c = (c - b) | 0;
    c ^= rot(b, 8);
    b = (b + a) | 0;
    a = (a - c) | 0;
    a ^= rot(c, 16);
    c = (c + b) | 0;
    b = (b - a) | 0;
    b ^= rot(a, 19);
    a = (a + c) | 0;
    c = (c - b) | 0;
    c ^= rot(b, 4);
    b = (b + a) | 0;
    length -= 12;
    i += 12;
  }
  if (length === 0) return c >>> 0;
  const at = (j: number, shift: number) => (j < length ? k[i + j]! << shift : 0);
  c = (c + (at(8, 0) | at(9, 8) | at(10, 16) | at(11, 24))) | 0;
  b = (b + (at(4, 0) | at(5, 8) | at(6, 16) | at(7, 24))) | 0;
  a = (a + (at(0, 0) | at(1, 8) | at(2, 16) | at(3, 24))) | 0;
  c ^= b;
  c = (c - rot(b, 14)) | 0;
  a ^= c;
  a = (a - rot(c, 11)) | 0;
  b ^= a;
  b = (b - rot(a, 25)) | 0;
  c ^= b;
  c = (c - rot(b, 16)) | 0;
  a ^= c;
  a = (a - rot(c, 4)) | 0;
  b ^= a;
  b = (b - rot(a, 14)) | 0;
  c ^= b;
  c = (c - rot(b, 24)) | 0;
  return c >>> 0;
}
