import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DaosError } from '../../core/common/errors.js';
import { EPOCH_MAX } from '../../core/common/hlc.js';
import { IO_BYTES_MAX, LABEL_BYTES_MAX } from '../../core/common/limits.js';
import type { ObjTarget } from '../../core/daos/link.js';
import { OPC_ENGINE_CONT_CREATE, OPC_ENGINE_POOL_CREATE } from '../../core/daos/obj-codec.js';
import { RemoteEngine } from '../../core/daos/remote-engine.js';
import type { ArrayFetchResult } from '../../core/wire/obj-types.js';
import { OPC_OBJ_FETCH, OPC_OBJ_UPDATE, OPC_PING } from '../../core/wire/opcodes.js';
import { type Connection, type Listener, transportFor } from '../../core/wire/transport.js';
import { Engine } from './engine.js';
import { serveEngine } from './rpc-service.js';

const POOL = 'pool-1';
const CONT = 'cont-1';
const b = (s: string) => Buffer.from(s);
const str = (v: Uint8Array | undefined) => (v === undefined ? undefined : Buffer.from(v).toString());
const strs = (keys: Uint8Array[]) => keys.map((k) => Buffer.from(k).toString());
const at = (lo: bigint, target = 0): ObjTarget => ({
  pool: POOL,
  cont: CONT,
  oid: { hi: 0n, lo },
  target: { rank: 0, target },
});

async function expectCode(p: Promise<unknown>, code: string, text?: string): Promise<DaosError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DaosError);
  expect((err as DaosError).code).toBe(code);
  if (text) expect((err as DaosError).message).toContain(text);
  return err as DaosError;
}

let seq = 0;

