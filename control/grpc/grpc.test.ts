import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DaosError } from '../../core/common/errors.js';
import type { ContInfo, PoolInfo, PoolQuery } from '../../core/daos/link.js';
import type { AttachInfo, ControlPlane, Progress, StorageTierInfo, SystemQuery } from '../plane.js';
import type { TransportConfig } from '../server/config.js';
import { connectManagement, type ManagementClient } from './client.js';
import { protoDir } from './proto-files.js';
import { RemoteMgmt } from './remote-mgmt.js';
import { type ControlServer, serveControl } from './server.js';
import { GrpcStatusError } from './status.js';
import { makeTestCa, type TestCa } from './test-ca.js';

// The wire layer under test: a ControlPlane that records its calls and answers canned values.

const SYSTEM: SystemQuery = {
  name: 'daos_server',
  members: [
    { rank: 0, state: 'Joined', address: 'tcp://127.0.0.1:10010', pid: 4242, restarts: 0 },
    { rank: 1, state: 'AdminExcluded', restarts: 3, info: 'excluded by dmg — ünïcode' },
  ],
};
const TIERS: StorageTierInfo[] = [
  {
    rank: 0,
    class: 'ram',
    mount: '/mnt/daos0',
    totalBytes: 2 ** 40,
    freeBytes: 2 ** 53 - 1,
    formatted: true,
  },
  { rank: 1, class: 'file', mount: '/mnt/daos1', totalBytes: 0, freeBytes: 0, formatted: false },
];
const POOL: PoolInfo = {
  uuid: '3f6f7c2e-0d6b-4c1e-9a2b-7f1e2d3c4b5a',
  label: 'tank',
  totalBytes: 2 ** 53 - 1,
  map: {
    version: 7,
    targets: [
      { rank: 0, target: 0 },
      { rank: 0, target: 1 },
      { rank: 1, target: 0 },
    ],
    states: ['UPIN', 'DOWN', 'DRAIN'],
    ecCellBytes: 65536,
  },
  createdMs: 1_767_225_600_123,
};
const POOL2: PoolInfo = {
  ...POOL,
  label: 'other',
  map: { version: 1, targets: [], states: [] },
  totalBytes: 0,
};
const QUERY: PoolQuery = {
  uuid: POOL.uuid,
  label: 'tank',
  totalBytes: 2 ** 53 - 1,
  freeBytes: 12345678901234,
  targets: 16,
  disabledTargets: 2,
  mapVersion: 9,
  rebuild: { state: 'busy', objects: 10, bytes: 2 ** 33 },
};
const CONT: ContInfo = {
  uuid: '9b8a7c6d-1111-4222-8333-444455556666',
  label: 'c1',
  pool: POOL.uuid,
  type: 'POSIX',
  props: { redunFactor: 2, checksum: 'crc32c', chunkSize: 1048576 },
  createdMs: 1_767_225_600_456,
  snapshots: [
    { epoch: (1n << 63n) + 5n, name: 'snap-a' },
    { epoch: 18446744073709551615n, name: '' },
  ],
};
const ATTACH: AttachInfo = {
  system: 'daos_server',
  engines: [
    { rank: 0, address: 'tcp://127.0.0.1:10010' },
    { rank: 1, address: 'tcp://127.0.0.1:10011' },
  ],
  mgmt: '127.0.0.1:10001',
};
const PROGRESS: Progress[] = [
  { done: 0, total: 2, what: 'rank 0' },
  { done: 2, total: 2, what: 'rank 1' },
  { done: 0.5, total: 2 ** 53 - 1, what: 'bytes' },
];
const RESULTS: Record<keyof ControlPlane, unknown> = {
  systemQuery: SYSTEM,
  systemStop: SYSTEM,
  systemStart: SYSTEM,
  systemExclude: SYSTEM,
  storageScan: TIERS,
  storageFormat: TIERS,
  poolCreate: POOL,
  poolDestroy: undefined,
  poolList: [POOL, POOL2],
  poolQuery: QUERY,
  poolGetProp: { label: 'tank', ec_cell_sz: '65536', self_heal: 'exclude;rebuild' },
  poolSetProp: undefined,
  poolGetAcl: { owner: 'alice@', group: 'staff@', entries: ['A::OWNER@:rw', 'A:G:GROUP@:r'] },
  poolOverwriteAcl: ['A::OWNER@:rw'],
  poolUpdateAcl: ['A::OWNER@:rw', 'A::bob@:r'],
  poolDeleteAcl: [],
  poolExclude: QUERY,
  poolDrain: { ...QUERY, rebuild: { state: 'idle', objects: 0, bytes: 0 } },
  poolReintegrate: { ...QUERY, rebuild: { state: 'done', objects: 1, bytes: 1 } },
  poolExtend: { ...QUERY, rebuild: { state: 'busy', objects: 2, bytes: 3 } },
  contSetOwner: CONT,
  attachInfo: ATTACH,
};

