import { describe, expect, it } from 'vitest';
import { DaosError } from '../../core/common/errors.js';
import { ACL_BYTES_MAX } from '../../core/common/limits.js';
import {
  ACL_OPERATIONS,
  type Acl,
  type AclKind,
  type AclOperation,
  aclBytes,
  defaultAcl,
  deleteAcl,
  evaluateAcl,
  formatAcl,
  handlePerms,
  type Identity,
  KIND_PERMS,
  type Ownership,
  type Perm,
  parseAcl,
  permString,
  requireOperation,
  requirePerm,
  updateAcl,
} from './acl.js';

const OWNER: Ownership = { user: 'olivia@', group: 'staff@' };

/** Each principal kind: who asks, and the entry that names them (`%` stands for the letters). */
const PRINCIPAL_KINDS: readonly { kind: string; who: Identity; entry: string }[] = [
  { kind: 'owner', who: { user: 'olivia@', groups: ['staff@'] }, entry: 'A::OWNER@:%' },
  { kind: 'owner group', who: { user: 'gina@', groups: ['misc@', 'staff@'] }, entry: 'A:G:GROUP@:%' },
  { kind: 'named user', who: { user: 'ulrich@', groups: ['misc@'] }, entry: 'A::ulrich@:%' },
  { kind: 'named group', who: { user: 'gus@', groups: ['misc@', 'admins@'] }, entry: 'A:G:admins@:%' },
  { kind: 'everyone', who: { user: 'eve@', groups: ['misc@'] }, entry: 'A::EVERYONE@:%' },
  { kind: 'no matching entry', who: { user: 'nobody@', groups: ['misc@'] }, entry: 'A::someone@:%' },
];

/** What one granted letter lets through, from DAOS's docs: pool r = t, w = c + d. */
const IMPLIES: Readonly<Record<AclKind, Readonly<Record<string, string>>>> = {
  pool: { r: 'rt', w: 'wcd', c: 'c', d: 'd', t: 'rt' },
  container: { r: 'r', w: 'w', d: 'd', t: 't', T: 'T', a: 'a', A: 'A', o: 'o' },
};

/** A stand-in for the state an operation changes, so a denial can be shown to change nothing. */
type Resource = { writes: Record<string, number> };

function perform(resource: Resource, granted: ReadonlySet<Perm>, op: AclOperation, who: string): void {
  requireOperation(granted, op, {
    who,
    pool: 'tank',
    cont: ACL_OPERATIONS[op].kind === 'pool' ? undefined : 'c1',
  });
  resource.writes[op] = (resource.writes[op] ?? 0) + 1;
}

function noPerm(fn: () => unknown): DaosError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(DaosError);
    expect((e as DaosError).code).toBe('DER_NO_PERM');
    return e as DaosError;
  }
  throw new Error('expected DER_NO_PERM');
}

describe('the ACL matrix: principal kind x permission x operation', () => {
  const ops = Object.entries(ACL_OPERATIONS) as [AclOperation, { kind: AclKind; perm: Perm }][];
  for (const kind of ['pool', 'container'] as const) {
    for (const principal of PRINCIPAL_KINDS) {
      for (const letter of KIND_PERMS[kind]) {
        it(`${kind}: ${principal.kind} granted '${letter}'`, () => {
          // Bystander entries grant everything to others; they must not leak to this caller.
          const all = KIND_PERMS[kind];
          const acl = parseAcl(
            [principal.entry.replace('%', letter), `A::bystander@:${all}`, `A:G:bystanders@:${all}`],
            kind,
          );
          const granted = evaluateAcl(acl, OWNER, principal.who);
          let allowed = principal.kind === 'no matching entry' ? '' : IMPLIES[kind][letter]!;
          // The container owner always keeps get-acl and set-acl (DAOS CONT_OWNER_MIN_PERMS).
          if (principal.kind === 'owner' && kind === 'container') allowed += 'aA';
          for (const [op, need] of ops.filter(([, o]) => o.kind === kind)) {
            const resource: Resource = { writes: {} };
            if (allowed.includes(need.perm)) {
              perform(resource, granted, op, principal.who.user);
              expect(resource.writes[op]).toBe(1);
            } else {
              const e = noPerm(() => perform(resource, granted, op, principal.who.user));
              expect(e.message).toContain(principal.who.user);
              expect(e.message).toContain(`'${need.perm}'`);
              expect(e.message).toContain('pool tank');
              expect(resource).toEqual({ writes: {} });
            }
          }
        });
      }
    }
  }
});

