/**
 * The socket-stream transport shared by TCP and Unix sockets: frames over a `net` socket, written
 * with cork/uncork so a bulk goes out as its own piece (a writev), never copied.
 *
 * Server: a corrupt stream (FrameDecoder throws), a frame kind a server never receives, a
 * truncated frame at end of stream or a partial frame stalled for FRAME_STALL_TIMEOUT_MS closes
 * the connection; a bad body or an unknown opcode gets an error reply. At most
 * requestsRunningMax requests of one connection run at once; beyond that, and while replies pile
 * up unwritten, the server stops reading the socket (TCP back-pressure bounds its memory).
 *
 * Both sides read with net's `onread` (see FrameReader): no allocation per read, and a bulk that
 * spans reads is read by the kernel straight into its own buffer.
 */
import net from 'node:net';
import { DaosError } from '../common/errors.js';
import { keepFreedBulkMemory } from './bulk-memory.js';
import { dispatch, errorOutcome, type Outcome, RunGate } from './dispatch.js';
import {
  encodeFrame,
  FRAME_KIND_ERROR,
  FRAME_KIND_REPLY,
  FRAME_KIND_REQUEST,
  type Frame,
  FrameDecoder,
  type FrameKind,
} from './frame.js';
import { InflightRequests } from './inflight.js';
import {
  CONNECT_TIMEOUT_MS,
  FRAME_STALL_TIMEOUT_MS,
  REPLY_WRITE_BUFFERED_BYTES_MAX,
  REQUESTS_IN_FLIGHT_MAX,
  REQUESTS_WAITING_MAX,
  RPC_TIMEOUT_MS_DEFAULT,
  SERVER_REQUESTS_RUNNING_MAX,
} from './limits.js';
import { OPCODES_KNOWN } from './opcodes.js';
import type {
  Connection,
  ConnectOptions,
  Handler,
  Listener,
  ListenOptions,
  Reply,
  RequestOptions,
  Transport,
} from './transport.js';

/** How one socket family names its endpoints. */
export interface StreamEndpoint {
  readonly scheme: string;
  /** The net options of an address of this scheme (DER_INVAL when it is not one). */
  parse(address: string): { host?: string; port?: number; path?: string };
  /** The address of a listening server, as clients should dial it. */
  describe(server: net.Server, asked: string): string;
}

const SERVER_ACCEPTS: ReadonlySet<FrameKind> = new Set([FRAME_KIND_REQUEST]);
const CLIENT_ACCEPTS: ReadonlySet<FrameKind> = new Set([FRAME_KIND_REPLY, FRAME_KIND_ERROR]);

/** Write a frame's pieces as one gathered write; `written` runs once they are with the kernel (or failed). */
function writeFrame(socket: net.Socket, pieces: Uint8Array[], written?: () => void): void {
  socket.cork();
  pieces.forEach((piece, i) => {
    if (written && i === pieces.length - 1) socket.write(piece, () => written());
    else socket.write(piece);
  });
  socket.uncork();
}

function netErrorCode(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? (err as Error).message;
}

/** Bytes of the buffer a client connection reads replies into (reused from read to read). */
const CLIENT_READ_BUFFER_BYTES = 256 * 1024;
/** Bytes of the buffer a server connection reads requests into (reused from read to read). */
const SERVER_READ_BUFFER_BYTES = 64 * 1024;

/**
 * How a socket reads frames (net's `onread`): into one reused buffer, so no read allocates —
 * except the rest of a bulk that spans reads, which is read straight into the bulk's own buffer
 * (the decoder's bulkRemainder): the kernel copies the bulk into place, and nothing else does.
 * A bulk handed out is never read into again (the scratch buffer is, but whatever outlives a read
 * is copied out of it), so its receiver owns it.
 */
class FrameReader {
  readonly decoder: FrameDecoder;
  private readonly scratch: Buffer;
  onFrame: (frame: Frame) => void = () => {};
  /** After each read's frames are out (not after a corrupt one). */
  onRead: () => void = () => {};
  /** A corrupt stream: the socket is closed. */
  onCorrupt: (err: unknown) => void = () => {};

  constructor(accepts: ReadonlySet<FrameKind>, scratchBytes: number) {
    this.decoder = new FrameDecoder(accepts);
    this.scratch = Buffer.allocUnsafe(scratchBytes);
  }

