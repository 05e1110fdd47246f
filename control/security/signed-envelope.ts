import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto';
import { DaosError } from '../../core/common/errors.js';

/**
 * The one signed container for capability tokens and agent credentials:
 *
 *   `<tag>.<key id>.<payload>.<signature>`
 *
 * `tag` names what the envelope is (`dt1` token, `dc1` credential) so one can never be passed off
 * as the other; `key id` is base64url of the first 8 bytes of SHA-256 over the signer's raw public
 * key; `payload` is base64url JSON; `signature` is base64url Ed25519 over the ASCII bytes of
 * `<tag>.<key id>.<payload>`. Every refusal is DER_NO_PERM with a message saying which check failed.
 */

/** A token or credential longer than this is refused unread (bounds the JSON parse). */
export const ENVELOPE_BYTES_MAX = 16 * 1024;
const SIGNATURE_BYTES = 64;
const KEY_ID_BYTES = 8;
const ED25519_SPKI_PREFIX_BYTES = 12;

/** An Ed25519 key pair for the management service (tokens) or an agent (credentials). */
export interface SigningKeyPair {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

/** A fresh Ed25519 key pair. */
export function generateKeyPair(): SigningKeyPair {
  return generateKeyPairSync('ed25519');
}

/** PEM of a key (PKCS#8 private, SPKI public), for a config file or an engine's environment. */
export function exportKeyPem(key: KeyObject): string {
  return key.type === 'private'
    ? key.export({ type: 'pkcs8', format: 'pem' }).toString()
    : key.export({ type: 'spki', format: 'pem' }).toString();
}

/** An Ed25519 private key from PEM; DER_INVAL for anything else. */
export function importPrivateKeyPem(pem: string): KeyObject {
  return checkEd25519(() => createPrivateKey(pem), 'private');
}

/** An Ed25519 public key from PEM (a private key PEM yields its public half); DER_INVAL for anything else. */
export function importPublicKeyPem(pem: string): KeyObject {
  return checkEd25519(() => createPublicKey(pem), 'public');
}

function checkEd25519(load: () => KeyObject, type: 'private' | 'public'): KeyObject {
  let key: KeyObject;
  try {
    key = load();
  } catch (cause) {
    throw new DaosError('DER_INVAL', `not a PEM ${type} key`, { cause });
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new DaosError('DER_INVAL', `${type} key is ${key.asymmetricKeyType}, not ed25519`);
  }
  return key;
}

/** Ids computed so far: a key object never changes, and every seal and open asks for its id. */
const keyIds = new WeakMap<KeyObject, string>();

/** Short public id of a key (either half of the pair): base64url of SHA-256(raw public key)[0..8). */
export function keyId(key: KeyObject): string {
  let id = keyIds.get(key);
  if (id === undefined) {
    const pub = key.type === 'private' ? createPublicKey(key) : key;
    const spki = pub.export({ type: 'spki', format: 'der' });
    const raw = spki.subarray(ED25519_SPKI_PREFIX_BYTES);
    id = createHash('sha256').update(raw).digest().subarray(0, KEY_ID_BYTES).toString('base64url');
    keyIds.set(key, id);
  }
  return id;
}

function assertKey(key: KeyObject, type: 'private' | 'public'): void {
  if (key.type !== type || key.asymmetricKeyType !== 'ed25519') {
    throw new DaosError(
      'DER_INVAL',
      `expected an ed25519 ${type} key, got ${key.asymmetricKeyType} ${key.type}`,
    );
  }
}

/** Sign `payload` (JSON-serialisable) under `tag`. */
export function seal(privateKey: KeyObject, tag: string, payload: unknown): string {
  assertKey(privateKey, 'private');
  const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
  const signed = `${tag}.${keyId(privateKey)}.${body}`;
  const signature = sign(null, Buffer.from(signed), privateKey).toString('base64url');
  const text = `${signed}.${signature}`;
  if (text.length > ENVELOPE_BYTES_MAX) {
    throw new DaosError('DER_INVAL', `${tag} envelope of ${text.length} bytes passes ${ENVELOPE_BYTES_MAX}`);
  }
  return text;
}

/** Strict base64url: only the alphabet, and it must re-encode to the same text (no trailing junk bits). */
function decodeBase64url(text: string): Buffer | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64url');
  return bytes.toString('base64url') === text ? bytes : undefined;
}

/**
 * Check an envelope's tag, key and signature and return its parsed payload. `what` names the
 * thing in errors ("capability token", "credential").
 */
export function open(publicKey: KeyObject, tag: string, text: string, what: string): unknown {
  assertKey(publicKey, 'public');
  const malformed = (why: string) => new DaosError('DER_NO_PERM', `${what} refused: malformed (${why})`);
  if (typeof text !== 'string' || text.length > ENVELOPE_BYTES_MAX) {
    throw malformed(`not a string of at most ${ENVELOPE_BYTES_MAX} bytes`);
  }
  const parts = text.split('.');
  if (parts.length !== 4) throw malformed(`expected 4 dot-separated parts, found ${parts.length}`);
  const [gotTag, kid, body, sig] = parts as [string, string, string, string];
  if (gotTag !== tag) throw malformed(`tag "${gotTag.slice(0, 16)}" is not "${tag}"`);
  const signature = decodeBase64url(sig);
  if (signature === undefined || signature.length !== SIGNATURE_BYTES) {
    throw malformed(`signature is not ${SIGNATURE_BYTES} bytes of base64url`);
  }
  const bytes = decodeBase64url(body);
  if (bytes === undefined || bytes.length === 0) throw malformed('payload is not base64url');
  const expectedKid = keyId(publicKey);
  if (kid !== expectedKid) {
    throw new DaosError(
      'DER_NO_PERM',
      `${what} refused: signed by another key (key id ${kid.slice(0, 16)}, trusted ${expectedKid})`,
    );
  }
  if (!verify(null, Buffer.from(`${gotTag}.${kid}.${body}`), publicKey, signature)) {
    throw new DaosError('DER_NO_PERM', `${what} refused: signature does not match its contents (altered)`);
  }
  try {
    return JSON.parse(bytes.toString('utf8')) as unknown;
  } catch {
    // Signed by our key yet unparsable: only a broken issuer produces this.
    throw malformed('signed payload is not JSON');
  }
}
