/**
 * A multi-process deployment on one machine, as the README's "Running daos_server" steps do it:
 * `daos_server start -o daos_server.yml` as a process, then `dmg` (another process) over gRPC:
 * storage format, system query, pool create, an engine SIGKILLed and restarted by the server
 * (seen in `dmg system query --json`), `dmg system stop`, and the server stopped with SIGTERM.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, oidParse, oidToString } from '../index.js';
import { parsePrometheusText, total } from './prom-text.js';

const root = join(import.meta.dirname, '..');
const run = promisify(execFile);
const children: ChildProcess[] = [];
const dirs: string[] = [];

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A TCP port nobody listens on now. */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

interface Member {
  rank: number;
  state: string;
  pid?: number;
  restarts: number;
  info?: string;
}

describe('daos_server deployment, driven by dmg', () => {
  it('formats, creates a pool and a container, does I/O through the agent, restarts a killed engine, stops and restarts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'daos-deploy-'));
    dirs.push(dir);
    const port = await freePort();
    const telemetryPort = await freePort();
    const config = join(dir, 'daos_server.yml');
    writeFileSync(
      config,
      `name: deploy_test
port: ${port}
telemetry_port: ${telemetryPort}
transport_config:
  allow_insecure: true
socket_dir: ${dir}/sock
engines:
  - targets: 2
    storage:
      - class: ram
        scm_mount: ${dir}/ram0
        scm_size: 128MiB
  - targets: 2
    storage:
      - class: ram
        scm_mount: ${dir}/ram1
        scm_size: 128MiB
`,
    );
    // Step 1: the server.
    const startServer = async () => {
      // ACLs enforced for the credentials of the agent started below (its key file appears then).
      const agentKey = join(dir, 'agent', 'daos_agent.pub.pem');
      const args = [join(root, 'dist/bin/daos_server.js'), 'start', '-o', config, '--agent-key', agentKey];
      const proc = spawn(process.execPath, args, {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(proc);
      const out = {
        proc,
        log: '',
        exited: new Promise<number | null>((r) => proc.on('exit', (code) => r(code))),
      };
      proc.stderr!.on('data', (d: Buffer) => {
        out.log += d.toString();
      });
      await until(
        () => /control API on port \d+/.test(out.log),
        20_000,
        () => out.log,
      );
      return out;
    };
    let server = await startServer();

    // Step 2: dmg, another process, over gRPC.
    const dmg = async (...args: string[]) => {
      const { stdout } = await run(
        process.execPath,
        [join(root, 'dist/bin/dmg.js'), '-l', `127.0.0.1:${port}`, '-i', '--json', ...args],
        { timeout: 60_000 },
      );
      const out = JSON.parse(stdout) as { response: unknown; error: unknown; status: number };
      expect(out.error, `dmg ${args.join(' ')}`).toBeNull();
      return out.response;
    };
    const members = async () => ((await dmg('system', 'query')) as { members: Member[] }).members;

    expect((await members()).map((m) => m.state)).toEqual(['AwaitFormat', 'AwaitFormat']);
    await dmg('storage', 'format');
    const joined = await members();
    expect(joined.map((m) => m.state)).toEqual(['Joined', 'Joined']);
    for (const m of joined) expect(() => process.kill(m.pid!, 0)).not.toThrow();

    const pool = (await dmg('pool', 'create', 'tank', '--size', '128M')) as { uuid: string; label: string };
    expect(pool.label).toBe('tank');
    const { pools } = (await dmg('pool', 'list')) as { pools: Array<{ label: string; uuid: string }> };
    expect(pools.map((p) => [p.label, p.uuid])).toEqual([['tank', pool.uuid]]);

    // Step 3: a daos_agent on this node, `daos` and libdaos through it.
    writeFileSync(
      join(dir, 'daos_agent.yml'),
      `name: deploy_test
access_points: ["127.0.0.1:${port}"]
port: ${port}
transport_config:
  allow_insecure: true
runtime_dir: ${dir}/agent
cache_expiry: 0
`,
    );
    const agent = spawn(
      process.execPath,
      [join(root, 'dist/bin/daos_agent.js'), '-o', join(dir, 'daos_agent.yml')],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    children.push(agent);
    const agentSocket = await new Promise<string>((resolve, reject) => {
      let out = '';
      agent.once('exit', (code) => reject(new Error(`daos_agent exited ${code}`)));
      agent.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /daos_agent listening unix:\/\/(\S+) pid \d+/.exec(out);
        if (m) resolve(m[1]!);
      });
    });
    const { stdout: created } = await run(
      process.execPath,
      [
        join(root, 'dist/bin/daos.js'),
        '--agent-socket',
        agentSocket,
        '--json',
        'container',
        'create',
        'tank',
        'c1',
        '--type',
        'POSIX',
        // Redundancy factor 1: the container survives the engine loss below (with 0 it would be
        // UNCLEAN once self-healing excludes the rank, and refuse to open).
        '--properties',
        'rd_fac:1',
      ],
      { timeout: 60_000 },
    );
    expect((JSON.parse(created) as { error: unknown }).error).toBeNull();
    const writeAndCheck = async (write: boolean) => {
      const client = await connect({ agentSocket });
      try {
        const cont = await (await client.connectPool('tank')).openContainer('c1');
        const stored = write ? undefined : await cont.getAttr('kv');
        let oidText = stored ? Buffer.from(stored).toString() : undefined;
        if (write) {
          const oid = await cont.newOid({ type: 'kv', oclass: 'RP_2G1' });
          oidText = oidToString(oid);
          await cont.setAttrs({ kv: oidText });
          const kv = cont.kv(oid);
          for (let i = 0; i < 20; i++) await kv.put(`key-${i}`, `value-${i}`);
        }
        const kv = cont.kv(oidParse(oidText!));
        for (let i = 0; i < 20; i++)
          expect(Buffer.from((await kv.get(`key-${i}`))!).toString()).toBe(`value-${i}`);
      } finally {
        await client.close();
      }
    };
    await writeAndCheck(true);

    // Step 4: an engine dies; the server notices and restarts it.
    const victim = joined[1]!;
    process.kill(victim.pid!, 'SIGKILL');
    const seen = new Set<string>();
    await until(
      async () => {
        const m = (await members())[1]!;
        seen.add(m.state);
        if (m.state === 'Joined' && m.pid !== victim.pid && m.restarts === 1) {
          // The change shows in dmg's JSON: the restart, and what ended the old process.
          expect(m.info).toMatch(/^restart 1 after: /);
          return true;
        }
        return false;
      },
      30_000,
      () => `states seen: ${[...seen].join(', ')}`,
    );
    // The data is still there (a new client: the restarted engine listens on a new port).
    await writeAndCheck(false);
    // Self-healing excluded the dead rank's targets (pool self_heal exclude;rebuild); a restarted
    // engine's targets stay out until the operator reintegrates them, which refills them.
    type Q = { targets: number; disabledTargets: number; rebuild: { state: string } };
    const query = async () => (await dmg('pool', 'query', 'tank')) as Q;
    await until(
      async () => (await query()).rebuild.state === 'done',
      60_000,
      () => 'rebuild after the kill',
    );
    expect((await query()).disabledTargets).toBe(2);
    await dmg('pool', 'reintegrate', 'tank', '--rank', '1');
    await until(
      async () => {
        const r = await query();
        return r.rebuild.state === 'done' && r.disabledTargets === 0;
      },
      60_000,
      () => 'reintegration',
    );
    await writeAndCheck(false);
    // The pool is still there and queryable through the restarted engine.
    const q = await query();
    expect(q.targets).toBe(4);
    expect(q.disabledTargets).toBe(0);

    // Telemetry: the restart and both ranks Joined, in Prometheus text.
    expect(server.log).toMatch(new RegExp(`telemetry on port ${telemetryPort}`));
    const metrics = parsePrometheusText(
      await (await fetch(`http://127.0.0.1:${telemetryPort}/metrics`)).text(),
    );
    expect(total(metrics, 'daos_engine_restarts_total', { rank: '1' })).toBe(1);
    expect(total(metrics, 'daos_rank_state', { state: 'Joined' })).toBe(2);

    // Step 5: stop the system, then the server.
    const stopped = (await dmg('system', 'stop')) as { members: Member[] };
    expect(stopped.members.map((m) => m.state)).toEqual(['Stopped', 'Stopped']);
    for (const m of joined) if (m.pid !== victim.pid) expect(() => process.kill(m.pid!, 0)).toThrow();
    server.proc.kill('SIGTERM');
    expect(await server.exited).toBe(0);

    // Step 6: start the whole system again on the same storage: the data is there.
    server = await startServer();
    await until(
      async () => (await members()).every((m) => m.state === 'Joined'),
      30_000,
      () => server.log,
    );
    await writeAndCheck(false);
    await dmg('system', 'stop');
    server.proc.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    agent.kill('SIGTERM');
  });
});

async function until(
  cond: () => boolean | Promise<boolean>,
  timeoutMs: number,
  why: () => string,
): Promise<void> {
  const start = Date.now();
  while (!(await cond())) {
    if (Date.now() - start > timeoutMs) throw new Error(`not reached in ${timeoutMs} ms: ${why()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
