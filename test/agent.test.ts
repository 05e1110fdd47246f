/**
 * daos_agent and connect({ agentSocket }): the SO_PEERCRED addon; a DaosServer in this process
 * serving gRPC (ControlPlane + ClientSvc); the built daos_agent as a child process pointed at it;
 * a client connected through the agent creating containers and doing object I/O; credentials
 * carrying the kernel's uid/gid/pid of the caller (never the request's) and verifying with the
 * agent's public key.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_KEY_FILE, AGENT_PUBLIC_KEY_FILE } from '../agent/agent.js';
import { peerCred, socketPeerCred } from '../agent/peer-cred.js';
import { userIdentity } from '../agent/user-db.js';
import { connectManagement, type ManagementClient } from '../control/grpc/client.js';
import { RemoteMgmt } from '../control/grpc/remote-mgmt.js';
import { type ControlServer, serveControl } from '../control/grpc/server.js';
import { signCredential, verifyCredential } from '../control/security/credential.js';
import { generateKeyPair, importPublicKeyPem } from '../control/security/signed-envelope.js';
import { parseServerConfig } from '../control/server/config.js';
import { DaosServer } from '../control/server/server.js';
import {
  agentAttachInfo,
  agentCredential,
  agentPools,
  OPC_AGENT_GET_CREDENTIAL,
} from '../core/daos/agent-link.js';
import { unixTransport } from '../core/wire/unix.js';
import { connect, DaosError } from '../index.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const agentBin = join(root, 'dist', 'bin', 'daos_agent.js');

describe('SO_PEERCRED addon', () => {
  it('peerCred of an accepted Unix connection is this process (pid, uid, gid)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'peercred-'));
    const path = join(dir, 's.sock');
    try {
      const got = await new Promise<unknown>((resolve, reject) => {
        const server = net.createServer((socket) => {
          try {
            resolve(socketPeerCred(socket));
          } catch (err) {
            reject(err);
          }
          socket.destroy();
          server.close();
        });
        server.listen(path, () => net.connect(path).on('error', () => undefined));
      });
      expect(got).toEqual({ pid: process.pid, uid: process.getuid!(), gid: process.getgid!() });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fails with the errno name on a descriptor that is not a socket', () => {
    const fd = openSync(fileURLToPath(import.meta.url), 'r');
    try {
      expect(() => peerCred(fd)).toThrow(expect.objectContaining({ code: 'ENOTSOCK' }));
    } finally {
      closeSync(fd);
    }
    expect(() => peerCred(987654)).toThrow(expect.objectContaining({ code: 'EBADF' }));
  });
});

describe('user database', () => {
  it('names the user and its groups from passwd and group files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'userdb-'));
    try {
      writeFileSync(join(dir, 'passwd'), 'root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/a:/bin/sh\n');
      writeFileSync(
        join(dir, 'group'),
        '# comment\nalice:x:1000:\nwheel:x:10:bob,alice\nstaff:x:50:bob\nsci:x:60:alice\n',
      );
      const files = { passwd: join(dir, 'passwd'), group: join(dir, 'group') };
      expect(userIdentity(1000, 1000, files)).toEqual({
        user: 'alice',
        gids: [1000, 10, 60],
        groups: ['alice', 'wheel', 'sci'],
      });
      expect(userIdentity(4242, 77, files)).toEqual({ user: '4242', gids: [77], groups: ['77'] });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

describe('daos_agent with a running daos_server', () => {
  let dir: string;
  let server: DaosServer;
  let grpc: ControlServer;
  let dmg: ManagementClient;
  let agent: ChildProcess;
  let socket: string;
  let runtimeDir: string;
  let port: number;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'daos-agent-'));
    port = await freePort();
    const config = parseServerConfig(
      `name: agent_sys
port: ${port}
mgmt_svc_replicas: ["127.0.0.1:${port}"]
transport_config:
  allow_insecure: true
socket_dir: ${dir}/sock
engines:
  - targets: 2
    storage:
      - class: ram
        scm_mount: ${dir}/ram0
        scm_size: 64MiB
  - targets: 2
    storage:
      - class: ram
        scm_mount: ${dir}/ram1
        scm_size: 64MiB
`,
      'daos_server.yml',
    );
    runtimeDir = join(dir, 'agent');
    // ACLs enforced for the agent's credentials (its public key appears once it starts).
    server = await DaosServer.start(config, {
      log: () => undefined,
      agentKeyFiles: [join(runtimeDir, AGENT_PUBLIC_KEY_FILE)],
    });
    await server.storageFormat();
    grpc = await serveControl(server, {
      address: `127.0.0.1:${port}`,
      transport: { allow_insecure: true },
      client: () => server.mgmt,
    });
    dmg = connectManagement({ address: `127.0.0.1:${port}`, transport: { allow_insecure: true } });
    writeFileSync(
      join(dir, 'daos_agent.yml'),
      `name: agent_sys
access_points: ["127.0.0.1:${port}"]
port: ${port}
transport_config:
  allow_insecure: true
runtime_dir: ${runtimeDir}
cache_expiry: 1
`,
    );
    agent = spawn(process.execPath, [agentBin, '-o', join(dir, 'daos_agent.yml')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    agent.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    socket = await new Promise<string>((resolve, reject) => {
      let out = '';
      agent.once('exit', (code) => reject(new Error(`daos_agent exited ${code}: ${stderr}`)));
      agent.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /daos_agent listening unix:\/\/(\S+) pid \d+/.exec(out);
        if (m) resolve(m[1]!);
      });
    });
  }, 60_000);

  afterAll(async () => {
    agent?.kill('SIGTERM');
    dmg?.close();
    await grpc?.close();
    await server?.shutdown();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('a client connected through the agent creates containers and reads back what it wrote', async () => {
    await dmg.poolCreate({ label: 'tank', size: '32M' });
    const client = await connect({ agentSocket: socket });
    try {
      expect(client.credential).toMatch(/^dc1\./);
      const pool = await client.connectPool('tank');
      expect((await pool.query()).targets).toBe(4);
      await pool.createContainer({ label: 'c1', props: { checksum: 'crc32c' } });
      const names: string[] = [];
      for await (const c of pool.listContainers()) names.push(c.label);
      expect(names).toEqual(['c1']);
      const cont = await pool.openContainer('c1');
      const oid = await cont.newOid({ oclass: 'RP_2G1' });
      const obj = cont.object(oid);
      const big = new Uint8Array(300_000).map((_, i) => i % 251);
      await obj.update('d', [
        { akey: 'a', kind: 'single', value: 'hello' },
        { akey: 'b', kind: 'array', recordSize: 1, extents: [{ idx: 0, nr: big.length, data: big }] },
      ]);
      const [a, b] = await obj.fetch('d', [
        { akey: 'a', kind: 'single' },
        { akey: 'b', kind: 'array', recordSize: 1, extents: [{ idx: 0, nr: big.length }] },
      ]);
      expect(Buffer.from(a as Uint8Array).toString()).toBe('hello');
      expect(Buffer.from((b as { data: Uint8Array }).data).equals(Buffer.from(big))).toBe(true);
      const kv = cont.kv(await cont.newOid({ type: 'kv', oclass: 'S1' }));
      await kv.put('k', 'v');
      expect(Buffer.from((await kv.get('k'))!).toString()).toBe('v');
      const epoch = await cont.createSnapshot('s1');
      const snaps: bigint[] = [];
      for await (const s of cont.listSnapshots()) snaps.push(s.epoch);
      expect(snaps).toEqual([epoch]);
      await cont.close();
      // The service's DaosErrors cross gRPC with their code.
      await expect(pool.openContainer('nope')).rejects.toMatchObject({ code: 'DER_NONEXIST' });
      await expect(pool.createContainer({ label: 'c1' })).rejects.toMatchObject({ code: 'DER_EXIST' });
      await pool.disconnect();
      await expect(client.connectPool('missing')).rejects.toBeInstanceOf(DaosError);
    } finally {
      await client.close();
    }
  }, 60_000);

  it('every MgmtApi method crosses ClientSvc exactly', async () => {
    const client = await connect({ agentSocket: socket });
    try {
      const mgmt = client.link.mgmt;
      const pool = await mgmt.poolConnect('tank');
      const c = await mgmt.contCreate(pool.uuid, {
        label: 'm1',
        type: 'HDF5',
        props: { redunFactor: 1, chunkSize: 65536, oclass: 'RP_2G1' },
      });
      expect(c).toMatchObject({ label: 'm1', type: 'HDF5', props: { redunFactor: 1, chunkSize: 65536 } });
      expect(c.owner).toMatch(/@$/);
      expect(await mgmt.contLookup(pool.uuid, 'm1')).toEqual(c);
      const renamed = await mgmt.contSetProps(pool.uuid, c.uuid, { label: 'm2' });
      expect(renamed.label).toBe('m2');
      await mgmt.contSetAttrs(pool.uuid, c.uuid, { a: Buffer.from('1'), b: new Uint8Array([0, 255]) });
      await mgmt.contDelAttrs(pool.uuid, c.uuid, ['a']);
      const attrs = await mgmt.contGetAttrs(pool.uuid, c.uuid);
      expect(Object.keys(attrs)).toEqual(['b']);
      expect([...attrs.b!]).toEqual([0, 255]);
      const first = await mgmt.contAllocOids(pool.uuid, c.uuid, 256);
      expect(await mgmt.contAllocOids(pool.uuid, c.uuid, 1)).toBe(first + 256n);
      const epoch = await mgmt.snapCreate(pool.uuid, c.uuid, 'snap');
      expect(typeof epoch).toBe('bigint');
      await mgmt.snapDestroy(pool.uuid, c.uuid, epoch);
      expect((await mgmt.contLookup(pool.uuid, c.uuid)).snapshots).toEqual([]);
      const acl = await mgmt.contUpdateAcl!(pool.uuid, c.uuid, ['A::EVERYONE@:r']);
      expect(acl).toContain('A::EVERYONE@:r');
      expect((await mgmt.contGetAcl!(pool.uuid, c.uuid)).entries).toEqual(acl);
      await expect(mgmt.contUpdateAcl!(pool.uuid, c.uuid, 'A::EVERYONE@:z')).rejects.toMatchObject({
        code: 'DER_INVAL',
      });
      expect(await mgmt.contAggregate(pool.uuid, c.uuid)).toMatchObject({
        recordsRemoved: expect.any(Number),
      });
      await mgmt.contDestroy(pool.uuid, c.uuid, false);
      await expect(mgmt.contLookup(pool.uuid, c.uuid)).rejects.toMatchObject({ code: 'DER_NONEXIST' });
      expect((await mgmt.poolQuery(pool.uuid)).uuid).toBe(pool.uuid);
    } finally {
      await client.close();
    }
  }, 30_000);

  it('ClientSvc enforces ACLs with the credential the agent signed; none or a forged one is refused', async () => {
    const address = `127.0.0.1:${port}`;
    const anonymous = new RemoteMgmt({ address, transport: { allow_insecure: true } });
    const forged = new RemoteMgmt({
      address,
      transport: { allow_insecure: true },
      credential: signCredential(generateKeyPair().privateKey, {
        uid: 0,
        gid: 0,
        gids: [0],
        pid: process.pid,
        user: 'root',
        groups: ['root'],
        machine: 'x',
        issuedMs: Date.now(),
      }),
    });
    const client = await connect({ agentSocket: socket });
    try {
      await expect(anonymous.poolConnect('tank')).rejects.toMatchObject({ code: 'DER_NO_PERM' });
      await expect(forged.poolConnect('tank')).rejects.toMatchObject({
        code: 'DER_NO_PERM',
        message: expect.stringMatching(/signed by another key/),
      });
      // The agent's credential names this process's user: the owner of what dmg created here.
      const pool = await client.connectPool('tank');
      expect(pool.token).toMatch(/^dt1\./);
      await dmg.poolOverwriteAcl('tank', ['A::nobody-else@:rw']);
      await expect(client.connectPool('tank')).rejects.toMatchObject({ code: 'DER_NO_PERM' });
      await expect(client.link.mgmt.contList(pool.uuid)).rejects.toMatchObject({ code: 'DER_NO_PERM' });
    } finally {
      await dmg.poolOverwriteAcl('tank', ['A::OWNER@:rw', 'A:G:GROUP@:rw']);
      anonymous.close();
      forged.close();
      await client.close();
    }
  });

  it('attach info and the pool list come from the server through the agent', async () => {
    const info = await agentAttachInfo(socket);
    expect(info.system).toBe('agent_sys');
    expect(info.engines.map((e) => e.rank)).toEqual([0, 1]);
    expect(info.transport).toEqual({ allow_insecure: true });
    await dmg.poolCreate({ label: 'second', size: '16M' });
    // cache_expiry is 1 s: the new pool shows up once the cached list expires.
    const deadline = Date.now() + 5_000;
    let labels: string[] = [];
    while (Date.now() < deadline) {
      labels = (await agentPools(socket)).map((p) => p.label).sort();
      if (labels.includes('second')) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(labels).toEqual(['second', 'tank']);
  }, 30_000);

  it("the credential is this process's kernel identity, signed with the agent's key", async () => {
    const pub = importPublicKeyPem(readFileSync(join(runtimeDir, AGENT_PUBLIC_KEY_FILE), 'utf8'));
    expect(statSync(join(runtimeDir, AGENT_KEY_FILE)).mode & 0o777).toBe(0o600);
    const claims = verifyCredential(pub, await agentCredential(socket));
    expect(claims.uid).toBe(process.getuid!());
    expect(claims.gid).toBe(process.getgid!());
    expect(claims.pid).toBe(process.pid);
    expect(claims.user).toBe(userInfo().username);
    expect(claims.gids[0]).toBe(process.getgid!());
    expect(claims.groups.length).toBe(claims.gids.length);
    expect(Math.abs(claims.issuedMs - Date.now())).toBeLessThan(10_000);
  });

  it('a request claiming another identity gets its own; another process gets its pid', async () => {
    const pub = importPublicKeyPem(readFileSync(join(runtimeDir, AGENT_PUBLIC_KEY_FILE), 'utf8'));
    const conn = await unixTransport.connect(`unix://${socket}`);
    try {
      const reply = await conn.request(OPC_AGENT_GET_CREDENTIAL, {
        uid: 12345,
        gid: 12345,
        pid: 1,
        user: 'mallory',
      });
      const claims = verifyCredential(pub, (reply.header as { credential: string }).credential);
      expect(claims).toMatchObject({ uid: process.getuid!(), gid: process.getgid!(), pid: process.pid });
      expect(claims.user).not.toBe('mallory');
    } finally {
      await conn.close();
    }
    const linkUrl = new URL('../dist/core/daos/agent-link.js', import.meta.url).href;
    const script = `const { agentCredential } = await import(${JSON.stringify(linkUrl)});
process.stdout.write(JSON.stringify({ pid: process.pid, cred: await agentCredential(${JSON.stringify(socket)}) }));`;
    const out = JSON.parse(
      execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }),
    ) as { pid: number; cred: string };
    expect(out.pid).not.toBe(process.pid);
    expect(verifyCredential(pub, out.cred).pid).toBe(out.pid);
  }, 30_000);
});