describe('evaluation order', () => {
  const who = (user: string, ...groups: string[]): Identity => ({ user, groups });
  it('the owner gets the OWNER@ entry only, never their user or group entries', () => {
    const acl = parseAcl(['A::OWNER@:r', 'A::olivia@:rw', 'A:G:GROUP@:rwcd', 'A::EVERYONE@:rw'], 'pool');
    expect(permString(evaluateAcl(acl, OWNER, who('olivia@', 'staff@')))).toBe('rt');
  });
  it('an owner with no OWNER@ entry falls through to their user entry, then groups', () => {
    const acl = parseAcl(['A::olivia@:c', 'A:G:GROUP@:rw'], 'pool');
    expect(permString(evaluateAcl(acl, OWNER, who('olivia@', 'staff@')))).toBe('c');
    const groupsOnly = parseAcl(['A:G:GROUP@:r'], 'pool');
    expect(permString(evaluateAcl(groupsOnly, OWNER, who('olivia@', 'staff@')))).toBe('rt');
  });
  it('a named user entry beats broader group entries', () => {
    const acl = parseAcl(['A::ulrich@:r', 'A:G:admins@:rwdtTaAo'], 'container');
    expect(permString(evaluateAcl(acl, OWNER, who('ulrich@', 'admins@')))).toBe('r');
  });
  it('groups are the union of GROUP@ and every named group the caller is in', () => {
    const acl = parseAcl(
      ['A:G:GROUP@:r', 'A:G:admins@:T', 'A:G:ops@:w', 'A:G:other@:o', 'A::EVERYONE@:d'],
      'container',
    );
    expect(permString(evaluateAcl(acl, OWNER, who('gus@', 'staff@', 'admins@', 'ops@')))).toBe('rwT');
  });
  it('an entry with no permissions denies that user; an empty group entry does not cancel another group', () => {
    const acl = parseAcl(['A::ulrich@:', 'A:G:admins@:', 'A:G:ops@:rw', 'A::EVERYONE@:rw'], 'pool');
    expect(evaluateAcl(acl, OWNER, who('ulrich@', 'ops@')).size).toBe(0);
    expect(evaluateAcl(acl, OWNER, who('gus@', 'admins@')).size).toBe(0);
    expect(permString(evaluateAcl(acl, OWNER, who('gus@', 'admins@', 'ops@')))).toBe('rwcdt');
    expect(permString(evaluateAcl(acl, OWNER, who('eve@')))).toBe('rwcdt');
  });
  it('an empty OWNER@ entry denies the pool owner; the container owner keeps a and A', () => {
    expect(evaluateAcl(parseAcl(['A::OWNER@:', 'A::EVERYONE@:rw'], 'pool'), OWNER, who('olivia@')).size).toBe(
      0,
    );
    const cont = parseAcl(['A::OWNER@:', 'A::EVERYONE@:rw'], 'container');
    expect(permString(evaluateAcl(cont, OWNER, who('olivia@')))).toBe('aA');
  });
  it('names without @ are taken as principals', () => {
    const acl = parseAcl(['A::ulrich@:r'], 'container');
    expect(permString(evaluateAcl(acl, { user: 'olivia', group: 'staff' }, who('ulrich')))).toBe('r');
  });
  it('pool c + d together count as w', () => {
    expect(permString(evaluateAcl(parseAcl(['A::EVERYONE@:cd'], 'pool'), OWNER, who('eve@')))).toBe('wcd');
  });
});

