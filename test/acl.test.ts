/**
 * ACL enforcement (control/README.md "Security: enforcement"): the matrix of principal kinds ×
 * permission letters × operations through the embedded system, each caller a credential signed by
 * the system's key (DaosSystem.connect({ as })). Allowed operations succeed; denied ones fail with
 * DER_NO_PERM and leave the state as it was.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MgmtApi } from '../core/daos/link.js';
import { DaosError, DaosSystem } from '../index.js';

type Kind = 'owner' | 'owner-group' | 'user' | 'group' | 'everyone' | 'none';
const KINDS: readonly Kind[] = ['owner', 'owner-group', 'user', 'group', 'everyone', 'none'];

/** Who acts for each principal kind: user and groups (primary first). */
const WHO: Record<Kind, { user: string; groups: string[] }> = {
  owner: { user: 'alice', groups: ['staff'] },
  'owner-group': { user: 'carol', groups: ['staff'] },
  user: { user: 'bob', groups: ['other'] },
  group: { user: 'dave', groups: ['misc', 'dev'] },
  everyone: { user: 'eve', groups: ['misc'] },
  none: { user: 'mallory', groups: ['misc'] },
};

/** ACL entries granting `letters` to exactly the principal of `kind` (everyone else: nothing). */
function aclFor(kind: Kind, letters: string): string[] {
  const l = (k: Kind) => (k === kind ? letters : '');
  const entries = [`A::OWNER@:${l('owner')}`, `A:G:GROUP@:${l('owner-group')}`, `A::bob@:${l('user')}`];
  entries.push(`A:G:dev@:${l('group')}`);
  if (kind === 'everyone') entries.push(`A::EVERYONE@:${letters}`);
  return entries;
}

async function outcome(p: Promise<unknown>): Promise<'ok' | string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    if (err instanceof DaosError) return err.code;
    throw err;
  }
}

