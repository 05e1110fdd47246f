import type { KeyObject } from 'node:crypto';
import { DaosError } from '../../core/common/errors.js';
import type { TokenCheck } from '../../core/daos/link.js';
import { type AclKind, KIND_PERMS, type Perm } from './acl.js';
import { importPublicKeyPem, open, seal } from './signed-envelope.js';

/**
 * Capability tokens: what the management service hands out at pool connect and container open,
 * and what engines check on every RPC with only the service's public key — no round trip. A token
 * says who may do what (permission letters, already filtered by the open mode) on which pool or
 * container, until when.
 */

/** How long a token lives unless the issuer says otherwise; the client renews before it runs out. */
export const TOKEN_TTL_MS_DEFAULT = 60 * 60 * 1000;
/** Most groups a token may carry. */
export const TOKEN_GROUPS_MAX = 256;
const TOKEN_TAG = 'dt1';

/** What a token asserts. `cont` is set exactly when `kind` is 'container'. */
export interface TokenClaims {
  readonly kind: AclKind;
  readonly pool: string;
  readonly cont?: string;
  /** Granted permission letters, e.g. 'rwt'. */
  readonly perms: string;
  /** The caller as a principal (`alice@`). */
  readonly user: string;
  readonly groups?: readonly string[];
  /** Wall-clock ms after which the token is refused. */
  readonly expiresMs: number;
}

/** The claims as verified: the issuer adds issuedMs. */
export interface VerifiedToken extends TokenClaims {
  readonly issuedMs: number;
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

/** Why `claims` is not a well-formed set of token claims, or undefined when it is. */
function claimsProblem(c: Record<string, unknown>): string | undefined {
  if (c.kind !== 'pool' && c.kind !== 'container') return 'kind is neither pool nor container';
  if (typeof c.pool !== 'string' || c.pool === '') return 'pool missing';
  if (c.kind === 'container' ? typeof c.cont !== 'string' || c.cont === '' : c.cont !== undefined) {
    return 'cont must be given exactly for a container token';
  }
  if (typeof c.perms !== 'string' || [...c.perms].some((ch) => !KIND_PERMS[c.kind as AclKind].includes(ch))) {
    return `perms must be letters of '${KIND_PERMS[c.kind]}'`;
  }
  if (typeof c.user !== 'string' || c.user === '') return 'user missing';
  if (c.groups !== undefined && (!isStringArray(c.groups) || c.groups.length > TOKEN_GROUPS_MAX)) {
    return `groups must be at most ${TOKEN_GROUPS_MAX} strings`;
  }
  if (!Number.isSafeInteger(c.expiresMs)) return 'expiresMs is not an integer';
  if (c.issuedMs !== undefined && !Number.isSafeInteger(c.issuedMs)) return 'issuedMs is not an integer';
  return undefined;
}

/** Sign `claims` with the management service's Ed25519 private key. */
export function issueToken(privateKey: KeyObject, claims: TokenClaims, now = Date.now()): string {
  const problem = claimsProblem(claims as unknown as Record<string, unknown>);
  if (problem !== undefined) throw new DaosError('DER_INVAL', `cannot issue token: ${problem}`);
  if (claims.expiresMs <= now)
    throw new DaosError('DER_INVAL', 'cannot issue token: expiresMs is not in the future');
  return seal(privateKey, TOKEN_TAG, { ...claims, issuedMs: now });
}

/**
 * The claims of a token signed by the holder of `publicKey` and not expired at `now`. DER_NO_PERM,
 * with a distinct message each, for a malformed token, another signer, an altered one, or an expired one.
 */
export function verifyToken(publicKey: KeyObject, token: string, now = Date.now()): VerifiedToken {
  const payload = open(publicKey, TOKEN_TAG, token, 'capability token');
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw new DaosError('DER_NO_PERM', 'capability token refused: malformed (payload is not an object)');
  }
  const problem = claimsProblem(payload as Record<string, unknown>);
  if (problem !== undefined)
    throw new DaosError('DER_NO_PERM', `capability token refused: malformed (${problem})`);
  const claims = payload as VerifiedToken;
  if (now >= claims.expiresMs) {
    throw new DaosError(
      'DER_NO_PERM',
      `capability token refused: expired at ${new Date(claims.expiresMs).toISOString()} (now ${new Date(now).toISOString()})`,
    );
  }
  return claims;
}

/**
 * Throw DER_NO_PERM unless verified `claims` cover `perm` on exactly this pool (and container):
 * what an engine asks of the token an RPC carries.
 */
export function requireTokenPerm(claims: VerifiedToken, perm: Perm, pool: string, cont?: string): void {
  const kind: AclKind = cont === undefined ? 'pool' : 'container';
  // Checked on every I/O: the messages (and anything they need) are built only for a refusal.
  if (claims.kind !== kind || claims.pool !== pool || claims.cont !== cont) {
    const held = placeText(claims.pool, claims.cont);
    throw new DaosError(
      'DER_NO_PERM',
      `token of ${claims.user} is for ${held}, not ${placeText(pool, cont)}`,
    );
  }
  if (!claims.perms.includes(perm)) {
    throw new DaosError(
      'DER_NO_PERM',
      `token of ${claims.user} lacks '${perm}' on ${placeText(pool, cont)}; has '${claims.perms}'`,
    );
  }
}

const placeText = (pool: string, cont: string | undefined) =>
  cont === undefined ? `pool ${pool}` : `container ${cont} of pool ${pool}`;

export type { TokenCheck };

/** Verified tokens kept per checker (signatures are checked once per token, expiry on every use). */
const TOKEN_CACHE_ENTRIES = 4096;

/** A TokenCheck that remembers imported keys and verified tokens (no signature check per RPC). */
export function tokenChecker(now: () => number = Date.now): TokenCheck {
  // Per service key (by its PEM text): the imported key and the tokens it verified.
  const keys = new Map<string, { key: KeyObject; verified: Map<string, VerifiedToken> }>();
  // The token checked last, with its key: a client's I/O carries the same token call after call.
  let lastPem: string | undefined;
  let lastToken: string | undefined;
  let lastClaims: VerifiedToken | undefined;
  return (publicKeyPem, token, perm, pool, cont) => {
    if (token === lastToken && publicKeyPem === lastPem && now() < lastClaims!.expiresMs) {
      requireTokenPerm(lastClaims!, perm, pool, cont);
      return;
    }
    let k = keys.get(publicKeyPem);
    if (k === undefined) {
      k = { key: importPublicKeyPem(publicKeyPem), verified: new Map() };
      keys.set(publicKeyPem, k);
    }
    let claims = k.verified.get(token);
    const t = now();
    if (claims === undefined) {
      claims = verifyToken(k.key, token, t);
      if (k.verified.size >= TOKEN_CACHE_ENTRIES) k.verified.clear();
      k.verified.set(token, claims);
    } else if (t >= claims.expiresMs) {
      k.verified.delete(token);
      claims = verifyToken(k.key, token, t); // throws: expired
    }
    lastPem = publicKeyPem;
    lastToken = token;
    lastClaims = claims;
    requireTokenPerm(claims, perm, pool, cont);
  };
}
