import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EngineRebuildStatus } from '../../core/daos/link.js';
import type { PoolMap } from '../../core/placement/pool-map.js';
import { LmdbMetadataStore } from './metadata-store.js';
import { type EngineControl, MgmtService } from './mgmt-service.js';

/**
 * The management service's owners, ACLs, pool properties and target states, over a real LMDB
 * store. Engines are the EngineControl boundary: each records the pool maps it is sent.
 */

class RecordingEngine implements EngineControl {
  readonly maps: Array<{ pool: string; map: PoolMap }> = [];
  readonly conts: string[] = [];
  constructor(
    readonly rank: number,
    readonly targetCount: number,
  ) {}
  poolCreate(): void {}
  poolMapUpdate(pool: string, map: PoolMap): void {
    this.maps.push({ pool, map });
  }
  poolDestroy(): void {}
  contCreate(_pool: string, cont: string): void {
    this.conts.push(cont);
  }
  async contDestroy(): Promise<void> {}
  poolUsedBytes(): number {
    return 0;
  }
  async aggregate(): Promise<{ recordsRemoved: number; bytesFreed: number }> {
    return { recordsRemoved: 0, bytesFreed: 0 };
  }
}

let dir: string;
let store: LmdbMetadataStore;
let engines: RecordingEngine[];
let mgmt: MgmtService;
const GiB = 1 << 30;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'mgmt-'));
  store = LmdbMetadataStore.open(dir);
  engines = [new RecordingEngine(0, 2), new RecordingEngine(1, 2)];
  let t = 0n;
  mgmt = new MgmtService(
    store,
    engines,
    () => ++t,
    () => ({ user: 'alice@', group: 'staff@' }),
  );
});

afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('MgmtService pool ownership and ACLs', () => {
  it('gives a new pool the caller as owner and the default ACL, and keeps them across a reopen', async () => {
    const info = await mgmt.poolCreate({ label: 'tank', totalBytes: GiB });
    expect(info).toMatchObject({ owner: 'alice@', group: 'staff@' });
    expect(await mgmt.poolGetAcl('tank')).toEqual({
      owner: 'alice@',
      group: 'staff@',
      entries: ['A::OWNER@:rw', 'A:G:GROUP@:rw'],
    });
    await store.close();
    store = LmdbMetadataStore.open(dir);
    const again = new MgmtService(store, engines, () => 1n);
    expect((await again.poolGetAcl('tank')).owner).toBe('alice@');
  });

  it('takes owner, group and ACL at create; refuses a bad entry', async () => {
    await mgmt.poolCreate({
      label: 'p',
      totalBytes: GiB,
      owner: 'bob',
      group: 'dev@',
      acl: ['A::EVERYONE@:r'],
    });
    expect(await mgmt.poolGetAcl('p')).toEqual({ owner: 'bob@', group: 'dev@', entries: ['A::EVERYONE@:r'] });
    await expect(mgmt.poolCreate({ label: 'q', totalBytes: GiB, acl: ['A::bob@:x'] })).rejects.toMatchObject({
      code: 'DER_INVAL',
    });
    await expect(mgmt.poolGetAcl('q')).rejects.toMatchObject({ code: 'DER_NONEXIST' });
  });

  it('updates, overwrites and deletes entries; a bad entry changes nothing', async () => {
    await mgmt.poolCreate({ label: 'tank', totalBytes: GiB });
    expect(await mgmt.poolUpdateAcl('tank', ['A::bob@:r', 'A:G:dev@:rw'])).toEqual([
      'A::OWNER@:rw',
      'A::bob@:r',
      'A:G:GROUP@:rw',
      'A:G:dev@:rw',
    ]);
    expect(await mgmt.poolUpdateAcl('tank', ['A::bob@:rw'])).toContain('A::bob@:rw');
    await expect(mgmt.poolUpdateAcl('tank', ['A::carol@:r', 'A:Q:x@:r'])).rejects.toMatchObject({
      code: 'DER_INVAL',
    });
    expect((await mgmt.poolGetAcl('tank')).entries).not.toContain('A::carol@:r');
    expect(await mgmt.poolDeleteAcl('tank', 'u:bob@')).not.toContain('A::bob@:rw');
    await expect(mgmt.poolDeleteAcl('tank', 'u:bob@')).rejects.toMatchObject({ code: 'DER_NONEXIST' });
    expect(await mgmt.poolOverwriteAcl('tank', 'A::OWNER@:rw\n# comment\nA::EVERYONE@:r\n')).toEqual([
      'A::OWNER@:rw',
      'A::EVERYONE@:r',
    ]);
  });
});

