/**
 * fallocate(2) for data files: the N-API addon of engine/bio/native, built by the package's
 * `install` script (node-gyp) and loaded on first use. Reserving blocks is an optimisation, so a
 * missing addon is not an error here: `reserveBlocks` then answers ENOSYS, as it does off Linux.
 */
import { constants } from 'node:os';
import { findAddon, loadAddon } from '../../core/common/addon.js';

interface FallocateAddon {
  allocate(fd: number, offset: number, length: number): number;
}

let addon: FallocateAddon | null | undefined;

function fallocateAddon(): FallocateAddon | null {
  if (addon === undefined) {
    const { path } = findAddon(import.meta.url, 'engine/bio', 'fallocate');
    addon = path === undefined ? null : loadAddon<FallocateAddon>(import.meta.url, path);
  }
  return addon;
}

/**
 * Allocate the blocks of bytes [offset, offset + length) of the file `fd` without changing its
 * size (FALLOC_FL_KEEP_SIZE). Returns 0, or the errno of the failure: ENOSPC, EOPNOTSUPP (a file
 * system without fallocate), ENOSYS (no addon, or not Linux).
 */
export function reserveBlocks(fd: number, offset: number, length: number): number {
  const a = fallocateAddon();
  return a === null ? constants.errno.ENOSYS : a.allocate(fd, offset, length);
}

/** Whether a failure of reserveBlocks is about space (worth trying again later), not support. */
export function isSpaceErrno(errno: number): boolean {
  return errno === constants.errno.ENOSPC || errno === constants.errno.EDQUOT;
}
