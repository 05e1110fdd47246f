/**
 * The frame format of the data-plane wire: a fixed little-endian header, a msgpack header body and
 * raw bulk bytes. Bulk is never re-encoded: encodeFrame hands it back as its own piece for a
 * gathered write, and FrameDecoder returns it as a view of the socket chunk when it fits in one.
 *
 * Errors are of two classes. A bad fixed header (magic, version, kind, reserved fields, a length
 * over its limit) means the byte stream can no longer be trusted: FrameDecoder.push throws and the
 * connection must be closed. A body that is not msgpack only spoils its own frame: the frame comes
 * out with `headerError` set, and the server answers it with an error reply.
 */
import { Packr } from 'msgpackr';
import { assert, DaosError } from '../common/errors.js';
import { FRAME_BULK_BYTES_MAX, FRAME_FIXED_HEADER_BYTES, FRAME_HEADER_BODY_BYTES_MAX } from './limits.js';

/** 'DAOW' on the wire (the u32 is little-endian). */
export const FRAME_MAGIC = 0x574f4144;
export const FRAME_VERSION = 1;

export const FRAME_KIND_REQUEST = 0;
export const FRAME_KIND_REPLY = 1;
export const FRAME_KIND_ERROR = 2;
export type FrameKind = typeof FRAME_KIND_REQUEST | typeof FRAME_KIND_REPLY | typeof FRAME_KIND_ERROR;

const OFF_MAGIC = 0;
const OFF_VERSION = 4;
const OFF_KIND = 5;
const OFF_FLAGS = 6;
const OFF_REQUEST_ID = 8;
const OFF_OPCODE = 12;
const OFF_RESERVED = 14;
const OFF_BODY_BYTES = 16;
const OFF_BULK_BYTES = 20;

const U16_MAX = 0xffff;
const U32_MAX = 0xffffffff;

/**
 * The header-body codec: bigint stays bigint (every 64-bit integer decodes as bigint, and numbers
 * never encode as 64-bit integers, so number stays number), Uint8Array and Buffer come back as
 * Buffer (copied, so a header never pins a socket chunk), maps and objects come back as plain
 * objects, and no records or shared structures make the stream stateful.
 */
const packr = new Packr({
  useRecords: false,
  mapsAsObjects: true,
  int64AsType: 'bigint',
  copyBuffers: true,
  moreTypes: false,
  bundleStrings: false,
});

/** The fixed-header fields of a frame that callers choose. */
export interface FrameHead {
  kind: FrameKind;
  requestId: number;
  opcode: number;
}

/** A decoded frame. `header` is undefined when the body was empty or failed to decode. */
export interface Frame extends FrameHead {
  header: unknown;
  /** Set when the body was not valid msgpack: an error for this frame only. */
  headerError: DaosError | undefined;
  /** Undefined when the frame carried no bulk (an empty bulk is no bulk). */
  bulk: Uint8Array | undefined;
}

/** The header body of `header`: empty for undefined, msgpack otherwise. */
export function encodeHeaderBody(header: unknown): Uint8Array {
  if (header === undefined) return new Uint8Array(0);
  let body: Uint8Array;
  try {
    body = packr.pack(header);
  } catch (err) {
    throw new DaosError('DER_INVAL', `header cannot be encoded: ${(err as Error).message}`);
  }
  if (body.length > FRAME_HEADER_BODY_BYTES_MAX) {
    throw new DaosError(
      'DER_OVERFLOW',
      `header body of ${body.length} bytes is over the limit of ${FRAME_HEADER_BODY_BYTES_MAX}`,
    );
  }
  return body;
}

/** Decode a header body; a DaosError DER_PROTO when it is not one msgpack value. */
export function decodeHeaderBody(body: Uint8Array): unknown {
  if (body.length === 0) return undefined;
  try {
    return packr.unpack(body);
  } catch (err) {
    // A deeply nested body overflows the stack as a RangeError: still just a bad body.
    throw new DaosError(
      'DER_PROTO',
      `header body is not valid msgpack: ${(err as Error).message.slice(0, 200)}`,
    );
  }
}

/**
 * Encode a frame as pieces for one gathered write: the fixed header and body in one small buffer,
 * then the caller's bulk itself (not copied).
 */
export function encodeFrame(head: FrameHead, header: unknown, bulk?: Uint8Array): Uint8Array[] {
  assert(Number.isInteger(head.requestId) && head.requestId >= 0 && head.requestId <= U32_MAX, 'request id');
  if (!Number.isInteger(head.opcode) || head.opcode < 0 || head.opcode > U16_MAX) {
    throw new DaosError('DER_INVAL', `opcode ${head.opcode} is not a u16`);
  }
  const bulkBytes = bulk?.length ?? 0;
  if (bulkBytes > FRAME_BULK_BYTES_MAX) {
    throw new DaosError(
      'DER_OVERFLOW',
      `bulk of ${bulkBytes} bytes is over the limit of ${FRAME_BULK_BYTES_MAX}`,
    );
  }
  const body = encodeHeaderBody(header);
  const first = Buffer.allocUnsafe(FRAME_FIXED_HEADER_BYTES + body.length);
  first.writeUInt32LE(FRAME_MAGIC, OFF_MAGIC);
  first.writeUInt8(FRAME_VERSION, OFF_VERSION);
  first.writeUInt8(head.kind, OFF_KIND);
  first.writeUInt16LE(0, OFF_FLAGS);
  first.writeUInt32LE(head.requestId, OFF_REQUEST_ID);
  first.writeUInt16LE(head.opcode, OFF_OPCODE);
  first.writeUInt16LE(0, OFF_RESERVED);
  first.writeUInt32LE(body.length, OFF_BODY_BYTES);
  first.writeUInt32LE(bulkBytes, OFF_BULK_BYTES);
  first.set(body, FRAME_FIXED_HEADER_BYTES);
  return bulk !== undefined && bulkBytes > 0 ? [first, bulk] : [first];
}

