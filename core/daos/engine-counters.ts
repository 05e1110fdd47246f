/**
 * An engine's counters (Engine.counters(), the OPC_ENGINE_COUNTERS reply, RemoteEngine.counters()):
 * checksum errors found by its targets, and per kind of operation the calls it served, how many
 * failed, and their latency as a histogram with fixed buckets. Everything is cumulative since the
 * engine process started (a restarted engine starts again from zero).
 */
import { DaosError } from '../common/errors.js';
import { expectArray, expectCount, expectObject } from './obj-codec.js';

/** The kinds of operation counted, each at the engine's public (ObjApi) method(s). */
export const ENGINE_OPS = ['update', 'fetch', 'punch', 'list', 'query', 'tx_commit'] as const;
export type EngineOp = (typeof ENGINE_OPS)[number];

/**
 * Upper bounds, in seconds, of the latency histogram's buckets (50 µs .. 5 s); one more bucket
 * holds what took longer than the last bound (Prometheus's `+Inf`).
 */
export const OP_LATENCY_BUCKETS_S: readonly number[] = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
];

export interface EngineOpCounters {
  /** Calls finished (succeeded or failed). */
  count: number;
  /** Calls that failed (threw). */
  errors: number;
  /**
   * Calls per latency bucket, not cumulative: `buckets[i]` took at most OP_LATENCY_BUCKETS_S[i]
   * and more than the bound before; the last entry (index OP_LATENCY_BUCKETS_S.length) took longer
   * than every bound. The entries add up to `count`.
   */
  buckets: number[];
  /** Seconds spent in all calls together. */
  sumSeconds: number;
}

export interface EngineCounters {
  /** Checksum errors the engine's targets found (see VosTarget.counters), in total. */
  csumErrors: number;
  /** Per target. */
  targets: Array<{ csumErrors: number }>;
  /** Per kind of operation. */
  ops: Record<EngineOp, EngineOpCounters>;
  /** Bytes of the update and tx_commit calls' values that succeeded (as the client sent them, before replication or EC). */
  bytesWritten: number;
  /** Bytes fetch calls returned (array extents as returned, holes included). */
  bytesRead: number;
}

/** Zeroed counters of one kind of operation. */
export function emptyOpCounters(): EngineOpCounters {
  return {
    count: 0,
    errors: 0,
    buckets: new Array<number>(OP_LATENCY_BUCKETS_S.length + 1).fill(0),
    sumSeconds: 0,
  };
}

/** Index of the bucket a latency of `seconds` falls in. */
export function latencyBucket(seconds: number): number {
  const bounds = OP_LATENCY_BUCKETS_S;
  let i = 0;
  while (i < bounds.length && seconds > bounds[i]!) i++;
  return i;
}

function expectSeconds(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
    throw new DaosError('DER_INVAL', `bad request: ${field} must be a non-negative number`);
  return v;
}

/** Decode (and check) an OPC_ENGINE_COUNTERS reply header. */
export function decodeEngineCounters(header: unknown): EngineCounters {
  const h = expectObject(header, 'reply');
  const rawOps = expectObject(h.ops, 'reply.ops');
  const ops = {} as Record<EngineOp, EngineOpCounters>;
  for (const op of ENGINE_OPS) {
    const f = `reply.ops.${op}`;
    const o = expectObject(rawOps[op], f);
    const buckets = expectArray(o.buckets, `${f}.buckets`).map((b, i) =>
      expectCount(b, `${f}.buckets[${i}]`),
    );
    if (buckets.length !== OP_LATENCY_BUCKETS_S.length + 1)
      throw new DaosError(
        'DER_INVAL',
        `bad request: ${f}.buckets must have ${OP_LATENCY_BUCKETS_S.length + 1} entries, not ${buckets.length}`,
      );
    ops[op] = {
      count: expectCount(o.count, `${f}.count`),
      errors: expectCount(o.errors, `${f}.errors`),
      buckets,
      sumSeconds: expectSeconds(o.sumSeconds, `${f}.sumSeconds`),
    };
  }
  return {
    csumErrors: expectCount(h.csumErrors, 'reply.csumErrors'),
    targets: expectArray(h.targets, 'reply.targets').map((t, i) => ({
      csumErrors: expectCount(
        expectObject(t, `reply.targets[${i}]`).csumErrors,
        `reply.targets[${i}].csumErrors`,
      ),
    })),
    ops,
    bytesWritten: expectCount(h.bytesWritten, 'reply.bytesWritten'),
    bytesRead: expectCount(h.bytesRead, 'reply.bytesRead'),
  };
}
