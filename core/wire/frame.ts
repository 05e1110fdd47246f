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
  /** Set once the body is in: the decoded header (or its error). */
  bodyDone: boolean;
  header: unknown;
  headerError: DaosError | undefined;
  /** The bulk being assembled, when it spans chunks: allocated once, filled as bytes arrive. */
  bulk: Uint8Array | undefined;
  /** Whether `bulk` came from bulkInto (someone else's buffer: see releaseBulk). */
  bulkGiven: boolean;
  bulkFilled: number;
}

/**
 * A streaming decoder: push socket chunks, get complete frames in order. It keeps at most one
 * frame's bytes (bounded by the limits) plus the unread tail of the last chunk.
 *
 * A bulk that spans chunks is assembled as it arrives, into one buffer allocated when the frame's
 * body is in, so no chunk is held longer than it takes to copy it; and a reader that can choose
 * where the socket reads to may read the rest of such a bulk straight into place
 * (`bulkRemainder` / `filledInPlace`), with no copy at all.
 */
export class FrameDecoder {
  private readonly chunks: Uint8Array[] = [];
  /** Read position inside chunks[0]. */
  private offset = 0;
  private buffered = 0;
  /** Bytes of the pending frame already taken out of the chunks. */
  private partial = 0;
  private head: PendingHead | undefined;
  private failure: DaosError | undefined;

  /**
   * Where the bulk of a frame that spans reads goes, when not a fresh buffer of its own: a buffer
   * of exactly `bulkBytes` (a client: the caller's, RequestOptions.replyBulkInto), or undefined.
   */
  bulkInto: (requestId: number, bulkBytes: number) => Uint8Array | undefined = () => undefined;

  /** `accepts`: the frame kinds this side may receive (a server: requests; a client: replies). */
  constructor(private readonly accepts: ReadonlySet<FrameKind>) {}

  /**
   * The frame of `requestId` is no longer wanted: if its bulk is being read into a buffer that
   * bulkInto gave, the rest goes to a buffer of the decoder's own (the frame is still read whole).
   */
  releaseBulk(requestId: number): void {
    const head = this.head;
    if (head?.bulk === undefined || head.requestId !== requestId || !head.bulkGiven) return;
    head.bulk = Buffer.allocUnsafe(head.bulkBytes);
    head.bulkGiven = false;
  }

  /** Bytes received but not yet part of a delivered frame. */
  get bufferedBytes(): number {
    return this.buffered + this.partial;
  }

  /**
   * Feed one chunk; `onFrame` gets every frame it completes, in order. Throws a DaosError
   * DER_PROTO when the stream is corrupt (after delivering the frames before the corruption);
   * the connection must then be closed, and the decoder refuses further chunks. Delivered bulks
   * may be views of `chunk`, and its unread tail is kept: the chunk must not be reused.
   */
  push(chunk: Uint8Array, onFrame: (frame: Frame) => void): void {
    this.feed(chunk, onFrame, false);
  }

  /**
   * Like push, for a chunk whose memory the caller reuses once this returns (a socket's read
   * buffer): whatever outlives the call — bulks, an unread tail — is copied out of it.
   */
  pushTransient(chunk: Uint8Array, onFrame: (frame: Frame) => void): void {
    this.feed(chunk, onFrame, true);
  }

  /**
   * The unfilled rest of the bulk being assembled, when nothing else is buffered: the next bytes
   * of the stream belong there, so a reader may read them straight into it (then call
   * filledInPlace). Undefined otherwise.
   */
  bulkRemainder(): Uint8Array | undefined {
    const head = this.head;
    if (this.failure !== undefined || this.buffered > 0 || head?.bulk === undefined) return undefined;
    return head.bulk.subarray(head.bulkFilled);
  }

  /** `n` bytes were read straight into bulkRemainder(); delivers the frame once its bulk is whole. */
  filledInPlace(n: number, onFrame: (frame: Frame) => void): void {
    const head = this.head;
    assert(
      head?.bulk !== undefined && this.buffered === 0 && n <= head.bulkBytes - head.bulkFilled,
      'filled in place past the bulk being assembled',
    );
    head.bulkFilled += n;
    this.partial += n;
    if (head.bulkFilled === head.bulkBytes) this.deliver(head, head.bulk, onFrame);
  }

