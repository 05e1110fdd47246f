/**
 * A group: one DAOS object whose dkeys are its link names (akey `Link`: hard = oid, soft = path,
 * both with a creation index), plus `/Internal Metadata` (creation properties, last creation index)
 * and `/Attribute`. Paths are h5py's: 'a/b/c' from this group, '/a/b' from the root.
 */
import { DaosError } from '../../core/common/errors.js';
import { type Oid, oidType } from '../../core/common/oid.js';
import { DaosObject } from '../../core/daos/object.js';
import { defaultOclass } from '../../core/placement/oclass.js';
import { AttributeManager } from './attrs.js';
import { Dataset, type DatasetOptions } from './dataset.js';
import {
  AKEY_CPL,
  AKEY_MAX_CORDER,
  checkName,
  DATASET_OBJ_TYPE,
  decodeLink,
  encodeLink,
  type FileContext,
  GROUP_OBJ_TYPE,
  json,
  LINK_AKEY,
  type LinkInfo,
  MD_DKEY,
  readU64,
  SOFT_LINK_HOPS_MAX,
  u64,
} from './layout.js';

export type H5Object = Group | Dataset;

function joinName(parent: string, name: string): string {
  return parent === '/' ? `/${name}` : `${parent}/${name}`;
}

/** Split a path into its names; '' and '.' parts drop out. Absolute paths start at the root. */
function splitPath(path: string): { absolute: boolean; parts: string[] } {
  if (typeof path !== 'string')
    throw new DaosError('DER_INVAL', `a path must be a string, not ${typeof path}`);
  return { absolute: path.startsWith('/'), parts: path.split('/').filter((p) => p !== '' && p !== '.') };
}

/** An HDF5 group in a container (h5py's Group, asynchronous). */
export class Group {
  readonly file: FileContext;
  readonly oid: Oid;
  /** Absolute path it was reached by ('/' for the root). */
  readonly name: string;
  readonly attrs: AttributeManager;
  protected readonly obj: DaosObject;

  /** @internal */
  constructor(file: FileContext, oid: Oid, name: string) {
    this.file = file;
    this.oid = oid;
    this.name = name;
    this.obj = new DaosObject(file.container, oid);
    this.attrs = new AttributeManager(this.obj, file, `group '${name}'`);
  }

  /** @internal Write a new group's metadata into object `oid`. */
  static async init(file: FileContext, oid: Oid): Promise<void> {
    await new DaosObject(file.container, oid).update(MD_DKEY, [
      { akey: AKEY_CPL, kind: 'single', value: json({ trackOrder: true }) },
      { akey: AKEY_MAX_CORDER, kind: 'single', value: u64(0n) },
    ]);
  }

  private root(): Group {
    return new Group(this.file, this.file.rootOid, '/');
  }

  /** The object a hard link points at. */
  private async openOid(oid: Oid, name: string): Promise<H5Object> {
    const type = oidType(oid);
    if (type === GROUP_OBJ_TYPE) return new Group(this.file, oid, name);
    const ds = await Dataset.open(this.file, oid, name);
    if (!ds)
      throw new DaosError(
        'DER_NONEXIST',
        `'${name}' points at object ${oid.hi}.${oid.lo}, which holds no dataset`,
      );
    return ds;
  }

  /** The link `name` of this group, or undefined. */
  async getLink(path: string): Promise<LinkInfo | undefined> {
    if (typeof path === 'string' && path.includes('/')) {
      const { parent, name } = await this.parentOf(path, false).catch((err: unknown) => {
        if (err instanceof DaosError && err.code === 'DER_NONEXIST') return { parent: undefined, name: '' };
        throw err;
      });
      return parent?.getLink(name);
    }
    const name = checkName(path, 'link name');
    const [v] = (await this.obj.fetch(name, [{ akey: LINK_AKEY, kind: 'single' }])) as [
      Uint8Array | undefined,
    ];
    return v ? decodeLink(v).link : undefined;
  }

