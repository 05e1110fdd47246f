import { DaosError } from '../../core/common/errors.js';
import { ACL_BYTES_MAX, PRINCIPAL_BYTES_MAX } from '../../core/common/limits.js';

/**
 * DAOS access control lists: entries `TYPE:FLAGS:PRINCIPAL:PERMISSIONS`, parsed, edited, sized and
 * evaluated as DAOS does (docs/overview/security.md, src/security/acl.c). Pure: no I/O, no clock.
 */

export type AclKind = 'pool' | 'container';
/** DAOS permission letters: read, write, create-cont, delete, get-prop, set-prop, get-acl, set-acl, set-owner. */
export type Perm = 'r' | 'w' | 'c' | 'd' | 't' | 'T' | 'a' | 'A' | 'o';
/** Principal kinds, in DAOS's evaluation and display order. */
export type PrincipalType = 'owner' | 'user' | 'owner-group' | 'group' | 'everyone';

/** One allow entry. `name` (principal form, `alice@`) only for user and group; `perms` in canonical order. */
export interface Ace {
  readonly principal: PrincipalType;
  readonly name?: string;
  readonly perms: string;
}

/** An ACL of one pool or container, entries in DAOS order (owner, users, owner-group, groups, everyone). */
export interface Acl {
  readonly kind: AclKind;
  readonly entries: readonly Ace[];
}

/** Who owns the resource, as principals (`alice@`, `staff@`). */
export interface Ownership {
  readonly user: string;
  readonly group: string;
}

/** Who asks: the user and every group they are in (primary and supplementary), as principals. */
export interface Identity {
  readonly user: string;
  readonly groups: readonly string[];
}

/** Every letter in DAOS's print order (its bit order). */
const PERM_ORDER = 'rwcdtTaAo';
/** Letters valid per kind: "ACEs containing permissions not applicable to the given resource are invalid". */
export const KIND_PERMS: Readonly<Record<AclKind, string>> = { pool: 'rwcdt', container: 'rwdtTaAo' };

const PERM_NAMES: Readonly<Record<Perm, string>> = {
  r: 'read',
  w: 'write',
  c: 'create-container',
  d: 'delete',
  t: 'get-prop',
  T: 'set-prop',
  a: 'get-acl',
  A: 'set-acl',
  o: 'set-owner',
};

const PRINCIPAL_ORDER: readonly PrincipalType[] = ['owner', 'user', 'owner-group', 'group', 'everyone'];
const SPECIAL: Readonly<Record<string, PrincipalType>> = {
  'OWNER@': 'owner',
  'GROUP@': 'owner-group',
  'EVERYONE@': 'everyone',
};
const SPECIAL_NAME: Readonly<Partial<Record<PrincipalType, string>>> = {
  owner: 'OWNER@',
  'owner-group': 'GROUP@',
  everyone: 'EVERYONE@',
};

/** DAOS's documented internal size of one entry: 256 bytes, plus a named principal's length + 1 rounded up to 64. */
const ACE_BASE_BYTES = 256;
const ACE_NAME_ALIGN_BYTES = 64;

/**
 * The container owner always keeps get-acl and set-acl, whatever the ACL says (DAOS
 * CONT_OWNER_MIN_PERMS), so an owner cannot lock themselves out of repairing it. Pools: none.
 */
const OWNER_MIN_PERMS: Readonly<Record<AclKind, string>> = { pool: '', container: 'aA' };

/** The ACL DAOS gives a new resource: pool OWNER@ and GROUP@ rw; container OWNER@ everything, GROUP@ rwtT. */
export function defaultAcl(kind: AclKind): Acl {
  const owner = kind === 'pool' ? 'rw' : 'rwdtTaAo';
  const group = kind === 'pool' ? 'rw' : 'rwtT';
  return {
    kind,
    entries: [
      { principal: 'owner', perms: owner },
      { principal: 'owner-group', perms: group },
    ],
  };
}