interface PendingHead extends FrameHead {
  bodyBytes: number;
  bulkBytes: number;
}

/**
 * A streaming decoder: push socket chunks, get complete frames in order. It keeps at most one
 * frame's bytes (bounded by the limits) plus the unread tail of the last chunk.
 */
export class FrameDecoder {
  private readonly chunks: Uint8Array[] = [];
  /** Read position inside chunks[0]. */
  private offset = 0;
  private buffered = 0;
  private head: PendingHead | undefined;
  private failure: DaosError | undefined;

  /** `accepts`: the frame kinds this side may receive (a server: requests; a client: replies). */
  constructor(private readonly accepts: ReadonlySet<FrameKind>) {}

  /** Bytes received but not yet part of a delivered frame. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /**
   * Feed one chunk; `onFrame` gets every frame it completes, in order. Throws a DaosError
   * DER_PROTO when the stream is corrupt (after delivering the frames before the corruption);
   * the connection must then be closed, and the decoder refuses further chunks.
   */
  push(chunk: Uint8Array, onFrame: (frame: Frame) => void): void {
    if (this.failure !== undefined) throw this.failure;
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    for (;;) {
      if (this.head === undefined) {
        if (this.buffered < FRAME_FIXED_HEADER_BYTES) return;
        const fixed = this.take(FRAME_FIXED_HEADER_BYTES);
        try {
          this.head = this.parseFixed(fixed);
        } catch (err) {
          this.failure = err as DaosError;
          this.chunks.length = 0;
          this.buffered = 0;
          throw err;
        }
      }
      const head = this.head;
      if (this.buffered < head.bodyBytes + head.bulkBytes) return;
      this.head = undefined;
      const body = this.take(head.bodyBytes);
      const bulk = head.bulkBytes > 0 ? this.take(head.bulkBytes) : undefined;
      let header: unknown;
      let headerError: DaosError | undefined;
      try {
        header = decodeHeaderBody(body);
      } catch (err) {
        headerError = err as DaosError;
      }
      onFrame({ kind: head.kind, requestId: head.requestId, opcode: head.opcode, header, headerError, bulk });
    }
  }

  private parseFixed(fixed: Uint8Array): PendingHead {
    const view = new DataView(fixed.buffer, fixed.byteOffset, fixed.byteLength);
    const magic = view.getUint32(OFF_MAGIC, true);
    if (magic !== FRAME_MAGIC) throw new DaosError('DER_PROTO', `bad frame magic 0x${magic.toString(16)}`);
    const version = view.getUint8(OFF_VERSION);
    if (version !== FRAME_VERSION) throw new DaosError('DER_PROTO', `unsupported frame version ${version}`);
    const kind = view.getUint8(OFF_KIND) as FrameKind;
    if (!this.accepts.has(kind)) throw new DaosError('DER_PROTO', `unexpected frame kind ${kind}`);
    const flags = view.getUint16(OFF_FLAGS, true);
    const reserved = view.getUint16(OFF_RESERVED, true);
    if (flags !== 0 || reserved !== 0) throw new DaosError('DER_PROTO', 'reserved frame fields are not zero');
    const bodyBytes = view.getUint32(OFF_BODY_BYTES, true);
    if (bodyBytes > FRAME_HEADER_BODY_BYTES_MAX) {
      throw new DaosError('DER_PROTO', `header body of ${bodyBytes} bytes is over the limit`);
    }
    const bulkBytes = view.getUint32(OFF_BULK_BYTES, true);
    if (bulkBytes > FRAME_BULK_BYTES_MAX)
      throw new DaosError('DER_PROTO', `bulk of ${bulkBytes} bytes is over the limit`);
    return {
      kind,
      requestId: view.getUint32(OFF_REQUEST_ID, true),
      opcode: view.getUint16(OFF_OPCODE, true),
      bodyBytes,
      bulkBytes,
    };
  }

  /** The next n buffered bytes: a view when they lie in one chunk, else a copy. */
  private take(n: number): Uint8Array {
    assert(n <= this.buffered, 'take past buffered bytes');
    this.buffered -= n;
    if (n === 0) return new Uint8Array(0);
    const first = this.chunks[0]!;
    if (first.length - this.offset >= n) {
      const view = first.subarray(this.offset, this.offset + n);
      this.advance(first, n);
      return view;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.chunks[0]!;
      const count = Math.min(chunk.length - this.offset, n - filled);
      out.set(chunk.subarray(this.offset, this.offset + count), filled);
      filled += count;
      this.advance(chunk, count);
    }
    return out;
  }

  private advance(chunk: Uint8Array, n: number): void {
    this.offset += n;
    if (this.offset === chunk.length) {
      this.chunks.shift();
      this.offset = 0;
    }
  }
}
