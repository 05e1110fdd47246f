import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EPOCH_MAX } from '../core/common/hlc.js';
import type { ObjTarget } from '../core/daos/link.js';
import { COLLECTIVE_SHARDS_MAX } from '../core/daos/obj-codec.js';
import { RemoteEngine } from '../core/daos/remote-engine.js';
import type { ArrayFetchResult } from '../core/wire/obj-types.js';
import { transportFor } from '../core/wire/transport.js';
import { ENGINE_BIN, engineTempDir, killEngineChildren, startEngine, trackChild } from './engine-child.js';

/**
 * daos_engine as a real child process (the compiled dist/bin/daos_engine.js, built by the global
 * setup): ready line, object I/O over TCP, clean exit on SIGTERM, data kept across a restart.
 */

const POOL = 'pool-p';
const CONT = 'cont-p';
const b = (s: string) => Buffer.from(s);

afterEach(killEngineChildren);

async function connect(address: string): Promise<RemoteEngine> {
  const remote = new RemoteEngine(await transportFor(address).connect(address));
  // Pools and containers are what the management service tells engines (not persisted by them).
  await remote.poolCreate(POOL, 64 << 20);
  await remote.contCreate(POOL, CONT);
  return remote;
}

const to = (target: number): ObjTarget => ({
  pool: POOL,
  cont: CONT,
  oid: { hi: 0n, lo: 42n },
  target: { rank: 0, target },
});