/** `alice` → `alice@`; a name already in principal form is returned unchanged. */
export function principalOf(name: string): string {
  return name.includes('@') ? name : `${name}@`;
}

/** True for `name@` or `name@domain`: a non-empty name, one `@`, no `:` or whitespace, ≤ 255 bytes. */
export function isPrincipalName(name: string): boolean {
  if (Buffer.byteLength(name) > PRINCIPAL_BYTES_MAX) return false;
  return /^[^@:\s]+@[^@:\s]*$/.test(name);
}

function inval(where: string, text: string, why: string): DaosError {
  return new DaosError('DER_INVAL', `ACL entry ${where} "${text}": ${why}`);
}

function canonicalPerms(letters: string, kind: AclKind, fail: (why: string) => DaosError): string {
  const valid = KIND_PERMS[kind];
  for (const ch of letters) {
    if (!PERM_ORDER.includes(ch))
      throw fail(`unknown permission letter '${ch}' (valid for a ${kind}: ${valid})`);
    if (!valid.includes(ch)) throw fail(`permission '${ch}' does not apply to a ${kind} (valid: ${valid})`);
  }
  return [...PERM_ORDER].filter((ch) => letters.includes(ch)).join('');
}

/** Parse one `TYPE:FLAGS:PRINCIPAL:PERMISSIONS` entry; `where` names it in errors (e.g. "line 3"). */
export function parseAce(text: string, kind: AclKind, where = '1'): Ace {
  const fail = (why: string) => inval(where, text, why);
  const fields = text.split(':');
  if (fields.length !== 4) throw fail('expected TYPE:FLAGS:PRINCIPAL:PERMISSIONS');
  const [type, flags, principal, letters] = fields as [string, string, string, string];
  if (type === 'U' || type === 'L') {
    throw fail(
      `access type '${type}' (${type === 'U' ? 'audit' : 'alarm'}) is not supported; only A (allow)`,
    );
  }
  if (type !== 'A') throw fail(`unknown access type '${type}'; only A (allow) is supported`);
  let group = false;
  for (const ch of flags) {
    if (ch === 'G') group = true;
    else if (ch === 'S' || ch === 'F') {
      throw fail(`flag '${ch}' belongs to audit entries, which are not supported; only G (group)`);
    } else if (ch === 'P') throw fail(`flag 'P' (pool inherit) is not supported; only G (group)`);
    else throw fail(`unknown flag '${ch}'; only G (group) is supported`);
  }
  const perms = canonicalPerms(letters, kind, fail);
  const special = SPECIAL[principal];
  if (special === 'owner-group') {
    if (!group) throw fail('GROUP@ needs the G flag');
    return { principal: special, perms };
  }
  if (special !== undefined) {
    if (group) throw fail(`${principal} is not a group; drop the G flag`);
    return { principal: special, perms };
  }
  if (!isPrincipalName(principal)) {
    throw fail(`principal "${principal}" is not name@ or name@domain (≤ ${PRINCIPAL_BYTES_MAX} bytes)`);
  }
  return { principal: group ? 'group' : 'user', name: principal, perms };
}

/** One entry as DAOS prints it. */
export function formatAce(ace: Ace): string {
  const flags = ace.principal === 'group' || ace.principal === 'owner-group' ? 'G' : '';
  const who = SPECIAL_NAME[ace.principal] ?? ace.name!;
  return `A:${flags}:${who}:${ace.perms}`;
}

/** The ACL as DAOS's ACL-file text: one entry a line, in DAOS order. */
export function formatAcl(acl: Acl): string {
  return acl.entries.map(formatAce).join('\n');
}

/** Identifies an entry's principal: `OWNER@`, `GROUP@`, `EVERYONE@`, `u:alice@`, `g:staff@` (dmg's form). */
export function principalKey(ace: Pick<Ace, 'principal' | 'name'>): string {
  if (ace.principal === 'user') return `u:${ace.name}`;
  if (ace.principal === 'group') return `g:${ace.name}`;
  return SPECIAL_NAME[ace.principal]!;
}