  /**
   * Follow `path` from this group: the object, or undefined when a name on the way is missing (or
   * a soft link dangles). With `create`, missing groups on the way are made.
   */
  private async walk(path: string, create: boolean, hops = { n: 0 }): Promise<H5Object | undefined> {
    const { absolute, parts } = splitPath(path);
    let at: H5Object = absolute ? this.root() : this;
    for (const part of parts) {
      if (!(at instanceof Group))
        throw new DaosError('DER_NOTDIR', `'${at.name}' is a dataset, not a group (resolving '${path}')`);
      let link = await at.getLink(part);
      if (!link) {
        if (!create) return undefined;
        at = await at.makeGroup(part);
        continue;
      }
      if (link.type === 'soft') {
        if (++hops.n > SOFT_LINK_HOPS_MAX)
          throw new DaosError('DER_INVAL', `more than ${SOFT_LINK_HOPS_MAX} soft links resolving '${path}'`);
        const target = await at.walk(link.path, false, hops);
        if (!target) return undefined;
        // Keep the name the caller used.
        at = target instanceof Group ? new Group(this.file, target.oid, joinName(at.name, part)) : target;
        continue;
      }
      link = link as Extract<LinkInfo, { type: 'hard' }>;
      at = await this.openOid(link.oid, joinName(at.name, part));
    }
    return at;
  }

  /** The parent group of `path` (made when `create`) and the last name. */
  private async parentOf(path: string, create: boolean): Promise<{ parent: Group; name: string }> {
    const { absolute, parts } = splitPath(path);
    const name = parts.pop();
    if (name === undefined) throw new DaosError('DER_INVAL', `path '${path}' names no object`);
    checkName(name, 'name');
    const prefix = (absolute ? '/' : '') + parts.join('/');
    const parent = prefix === '' ? this : await this.walk(prefix, create);
    if (!parent) throw new DaosError('DER_NONEXIST', `group '${prefix}' does not exist (for '${path}')`);
    if (!(parent instanceof Group))
      throw new DaosError('DER_NOTDIR', `'${parent.name}' is a dataset, not a group`);
    return { parent, name };
  }

  /** Reserve the next creation index of this group. */
  private async nextCorder(): Promise<bigint> {
    const [v] = (await this.obj.fetch(MD_DKEY, [{ akey: AKEY_MAX_CORDER, kind: 'single' }])) as [
      Uint8Array | undefined,
    ];
    const next = readU64(v) + 1n;
    await this.obj.update(MD_DKEY, [{ akey: AKEY_MAX_CORDER, kind: 'single', value: u64(next) }]);
    return next;
  }

  /** Add link `name` (DER_EXIST when the name is taken: checked by the store, so races lose cleanly). */
  private async addLink(name: string, link: LinkInfo): Promise<void> {
    const corder = await this.nextCorder();
    try {
      await this.obj.update(name, [{ akey: LINK_AKEY, kind: 'single', value: encodeLink(link, corder) }], {
        cond: 'dkey_insert',
      });
    } catch (err) {
      if (err instanceof DaosError && err.code === 'DER_EXIST')
        throw new DaosError('DER_EXIST', `'${joinName(this.name, name)}' already exists`);
      throw err;
    }
  }

  private async makeGroup(name: string): Promise<Group> {
    this.file.checkWritable(`create group '${joinName(this.name, name)}'`);
    const oid = await this.file.container.newOid({ type: GROUP_OBJ_TYPE });
    await Group.init(this.file, oid);
    await this.addLink(name, { type: 'hard', oid });
    return new Group(this.file, oid, joinName(this.name, name));
  }

  /** Create group `path`, and any missing groups on the way; DER_EXIST when it exists. */
  async createGroup(path: string): Promise<Group> {
    this.file.checkWritable(`create group '${path}'`);
    const { parent, name } = await this.parentOf(path, true);
    if (await parent.getLink(name))
      throw new DaosError('DER_EXIST', `'${joinName(parent.name, name)}' already exists`);
    return parent.makeGroup(name);
  }

  /** Group `path`, created (with the groups on the way) when missing (h5py's require_group). */
  async requireGroup(path: string): Promise<Group> {
    const found = await this.get(path);
    if (found instanceof Group) return found;
    if (found) throw new DaosError('DER_EXIST', `'${found.name}' exists and is a dataset`);
    return this.createGroup(path);
  }

