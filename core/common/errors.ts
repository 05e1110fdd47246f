/**
 * DaosError: the one error family of daos-ts. Names and numbers follow DAOS's daos_errno.h:
 * the GURT block counts down from -1001, the DAOS block from -2001, in DAOS's order.
 */

const GURT_NAMES = [
  'DER_NO_PERM',
  'DER_NO_HDL',
  'DER_INVAL',
  'DER_EXIST',
  'DER_NONEXIST',
  'DER_UNREACH',
  'DER_NOSPACE',
  'DER_ALREADY',
  'DER_NOMEM',
  'DER_NOSYS',
  'DER_TIMEDOUT',
  'DER_BUSY',
  'DER_AGAIN',
  'DER_PROTO',
  'DER_UNINIT',
  'DER_TRUNC',
  'DER_OVERFLOW',
  'DER_CANCELED',
  'DER_OOG',
  'DER_HG',
  'DER_UNREG',
  'DER_ADDRSTR_GEN',
  'DER_PMIX',
  'DER_IVCB_FORWARD',
  'DER_MISC',
  'DER_BADPATH',
  'DER_NOTDIR',
  'DER_CORPC_INCOMPLETE',
  'DER_NO_RAS_RANK',
  'DER_NOTATTACH',
  'DER_MISMATCH',
  'DER_EVICTED',
  'DER_NOREPLY',
  'DER_DOS',
  'DER_BAD_TARGET',
  'DER_GRPVER',
  'DER_HLC_SYNC',
] as const;

const DAOS_NAMES = [
  'DER_IO',
  'DER_FREE_MEM',
  'DER_ENOENT',
  'DER_NOTYPE',
  'DER_NOSCHEMA',
  'DER_NOLOCAL',
  'DER_STALE',
  'DER_NOTLEADER',
  'DER_TGT_CREATE',
  'DER_EP_RO',
  'DER_EP_OLD',
  'DER_KEY2BIG',
  'DER_REC2BIG',
  'DER_IO_INVAL',
  'DER_EQ_BUSY',
  'DER_DOMAIN',
  'DER_SHUTDOWN',
  'DER_INPROGRESS',
  'DER_NOTAPPLICABLE',
  'DER_NOTREPLICA',
  'DER_CSUM',
  'DER_DF_INVAL',
  'DER_DF_INCOMPT',
  'DER_REC_SIZE',
  'DER_TX_RESTART',
  'DER_DATA_LOSS',
  'DER_OP_CANCELED',
  'DER_TX_BUSY',
  'DER_AGENT_INCOMPAT',
  'DER_NEED_TX',
  'DER_RF',
  'DER_FETCH_AGAIN',
  'DER_TX_UNCERTAIN',
  'DER_AGENT_COMM',
  'DER_ID_MISMATCH',
  'DER_TGT_RETRY',
  'DER_NOTSUPPORTED',
] as const;

export type DerName = (typeof GURT_NAMES)[number] | (typeof DAOS_NAMES)[number];

const GURT_BASE = 1000;
const DAOS_BASE = 2000;

/** DER name -> negative DAOS errno. */
export const DER: Readonly<Record<DerName, number>> = Object.freeze(
  Object.fromEntries([
    ...GURT_NAMES.map((n, i) => [n, -(GURT_BASE + i + 1)] as const),
    ...DAOS_NAMES.map((n, i) => [n, -(DAOS_BASE + i + 1)] as const),
  ]) as Record<DerName, number>,
);

const NAME_BY_ERRNO = new Map<number, DerName>(Object.entries(DER).map(([n, e]) => [e, n as DerName]));

/** The DER name of a negative DAOS errno, or undefined when the number is not one of ours. */
export function derName(errno: number): DerName | undefined {
  return NAME_BY_ERRNO.get(errno);
}

/** Every failure in daos-ts: `code` is the DER name, `errno` the negative DAOS number. */
export class DaosError extends Error {
  readonly code: DerName;
  readonly errno: number;
  /**
   * Set on an error a peer answered with (rebuilt by `from`), as opposed to one raised here: a
   * DER_UNREACH a server replies (its own peer was unreachable) says nothing about this link.
   */
  remote = false;

  constructor(code: DerName, message: string, options?: { cause?: unknown }) {
    super(`${code}(${DER[code]}): ${message}`, options);
    this.name = 'DaosError';
    this.code = code;
    this.errno = DER[code];
  }

  /** Rebuild an error that crossed a boundary (wire, worker) from its code and message. */
  static from(code: string, message: string): DaosError {
    const name = (code in DER ? code : 'DER_MISC') as DerName;
    const prefix = `${name}(${DER[name]}): `;
    const err = new DaosError(name, message.startsWith(prefix) ? message.slice(prefix.length) : message);
    err.remote = true;
    return err;
  }
}

/**
 * Throw a DaosError of `code` unless `cond` holds: input validation at boundaries. On hot paths
 * pass the message as a function, so that it is only built when the check fails.
 */
export function check(cond: unknown, code: DerName, message: string | (() => string)): asserts cond {
  if (!cond) throw new DaosError(code, typeof message === 'function' ? message() : message);
}

/** Internal invariant: an impossible state stops loudly instead of corrupting data. */
export function assert(cond: unknown, message: string | (() => string) = 'assertion failed'): asserts cond {
  if (!cond) throw new Error(`invariant violated: ${typeof message === 'function' ? message() : message}`);
}