/** Bytes the ACL takes by DAOS's documented formula; must stay ≤ ACL_BYTES_MAX. */
export function aclBytes(entries: readonly Ace[]): number {
  let bytes = 0;
  for (const ace of entries) {
    bytes += ACE_BASE_BYTES;
    if (ace.name !== undefined) {
      const named = Buffer.byteLength(ace.name) + 1;
      bytes += Math.ceil(named / ACE_NAME_ALIGN_BYTES) * ACE_NAME_ALIGN_BYTES;
    }
  }
  return bytes;
}

function sorted(entries: readonly Ace[]): Ace[] {
  // Array.prototype.sort is stable: entries of one principal type keep the order they were given.
  return [...entries].sort(
    (x, y) => PRINCIPAL_ORDER.indexOf(x.principal) - PRINCIPAL_ORDER.indexOf(y.principal),
  );
}

function checkSize(entries: readonly Ace[]): void {
  const bytes = aclBytes(entries);
  if (bytes > ACL_BYTES_MAX) {
    throw new DaosError(
      'DER_INVAL',
      `ACL of ${entries.length} entries takes ${bytes} bytes, more than the ${ACL_BYTES_MAX} allowed`,
    );
  }
}

type AclLine = { text: string; where: string };

function aclLines(input: string | readonly string[]): AclLine[] {
  const raw = typeof input === 'string' ? input.split('\n') : input;
  const what = typeof input === 'string' ? 'line' : 'entry';
  const lines: AclLine[] = [];
  raw.forEach((line, i) => {
    const text = line.trim();
    // ACL files: blank lines and lines whose first non-blank character is '#' are ignored.
    if (text === '' || text.startsWith('#')) return;
    lines.push({ text, where: `${what} ${i + 1}` });
  });
  return lines;
}

function parseLines(input: string | readonly string[], kind: AclKind): Ace[] {
  const seen = new Map<string, string>();
  const entries: Ace[] = [];
  for (const { text, where } of aclLines(input)) {
    const ace = parseAce(text, kind, where);
    const key = principalKey(ace);
    const first = seen.get(key);
    if (first !== undefined) throw inval(where, text, `a second entry for ${key} (first at ${first})`);
    seen.set(key, where);
    entries.push(ace);
  }
  return entries;
}

/**
 * Parse an ACL: ACL-file text (one entry a line, `#` comments) or a list of entries. Refuses
 * with DER_INVAL, naming the entry: bad syntax, type, flag, principal or letter, a principal
 * given twice, or an ACL past ACL_BYTES_MAX.
 */
export function parseAcl(input: string | readonly string[], kind: AclKind): Acl {
  const entries = parseLines(input, kind);
  checkSize(entries);
  return { kind, entries: sorted(entries) };
}

/** A new ACL with `entries` added; an entry for a principal already present replaces it (DAOS update-acl). */
export function updateAcl(acl: Acl, entries: string | readonly string[] | readonly Ace[]): Acl {
  const added =
    typeof entries === 'string' || entries.every((e) => typeof e === 'string')
      ? parseLines(entries as string | readonly string[], acl.kind)
      : (entries as readonly Ace[]).map((ace) => checkedAce(ace, acl.kind));
  const replace = new Map(added.map((ace) => [principalKey(ace), ace]));
  const kept = acl.entries.filter((ace) => !replace.has(principalKey(ace)));
  const next = [...kept, ...replace.values()];
  checkSize(next);
  return { kind: acl.kind, entries: sorted(next) };
}

/** Re-validate a structured entry (it may come from a wire or a store) by its text form. */
function checkedAce(ace: Ace, kind: AclKind): Ace {
  return parseAce(formatAce(ace), kind, principalKey(ace));
}

