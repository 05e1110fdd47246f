import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { DaosError } from '../common/errors.js';
import {
  encodeFrame,
  FRAME_KIND_ERROR,
  FRAME_KIND_REPLY,
  FRAME_KIND_REQUEST,
  type Frame,
  FrameDecoder,
} from './frame.js';
import { FRAME_BULK_BYTES_MAX, FRAME_HEADER_BODY_BYTES_MAX } from './limits.js';
import { OPC_OBJ_FETCH, OPC_OBJ_UPDATE, OPC_PING, OPCODES_KNOWN } from './opcodes.js';
import { seededRandom } from './seeded-random.js';
import { transportFor } from './transport.js';

const FRAMES_PER_ERROR_CONNECTION = 25_000;
const ERROR_CONNECTIONS = 4;
const BATCH_FRAMES = 1000;
const FATAL_CONNECTIONS = 300;

/** A raw socket speaking frames by hand, to send what a well-behaved client never would. */
class RawPeer {
  readonly replies: Frame[] = [];
  readonly closed: Promise<void>;
  private readonly decoder = new FrameDecoder(new Set([FRAME_KIND_REPLY, FRAME_KIND_ERROR]));
  private wake: () => void = () => {};
  isClosed = false;

  constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk) => {
      this.decoder.push(chunk, (f) => this.replies.push(f));
      this.wake();
    });
    socket.on('error', () => {});
    this.closed = new Promise((resolve) =>
      socket.on('close', () => {
        this.isClosed = true;
        this.wake();
        resolve();
      }),
    );
  }

  static async connect(port: number): Promise<RawPeer> {
    const socket = net.connect({ host: '127.0.0.1', port });
    await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    return new RawPeer(socket);
  }

  /** Until `n` replies arrived or the server closed the connection. */
  async replied(n: number): Promise<void> {
    while (this.replies.length < n && !this.isClosed) {
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }
}

function randomValue(rnd: () => number, depth: number): unknown {
  const pick = Math.floor(rnd() * (depth > 2 ? 6 : 8));
  switch (pick) {
    case 0:
      return Math.floor(rnd() * 2 ** 32) - 2 ** 31;
    case 1:
      return 'k'.repeat(Math.floor(rnd() * 10));
    case 2:
      return BigInt(Math.floor(rnd() * 2 ** 48)) * 65536n;
    case 3:
      return Buffer.alloc(Math.floor(rnd() * 16), 0xab);
    case 4:
      return rnd() < 0.5 ? null : rnd() < 0.5;
    case 5:
      return rnd() * 1e6;
    case 6:
      return Array.from({ length: Math.floor(rnd() * 4) }, () => randomValue(rnd, depth + 1));
    default:
      return Object.fromEntries(
        Array.from({ length: Math.floor(rnd() * 4) }, (_v, i) => [`f${i}`, randomValue(rnd, depth + 1)]),
      );
  }
}

function randomBytes(rnd: () => number, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (rnd() * 256) | 0;
  return b;
}

function withBody(requestId: number, opcode: number, body: Uint8Array): Buffer {
  const [first] = encodeFrame({ kind: FRAME_KIND_REQUEST, requestId, opcode }, undefined);
  const head = Buffer.from(first!);
  head.writeUInt32LE(body.length, 16);
  return Buffer.concat([head, body]);
}

/** A frame that deserves an error reply: unknown opcode, body not msgpack, or the wrong shape. */
function perRequestFrame(rnd: () => number, requestId: number): Buffer {
  const which = Math.floor(rnd() * 3);
  if (which === 0) {
    let opcode: number;
    do opcode = Math.floor(rnd() * 0x10000);
    while (OPCODES_KNOWN.has(opcode));
    return Buffer.concat(encodeFrame({ kind: FRAME_KIND_REQUEST, requestId, opcode }, randomValue(rnd, 0)));
  }
  const opcode = [OPC_PING, OPC_OBJ_UPDATE, OPC_OBJ_FETCH][Math.floor(rnd() * 3)]!;
  if (which === 1) return withBody(requestId, opcode, randomBytes(rnd, 1 + Math.floor(rnd() * 40)));
  const bulk = rnd() < 0.2 ? randomBytes(rnd, Math.floor(rnd() * 100)) : undefined;
  return Buffer.concat(
    encodeFrame({ kind: FRAME_KIND_REQUEST, requestId, opcode }, randomValue(rnd, 0), bulk),
  );
}

