/**
 * The rebuild workload shared by test/rebuild.test.ts, bench/rebuild.ts and examples: objects of
 * a replicated and an erasure-coded class holding `bytes` in all, written in 1 MiB array values
 * of deterministic bytes; a shard-by-shard redundancy check (every member of every group holds
 * its shard, read from its target directly); and a byte-exact read back through the client.
 */
import { DaosError } from '../core/common/errors.js';
import { EPOCH_MAX } from '../core/common/hlc.js';
import type { Container } from '../core/daos/container.js';
import type { ObjTarget } from '../core/daos/link.js';
import type { DaosObject } from '../core/daos/object.js';
import type { Pool } from '../core/daos/pool.js';
import { EcCodec } from '../core/ec/codec.js';
import { cellExtent, cellRecordsFor, parityIndex } from '../core/ec/stripe.js';
import { ecCellBytes, ecShape } from '../core/ec/stripe-io.js';
import { dkeyGroup, objectLayout } from '../core/placement/layout.js';
import { type TargetRef, targetState } from '../core/placement/pool-map.js';
import type { ArrayFetchResult } from '../core/wire/obj-types.js';

/** Bytes per array value (one dkey, akey 'a', record size 1). */
export const WORKLOAD_VALUE_BYTES = 1024 * 1024;
/** Values written at a time. */
const WRITES_PARALLEL = 4;

export interface WorkloadObject {
  obj: DaosObject;
  oclass: string;
  /** Values (dkeys d0..d(n-1)). */
  values: number;
  /** Seed of the object's bytes. */
  seed: number;
}

/** Deterministic bytes of one value (xorshift32 words). */
export function valueBytes(seed: number, dkey: number, length = WORKLOAD_VALUE_BYTES): Uint8Array {
  const words = new Uint32Array(Math.ceil(length / 4));
  let x = (Math.imul(seed + 1, 0x9e3779b1) ^ Math.imul(dkey + 1, 0x85ebca6b)) >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  return new Uint8Array(words.buffer, 0, length);
}

export const dkeyOf = (i: number) => Buffer.from(`d${i}`);
const AKEY = Buffer.from('a');

/**
 * Write `bytes` (rounded to whole values) over `objectsPerClass` objects of each class in
 * `oclasses`, values spread evenly. Resolves to the objects.
 */
export async function writeWorkload(
  cont: Container,
  options: { bytes: number; oclasses: string[]; objectsPerClass: number; seed?: number },
): Promise<WorkloadObject[]> {
  const count = options.oclasses.length * options.objectsPerClass;
  const values = Math.max(1, Math.round(options.bytes / WORKLOAD_VALUE_BYTES / count));
  const objs: WorkloadObject[] = [];
  let seed = options.seed ?? 1;
  for (const oclass of options.oclasses) {
    for (let i = 0; i < options.objectsPerClass; i++) {
      const oid = await cont.newOid({ type: 'multi_hashed', oclass });
      objs.push({ obj: cont.object(oid), oclass, values, seed: seed++ });
    }
  }
  const jobs = objs.flatMap((o) => Array.from({ length: o.values }, (_, d) => ({ o, d })));
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const { o, d } = jobs[next++]!;
      await writeValue(o, d);
    }
  };
  await Promise.all(Array.from({ length: WRITES_PARALLEL }, worker));
  return objs;
}

/** Write value `d` of an object (its deterministic bytes, or `data`). */
export async function writeValue(o: WorkloadObject, d: number, data?: Uint8Array): Promise<void> {
  const bytes = data ?? valueBytes(o.seed, d);
  await o.obj.update(dkeyOf(d), [
    { akey: AKEY, kind: 'array', recordSize: 1, extents: [{ idx: 0, nr: bytes.byteLength, data: bytes }] },
  ]);
}

/**
 * Read every value back through the client (at `epoch`, a snapshot, when given; newest without);
 * DER_MISC naming the first value that differs.
 */
export async function readBack(
  objs: readonly WorkloadObject[],
  expected = valueBytes,
  epoch?: bigint,
): Promise<number> {
  let bytes = 0;
  for (const o of objs) {
    for (let d = 0; d < o.values; d++) {
      const want = expected(o.seed, d);
      const [r] = await o.obj.fetch(
        dkeyOf(d),
        [{ akey: AKEY, kind: 'array', recordSize: 1, extents: [{ idx: 0, nr: want.byteLength }] }],
        epoch === undefined ? {} : { epoch },
      );
      const got = (r as ArrayFetchResult).data;
      if (!Buffer.from(got).equals(Buffer.from(want)))
        throw new DaosError(
          'DER_MISC',
          `${o.oclass} object seed ${o.seed} value d${d} reads back different bytes${epoch === undefined ? '' : ` at epoch ${epoch}`}`,
        );
      bytes += got.byteLength;
    }
  }
  return bytes;
}