/**
 * A new ACL without the entry of `principal`: `OWNER@`, `GROUP@`, `EVERYONE@`, `u:alice@`,
 * `g:staff@`, or `alice@` for a user. DER_NONEXIST when the ACL has no such entry.
 */
export function deleteAcl(acl: Acl, principal: string): Acl {
  const key = principal in SPECIAL || /^[ug]:/.test(principal) ? principal : `u:${principal}`;
  const name = key.slice(2);
  if (!(key in SPECIAL) && !isPrincipalName(name)) {
    throw new DaosError(
      'DER_INVAL',
      `"${principal}" is not a principal (OWNER@, GROUP@, EVERYONE@, u:name@, g:name@)`,
    );
  }
  const entries = acl.entries.filter((ace) => principalKey(ace) !== key);
  if (entries.length === acl.entries.length) {
    throw new DaosError('DER_NONEXIST', `the ${acl.kind} ACL has no entry for ${key}`);
  }
  return { kind: acl.kind, entries };
}

function lettersOf(ace: Ace | undefined): string | undefined {
  return ace?.perms;
}

/**
 * The permissions `who` holds under `acl` on a resource owned by `owner`, in DAOS's order; the
 * first step that matches decides, even when its entry grants nothing (that is how a user is
 * denied): OWNER@ if `who` is the owner → their named user entry → the union of GROUP@ (if in
 * the owner group) and every named group they are in → EVERYONE@ → nothing. Pool aliases are
 * expanded (r ⇔ t, w ⇔ c + d) and the container owner keeps a and A.
 */
export function evaluateAcl(acl: Acl, owner: Ownership, who: Identity): Set<Perm> {
  const user = principalOf(who.user);
  const groups = new Set(who.groups.map(principalOf));
  const isOwner = user === principalOf(owner.user);
  const find = (principal: PrincipalType, name?: string) =>
    acl.entries.find((ace) => ace.principal === principal && ace.name === name);

  let letters = isOwner ? lettersOf(find('owner')) : undefined;
  letters ??= lettersOf(find('user', user));
  if (letters === undefined) {
    const matched: string[] = [];
    if (groups.has(principalOf(owner.group))) {
      const ace = find('owner-group');
      if (ace) matched.push(ace.perms);
    }
    for (const group of groups) {
      const ace = find('group', group);
      if (ace) matched.push(ace.perms);
    }
    if (matched.length > 0) letters = matched.join('');
  }
  letters ??= lettersOf(find('everyone')) ?? '';
  if (isOwner) letters += OWNER_MIN_PERMS[acl.kind];
  return expandAliases(new Set([...letters] as Perm[]), acl.kind);
}

/** Pools: r and t are one permission, w is c + d (DAOS pool_capas_from_perms). */
function expandAliases(perms: Set<Perm>, kind: AclKind): Set<Perm> {
  if (kind !== 'pool') return perms;
  if (perms.has('r') || perms.has('t')) {
    perms.add('r');
    perms.add('t');
  }
  if (perms.has('w')) {
    perms.add('c');
    perms.add('d');
  }
  if (perms.has('c') && perms.has('d')) perms.add('w');
  return perms;
}

/** Letters of a permission set in DAOS's print order. */
export function permString(perms: Iterable<Perm>): string {
  const set = new Set(perms);
  return [...PERM_ORDER].filter((ch) => set.has(ch as Perm)).join('');
}

