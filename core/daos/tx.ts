import { DaosError } from '../common/errors.js';
import { TX_OPS_MAX } from '../common/limits.js';
import type { Oid } from '../common/oid.js';
import type { Container } from './container.js';
import { KV } from './kv.js';
import type { ObjTarget, TxOp } from './link.js';
import { DaosObject } from './object.js';

/**
 * A transaction: reads at its epoch, writes buffered here and committed atomically at one new
 * epoch across dkeys and objects of one container. If something it wrote or read changed after
 * its epoch, commit fails with DER_TX_RESTART and nothing of it is visible: `restart()` and redo.
 */
export class Tx {
  readonly container: Container;
  private epochValue: bigint;
  private ops: TxOp[] = [];
  private reads: Array<{ to: ObjTarget; dkey: Uint8Array; akey?: Uint8Array }> = [];
  private state: 'open' | 'committed' | 'aborted' = 'open';

  constructor(container: Container, epoch: bigint) {
    this.container = container;
    this.epochValue = epoch;
  }

  /** The epoch this transaction reads at. */
  get epoch(): bigint {
    return this.epochValue;
  }

  /** An object whose reads and writes go through this transaction. */
  object(oid: Oid): DaosObject {
    return new DaosObject(this.container, oid, this);
  }

  /** A KV object whose puts and removes go through this transaction. */
  kv(oid: Oid): KV {
    return new KV(this.object(oid));
  }

  /** @internal Buffer a write (objects call this). */
  add(op: TxOp): void {
    this.checkOpen();
    if (this.ops.length >= TX_OPS_MAX)
      throw new DaosError('DER_OVERFLOW', `a transaction holds at most ${TX_OPS_MAX} writes`);
    this.ops.push(op);
  }

  /** @internal Remember a read, validated at commit. */
  noteRead(to: ObjTarget, dkey: Uint8Array, akey?: Uint8Array): void {
    this.checkOpen();
    this.reads.push({ to, dkey, akey });
  }

  /** Commit every buffered write atomically; resolves to the commit epoch. */
  async commit(): Promise<bigint> {
    this.checkOpen();
    this.container.checkWritable();
    if (this.ops.length === 0) {
      this.state = 'committed';
      return this.epochValue;
    }
    const first = this.ops[0]!.to;
    try {
      const epoch = await this.container.pool.link
        .engine(first.target.rank)
        .txCommit(this.ops, { readEpoch: this.epochValue, readSet: this.reads });
      this.state = 'committed';
      return epoch;
    } catch (err) {
      // A failed commit leaves the transaction open so that the caller can restart it.
      if (!(err instanceof DaosError) || err.code !== 'DER_TX_RESTART') this.state = 'aborted';
      throw err;
    }
  }

  /** Drop every buffered write. */
  async abort(): Promise<void> {
    this.checkOpen();
    this.state = 'aborted';
    this.ops = [];
    this.reads = [];
  }

  /** Start over at a new epoch after DER_TX_RESTART (DAOS's daos_tx_restart). */
  restart(): void {
    this.ops = [];
    this.reads = [];
    this.state = 'open';
    this.epochValue = this.container.pool.link.now();
  }

  private checkOpen(): void {
    if (this.state !== 'open') throw new DaosError('DER_NO_HDL', `transaction is ${this.state}`);
  }
}
