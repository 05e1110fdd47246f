/**
 * The one transport interface of the data plane, and transportFor(address) picking an
 * implementation by the address scheme: inproc://name, tcp://host:port, unix:///path.
 */
import type { Socket } from 'node:net';
import { DaosError } from '../common/errors.js';
import { inprocTransport } from './inproc.js';
import { tcpTransport } from './tcp.js';
import { unixTransport } from './unix.js';

/** What a handler returns: the reply header and an optional bulk. */
export interface HandlerReply {
  header: unknown;
  bulk?: Uint8Array;
  /**
   * Called once the reply's bytes are with the kernel (or the reply was dropped): the handler may
   * reuse the bulk's memory from then on. Transports that hand the bulk to the caller by
   * reference (in-process) never call it, so memory is only reused where that is safe.
   */
  sent?: () => void;
}

/**
 * Serves one request. A thrown DaosError reaches the client as that error (code and message);
 * any other thrown error reaches it as DER_MISC with its message.
 */
export type Handler = (
  opcode: number,
  header: unknown,
  bulk: Uint8Array | undefined,
  /** What `ListenOptions.connectionContext` returned for the request's connection (else undefined). */
  context?: unknown,
) => Promise<HandlerReply>;

/** A reply as the client sees it; an empty bulk arrives as undefined. */
export interface Reply {
  header: unknown;
  bulk: Uint8Array | undefined;
}

export interface RequestOptions {
  /** Counted from the call, waiting for a slot included; DER_TIMEDOUT when it passes. */
  timeoutMs?: number;
  /**
   * Where a reply bulk of exactly this many bytes may be read to (socket transports): the kernel
   * then reads it straight into the caller's memory, and `Reply.bulk` is this buffer. Only while
   * the request is in flight; after a timeout or a lost connection nothing more is written to it.
   * A bulk of another size, or one already buffered whole, arrives as usual.
   */
  replyBulkInto?: Uint8Array;
}

export interface ListenOptions {
  /** Opcodes served; any other gets a DER_UNREG error reply. Default: OPCODES_KNOWN. */
  opcodes?: ReadonlySet<number>;
  /** Requests run at once per connection. Default: SERVER_REQUESTS_RUNNING_MAX. */
  requestsRunningMax?: number;
  /**
   * Socket transports (tcp, unix): called once per accepted connection, before any of its frames
   * is read; what it returns is handed to the handler with each request of that connection (the
   * agent keeps the peer's kernel credentials there). A throw closes the connection unanswered.
   * The in-process transport has no socket and never calls it.
   */
  connectionContext?: (socket: Socket) => unknown;
}

export interface ConnectOptions {
  /** Requests in flight at once. Default: REQUESTS_IN_FLIGHT_MAX. */
  requestsInFlightMax?: number;
  /** Requests waiting for a slot before DER_AGAIN. Default: REQUESTS_WAITING_MAX. */
  requestsWaitingMax?: number;
  /** Default per-request timeout. Default: RPC_TIMEOUT_MS_DEFAULT. */
  timeoutMs?: number;
}

/** One client connection: many requests in flight, matched to replies by request id. */
export interface Connection {
  /** The address connected to. */
  readonly peer: string;
  /** Send one request; resolves to the reply, rejects with the server's DaosError or a local one. */
  request(opcode: number, header: unknown, bulk?: Uint8Array, options?: RequestOptions): Promise<Reply>;
  /** Close the connection; pending requests reject with DER_UNREACH. */
  close(): Promise<void>;
}

/** A listening endpoint. */
export interface Listener {
  /** The address clients connect to (with the real port when port 0 was asked). */
  readonly address: string;
  /** Stop listening and close every connection accepted. */
  close(): Promise<void>;
}

export interface Transport {
  listen(address: string, handler: Handler, options?: ListenOptions): Promise<Listener>;
  connect(address: string, options?: ConnectOptions): Promise<Connection>;
}

/** The transport serving an address, by its scheme. */
export function transportFor(address: string): Transport {
  if (address.startsWith('inproc://')) return inprocTransport;
  if (address.startsWith('tcp://')) return tcpTransport;
  if (address.startsWith('unix://')) return unixTransport;
  throw new DaosError('DER_INVAL', `no transport for address ${JSON.stringify(address)}`);
}
