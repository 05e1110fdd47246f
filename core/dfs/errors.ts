import { constants } from 'node:os';
import { getSystemErrorMap } from 'node:util';
import { DaosError } from '../common/errors.js';

/** The POSIX error names libdfs reports (Node's `code` strings). */
export type PosixCode =
  | 'ENOENT'
  | 'EEXIST'
  | 'ENOTDIR'
  | 'EISDIR'
  | 'ENOTEMPTY'
  | 'EINVAL'
  | 'ELOOP'
  | 'ENAMETOOLONG'
  | 'EROFS'
  | 'EACCES'
  | 'EPERM'
  | 'EBADF'
  | 'ENODATA'
  | 'ERANGE'
  | 'E2BIG'
  | 'EFBIG'
  | 'ENOSPC'
  | 'EBUSY'
  | 'EIO';

/**
 * A failure of a DFS operation, shaped like Node's own file-system errors: `code` ('ENOENT'),
 * `errno` (negative, as Node gives it), `syscall` and `path`, and the message Node would print
 * ("ENOENT: no such file or directory, open '/a/b'"). A DaosError underneath is the `cause`.
 */
export class DfsError extends Error {
  readonly code: PosixCode;
  readonly errno: number;
  readonly syscall: string;
  readonly path: string | undefined;
  declare readonly dest?: string;

  constructor(code: PosixCode, syscall: string, path?: string, options?: { dest?: string; cause?: unknown }) {
    const errno = -(constants.errno as Record<string, number>)[code]!;
    const text = getSystemErrorMap().get(errno)?.[1] ?? code;
    const where =
      path === undefined ? '' : ` '${path}'${options?.dest === undefined ? '' : ` -> '${options.dest}'`}`;
    super(
      `${code}: ${text}, ${syscall}${where}`,
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = 'Error';
    this.code = code;
    this.errno = errno;
    this.syscall = syscall;
    this.path = path;
    if (options?.dest !== undefined) Object.assign(this, { dest: options.dest });
  }
}

/** The POSIX name for a DAOS error, as libdfs maps them (daos_der2errno). */
const DER_TO_POSIX: Readonly<Record<string, PosixCode>> = {
  DER_EXIST: 'EEXIST',
  DER_NONEXIST: 'ENOENT',
  DER_INVAL: 'EINVAL',
  DER_NO_PERM: 'EACCES',
  DER_NOSPACE: 'ENOSPC',
  DER_KEY2BIG: 'ENAMETOOLONG',
  DER_REC2BIG: 'E2BIG',
  DER_OVERFLOW: 'EFBIG',
  DER_BUSY: 'EBUSY',
  DER_NOTDIR: 'ENOTDIR',
  DER_NO_HDL: 'EBADF',
};

/** Re-raise a failure of a DAOS call inside a DFS operation as a DfsError (DfsErrors pass through). */
export function toDfsError(err: unknown, syscall: string, path?: string): DfsError {
  if (err instanceof DfsError) return err;
  const code = err instanceof DaosError ? (DER_TO_POSIX[err.code] ?? 'EIO') : 'EIO';
  const e = new DfsError(code, syscall, path, { cause: err });
  // An I/O error says nothing by its code alone: carry what went wrong underneath.
  if (code === 'EIO') e.message += ` (${err instanceof Error ? err.message : String(err)})`;
  return e;
}
