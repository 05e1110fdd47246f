/**
 * The in-process transport: the same interface, the same bounds, timeouts and error mapping as
 * the sockets, but the handler is called directly with the caller's header and bulk objects (no
 * serialisation). Addresses are `inproc://name` in a process-local registry.
 */
import { DaosError } from '../common/errors.js';
import { dispatch, RunGate } from './dispatch.js';
import { InflightRequests } from './inflight.js';
import {
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

const SCHEME = 'inproc://';

const registry = new Map<string, InprocListener>();

function nameOf(address: string): string {
  const name = address.startsWith(SCHEME) ? address.slice(SCHEME.length) : '';
  if (name.length === 0) throw new DaosError('DER_INVAL', `bad inproc address ${JSON.stringify(address)}`);
  return name;
}

class InprocListener implements Listener {
  readonly connections = new Set<InprocConnection>();
  private closed = false;

  constructor(
    readonly address: string,
    private readonly name: string,
    readonly handler: Handler,
    readonly opcodes: ReadonlySet<number>,
    readonly requestsRunningMax: number,
  ) {}

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    registry.delete(this.name);
    for (const conn of [...this.connections]) conn.lose('listener closed');
  }
}

class InprocConnection implements Connection {
  private readonly requests: InflightRequests;
  private readonly gate: RunGate;
  private readonly timeoutMs: number;
  private closed = false;

  constructor(
    readonly peer: string,
    private readonly listener: InprocListener,
    options: ConnectOptions,
  ) {
    this.requests = new InflightRequests(
      peer,
      options.requestsInFlightMax ?? REQUESTS_IN_FLIGHT_MAX,
      options.requestsWaitingMax ?? REQUESTS_WAITING_MAX,
    );
    this.gate = new RunGate(listener.requestsRunningMax);
    this.timeoutMs = options.timeoutMs ?? RPC_TIMEOUT_MS_DEFAULT;
  }

  request(opcode: number, header: unknown, bulk?: Uint8Array, options?: RequestOptions): Promise<Reply> {
    if (!Number.isInteger(opcode) || opcode < 0 || opcode > 0xffff) {
      return Promise.reject(new DaosError('DER_INVAL', `opcode ${opcode} is not a u16`));
    }
    const requestBulk = bulk !== undefined && bulk.length > 0 ? bulk : undefined;
    return this.requests.start(opcode, options?.timeoutMs ?? this.timeoutMs, (requestId) => {
      const { handler, opcodes } = this.listener;
      this.gate.run(async () => {
        const outcome = await dispatch(handler, opcodes, opcode, header, requestBulk);
        if (this.closed) return;
        if (outcome.ok) this.requests.complete(requestId, { header: outcome.header, bulk: outcome.bulk });
        // Rebuilt from code and message, exactly as a socket client sees it.
        else this.requests.fail(requestId, DaosError.from(outcome.code, outcome.message));
      });
    });
  }

  /** The connection is gone: every pending request rejects with DER_UNREACH. */
  lose(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.listener.connections.delete(this);
    this.requests.failAll(new DaosError('DER_UNREACH', `connection to ${this.peer} lost: ${reason}`));
  }

  async close(): Promise<void> {
    this.lose('closed by the client');
  }
}

/** The in-process transport. */
export const inprocTransport: Transport = {
  async listen(address: string, handler: Handler, options: ListenOptions = {}): Promise<Listener> {
    const name = nameOf(address);
    if (registry.has(name)) throw new DaosError('DER_EXIST', `${address} is already listening`);
    const requestsRunningMax = options.requestsRunningMax ?? SERVER_REQUESTS_RUNNING_MAX;
    if (!Number.isInteger(requestsRunningMax) || requestsRunningMax < 1) {
      throw new DaosError('DER_INVAL', `bad concurrency bound ${requestsRunningMax}`);
    }
    const listener = new InprocListener(
      address,
      name,
      handler,
      options.opcodes ?? OPCODES_KNOWN,
      requestsRunningMax,
    );
    registry.set(name, listener);
    return listener;
  },

  async connect(address: string, options: ConnectOptions = {}): Promise<Connection> {
    const listener = registry.get(nameOf(address));
    if (listener === undefined) throw new DaosError('DER_UNREACH', `nothing listens at ${address}`);
    const conn = new InprocConnection(address, listener, options);
    listener.connections.add(conn);
    return conn;
  },
};