describe('ACL matrix (embedded system)', () => {
  let dir: string;
  let sys: DaosSystem;
  let poolUuid: string;
  const mgmtOf = new Map<Kind, MgmtApi>();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'daos-acl-'));
    sys = await DaosSystem.start({ dir, engines: 1, targetsPerEngine: 2 });
    poolUuid = (
      await sys.mgmt.poolCreate({ label: 'acl', totalBytes: 1 << 30, owner: 'alice@', group: 'staff@' })
    ).uuid;
    for (const k of KINDS) mgmtOf.set(k, (await sys.connect({ as: WHO[k] })).link.mgmt);
  });
  afterAll(async () => {
    await sys.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const CONT_LETTERS = 'rwdtTaAo';
  const READ_TYPE = 'rta';
  const WRITE_TYPE = 'wdTAo';

  it('container: each principal kind × each letter × each operation', async () => {
    const admin = sys.mgmt;
    let n = 0;
    for (const kind of KINDS) {
      for (const letter of CONT_LETTERS) {
        const label = `c-${kind}-${letter}`;
        const c = await admin.contCreate(poolUuid, { label }, { user: 'alice@', group: 'staff@' });
        await admin.contUpdateAcl(poolUuid, c.uuid, aclFor(kind, letter));
        await admin.contSetAttrs(poolUuid, c.uuid, { a: Buffer.from('1') });
        const granted = new Set(kind === 'none' ? '' : kind === 'owner' ? `${letter}aA` : letter);
        const m = mgmtOf.get(kind)!;
        const ctx = `${kind} with '${letter}'`;
        const expectOp = async (needs: string | ((g: Set<string>) => boolean), p: Promise<unknown>) => {
          const allowed = typeof needs === 'string' ? granted.has(needs) : needs(granted);
          const got = await outcome(p);
          expect(got, `${ctx}: ${String(needs)}`).toBe(allowed ? 'ok' : 'DER_NO_PERM');
          n++;
          return allowed;
        };
        const before = await admin.contGetAcl(poolUuid, c.uuid);
        const hasAny = (set: string) => (g: Set<string>) => [...set].some((x) => g.has(x));

        await expectOp('t', m.contLookup(poolUuid, c.uuid));
        await expectOp(hasAny(READ_TYPE), m.contLookup(poolUuid, c.uuid, { mode: 'ro' }));
        await expectOp(
          (g) => hasAny(READ_TYPE)(g) && hasAny(WRITE_TYPE)(g),
          m.contLookup(poolUuid, c.uuid, { mode: 'rw' }),
        );
        await expectOp('r', m.contGetAttrs(poolUuid, c.uuid));
        await expectOp('a', m.contGetAcl!(poolUuid, c.uuid));

        // Writes: denied ones change nothing.
        const allowedT = await expectOp('T', m.contSetProps(poolUuid, c.uuid, { chunkSize: 4096 }));
        expect((await admin.contLookup(poolUuid, c.uuid)).props.chunkSize === 4096).toBe(allowedT);
        const allowedW = await expectOp('w', m.contSetAttrs(poolUuid, c.uuid, { b: Buffer.from('2') }));
        expect(Object.keys(await admin.contGetAttrs(poolUuid, c.uuid)).sort()).toEqual(
          allowedW ? ['a', 'b'] : ['a'],
        );
        const oidBefore = await admin.contAllocOids(poolUuid, c.uuid, 1);
        await expectOp('w', m.contAllocOids(poolUuid, c.uuid, 5));
        expect(await admin.contAllocOids(poolUuid, c.uuid, 1)).toBe(oidBefore + (allowedW ? 6n : 1n));
        await expectOp('w', m.snapCreate(poolUuid, c.uuid, 'snap'));
        expect((await admin.contLookup(poolUuid, c.uuid)).snapshots.length).toBe(allowedW ? 1 : 0);
        const allowedA = await expectOp('A', m.contUpdateAcl!(poolUuid, c.uuid, 'A::zed@:r'));
        const after = await admin.contGetAcl(poolUuid, c.uuid);
        expect(after.entries.includes('A::zed@:r')).toBe(allowedA);
        if (!allowedA) expect(after).toEqual(before);
        const allowedO = await expectOp('o', m.contSetOwner!(poolUuid, c.uuid, { group: 'newgrp@' }));
        expect((await admin.contGetAcl(poolUuid, c.uuid)).group).toBe(allowedO ? 'newgrp@' : 'staff@');
        // Destroy last: the pool ACL grants nobody but the owner d here (default pool ACL: OWNER@ rw).
        const poolD = kind === 'owner' || kind === 'owner-group';
        await expectOp((g) => g.has('d') || poolD, m.contDestroy(poolUuid, c.uuid, false));
        const left = (await admin.contList(poolUuid)).some((x) => x.uuid === c.uuid);
        expect(left).toBe(!(granted.has('d') || poolD));
      }
    }
    expect(n).toBe(KINDS.length * CONT_LETTERS.length * 12);
  });

  it('pool: each principal kind × each letter × connect, query, list, create and destroy containers', async () => {
    const admin = sys.mgmt;
    // Aliases as DAOS expands them: r ⇔ t, w = c + d.
    const EXPAND: Record<string, string> = { r: 'rt', t: 'rt', w: 'wcd', c: 'c', d: 'd' };
    for (const kind of KINDS) {
      for (const letter of 'rwcdt') {
        await admin.poolOverwriteAcl(poolUuid, aclFor(kind, letter));
        const granted = new Set(kind === 'none' ? '' : EXPAND[letter]!);
        const m = mgmtOf.get(kind)!;
        const ctx = `${kind} with '${letter}'`;
        const has = (x: string) => [...x].some((p) => granted.has(p));
        expect(await outcome(m.poolConnect(poolUuid, { mode: 'ro' })), `${ctx} connect ro`).toBe(
          has('rt') ? 'ok' : 'DER_NO_PERM',
        );
        expect(await outcome(m.poolConnect(poolUuid, { mode: 'rw' })), `${ctx} connect rw`).toBe(
          has('rt') && has('wcd') ? 'ok' : 'DER_NO_PERM',
        );
        expect(await outcome(m.poolQuery(poolUuid)), `${ctx} query`).toBe(has('t') ? 'ok' : 'DER_NO_PERM');
        expect(await outcome(m.contList(poolUuid)), `${ctx} list`).toBe(has('t') ? 'ok' : 'DER_NO_PERM');
        const label = `p-${kind}-${letter}`;
        const before = (await admin.contList(poolUuid)).length;
        expect(await outcome(m.contCreate(poolUuid, { label })), `${ctx} create`).toBe(
          has('c') ? 'ok' : 'DER_NO_PERM',
        );
        expect((await admin.contList(poolUuid)).length).toBe(before + (has('c') ? 1 : 0));
        if (has('c')) {
          const created = await admin.contLookup(poolUuid, label);
          // The creator owns what they create.
          expect(created.owner).toBe(`${WHO[kind].user}@`);
        } else {
          await admin.contCreate(poolUuid, { label }, { user: 'alice@', group: 'staff@' });
        }
        // Only alice's containers' default ACL grants carol (GROUP@) d — use a third party's.
        await admin.contSetOwner(poolUuid, label, { user: 'zed@', group: 'zgrp@' });
        expect(await outcome(m.contDestroy(poolUuid, label, false)), `${ctx} destroy`).toBe(
          has('d') ? 'ok' : 'DER_NO_PERM',
        );
        const still = (await admin.contList(poolUuid)).some((c) => c.label === label);
        expect(still).toBe(!has('d'));
        if (still) await admin.contDestroy(poolUuid, label, false);
      }
    }
  });

  it('denials name the user, the permission and the target', async () => {
    await sys.mgmt.poolOverwriteAcl(poolUuid, ['A::OWNER@:rw']);
    const err = await mgmtOf
      .get('user')!
      .poolConnect(poolUuid, { mode: 'ro' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DaosError);
    expect((err as DaosError).message).toMatch(/bob@ may not connect to pool acl ro/);
    const err2 = await mgmtOf
      .get('user')!
      .contCreate(poolUuid, { label: 'nope' })
      .catch((e: unknown) => e);
    expect((err2 as DaosError).message).toMatch(/bob@ lacks 'c'.*pool acl/);
  });

  it('the OS user running an embedded system owns what it creates and keeps every right', async () => {
    await sys.createPool({ label: 'mine', size: '256M' });
    const client = await sys.connect();
    const pool = await client.connectPool('mine');
    await pool.createContainer({ label: 'c' });
    const cont = await pool.openContainer('c');
    await cont.setAttrs({ x: 'y' });
    expect(cont.token).toMatch(/^dt1\./);
    expect(pool.token).toMatch(/^dt1\./);
  });

  it('a credential from another key, or none, is refused', async () => {
    const other = await DaosSystem.start({ dir: join(dir, 'other'), engines: 1, targetsPerEngine: 1 });
    try {
      // A client of the other system carries credentials signed by its key: replay them here.
      const foreign = (other as unknown as { credentialSource(w: unknown): () => string }).credentialSource(
        WHO.owner,
      )();
      const m = sys.mgmt.asCaller(foreign);
      const err = await m.poolConnect(poolUuid).catch((e: unknown) => e);
      expect((err as DaosError).code).toBe('DER_NO_PERM');
      expect((err as DaosError).message).toMatch(/signed by another key/);
      const none = await sys.mgmt
        .asCaller(undefined)
        .poolConnect(poolUuid)
        .catch((e: unknown) => e);
      expect((none as DaosError).code).toBe('DER_NO_PERM');
    } finally {
      await other.stop();
    }
  });
});