  /**
   * Create dataset `path` (groups on the way are made). Options and data are checked before
   * anything is written.
   */
  async createDataset(path: string, options: DatasetOptions): Promise<Dataset> {
    const what = `create dataset '${path}'`;
    this.file.checkWritable(what);
    const plan = Dataset.plan(options, what);
    if (options.data !== undefined) Dataset.checkData(plan, options.data, what);
    const { parent, name } = await this.parentOf(path, true);
    const full = joinName(parent.name, name);
    if (await parent.getLink(name)) throw new DaosError('DER_EXIST', `'${full}' already exists`);
    // Chunks spread over the pool's targets as an array's records do (SX at redundancy factor 0).
    const props = this.file.container.props;
    const oclass = props.oclass ?? defaultOclass(props.redunFactor, 'array');
    const oid = await this.file.container.newOid({ type: DATASET_OBJ_TYPE, oclass });
    const ds = await Dataset.create(this.file, oid, full, plan);
    if (options.data !== undefined) await ds.write(null, options.data);
    await parent.addLink(name, { type: 'hard', oid });
    return ds;
  }

  /** The group or dataset at `path`, or undefined. */
  async get(path: string): Promise<H5Object | undefined> {
    return this.walk(path, false);
  }

  async has(path: string): Promise<boolean> {
    return (await this.get(path)) !== undefined;
  }

  /** Link names of this group, in name order (default) or creation order. */
  async *keys(options: { order?: 'name' | 'creation' } = {}): AsyncGenerator<string> {
    const order = options.order ?? 'name';
    if (order !== 'name' && order !== 'creation')
      throw new DaosError('DER_INVAL', `order must be 'name' or 'creation', not ${String(order)}`);
    if (order === 'name') {
      for await (const k of this.obj.listDkeys()) {
        const s = (k as Buffer).toString('utf8');
        if (!s.startsWith('/')) yield s;
      }
      return;
    }
    const names: string[] = [];
    for await (const k of this.obj.listDkeys()) {
      const s = (k as Buffer).toString('utf8');
      if (!s.startsWith('/')) names.push(s);
    }
    const withOrder = await Promise.all(
      names.map(async (n) => {
        const [v] = (await this.obj.fetch(n, [{ akey: LINK_AKEY, kind: 'single' }])) as [
          Uint8Array | undefined,
        ];
        return { n, corder: v ? decodeLink(v).corder : 0n };
      }),
    );
    withOrder.sort((a, b) => (a.corder < b.corder ? -1 : a.corder > b.corder ? 1 : 0));
    for (const { n } of withOrder) yield n;
  }

  /** Hard link at `path` (groups on the way are made) to an object of the same file. */
  async link(path: string, target: H5Object): Promise<void> {
    this.file.checkWritable(`link '${path}'`);
    if (!(target instanceof Group) && !(target instanceof Dataset))
      throw new DaosError('DER_INVAL', 'a hard link target must be a Group or Dataset');
    if (target.file.container !== this.file.container)
      throw new DaosError(
        'DER_INVAL',
        `'${target.name}' belongs to another file; hard links stay within one file`,
      );
    const { parent, name } = await this.parentOf(path, true);
    await parent.addLink(name, { type: 'hard', oid: target.oid });
  }

  /** Soft link at `path` (groups on the way are made) to `target` (which need not exist). */
  async symlink(path: string, target: string): Promise<void> {
    this.file.checkWritable(`symlink '${path}'`);
    if (typeof target !== 'string' || target.length === 0)
      throw new DaosError('DER_INVAL', 'a soft link target must be a non-empty path');
    const { parent, name } = await this.parentOf(path, true);
    await parent.addLink(name, { type: 'soft', path: target });
  }

  /** Remove the link at `path` (the object stays reachable through its other hard links). */
  async delete(path: string): Promise<void> {
    this.file.checkWritable(`delete '${path}'`);
    const { parent, name } = await this.parentOf(path, false);
    try {
      await parent.obj.punchDkeys([name], { mustExist: true });
    } catch (err) {
      if (err instanceof DaosError && err.code === 'DER_NONEXIST')
        throw new DaosError('DER_NONEXIST', `group '${parent.name}' has no link '${name}'`);
      throw err;
    }
  }
}