  readonly options: net.OnReadOpts = {
    buffer: (): Uint8Array => this.decoder.bulkRemainder() ?? this.scratch,
    callback: (n: number, buf: Uint8Array): boolean => {
      try {
        if (buf === this.scratch) this.decoder.pushTransient(buf.subarray(0, n), this.onFrame);
        else this.decoder.filledInPlace(n, this.onFrame);
      } catch (err) {
        this.onCorrupt(err);
        return false;
      }
      this.onRead();
      return true;
    },
  };
}

/** Whether servers try adoptWithOnread (tests turn it off to run the fallback path). */
let adoptAccepted = true;

/** @internal Tests: make servers listening from now on read with 'data' events, as where adoptWithOnread fails. */
export function setServerReadsInPlace(on: boolean): void {
  adoptAccepted = on;
}

/** The parts of Node's net internals adoptWithOnread relies on. */
interface AcceptedInternals {
  _handle: { readStart?: unknown; useUserBuffer?: unknown } | null;
  _server?: net.Server;
}

/**
 * Node 20's net.Server takes no `onread`; this gives an accepted connection one. `accepted` must
 * come from a `pauseOnConnect` server and not have read yet: its handle (an internal of net,
 * `socket._handle`) is wrapped in a new socket with `onread` — net.Socket's constructor takes
 * `handle` and honours `onread` with it — and taken from `accepted`, which is then dropped (never
 * destroyed, so the handle stays open). The server still counts the connection through the new
 * socket. Undefined (and `accepted` untouched) when the internals are not as expected: the caller
 * then reads `accepted` as it is.
 */
export function adoptWithOnread(accepted: net.Socket, onread: net.OnReadOpts): net.Socket | undefined {
  const internals = accepted as unknown as AcceptedInternals;
  const handle = internals._handle;
  if (
    handle === null ||
    typeof handle !== 'object' ||
    typeof handle.readStart !== 'function' ||
    typeof handle.useUserBuffer !== 'function' ||
    accepted.bytesRead !== 0
  ) {
    return undefined;
  }
  let socket: net.Socket;
  try {
    // Only options net.Socket checks before it touches the handle, so a throw leaves it as it was.
    const options = { handle, onread, allowHalfOpen: accepted.allowHalfOpen, readable: true, writable: true };
    socket = new net.Socket(options as net.SocketConstructorOpts);
  } catch {
    return undefined;
  }
  internals._handle = null;
  const server = internals._server;
  if (server !== undefined) {
    const adopted = socket as unknown as AcceptedInternals & { server?: net.Server };
    adopted._server = server;
    adopted.server = server;
  }
  return socket;
}

/** One accepted connection on the server side. */
class ServerConnection {
  private readonly decoder: FrameDecoder;
  private readonly gate: RunGate;
  private closed = false;
  /** Whether the stall timer is armed (a partial frame is buffered). */
  private stallArmed = false;

