/**
 * A connection made on first use and made again after it is lost: what one engine holds to each
 * of its peers, and what a client holds to each engine, so that a peer that restarts (or is not
 * up yet) costs a failed request, not a dead route.
 */
import { DaosError } from '../common/errors.js';
import {
  type Connection,
  type ConnectOptions,
  type Reply,
  type RequestOptions,
  transportFor,
} from './transport.js';

export class LazyConnection implements Connection {
  private conn: Promise<Connection> | undefined;
  private closed = false;

  constructor(
    readonly peer: string,
    private readonly options: ConnectOptions = {},
  ) {}

  async request(
    opcode: number,
    header: unknown,
    bulk?: Uint8Array,
    options?: RequestOptions,
  ): Promise<Reply> {
    if (this.closed) throw new DaosError('DER_UNREACH', `connection to ${this.peer} is closed`);
    this.conn ??= transportFor(this.peer).connect(this.peer, this.options);
    const current = this.conn;
    try {
      return await (await current).request(opcode, header, bulk, options);
    } catch (err) {
      // Lost or never made (not a DER_UNREACH the peer answered): the next request connects again.
      if (err instanceof DaosError && err.code === 'DER_UNREACH' && !err.remote && this.conn === current) {
        this.conn = undefined;
        current.then((c) => c.close()).catch(() => undefined);
      }
      throw err;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const current = this.conn;
    this.conn = undefined;
    if (current) await (await current.catch(() => undefined))?.close();
  }
}