describe.each(['inproc', 'tcp'])('engine served over %s', (scheme) => {
  let engine: Engine;
  let listener: Listener;
  let conn: Connection;
  let remote: RemoteEngine;

  let dir: string;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rpc-service-'));
    engine = await Engine.start({ dir, rank: 0, targets: 2, peers: () => engine });
    const address =
      scheme === 'inproc' ? `inproc://rpc-service-test-${process.pid}-${seq++}` : 'tcp://127.0.0.1:0';
    listener = await serveEngine(engine, address);
    conn = await transportFor(listener.address).connect(listener.address);
    remote = new RemoteEngine(conn);
    await remote.poolCreate(POOL, 1 << 30);
    await remote.contCreate(POOL, CONT);
  });

  afterAll(async () => {
    await conn.close();
    await listener.close();
    await engine.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('answers ping with the header', async () => {
    expect(await remote.ping({ hello: 'x' })).toEqual({ hello: 'x' });
  });

  it('updates, fetches and punches single values and extents like the engine itself', async () => {
    const to = at(1n);
    const data = Buffer.alloc(3000);
    for (let i = 0; i < data.length; i++) data[i] = i % 251;
    const e1 = await remote.update(to, b('d1'), [
      { akey: b('s'), kind: 'single', value: b('hello') },
      { akey: b('empty'), kind: 'single', value: new Uint8Array(0) },
      {
        akey: b('a'),
        kind: 'array',
        recordSize: 4,
        extents: [
          { idx: 0n, nr: 250n, data: data.subarray(0, 1000) },
          { idx: 500n, nr: 500n, data: data.subarray(1000, 3000) },
        ],
      },
    ]);
    expect(typeof e1).toBe('bigint');
    const iods = [
      { akey: b('s'), kind: 'single' as const },
      { akey: b('missing'), kind: 'single' as const },
      { akey: b('a'), kind: 'array' as const, recordSize: 4, extents: [{ idx: 0n, nr: 1000n }] },
    ];
    const viaWire = await remote.fetch(to, EPOCH_MAX, b('d1'), iods);
    const direct = await engine.fetch(to, EPOCH_MAX, b('d1'), iods);
    expect(str(viaWire[0] as Uint8Array)).toBe('hello');
    expect(viaWire[1]).toBeUndefined();
    const arr = viaWire[2] as ArrayFetchResult;
    expect(Buffer.from(arr.data).equals(Buffer.from((direct[2] as ArrayFetchResult).data))).toBe(true);
    expect(arr.map).toEqual((direct[2] as ArrayFetchResult).map);
    expect(Buffer.from(arr.data.subarray(2000, 4000)).equals(data.subarray(1000, 3000))).toBe(true);

    // A caller's buffer receives the data.
    const out = new Uint8Array(4000);
    const [withOut] = await remote.fetch(to, EPOCH_MAX, b('d1'), [
      { akey: b('a'), kind: 'array', recordSize: 4, extents: [{ idx: 0n, nr: 1000n }], out },
    ]);
    expect((withOut as ArrayFetchResult).data.buffer).toBe(out.buffer);
    expect(Buffer.from(out.subarray(0, 1000)).equals(data.subarray(0, 1000))).toBe(true);

    // Extents without data punch records; reads at an old epoch still see them.
    await remote.update(to, b('d1'), [
      { akey: b('a'), kind: 'array', recordSize: 4, extents: [{ idx: 0n, nr: 10n }] },
    ]);
    const [after] = await remote.fetch(to, EPOCH_MAX, b('d1'), [iods[2]!]);
    const [afterDirect] = await engine.fetch(to, EPOCH_MAX, b('d1'), [iods[2]!]);
    expect((after as ArrayFetchResult).map).toEqual((afterDirect as ArrayFetchResult).map);
    expect((after as ArrayFetchResult).map[0]).toEqual({ idx: 10n, nr: 240n });
    const [old] = await remote.fetch(to, e1, b('d1'), [iods[2]!]);
    expect(Buffer.from((old as ArrayFetchResult).data.subarray(0, 40)).equals(data.subarray(0, 40))).toBe(
      true,
    );

    // Punch akeys, then the whole object.
    await remote.punch({ kind: 'punch_akeys', to, dkey: b('d1'), akeys: [b('s')] });
    expect((await remote.fetch(to, EPOCH_MAX, b('d1'), [iods[0]!]))[0]).toBeUndefined();
    await remote.punch({ kind: 'punch_obj', to });
    expect(await remote.listDkeys(to, EPOCH_MAX, undefined, 10)).toEqual([]);
  });

  it('lists and queries keys and extents like the engine itself', async () => {
    const to = at(2n, 1);
    for (const d of ['b', 'a', 'c'])
      await remote.update(to, b(d), [
        { akey: b('x'), kind: 'single', value: b(d) },
        { akey: b('y'), kind: 'array', recordSize: 1, extents: [{ idx: 10n, nr: 5n, data: b('12345') }] },
      ]);
    const dk = await remote.listDkeys(to, EPOCH_MAX, undefined, 10);
    expect(strs(dk).sort()).toEqual(['a', 'b', 'c']);
    expect(strs(dk)).toEqual(strs(await engine.listDkeys(to, EPOCH_MAX, undefined, 10)));
    const page = await remote.listDkeys(to, EPOCH_MAX, dk[0], 1);
    expect(strs(page)).toEqual(strs(await engine.listDkeys(to, EPOCH_MAX, dk[0], 1)));
    expect(strs(await remote.listAkeys(to, EPOCH_MAX, b('a'), undefined, 10))).toEqual(['x', 'y']);
    expect(strs(await remote.listAkeys(to, EPOCH_MAX, b('a'), b('x'), 10))).toEqual(['y']);
    const recx = await remote.listRecx(to, EPOCH_MAX, b('a'), b('y'));
    expect(recx).toEqual(await engine.listRecx(to, EPOCH_MAX, b('a'), b('y')));
    expect(recx[0]).toMatchObject({ idx: 10n, nr: 5n });
    expect(str(await remote.queryDkey(to, EPOCH_MAX, 'max'))).toBe(
      str(await engine.queryDkey(to, EPOCH_MAX, 'max')),
    );
    expect(str(await remote.queryDkey(to, EPOCH_MAX, 'min'))).toBe(
      str(await engine.queryDkey(to, EPOCH_MAX, 'min')),
    );
    expect(await remote.queryDkey(at(99n), EPOCH_MAX, 'max')).toBeUndefined();
    expect(await remote.queryRecx(to, EPOCH_MAX, b('a'), b('y'), 'max')).toEqual(
      await engine.queryRecx(to, EPOCH_MAX, b('a'), b('y'), 'max'),
    );
    expect(await remote.queryRecx(to, EPOCH_MAX, b('a'), b('y'), 'min')).toEqual(
      await engine.queryRecx(to, EPOCH_MAX, b('a'), b('y'), 'min'),
    );
    expect(await remote.queryRecx(to, EPOCH_MAX, b('a'), b('nope'), 'max')).toBeUndefined();
  });

  it('commits transactions across targets and reports conflicts and conditions as the engine does', async () => {
    const t0 = at(3n, 0);
    const t1 = at(3n, 1);
    const readEpoch = await remote.update(t0, b('k'), [{ akey: b('v'), kind: 'single', value: b('0') }]);
    const epoch = await remote.txCommit(
      [
        { kind: 'update', to: t0, dkey: b('k'), iods: [{ akey: b('v'), kind: 'single', value: b('tx0') }] },
        {
          kind: 'update',
          to: t1,
          dkey: b('k'),
          iods: [
            { akey: b('w'), kind: 'array', recordSize: 1, extents: [{ idx: 0n, nr: 3n, data: b('tx1') }] },
          ],
        },
        { kind: 'punch_dkeys', to: t1, dkeys: [b('gone')] },
      ],
      { readEpoch, readSet: [{ to: t0, dkey: b('k'), akey: b('v') }] },
    );
    expect(epoch).toBeGreaterThan(readEpoch);
    expect(
      str((await remote.fetch(t0, EPOCH_MAX, b('k'), [{ akey: b('v'), kind: 'single' }]))[0] as Uint8Array),
    ).toBe('tx0');
    const [w] = await remote.fetch(t1, EPOCH_MAX, b('k'), [
      { akey: b('w'), kind: 'array', recordSize: 1, extents: [{ idx: 0n, nr: 3n }] },
    ]);
    expect(str((w as ArrayFetchResult).data)).toBe('tx1');
    // A read set that changed since readEpoch: DER_TX_RESTART, as from the engine.
    await expectCode(
      remote.txCommit([{ kind: 'punch_obj', to: t1 }], { readEpoch, readSet: [{ to: t0, dkey: b('k') }] }),
      'DER_TX_RESTART',
    );
    await expectCode(remote.txCommit([]), 'DER_INVAL');
    await expectCode(
      remote.update(t0, b('k'), [{ akey: b('v'), kind: 'single', value: b('x') }], 'dkey_insert'),
      'DER_EXIST',
    );
    await expectCode(
      remote.fetch(t0, EPOCH_MAX, b('nokey'), [{ akey: b('v'), kind: 'single' }], 'dkey_fetch'),
      'DER_NONEXIST',
    );
    await expectCode(remote.fetch({ ...t0, cont: 'other' }, EPOCH_MAX, b('k'), []), 'DER_NO_HDL');
  });

  it('answers malformed requests with DER_INVAL naming the field, and keeps serving', async () => {
    const to = { pool: POOL, cont: CONT, oid: { hi: 0n, lo: 4n }, target: { rank: 0, target: 0 } };
    const single = { akey: b('s'), kind: 'single', len: 3 };
    const bad: Array<[number, unknown, Uint8Array | undefined, string]> = [
      [OPC_OBJ_UPDATE, 42, undefined, 'header'],
      [OPC_OBJ_UPDATE, null, undefined, 'header'],
      [OPC_OBJ_UPDATE, { dkey: b('d'), iods: [] }, undefined, 'to'],
      [
        OPC_OBJ_UPDATE,
        { to: { ...to, oid: { hi: 1, lo: 4n } }, dkey: b('d'), iods: [] },
        undefined,
        'to.oid.hi',
      ],
      [
        OPC_OBJ_UPDATE,
        { to: { ...to, oid: { hi: -1n, lo: 4n } }, dkey: b('d'), iods: [] },
        undefined,
        'to.oid.hi',
      ],
      [
        OPC_OBJ_UPDATE,
        { to: { ...to, target: { rank: '0', target: 0 } }, dkey: b('d'), iods: [] },
        undefined,
        'to.target.rank',
      ],
      [OPC_OBJ_UPDATE, { to: { ...to, pool: 7 }, dkey: b('d'), iods: [] }, undefined, 'to.pool'],
      [OPC_OBJ_UPDATE, { to, dkey: 'd', iods: [] }, undefined, 'dkey'],
      [OPC_OBJ_UPDATE, { to, dkey: b('d'), iods: {} }, undefined, 'iods'],
      [OPC_OBJ_UPDATE, { to, dkey: b('d'), iods: [{ ...single, akey: 's' }] }, b('abc'), 'iods[0].akey'],
      [OPC_OBJ_UPDATE, { to, dkey: b('d'), iods: [{ ...single, kind: 'blob' }] }, b('abc'), 'iods[0].kind'],
      [OPC_OBJ_UPDATE, { to, dkey: b('d'), iods: [{ ...single, len: 1.5 }] }, b('abc'), 'iods[0].len'],
      [OPC_OBJ_UPDATE, { to, dkey: b('d'), iods: [single] }, b('ab'), 'iods[0].len'],
      [OPC_OBJ_UPDATE, { to, dkey: b('d'), iods: [single] }, b('abcd'), 'bulk'],
      [OPC_OBJ_UPDATE, { to, dkey: b('d'), iods: [single], cond: 'maybe' }, b('abc'), 'cond'],
      [
        OPC_OBJ_UPDATE,
        {
          to,
          dkey: b('d'),
          iods: [{ akey: b('a'), kind: 'array', recordSize: 1, extents: [{ idx: 0, nr: 3n, len: 3 }] }],
        },
        b('abc'),
        'iods[0].extents[0].idx',
      ],
      [
        OPC_OBJ_UPDATE,
        { to, dkey: b('d'), iods: [{ akey: b('a'), kind: 'array', recordSize: -1, extents: [] }] },
        undefined,
        'iods[0].recordSize',
      ],
      [OPC_OBJ_FETCH, { to, epoch: 5, dkey: b('d'), iods: [] }, undefined, 'epoch'],
      [
        OPC_OBJ_FETCH,
        {
          to,
          epoch: 5n,
          dkey: b('d'),
          iods: [{ akey: b('a'), kind: 'array', recordSize: 1, extents: [{ idx: 0n }] }],
        },
        undefined,
        'iods[0].extents[0].nr',
      ],
      [OPC_OBJ_FETCH, { to, epoch: 5n, dkey: b('d'), iods: [] }, b('stray'), 'bulk'],
    ];
    for (const [opcode, header, bulk, field] of bad) {
      const err = await expectCode(conn.request(opcode, header, bulk), 'DER_INVAL');
      expect(err.message, JSON.stringify(field)).toContain(field);
    }
    await expectCode(
      conn.request(OPC_ENGINE_POOL_CREATE, { pool: POOL, bytesPerTarget: 'lots' }),
      'DER_INVAL',
      'bytesPerTarget',
    );
    await expectCode(conn.request(0x0999, {}), 'DER_UNREG');
    // Still serving.
    expect((await conn.request(OPC_PING, { n: 1 })).header).toEqual({ n: 1 });
    const epoch = await remote.update(at(4n), b('d'), [{ akey: b('s'), kind: 'single', value: b('ok') }]);
    expect(
      str((await remote.fetch(at(4n), epoch, b('d'), [{ akey: b('s'), kind: 'single' }]))[0] as Uint8Array),
    ).toBe('ok');
  });
  // Found by test/engine-fuzz.test.ts: management calls naming a pool or container that is not
  // here succeeded, and contCreate re-bound a container to another pool (cutting it off from its
  // data), contDestroy with the wrong pool destroyed it.
  it('refuses container and pool calls that name a pool or container not here, and keeps the data', async () => {
    const other = 'pool-other';
    await remote.poolCreate(other, 1 << 30);
    const to = at(5n);
    await remote.update(to, b('d'), [{ akey: b('s'), kind: 'single', value: b('kept') }]);
    const read = async () =>
      str((await remote.fetch(to, EPOCH_MAX, b('d'), [{ akey: b('s'), kind: 'single' }]))[0] as Uint8Array);
    await expectCode(remote.contCreate('pool-nowhere', CONT), 'DER_NONEXIST', 'pool-nowhere');
    await expectCode(remote.contCreate(other, CONT), 'DER_EXIST', `belongs to pool ${POOL}`);
    await expectCode(remote.contDestroy(other, CONT), 'DER_NONEXIST');
    await expectCode(remote.contDestroy('pool-nowhere', CONT), 'DER_NONEXIST');
    await expectCode(remote.contDestroy(POOL, 'cont-nowhere'), 'DER_NONEXIST');
    await expectCode(remote.poolDestroy('pool-nowhere'), 'DER_NONEXIST');
    expect(await read()).toBe('kept');
    // Registering the same container in its own pool again is still a no-op.
    await remote.contCreate(POOL, CONT);
    expect(await read()).toBe('kept');
    await remote.contCreate(other, 'cont-other');
    await remote.contDestroy(other, 'cont-other');
    await remote.poolDestroy(other);
  });

  // Found by test/engine-fuzz.test.ts: an op naming an unregistered container was written when
  // an earlier op of the same transaction had the same target (only the first was checked).
  it('checks the pool and container of every op of a transaction before writing any', async () => {
    const to = at(6n, 0);
    const op = (cont: string) => ({
      kind: 'update' as const,
      to: { ...to, cont },
      dkey: b('d'),
      iods: [{ akey: b('s'), kind: 'single' as const, value: b(cont) }],
    });
    await expectCode(remote.txCommit([op(CONT), op('cont-nowhere')]), 'DER_NO_HDL', 'cont-nowhere');
    await expectCode(
      remote.txCommit([op(CONT)], { readEpoch: 1n, readSet: [{ to: { ...to, pool: 'p-x' }, dkey: b('d') }] }),
      'DER_NO_HDL',
    );
    expect(await remote.listDkeys(to, EPOCH_MAX, undefined, 10)).toEqual([]);
  });

  // Found by test/engine-fuzz.test.ts: a container id of thousands of characters reached the
  // store and failed there as DER_MISC (an LMDB key-size error).
  it('refuses empty or over-long pool and container ids with DER_INVAL', async () => {
    const long = 'c'.repeat(LABEL_BYTES_MAX + 1);
    await expectCode(remote.fetch({ ...at(7n), cont: long }, EPOCH_MAX, b('d'), []), 'DER_INVAL', 'to.cont');
    await expectCode(
      remote.listDkeys({ ...at(7n), pool: '' }, EPOCH_MAX, undefined, 1),
      'DER_INVAL',
      'to.pool',
    );
    await expectCode(remote.poolCreate(long, 1 << 30), 'DER_INVAL', 'pool');
    await expectCode(conn.request(OPC_ENGINE_CONT_CREATE, { pool: POOL, cont: '' }), 'DER_INVAL', 'cont');
  });

  // Found by test/engine-fuzz.test.ts: iods each under IO_BYTES_MAX but over it together made
  // the engine allocate and fill the whole reply (gigabytes) before failing to send it.
  it('refuses a fetch whose iods together ask for more than IO_BYTES_MAX', async () => {
    const to = at(8n);
    await remote.update(to, b('d'), [
      { akey: b('a'), kind: 'array', recordSize: 4, extents: [{ idx: 0n, nr: 1n, data: b('abcd') }] },
    ]);
    const half = { idx: 0n, nr: BigInt(IO_BYTES_MAX / 8 + 1) };
    await expectCode(
      remote.fetch(to, EPOCH_MAX, b('d'), [
        { akey: b('a'), kind: 'array', recordSize: 4, extents: [half] },
        { akey: b('a'), kind: 'array', recordSize: 4, extents: [half] },
      ]),
      'DER_REC2BIG',
      `limit is ${IO_BYTES_MAX}`,
    );
  });
});
