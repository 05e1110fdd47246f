/**
 * ACL enforcement (control/README.md "Security: enforcement"): the matrix of principal kinds ×
 * permission letters × operations through the embedded system, each caller a credential signed by
 * the system's key (DaosSystem.connect({ as })). Allowed operations succeed; denied ones fail with
 * DER_NO_PERM and leave the state as it was.
 */
import type { KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair } from '../control/security/signed-envelope.js';
import { issueToken, type TokenClaims } from '../control/security/token.js';
import type { MgmtApi } from '../core/daos/link.js';
import { type Container, DaosError, DaosSystem, type Oid } from '../index.js';

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

/** A handle of `cont` whose object RPCs carry `token` (what a client could forge or replay). */
function withToken(cont: Container, token: string | undefined): Container {
  const forged = Object.create(cont) as Container;
  Object.defineProperty(forged, 'token', { value: token });
  return forged;
}

/** `token` with its payload's claims changed, signed by `key`. */
function resign(
  token: string,
  key: KeyObject,
  change: (claims: Record<string, unknown>) => void,
  now?: number,
) {
  const claims = JSON.parse(Buffer.from(token.split('.')[2]!, 'base64url').toString()) as Record<
    string,
    unknown
  >;
  delete claims.issuedMs;
  change(claims);
  return issueToken(key, claims as unknown as TokenClaims, now);
}

describe('capability tokens checked by daos_engine processes (no round trip)', () => {
  let dir: string;
  let sys: DaosSystem;
  let cont: Container;
  let other: Container;
  let readOnly: Container;
  const oid = { hi: 0n, lo: 0n } as Oid;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'daos-token-'));
    sys = await DaosSystem.start({ dir, engines: 2, targetsPerEngine: 1, transport: 'tcp' });
    await sys.createPool({ label: 'tok', size: '256M' });
    const pool = await (await sys.connect()).connectPool('tok');
    await pool.createContainer({ label: 'c1' });
    await pool.createContainer({ label: 'c2' });
    cont = await pool.openContainer('c1');
    other = await pool.openContainer('c2');
    readOnly = await pool.openContainer('c1', { mode: 'ro' });
    Object.assign(oid, await cont.newOid({ oclass: 'RP_2G1' }));
    await cont.kv(oid).put('k', 'v1');
  });
  afterAll(async () => {
    await sys.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const refused = async (c: Container, msg: RegExp) => {
    const put = await c
      .kv(oid)
      .put('k', 'evil')
      .catch((e: unknown) => e);
    expect(put).toBeInstanceOf(DaosError);
    expect((put as DaosError).code).toBe('DER_NO_PERM');
    expect((put as DaosError).message).toMatch(msg);
    expect(Buffer.from((await cont.kv(oid).get('k'))!).toString()).toBe('v1');
  };

  it('a valid token reads and writes; a read-only one reads', async () => {
    expect(cont.token).toMatch(/^dt1\./);
    await cont.kv(oid).put('k', 'v1');
    expect(Buffer.from((await readOnly.kv(oid).get('k'))!).toString()).toBe('v1');
  });

  it('refuses a token signed by another key', async () => {
    const forged = resign(cont.token!, generateKeyPair().privateKey, () => undefined);
    await refused(withToken(cont, forged), /signed by another key/);
    const read = await withToken(cont, forged)
      .kv(oid)
      .get('k')
      .catch((e: unknown) => e);
    expect((read as DaosError).code).toBe('DER_NO_PERM');
  });

  it('refuses an altered token (one byte flipped)', async () => {
    const t = cont.token!;
    const parts = t.split('.');
    const payload = Buffer.from(parts[2]!, 'base64url');
    const i = payload.indexOf('"perms"');
    payload[i + 10] = payload[i + 10]! ^ 0x01;
    parts[2] = payload.toString('base64url');
    await refused(withToken(cont, parts.join('.')), /altered|malformed/);
  });

  it('refuses an expired token', async () => {
    const key = (sys.mgmt as unknown as { tokenKey: { privateKey: KeyObject } }).tokenKey.privateKey;
    const expired = resign(
      cont.token!,
      key,
      (c) => {
        c.expiresMs = 2_000;
      },
      1_000,
    );
    await refused(withToken(cont, expired), /expired/);
  });

  it("refuses another container's token, a read-only token for a write, and no token", async () => {
    await refused(withToken(cont, other.token), /is for container/);
    await refused(withToken(cont, readOnly.token), /lacks 'w'/);
    await refused(withToken(cont, undefined), /no capability token/);
  });
});

describe('capability tokens checked by in-process engines', () => {
  it('a read-only token cannot write, whatever the client handle says', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'daos-token-inproc-'));
    const sys = await DaosSystem.start({ dir, engines: 1, targetsPerEngine: 1 });
    try {
      await sys.createPool({ label: 'p', size: '256M' });
      const pool = await (await sys.connect()).connectPool('p');
      await pool.createContainer({ label: 'c' });
      const rw = await pool.openContainer('c');
      const ro = await pool.openContainer('c', { mode: 'ro' });
      const oid = await rw.newOid();
      await rw.kv(oid).put('k', 'v1');
      const err = await withToken(rw, ro.token)
        .kv(oid)
        .put('k', 'v2')
        .catch((e: unknown) => e);
      expect((err as DaosError).code).toBe('DER_NO_PERM');
      expect(Buffer.from((await ro.kv(oid).get('k'))!).toString()).toBe('v1');
    } finally {
      await sys.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
