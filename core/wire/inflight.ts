/**
 * The client side shared by every transport: request ids, the bound on requests in flight with a
 * bounded FIFO of waiters, per-request timeouts, and failing everything when the connection goes.
 */
import { DaosError } from '../common/errors.js';
import { RPC_TIMEOUT_MS_MAX } from './limits.js';
import { opcodeName } from './opcodes.js';
import type { Reply } from './transport.js';

/** Sends the request under `requestId`; may throw (e.g. an oversize header) to fail the request. */
export type Send = (requestId: number) => void;

interface Request {
  opcode: number;
  send: Send;
  resolve: (reply: Reply) => void;
  reject: (err: unknown) => void;
  timer: NodeJS.Timeout | undefined;
  /** Set once the request is in flight. */
  requestId: number | undefined;
  /** RequestOptions.replyBulkInto. */
  bulkInto: Uint8Array | undefined;
  settled: boolean;
}

const REQUEST_ID_MAX = 0xffffffff;

/** The requests of one client connection. */
export class InflightRequests {
  private readonly inflight = new Map<number, Request>();
  private readonly waiting: Request[] = [];
  private waitingHead = 0;
  private waitingCount = 0;
  private nextId = 1;
  private failure: DaosError | undefined;
  /** Told when a request in flight ends without its reply (timeout, loss): its reply bulk is no longer wanted. */
  onAbandon: (requestId: number) => void = () => {};

  constructor(
    private readonly peer: string,
    private readonly inflightMax: number,
    private readonly waitingMax: number,
  ) {
    if (!Number.isInteger(inflightMax) || inflightMax < 1) {
      throw new DaosError('DER_INVAL', `bad in-flight bound ${inflightMax}`);
    }
    if (!Number.isInteger(waitingMax) || waitingMax < 0) {
      throw new DaosError('DER_INVAL', `bad waiting bound ${waitingMax}`);
    }
  }

  /** Requests in flight now. */
  get inflightCount(): number {
    return this.inflight.size;
  }

  /** Start a request: send it when a slot is free, settle it on reply, error, timeout or loss. */
  start(opcode: number, timeoutMs: number, send: Send, bulkInto?: Uint8Array): Promise<Reply> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > RPC_TIMEOUT_MS_MAX) {
      return Promise.reject(new DaosError('DER_INVAL', `bad timeout ${timeoutMs} ms`));
    }
    const slotFree = this.inflight.size < this.inflightMax && this.waitingCount === 0;
    if (!slotFree && this.waitingCount >= this.waitingMax) {
      return Promise.reject(
        new DaosError('DER_AGAIN', `${this.waitingCount} requests to ${this.peer} already wait for a slot`),
      );
    }
    return new Promise<Reply>((resolve, reject) => {
      const req: Request = {
        opcode,
        send,
        resolve,
        reject,
        timer: undefined,
        requestId: undefined,
        bulkInto,
        settled: false,
      };
      req.timer = setTimeout(() => {
        this.settle(
          req,
          new DaosError(
            'DER_TIMEDOUT',
            `${opcodeName(opcode)} to ${this.peer} timed out after ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      if (slotFree) {
        this.launch(req);
      } else {
        this.waiting.push(req);
        this.waitingCount++;
      }
    });
  }

  /** The buffer a request in flight asked its reply bulk of `bytes` bytes to be read into, if any. */
  replyBulkInto(requestId: number, bytes: number): Uint8Array | undefined {
    const into = this.inflight.get(requestId)?.bulkInto;
    return into !== undefined && into.byteLength === bytes ? into : undefined;
  }

  /** A reply arrived; false when no request waits for it (late or unknown: dropped). */
  complete(requestId: number, reply: Reply): boolean {
    const req = this.inflight.get(requestId);
    if (req === undefined) return false;
    this.settle(req, undefined, reply);
    return true;
  }

  /** An error reply arrived; false when no request waits for it. */
  fail(requestId: number, err: DaosError): boolean {
    const req = this.inflight.get(requestId);
    if (req === undefined) return false;
    this.settle(req, err);
    return true;
  }

  /** The connection is gone: reject everything now and later with `err`. */
  failAll(err: DaosError): void {
    if (this.failure !== undefined) return;
    this.failure = err;
    const waiters = this.waiting.slice(this.waitingHead);
    this.waiting.length = 0;
    this.waitingHead = 0;
    for (const req of [...this.inflight.values()]) this.settle(req, err);
    for (const req of waiters) this.settle(req, err);
  }

  private launch(req: Request): void {
    const requestId = this.allocateId();
    req.requestId = requestId;
    this.inflight.set(requestId, req);
    try {
      req.send(requestId);
    } catch (err) {
      this.settle(req, err);
    }
  }

  private allocateId(): number {
    // At most inflightMax ids are taken, so this loop ends quickly.
    for (;;) {
      const id = this.nextId;
      this.nextId = id === REQUEST_ID_MAX ? 1 : id + 1;
      if (!this.inflight.has(id)) return id;
    }
  }

  private settle(req: Request, err: unknown, reply?: Reply): void {
    if (req.settled) return;
    req.settled = true;
    clearTimeout(req.timer);
    if (req.requestId !== undefined) {
      this.inflight.delete(req.requestId);
      // Before the caller hears of it (and may reuse the buffer): no more of a reply goes there.
      if (reply === undefined && req.bulkInto !== undefined) this.onAbandon(req.requestId);
    } else {
      // Still waiting: it leaves the queue (skipped when reached).
      this.waitingCount--;
    }
    if (err !== undefined) req.reject(err);
    else req.resolve(reply!);
    this.pump();
  }

  /** Launch waiters while slots are free. */
  private pump(): void {
    while (
      this.failure === undefined &&
      this.inflight.size < this.inflightMax &&
      this.waitingHead < this.waiting.length
    ) {
      const next = this.waiting[this.waitingHead]!;
      this.waitingHead++;
      if (next.settled) continue;
      this.waitingCount--;
      this.launch(next);
    }
    if (this.waitingHead === this.waiting.length) {
      this.waiting.length = 0;
      this.waitingHead = 0;
    }
  }
}
