/**
 * IOR's APIs in a rank: POSIX (node:fs), DFS (a DfsFile on the job's container or --dfs.cont),
 * DAOS (one DaosArray per file name, as IOR's DAOS driver), MPIIO (MpiFile, -c collective) and
 * HDF5 (a 1-D dataset in an HDF5 file = a container, -c collective).
 * `open` is collective over the communicator of the ranks sharing the file (the world for a
 * shared file, the rank alone with -F).
 */
import { constants, type FileHandle, open, rm, stat } from 'node:fs/promises';
import { type Dataset, H5File } from '../../adapters/hdf5-vol/index.js';
import type { Comm } from '../../adapters/mpiio/comm.js';
import { MODE_CREATE, MODE_RDONLY, MODE_RDWR, MpiFile } from '../../adapters/mpiio/file.js';
import { DaosError } from '../../core/common/errors.js';
import { DaosArray } from '../../core/daos/array.js';
import type { Container } from '../../core/daos/container.js';
import type { Pool } from '../../core/daos/pool.js';
import { Dfs } from '../../core/dfs/dfs.js';
import { DfsError } from '../../core/dfs/errors.js';
import type { DfsFile } from '../../core/dfs/file.js';
import type { IorOptions } from './options.js';

/** Chunk of a DAOS-API array when --dfs.chunk_size is not given (IOR's DAOS driver: 1 MiB). */
export const DAOS_ARRAY_CHUNK_BYTES_DEFAULT = 1 << 20;

export interface IorHandle {
  /** Write all of `buf` at `offset`. */
  write(buf: Uint8Array, offset: number): Promise<void>;
  /** Fill `buf` from `offset`; bytes past the end of the file read as zeros. */
  read(buf: Uint8Array, offset: number): Promise<void>;
  sync(): Promise<void>;
  close(): Promise<void>;
}

export interface IorBackend {
  open(name: string, mode: 'write' | 'read', fileComm: Comm): Promise<IorHandle>;
  /** Remove a file (missing is fine). */
  remove(name: string): Promise<void>;
  size(name: string): Promise<number>;
  /** Release what the backend holds (collective over the world). */
  close(world: Comm): Promise<void>;
}

/** The backend of `o.api` for this rank. */
export async function openBackend(o: IorOptions, world: Comm, container: string): Promise<IorBackend> {
  switch (o.api) {
    case 'POSIX':
      return new PosixBackend();
    case 'DFS':
      return new DfsBackend(o, await mountJobDfs(o, world, container));
    case 'DAOS':
      return DaosBackend.open(o, world, container);
    case 'MPIIO':
      return new MpiioBackend(
        o,
        o.testFileName.startsWith('daos:') ? await mountJobDfs(o, world, container) : undefined,
      );
    case 'HDF5':
      return new Hdf5Backend(o, await world.pool());
  }
}

/** Mount the job's DFS container with the --dfs.* settings: rank 0 first (it may create it). */
async function mountJobDfs(o: IorOptions, world: Comm, container: string): Promise<Dfs> {
  const mount = async () =>
    Dfs.mount(await world.pool(), container, {
      create: true,
      chunkSize: o.dfs.chunkSize,
      oclass: o.dfs.oclass,
      dirOclass: o.dfs.dirOclass,
    });
  let dfs: Dfs | undefined;
  if (world.rank === 0) dfs = await mount();
  await world.barrier();
  return dfs ?? mount();
}

/** A DFS path from an IOR file name: --dfs.prefix (a dfuse mount point) stripped, rooted. */
function dfsPath(o: IorOptions, name: string): string {
  let p = name.startsWith('daos:') ? name.slice('daos:'.length) : name;
  const prefix = o.dfs.prefix?.replace(/\/+$/, '');
  if (prefix && (p === prefix || p.startsWith(`${prefix}/`))) p = p.slice(prefix.length);
  return p.startsWith('/') ? p : `/${p}`;
}