/**
 * Full redundancy, shard by shard: in the pool's current map every member of every group an
 * object's values live in is UPIN, and holds exactly its shard — a replica the whole value, an EC
 * data shard its cells, a parity shard the parity of the stripes — read from its target directly.
 * Resolves to the shards checked; DER_MISC naming the first one that is missing or wrong.
 */
export async function checkShards(
  pool: Pool,
  cont: Container,
  objs: readonly WorkloadObject[],
  expected = valueBytes,
): Promise<number> {
  const map = pool.map;
  let shards = 0;
  for (const o of objs) {
    const layout = objectLayout(o.obj.oid, map);
    const ec = ecShape(o.obj.oid);
    for (let d = 0; d < o.values; d++) {
      const dkey = dkeyOf(d);
      const want = expected(o.seed, d);
      const g = dkeyGroup(dkey, layout);
      const members = layout.shards.slice(g * layout.groupSize, (g + 1) * layout.groupSize);
      const where = (t: TargetRef, i: number) =>
        `${o.oclass} seed ${o.seed} d${d} shard ${i} on ${t.rank}:${t.target}`;
      for (const [i, t] of members.entries()) {
        if (targetState(map, t) !== 'UPIN')
          throw new DaosError('DER_MISC', `${where(t, i)} is ${targetState(map, t)}, not UPIN`);
      }
      const read = async (t: TargetRef, idx: bigint, nr: bigint) => {
        const to: ObjTarget = {
          pool: pool.uuid,
          cont: cont.uuid,
          oid: o.obj.oid,
          target: t,
          mapVersion: map.version,
          ...(cont.token === undefined ? {} : { token: cont.token }),
        };
        const [r] = await pool.link
          .engine(t.rank)
          .fetch(to, EPOCH_MAX, dkey, [{ akey: AKEY, kind: 'array', recordSize: 1, extents: [{ idx, nr }] }]);
        return Buffer.from((r as ArrayFetchResult).data);
      };
      if (!ec) {
        for (const [i, t] of members.entries()) {
          if (!(await read(t, 0n, BigInt(want.byteLength))).equals(Buffer.from(want)))
            throw new DaosError('DER_MISC', `${where(t, i)}: the replica differs`);
          shards++;
        }
        continue;
      }
      const { k, p } = ec;
      const cr = cellRecordsFor(1, ecCellBytes(map));
      const stripes = Math.ceil(want.byteLength / (k * cr));
      const codec = new EcCodec(k, p);
      for (let s = 0; s < stripes; s++) {
        const cells: Uint8Array[] = [];
        for (let i = 0; i < k; i++) {
          const e = cellExtent(BigInt(s), i, k, cr);
          const cell = new Uint8Array(cr);
          const from = Number(e.idx);
          if (from < want.byteLength) cell.set(want.subarray(from, Math.min(from + cr, want.byteLength)));
          cells.push(cell);
          if (!(await read(members[i]!, e.idx, e.nr)).equals(Buffer.from(cell)))
            throw new DaosError('DER_MISC', `${where(members[i]!, i)}: data cell of stripe ${s} differs`);
          shards++;
        }
        const parity = await codec.encode(cells);
        for (let j = 0; j < p; j++) {
          const e = parityIndex(BigInt(s), cr, j);
          if (!(await read(members[k + j]!, e.idx, e.nr)).equals(Buffer.from(parity[j]!)))
            throw new DaosError(
              'DER_MISC',
              `${where(members[k + j]!, k + j)}: parity of stripe ${s} differs`,
            );
          shards++;
        }
      }
    }
  }
  return shards;
}

/**
 * Wait until `cond` holds, checking every `everyMs`; DER_TIMEDOUT naming `what` after `timeoutMs`
 * (also when a check itself hangs), with what `explain` says about the state then.
 */
export async function waitFor(
  what: string,
  cond: () => Promise<boolean> | boolean,
  timeoutMs: number,
  everyMs = 100,
  explain?: () => string | Promise<string>,
): Promise<number> {
  const start = Date.now();
  const fail = async (how: string): Promise<never> => {
    const why = explain
      ? await Promise.resolve()
          .then(explain)
          .catch((e: Error) => `(explain: ${e.message})`)
      : '';
    throw new DaosError('DER_TIMEDOUT', `${what}: ${how}${why ? `; ${why}` : ''}`);
  };
  for (;;) {
    let timer: NodeJS.Timeout | undefined;
    const left = Math.max(0, timeoutMs - (Date.now() - start));
    const hung = Symbol('hung');
    const ok = await Promise.race([
      Promise.resolve().then(cond),
      new Promise<typeof hung>((r) => {
        timer = setTimeout(() => r(hung), left + everyMs);
      }),
    ]).finally(() => clearTimeout(timer));
    if (ok === hung) return fail(`a check did not answer within ${timeoutMs} ms`);
    if (ok) return Date.now() - start;
    if (Date.now() - start > timeoutMs) return fail(`not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
