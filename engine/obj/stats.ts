/**
 * What Engine.counters() reports of the object service: calls, failures and latency per kind of
 * operation (see core/daos/engine-counters.ts), bytes written and read. Kept in memory, cumulative
 * since the engine started; timing costs one performance.now() at each end of a call.
 */
import { performance } from 'node:perf_hooks';
import type { TurnBudget } from '../../core/common/turns.js';
import { BYTES_ZERO } from '../../core/common/units.js';
import {
  ENGINE_OPS,
  type EngineOp,
  type EngineOpCounters,
  emptyOpCounters,
  latencyBucket,
} from '../../core/daos/engine-counters.js';

export class EngineStats {
  private readonly ops = Object.fromEntries(ENGINE_OPS.map((op) => [op, emptyOpCounters()])) as Record<
    EngineOp,
    EngineOpCounters
  >;
  bytesWritten = BYTES_ZERO;
  bytesRead = BYTES_ZERO;

  /**
   * Run `fn` as one call of kind `op`: counted, timed, `onDone` told its result when it succeeds,
   * `onError` its error (and `ctx`) when it fails (thrown or rejected); with `ctx`, both can be
   * made once rather than per call. With `turns`, a call begun and done within one loop turn past
   * that turn's budget gives its outcome back at the next (TurnBudget.settle).
   */
  time<T, C = undefined>(
    op: EngineOp,
    fn: () => Promise<T> | T,
    onDone?: (result: T) => void,
    onError?: (err: unknown, ctx: C) => void,
    turns?: TurnBudget,
    ctx?: C,
  ): Promise<T> {
    const start = performance.now();
    const begun = turns === undefined ? 0 : turns.mark();
    let work: Promise<T> | T;
    try {
      work = fn();
    } catch (err) {
      work = Promise.reject(err);
    }
    return this.timed(op, start, begun, work, onDone, onError, turns, ctx);
  }

  /**
   * `time` of work already begun at `start` (performance.now()) in turn `begun`: for the hot
   * calls, which begin their work inline rather than in a function made per call. An async
   * method, not a continuation made per call, for the same reason (engine/bio/data-file.ts,
   * groupToSettle).
   */
  async timed<T, C = undefined>(
    op: EngineOp,
    start: number,
    begun: number,
    work: Promise<T> | T,
    onDone?: (result: T) => void,
    onError?: (err: unknown, ctx: C) => void,
    turns?: TurnBudget,
    ctx?: C,
  ): Promise<T> {
    let result: T;
    try {
      result = await work;
    } catch (err) {
      onError?.(err, ctx as C);
      this.record(op, (performance.now() - start) / 1000, false);
      if (turns !== undefined) return turns.settleError(begun, err);
      throw err;
    }
    try {
      onDone?.(result);
    } finally {
      this.record(op, (performance.now() - start) / 1000, true);
    }
    return turns === undefined ? result : turns.settle(begun, result);
  }

  record(op: EngineOp, seconds: number, ok: boolean): void {
    const c = this.ops[op];
    c.count++;
    if (!ok) c.errors++;
    c.buckets[latencyBucket(seconds)]!++;
    c.sumSeconds += seconds;
  }

  /** A copy of the counters (the caller may keep or send it). */
  snapshot(): { ops: Record<EngineOp, EngineOpCounters>; bytesWritten: number; bytesRead: number } {
    const ops = {} as Record<EngineOp, EngineOpCounters>;
    for (const op of ENGINE_OPS) ops[op] = { ...this.ops[op], buckets: [...this.ops[op].buckets] };
    return { ops, bytesWritten: this.bytesWritten + 0, bytesRead: this.bytesRead + 0 };
  }
}
