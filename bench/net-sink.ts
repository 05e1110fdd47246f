/**
 * The baseline server of bench:net: raw Node TCP with nothing on top, in its own process.
 *
 *   node dist/bench/net-sink.js               prints `net-sink listening PORT pid P`, serves until killed
 *   node dist/bench/net-sink.js --store DIR   the same, storing what it is sent in a file in DIR
 *
 * Requests carry an 8-byte little-endian prefix `[u32 op, u32 n]`:
 *   op 1 (write): n payload bytes follow; once they are in, the reply is an 8-byte ack.
 *   op 2 (read):  no payload; the reply is an 8-byte prefix then n bytes (one preallocated buffer,
 *                 written as its own piece with cork/uncork, as the engine's replies are).
 * Requests are answered in order. Payload bytes are counted, never copied or looked at: this is
 * the limit of a request/response path over loopback TCP between two Node processes.
 *
 * With `--store` it is the least a server that keeps the data must do on top of that (the floor
 * of an engine's update and fetch; bench/README.md, "What storing costs"): each piece of a write's
 * payload is written, as it arrives, to the end of one file (new space, as a data file grows),
 * on libuv's thread pool, and the ack goes once all of them are written; a read copies n bytes of
 * what was stored into a buffer (the main thread, one `pread`) and sends that buffer.
 */
import fs from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';

const SINK_OP_WRITE = 1;
const SINK_OP_READ = 2;
const SINK_PREFIX_BYTES = 8;
const READ_BYTES_MAX = 64 << 20;

/** The file a storing sink writes to: appended to, and read back in a rolling window. */
class Store {
  private readonly fd: number;
  private end = 0;
  private readAt = 0;
  private readonly spare: Buffer[] = [];

  constructor(readonly path: string) {
    this.fd = fs.openSync(path, 'w+');
  }

  /** Write `bytes` at the end of the file; `done` once written. */
  append(bytes: Buffer, done: () => void): void {
    fs.write(this.fd, bytes, 0, bytes.length, this.end, (err) => {
      if (err) throw err;
      done();
    });
    this.end += bytes.length;
  }

  /**
   * A buffer holding `n` bytes of what is stored (zeros before anything is) in its first `n`;
   * give it back with `release` once sent.
   */
  read(n: number): Buffer {
    let buf = this.spare.pop();
    if (buf === undefined || buf.length < n) buf = Buffer.allocUnsafe(n);
    if (this.readAt + n > this.end) this.readAt = 0;
    const got = fs.readSync(this.fd, buf, 0, n, this.readAt);
    buf.fill(0, got, n);
    this.readAt += n;
    return buf;
  }

  release(buf: Buffer): void {
    this.spare.push(buf);
  }

  remove(): void {
    fs.rmSync(this.path, { force: true });
  }
}

/** A write request being stored: its ack is due once its payload is in and every piece written. */
interface Storing {
  pieces: number;
  received: boolean;
}

function serve(socket: net.Socket, store: Store | undefined): void {
  socket.setNoDelay(true);
  const ack = Buffer.alloc(SINK_PREFIX_BYTES);
  let readBuf = Buffer.alloc(0);
  const prefix = Buffer.alloc(SINK_PREFIX_BYTES);
  let prefixHave = 0;
  let payloadLeft = 0;
  // Write requests whose acks are due in order (storing only).
  const storing: Storing[] = [];
  const ackStored = () => {
    while (storing.length > 0 && storing[0]!.received && storing[0]!.pieces === 0) {
      storing.shift();
      socket.write(ack);
    }
  };
  const received = () => {
    if (store === undefined) socket.write(ack);
    else {
      storing[storing.length - 1]!.received = true;
      ackStored();
    }
  };
  socket.on('data', (chunk: Buffer) => {
    let off = 0;
    while (off < chunk.length) {
      if (payloadLeft > 0) {
        const n = Math.min(payloadLeft, chunk.length - off);
        if (store !== undefined) {
          const req = storing[storing.length - 1]!;
          req.pieces++;
          store.append(chunk.subarray(off, off + n), () => {
            req.pieces--;
            ackStored();
          });
        }
        payloadLeft -= n;
        off += n;
        if (payloadLeft === 0) received();
        continue;
      }
      const n = Math.min(SINK_PREFIX_BYTES - prefixHave, chunk.length - off);
      chunk.copy(prefix, prefixHave, off, off + n);
      prefixHave += n;
      off += n;
      if (prefixHave < SINK_PREFIX_BYTES) break;
      prefixHave = 0;
      const op = prefix.readUInt32LE(0);
      const len = prefix.readUInt32LE(4);
      if (op === SINK_OP_WRITE) {
        payloadLeft = len;
        if (store !== undefined) storing.push({ pieces: 0, received: false });
        if (len === 0) received();
      } else if (op === SINK_OP_READ && len <= READ_BYTES_MAX) {
        const head = Buffer.allocUnsafe(SINK_PREFIX_BYTES);
        head.writeUInt32LE(op, 0);
        head.writeUInt32LE(len, 4);
        socket.cork();
        socket.write(head);
        if (store !== undefined) {
          const buf = store.read(len);
          socket.write(buf.subarray(0, len), () => store.release(buf));
        } else {
          if (readBuf.length < len) readBuf = Buffer.alloc(len, 0x5a);
          if (len > 0) socket.write(readBuf.subarray(0, len));
        }
        socket.uncork();
      } else {
        socket.destroy();
        return;
      }
    }
  });
  socket.on('error', () => {});
}

const storeAt = process.argv.indexOf('--store');
const store =
  storeAt < 0 ? undefined : new Store(join(process.argv[storeAt + 1]!, `net-sink-${process.pid}`));
const server = net.createServer({ noDelay: true }, (socket) => serve(socket, store));
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as net.AddressInfo;
  process.stdout.write(`net-sink listening ${port} pid ${process.pid}\n`);
});
process.on('SIGTERM', () => {
  store?.remove();
  process.exit(0);
});
