/**
 * Self-healing of the embedded-engines system (`DaosSystem.start({ engines: 6, transport: 'tcp' })`):
 * RP_2GX and EC_2P1GX objects (each survives one loss) hold REBUILD_TEST_MIB MiB (default 48;
 * `npm run test:rebuild` uses 1024). An engine is SIGKILLed → the system excludes its rank within
 * the detection bound → the rebuild finishes (pool query: rebuild done, targets DOWNOUT) → every
 * shard of every group is back, checked on its target → a second engine is SIGKILLed → every
 * value reads back byte-exact. Writes made while the rebuild runs read back after it. An extension
 * that gives EC shards new roles on targets that keep serving old ones (throttled, so that I/O
 * meets it): reads byte-exact throughout, writes kept, every shard right after it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  checkShards,
  dkeyOf,
  readBack,
  valueBytes,
  type WorkloadObject,
  waitFor,
  writeValue,
  writeWorkload,
} from '../bench/rebuild-workload.js';
import { parseServerConfig } from '../control/server/config.js';
import { ENGINE_HEARTBEAT_TIMEOUT_MS } from '../control/server/drpc.js';
import { DaosServer } from '../control/server/server.js';
import { Telemetry } from '../control/server/telemetry.js';
import { DaosClient } from '../core/daos/client.js';
import { ecShape } from '../core/ec/stripe-io.js';
import { objectLayout } from '../core/placement/layout.js';
import { SYSTEM_ENGINE_PING_MS, SYSTEM_ENGINE_PING_TIMEOUT_MS } from '../embedded/system.js';
import { DaosSystem } from '../index.js';

const MiB = 1024 * 1024;
const DATA_MIB = Number(process.env.REBUILD_TEST_MIB ?? 48);
/** Detection bound of the system (ping period + timeout), plus the time the map change takes. */
const DETECT_MS = SYSTEM_ENGINE_PING_MS + SYSTEM_ENGINE_PING_TIMEOUT_MS + 2000;
/** Per test: start-up, writes, checks and reads grow with the data. */
const TEST_MS = 180_000 + DATA_MIB * 3_000;
/**
 * A rebuild's wait: generous (1 GiB on a loaded 2-core machine takes minutes), but inside the
 * test's own bound, so that a rebuild that never ends fails naming its step, not as a bare timeout.
 */
const REBUILD_WAIT_MS = Math.min(30 * 60_000, TEST_MS / 2);

const dirs: string[] = [];
const systems: Array<{ stop(): Promise<void> }> = [];

afterEach(async () => {
  for (const s of systems.splice(0)) await s.stop().catch(() => undefined);
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'daos-rebuild-'));
  dirs.push(d);
  return d;
}