/** Bytes after which the server must close the connection. */
function fatalBytes(rnd: () => number, kind: number): Buffer {
  const good = Buffer.concat(
    encodeFrame({ kind: FRAME_KIND_REQUEST, requestId: 1, opcode: OPC_OBJ_FETCH }, { x: 1 }),
  );
  const head = Buffer.from(good.subarray(0, 24));
  switch (kind) {
    case 0:
      return randomBytes(rnd, 24 + Math.floor(rnd() * 200));
    case 1:
      head.writeUInt8(2 + Math.floor(rnd() * 250), 4);
      return head;
    case 2:
      head.writeUInt32LE(FRAME_HEADER_BODY_BYTES_MAX + 1 + Math.floor(rnd() * 1e9), 16);
      return head;
    case 3:
      head.writeUInt32LE(FRAME_BULK_BYTES_MAX + 1 + Math.floor(rnd() * 1e9), 20);
      return head;
    case 4:
      head.writeUInt8(FRAME_KIND_REPLY, 5);
      return Buffer.concat([head, good.subarray(24)]);
    default:
      // Truncated: a frame announcing a large (legal) bulk cut short by the end of the stream.
      head.writeUInt32LE(0, 16);
      head.writeUInt32LE(FRAME_BULK_BYTES_MAX, 20);
      return Buffer.concat([head, randomBytes(rnd, Math.floor(rnd() * 65536))]);
  }
}

describe('wire fuzz against a live TCP listener', () => {
  it('answers or closes on 100,000 malformed frames, keeps serving, keeps its heap bounded', async () => {
    const listener = await transportFor('tcp://127.0.0.1:0').listen(
      'tcp://127.0.0.1:0',
      async (opcode, header) => {
        const nonce = (header as { nonce?: unknown } | null)?.nonce;
        if (opcode !== OPC_PING || typeof header !== 'object' || typeof nonce !== 'number') {
          throw new DaosError('DER_INVAL', 'header has the wrong shape');
        }
        return { header: { nonce } };
      },
    );
    const port = Number(listener.address.split(':').at(-1));
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    let framesSent = 0;

    // Per-request errors: every frame gets an error reply, the connection stays open.
    const rnds = Array.from({ length: ERROR_CONNECTIONS }, (_v, i) => seededRandom(1000 + i));
    await Promise.all(
      rnds.map(async (rnd) => {
        const peer = await RawPeer.connect(port);
        for (let sent = 0; sent < FRAMES_PER_ERROR_CONNECTION; ) {
          const batch: Buffer[] = [];
          for (let i = 0; i < BATCH_FRAMES; i++) batch.push(perRequestFrame(rnd, ++sent));
          peer.socket.write(Buffer.concat(batch));
          await peer.replied(sent);
          expect(peer.isClosed).toBe(false);
        }
        framesSent += FRAMES_PER_ERROR_CONNECTION;
        expect(peer.replies).toHaveLength(FRAMES_PER_ERROR_CONNECTION);
        // Replies may come back in any order; each request id is answered exactly once.
        const answered = new Uint8Array(FRAMES_PER_ERROR_CONNECTION + 1);
        for (const reply of peer.replies) {
          expect(reply.kind).toBe(FRAME_KIND_ERROR);
          expect(['DER_UNREG', 'DER_PROTO', 'DER_INVAL']).toContain((reply.header as { code: string }).code);
          answered[reply.requestId]!++;
        }
        expect(answered.subarray(1).every((n) => n === 1)).toBe(true);
        peer.replies.length = 0;
        // The same connection still serves a well-formed ping.
        peer.socket.write(
          Buffer.concat(
            encodeFrame({ kind: FRAME_KIND_REQUEST, requestId: 7, opcode: OPC_PING }, { nonce: 7 }),
          ),
        );
        await peer.replied(1);
        expect(peer.replies[0]!.kind).toBe(FRAME_KIND_REPLY);
        expect(peer.replies[0]!.header).toEqual({ nonce: 7 });
        peer.socket.destroy();
      }),
    );

    // Fatal frames: a few answerable frames, then corruption; the server closes the connection.
    const rnd = seededRandom(7);
    for (let c = 0; c < FATAL_CONNECTIONS; c += 30) {
      await Promise.all(
        Array.from({ length: 30 }, async (_v, j) => {
          const kind = (c + j) % 6;
          const peer = await RawPeer.connect(port);
          const good = Array.from({ length: 5 }, (_f, i) => perRequestFrame(rnd, i + 1));
          peer.socket.write(Buffer.concat([...good, fatalBytes(rnd, kind)]));
          framesSent += 6;
          if (kind === 5) peer.socket.end();
          await peer.closed;
          expect(peer.replies.length).toBeLessThanOrEqual(5);
          for (const reply of peer.replies) expect(reply.kind).toBe(FRAME_KIND_ERROR);
        }),
      );
    }
    expect(framesSent).toBeGreaterThanOrEqual(100_000);

    // A fresh, well-behaved client is served.
    const conn = await transportFor(listener.address).connect(listener.address);
    expect((await conn.request(OPC_PING, { nonce: 42 })).header).toEqual({ nonce: 42 });
    await conn.close();
    gc?.();
    const heapGrowth = process.memoryUsage().heapUsed - heapBefore;
    expect(heapGrowth).toBeLessThan(96 * 1024 * 1024);
    await listener.close();
  });
});
