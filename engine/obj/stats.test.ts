import { describe, expect, it } from 'vitest';
import {
  decodeEngineCounters,
  ENGINE_OPS,
  latencyBucket,
  OP_LATENCY_BUCKETS_S,
} from '../../core/daos/engine-counters.js';
import { EngineStats } from './stats.js';

describe('engine stats', () => {
  it('puts latencies in the bucket of the first bound they do not pass', () => {
    expect(latencyBucket(0)).toBe(0);
    expect(latencyBucket(0.00005)).toBe(0);
    expect(latencyBucket(0.00006)).toBe(1);
    expect(latencyBucket(5)).toBe(OP_LATENCY_BUCKETS_S.length - 1);
    expect(latencyBucket(6)).toBe(OP_LATENCY_BUCKETS_S.length);
  });

  it('counts calls, failures and bytes, and its snapshot survives the codec', async () => {
    const s = new EngineStats();
    await s.time(
      'update',
      async () => 1,
      () => {
        s.bytesWritten += 10;
      },
    );
    await expect(
      s.time('fetch', async () => {
        throw new Error('no');
      }),
    ).rejects.toThrow('no');
    const snap = s.snapshot();
    expect(snap.ops.update).toMatchObject({ count: 1, errors: 0 });
    expect(snap.ops.fetch).toMatchObject({ count: 1, errors: 1 });
    expect(snap.bytesWritten).toBe(10);
    for (const op of ENGINE_OPS)
      expect(snap.ops[op].buckets.reduce((a, b) => a + b, 0)).toBe(snap.ops[op].count);
    const back = decodeEngineCounters({ csumErrors: 0, targets: [{ csumErrors: 0 }], ...snap });
    expect(back.ops).toEqual(snap.ops);
    expect(() => decodeEngineCounters({ csumErrors: 0, targets: [], ...snap, ops: {} })).toThrow(
      /reply\.ops\.update/,
    );
  });
});
