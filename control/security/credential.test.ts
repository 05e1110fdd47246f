import { describe, expect, it } from 'vitest';
import { DaosError } from '../../core/common/errors.js';
import {
  CREDENTIAL_CLOCK_SKEW_MS_MAX,
  CREDENTIAL_TTL_MS,
  type CredentialClaims,
  signCredential,
  verifyCredential,
} from './credential.js';
import { generateKeyPair } from './signed-envelope.js';
import { issueToken, verifyToken } from './token.js';

const NOW = Date.UTC(2025, 0, 1);
const intruder = generateKeyPair();

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

describe('agent credentials', () => {
  const agent = generateKeyPair();
  const cred: CredentialClaims = {
    uid: 1000,
    gid: 100,
    gids: [100, 27],
    pid: 4242,
    user: 'alice',
    groups: ['users', 'sudo'],
    machine: 'node-7',
    issuedMs: NOW,
  };

  it('round trip', () => {
    const text = signCredential(agent.privateKey, cred);
    expect(text.startsWith('dc1.')).toBe(true);
    expect(verifyCredential(agent.publicKey, text, NOW + 1000)).toEqual(cred);
  });

  it('refuses another key, an altered byte, a truncation, and an expired one', () => {
    const text = signCredential(agent.privateKey, cred);
    expect(
      refused(() => verifyCredential(agent.publicKey, signCredential(intruder.privateKey, cred), NOW)),
    ).toMatch(/credential refused: signed by another key/);
    const parts = text.split('.');
    const payload = Buffer.from(parts[2]!, 'base64url');
    payload[payload.indexOf('1000')] = '2'.charCodeAt(0); // uid 1000 -> 2000: pretend to be someone else
    parts[2] = payload.toString('base64url');
    expect(refused(() => verifyCredential(agent.publicKey, parts.join('.'), NOW))).toMatch(/altered/);
    expect(refused(() => verifyCredential(agent.publicKey, text.slice(0, text.length / 2), NOW))).toMatch(
      /malformed/,
    );
    expect(refused(() => verifyCredential(agent.publicKey, text, NOW + CREDENTIAL_TTL_MS))).toMatch(
      /credential refused: expired at/,
    );
    expect(verifyCredential(agent.publicKey, text, NOW + CREDENTIAL_TTL_MS - 1).uid).toBe(1000);
  });

  it('refuses one from the future beyond the clock skew', () => {
    const text = signCredential(agent.privateKey, {
      ...cred,
      issuedMs: NOW + CREDENTIAL_CLOCK_SKEW_MS_MAX + 1,
    });
    expect(refused(() => verifyCredential(agent.publicKey, text, NOW))).toMatch(/in the future/);
  });

  it('is not accepted as a capability token, nor a token as a credential', () => {
    const key = generateKeyPair();
    const text = signCredential(key.privateKey, cred);
    expect(refused(() => verifyToken(key.publicKey, text, NOW))).toMatch(
      /capability token refused: malformed \(tag "dc1"/,
    );
    const token = issueToken(
      key.privateKey,
      { kind: 'pool', pool: 'tank', perms: 'rt', user: 'alice@', expiresMs: NOW + 1 },
      NOW,
    );
    expect(refused(() => verifyCredential(key.publicKey, token, NOW))).toMatch(
      /credential refused: malformed \(tag "dt1"/,
    );
  });

  it('signer refuses nonsense claims', () => {
    expect(() => signCredential(agent.privateKey, { ...cred, uid: -1 })).toThrow(/DER_INVAL/);
    expect(() => signCredential(agent.privateKey, { ...cred, machine: '' })).toThrow(/machine missing/);
  });
});
