/**
 * daos_server in-process (DaosServer) with its engines as real daos_engine child processes:
 * storage scan and format, engines joining, I/O through a client, an engine SIGKILLed and
 * restarted by supervision with its data intact, system stop and start, and a whole-server
 * restart on the same folders.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseServerConfig } from '../control/server/config.js';
import { DaosServer, type DaosServerOptions } from '../control/server/server.js';
import {
  engineStorage,
  formatTiers,
  readSuperblocks,
  SUPERBLOCK_FILE,
  scanTier,
} from '../control/server/storage.js';
import { DaosClient } from '../core/daos/client.js';
import type { Container } from '../core/daos/container.js';

const dirs: string[] = [];
const servers: DaosServer[] = [];

afterEach(async () => {
  for (const s of servers.splice(0)) await s.shutdown().catch(() => undefined);
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function yamlFor(dir: string, engines = 2): string {
  return `name: test_sys
port: 10001
transport_config:
  allow_insecure: true
socket_dir: ${dir}/sock
engines:
  - targets: 2
    storage:
      - class: ram
        scm_mount: ${dir}/ram0
        scm_size: 64MiB
${
  engines > 1
    ? `  - targets: 2
    storage:
      - class: ram
        scm_mount: ${dir}/ram1
        scm_size: 64MiB
`
    : ''
}`;
}

async function start(dir: string, options: DaosServerOptions = {}, engines = 2): Promise<DaosServer> {
  const config = parseServerConfig(yamlFor(dir, engines), 'daos_server.yml');
  const log: string[] = [];
  const server = await DaosServer.start(config, { log: (l) => log.push(l), ...options });
  servers.push(server);
  return server;
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const KEYS = 40;

async function openCont(server: DaosServer): Promise<Container> {
  const pool = await new DaosClient(server.link()).connectPool('p');
  return pool.openContainer('c');
}

describe('daos_server', () => {
  it('formats storage, supervises engines (SIGKILL → restart), stops, starts, and restarts on the same folders', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dsrv-'));
    dirs.push(dir);
    let server = await start(dir);

    // Unformatted: every rank waits for a format, no engine runs.
    let scan = await server.storageScan();
    expect(scan.map((t) => [t.rank, t.class, t.formatted])).toEqual([
      [0, 'ram', false],
      [1, 'ram', false],
    ]);
    expect(scan[0]!.totalBytes).toBe(64 * 1024 * 1024);
    expect((await server.systemQuery()).members.map((m) => m.state)).toEqual(['AwaitFormat', 'AwaitFormat']);
    await expect(server.poolList()).rejects.toMatchObject({ code: 'DER_UNINIT' });

    scan = await server.storageFormat();
    expect(scan.every((t) => t.formatted)).toBe(true);
    await expect(server.storageFormat()).rejects.toMatchObject({ code: 'DER_BUSY' });
    let q = await server.systemQuery();
    expect(q.name).toBe('test_sys');
    expect(q.members.map((m) => m.state)).toEqual(['Joined', 'Joined']);
    const pids = q.members.map((m) => m.pid!);
    for (const pid of pids) {
      expect(pid).not.toBe(process.pid);
      expect(alive(pid)).toBe(true);
    }
    expect((await server.attachInfo()).engines.map((e) => e.rank)).toEqual([0, 1]);

    // A pool and a container, and data on both ranks.
    // No self-healing: this test is about supervision; a restarted rank serves its data again.
    await server.poolCreate({ label: 'p', size: '64M', properties: { self_heal: 'none' } });
    expect((await server.poolList()).map((p) => p.label)).toEqual(['p']);
    const pool = await new DaosClient(server.link()).connectPool('p');
    await pool.createContainer({ label: 'c' });
    let cont = await pool.openContainer('c');
    const oid = await cont.newOid({ oclass: 'SX' });
    for (let i = 0; i < KEYS; i++) await cont.kv(oid).put(`k${i}`, `v${i}`);
    const readAll = async (c: Container) => {
      const out: string[] = [];
      for (let i = 0; i < KEYS; i++) out.push(Buffer.from((await c.kv(oid).get(`k${i}`))!).toString());
      return out;
    };
    const expected = Array.from({ length: KEYS }, (_, i) => `v${i}`);
    expect(await readAll(cont)).toEqual(expected);
    expect((await server.poolGetAcl('p')).entries).toEqual(['A::OWNER@:rw', 'A:G:GROUP@:rw']);

    // SIGKILL rank 1: seen, restarted with a new pid, back to Joined, data still there.
    const killedAt = Date.now();
    process.kill(pids[1]!, 'SIGKILL');
    const seen = await waitFor('rank 1 errored', async () => {
      const m = (await server.systemQuery({ ranks: [1] })).members[0]!;
      return m.state === 'Errored' || m.state === 'Unresponsive' || m.restarts > 0 ? m : undefined;
    });
    expect(seen.info).toMatch(/exited with signal SIGKILL/);
    const back = await waitFor('rank 1 rejoined', async () => {
      const m = (await server.systemQuery({ ranks: [1] })).members[0]!;
      return m.state === 'Joined' && m.pid !== pids[1] ? m : undefined;
    });
    expect(Date.now() - killedAt).toBeLessThan(10_000);
    expect(back.restarts).toBe(1);
    expect(back.info).toBe('restart 1 after: exited with signal SIGKILL');
    expect(alive(back.pid!)).toBe(true);
    expect(await readAll(cont)).toEqual(expected);

    // systemStop: both engines exit 0; systemStart brings them back with the data.
    q = await server.systemStop();
    expect(q.members.map((m) => m.state)).toEqual(['Stopped', 'Stopped']);
    expect(q.members.map((m) => m.info)).toEqual(['exited with code 0', 'exited with code 0']);
    expect(q.members.every((m) => m.pid === undefined)).toBe(true);
    await expect(cont.kv(oid).get('k0')).rejects.toMatchObject({ code: 'DER_UNREACH' });
    q = await server.systemStart();
    expect(q.members.map((m) => m.state)).toEqual(['Joined', 'Joined']);
    cont = await openCont(server);
    expect(await readAll(cont)).toEqual(expected);

    // The whole server again on the same folders: formatted, pools and data found.
    await server.shutdown();
    servers.splice(servers.indexOf(server), 1);
    server = await start(dir);
    expect((await server.storageScan()).every((t) => t.formatted)).toBe(true);
    expect((await server.systemQuery()).members.map((m) => m.state)).toEqual(['Joined', 'Joined']);
    expect((await server.poolList()).map((p) => p.label)).toEqual(['p']);
    await expect(server.storageFormat()).rejects.toMatchObject({ code: 'DER_BUSY' });
    cont = await openCont(server);
    expect(await readAll(cont)).toEqual(expected);
  });
});

describe('daos_server storage', () => {
  it('scans, formats once (unless force), keeps ranks in superblocks; class file capacity', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dsto-'));
    dirs.push(dir);
    const config = parseServerConfig(
      `transport_config:\n  allow_insecure: true\nengines:\n` +
        `  - targets: 1\n    storage:\n      - class: file\n        scm_mount: ${dir}/f0\n` +
        `  - targets: 1\n    storage:\n      - class: file\n        scm_mount: ${dir}/f1\n        scm_size: 32MiB\n`,
      'daos_server.yml',
    );
    const tiers = engineStorage(config);
    const before = await Promise.all(tiers.map(scanTier));
    expect(before.map((t) => t.formatted)).toEqual([false, false]);
    expect(before[0]!.totalBytes).toBeGreaterThan(0); // the file system's free space
    expect(before[1]!.totalBytes).toBe(32 * 1024 * 1024);
    expect(readSuperblocks(config.name, tiers)).toBeUndefined();
    const sbs = formatTiers(config.name, tiers, false);
    expect(sbs.map((sb) => sb.rank)).toEqual([0, 1]);
    expect(readSuperblocks(config.name, tiers)!.map((sb) => sb.uuid)).toEqual(sbs.map((sb) => sb.uuid));
    expect(() => formatTiers(config.name, tiers, false)).toThrow(/already formatted/);
    expect(() => readSuperblocks('other', tiers)).toThrow(/formatted for system/);
    writeFileSync(join(dir, 'f0', 'target-0'), 'old data');
    writeFileSync(join(dir, 'f0', 'keep.txt'), 'not ours');
    const again = formatTiers(config.name, tiers, true);
    expect(again[0]!.uuid).not.toBe(sbs[0]!.uuid);
    expect(existsSync(join(dir, 'f0', 'target-0'))).toBe(false);
    expect(existsSync(join(dir, 'f0', 'keep.txt'))).toBe(true);
    rmSync(join(dir, 'f1', SUPERBLOCK_FILE));
    expect(() => readSuperblocks(config.name, tiers)).toThrow(/partly formatted/);
  });
});

describe('daos_server supervision', () => {
  it('a stopped (SIGSTOP) engine misses heartbeats: Unresponsive, killed, restarted', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dsrv-'));
    dirs.push(dir);
    const server = await start(dir, { heartbeatTimeoutMs: 1500 }, 1);
    await server.storageFormat();
    const pid = (await server.systemQuery()).members[0]!.pid!;
    process.kill(pid, 'SIGSTOP');
    const seen = await waitFor('rank 0 unresponsive', async () => {
      const m = (await server.systemQuery()).members[0]!;
      return m.state === 'Unresponsive' ? m : undefined;
    });
    expect(seen.info).toMatch(/no heartbeat/);
    const back = await waitFor('rank 0 rejoined', async () => {
      const m = (await server.systemQuery()).members[0]!;
      return m.state === 'Joined' && m.pid !== pid ? m : undefined;
    });
    expect(back.restarts).toBe(1);
    expect(alive(pid)).toBe(false);
  });

  it('a stall of the server itself (its event loop blocked past the heartbeat timeout) kills no engine', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dsrv-'));
    dirs.push(dir);
    const server = await start(dir, { heartbeatTimeoutMs: 1500 }, 1);
    await server.storageFormat();
    const pid = (await server.systemQuery()).members[0]!.pid!;
    await new Promise((r) => setTimeout(r, 1000));
    // What a loaded machine, a long GC or a long synchronous call does to the server's process.
    for (const end = Date.now() + 2500; Date.now() < end; );
    await new Promise((r) => setTimeout(r, 2000));
    const m = (await server.systemQuery()).members[0]!;
    expect(m).toMatchObject({ state: 'Joined', pid, restarts: 0 });
    expect(alive(pid)).toBe(true);
    // A stopped engine is still caught (the stall only does not count against it).
    process.kill(pid, 'SIGSTOP');
    const seen = await waitFor('rank 0 unresponsive', async () => {
      const x = (await server.systemQuery()).members[0]!;
      return x.state === 'Unresponsive' || x.pid !== pid ? x : undefined;
    });
    expect(seen.info).toMatch(/no heartbeat/);
  });

  it('a rank that keeps dying stays Errored after restartsMax; systemStart revives it; exclude', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dsrv-'));
    dirs.push(dir);
    const server = await start(dir, { restartsMax: 1, restartBackoffMsMin: 50 });
    await server.storageFormat();
    await server.poolCreate({ label: 'p', size: '64M' });
    let pid = (await server.systemQuery({ ranks: [1] })).members[0]!.pid!;
    process.kill(pid, 'SIGKILL');
    const back = await waitFor('rank 1 restarted', async () => {
      const m = (await server.systemQuery({ ranks: [1] })).members[0]!;
      return m.state === 'Joined' && m.pid !== pid ? m : undefined;
    });
    pid = back.pid!;
    process.kill(pid, 'SIGKILL');
    const dead = await waitFor('rank 1 given up', async () => {
      const m = (await server.systemQuery({ ranks: [1] })).members[0]!;
      return m.info?.includes('not restarting') ? m : undefined;
    });
    expect(dead.state).toBe('Errored');
    expect(dead.restarts).toBe(1);
    await new Promise((r) => setTimeout(r, 300));
    expect((await server.systemQuery({ ranks: [1] })).members[0]!.state).toBe('Errored');
    expect((await server.attachInfo()).engines.map((e) => e.rank)).toEqual([0]);

    const q = await server.systemStart();
    expect(q.members.map((m) => m.state)).toEqual(['Joined', 'Joined']);

    const ex = await server.systemExclude([1]);
    expect(ex.members[0]!.state).toBe('AdminExcluded');
    expect(ex.members[0]!.pid).toBeUndefined();
    expect((await server.poolQuery('p')).disabledTargets).toBe(2);
    // Not restarted by supervision, and not by a system start that does not name it.
    expect((await server.systemStart()).members.map((m) => m.state)).toEqual(['Joined', 'AdminExcluded']);
  });
});
