import { describe, expect, it } from 'vitest';
import { DaosError } from '../common/errors.js';
import {
  decodeHeaderBody,
  encodeFrame,
  encodeHeaderBody,
  FRAME_KIND_ERROR,
  FRAME_KIND_REPLY,
  FRAME_KIND_REQUEST,
  type Frame,
  FrameDecoder,
  type FrameKind,
} from './frame.js';
import { FRAME_BULK_BYTES_MAX, FRAME_FIXED_HEADER_BYTES, FRAME_HEADER_BODY_BYTES_MAX } from './limits.js';

const ALL_KINDS: ReadonlySet<FrameKind> = new Set([FRAME_KIND_REQUEST, FRAME_KIND_REPLY, FRAME_KIND_ERROR]);

function concat(pieces: Uint8Array[]): Buffer {
  return Buffer.concat(pieces);
}

function decodeAll(chunks: Uint8Array[]): Frame[] {
  const decoder = new FrameDecoder(ALL_KINDS);
  const frames: Frame[] = [];
  for (const chunk of chunks) decoder.push(chunk, (f) => frames.push(f));
  expect(decoder.bufferedBytes).toBe(0);
  return frames;
}

function rawHeader(
  fields: Partial<Record<'magic' | 'version' | 'kind' | 'flags' | 'body' | 'bulk', number>>,
): Buffer {
  const [first] = encodeFrame({ kind: FRAME_KIND_REQUEST, requestId: 7, opcode: 1 }, undefined);
  const b = Buffer.from(first!);
  if (fields.magic !== undefined) b.writeUInt32LE(fields.magic, 0);
  if (fields.version !== undefined) b.writeUInt8(fields.version, 4);
  if (fields.kind !== undefined) b.writeUInt8(fields.kind, 5);
  if (fields.flags !== undefined) b.writeUInt16LE(fields.flags, 6);
  if (fields.body !== undefined) b.writeUInt32LE(fields.body, 16);
  if (fields.bulk !== undefined) b.writeUInt32LE(fields.bulk, 20);
  return b;
}

describe('header body codec', () => {
  it('round-trips bigint, bytes, nested arrays and plain objects with their types', () => {
    const header = {
      small: 5n,
      max: 2n ** 64n - 1n,
      min: -(2n ** 63n),
      zero: 0n,
      n: 5,
      big: 2 ** 40,
      f: 1.5,
      s: 'dkey',
      bytes: new Uint8Array([0, 1, 2, 255]),
      buf: Buffer.from('akey'),
      empty: new Uint8Array(0),
      nested: [[1, { recx: [{ idx: 3n, nr: 2n }], data: new Uint8Array([9]) }], []],
      nul: null,
      yes: true,
    };
    const out = decodeHeaderBody(encodeHeaderBody(header)) as typeof header;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(typeof out.small).toBe('bigint');
    expect(out.small).toBe(5n);
    expect(out.max).toBe(2n ** 64n - 1n);
    expect(out.min).toBe(-(2n ** 63n));
    expect(out.zero).toBe(0n);
    expect(out.n).toBe(5);
    expect(typeof out.big).toBe('number');
    expect(out.big).toBe(2 ** 40);
    expect(out.f).toBe(1.5);
    expect(out.s).toBe('dkey');
    expect(out.bytes).toBeInstanceOf(Uint8Array);
    expect([...out.bytes]).toEqual([0, 1, 2, 255]);
    expect(Buffer.from(out.buf).toString()).toBe('akey');
    expect(out.empty).toBeInstanceOf(Uint8Array);
    expect(out.empty.length).toBe(0);
    const inner = out.nested[0]![1] as { recx: Array<{ idx: bigint; nr: bigint }>; data: Uint8Array };
    expect(Array.isArray(out.nested)).toBe(true);
    expect(out.nested[1]).toEqual([]);
    expect(Object.getPrototypeOf(inner)).toBe(Object.prototype);
    expect(inner.recx).toEqual([{ idx: 3n, nr: 2n }]);
    expect(inner.data).toBeInstanceOf(Uint8Array);
    expect([...inner.data]).toEqual([9]);
    expect(out.nul).toBe(null);
    expect(out.yes).toBe(true);
  });

  it('refuses what it cannot carry', () => {
    expect(() => encodeHeaderBody({ v: 2n ** 64n })).toThrow(DaosError);
    const huge = { s: 'x'.repeat(FRAME_HEADER_BODY_BYTES_MAX) };
    expect(() => encodeHeaderBody(huge)).toThrow(/DER_OVERFLOW/);
    expect(() => decodeHeaderBody(Buffer.from([0xc4, 0x05, 0x01]))).toThrow(/DER_PROTO/);
    expect(() => decodeHeaderBody(Buffer.from([0x92, 0x01]))).toThrow(/DER_PROTO/);
    // Trailing bytes after one value are not a header.
    expect(() => decodeHeaderBody(Buffer.from([0x01, 0x02]))).toThrow(/DER_PROTO/);
    // A body nested past the stack is a bad body, not a crash.
    expect(() => decodeHeaderBody(Buffer.alloc(200_000, 0x91))).toThrow(/DER_PROTO/);
  });
});

