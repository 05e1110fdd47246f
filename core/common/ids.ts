import { randomUUID } from 'node:crypto';
import { DaosError } from './errors.js';
import { LABEL_BYTES_MAX } from './limits.js';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(s: string): boolean {
  return UUID_RE.test(s);
}

export function newUuid(): string {
  return randomUUID();
}

/** DAOS labels: 1..127 characters of [A-Za-z0-9_.:-], and not shaped like a UUID. */
export function checkLabel(label: unknown, what: string): asserts label is string {
  if (typeof label !== 'string' || label.length === 0)
    throw new DaosError('DER_INVAL', `${what} label must be a non-empty string`);
  if (label.length > LABEL_BYTES_MAX) {
    throw new DaosError(
      'DER_INVAL',
      `${what} label "${label.slice(0, 20)}..." is ${label.length} characters; the limit is ${LABEL_BYTES_MAX}`,
    );
  }
  if (!/^[A-Za-z0-9_.:-]+$/.test(label)) {
    throw new DaosError('DER_INVAL', `${what} label "${label}" may only hold letters, digits and _ . : -`);
  }
  if (isUuid(label)) throw new DaosError('DER_INVAL', `${what} label "${label}" must not look like a UUID`);
}
