import type { KeyObject } from 'node:crypto';
import { DaosError } from '../../core/common/errors.js';
import { open, seal } from './signed-envelope.js';

/**
 * The agent's credential (DAOS AUTH_SYS): who a local process is, as the agent learnt it from the
 * kernel, signed with the agent's Ed25519 key. The management service checks it at pool connect
 * with the agent's public key and evaluates the pool ACL against its user and groups.
 */

/** How long a credential is accepted after the agent signed it. */
export const CREDENTIAL_TTL_MS = 5 * 60 * 1000;
/** How far in the future issuedMs may be (clocks of client and server nodes differ a little). */
export const CREDENTIAL_CLOCK_SKEW_MS_MAX = 30 * 1000;
/** Most supplementary groups (Linux NGROUPS_MAX is 65536; DAOS passes them all, we bound them). */
export const CREDENTIAL_GROUPS_MAX = 1024;
const CREDENTIAL_TAG = 'dc1';

/** What the agent vouches for. `user` and `groups` are names (`alice`), `gids` the supplementary ids. */
export interface CredentialClaims {
  readonly uid: number;
  readonly gid: number;
  readonly gids: readonly number[];
  readonly pid: number;
  readonly user: string;
  readonly groups: readonly string[];
  readonly machine: string;
  readonly issuedMs: number;
}

function isId(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

function claimsProblem(c: Record<string, unknown>): string | undefined {
  if (!isId(c.uid) || !isId(c.gid) || !isId(c.pid)) return 'uid, gid and pid must be non-negative integers';
  if (!Array.isArray(c.gids) || c.gids.length > CREDENTIAL_GROUPS_MAX || !c.gids.every(isId)) {
    return `gids must be at most ${CREDENTIAL_GROUPS_MAX} ids`;
  }
  if (typeof c.user !== 'string' || c.user === '') return 'user missing';
  if (!Array.isArray(c.groups) || c.groups.length > CREDENTIAL_GROUPS_MAX) {
    return `groups must be at most ${CREDENTIAL_GROUPS_MAX} names`;
  }
  if (!c.groups.every((g) => typeof g === 'string' && g !== '')) return 'groups must be names';
  if (typeof c.machine !== 'string' || c.machine === '') return 'machine missing';
  if (!Number.isSafeInteger(c.issuedMs)) return 'issuedMs is not an integer';
  return undefined;
}

/** Sign `claims` with the agent's Ed25519 private key. */
export function signCredential(agentKey: KeyObject, claims: CredentialClaims): string {
  const problem = claimsProblem(claims as unknown as Record<string, unknown>);
  if (problem !== undefined) throw new DaosError('DER_INVAL', `cannot sign credential: ${problem}`);
  return seal(agentKey, CREDENTIAL_TAG, claims);
}

/**
 * The claims of a credential signed by the agent holding `agentPublicKey`, issued no more than
 * CREDENTIAL_TTL_MS before `now` (and not from the future). DER_NO_PERM otherwise, each reason
 * with its own message.
 */
export function verifyCredential(
  agentPublicKey: KeyObject,
  cred: string,
  now = Date.now(),
): CredentialClaims {
  const payload = open(agentPublicKey, CREDENTIAL_TAG, cred, 'credential');
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw new DaosError('DER_NO_PERM', 'credential refused: malformed (payload is not an object)');
  }
  const problem = claimsProblem(payload as Record<string, unknown>);
  if (problem !== undefined) throw new DaosError('DER_NO_PERM', `credential refused: malformed (${problem})`);
  const claims = payload as CredentialClaims;
  const expiresMs = claims.issuedMs + CREDENTIAL_TTL_MS;
  if (now >= expiresMs) {
    throw new DaosError(
      'DER_NO_PERM',
      `credential refused: expired at ${new Date(expiresMs).toISOString()} (now ${new Date(now).toISOString()})`,
    );
  }
  if (claims.issuedMs > now + CREDENTIAL_CLOCK_SKEW_MS_MAX) {
    throw new DaosError(
      'DER_NO_PERM',
      `credential refused: issued at ${new Date(claims.issuedMs).toISOString()}, in the future (now ${new Date(now).toISOString()})`,
    );
  }
  return claims;
}