describe('default ACLs', () => {
  it('are what DAOS creates', () => {
    expect(formatAcl(defaultAcl('pool'))).toBe('A::OWNER@:rw\nA:G:GROUP@:rw');
    expect(formatAcl(defaultAcl('container'))).toBe('A::OWNER@:rwdtTaAo\nA:G:GROUP@:rwtT');
    expect(parseAcl(formatAcl(defaultAcl('container')), 'container')).toEqual(defaultAcl('container'));
  });
});

describe('parsing and formatting', () => {
  it('reads ACL files with comments, sorts entries in DAOS order and prints letters canonically', () => {
    const text = [
      '# my ACL',
      'A::EVERYONE@:r',
      '',
      'A:G:proj@:wr',
      '  A::bob@:tr  ',
      'A:G:GROUP@:r',
      'A::OWNER@:oAaTtdwr',
    ].join('\n');
    const acl = parseAcl(text, 'container');
    expect(formatAcl(acl)).toBe(
      ['A::OWNER@:rwdtTaAo', 'A::bob@:rt', 'A:G:GROUP@:r', 'A:G:proj@:rw', 'A::EVERYONE@:r'].join('\n'),
    );
    expect(parseAcl(formatAcl(acl), 'container')).toEqual(acl);
    expect(parseAcl(['A::alice@example.com:r'], 'pool').entries[0]).toEqual({
      principal: 'user',
      name: 'alice@example.com',
      perms: 'r',
    });
  });

  const refused: readonly [string, AclKind, RegExp][] = [
    ['A::alice@:rx', 'pool', /unknown permission letter 'x'/],
    ['A::alice@:rT', 'pool', /permission 'T' does not apply to a pool/],
    ['A::alice@:rc', 'container', /permission 'c' does not apply to a container/],
    ['A:X:alice@:r', 'pool', /unknown flag 'X'/],
    ['A:S:alice@:r', 'pool', /flag 'S' belongs to audit entries/],
    ['A:P:alice@:r', 'pool', /flag 'P' \(pool inherit\)/],
    ['U:F:alice@:r', 'pool', /access type 'U' \(audit\) is not supported/],
    ['L:F:alice@:r', 'pool', /access type 'L' \(alarm\) is not supported/],
    ['D::alice@:r', 'pool', /unknown access type 'D'/],
    ['A::GROUP@:r', 'pool', /GROUP@ needs the G flag/],
    ['A:G:OWNER@:r', 'pool', /OWNER@ is not a group/],
    ['A::alice:r', 'pool', /principal "alice" is not name@/],
    ['A::a@b@c:r', 'pool', /principal "a@b@c"/],
    ['A::@:r', 'pool', /principal "@"/],
    ['A::alice@', 'pool', /expected TYPE:FLAGS:PRINCIPAL:PERMISSIONS/],
  ];
  for (const [entry, kind, why] of refused) {
    it(`refuses ${entry} (${kind}) naming the entry`, () => {
      const e = (() => {
        try {
          parseAcl(['A::OWNER@:r', entry], kind);
        } catch (err) {
          return err as DaosError;
        }
        throw new Error('parsed');
      })();
      expect(e.code).toBe('DER_INVAL');
      expect(e.message).toContain(`entry 2 "${entry}"`);
      expect(e.message).toMatch(why);
    });
  }

  it('refuses two entries for one principal', () => {
    expect(() => parseAcl('A::bob@:r\nA::OWNER@:r\nA::bob@:w', 'pool')).toThrow(
      /line 3 "A::bob@:w": a second entry for u:bob@ \(first at line 1\)/,
    );
    // A user and a group of the same name are different principals.
    expect(parseAcl(['A::bob@:r', 'A:G:bob@:w'], 'pool').entries).toHaveLength(2);
  });

  it('refuses an ACL past 64 KiB, counted as DAOS documents', () => {
    // A named entry with a short name is 256 + 64 bytes: 204 fit in 65536, 205 do not.
    const users = (n: number) => Array.from({ length: n }, (_, i) => `A::user${i}@:r`);
    expect(aclBytes(parseAcl(users(204), 'pool').entries)).toBe(204 * 320);
    expect(() => parseAcl(users(205), 'pool')).toThrow(
      new RegExp(`205 entries takes 65600 bytes.*${ACL_BYTES_MAX}`),
    );
    expect(() => updateAcl(parseAcl(users(204), 'pool'), ['A::one-more@:r'])).toThrow(/DER_INVAL/);
    expect(aclBytes(parseAcl(['A::OWNER@:r', 'A::EVERYONE@:r'], 'pool').entries)).toBe(512);
  });
});

