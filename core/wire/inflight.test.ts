import { describe, expect, it } from 'vitest';
import { DaosError } from '../common/errors.js';
import { InflightRequests } from './inflight.js';
import { OPC_OBJ_FETCH } from './opcodes.js';

describe('InflightRequests and replyBulkInto', () => {
  it('names the buffer of a request in flight for a bulk of its size only', async () => {
    const reqs = new InflightRequests('peer', 4, 4);
    const into = new Uint8Array(100);
    let id = -1;
    const p = reqs.start(OPC_OBJ_FETCH, 1000, (requestId) => (id = requestId), into);
    expect(reqs.replyBulkInto(id, 100) === into).toBe(true);
    expect(reqs.replyBulkInto(id, 99)).toBeUndefined();
    expect(reqs.replyBulkInto(id + 1, 100)).toBeUndefined();
    reqs.complete(id, { header: null, bulk: into });
    await p;
    // Settled: no longer named.
    expect(reqs.replyBulkInto(id, 100)).toBeUndefined();
  });

  it('tells onAbandon of a request that ends without its reply before its caller hears of it', async () => {
    const reqs = new InflightRequests('peer', 4, 4);
    const abandoned: number[] = [];
    reqs.onAbandon = (requestId) => abandoned.push(requestId);
    let timedOut = -1;
    const late = reqs.start(OPC_OBJ_FETCH, 20, (requestId) => (timedOut = requestId), new Uint8Array(8));
    const err = await late.then(
      () => undefined,
      (e: unknown) => {
        // By now the decoder has been told: nothing more goes into the caller's buffer.
        expect(abandoned).toEqual([timedOut]);
        return e;
      },
    );
    expect((err as DaosError).code).toBe('DER_TIMEDOUT');
    let lost = -1;
    const gone = reqs.start(OPC_OBJ_FETCH, 1000, (requestId) => (lost = requestId), new Uint8Array(8));
    reqs.failAll(new DaosError('DER_UNREACH', 'connection lost'));
    await expect(gone).rejects.toThrow(/connection lost/);
    expect(abandoned).toEqual([timedOut, lost]);
    // A request without a buffer, or one answered, is not reported.
    const plain = new InflightRequests('peer', 4, 4);
    plain.onAbandon = (requestId) => abandoned.push(requestId);
    await expect(plain.start(OPC_OBJ_FETCH, 10, () => {})).rejects.toThrow(/timed out/);
    expect(abandoned).toEqual([timedOut, lost]);
  });
});