describe('encodeFrame', () => {
  it('puts header and body in one buffer and hands the bulk back uncopied', () => {
    const bulk = new Uint8Array(1000).fill(7);
    const pieces = encodeFrame({ kind: FRAME_KIND_REQUEST, requestId: 42, opcode: 0x101 }, { a: 1 }, bulk);
    expect(pieces).toHaveLength(2);
    expect(pieces[1]).toBe(bulk);
    const first = Buffer.from(pieces[0]!);
    expect(first.readUInt32LE(0)).toBe(0x574f4144);
    expect(first.subarray(0, 4).toString()).toBe('DAOW');
    expect(first.readUInt8(4)).toBe(1);
    expect(first.readUInt8(5)).toBe(FRAME_KIND_REQUEST);
    expect(first.readUInt32LE(8)).toBe(42);
    expect(first.readUInt16LE(12)).toBe(0x101);
    expect(first.readUInt32LE(16)).toBe(first.length - FRAME_FIXED_HEADER_BYTES);
    expect(first.readUInt32LE(20)).toBe(1000);
    expect(encodeFrame({ kind: FRAME_KIND_REPLY, requestId: 1, opcode: 1 }, undefined)).toHaveLength(1);
  });

  it('refuses a bad opcode and an oversize bulk', () => {
    expect(() => encodeFrame({ kind: FRAME_KIND_REQUEST, requestId: 1, opcode: 0x10000 }, {})).toThrow(
      /DER_INVAL/,
    );
    const fake = { length: FRAME_BULK_BYTES_MAX + 1 } as Uint8Array;
    expect(() => encodeFrame({ kind: FRAME_KIND_REQUEST, requestId: 1, opcode: 1 }, {}, fake)).toThrow(
      /DER_OVERFLOW/,
    );
  });
});

