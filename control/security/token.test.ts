import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DaosError } from '../../core/common/errors.js';
import {
  ENVELOPE_BYTES_MAX,
  exportKeyPem,
  generateKeyPair,
  importPrivateKeyPem,
  importPublicKeyPem,
  keyId,
} from './signed-envelope.js';
import {
  issueToken,
  requireTokenPerm,
  TOKEN_TTL_MS_DEFAULT,
  type TokenClaims,
  tokenChecker,
  verifyToken,
} from './token.js';

const NOW = Date.UTC(2025, 0, 1);
const svc = generateKeyPair();
const intruder = generateKeyPair();

const claims: TokenClaims = {
  kind: 'container',
  pool: 'tank',
  cont: 'c1',
  perms: 'rwt',
  user: 'alice@',
  groups: ['staff@'],
  expiresMs: NOW + TOKEN_TTL_MS_DEFAULT,
};

function refused(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(DaosError);
    expect((e as DaosError).code).toBe('DER_NO_PERM');
    return (e as DaosError).message;
  }
  throw new Error('expected DER_NO_PERM');
}

/** The token with one byte of its decoded payload changed, re-encoded: valid shape, wrong contents. */
function withPayloadByteFlipped(text: string): string {
  const parts = text.split('.');
  const payload = Buffer.from(parts[2]!, 'base64url');
  const at = payload.indexOf('rwt');
  payload[at + 2] = 'T'.charCodeAt(0); // 'rwt' -> 'rwT': a different, plausible grant
  parts[2] = payload.toString('base64url');
  return parts.join('.');
}