  /**
   * `reader`: the socket reads through it (see adoptWithOnread); without one, the socket (paused
   * on connect) is read with 'data' events, and the decoder gets Node's fresh chunks.
   */
  constructor(
    private readonly socket: net.Socket,
    reader: FrameReader | undefined,
    private readonly handler: Handler,
    private readonly opcodes: ReadonlySet<number>,
    requestsRunningMax: number,
    onClose: () => void,
    private readonly context: unknown,
  ) {
    this.gate = new RunGate(requestsRunningMax, () => this.flowControl());
    socket.setNoDelay(true);
    const onFrame = (frame: Frame) => this.gate.run(() => this.serve(frame));
    if (reader !== undefined) {
      this.decoder = reader.decoder;
      reader.onFrame = onFrame;
      reader.onRead = () => this.afterRead();
      reader.onCorrupt = () => this.socket.destroy();
    } else {
      this.decoder = new FrameDecoder(SERVER_ACCEPTS);
      socket.on('data', (chunk: Buffer) => {
        try {
          this.decoder.push(chunk, onFrame);
        } catch {
          this.socket.destroy();
          return;
        }
        this.afterRead();
      });
      socket.resume();
    }
    socket.on('end', () => {
      // A frame cut short by the end of the stream is a truncated frame: nothing to answer.
      if (this.decoder.bufferedBytes > 0) socket.destroy();
    });
    socket.on('timeout', () => socket.destroy());
    socket.on('drain', () => this.flowControl());
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      onClose();
    });
  }

  destroy(): void {
    this.socket.destroy();
  }

  private afterRead(): void {
    // Only a partial frame arms the stall timer: an idle connection between frames is fine. The
    // socket restarts an armed timer on every read, so it is only set when that changes.
    const partial = this.decoder.bufferedBytes > 0;
    if (partial !== this.stallArmed) {
      this.stallArmed = partial;
      this.socket.setTimeout(partial ? FRAME_STALL_TIMEOUT_MS : 0);
    }
    this.flowControl();
  }

  private flowControl(): void {
    if (this.closed) return;
    const busy = this.gate.waitingCount > 0 || this.socket.writableLength > REPLY_WRITE_BUFFERED_BYTES_MAX;
    if (busy) this.socket.pause();
    else if (this.socket.isPaused()) this.socket.resume();
  }

  private async serve(frame: Frame): Promise<void> {
    const outcome: Outcome =
      frame.headerError !== undefined
        ? errorOutcome(frame.headerError)
        : await dispatch(this.handler, this.opcodes, frame.opcode, frame.header, frame.bulk, this.context);
    const sent = outcome.ok ? outcome.sent : undefined;
    if (this.closed) {
      sent?.();
      return;
    }
    writeFrame(this.socket, this.encodeOutcome(frame, outcome), sent);
  }

  private encodeOutcome(frame: Frame, outcome: Outcome): Uint8Array[] {
    const { requestId, opcode } = frame;
    let failure: Outcome & { ok: false };
    if (outcome.ok) {
      try {
        return encodeFrame({ kind: FRAME_KIND_REPLY, requestId, opcode }, outcome.header, outcome.bulk);
      } catch (err) {
        // A reply that cannot be encoded (oversize, bad types) still answers its request.
        failure = errorOutcome(err);
      }
    } else {
      failure = outcome;
    }
    const body = { code: failure.code, message: failure.message };
    return encodeFrame({ kind: FRAME_KIND_ERROR, requestId, opcode }, body);
  }
}

class StreamListener implements Listener {
  private readonly connections = new Set<ServerConnection>();
  private closing: Promise<void> | undefined;
  /** @internal Connections accepted so far whose requests are read with `onread` (adoptWithOnread). */
  connectionsReadingInPlace = 0;

  constructor(
    readonly address: string,
    private readonly server: net.Server,
    handler: Handler,
    opcodes: ReadonlySet<number>,
    requestsRunningMax: number,
    connectionContext: ((socket: net.Socket) => unknown) | undefined,
  ) {
    const adopt = adoptAccepted;
    server.on('connection', (accepted) => {
      const reader = new FrameReader(SERVER_ACCEPTS, SERVER_READ_BUFFER_BYTES);
      const adopted = adopt ? adoptWithOnread(accepted, reader.options) : undefined;
      const socket = adopted ?? accepted;
      if (adopted !== undefined) this.connectionsReadingInPlace++;
      let context: unknown;
      try {
        context = connectionContext?.(socket);
      } catch {
        socket.destroy();
        return;
      }
      const conn = new ServerConnection(
        socket,
        adopted !== undefined ? reader : undefined,
        handler,
        opcodes,
        requestsRunningMax,
        () => this.connections.delete(conn),
        context,
      );
      this.connections.add(conn);
    });
  }

  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      for (const conn of this.connections) conn.destroy();
    });
    return this.closing;
  }
}

function isErrorBody(header: unknown): header is { code: string; message: string } {
  if (typeof header !== 'object' || header === null) return false;
  const body = header as Record<string, unknown>;
  return typeof body.code === 'string' && typeof body.message === 'string';
}

/** One client connection over a socket. */
class StreamConnection implements Connection {
  private readonly requests: InflightRequests;
  private readonly timeoutMs: number;
  private lossReason = 'connection closed';
  private readonly closedPromise: Promise<void>;

  constructor(
    readonly peer: string,
    private readonly socket: net.Socket,
    reader: FrameReader,
    options: ConnectOptions,
  ) {
    this.requests = new InflightRequests(
      peer,
      options.requestsInFlightMax ?? REQUESTS_IN_FLIGHT_MAX,
      options.requestsWaitingMax ?? REQUESTS_WAITING_MAX,
    );
    this.timeoutMs = options.timeoutMs ?? RPC_TIMEOUT_MS_DEFAULT;
    socket.setNoDelay(true);
    // Reply bulks straight into the callers' buffers (RequestOptions.replyBulkInto), never after
    // their requests end.
    reader.decoder.bulkInto = (requestId, bytes) => this.requests.replyBulkInto(requestId, bytes);
    this.requests.onAbandon = (requestId) => reader.decoder.releaseBulk(requestId);
    reader.onFrame = (frame) => this.onFrame(frame);
    reader.onCorrupt = (err) => {
      this.lossReason = `protocol error: ${(err as Error).message}`;
      this.socket.destroy();
    };
    socket.on('error', (err) => {
      this.lossReason = `socket error ${netErrorCode(err)}`;
    });
    this.closedPromise = new Promise<void>((resolve) => {
      socket.on('close', () => {
        this.requests.failAll(new DaosError('DER_UNREACH', `connection to ${peer} lost: ${this.lossReason}`));
        resolve();
      });
    });
  }