interface Call {
  method: string;
  args: unknown[];
}

/** A ControlPlane that records calls, reports PROGRESS to onProgress, and returns RESULTS. */
function recordingPlane(): { plane: ControlPlane; calls: Call[]; fail: Map<string, unknown> } {
  const calls: Call[] = [];
  const fail = new Map<string, unknown>();
  const plane = new Proxy({} as ControlPlane, {
    get:
      (_target, method: string) =>
      async (...args: unknown[]) => {
        const last = args.at(-1) as { onProgress?: (p: Progress) => void } | undefined;
        const recorded = args.map((a) =>
          a !== null && typeof a === 'object' && 'onProgress' in a ? { ...a, onProgress: 'fn' } : a,
        );
        calls.push({ method, args: recorded });
        if (fail.has(method)) throw fail.get(method);
        if (typeof last?.onProgress === 'function') for (const p of PROGRESS) last.onProgress(p);
        return RESULTS[method as keyof ControlPlane];
      },
  });
  return { plane, calls, fail };
}

const INSECURE: TransportConfig = { allow_insecure: true };

describe('gRPC control plane, insecure transport', () => {
  let server: ControlServer;
  let client: ManagementClient;
  const { plane, calls, fail } = recordingPlane();

  beforeAll(async () => {
    server = await serveControl(plane, { address: '127.0.0.1:0', transport: INSECURE });
    client = connectManagement({ address: `127.0.0.1:${server.port}`, transport: INSECURE });
  });
  afterAll(async () => {
    client.close();
    await server.close();
  });

  /** Call `method` through the client; expect the plane to see `seen` and the caller to get RESULTS. */
  async function roundTrip<M extends keyof ControlPlane>(
    method: M,
    args: Parameters<ControlPlane[M]>,
    seen: unknown[],
  ): Promise<void> {
    calls.length = 0;
    const call = client[method] as (...a: unknown[]) => Promise<unknown>;
    const result = await call.apply(client, args);
    expect(calls).toStrictEqual([{ method, args: seen }]);
    expect(result).toStrictEqual(RESULTS[method]);
  }

  it('serves on the port it reports', () => {
    expect(server.port).toBeGreaterThan(0);
  });

  it('system: query, exclude; lists absent, empty and full stay so', async () => {
    await roundTrip('systemQuery', [], [{}]);
    await roundTrip('systemQuery', [{ ranks: [] }], [{ ranks: [] }]);
    await roundTrip('systemQuery', [{ ranks: [0, 2, 4294967295] }], [{ ranks: [0, 2, 4294967295] }]);
    await roundTrip('systemExclude', [[3, 4]], [[3, 4]]);
  });

  it('system stop / start and storage format stream their progress, then the result', async () => {
    const seen: Progress[] = [];
    const onProgress = (p: Progress) => seen.push(p);
    await roundTrip(
      'systemStop',
      [{ ranks: [1], force: true, onProgress }],
      [{ ranks: [1], force: true, onProgress: 'fn' }],
    );
    expect(seen).toStrictEqual(PROGRESS);
    await roundTrip('systemStop', [], [{ onProgress: 'fn' }]);
    await roundTrip('systemStart', [{ ranks: [], onProgress }], [{ ranks: [], onProgress: 'fn' }]);
    await roundTrip('storageFormat', [{ force: false, onProgress }], [{ force: false, onProgress: 'fn' }]);
    expect(seen).toStrictEqual([...PROGRESS, ...PROGRESS, ...PROGRESS]);
    await roundTrip('storageScan', [], []);
  });

  it('a progress callback that throws fails the call, not the process', async () => {
    const onProgress = () => {
      throw new RangeError('bar full');
    };
    await expect(client.storageFormat({ onProgress })).rejects.toMatchObject({
      code: 'DER_MISC',
      message: expect.stringContaining('StorageSvc.Format onProgress: RangeError: bar full'),
    });
  });

  it('pool create: numeric and text sizes, every optional field present or absent', async () => {
    await roundTrip(
      'poolCreate',
      [{ label: 'tank', size: 2 ** 53 - 1 }],
      [{ label: 'tank', size: 2 ** 53 - 1 }],
    );
    const full = {
      label: 'tank',
      size: '4G',
      uuid: POOL.uuid,
      ranks: [],
      properties: { ec_cell_sz: '1MiB', self_heal: 'exclude' },
      acl: ['A::OWNER@:rw', 'A:G:GROUP@:r'],
      owner: 'alice@',
      group: 'staff@',
    };
    await roundTrip('poolCreate', [full], [full]);
    await roundTrip(
      'poolCreate',
      [{ label: 't', size: 0, properties: {}, acl: [] }],
      [{ label: 't', size: 0, properties: {}, acl: [] }],
    );
  });

  it('pools: destroy, list, query, props and ACLs', async () => {
    await roundTrip('poolDestroy', ['tank'], ['tank', {}]);
    await roundTrip(
      'poolDestroy',
      ['tank', { force: true, recursive: false }],
      ['tank', { force: true, recursive: false }],
    );
    await roundTrip('poolList', [], []);
    await roundTrip('poolQuery', [POOL.uuid], [POOL.uuid]);
    await roundTrip('poolGetProp', ['tank'], ['tank', undefined]);
    await roundTrip('poolGetProp', ['tank', ['label', 'ec_cell_sz']], ['tank', ['label', 'ec_cell_sz']]);
    await roundTrip(
      'poolSetProp',
      ['tank', { label: 'new', reclaim: 'lazy' }],
      ['tank', { label: 'new', reclaim: 'lazy' }],
    );
    await roundTrip('poolGetAcl', ['tank'], ['tank']);
    await roundTrip('poolOverwriteAcl', ['tank', ['A::OWNER@:rw']], ['tank', ['A::OWNER@:rw']]);
    await roundTrip('poolUpdateAcl', ['tank', ['A::bob@:r']], ['tank', ['A::bob@:r']]);
    await roundTrip('poolDeleteAcl', ['tank', 'u:bob@'], ['tank', 'u:bob@']);
  });

  it('pools: exclude, drain, reintegrate with and without targets', async () => {
    await roundTrip('poolExclude', ['tank', 1, [0, 3]], ['tank', 1, [0, 3], { force: false }]);
    await roundTrip(
      'poolExclude',
      ['tank', 1, undefined, { force: true }],
      ['tank', 1, undefined, { force: true }],
    );
    await roundTrip('poolExtend', ['tank', [4, 5]], ['tank', [4, 5]]);
    await roundTrip('poolDrain', ['tank', 0], ['tank', 0, undefined]);
    await roundTrip('poolReintegrate', ['tank', 2, []], ['tank', 2, []]);
  });

  it('containers and attach info: epochs cross as exact bigints', async () => {
    await roundTrip('contSetOwner', ['tank', 'c1', { user: 'bob@' }], ['tank', 'c1', { user: 'bob@' }]);
    await roundTrip(
      'contSetOwner',
      ['tank', 'c1', { user: 'bob@', group: 'g@' }],
      ['tank', 'c1', { user: 'bob@', group: 'g@' }],
    );
    await roundTrip('attachInfo', [], []);
  });

  it('a DaosError thrown by the plane arrives with the same code and message', async () => {
    fail.set('poolQuery', new DaosError('DER_NONEXIST', 'pool "tänk" — not found'));
    const err = await client.poolQuery('tänk').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DaosError);
    expect(err).not.toBeInstanceOf(GrpcStatusError);
    expect((err as DaosError).code).toBe('DER_NONEXIST');
    expect((err as DaosError).message).toBe('DER_NONEXIST(-1005): pool "tänk" — not found');

    fail.set('systemStop', new DaosError('DER_BUSY', 'rank 1 is stopping'));
    await expect(client.systemStop({ onProgress: () => {} })).rejects.toMatchObject({
      code: 'DER_BUSY',
      message: 'DER_BUSY(-1012): rank 1 is stopping',
    });
    fail.set('poolDestroy', new DaosError('DER_NOTSUPPORTED', 'x'));
    await expect(client.poolDestroy('tank')).rejects.toMatchObject({ code: 'DER_NOTSUPPORTED' });
  });

  it('any other error is INTERNAL (DER_MISC, grpcCode 13)', async () => {
    fail.set('attachInfo', new TypeError('boom'));
    const err = (await client.attachInfo().catch((e: unknown) => e)) as GrpcStatusError;
    expect(err).toBeInstanceOf(GrpcStatusError);
    expect(err.code).toBe('DER_MISC');
    expect(err.grpcCode).toBe(13);
    expect(err.message).toContain('gRPC 13 INTERNAL: TypeError: boom');
  });

  it('values that do not fit the wire are refused before sending', async () => {
    await expect(client.poolCreate({ label: 'x', size: 2 ** 53 })).rejects.toMatchObject({
      code: 'DER_INVAL',
    });
    await expect(client.poolExclude('x', -1)).rejects.toMatchObject({ code: 'DER_INVAL' });
    await expect(client.systemQuery({ ranks: [1.5] })).rejects.toMatchObject({ code: 'DER_INVAL' });
  });

  it('a server that is not there is UNAVAILABLE (14)', async () => {
    const dead = connectManagement({ address: '127.0.0.1:1', transport: INSECURE });
    await expect(dead.attachInfo()).rejects.toMatchObject({ grpcCode: 14, code: 'DER_UNREACH' });
    dead.close();
  });
});