describe('self-healing of DaosSystem engine processes', () => {
  it(
    `excludes a SIGKILLed engine, rebuilds ${DATA_MIB} MiB to full redundancy, and survives a second loss`,
    async () => {
      const sys = await DaosSystem.start({
        dir: tempDir(),
        engines: 6,
        targetsPerEngine: 2,
        transport: 'tcp',
      });
      systems.push(sys);
      await sys.createPool({ label: 'tank', size: `${Math.max(4, Math.ceil((DATA_MIB * 8) / 1024))}G` });
      const client = await sys.connect();
      const pool = await client.connectPool('tank', { mode: 'rw' });
      await pool.createContainer({ label: 'c', props: { redunFactor: 1 } });
      const cont = await pool.openContainer('c');
      const objs = await writeWorkload(cont, {
        bytes: DATA_MIB * MiB,
        oclasses: ['RP_2GX', 'EC_2P1GX'],
        objectsPerClass: 2,
      });
      expect((await pool.query()).rebuild.state).toBe('idle');
      expect(await checkShards(pool, cont, objs)).toBeGreaterThan(0);
      // History the rebuild must keep: a snapshot, then values overwritten and punched after it.
      const snap = await cont.createSnapshot('before-loss');
      const changed = objs.filter((_, i) => i % 2 === 1);
      const overwritten = (o: WorkloadObject) => valueBytes(o.seed + 2000, 0);
      for (const o of changed) {
        await writeValue(o, 0, overwritten(o));
        if (o.values > 1) await o.obj.punchDkeys([dkeyOf(1)]);
      }

      // First loss: detected, excluded, rebuilt.
      const killedAt = Date.now();
      process.kill(sys.engines[2]!.pid, 'SIGKILL');
      await waitFor('rank 2 excluded', async () => (await pool.query()).disabledTargets === 2, DETECT_MS);
      expect(sys.failures).toEqual([expect.objectContaining({ rank: 2 })]);
      expect(sys.failures[0]!.detectedMs - killedAt).toBeLessThan(DETECT_MS);
      // I/O goes on while the rebuild runs; what is written then is kept.
      const during = objs.filter((_, i) => i % 2 === 0);
      const rewritten = (o: WorkloadObject, d: number) => valueBytes(o.seed + 1000, d);
      for (const o of during) await writeValue(o, 0, rewritten(o, 0));
      await waitFor(
        'rebuild done',
        async () => (await pool.query()).rebuild.state === 'done',
        REBUILD_WAIT_MS,
        250,
        () => sys.mgmt.rebuildReport('tank'),
      );
      const q = await pool.query();
      expect(q.rebuild.objects).toBeGreaterThan(0);
      expect(q.rebuild.bytes).toBeGreaterThan(0);
      const expected = (seed: number, d: number) => {
        const o = objs.find((x) => x.seed === seed)!;
        if (d === 0 && during.includes(o)) return rewritten(o, 0);
        if (d === 0 && changed.includes(o)) return overwritten(o);
        if (d === 1 && changed.includes(o)) return new Uint8Array(MiB); // punched: a hole
        return valueBytes(seed, d);
      };
      await pool.refreshMap();
      expect(pool.map.states.filter((s) => s === 'DOWNOUT')).toHaveLength(2);
      expect(await checkShards(pool, cont, objs, expected)).toBeGreaterThan(0);

      // Second loss: every value still reads back.
      process.kill(sys.engines[4]!.pid, 'SIGKILL');
      await waitFor('rank 4 excluded', async () => (await pool.query()).disabledTargets === 4, DETECT_MS);
      expect(await readBack(objs, expected)).toBe(objs.reduce((n, o) => n + o.values, 0) * MiB);
      // The snapshot still reads what was there before the overwrites and punches.
      expect(await readBack(objs, valueBytes, snap)).toBe(objs.reduce((n, o) => n + o.values, 0) * MiB);
    },
    TEST_MS,
  );
});

describe('operator actions: exclude, drain, reintegrate, extend', () => {
  it('refuses while a rebuild runs and past the redundancy factor; drains, reintegrates and extends 4 → 6 engines without losing data', async () => {
    const sys = await DaosSystem.start({ dir: tempDir(), engines: 4, targetsPerEngine: 2, transport: 'tcp' });
    systems.push(sys);
    await sys.createPool({ label: 'tank', size: '4G' });
    await sys.createPool({ label: 'small', size: '1G' });
    const client = await sys.connect();
    const pool = await client.connectPool('tank', { mode: 'rw' });
    await pool.createContainer({ label: 'c', props: { redunFactor: 1 } });
    const cont = await pool.openContainer('c');
    const objs = await writeWorkload(cont, {
      bytes: 16 * MiB,
      oclasses: ['RP_2GX', 'EC_2P1GX'],
      objectsPerClass: 2,
    });
    const done = () =>
      waitFor(
        'rebuild done',
        async () => (await pool.query()).rebuild.state === 'done',
        REBUILD_WAIT_MS,
        100,
        () => sys.mgmt.rebuildReport('tank'),
      );

    // DER_RF: a second rank with DOWN targets breaks a redundancy factor 1 container (no rebuild
    // in between: self_heal without `rebuild`), unless forced.
    await sys.mgmt.poolSetProps('small', { self_heal: 'exclude' });
    const small = await client.connectPool('small', { mode: 'rw' });
    await small.createContainer({ label: 'rf1', props: { redunFactor: 1 } });
    await sys.mgmt.poolExclude('small', 1);
    expect((await small.query()).rebuild.state).toBe('idle');
    await expect(sys.mgmt.poolExclude('small', 2)).rejects.toMatchObject({ code: 'DER_RF' });
    expect((await small.query()).disabledTargets).toBe(2);
    await sys.mgmt.poolExclude('small', 2, undefined, { force: true });
    expect((await small.query()).disabledTargets).toBe(4);
    // The forced exclusion passed the container's redundancy factor: UNCLEAN, refused at open
    // (DER_RF) until opened with force or set HEALTHY again (DAOS's status property).
    await expect(small.openContainer('rf1')).rejects.toMatchObject({ code: 'DER_RF', message: /UNCLEAN/ });
    const forced = await small.openContainer('rf1', { force: true });
    expect((await forced.query()).status).toBe('UNCLEAN');
    await forced.setProps({ status: 'HEALTHY' });
    await forced.close();
    expect((await (await small.openContainer('rf1')).query()).status).toBe('HEALTHY');

    // Drain rank 3: its shards move off while it still serves; DER_BUSY while that runs.
    await sys.mgmt.poolDrain('tank', 3);
    await expect(sys.mgmt.poolDrain('tank', 2)).rejects.toMatchObject({ code: 'DER_BUSY' });
    await expect(sys.mgmt.poolExclude('tank', 2)).rejects.toMatchObject({ code: 'DER_BUSY' });
    await done();
    await pool.refreshMap();
    expect(pool.map.states.filter((s) => s === 'DOWNOUT')).toHaveLength(2);
    expect(await checkShards(pool, cont, objs)).toBeGreaterThan(0);
    // Removed: the rank holds nothing the pool needs (stop its engine; everything reads back).
    await sys.mgmt.poolSetProps('tank', { self_heal: 'none' });
    process.kill(sys.engines[3]!.pid, 'SIGSTOP');
    try {
      expect(await readBack(objs)).toBe(objs.reduce((n, o) => n + o.values, 0) * MiB);
    } finally {
      process.kill(sys.engines[3]!.pid, 'SIGCONT');
    }

    // Reintegrate it: refilled from the others, then UPIN; data consistent shard by shard.
    await sys.mgmt.poolReintegrate('tank', 3);
    await done();
    await pool.refreshMap();
    expect(pool.map.states.every((s) => s === 'UPIN')).toBe(true);
    expect(await checkShards(pool, cont, objs)).toBeGreaterThan(0);

    // Extend 4 → 6 engines: rebalanced onto the new ranks, everything reads back.
    const ranks = await sys.addEngines(2);
    expect(ranks).toEqual([4, 5]);
    await sys.extendPool('tank', ranks);
    await done();
    await pool.refreshMap();
    expect(pool.map.targets).toHaveLength(12);
    expect(pool.map.states.every((s) => s === 'UPIN')).toBe(true);
    expect(await checkShards(pool, cont, objs)).toBeGreaterThan(0);
    expect(await readBack(objs)).toBe(objs.reduce((n, o) => n + o.values, 0) * MiB);
  });
});