  private feed(chunk: Uint8Array, onFrame: (frame: Frame) => void, transient: boolean): void {
    if (this.failure !== undefined) throw this.failure;
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    try {
      this.drain(onFrame, transient);
    } finally {
      if (transient) this.keepTail(chunk);
    }
  }

  private drain(onFrame: (frame: Frame) => void, transient: boolean): void {
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
          this.partial = 0;
          throw err;
        }
        this.partial = FRAME_FIXED_HEADER_BYTES;
      }
      const head = this.head;
      if (!head.bodyDone) {
        if (this.buffered < head.bodyBytes) return;
        // Decoded now: the header copies what it keeps, so the body's chunk need not be held.
        try {
          head.header = decodeHeaderBody(this.take(head.bodyBytes));
        } catch (err) {
          head.headerError = err as DaosError;
        }
        head.bodyDone = true;
        this.partial += head.bodyBytes;
      }
      if (head.bulkBytes === 0) {
        this.deliver(head, undefined, onFrame);
        continue;
      }
      if (head.bulk === undefined) {
        if (this.buffered >= head.bulkBytes) {
          // The whole bulk is here: a view when it lies in one chunk (copied if that chunk is reused).
          const inOneChunk = this.chunks[0]!.length - this.offset >= head.bulkBytes;
          const view = this.take(head.bulkBytes);
          const bulk = transient && inOneChunk ? Buffer.from(view) : view;
          this.deliver(head, bulk, onFrame);
          continue;
        }
        const given =
          head.kind === FRAME_KIND_REPLY && head.headerError === undefined
            ? this.bulkInto(head.requestId, head.bulkBytes)
            : undefined;
        head.bulkGiven = given !== undefined;
        head.bulk = given ?? Buffer.allocUnsafe(head.bulkBytes);
      }
      const n = Math.min(this.buffered, head.bulkBytes - head.bulkFilled);
      this.copyInto(head.bulk, head.bulkFilled, n);
      head.bulkFilled += n;
      this.partial += n;
      if (head.bulkFilled < head.bulkBytes) return;
      this.deliver(head, head.bulk, onFrame);
    }
  }

  private deliver(head: PendingHead, bulk: Uint8Array | undefined, onFrame: (frame: Frame) => void): void {
    this.head = undefined;
    this.partial = 0;
    const { kind, requestId, opcode, header, headerError } = head;
    onFrame({ kind, requestId, opcode, header, headerError, bulk });
  }

  /** After a transient chunk: copy its unread tail, the only part of it still referenced. */
  private keepTail(chunk: Uint8Array): void {
    const i = this.chunks.indexOf(chunk);
    if (i < 0) return;
    const from = i === 0 ? this.offset : 0;
    this.chunks[i] = Buffer.from(chunk.subarray(from));
    if (i === 0) this.offset = 0;
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
      bodyDone: false,
      header: undefined,
      headerError: undefined,
      bulk: undefined,
      bulkGiven: false,
      bulkFilled: 0,
    };
  }

  /** The next n buffered bytes: a view when they lie in one chunk, else a copy. */
  private take(n: number): Uint8Array {
    assert(n <= this.buffered, 'take past buffered bytes');
    if (n === 0) return new Uint8Array(0);
    const first = this.chunks[0]!;
    if (first.length - this.offset >= n) {
      this.buffered -= n;
      const view = first.subarray(this.offset, this.offset + n);
      this.advance(first, n);
      return view;
    }
    const out = Buffer.allocUnsafe(n);
    this.copyInto(out, 0, n);
    return out;
  }

  /** Move the next n buffered bytes into out[at..]. */
  private copyInto(out: Uint8Array, at: number, n: number): void {
    assert(n <= this.buffered, 'copy past buffered bytes');
    this.buffered -= n;
    let filled = 0;
    while (filled < n) {
      const chunk = this.chunks[0]!;
      const count = Math.min(chunk.length - this.offset, n - filled);
      out.set(chunk.subarray(this.offset, this.offset + count), at + filled);
      filled += count;
      this.advance(chunk, count);
    }
  }

  private advance(chunk: Uint8Array, n: number): void {
    this.offset += n;
    if (this.offset === chunk.length) {
      this.chunks.shift();
      this.offset = 0;
    }
  }
}
