/**
 * The baseline server of bench:net: raw Node TCP with nothing on top, in its own process.
 *
 *   node dist/bench/net-sink.js        prints `net-sink listening PORT pid P`, serves until killed
 *
 * Requests carry an 8-byte little-endian prefix `[u32 op, u32 n]`:
 *   op 1 (write): n payload bytes follow; once they are in, the reply is an 8-byte ack.
 *   op 2 (read):  no payload; the reply is an 8-byte prefix then n bytes (one preallocated buffer,
 *                 written as its own piece with cork/uncork, as the engine's replies are).
 * Requests are answered in order. Payload bytes are counted, never copied or looked at: this is
 * the limit of a request/response path over loopback TCP between two Node processes.
 */
import net from 'node:net';

const SINK_OP_WRITE = 1;
const SINK_OP_READ = 2;
const SINK_PREFIX_BYTES = 8;
const READ_BYTES_MAX = 64 << 20;

function serve(socket: net.Socket): void {
  socket.setNoDelay(true);
  const ack = Buffer.alloc(SINK_PREFIX_BYTES);
  let readBuf = Buffer.alloc(0);
  const prefix = Buffer.alloc(SINK_PREFIX_BYTES);
  let prefixHave = 0;
  let payloadLeft = 0;
  socket.on('data', (chunk: Buffer) => {
    let off = 0;
    while (off < chunk.length) {
      if (payloadLeft > 0) {
        const n = Math.min(payloadLeft, chunk.length - off);
        payloadLeft -= n;
        off += n;
        if (payloadLeft === 0) socket.write(ack);
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
        if (len === 0) socket.write(ack);
      } else if (op === SINK_OP_READ && len <= READ_BYTES_MAX) {
        if (readBuf.length < len) readBuf = Buffer.alloc(len, 0x5a);
        const head = Buffer.allocUnsafe(SINK_PREFIX_BYTES);
        head.writeUInt32LE(op, 0);
        head.writeUInt32LE(len, 4);
        socket.cork();
        socket.write(head);
        if (len > 0) socket.write(readBuf.subarray(0, len));
        socket.uncork();
      } else {
        socket.destroy();
        return;
      }
    }
  });
  socket.on('error', () => {});
}

const server = net.createServer({ noDelay: true }, serve);
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as net.AddressInfo;
  process.stdout.write(`net-sink listening ${port} pid ${process.pid}\n`);
});
process.on('SIGTERM', () => process.exit(0));