class PosixBackend implements IorBackend {
  async open(name: string, mode: 'write' | 'read'): Promise<IorHandle> {
    const fh: FileHandle = await open(
      name,
      mode === 'write' ? constants.O_CREAT | constants.O_RDWR : constants.O_RDONLY,
      0o664,
    );
    return {
      async write(buf, offset) {
        for (let done = 0; done < buf.byteLength; ) {
          const { bytesWritten } = await fh.write(buf, done, buf.byteLength - done, offset + done);
          done += bytesWritten;
        }
      },
      async read(buf, offset) {
        let done = 0;
        while (done < buf.byteLength) {
          const { bytesRead } = await fh.read(buf, done, buf.byteLength - done, offset + done);
          if (bytesRead === 0) break;
          done += bytesRead;
        }
        buf.fill(0, done);
      },
      sync: () => fh.sync(),
      close: () => fh.close(),
    };
  }
  remove(name: string): Promise<void> {
    return rm(name, { force: true });
  }
  async size(name: string): Promise<number> {
    return (await stat(name)).size;
  }
  async close(): Promise<void> {}
}

function dfsHandle(file: DfsFile): IorHandle {
  return {
    async write(buf, offset) {
      await file.write(buf, offset);
    },
    async read(buf, offset) {
      const n = await file.read(buf, 0, buf.byteLength, offset);
      buf.fill(0, n);
    },
    sync: () => file.sync(),
    close: () => file.close(),
  };
}

class DfsBackend implements IorBackend {
  constructor(
    private readonly o: IorOptions,
    private readonly dfs: Dfs,
  ) {}

  async open(name: string, mode: 'write' | 'read'): Promise<IorHandle> {
    const path = dfsPath(this.o, name);
    if (mode === 'write') {
      // Created with the --dfs.oclass / --dfs.chunk_size of this run; racing ranks share one.
      try {
        await this.dfs.create(path, { chunkSize: this.o.dfs.chunkSize, oclass: this.o.dfs.oclass });
      } catch (err) {
        if (!(err instanceof DfsError && err.code === 'EEXIST')) throw err;
      }
    }
    return dfsHandle(await this.dfs.open(path, { read: true, write: mode === 'write' }));
  }
  async remove(name: string): Promise<void> {
    await this.dfs.unlink(dfsPath(this.o, name)).catch((err: unknown) => {
      if (!(err instanceof DfsError && err.code === 'ENOENT')) throw err;
    });
  }
  async size(name: string): Promise<number> {
    return (await this.dfs.stat(dfsPath(this.o, name))).size;
  }
  async close(): Promise<void> {
    await this.dfs.umount();
  }
}

/** FNV-1a 64 of a name: the array's id, as IOR's DAOS driver hashes its file name into an oid. */
function nameHash(name: string): bigint {
  let h = 0xcbf29ce484222325n;
  for (const b of Buffer.from(name)) h = ((h ^ BigInt(b)) * 0x100000001b3n) & 0xffff_ffff_ffff_ffffn;
  return h;
}

class DaosBackend implements IorBackend {
  private constructor(
    private readonly o: IorOptions,
    private readonly cont: Container,
  ) {}

  /** Open (rank 0 creating it when missing) the container the arrays live in. */
  static async open(o: IorOptions, world: Comm, label: string): Promise<DaosBackend> {
    const pool = await world.pool();
    if (world.rank === 0) {
      try {
        await pool.createContainer({ label });
      } catch (err) {
        if (!(err instanceof DaosError && err.code === 'DER_EXIST')) throw err;
      }
    }
    await world.barrier();
    return new DaosBackend(o, await pool.openContainer(label, { mode: 'rw' }));
  }

  private oid(name: string) {
    // The top bit keeps hashed ids apart from allocated ones (which count up from 1).
    const user = (1n << 63n) | (nameHash(name) >> 1n);
    return this.cont.reservedOid(user, { type: 'array', oclass: this.o.dfs.oclass });
  }

  async open(name: string, mode: 'write' | 'read', fileComm: Comm): Promise<IorHandle> {
    const oid = this.oid(name);
    let array: DaosArray | undefined;
    if (mode === 'write' && fileComm.rank === 0) {
      try {
        array = await DaosArray.create(this.cont, oid, {
          cellSize: 1,
          chunkSize: this.o.dfs.chunkSize ?? DAOS_ARRAY_CHUNK_BYTES_DEFAULT,
        });
      } catch (err) {
        if (!(err instanceof DaosError && err.code === 'DER_EXIST')) throw err;
      }
    }
    if (fileComm.size > 1) await fileComm.barrier();
    const a = array ?? (await DaosArray.open(this.cont, oid));
    return {
      write: (buf, offset) => a.write(offset, buf),
      async read(buf, offset) {
        await a.read(offset, buf.byteLength, { into: buf });
      },
      // Every array write is durable once it resolved.
      sync: async () => {},
      close: async () => {},
    };
  }
  async remove(name: string): Promise<void> {
    await this.cont.object(this.oid(name)).punch();
  }
  async size(name: string): Promise<number> {
    return Number(await (await DaosArray.open(this.cont, this.oid(name))).getSize());
  }
  async close(): Promise<void> {
    await this.cont.close();
  }
}

