import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { DaosError } from '../common/errors.js';
import { OPC_OBJ_FETCH, OPC_OBJ_UPDATE, OPC_PING } from './opcodes.js';
import { seededRandom } from './seeded-random.js';
import {
  type Connection,
  type Handler,
  type Listener,
  type ListenOptions,
  transportFor,
} from './transport.js';

const tmp = mkdtempSync(join(tmpdir(), 'daos-wire-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let serial = 0;
const schemes: Array<[string, () => string]> = [
  ['inproc', () => `inproc://transport-test-${serial++}`],
  ['tcp', () => 'tcp://127.0.0.1:0'],
  ['unix', () => `unix://${join(tmp, `s${serial++}.sock`)}`],
];

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function expectDaosError(promise: Promise<unknown>, code: string): Promise<DaosError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DaosError);
  expect((err as DaosError).code).toBe(code);
  return err as DaosError;
}

describe.each(schemes)('%s transport', (_scheme, nextAddress) => {
  const open: Array<Listener | Connection> = [];
  afterEach(async () => {
    for (const x of open.splice(0).reverse()) await x.close();
  });

  async function serve(
    handler: Handler,
    options?: ListenOptions,
    connectOptions?: Parameters<ReturnType<typeof transportFor>['connect']>[1],
  ) {
    const asked = nextAddress();
    const listener = await transportFor(asked).listen(asked, handler, options);
    open.push(listener);
    const conn = await transportFor(listener.address).connect(listener.address, connectOptions);
    open.push(conn);
    return { listener, conn };
  }

  it('echoes a 4 MiB bulk and a typed header', async () => {
    const { conn } = await serve(async (opcode, header, bulk) => ({ header: { opcode, header }, bulk }));
    const bulk = new Uint8Array(4 * 1024 * 1024);
    const rnd = seededRandom(1);
    for (let i = 0; i < bulk.length; i += 1) bulk[i] = (rnd() * 256) | 0;
    const header = { oid: { hi: 2n ** 64n - 1n, lo: 5n }, dkey: Buffer.from('d'), n: 1 };
    const reply = await conn.request(OPC_OBJ_UPDATE, header, bulk);
    expect(reply.header).toEqual({ opcode: OPC_OBJ_UPDATE, header });
    expect(reply.bulk?.length).toBe(bulk.length);
    expect(Buffer.compare(Buffer.from(reply.bulk!), Buffer.from(bulk))).toBe(0);
    const none = await conn.request(OPC_PING, undefined);
    expect(none.bulk).toBeUndefined();
  });

  it('matches 1000 requests in flight whose replies complete in random order', async () => {
    const rnd = seededRandom(2);
    const delays = Array.from({ length: 1000 }, () => Math.floor(rnd() * 20));
    const order: number[] = [];
    const { conn } = await serve(
      async (_opcode, header) => {
        const { i } = header as { i: number };
        await sleep(delays[i]!);
        order.push(i);
        return { header: { i, twice: BigInt(i) * 2n }, bulk: Buffer.from(`bulk-${i}`) };
      },
      { requestsRunningMax: 1024 },
      { requestsInFlightMax: 1024 },
    );
    const replies = await Promise.all(delays.map((_d, i) => conn.request(OPC_OBJ_FETCH, { i })));
    replies.forEach((reply, i) => {
      expect(reply.header).toEqual({ i, twice: BigInt(i) * 2n });
      expect(Buffer.from(reply.bulk!).toString()).toBe(`bulk-${i}`);
    });
    expect(order).toHaveLength(1000);
    expect(order).not.toEqual([...order].sort((a, b) => a - b));
  });

  it('respects the server bound and the client bound on requests in flight', async () => {
    for (const [serverMax, clientMax, bound] of [
      [8, 256, 8],
      [256, 5, 5],
    ] as const) {
      let running = 0;
      let peak = 0;
      const { conn } = await serve(
        async () => {
          running++;
          peak = Math.max(peak, running);
          await sleep(2);
          running--;
          return { header: null };
        },
        { requestsRunningMax: serverMax },
        { requestsInFlightMax: clientMax },
      );
      await Promise.all(Array.from({ length: 200 }, () => conn.request(OPC_PING, null)));
      expect(peak).toBe(bound);
    }
  });

  it('refuses with DER_AGAIN when the waiting queue is full', async () => {
    const { conn } = await serve(
      async () => {
        await sleep(20);
        return { header: 1 };
      },
      {},
      { requestsInFlightMax: 1, requestsWaitingMax: 2 },
    );
    const accepted = [conn.request(OPC_PING, 1), conn.request(OPC_PING, 2), conn.request(OPC_PING, 3)];
    await expectDaosError(conn.request(OPC_PING, 4), 'DER_AGAIN');
    await Promise.all(accepted);
  });

  it('reads a reply bulk of the asked size into replyBulkInto; a late reply leaves the buffer alone', async () => {
    const size = 3 * 1024 * 1024 + 5;
    const served = Buffer.alloc(size);
    for (let i = 0; i < size; i++) served[i] = (i * 13 + 1) & 0xff;
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    const { conn } = await serve(async (opcode) => {
      if (opcode === OPC_OBJ_UPDATE) await released;
      return { header: opcode, bulk: served };
    });
    try {
      const into = Buffer.alloc(size);
      const reply = await conn.request(OPC_OBJ_FETCH, null, undefined, { replyBulkInto: into });
      expect(Buffer.from(reply.bulk!).equals(served)).toBe(true);
      // Over a socket the kernel filled the caller's buffer itself; in process the bulk is passed as is.
      if (_scheme !== 'inproc') {
        expect(reply.bulk!.buffer === into.buffer).toBe(true); // (no toBe: its diff of 3 MiB takes minutes)
        expect(into.equals(served)).toBe(true);
      }
      const other = Buffer.alloc(size - 1);
      const r2 = await conn.request(OPC_OBJ_FETCH, null, undefined, { replyBulkInto: other });
      expect(Buffer.from(r2.bulk!).equals(served)).toBe(true);
      expect(other.every((b) => b === 0)).toBe(true);
      // Timed out before its reply: the reply that comes later goes nowhere near the buffer.
      const late = Buffer.alloc(size);
      await expectDaosError(
        conn.request(OPC_OBJ_UPDATE, null, undefined, { timeoutMs: 30, replyBulkInto: late }),
        'DER_TIMEDOUT',
      );
      release();
      expect((await conn.request(OPC_PING, null)).header).toBe(OPC_PING);
      expect(late.every((b) => b === 0)).toBe(true);
    } finally {
      release(); // a failed expectation must not leave the server's handler waiting
    }
  });

  it('times out with DER_TIMEDOUT, frees the slot and drops the late reply', async () => {
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    const { conn } = await serve(
      async (opcode) => {
        if (opcode === OPC_OBJ_FETCH) await released;
        return { header: opcode };
      },
      {},
      { requestsInFlightMax: 1 },
    );
    const started = Date.now();
    const err = await expectDaosError(
      conn.request(OPC_OBJ_FETCH, null, undefined, { timeoutMs: 50 }),
      'DER_TIMEDOUT',
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    expect(err.message).toMatch(/obj_fetch/);
    expect((await conn.request(OPC_PING, null)).header).toBe(OPC_PING);
    release();
    await sleep(20);
    expect((await conn.request(OPC_PING, null)).header).toBe(OPC_PING);
  });

  it('carries a DaosError code and message; other errors arrive as DER_MISC; unknown opcodes as DER_UNREG', async () => {
    const { conn } = await serve(async (opcode) => {
      if (opcode === OPC_OBJ_FETCH) throw new DaosError('DER_NONEXIST', 'no such object 0x1.0x2');
      throw new TypeError('handler bug');
    });
    const err = await expectDaosError(conn.request(OPC_OBJ_FETCH, {}), 'DER_NONEXIST');
    expect(err.message).toBe(new DaosError('DER_NONEXIST', 'no such object 0x1.0x2').message);
    const misc = await expectDaosError(conn.request(OPC_PING, {}), 'DER_MISC');
    expect(misc.message).toMatch(/handler bug/);
    await expectDaosError(conn.request(0x7777, {}), 'DER_UNREG');
  });

  it('rejects pending requests with DER_UNREACH naming the peer when the server closes', async () => {
    const { listener, conn } = await serve(() => new Promise(() => {}));
    const pending = Array.from({ length: 10 }, () => conn.request(OPC_PING, null));
    await sleep(20);
    await listener.close();
    for (const p of pending) {
      const err = await expectDaosError(p, 'DER_UNREACH');
      expect(err.message).toContain(conn.peer);
    }
    await expectDaosError(conn.request(OPC_PING, null), 'DER_UNREACH');
  });
});

describe('addresses', () => {
  it('reports the real port and refuses bad addresses', async () => {
    const listener = await transportFor('tcp://127.0.0.1:0').listen('tcp://127.0.0.1:0', async () => ({
      header: 1,
    }));
    expect(listener.address).toMatch(/^tcp:\/\/127\.0\.0\.1:[1-9]\d*$/);
    await listener.close();
    await expectDaosError(transportFor(listener.address).connect(listener.address), 'DER_UNREACH');
    expect(() => transportFor('http://x')).toThrow(/DER_INVAL/);
    await expectDaosError(transportFor('tcp://').connect('tcp://nohost'), 'DER_INVAL');
    await expectDaosError(transportFor('unix://').connect('unix://relative.sock'), 'DER_INVAL');
    await expectDaosError(transportFor('inproc://').connect('inproc://nobody'), 'DER_UNREACH');
  });
});

describe('reply memory reuse (HandlerReply.sent)', () => {
  it('calls sent only once a large reply is written, not while the peer is not reading', async () => {
    const { default: net } = await import('node:net');
    const { encodeFrame, FRAME_KIND_REQUEST } = await import('./frame.js');
    const BULK = 32 << 20;
    let sentAt: number | undefined;
    const listener = await transportFor('tcp://127.0.0.1:0').listen('tcp://127.0.0.1:0', async () => ({
      header: {},
      bulk: Buffer.alloc(BULK, 7),
      sent: () => {
        sentAt = Date.now();
      },
    }));
    try {
      const port = Number(listener.address.split(':').at(-1));
      const socket = net.connect({ host: '127.0.0.1', port });
      await new Promise((resolve) => socket.once('connect', resolve));
      socket.pause(); // read nothing: the reply cannot all leave the server
      for (const piece of encodeFrame({ kind: FRAME_KIND_REQUEST, requestId: 1, opcode: OPC_PING }, {}))
        socket.write(piece);
      await sleep(300);
      expect(sentAt).toBeUndefined();
      let got = 0;
      socket.on('data', (d: Buffer) => {
        got += d.length;
      });
      socket.resume();
      while (got < BULK) await sleep(10);
      await sleep(20);
      expect(sentAt).toBeDefined();
      socket.destroy();
    } finally {
      await listener.close();
    }
  });
});