describe('self-healing of a daos_server deployment', () => {
  /** daos_server.yml with `engines` engines of 2 targets on emulated (ram) storage. */
  const yaml = (dir: string, engines: number) =>
    `name: rebuild_sys\nport: 10001\ntransport_config:\n  allow_insecure: true\nsocket_dir: ${dir}/sock\nengines:\n${Array.from(
      { length: engines },
      (_, r) =>
        `  - targets: 2\n    storage:\n      - class: ram\n        scm_mount: ${dir}/ram${r}\n        scm_size: 1GiB\n`,
    ).join('')}`;

  it(
    `excludes a SIGKILLed engine (exit or missed heartbeats), rebuilds ${DATA_MIB} MiB, and survives a second loss`,
    async () => {
      const dir = tempDir();
      const config = parseServerConfig(yaml(dir, 6), 'daos_server.yml');
      const server = await DaosServer.start(config, { log: () => undefined });
      systems.push({ stop: () => server.shutdown() });
      await server.storageFormat();
      await server.poolCreate({ label: 'tank', size: `${Math.max(2, Math.ceil((DATA_MIB * 8) / 1024))}G` });
      const pool = await new DaosClient(server.link()).connectPool('tank', { mode: 'rw' });
      await pool.createContainer({ label: 'c', props: { redunFactor: 1 } });
      const cont = await pool.openContainer('c');
      const objs = await writeWorkload(cont, {
        bytes: DATA_MIB * MiB,
        oclasses: ['RP_2GX', 'EC_2P1GX'],
        objectsPerClass: 2,
      });
      const pidOf = async (rank: number) => (await server.systemQuery({ ranks: [rank] })).members[0]!.pid!;
      const detect = ENGINE_HEARTBEAT_TIMEOUT_MS + 2000;

      process.kill(await pidOf(1), 'SIGKILL');
      await waitFor('rank 1 excluded', async () => (await pool.query()).disabledTargets === 2, detect);
      await waitFor(
        'rebuild done',
        async () => (await pool.query()).rebuild.state === 'done',
        REBUILD_WAIT_MS,
        250,
        () => server.mgmt.rebuildReport('tank'),
      );
      expect((await server.poolQuery('tank')).rebuild).toMatchObject({ state: 'done' });
      // The rebuild in the server's metrics.
      const metrics = await new Telemetry(server, { processMetrics: false }).metrics();
      expect(metrics).toMatch(/daos_pool_rebuild_state\{pool="[^"]+",label="tank",state="done"\} 1/);
      expect(Number(/daos_pool_rebuild_bytes\{[^}]*label="tank"\} (\d+)/.exec(metrics)?.[1])).toBeGreaterThan(
        0,
      );
      await pool.refreshMap();
      expect(pool.map.states.filter((s) => s === 'DOWNOUT')).toHaveLength(2);
      expect(await checkShards(pool, cont, objs)).toBeGreaterThan(0);
      // The engine was restarted by supervision; its targets stay out until reintegrated.
      await waitFor(
        'rank 1 restarted',
        async () => (await server.systemQuery({ ranks: [1] })).members[0]!.state === 'Joined',
        30_000,
      );
      expect((await pool.query()).disabledTargets).toBe(2);

      process.kill(await pidOf(4), 'SIGKILL');
      await waitFor('rank 4 excluded', async () => (await pool.query()).disabledTargets === 4, detect);
      expect(await readBack(objs)).toBe(objs.reduce((n, o) => n + o.values, 0) * MiB);
    },
    TEST_MS,
  );
});

