/**
 * The two file systems mdtest runs on, behind the one shape they share (`fs.promises`'s, which
 * `DfsFs` copies): POSIX is node's fs.promises on a local directory, DFS is a DFS mount of a
 * container. The rank program calls only these methods.
 */
import { promises as nodeFs } from 'node:fs';
import { posix, resolve } from 'node:path';
import type { Comm } from '../../adapters/mpiio/comm.js';
import { Dfs } from '../../core/dfs/dfs.js';
import type { MdtestOptions } from './options.js';

/** An open file: positioned reads and writes. */
export interface MdHandle {
  write(
    buffer: Uint8Array,
    offset: number,
    length: number,
    position: number,
  ): Promise<{ bytesWritten: number }>;
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  close(): Promise<void>;
}

/** What mdtest does to a file system. Paths are absolute in that file system. */
export interface MdFs {
  mkdir(path: string, options: { mode: number; recursive?: boolean }): Promise<unknown>;
  rmdir(path: string): Promise<void>;
  stat(path: string): Promise<unknown>;
  unlink(path: string): Promise<void>;
  open(path: string, flags: string, mode?: number): Promise<MdHandle>;
}

/** A mounted backend and the test's base directory in it. */
export interface MdBackend {
  fs: MdFs;
  base: string;
  close(): Promise<void>;
}

/** The path inside the container for -d: --dfs.prefix stripped, made absolute. */
export function dfsPath(dir: string, prefix: string | undefined): string {
  let p = dir;
  if (prefix && (p === prefix || p.startsWith(`${prefix.replace(/\/+$/, '')}/`)))
    p = p.slice(prefix.replace(/\/+$/, '').length);
  return posix.join('/', p);
}

/** The container a DFS run uses when --dfs.cont is not given. */
export const MDTEST_CONTAINER_DEFAULT = 'mdtest';

/**
 * Open the backend in a rank. DFS: rank 0 mounts first (creating the container with the
 * --dfs.* classes and chunk size when it is new), then the others, so they never race the create.
 */
export async function openBackend(comm: Comm, o: MdtestOptions): Promise<MdBackend> {
  if (o.api === 'POSIX') {
    return { fs: nodeFs as unknown as MdFs, base: resolve(o.dir), close: async () => {} };
  }
  const pool = await comm.pool();
  const mount = () =>
    Dfs.mount(pool, o.dfs.cont ?? MDTEST_CONTAINER_DEFAULT, {
      create: true,
      oclass: o.dfs.oclass,
      dirOclass: o.dfs.dirOclass,
      chunkSize: o.dfs.chunkSize,
    });
  let dfs: Dfs | undefined;
  if (comm.rank === 0) dfs = await mount();
  await comm.barrier();
  dfs ??= await mount();
  const mounted = dfs;
  return {
    fs: mounted.fs as unknown as MdFs,
    base: dfsPath(o.dir, o.dfs.prefix),
    close: () => mounted.umount(),
  };
}
