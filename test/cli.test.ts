import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DaosSystem } from '../embedded/system.js';

/**
 * dmg and daos as child processes (the compiled dist/bin/*.js, built by the global setup) on an
 * embedded system: every command at least once, --json checked against what the library reports,
 * readable tables, and DAOS-style errors (exit 1, `ERROR: dmg: ...`).
 */

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DMG = join(ROOT, 'dist/bin/dmg.js');
const DAOS = join(ROOT, 'dist/bin/daos.js');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(bin: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [bin, ...args],
      { env: { ...process.env, DAOS_EMBEDDED: '', ...env }, timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

let dir: string;
const dmg = (...args: string[]) => run(DMG, ['--embedded', dir, ...args]);
const daos = (...args: string[]) => run(DAOS, ['--embedded', dir, ...args]);

/** Run with --json, expect success, return the response. */
async function json<T = Record<string, unknown>>(p: Promise<Run>): Promise<T> {
  const r = await p;
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const out = JSON.parse(r.stdout) as { response: T; error: unknown; status: number };
  expect(out.error).toBeNull();
  expect(out.status).toBe(0);
  return out.response;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'cli-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('dmg --embedded', () => {
  it('system query, storage scan/format, and system stop/start refused in embedded mode', async () => {
    const q = await json<{ name: string; members: Array<{ rank: number; state: string }> }>(
      dmg('--engines', '2', '--targets', '2', 'system', 'query', '--json'),
    );
    expect(q.members.map((m) => [m.rank, m.state])).toEqual([
      [0, 'Joined'],
      [1, 'Joined'],
    ]);
    const plain = await dmg('system', 'query');
    expect(plain.stdout).toMatch(/^Rank\s+State\s+Address\s+PID\n----/);
    const scan = await json<Array<{ rank: number; class: string; formatted: boolean; totalBytes: number }>>(
      dmg('storage', 'scan', '--json'),
    );
    expect(scan.map((t) => [t.rank, t.class, t.formatted])).toEqual([
      [0, 'file', true],
      [1, 'file', true],
    ]);
    expect(scan[0]!.totalBytes).toBeGreaterThan(0);
    expect((await dmg('storage', 'scan')).stdout).toMatch(/Rank\s+Class\s+Mount\s+Total\s+Free\s+Formatted/);
    expect((await dmg('storage', 'format')).stdout).toContain('Format complete');
    const stop = await dmg('system', 'stop');
    expect(stop.code).toBe(1);
    expect(stop.stderr).toMatch(
      /^ERROR: dmg: DER_NOTSUPPORTED\(-2037\): system stop is not offered in embedded mode/,
    );
    const start = await dmg('system', 'start', '--json');
    expect(start.code).toBe(1);
    expect(JSON.parse(start.stdout).error.code).toBe('DER_NOTSUPPORTED');
  });

  it('pool create, list, query, get-prop, set-prop, and what the library then reports', async () => {
    const created = await json<{ uuid: string; label: string; totalBytes: number; targets: number }>(
      dmg('pool', 'create', 'tank', '--size', '1G', '--properties', 'reclaim:time,ec_cell_sz:64k', '--json'),
    );
    expect(created).toMatchObject({ label: 'tank', totalBytes: 1 << 30, targets: 4 });
    expect((await dmg('pool', 'create', 'tank2', '--size', '512M')).stdout).toMatch(
      /Pool created\n\s+UUID\s+: /,
    );
    const list = await json<{ pools: Array<{ uuid: string; label: string; totalBytes: number }> }>(
      dmg('pool', 'list', '--json'),
    );
    expect(list.pools.map((p) => p.label).sort()).toEqual(['tank', 'tank2']);
    expect((await dmg('pool', 'list')).stdout).toMatch(/^Pool\s+Size\s+State\s+Used\s+Disabled\n/);
    const q = await json<{ uuid: string; targets: number; disabledTargets: number }>(
      dmg('pool', 'query', 'tank', '--json'),
    );
    expect(q).toMatchObject({ uuid: created.uuid, targets: 4, disabledTargets: 0 });
    expect((await dmg('pool', 'query', 'tank')).stdout).toContain(
      `Pool ${created.uuid}, ntarget=4, disabled=0`,
    );
    const props = await json<Record<string, string>>(dmg('pool', 'get-prop', 'tank', '--json'));
    expect(props).toMatchObject({ label: 'tank', reclaim: 'time', ec_cell_sz: '65536', space_rb: '0' });
    await json(dmg('pool', 'set-prop', 'tank', 'space_rb:5,self_heal:exclude', '--json'));
    expect(await json(dmg('pool', 'get-prop', 'tank', 'space_rb,self_heal', '--json'))).toEqual({
      space_rb: '5',
      self_heal: 'exclude',
    });
    expect((await dmg('pool', 'get-prop', 'tank', 'label')).stdout).toMatch(
      /Name\s+Value\n----\s+-----\nPool label \(label\)\s+tank/,
    );
    const ro = await dmg('pool', 'set-prop', 'tank', 'ec_cell_sz:1M');
    expect(ro.code).toBe(1);
    expect(ro.stderr).toContain('read-only after the pool is created');

    const sys = await DaosSystem.start({ dir });
    try {
      const pools = await sys.listPools();
      expect(pools.map((p) => p.uuid).sort()).toEqual(list.pools.map((p) => p.uuid).sort());
      expect((await sys.mgmt.poolGetProps('tank', ['space_rb'])).space_rb).toBe('5');
    } finally {
      await sys.stop();
    }
  });

  it('ACL round trip: get, update (entry and file), delete, overwrite', async () => {
    const acl0 = await json<{ owner: string; group: string; entries: string[] }>(
      dmg('pool', 'get-acl', 'tank', '--json'),
    );
    expect(acl0.entries).toEqual(['A::OWNER@:rw', 'A:G:GROUP@:rw']);
    expect(acl0.owner).toMatch(/@$/);
    await json(dmg('pool', 'update-acl', 'tank', '--entry', 'A::bob@:r', '--json'));
    const file = join(dir, 'acl.txt');
    writeFileSync(file, '# extra\nA:G:dev@:rw\nA::EVERYONE@:r\n');
    const updated = await json<{ entries: string[] }>(
      dmg('pool', 'update-acl', 'tank', '--acl-file', file, '--json'),
    );
    expect(updated.entries).toEqual([
      'A::OWNER@:rw',
      'A::bob@:r',
      'A:G:GROUP@:rw',
      'A:G:dev@:rw',
      'A::EVERYONE@:r',
    ]);
    const deleted = await json<{ entries: string[] }>(
      dmg('pool', 'delete-acl', 'tank', '--principal', 'u:bob@', '--json'),
    );
    expect(deleted.entries).not.toContain('A::bob@:r');
    const plain = await dmg('pool', 'get-acl', 'tank');
    expect(plain.stdout).toMatch(/^# Owner: .+@\n# Owner Group: .+@\n# Entries:\nA::OWNER@:rw\n/);
    writeFileSync(file, 'A::OWNER@:rwcdt\n');
    expect(
      (await json<{ entries: string[] }>(dmg('pool', 'overwrite-acl', 'tank', '--acl-file', file, '--json')))
        .entries,
    ).toEqual(['A::OWNER@:rwcdt']);
    const sys = await DaosSystem.start({ dir });
    try {
      expect((await sys.mgmt.poolGetAcl('tank')).entries).toEqual(['A::OWNER@:rwcdt']);
    } finally {
      await sys.stop();
    }
  });

  it('pool exclude, drain, reintegrate move targets; system exclude marks the rank AdminExcluded', async () => {
    // tank's self_heal is `exclude` (set above): an exclusion starts no rebuild.
    const ex = await json<{ disabledTargets: number; mapVersion: number; rebuild: { state: string } }>(
      dmg('pool', 'exclude', 'tank', '--rank', '1', '--target-idx', '0', '--json'),
    );
    expect(ex.disabledTargets).toBe(1);
    expect(ex.rebuild.state).toBe('idle');
    // A DOWN target whose data was never rebuilt cannot come back as it is.
    const early = await dmg('pool', 'reintegrate', 'tank', '--rank', '1');
    expect(early.code).toBe(1);
    expect(early.stderr).toMatch(/DER_BUSY.*rebuild has not finished/);
    // A drain starts a rebuild; each embedded dmg run resumes it (and stops before it is done),
    // so the next operator action is refused while it runs.
    const dr = await dmg('pool', 'drain', 'tank', '--rank', '0');
    expect(dr.stdout).toContain('Drain command succeeded');
    expect(dr.stdout).toMatch(/Rebuild busy/);
    const busy = await dmg('pool', 'reintegrate', 'tank', '--rank', '0');
    expect(busy.code).toBe(1);
    expect(busy.stderr).toMatch(/DER_BUSY.*is rebuilding/);
    const bad = await dmg('pool', 'exclude', 'tank', '--rank', '9');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^ERROR: dmg: DER_NONEXIST\(-1005\): no engine rank 9/);
    const sq = await json<{ members: Array<{ rank: number; state: string }> }>(
      dmg('system', 'exclude', '--ranks', '1', '--json'),
    );
    expect(sq.members).toEqual([expect.objectContaining({ rank: 1, state: 'AdminExcluded' })]);
    expect(
      (await json<{ disabledTargets: number }>(dmg('pool', 'query', 'tank2', '--json'))).disabledTargets,
    ).toBe(2);
    expect((await dmg('system', 'query')).stdout).toMatch(/\n1\s+AdminExcluded/);
  });

  it('refuses bad input with exit 1 and a DAOS-style message', async () => {
    const unknown = await dmg('pool', 'query', 'nope');
    expect(unknown).toMatchObject({ code: 1, stdout: '' });
    expect(unknown.stderr).toBe('ERROR: dmg: DER_NONEXIST(-1005): no pool "nope"\n');
    const unknownJson = await dmg('pool', 'query', 'nope', '--json');
    expect(unknownJson.code).toBe(1);
    expect(JSON.parse(unknownJson.stdout)).toEqual({
      response: null,
      error: { code: 'DER_NONEXIST', message: 'DER_NONEXIST(-1005): no pool "nope"' },
      status: -1005,
    });
    const badAce = await dmg('pool', 'update-acl', 'tank', '--entry', 'A::bob@:rx');
    expect(badAce.code).toBe(1);
    expect(badAce.stderr).toContain(
      'ERROR: dmg: DER_INVAL(-1003): ACL entry entry 1 "A::bob@:rx": unknown permission letter \'x\'',
    );
    const badSize = await dmg('pool', 'create', 'big', '--size', '4Q');
    expect(badSize.code).toBe(1);
    expect(badSize.stderr).toContain('ERROR: dmg: DER_INVAL(-1003): pool size: cannot parse "4Q"');
    const badProp = await dmg('pool', 'create', 'p3', '--size', '1G', '--properties', 'colour:blue');
    expect(badProp.stderr).toContain('unknown pool property "colour"');
    const noSystem = await run(DMG, ['pool', 'list']);
    expect(noSystem.code).toBe(1);
    expect(noSystem.stderr).toContain(
      'no system to manage: give a daos_server host (-l host:port) or an embedded system',
    );
    // DAOS_EMBEDDED works as --embedded does.
    const viaEnv = await run(DMG, ['pool', 'list', '--json'], { DAOS_EMBEDDED: dir });
    expect(viaEnv.code).toBe(0);
  });
});

describe('daos --embedded', () => {
  it('container create, list, query, properties, attributes, snapshots, ACLs, destroy; dmg cont set-owner', async () => {
    const c = await json<{ uuid: string; label: string; type: string; properties: Record<string, string> }>(
      daos(
        'container',
        'create',
        'tank',
        'c1',
        '--type',
        'POSIX',
        '--properties',
        'rd_fac:0,cksum:crc32',
        '--chunk-size',
        '512k',
        '--json',
      ),
    );
    expect(c).toMatchObject({
      label: 'c1',
      type: 'POSIX',
      properties: { rd_fac: '0', cksum: 'crc32c', chunk_size: '524288' },
    });
    expect((await daos('cont', 'create', 'tank', '--label', 'c2')).stdout).toContain(
      'Successfully created container',
    );
    const listed = await json<Array<{ label: string }>>(daos('pool', 'list-containers', 'tank', '--json'));
    expect(listed.map((x) => x.label).sort()).toEqual(['c1', 'c2']);
    expect((await daos('container', 'list', 'tank')).stdout).toMatch(/^UUID\s+Label\s+Type\n/);
    const pq = await json<{ label: string; targets: number }>(daos('pool', 'query', 'tank', '--json'));
    expect(pq).toMatchObject({ label: 'tank', targets: 4 });
    expect((await json<{ uuid: string }>(daos('container', 'query', 'tank', 'c1', '--json'))).uuid).toBe(
      c.uuid,
    );
    expect((await daos('container', 'query', 'tank', 'c1')).stdout).toContain(`Container UUID  : ${c.uuid}`);

    await json(daos('container', 'set-prop', 'tank', 'c1', '--properties', 'cksum:off,oclass:S1', '--json'));
    expect(
      await json(daos('container', 'get-prop', 'tank', 'c1', '--properties', 'cksum,oclass', '--json')),
    ).toEqual({
      cksum: 'off',
      oclass: 'S1',
    });
    expect((await daos('container', 'get-prop', 'tank', 'c1')).stdout).toMatch(/^Name\s+Value\n/);
    const roProp = await daos('container', 'set-prop', 'tank', 'c1', '--properties', 'layout_type:HDF5');
    expect(roProp.code).toBe(1);
    expect(roProp.stderr).toContain('ERROR: daos: DER_INVAL(-1003): "layout_type" is read-only');

    await json(daos('container', 'set-attr', 'tank', 'c1', 'colour', 'blue', '--json'));
    expect(await json(daos('container', 'get-attr', 'tank', 'c1', 'colour', '--json'))).toEqual({
      name: 'colour',
      value: 'blue',
    });
    expect(await json(daos('container', 'list-attrs', 'tank', 'c1', '--json'))).toEqual(['colour']);

    const snap = await json<{ epoch: string }>(
      daos('container', 'create-snap', 'tank', 'c1', '--snap', 's1', '--json'),
    );
    expect(await json(daos('container', 'list-snaps', 'tank', 'c1', '--json'))).toEqual([
      { epoch: snap.epoch, name: 's1' },
    ]);
    await json(daos('container', 'destroy-snap', 'tank', 'c1', '--epc', snap.epoch, '--json'));
    expect(await json(daos('container', 'list-snaps', 'tank', 'c1', '--json'))).toEqual([]);

    const acl = await json<{ entries: string[] }>(
      daos('container', 'update-acl', 'tank', 'c1', '--entry', 'A::bob@:rw', '--json'),
    );
    expect(acl.entries).toEqual(['A::OWNER@:rwdtTaAo', 'A::bob@:rw', 'A:G:GROUP@:rwtT']);
    expect((await daos('container', 'get-acl', 'tank', 'c1')).stdout).toContain('A::bob@:rw');
    const badAce = await daos('container', 'update-acl', 'tank', 'c1', '--entry', 'A::bob@:c');
    expect(badAce.code).toBe(1);
    expect(badAce.stderr).toContain("permission 'c' does not apply to a container");

    // ACLs are enforced: once bob owns c1, the OS user running `daos` keeps only what an entry gives.
    const me = `${userInfo().username}@`;
    await json(daos('container', 'update-acl', 'tank', 'c1', '--entry', `A::${me}:rwta`, '--json'));
    const owned = await json<{ owner: string; group: string }>(
      dmg('cont', 'set-owner', '--pool', 'tank', '--cont', 'c1', '--user', 'bob', '--group', 'dev', '--json'),
    );
    expect(owned).toMatchObject({ owner: 'bob@', group: 'dev@' });
    expect(await json(daos('container', 'get-acl', 'tank', 'c1', '--json'))).toMatchObject({
      owner: 'bob@',
      group: 'dev@',
    });

    await json(daos('container', 'destroy', 'tank', 'c2', '--json'));
    const gone = await daos('container', 'query', 'tank', 'c2');
    expect(gone.code).toBe(1);
    expect(gone.stderr).toBe('ERROR: daos: DER_NONEXIST(-1005): no container "c2" in pool "tank"\n');

    const sys = await DaosSystem.start({ dir });
    try {
      const client = await sys.connect();
      const pool = await client.connectPool('tank');
      const labels: string[] = [];
      for await (const info of pool.listContainers()) labels.push(info.label);
      expect(labels).toEqual(['c1']);
      const cont = await pool.openContainer('c1');
      expect(await cont.listAttrs()).toEqual(['colour']);
      await cont.close();
      await pool.disconnect();
      await client.close();
    } finally {
      await sys.stop();
    }
  });

  it('pool destroy removes the pool (recursive with containers)', async () => {
    const busy = await dmg('pool', 'destroy', 'tank');
    expect(busy.code).toBe(1);
    expect(busy.stderr).toContain('DER_BUSY');
    expect((await dmg('pool', 'destroy', 'tank', '--recursive')).stdout).toBe(
      'Pool-destroy command succeeded\n',
    );
    const list = await json<{ pools: Array<{ label: string }> }>(dmg('pool', 'list', '--json'));
    expect(list.pools.map((p) => p.label)).toEqual(['tank2']);
  });
});