class MpiioBackend implements IorBackend {
  constructor(
    private readonly o: IorOptions,
    private readonly dfs: Dfs | undefined,
  ) {}

  async open(name: string, mode: 'write' | 'read', fileComm: Comm): Promise<IorHandle> {
    const f = await MpiFile.open(
      fileComm,
      name,
      mode === 'write' ? MODE_CREATE | MODE_RDWR : MODE_RDONLY,
      {},
      this.dfs ? { dfs: this.dfs } : {},
    );
    const collective = this.o.collective;
    return {
      async write(buf, offset) {
        if (collective) await f.writeAtAll(offset, buf);
        else await f.writeAt(offset, buf);
      },
      async read(buf, offset) {
        const n = collective ? await f.readAtAll(offset, buf) : await f.readAt(offset, buf);
        buf.fill(0, n);
      },
      sync: () => f.sync(),
      close: () => f.close(),
    };
  }
  async remove(name: string): Promise<void> {
    if (this.dfs) await new DfsBackend(this.o, this.dfs).remove(name);
    else await rm(name, { force: true });
  }
  async size(name: string): Promise<number> {
    return this.dfs ? new DfsBackend(this.o, this.dfs).size(name) : (await stat(name)).size;
  }
  async close(): Promise<void> {
    await this.dfs?.umount();
  }
}

/** The dataset IOR's HDF5 driver writes into. */
export const HDF5_DATASET_NAME = 'Dataset';

/**
 * IOR's HDF5 API: the test file is an HDF5 file (a container of type HDF5, labelled from the file
 * name), holding one 1-D dataset of bytes ('|u1') as long as the file (tasks sharing it × block ×
 * segments); a transfer is a hyperslab of it. With -c each transfer is collective: the ranks of
 * the file synchronize on it, as H5Dwrite with H5FD_MPIO_COLLECTIVE does; the data itself moves
 * per rank, as the DAOS VOL moves it.
 */
class Hdf5Backend implements IorBackend {
  constructor(
    private readonly o: IorOptions,
    private readonly pool: Pool,
  ) {}

  /** A container label from an IOR file name: daos: and leading slashes dropped, other characters as '_'. */
  private label(name: string): string {
    const bare = name.replace(/^daos:/, '').replace(/^\/+/, '');
    return bare.replace(/[^A-Za-z0-9_.:-]/g, '_').slice(-120) || 'testFile';
  }

  async open(name: string, mode: 'write' | 'read', fileComm: Comm): Promise<IorHandle> {
    const label = this.label(name);
    let file: H5File | undefined;
    if (mode === 'write' && fileComm.rank === 0) {
      file = await H5File.open(this.pool, label, 'w');
      const length = fileComm.size * this.o.blockSize * this.o.segmentCount;
      await file.createDataset(HDF5_DATASET_NAME, { shape: [length], dtype: '|u1' });
    }
    if (fileComm.size > 1) await fileComm.barrier();
    file ??= await H5File.open(this.pool, label, mode === 'write' ? 'r+' : 'r');
    const f = file;
    const ds = (await f.get(HDF5_DATASET_NAME)) as Dataset;
    const collective = this.o.collective && fileComm.size > 1;
    return {
      async write(buf, offset) {
        await ds.write([[offset, offset + buf.byteLength]], buf);
        if (collective) await fileComm.barrier();
      },
      async read(buf, offset) {
        await ds.readDirect(buf, [[offset, offset + buf.byteLength]]);
        if (collective) await fileComm.barrier();
      },
      // Every dataset write is durable once it resolved.
      sync: async () => {},
      close: () => f.close(),
    };
  }
  async remove(name: string): Promise<void> {
    await this.pool.destroyContainer(this.label(name), { force: true }).catch((err: unknown) => {
      if (!(err instanceof DaosError && err.code === 'DER_NONEXIST')) throw err;
    });
  }
  async size(name: string): Promise<number> {
    const f = await H5File.open(this.pool, this.label(name), 'r');
    try {
      return ((await f.get(HDF5_DATASET_NAME)) as Dataset).shape[0]!;
    } finally {
      await f.close();
    }
  }
  async close(): Promise<void> {}
}