describe('editing', () => {
  const base = (): Acl => parseAcl(['A::OWNER@:rw', 'A::bob@:r', 'A:G:GROUP@:rw'], 'pool');
  it('update replaces the entry of the same principal and inserts the rest in DAOS order', () => {
    const next = updateAcl(base(), ['A::bob@:rw', 'A:G:ops@:c', 'A::EVERYONE@:r']);
    expect(formatAcl(next)).toBe(
      ['A::OWNER@:rw', 'A::bob@:rw', 'A:G:GROUP@:rw', 'A:G:ops@:c', 'A::EVERYONE@:r'].join('\n'),
    );
    expect(formatAcl(base())).toBe('A::OWNER@:rw\nA::bob@:r\nA:G:GROUP@:rw');
    expect(formatAcl(updateAcl(base(), [{ principal: 'owner', perms: 'r' }]))).toContain('A::OWNER@:r\n');
    expect(() => updateAcl(base(), [{ principal: 'user', name: 'bob', perms: 'r' }])).toThrow(/not name@/);
    expect(() => updateAcl(base(), ['A::bob@:T'])).toThrow(/does not apply to a pool/);
  });
  it('delete removes one principal; a missing one is DER_NONEXIST', () => {
    expect(formatAcl(deleteAcl(base(), 'u:bob@'))).toBe('A::OWNER@:rw\nA:G:GROUP@:rw');
    expect(formatAcl(deleteAcl(base(), 'bob@'))).toBe('A::OWNER@:rw\nA:G:GROUP@:rw');
    expect(formatAcl(deleteAcl(base(), 'GROUP@'))).toBe('A::OWNER@:rw\nA::bob@:r');
    expect(() => deleteAcl(base(), 'g:bob@')).toThrow(/DER_NONEXIST.*no entry for g:bob@/);
    expect(() => deleteAcl(base(), 'u:bob')).toThrow(/DER_INVAL/);
  });
});

describe('requirePerm and handles', () => {
  const target = { who: 'eve@', pool: 'tank', cont: 'c1' };
  it('names who, the permission and the container', () => {
    const e = noPerm(() => requirePerm(new Set<Perm>(['r', 't']), 'w', target, 'cont-update'));
    expect(e.message).toBe(
      "DER_NO_PERM(-1001): eve@ lacks 'w' (write) to cont-update on container c1 of pool tank; has 'rt'",
    );
  });
  it('filter read-only and read-write handles as DAOS does', () => {
    const pool = { who: 'eve@', pool: 'tank' };
    expect(permString(handlePerms(new Set<Perm>(['r', 't', 'w', 'c', 'd']), 'pool', 'ro', pool))).toBe('rt');
    expect(permString(handlePerms(new Set<Perm>(['r', 't', 'c']), 'pool', 'rw', pool))).toBe('rct');
    expect(noPerm(() => handlePerms(new Set<Perm>(['c', 'd', 'w']), 'pool', 'ro', pool)).message).toContain(
      'may not connect to pool tank ro',
    );
    expect(() => handlePerms(new Set<Perm>(['r', 't']), 'pool', 'rw', pool)).toThrow(/DER_NO_PERM/);
    expect(permString(handlePerms(new Set<Perm>(['a', 'A']), 'container', 'ro', target))).toBe('a');
    expect(permString(handlePerms(new Set<Perm>(['a', 'A']), 'container', 'rw', target))).toBe('aA');
    expect(() => handlePerms(new Set<Perm>(['w']), 'container', 'ro', target)).toThrow(
      /may not open container c1/,
    );
    expect(() => handlePerms(new Set<Perm>(['r', 't']), 'container', 'rw', target)).toThrow(/DER_NO_PERM/);
  });
});