describe('daos_engine process', () => {
  it('serves object I/O over TCP, stops on SIGTERM with exit 0, keeps data across a restart', async () => {
    const dir = engineTempDir('daos-engine-');
    const big = Buffer.alloc(4 << 20);
    for (let i = 0; i < big.length; i += 4) big.writeUInt32LE((i * 2654435761) >>> 0, i);

    const first = await startEngine(dir, 'tcp://127.0.0.1:0');
    expect(first.pid).toBe(first.child.pid);
    expect(first.address).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    let remote = await connect(first.address);
    expect(await remote.ping({ hi: 1 })).toEqual({ hi: 1 });
    await remote.update(to(0), b('d'), [
      { akey: b('a'), kind: 'single', value: b('alpha') },
      { akey: b('b'), kind: 'single', value: b('beta') },
    ]);
    const e = await remote.update(to(1), b('arr'), [
      {
        akey: b('x'),
        kind: 'array',
        recordSize: 1,
        extents: [{ idx: 0n, nr: BigInt(big.length), data: big }],
      },
    ]);
    const read = async (r: RemoteEngine) => {
      const [a, bb] = await r.fetch(to(0), EPOCH_MAX, b('d'), [
        { akey: b('a'), kind: 'single' },
        { akey: b('b'), kind: 'single' },
      ]);
      const [x] = await r.fetch(to(1), EPOCH_MAX, b('arr'), [
        { akey: b('x'), kind: 'array', recordSize: 1, extents: [{ idx: 0n, nr: BigInt(big.length) }] },
      ]);
      return { a: Buffer.from(a as Uint8Array).toString(), b: Buffer.from(bb as Uint8Array).toString(), x };
    };
    const r1 = await read(remote);
    expect(r1.a).toBe('alpha');
    expect(r1.b).toBe('beta');
    expect(Buffer.from((r1.x as ArrayFetchResult).data).equals(big)).toBe(true);
    expect((r1.x as ArrayFetchResult).map).toEqual([{ idx: 0n, nr: BigInt(big.length) }]);
    expect(await remote.listRecx(to(1), EPOCH_MAX, b('arr'), b('x'))).toEqual([
      { idx: 0n, nr: BigInt(big.length), epoch: e },
    ]);
    await remote.close();

    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);

    const second = await startEngine(dir, 'tcp://127.0.0.1:0');
    remote = await connect(second.address);
    const r2 = await read(remote);
    expect(r2.a).toBe('alpha');
    expect(r2.b).toBe('beta');
    expect(Buffer.from((r2.x as ArrayFetchResult).data).equals(big)).toBe(true);
    await remote.close();
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });

  it('answers many large fetches in flight with the right bytes (reply buffers are reused)', async () => {
    const dir = engineTempDir('daos-engine-');
    const started = await startEngine(dir, 'tcp://127.0.0.1:0');
    const remote = await connect(started.address);
    const MIB = 1 << 20;
    const KEYS = 12;
    const data = (i: number) => Buffer.alloc(MIB, i + 1).fill(`key-${i}:`, 0, 16);
    for (let i = 0; i < KEYS; i++) {
      await remote.update(to(i % 2), b(`big${i}`), [
        {
          akey: b('a'),
          kind: 'array',
          recordSize: 1,
          extents: [{ idx: 0n, nr: BigInt(MIB), data: data(i) }],
        },
      ]);
    }
    const reads = Array.from({ length: 96 }, async (_, n) => {
      const i = n % KEYS;
      const [r] = await remote.fetch(to(i % 2), EPOCH_MAX, b(`big${i}`), [
        { akey: b('a'), kind: 'array', recordSize: 1, extents: [{ idx: 0n, nr: BigInt(MIB) }] },
      ]);
      // Hold the reply a while: a later reply must not land in this one's memory.
      await new Promise((resolve) => setTimeout(resolve, n % 5));
      expect(Buffer.from((r as ArrayFetchResult).data).equals(data(i)), `read ${n} of key ${i}`).toBe(true);
    });
    await Promise.all(reads);
    await remote.close();
    started.child.kill('SIGTERM');
    expect(await started.exited).toBe(0);
  });

  it('collective calls: one punch or key query for the shards of an object on several targets; a bad target list changes nothing', async () => {
    const dir = engineTempDir('daos-engine-');
    const started = await startEngine(dir, 'tcp://127.0.0.1:0', 4);
    const remote = await connect(started.address);
    for (let t = 0; t < 4; t++)
      await remote.update(to(t), b('d'), [{ akey: b('a'), kind: 'single', value: b(`v${t}`) }]);
    const values = async () => {
      const out: Array<string | undefined> = [];
      for (let t = 0; t < 4; t++) {
        const [v] = await remote.fetch(to(t), EPOCH_MAX, b('d'), [{ akey: b('a'), kind: 'single' }]);
        out.push(v === undefined ? undefined : Buffer.from(v as Uint8Array).toString());
      }
      return out;
    };
    const ref = (target: number, rank = 0) => ({ rank, target });
    await expect(
      remote.punch({ kind: 'punch_obj', to: to(0), shards: [ref(1), ref(1)] }),
    ).rejects.toMatchObject({
      code: 'DER_INVAL',
      message: expect.stringMatching(/target 0:1 twice/),
    });
    await expect(
      remote.punch({ kind: 'punch_obj', to: to(0), shards: [ref(1), ref(9)] }),
    ).rejects.toMatchObject({
      code: 'DER_BAD_TARGET',
    });
    await expect(remote.punch({ kind: 'punch_obj', to: to(0), shards: [ref(1, 3)] })).rejects.toMatchObject({
      code: 'DER_BAD_TARGET',
    });
    await expect(remote.txCommit([{ kind: 'punch_obj', to: to(0), shards: [ref(1)] }])).rejects.toMatchObject(
      {
        code: 'DER_INVAL',
        message: expect.stringMatching(/shards must be absent from a punch in a transaction/),
      },
    );
    expect(await values()).toEqual(['v0', 'v1', 'v2', 'v3']);
    // A collective key query answers for every shard it names.
    for (let t = 0; t < 4; t++)
      await remote.update(to(t), b(`k${t}`), [{ akey: b('a'), kind: 'single', value: b('x') }]);
    const query = (which: 'max' | 'min', shards: Array<{ rank: number; target: number }>) =>
      remote
        .queryDkey(to(1), EPOCH_MAX, which, shards)
        .then((k) => (k === undefined ? k : Buffer.from(k).toString()));
    expect(await query('max', [ref(3), ref(2)])).toBe('k3');
    expect(await query('max', [ref(0)])).toBe('k1');
    expect(await query('min', [ref(2), ref(0), ref(3)])).toBe('d');
    await expect(query('max', [ref(2), ref(2)])).rejects.toMatchObject({ code: 'DER_INVAL' });
    // A long list (checked another way than a short one): a repeat far down is found too.
    const long = [...Array.from({ length: 40 }, (_, i) => ref(i % 8, 1 + Math.floor(i / 8))), ref(3, 2)];
    await expect(query('max', long)).rejects.toMatchObject({
      code: 'DER_INVAL',
      message: expect.stringMatching(/target 2:3 twice/),
    });
    await expect(query('max', [ref(7)])).rejects.toMatchObject({ code: 'DER_BAD_TARGET' });
    const many = Array.from({ length: COLLECTIVE_SHARDS_MAX + 1 }, (_, i) => ref(i));
    await expect(query('max', many)).rejects.toMatchObject({
      code: 'DER_INVAL',
      message: expect.stringMatching(new RegExp(`shards must be at most ${COLLECTIVE_SHARDS_MAX} targets`)),
    });
    await remote.punch({ kind: 'punch_obj', to: to(0), shards: [ref(2), ref(1)] });
    expect(await values()).toEqual([undefined, undefined, undefined, 'v3']);
    await remote.close();
    started.child.kill('SIGTERM');
    expect(await started.exited).toBe(0);
  });

  it('listens on a unix socket too', async () => {
    const dir = engineTempDir('daos-engine-');
    const started = await startEngine(dir, `unix://${path.join(dir, 'engine.sock')}`);
    expect(started.address.startsWith('unix://')).toBe(true);
    const remote = await connect(started.address);
    expect(await remote.ping({ u: 1 })).toEqual({ u: 1 });
    await remote.close();
    started.child.kill('SIGTERM');
    expect(await started.exited).toBe(0);
  });

  it('exits 1 with a message on bad arguments', async () => {
    const child = trackChild(
      spawn(process.execPath, [ENGINE_BIN, '--rank', 'x'], { stdio: ['ignore', 'pipe', 'pipe'] }),
    );
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(code).toBe(1);
    expect(stderr).toContain('usage: daos_engine');
  });
});