describe('gRPC control plane, mutual TLS', () => {
  let dir: string;
  let ca: TestCa;
  let otherCa: TestCa;
  let server: ControlServer;
  let address: string;
  const opened: ManagementClient[] = [];

  const tls = (c: TestCa, who: 'admin' | 'agent' | 'server'): TransportConfig => ({
    allow_insecure: false,
    ca_cert: c.caCert,
    cert: c.certs[who].cert,
    key: c.certs[who].key,
  });
  const connect = (transport: TransportConfig) => {
    const client = connectManagement({ address, transport, timeoutMs: 10_000 });
    opened.push(client);
    return client;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'daos-grpc-'));
    ca = makeTestCa(join(dir, 'ca'));
    otherCa = makeTestCa(join(dir, 'other'), 'Other CA');
    server = await serveControl(recordingPlane().plane, {
      address: '127.0.0.1:0',
      transport: tls(ca, 'server'),
    });
    address = `127.0.0.1:${server.port}`;
  });
  afterAll(async () => {
    for (const c of opened) c.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('an admin certificate from the CA may call everything', async () => {
    const admin = connect(tls(ca, 'admin'));
    expect(await admin.attachInfo()).toStrictEqual(ATTACH);
    expect(await admin.poolQuery('tank')).toStrictEqual(QUERY);
  });

  it('localhost works as well as 127.0.0.1 (SAN)', async () => {
    const c = connectManagement({ address: `localhost:${server.port}`, transport: tls(ca, 'admin') });
    opened.push(c);
    expect(await c.poolList()).toStrictEqual([POOL, POOL2]);
  });

  it('an agent certificate may ask for attach info only', async () => {
    const agent = connect(tls(ca, 'agent'));
    expect(await agent.attachInfo()).toStrictEqual(ATTACH);
    await expect(agent.poolDestroy('tank')).rejects.toMatchObject({
      code: 'DER_NO_PERM',
      message: expect.stringContaining("component 'agent' may not call PoolSvc.Destroy"),
    });
  });

  it('an agent certificate may call ClientSvc (served or not)', async () => {
    const mgmt = new RemoteMgmt({ address, transport: tls(ca, 'agent'), timeoutMs: 10_000 });
    try {
      await expect(mgmt.poolQuery('tank')).rejects.toMatchObject({
        code: 'DER_NOTSUPPORTED',
        message: expect.stringContaining('ClientSvc.PoolQuery: this server serves no client API'),
      });
    } finally {
      mgmt.close();
    }
  });

  it('a client with no certificate is refused: UNAVAILABLE (14)', async () => {
    const anonymous = connect({ allow_insecure: false, ca_cert: ca.caCert });
    const err = (await anonymous.attachInfo().catch((e: unknown) => e)) as GrpcStatusError;
    expect(err).toBeInstanceOf(GrpcStatusError);
    expect(err.grpcCode).toBe(14);
    expect(err.message).toContain('gRPC 14 UNAVAILABLE');
  });

  it('a client certificate from another CA is refused: UNAVAILABLE (14)', async () => {
    const stranger = connect({ ...tls(otherCa, 'admin'), ca_cert: ca.caCert });
    await expect(stranger.attachInfo()).rejects.toMatchObject({ grpcCode: 14, code: 'DER_UNREACH' });
  });

  it('a client that does not trust the server CA, or speaks plaintext, gets nowhere (14)', async () => {
    await expect(connect(tls(otherCa, 'admin')).attachInfo()).rejects.toMatchObject({ grpcCode: 14 });
    await expect(connect(INSECURE).attachInfo()).rejects.toMatchObject({ grpcCode: 14 });
  });

  it('without allow_insecure the server needs ca_cert, cert and key', async () => {
    await expect(
      serveControl(recordingPlane().plane, { address: '127.0.0.1:0', transport: { allow_insecure: false } }),
    ).rejects.toMatchObject({ code: 'DER_INVAL' });
  });
});

describe('proto files', () => {
  it('are found from the sources and from dist/', () => {
    const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
    expect(protoDir()).toBe(join(root, 'control', 'proto'));
    const built = join(root, 'dist', 'control', 'grpc', 'proto-files.js');
    if (!existsSync(built)) return; // DAOS_SKIP_BUILD=1 without a build
    const fromDist = execFileSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { protoDir } from ${JSON.stringify(built)}; console.log(protoDir());`,
      ],
      { encoding: 'utf8' },
    ).trim();
    expect(fromDist).toBe(join(root, 'control', 'proto'));
  });
});