describe('capability tokens', () => {
  it('round trip: the engine reads back what the service issued', () => {
    const token = issueToken(svc.privateKey, claims, NOW);
    expect(token).toMatch(/^dt1\.[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(verifyToken(svc.publicKey, token, NOW + 1)).toEqual({ ...claims, issuedMs: NOW });
    const pool = issueToken(
      svc.privateKey,
      { kind: 'pool', pool: 'tank', perms: 'rt', user: 'bob@', expiresMs: NOW + 1 },
      NOW,
    );
    expect(verifyToken(svc.publicKey, pool, NOW).kind).toBe('pool');
  });

  it('keys travel as PEM to engine processes', () => {
    const priv = importPrivateKeyPem(exportKeyPem(svc.privateKey));
    const pub = importPublicKeyPem(exportKeyPem(svc.publicKey));
    expect(keyId(pub)).toBe(keyId(svc.privateKey));
    expect(verifyToken(pub, issueToken(priv, claims, NOW), NOW).user).toBe('alice@');
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
    expect(() => importPublicKeyPem(exportKeyPem(rsa.publicKey))).toThrow(/DER_INVAL.*rsa, not ed25519/);
    expect(() => importPrivateKeyPem('not a key')).toThrow(/DER_INVAL.*not a PEM private key/);
  });

  it('refuses one signed with another key', () => {
    const forged = issueToken(intruder.privateKey, claims, NOW);
    expect(refused(() => verifyToken(svc.publicKey, forged, NOW))).toMatch(/signed by another key/);
  });

  it('refuses one whose payload was altered, even under the genuine key id', () => {
    const altered = withPayloadByteFlipped(issueToken(svc.privateKey, claims, NOW));
    expect(Buffer.from(altered.split('.')[2]!, 'base64url').toString()).toContain('"perms":"rwT"');
    expect(refused(() => verifyToken(svc.publicKey, altered, NOW))).toMatch(
      /does not match its contents \(altered\)/,
    );
  });

  it('refuses truncated and malformed ones', () => {
    const token = issueToken(svc.privateKey, claims, NOW);
    expect(refused(() => verifyToken(svc.publicKey, token.slice(0, -10), NOW))).toMatch(
      /malformed \(signature/,
    );
    expect(refused(() => verifyToken(svc.publicKey, token.slice(0, token.lastIndexOf('.')), NOW))).toMatch(
      /malformed \(expected 4 dot-separated parts, found 3\)/,
    );
    expect(refused(() => verifyToken(svc.publicKey, '', NOW))).toMatch(/malformed/);
    expect(refused(() => verifyToken(svc.publicKey, 'x'.repeat(ENVELOPE_BYTES_MAX + 1), NOW))).toMatch(
      /malformed/,
    );
    expect(refused(() => verifyToken(svc.publicKey, token.replace('dt1', 'dc1'), NOW))).toMatch(/tag "dc1"/);
    const badChar = token.split('.');
    badChar[2] = `${badChar[2]!.slice(1)}*`;
    expect(refused(() => verifyToken(svc.publicKey, badChar.join('.'), NOW))).toMatch(
      /payload is not base64url/,
    );
  });

  it('refuses an expired one', () => {
    const token = issueToken(svc.privateKey, claims, NOW);
    expect(verifyToken(svc.publicKey, token, claims.expiresMs - 1).pool).toBe('tank');
    expect(refused(() => verifyToken(svc.publicKey, token, claims.expiresMs))).toMatch(
      /expired at 2025-01-01T01:00:00.000Z/,
    );
  });

  it('issuer refuses nonsense claims', () => {
    expect(() => issueToken(svc.privateKey, { ...claims, perms: 'rc' }, NOW)).toThrow(/DER_INVAL.*perms/);
    expect(() => issueToken(svc.privateKey, { ...claims, cont: undefined }, NOW)).toThrow(/DER_INVAL.*cont/);
    expect(() => issueToken(svc.privateKey, { ...claims, expiresMs: NOW }, NOW)).toThrow(/DER_INVAL.*future/);
    expect(() => issueToken(svc.publicKey, claims, NOW)).toThrow(/DER_INVAL.*ed25519 private key/);
  });

  it('requireTokenPerm checks the target and the letter', () => {
    const verified = verifyToken(svc.publicKey, issueToken(svc.privateKey, claims, NOW), NOW);
    requireTokenPerm(verified, 'w', 'tank', 'c1');
    expect(refused(() => requireTokenPerm(verified, 'd', 'tank', 'c1'))).toMatch(/lacks 'd' on container c1/);
    expect(refused(() => requireTokenPerm(verified, 'r', 'tank', 'c2'))).toMatch(
      /is for container c1.*not container c2/,
    );
    expect(refused(() => requireTokenPerm(verified, 'r', 'tank'))).toMatch(/not pool tank/);
  });

  it('a checker asked again and again for one token still checks its expiry, target and letters', () => {
    let now = NOW;
    const check = tokenChecker(() => now);
    const pem = exportKeyPem(svc.publicKey);
    const token = issueToken(svc.privateKey, claims, NOW);
    check(pem, token, 'r', 'tank', 'c1');
    check(pem, token, 'w', 'tank', 'c1');
    expect(refused(() => check(pem, token, 'r', 'tank', 'c2'))).toMatch(/not container c2/);
    // Another token in between, then the first again: each is checked as its own.
    const other = issueToken(svc.privateKey, { ...claims, cont: 'c2', perms: 'r' }, NOW);
    check(pem, other, 'r', 'tank', 'c2');
    expect(refused(() => check(pem, other, 'w', 'tank', 'c2'))).toMatch(/lacks 'w'/);
    check(pem, token, 'w', 'tank', 'c1');
    now = claims.expiresMs;
    expect(refused(() => check(pem, token, 'r', 'tank', 'c1'))).toMatch(/expired/);
    expect(refused(() => check(pem, intruderSigned(), 'r', 'tank', 'c1'))).toMatch(/signature|key/);
  });
});

/** A token for the same claims signed with a key that is not the service's. */
function intruderSigned(): string {
  return issueToken(intruder.privateKey, claims, NOW);
}
