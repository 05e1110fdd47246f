import { createHash, randomFillSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { OPC_OBJ_UPDATE } from './opcodes.js';
import { adoptWithOnread, setServerReadsInPlace } from './stream.js';
import { type Handler, type Listener, transportFor } from './transport.js';

const tmp = mkdtempSync(join(tmpdir(), 'daos-wire-stream-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const MiB = 1024 * 1024;
const digest = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('adoptWithOnread', () => {
  it('gives a connection of a pauseOnConnect server onread on this Node, and the server still counts it', async () => {
    const server = net.createServer({ pauseOnConnect: true });
    const sent = randomFillSync(Buffer.allocUnsafe(3 * MiB + 17));
    const into = Buffer.allocUnsafe(sent.length);
    let filled = 0;
    const scratch = Buffer.allocUnsafe(4096);
    const served = new Promise<{ adopted: boolean; ended: boolean }>((resolve) => {
      server.on('connection', (accepted) => {
        // Every second read goes straight into `into`, as a bulk's rest does.
        let direct = false;
        const adopted = adoptWithOnread(accepted, {
          buffer: () => (direct ? into.subarray(filled) : scratch),
          callback: (n, buf) => {
            if (buf === scratch) scratch.copy(into, filled, 0, n);
            else expect(buf.buffer).toBe(into.buffer);
            filled += n;
            direct = !direct;
            return true;
          },
        });
        if (adopted === undefined) {
          accepted.destroy();
          resolve({ adopted: false, ended: false });
          return;
        }
        let ended = false;
        adopted.on('end', () => {
          ended = true;
          adopted.end('ok');
        });
        adopted.on('close', () => resolve({ adopted: true, ended }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const { port } = server.address() as net.AddressInfo;
    const client = net.connect({ host: '127.0.0.1', port });
    let answer = '';
    client.on('data', (d: Buffer) => {
      answer += d.toString();
    });
    client.end(sent);
    const result = await served;
    expect(result).toEqual({ adopted: true, ended: true });
    expect(filled).toBe(sent.length);
    expect(into.equals(sent)).toBe(true);
    await new Promise<void>((resolve) => client.on('close', () => resolve()));
    expect(answer).toBe('ok');
    // The server's close waits for its connections: it would hang if the adopted one were not counted.
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('leaves a socket that has no handle (or has read) alone', () => {
    const socket = new net.Socket();
    expect(adoptWithOnread(socket, { buffer: Buffer.alloc(1), callback: () => true })).toBeUndefined();
    socket.destroy();
  });
});

let sockets = 0;
const tcpAddress = (): string => 'tcp://127.0.0.1:0';
const unixAddress = (): string => `unix://${join(tmp, `direct-${sockets++}.sock`)}`;
describe.each([
  ['tcp', true, tcpAddress],
  ['unix', true, unixAddress],
  ['tcp', false, tcpAddress],
  ['unix', false, unixAddress],
] as const)('%s server, reads in place: %s', (_scheme, inPlace, nextAddress) => {
  it('delivers every bulk intact and never reads into a bulk it handed out', async () => {
    const address = nextAddress();
    const kept: Array<{ bulk: Uint8Array; sum: string }> = [];
    const handler: Handler = async (_opcode, header, bulk) => {
      const sum = bulk === undefined ? '' : digest(bulk);
      if (bulk !== undefined) kept.push({ bulk, sum });
      return { header: { sum, expected: header } };
    };
    setServerReadsInPlace(inPlace);
    let listener: Listener;
    try {
      listener = await transportFor(address).listen(address, handler);
    } finally {
      setServerReadsInPlace(true);
    }
    const conn = await transportFor(listener.address).connect(listener.address);
    try {
      // Sizes around the read buffer and the frame boundaries, many in flight, so that frames
      // share reads and bulks span them.
      const sizes = [1, 4096, 65_536 - 30, 65_536, 65_537, 300_000, MiB, 4 * MiB + 3, 17, 2 * MiB];
      const bulks = Array.from({ length: 40 }, (_, i) =>
        randomFillSync(Buffer.allocUnsafe(sizes[i % sizes.length]!)),
      );
      const replies = await Promise.all(
        bulks.map((b) => conn.request(OPC_OBJ_UPDATE, digest(b), b).then((r) => r.header)),
      );
      for (const [i, r] of replies.entries())
        expect(r).toEqual({ sum: digest(bulks[i]!), expected: digest(bulks[i]!) });
      // Bulks the handler kept are still what arrived: no later read went into them.
      expect(kept).toHaveLength(bulks.length);
      for (const k of kept) expect(digest(k.bulk)).toBe(k.sum);
      const inPlaceCount = (listener as unknown as { connectionsReadingInPlace: number })
        .connectionsReadingInPlace;
      expect(inPlaceCount).toBe(inPlace ? 1 : 0);
    } finally {
      await conn.close();
      await listener.close();
    }
  });
});