describe('an extension that gives EC shards new roles on their own targets', () => {
  it('reads stay byte-exact and writes are kept while the rebalance runs; every shard is right after it', async () => {
    // A slow rebuild (2 MiB/s per engine), so that reads and writes meet the rebalance mid-way.
    const throttle = process.env.DAOS_REBUILD_BYTES_PER_SEC;
    process.env.DAOS_REBUILD_BYTES_PER_SEC = String(2 * MiB);
    let sys: DaosSystem;
    try {
      sys = await DaosSystem.start({ dir: tempDir(), engines: 4, targetsPerEngine: 2, transport: 'tcp' });
      systems.push(sys);
    } finally {
      if (throttle === undefined) delete process.env.DAOS_REBUILD_BYTES_PER_SEC;
      else process.env.DAOS_REBUILD_BYTES_PER_SEC = throttle;
    }
    await sys.createPool({ label: 'tank', size: '4G' });
    const client = await sys.connect();
    const pool = await client.connectPool('tank', { mode: 'rw' });
    await pool.createContainer({ label: 'c', props: { redunFactor: 1 } });
    const cont = await pool.openContainer('c');
    const objs = await writeWorkload(cont, {
      bytes: 24 * MiB,
      oclasses: ['EC_2P1GX', 'RP_2GX'],
      objectsPerClass: 6,
    });

    await sys.extendPool('tank', await sys.addEngines(2));
    await pool.refreshMap();
    // The case under test exists: some target of an EC group is a member in one role now and in
    // another once the rebalance is done.
    let swaps = 0;
    for (const o of objs) {
      if (!ecShape(o.obj.oid)) continue;
      const data = objectLayout(o.obj.oid, pool.map, 'data');
      const goal = objectLayout(o.obj.oid, pool.map, 'goal');
      const n = data.groupSize;
      for (let g = 0; g < data.groups; g++) {
        const members = data.shards.slice(g * n, (g + 1) * n);
        goal.shards.slice(g * n, (g + 1) * n).forEach((t, j) => {
          if (members.some((m, i) => i !== j && m.rank === t.rank && m.target === t.target)) swaps++;
        });
      }
    }
    expect(swaps).toBeGreaterThan(0);

    // While it runs: every value reads back byte-exact, round after round, and values rewritten
    // then are what reads see (during and after).
    const rewritten = new Map<string, Uint8Array>();
    const expected = (seed: number, d: number) => rewritten.get(`${seed}/${d}`) ?? valueBytes(seed, d);
    let busyRounds = 0;
    for (let round = 0; (await pool.query()).rebuild.state === 'busy'; round++) {
      const o = objs[round % objs.length]!;
      const d = round % o.values;
      const value = valueBytes(o.seed + 1000 + round, d);
      await writeValue(o, d, value);
      rewritten.set(`${o.seed}/${d}`, value);
      await readBack(objs, expected);
      busyRounds++;
    }
    expect(busyRounds).toBeGreaterThan(0);
    await waitFor(
      'rebuild done',
      async () => (await pool.query()).rebuild.state === 'done',
      REBUILD_WAIT_MS,
      100,
      () => sys.mgmt.rebuildReport('tank'),
    );
    await pool.refreshMap();
    expect(pool.map.states.every((s) => s === 'UPIN')).toBe(true);
    expect(await checkShards(pool, cont, objs, expected)).toBeGreaterThan(0);
    expect(await readBack(objs, expected)).toBe(objs.reduce((n, o) => n + o.values, 0) * MiB);
  });
});
