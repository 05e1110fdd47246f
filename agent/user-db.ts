/**
 * Names and groups of a uid, from /etc/passwd and /etc/group (what getpwuid and getgrouplist
 * read on a machine without NSS modules). Read on every call: files are small and credentials
 * must follow group changes.
 */
import { readFileSync } from 'node:fs';
import { CREDENTIAL_GROUPS_MAX } from '../control/security/credential.js';

export interface UserIdentity {
  /** The user's name; the uid in decimal when /etc/passwd has no entry for it. */
  user: string;
  /** Supplementary group ids (groups listing the user as a member), primary first, no repeats. */
  gids: number[];
  /** Names of `gids` (a gid without a name: its decimal). */
  groups: string[];
}

function lines(path: string): string[][] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => l.split(':'));
}

export function userIdentity(
  uid: number,
  gid: number,
  files: { passwd?: string; group?: string } = {},
): UserIdentity {
  const passwd = lines(files.passwd ?? '/etc/passwd');
  const groupDb = lines(files.group ?? '/etc/group');
  const user = passwd.find((f) => Number(f[2]) === uid && f[2] !== '')?.[0] || String(uid);
  const nameOf = new Map<number, string>();
  for (const f of groupDb) if (f[2] !== undefined && f[2] !== '') nameOf.set(Number(f[2]), f[0]!);
  const gids = [gid];
  for (const f of groupDb) {
    const members = (f[3] ?? '').split(',').map((m) => m.trim());
    const g = Number(f[2]);
    if (members.includes(user) && Number.isSafeInteger(g) && g >= 0 && !gids.includes(g)) gids.push(g);
  }
  const kept = gids.slice(0, CREDENTIAL_GROUPS_MAX);
  return { user, gids: kept, groups: kept.map((g) => nameOf.get(g) || String(g)) };
}