  request(opcode: number, header: unknown, bulk?: Uint8Array, options?: RequestOptions): Promise<Reply> {
    return this.requests.start(
      opcode,
      options?.timeoutMs ?? this.timeoutMs,
      (requestId) => {
        writeFrame(this.socket, encodeFrame({ kind: FRAME_KIND_REQUEST, requestId, opcode }, header, bulk));
      },
      options?.replyBulkInto,
    );
  }

  close(): Promise<void> {
    this.lossReason = 'closed by the client';
    this.socket.destroy();
    return this.closedPromise;
  }

  private onFrame(frame: Frame): void {
    const { requestId } = frame;
    if (frame.headerError !== undefined) {
      this.requests.fail(requestId, frame.headerError);
    } else if (frame.kind === FRAME_KIND_REPLY) {
      this.requests.complete(requestId, { header: frame.header, bulk: frame.bulk });
    } else if (isErrorBody(frame.header)) {
      this.requests.fail(requestId, DaosError.from(frame.header.code, frame.header.message));
    } else {
      this.requests.fail(requestId, new DaosError('DER_PROTO', `malformed error reply from ${this.peer}`));
    }
  }
}

/** A transport over `net` sockets of one family. */
export class StreamTransport implements Transport {
  constructor(private readonly endpoint: StreamEndpoint) {}

  async listen(address: string, handler: Handler, options: ListenOptions = {}): Promise<Listener> {
    const target = this.endpoint.parse(address);
    const requestsRunningMax = options.requestsRunningMax ?? SERVER_REQUESTS_RUNNING_MAX;
    if (!Number.isInteger(requestsRunningMax) || requestsRunningMax < 1) {
      throw new DaosError('DER_INVAL', `bad concurrency bound ${requestsRunningMax}`);
    }
    // Request bulks arrive in fresh buffers: let their memory be reused rather than refaulted.
    keepFreedBulkMemory();
    // Paused on connect, so that each connection can be given `onread` before it reads a byte.
    const server = net.createServer({ noDelay: true, pauseOnConnect: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => {
        const code = netErrorCode(err);
        reject(
          new DaosError(
            code === 'EADDRINUSE' ? 'DER_EXIST' : 'DER_INVAL',
            `cannot listen at ${address}: ${code}`,
          ),
        );
      });
      server.listen(target, () => resolve());
    });
    server.on('error', () => {});
    const listening = this.endpoint.describe(server, address);
    return new StreamListener(
      listening,
      server,
      handler,
      options.opcodes ?? OPCODES_KNOWN,
      requestsRunningMax,
      options.connectionContext,
    );
  }

  async connect(address: string, options: ConnectOptions = {}): Promise<Connection> {
    const target = this.endpoint.parse(address);
    // Reply bulks too (a 1 MiB fetch at 1 in flight: 180–480 → 700–990 MiB/s, bulk-memory.ts).
    keepFreedBulkMemory();
    const reader = new FrameReader(CLIENT_ACCEPTS, CLIENT_READ_BUFFER_BYTES);
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const sock = net.connect({ ...target, noDelay: true, onread: reader.options } as net.NetConnectOpts);
      const timer = setTimeout(() => {
        sock.destroy();
        reject(
          new DaosError('DER_UNREACH', `connect to ${address} timed out after ${CONNECT_TIMEOUT_MS} ms`),
        );
      }, CONNECT_TIMEOUT_MS);
      sock.once('connect', () => {
        clearTimeout(timer);
        sock.removeAllListeners('error');
        resolve(sock);
      });
      sock.once('error', (err) => {
        clearTimeout(timer);
        reject(new DaosError('DER_UNREACH', `cannot connect to ${address}: ${netErrorCode(err)}`));
      });
    });
    return new StreamConnection(address, socket, reader, options);
  }
}