describe('MgmtService pool properties', () => {
  it('reports defaults, sets known ones, renames by label, refuses unknown and create-only names', async () => {
    await mgmt.poolCreate({ label: 'tank', totalBytes: GiB, props: { ec_cell_sz: '64k', reclaim: 'time' } });
    expect(await mgmt.poolGetProps('tank')).toEqual({
      label: 'tank',
      ec_cell_sz: '65536',
      self_heal: 'exclude;rebuild',
      reclaim: 'time',
      space_rb: '0',
      rd_fac: '0',
    });
    await mgmt.poolSetProps('tank', { space_rb: '10', self_heal: 'exclude', label: 'tank2' });
    expect(await mgmt.poolGetProps('tank2', ['space_rb', 'self_heal', 'label'])).toEqual({
      space_rb: '10',
      self_heal: 'exclude',
      label: 'tank2',
    });
    await expect(mgmt.poolGetProps('tank', [])).rejects.toMatchObject({ code: 'DER_NONEXIST' });
    await expect(mgmt.poolSetProps('tank2', { ec_cell_sz: '1M' })).rejects.toMatchObject({
      code: 'DER_INVAL',
    });
    await expect(mgmt.poolSetProps('tank2', { nope: '1' })).rejects.toMatchObject({ code: 'DER_INVAL' });
    await expect(mgmt.poolSetProps('tank2', { space_rb: '10', reclaim: 'sometimes' })).rejects.toMatchObject({
      code: 'DER_INVAL',
    });
    await expect(mgmt.poolGetProps('tank2', ['nope'])).rejects.toMatchObject({ code: 'DER_INVAL' });
    expect((await mgmt.poolGetProps('tank2', ['reclaim'])).reclaim).toBe('time');
  });
});

describe('MgmtService target states', () => {
  it('excludes, drains and reintegrates targets with a new map version pushed to the engines', async () => {
    await mgmt.poolCreate({ label: 'tank', totalBytes: GiB });
    expect(await mgmt.poolExclude('tank', 1, [0])).toEqual({ mapVersion: 2 });
    expect((await mgmt.poolQuery('tank')).disabledTargets).toBe(1);
    expect(engines[0]!.maps.at(-1)!.map.states).toEqual(['UPIN', 'UPIN', 'DOWN', 'UPIN']);
    expect(engines[1]!.maps.at(-1)!.map.version).toBe(2);
    // Already DOWN: no new version.
    expect(await mgmt.poolExclude('tank', 1, [0])).toEqual({ mapVersion: 2 });
    expect(await mgmt.poolDrain('tank', 0)).toEqual({ mapVersion: 3 });
    expect(engines[1]!.maps.at(-1)!.map.states).toEqual(['DRAIN', 'DRAIN', 'DOWN', 'UPIN']);
    await mgmt.contCreate((await mgmt.poolConnect('tank')).uuid, { label: 'c1' });
    expect(await mgmt.poolReintegrate('tank', 1)).toEqual({ mapVersion: 4 });
    expect(engines[0]!.maps.at(-1)!.map.states).toEqual(['DRAIN', 'DRAIN', 'UPIN', 'UPIN']);
    await expect(mgmt.poolExclude('tank', 7)).rejects.toMatchObject({ code: 'DER_NONEXIST' });
    await expect(mgmt.poolExclude('tank', 0, [5])).rejects.toMatchObject({ code: 'DER_NONEXIST' });
    await expect(mgmt.poolExclude('nope', 0)).rejects.toMatchObject({ code: 'DER_NONEXIST' });
  });

  it('system exclude marks the rank DOWN everywhere, remembers it, and skips pushing to it', async () => {
    await mgmt.poolCreate({ label: 'a', totalBytes: GiB });
    await mgmt.poolCreate({ label: 'b', totalBytes: GiB });
    await mgmt.systemExclude([1]);
    expect(mgmt.excludedRanks()).toEqual([1]);
    for (const p of ['a', 'b']) expect((await mgmt.poolQuery(p)).disabledTargets).toBe(2);
    expect(engines[1]!.maps).toEqual([]);
    expect(engines[0]!.maps.map((m) => m.map.version)).toEqual([2, 2]);
    await expect(mgmt.systemExclude([9])).rejects.toMatchObject({ code: 'DER_NONEXIST' });
  });
});

describe('MgmtService container owners and ACLs', () => {
  it('keeps the default container ACL, updates it, and changes the owner', async () => {
    const pool = await mgmt.poolCreate({ label: 'tank', totalBytes: GiB });
    const c = await mgmt.contCreate(pool.uuid, { label: 'c1' });
    expect(c).toMatchObject({ owner: 'alice@', group: 'staff@' });
    expect((await mgmt.contGetAcl(pool.uuid, 'c1')).entries).toEqual([
      'A::OWNER@:rwdtTaAo',
      'A:G:GROUP@:rwtT',
    ]);
    expect(await mgmt.contUpdateAcl(pool.uuid, 'c1', ['A::bob@:rw'])).toContain('A::bob@:rw');
    await expect(mgmt.contUpdateAcl(pool.uuid, 'c1', ['A::bob@:c'])).rejects.toMatchObject({
      code: 'DER_INVAL',
    });
    const moved = await mgmt.contSetOwner('tank', 'c1', { user: 'bob', group: 'dev@' });
    expect(moved).toMatchObject({ owner: 'bob@', group: 'dev@' });
    expect(await mgmt.contGetAcl(pool.uuid, 'c1')).toMatchObject({ owner: 'bob@', group: 'dev@' });
    await expect(mgmt.contSetOwner('tank', 'c1', {})).rejects.toMatchObject({ code: 'DER_INVAL' });
    await expect(mgmt.contSetOwner('tank', 'c1', { user: 'a:b' })).rejects.toMatchObject({
      code: 'DER_INVAL',
    });
  });
});