/** The operations that ACLs guard and the one permission each needs. */
export const ACL_OPERATIONS = {
  'pool-connect': { kind: 'pool', perm: 't' },
  'pool-query': { kind: 'pool', perm: 't' },
  'pool-list-containers': { kind: 'pool', perm: 't' },
  'pool-create-container': { kind: 'pool', perm: 'c' },
  /** Pool d: delete any container of the pool (DAOS also lets container d delete that one). */
  'pool-destroy-container': { kind: 'pool', perm: 'd' },
  'cont-fetch': { kind: 'container', perm: 'r' },
  'cont-list-keys': { kind: 'container', perm: 'r' },
  'cont-get-attr': { kind: 'container', perm: 'r' },
  'cont-list-snapshots': { kind: 'container', perm: 'r' },
  'cont-update': { kind: 'container', perm: 'w' },
  'cont-punch': { kind: 'container', perm: 'w' },
  'cont-set-attr': { kind: 'container', perm: 'w' },
  'cont-alloc-oids': { kind: 'container', perm: 'w' },
  'cont-create-snapshot': { kind: 'container', perm: 'w' },
  'cont-destroy': { kind: 'container', perm: 'd' },
  'cont-query': { kind: 'container', perm: 't' },
  'cont-get-prop': { kind: 'container', perm: 't' },
  'cont-set-prop': { kind: 'container', perm: 'T' },
  'cont-get-acl': { kind: 'container', perm: 'a' },
  'cont-set-acl': { kind: 'container', perm: 'A' },
  'cont-set-owner': { kind: 'container', perm: 'o' },
} as const satisfies Record<string, { kind: AclKind; perm: Perm }>;
export type AclOperation = keyof typeof ACL_OPERATIONS;

/** What a DER_NO_PERM message names: the caller and the pool (and container). */
export interface AccessTarget {
  readonly who: string;
  readonly pool: string;
  readonly cont?: string;
}

function describeTarget(target: AccessTarget): string {
  return target.cont === undefined
    ? `pool ${target.pool}`
    : `container ${target.cont} of pool ${target.pool}`;
}

/** Throw DER_NO_PERM unless `granted` holds `perm`; the message names who, which permission, and where. */
export function requirePerm(granted: ReadonlySet<Perm>, perm: Perm, target: AccessTarget, op?: string): void {
  if (granted.has(perm)) return;
  const doing = op === undefined ? '' : ` to ${op}`;
  throw new DaosError(
    'DER_NO_PERM',
    `${target.who} lacks '${perm}' (${PERM_NAMES[perm]})${doing} on ${describeTarget(target)}; has '${permString(granted)}'`,
  );
}

/** requirePerm for a named operation of ACL_OPERATIONS. */
export function requireOperation(granted: ReadonlySet<Perm>, op: AclOperation, target: AccessTarget): void {
  requirePerm(granted, ACL_OPERATIONS[op].perm, target, op);
}

/** Read-type and write-type permissions of a handle (DAOS CONT_CAPAS_RO_MASK / W_MASK; pools: t / c d). */
const READ_PERMS: Readonly<Record<AclKind, string>> = { pool: 'rt', container: 'rta' };
const WRITE_PERMS: Readonly<Record<AclKind, string>> = { pool: 'wcd', container: 'wdTAo' };

/**
 * The permissions a handle opened in `mode` carries, as DAOS filters them: read-only keeps the
 * read-type ones and needs at least one; read-write needs at least one read-type and one
 * write-type permission and keeps them all. Anything less is DER_NO_PERM.
 */
export function handlePerms(
  granted: ReadonlySet<Perm>,
  kind: AclKind,
  mode: 'ro' | 'rw',
  target: AccessTarget,
): Set<Perm> {
  const reads = [...granted].filter((p) => READ_PERMS[kind].includes(p));
  const writes = [...granted].filter((p) => WRITE_PERMS[kind].includes(p));
  const verb = kind === 'pool' ? 'connect to' : 'open';
  if (reads.length === 0 || (mode === 'rw' && writes.length === 0)) {
    const needs =
      mode === 'ro'
        ? `one of '${READ_PERMS[kind]}'`
        : `one of '${READ_PERMS[kind]}' and one of '${WRITE_PERMS[kind]}'`;
    throw new DaosError(
      'DER_NO_PERM',
      `${target.who} may not ${verb} ${describeTarget(target)} ${mode}: needs ${needs}, has '${permString(granted)}'`,
    );
  }
  return mode === 'ro' ? new Set(reads) : new Set(granted);
}
