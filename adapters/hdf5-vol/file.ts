/**
 * An HDF5 file = a container of type HDF5. The global metadata object (lo 0) points at the root
 * group (lo 1); the file handle is also the root group, as in h5py.
 */
import { DaosError } from '../../core/common/errors.js';
import type { Oid } from '../../core/common/oid.js';
import type { Container } from '../../core/daos/container.js';
import { DaosObject } from '../../core/daos/object.js';
import type { Pool } from '../../core/daos/pool.js';
import { Group } from './group.js';
import {
  AKEY_ROOT,
  AKEY_VERSION,
  DATASET_OBJ_TYPE,
  type FileContext,
  GLOBAL_MD_USER,
  GROUP_OBJ_TYPE,
  LAYOUT_VERSION,
  MD_DKEY,
  ROOT_GROUP_USER,
  u64,
} from './layout.js';

/** h5py's file modes: r read-only, r+ read-write (must exist), w create or truncate, w- create (fail if it exists), a read-write or create. */
export type H5Mode = 'r' | 'r+' | 'w' | 'w-' | 'a';
const MODES: readonly H5Mode[] = ['r', 'r+', 'w', 'w-', 'a'];

/** The container label of `daos://pool/cont` (checked against `pool`), or `name` itself. */
function containerOf(pool: Pool, name: string): string {
  if (typeof name !== 'string' || name.length === 0)
    throw new DaosError('DER_INVAL', 'an HDF5 file is named by a container label or daos://pool/container');
  if (!name.startsWith('daos://')) return name;
  const m = /^daos:\/\/([^/]+)\/([^/]+)\/?$/.exec(name);
  if (!m) throw new DaosError('DER_INVAL', `'${name}' is not of the form daos://pool/container`);
  if (m[1] !== pool.label && m[1] !== pool.uuid)
    throw new DaosError('DER_INVAL', `'${name}' names pool '${m[1]}', but the pool given is '${pool.label}'`);
  return m[2]!;
}

/** Whether container `label` exists; DER_INVAL when it does but is not of type HDF5. */
async function exists(pool: Pool, label: string): Promise<boolean> {
  try {
    const info = await pool.link.mgmt.contLookup(pool.uuid, label);
    if (info.type !== 'HDF5')
      throw new DaosError(
        'DER_INVAL',
        `container '${pool.label}/${label}' is of type ${info.type}, not HDF5`,
      );
    return true;
  } catch (err) {
    if (err instanceof DaosError && err.code === 'DER_NONEXIST') return false;
    throw err;
  }
}

class Context implements FileContext {
  readonly container: Container;
  readonly writable: boolean;
  readonly label: string;
  readonly rootOid: Oid;
  readonly mode: H5Mode;

  constructor(container: Container, mode: H5Mode, label: string) {
    this.container = container;
    this.mode = mode;
    this.writable = mode !== 'r';
    this.label = label;
    this.rootOid = container.reservedOid(ROOT_GROUP_USER, { type: GROUP_OBJ_TYPE });
  }

  checkWritable(op: string): void {
    if (!this.writable)
      throw new DaosError('DER_NO_PERM', `cannot ${op}: file '${this.label}' is open read-only (mode 'r')`);
  }
}

/** An HDF5 file in a container (h5py's File, asynchronous); it is also the root group. */
export class H5File extends Group {
  readonly mode: H5Mode;
  readonly container: Container;

  private constructor(ctx: Context) {
    super(ctx, ctx.rootOid, '/');
    this.mode = ctx.mode;
    this.container = ctx.container;
  }

  /** The file's name: pool/container. */
  get filename(): string {
    return this.file.label;
  }

  /**
   * Open or create the file in container `name` (a label, or daos://pool/container) of `pool`.
   * 'w' destroys an existing container of that name and makes a new one (type HDF5).
   */
  static async open(pool: Pool, name: string, mode: H5Mode = 'r'): Promise<H5File> {
    if (!MODES.includes(mode))
      throw new DaosError('DER_INVAL', `mode must be one of ${MODES.join(', ')}, not '${mode}'`);
    const label = containerOf(pool, name);
    const fileLabel = `${pool.label}/${label}`;
    let fresh = false;
    if (mode === 'w' || mode === 'w-' || mode === 'a') {
      const there = await exists(pool, label);
      if (there && mode === 'w-')
        throw new DaosError('DER_EXIST', `file '${fileLabel}' exists (mode 'w-' creates only)`);
      if (there && mode === 'w') await pool.destroyContainer(label, { force: true });
      if (!there || mode === 'w') {
        await pool.createContainer({ label, type: 'HDF5' });
        fresh = true;
      }
    } else if (!(await exists(pool, label))) {
      throw new DaosError('DER_NONEXIST', `file '${fileLabel}' does not exist`);
    }
    const container = await pool.openContainer(label, { mode: mode === 'r' ? 'ro' : 'rw' });
    try {
      const ctx = new Context(container, mode, fileLabel);
      const gmd = new DaosObject(
        container,
        container.reservedOid(GLOBAL_MD_USER, { type: DATASET_OBJ_TYPE }),
      );
      const [root] = (await gmd.fetch(MD_DKEY, [{ akey: AKEY_ROOT, kind: 'single' }])) as [
        Uint8Array | undefined,
      ];
      if (!root) {
        if (!fresh && mode !== 'a')
          throw new DaosError('DER_NONEXIST', `container '${fileLabel}' holds no HDF5 file`);
        ctx.checkWritable('create the file');
        // Allocated ids start at 1: take it, so that no allocated object lands on the root group's id.
        await container.allocOids(1);
        await Group.init(ctx, ctx.rootOid);
        await gmd.update(MD_DKEY, [
          { akey: AKEY_VERSION, kind: 'single', value: u64(BigInt(LAYOUT_VERSION)) },
          { akey: AKEY_ROOT, kind: 'single', value: encodeOid(ctx.rootOid) },
        ]);
      }
      return new H5File(ctx);
    } catch (err) {
      await container.close();
      throw err;
    }
  }

  /** Close the file: later calls through it or its objects fail with DER_NO_HDL. */
  async close(): Promise<void> {
    await this.container.close();
  }
}

function encodeOid(oid: Oid): Uint8Array {
  const b = Buffer.alloc(16);
  b.writeBigUInt64LE(oid.hi, 0);
  b.writeBigUInt64LE(oid.lo, 8);
  return b;
}