/**
 * An engine that rebuilds at once: done for the version it was last started with. Its status
 * answer can be held (`hold`) to widen the poll's window, as a loaded machine does.
 */
class RebuildingEngine extends RecordingEngine {
  started = 0;
  version = 0;
  gate: Promise<void> | undefined;
  rebuildStart(_pool: string, version: number): void {
    this.started++;
    this.version = version;
  }
  async rebuildStatus(): Promise<EngineRebuildStatus> {
    await this.gate;
    return { version: this.version, state: this.version > 0 ? 'done' : 'idle', objects: 1, bytes: 10 };
  }
  hold(): () => void {
    let release!: () => void;
    this.gate = new Promise<void>((r) => {
      release = r;
    });
    return () => {
      this.gate = undefined;
      release();
    };
  }
}

async function until(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  for (const start = Date.now(); !cond(); await new Promise((r) => setTimeout(r, 20)))
    if (Date.now() - start > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
}

describe('MgmtService rebuild bookkeeping', () => {
  let reng: RebuildingEngine[];
  let rmgmt: MgmtService;
  beforeEach(() => {
    reng = [0, 1, 2].map((r) => new RebuildingEngine(r, 2));
    rmgmt = new MgmtService(store, reng, () => 1n);
  });
  afterEach(() => rmgmt.close());

  it('finishes a rebuild when a restarted engine joins (resumeRebuilds) while the poll is in flight', async () => {
    await rmgmt.poolCreate({ label: 'tank', totalBytes: GiB });
    const release = reng[2]!.hold();
    await rmgmt.rankFailed(1);
    expect(rmgmt.rebuildState('tank')).toMatchObject({ state: 'busy', mapVersion: 2 });
    // The poll asked engine 2 and waits for its answer; a restarted rank joins meanwhile.
    await until('poll waiting on engine 2', () => reng[0]!.started > 0 && reng[2]!.started > 0);
    await new Promise((r) => setTimeout(r, 300));
    rmgmt.resumeRebuilds();
    release();
    await until('rebuild done', () => rmgmt.rebuildState('tank').state === 'done');
    const q = await rmgmt.poolQuery('tank');
    expect(q.mapVersion).toBe(3);
    expect(q.rebuild).toEqual({ state: 'done', objects: 2, bytes: 20 });
    expect(rmgmt.rebuildReport('tank')).toMatch(
      /rebuild done for map version 2 .*; pool map version 3 \[0:UPIN\/UPIN 1:DOWNOUT\/DOWNOUT 2:UPIN\/UPIN\]; engines at the last poll: rank 0 done v2 1 objects 10 bytes, rank 2 done v2/,
    );
  });

  it('carries a running rebuild on to a newer map that started none (self_heal without rebuild)', async () => {
    await rmgmt.poolCreate({ label: 'tank', totalBytes: GiB });
    await rmgmt.poolSetProps('tank', { self_heal: 'exclude' });
    const release = reng[2]!.hold();
    await rmgmt.poolDrain('tank', 0);
    expect(rmgmt.rebuildState('tank')).toMatchObject({ state: 'busy', mapVersion: 2 });
    // A failure detected meanwhile: excluded (version 3), no rebuild of its own.
    await rmgmt.rankFailed(1);
    expect((await rmgmt.poolQuery('tank')).mapVersion).toBe(3);
    release();
    await until('rebuild done', () => rmgmt.rebuildState('tank').state === 'done');
    expect(rmgmt.rebuildState('tank').mapVersion).toBe(3);
    expect(reng[2]!.version).toBe(3);
    expect((await rmgmt.poolConnect('tank')).map).toMatchObject({
      version: 4,
      states: ['DOWNOUT', 'DOWNOUT', 'DOWNOUT', 'DOWNOUT', 'UPIN', 'UPIN'],
    });
  });

  it('names what each engine answered while a rebuild does not finish', async () => {
    await rmgmt.poolCreate({ label: 'tank', totalBytes: GiB });
    reng[2]!.rebuildStatus = () => Promise.reject(new Error('DER_TIMEDOUT: no reply'));
    await rmgmt.rankFailed(1);
    await until('a poll', () => (rmgmt.rebuildState('tank').engines ?? []).length === 2);
    expect(rmgmt.rebuildState('tank').state).toBe('busy');
    expect(rmgmt.rebuildReport('tank')).toMatch(
      /rebuild busy for map version 2 .*; pool map version 2 \[0:UPIN\/UPIN 1:DOWN\/DOWN 2:UPIN\/UPIN\]; engines at the last poll: rank 0 done v2 1 objects 10 bytes, rank 2 unreachable \(DER_TIMEDOUT: no reply\)$/,
    );
  });
});