describe('FrameDecoder', () => {
  const sample: Array<{
    kind: FrameKind;
    requestId: number;
    opcode: number;
    header: unknown;
    bulk?: Uint8Array;
  }> = [
    {
      kind: FRAME_KIND_REQUEST,
      requestId: 1,
      opcode: 0x101,
      header: { oid: [1n, 2n], n: 3 },
      bulk: Buffer.from('hello bulk'),
    },
    { kind: FRAME_KIND_REPLY, requestId: 2, opcode: 1, header: undefined },
    {
      kind: FRAME_KIND_ERROR,
      requestId: 0xffffffff,
      opcode: 0xffff,
      header: { code: 'DER_INVAL', message: 'x' },
    },
    {
      kind: FRAME_KIND_REQUEST,
      requestId: 3,
      opcode: 2,
      header: 'just a string',
      bulk: new Uint8Array(70).fill(3),
    },
    { kind: FRAME_KIND_REPLY, requestId: 4, opcode: 2, header: [Buffer.from([1, 2]), 2n ** 64n - 1n] },
  ];
  const stream = concat(sample.flatMap((f) => encodeFrame(f, f.header, f.bulk)));

  function expectSample(frames: Frame[]): void {
    expect(frames).toHaveLength(sample.length);
    frames.forEach((frame, i) => {
      const want = sample[i]!;
      expect(frame.kind).toBe(want.kind);
      expect(frame.requestId).toBe(want.requestId);
      expect(frame.opcode).toBe(want.opcode);
      expect(frame.headerError).toBeUndefined();
      expect(frame.header).toEqual(want.header);
      expect(frame.bulk === undefined ? undefined : Buffer.from(frame.bulk)).toEqual(
        want.bulk === undefined ? undefined : Buffer.from(want.bulk),
      );
    });
  }

  it('decodes a stream split at every byte boundary', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      expectSample(decodeAll([stream.subarray(0, cut), stream.subarray(cut)]));
    }
    for (let a = 1; a < stream.length; a += 7) {
      for (let b = a; b < stream.length; b += 11) {
        expectSample(decodeAll([stream.subarray(0, a), stream.subarray(a, b), stream.subarray(b)]));
      }
    }
    expectSample(decodeAll([...stream].map((byte) => Uint8Array.of(byte))));
  });

  it('decodes many frames in one chunk, bulk as a view of the chunk', () => {
    const pieces: Uint8Array[] = [];
    for (let i = 0; i < 1000; i++) {
      pieces.push(
        ...encodeFrame({ kind: FRAME_KIND_REQUEST, requestId: i, opcode: 1 }, { i }, Buffer.from(`b${i}`)),
      );
    }
    const chunk = concat(pieces);
    const frames = decodeAll([chunk]);
    expect(frames).toHaveLength(1000);
    frames.forEach((f, i) => {
      expect(f.requestId).toBe(i);
      expect(f.header).toEqual({ i });
      expect(Buffer.from(f.bulk!).toString()).toBe(`b${i}`);
      expect(f.bulk!.buffer).toBe(chunk.buffer);
    });
  });

  it('decodes from a reused read buffer (pushTransient) and reads spanning bulks in place', () => {
    const big = Buffer.alloc(300_000);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
    const pieces: Uint8Array[] = [];
    for (let i = 0; i < 20; i++) {
      const bulk =
        i % 3 === 0 ? big.subarray(0, 1000 + i * 9000) : i % 3 === 1 ? Buffer.from(`s${i}`) : undefined;
      pieces.push(...encodeFrame({ kind: FRAME_KIND_REPLY, requestId: i, opcode: 2 }, { i }, bulk));
    }
    const stream = concat(pieces);
    for (const [size, inPlace] of [
      [1, false],
      [7, true],
      [4096, false],
      [4096, true],
      [65536, true],
    ] as const) {
      const decoder = new FrameDecoder(ALL_KINDS);
      const frames: Frame[] = [];
      const scratch = Buffer.alloc(size);
      let pos = 0;
      while (pos < stream.length) {
        const into = inPlace ? decoder.bulkRemainder() : undefined;
        const target = into ?? scratch;
        const n = Math.min(target.length, stream.length - pos);
        stream.copy(target, 0, pos, pos + n);
        pos += n;
        if (into !== undefined) decoder.filledInPlace(n, (f) => frames.push(f));
        else decoder.pushTransient(scratch.subarray(0, n), (f) => frames.push(f));
        scratch.fill(0xee); // the decoder must have copied whatever it kept
      }
      expect(decoder.bufferedBytes).toBe(0);
      expect(frames).toHaveLength(20);
      frames.forEach((f, i) => {
        expect(f.requestId).toBe(i);
        expect(f.header).toEqual({ i });
        if (i % 3 === 0) expect(Buffer.from(f.bulk!).equals(big.subarray(0, 1000 + i * 9000))).toBe(true);
        else if (i % 3 === 1) expect(Buffer.from(f.bulk!).toString()).toBe(`s${i}`);
        else expect(f.bulk).toBeUndefined();
      });
    }
  });

  it('fails a frame whose body is not msgpack, and goes on with the next', () => {
    const bad = rawHeader({ body: 3 });
    const good = encodeFrame({ kind: FRAME_KIND_REQUEST, requestId: 9, opcode: 1 }, { ok: 1 });
    const frames = decodeAll([concat([bad, Buffer.from([0xc1, 0xc1, 0xc1]), ...good])]);
    expect(frames).toHaveLength(2);
    expect(frames[0]!.headerError?.code).toBe('DER_PROTO');
    expect(frames[1]!.header).toEqual({ ok: 1 });
  });

  it('throws DER_PROTO on a corrupt fixed header, after the frames before it, and stays failed', () => {
    const good = concat(encodeFrame({ kind: FRAME_KIND_REQUEST, requestId: 1, opcode: 1 }, 1));
    const cases = [
      rawHeader({ magic: 0xdeadbeef }),
      rawHeader({ version: 9 }),
      rawHeader({ kind: 7 }),
      rawHeader({ flags: 1 }),
      rawHeader({ body: FRAME_HEADER_BODY_BYTES_MAX + 1 }),
      rawHeader({ bulk: FRAME_BULK_BYTES_MAX + 1 }),
      rawHeader({ bulk: 0xffffffff }),
    ];
    for (const bad of cases) {
      const decoder = new FrameDecoder(ALL_KINDS);
      const frames: Frame[] = [];
      expect(() => decoder.push(concat([good, bad]), (f) => frames.push(f))).toThrow(/DER_PROTO/);
      expect(frames).toHaveLength(1);
      expect(() => decoder.push(good, () => {})).toThrow(/DER_PROTO/);
    }
    const serverSide = new FrameDecoder(new Set([FRAME_KIND_REQUEST]));
    const reply = concat(encodeFrame({ kind: FRAME_KIND_REPLY, requestId: 1, opcode: 1 }, 1));
    expect(() => serverSide.push(reply, () => {})).toThrow(/unexpected frame kind/);
  });
});

describe('FrameDecoder.bulkInto (a reply bulk read into a caller buffer)', () => {
  const bulk = Buffer.alloc(64 * 1024);
  for (let i = 0; i < bulk.length; i++) bulk[i] = (i * 7 + 3) & 0xff;
  const stream = concat(encodeFrame({ kind: FRAME_KIND_REPLY, requestId: 9, opcode: 2 }, { ok: 1 }, bulk));
  const bulkStart = stream.length - bulk.length;

  function decoderInto(into: Uint8Array | undefined) {
    const decoder = new FrameDecoder(ALL_KINDS);
    const asked: Array<[number, number]> = [];
    decoder.bulkInto = (requestId, bytes) => {
      asked.push([requestId, bytes]);
      return into;
    };
    return { decoder, asked };
  }

  /** The bulk's first 1000 bytes pushed as a chunk; the rest read straight into the decoder's buffer, as a socket's onread does. */
  function pushThenReadRest(decoder: FrameDecoder, frames: Frame[], between: () => void): Uint8Array {
    decoder.push(stream.subarray(0, bulkStart + 1000), (f) => frames.push(f));
    between();
    const rest = decoder.bulkRemainder()!;
    stream.copy(rest, 0, bulkStart + 1000);
    decoder.filledInPlace(stream.length - bulkStart - 1000, (f) => frames.push(f));
    expect(frames).toHaveLength(1);
    return rest;
  }

  it('assembles a bulk that spans chunks in the buffer it is given, and delivers that buffer', () => {
    const into = Buffer.alloc(bulk.length);
    const { decoder, asked } = decoderInto(into);
    const frames: Frame[] = [];
    const rest = pushThenReadRest(decoder, frames, () => expect(asked).toEqual([[9, bulk.length]]));
    expect(rest.buffer === into.buffer).toBe(true);
    expect(frames[0]!.bulk === into).toBe(true);
    expect(into.equals(bulk)).toBe(true);
  });

  it('after releaseBulk, writes nothing more into that buffer and still delivers the frame whole', () => {
    const into = Buffer.alloc(bulk.length);
    const { decoder } = decoderInto(into);
    const frames: Frame[] = [];
    const rest = pushThenReadRest(decoder, frames, () => {
      decoder.releaseBulk(8); // another request: nothing changes
      expect(decoder.bulkRemainder()!.buffer === into.buffer).toBe(true);
      decoder.releaseBulk(9);
    });
    expect(rest.buffer === into.buffer).toBe(false);
    expect(frames[0]!.bulk === into).toBe(false);
    expect(Buffer.from(frames[0]!.bulk!).subarray(1000).equals(bulk.subarray(1000))).toBe(true);
    // Only what came before the release is in the caller's buffer.
    expect(into.subarray(0, 1000).equals(bulk.subarray(0, 1000))).toBe(true);
    expect(into.subarray(1000).every((b) => b === 0)).toBe(true);
  });

  it('is not asked for a request frame, and a bulk of another size is not put in the buffer', () => {
    const request = concat(encodeFrame({ kind: FRAME_KIND_REQUEST, requestId: 9, opcode: 2 }, null, bulk));
    const { decoder, asked } = decoderInto(Buffer.alloc(bulk.length));
    const frames: Frame[] = [];
    decoder.push(request.subarray(0, request.length - 10), (f) => frames.push(f));
    decoder.push(request.subarray(request.length - 10), (f) => frames.push(f));
    expect(asked).toEqual([]);
    expect(frames).toHaveLength(1);
  });
});
