import { DaosError } from '../common/errors.js';
import { makeOid, OBJ_TYPES, type ObjType, type Oid } from '../common/oid.js';
import { objectLayout } from '../placement/layout.js';
import {
  checkClassForRf,
  type DefaultFor,
  defaultOclass,
  GROUPS_X,
  oclassByName,
  redunInfo,
} from '../placement/oclass.js';
import { type ArrayAttrs, DaosArray } from './array.js';
import { valueBytes } from './keys.js';
import { KV } from './kv.js';
import type { ContInfo, ContProps, ContPropsUpdate, SnapshotInfo } from './link.js';
import { DaosObject } from './object.js';
import type { Pool } from './pool.js';
import { Tx } from './tx.js';

/**
 * Object ids reserved per round trip to the management service (a signed, checked call: a DFS
 * create takes one id, so 256 cost ~3% of a create's time). Ids left when a handle closes are
 * not used; with 2^64 of them per container that costs nothing.
 */
const OID_BATCH = 4096;

export interface NewOidOptions {
  type?: ObjType;
  /** Object class name (S1, SX, ...); default from the container's properties. */
  oclass?: string;
}

/**
 * An open container: an object address space with properties, attributes and snapshots.
 * `atSnapshot(epoch)` gives a read-only view of the same container as it was at a snapshot.
 */
export class Container {
  readonly pool: Pool;
  readonly uuid: string;
  readonly mode: 'ro' | 'rw';
  /** Fixed read epoch of a snapshot view; undefined for a live handle. */
  readonly epoch: bigint | undefined;
  /** The capability token of this open (from a service that enforces ACLs): sent with every object RPC. */
  readonly token: string | undefined;
  private info: ContInfo;
  private closed = false;
  private oidNext = 0n;
  private oidEnd = 0n;
  /** Checked id shapes by type and class, for the pool map and properties they were checked against. */
  private readonly shapes = new Map<string, { type: ObjType; redun: number; groups: number }>();
  private shapesFor: { map: unknown; info: ContInfo } | undefined;
  private oidRefill: Promise<void> | undefined;

  constructor(pool: Pool, info: ContInfo, mode: 'ro' | 'rw', epoch?: bigint) {
    this.pool = pool;
    this.info = info;
    this.token = info.token;
    this.uuid = info.uuid;
    this.mode = mode;
    this.epoch = epoch;
  }

  get label(): string {
    return this.info.label;
  }

  get props(): ContProps {
    return { ...this.info.props };
  }

  /** @internal */
  checkOpen(): void {
    if (this.closed) throw new DaosError('DER_NO_HDL', `container "${this.info.label}" handle is closed`);
    this.pool.checkOpen();
  }

  /** @internal Writes need a live read-write handle. */
  checkWritable(): void {
    this.checkOpen();
    if (this.epoch !== undefined)
      throw new DaosError(
        'DER_NO_PERM',
        `container "${this.info.label}" is opened at snapshot ${this.epoch}: read-only`,
      );
    if (this.mode !== 'rw')
      throw new DaosError('DER_NO_PERM', `container "${this.info.label}" is opened read-only`);
  }

  private get mgmt() {
    return this.pool.link.mgmt;
  }

  /** Fresh container facts: label, type, properties, snapshots. */
  async query(): Promise<ContInfo> {
    this.checkOpen();
    this.info = await this.mgmt.contLookup(this.pool.uuid, this.uuid);
    return this.info;
  }

  /** Change properties (and the label); the redundancy factor is fixed at creation. */
  async setProps(props: ContPropsUpdate): Promise<void> {
    this.checkWritable();
    this.info = await this.mgmt.contSetProps(this.pool.uuid, this.uuid, props);
  }

  /** The container's owner, group and ACL entries (DAOS `daos container get-acl`). */
  async getAcl(): Promise<{ owner: string; group: string; entries: string[] }> {
    this.checkOpen();
    if (!this.mgmt.contGetAcl)
      throw new DaosError('DER_NOTSUPPORTED', 'this system does not keep container ACLs');
    return this.mgmt.contGetAcl(this.pool.uuid, this.uuid);
  }

  /** Add or replace ACL entries (`A::bob@:rw`); resolves to the new ACL. */
  async updateAcl(entries: string | readonly string[]): Promise<string[]> {
    this.checkWritable();
    if (!this.mgmt.contUpdateAcl)
      throw new DaosError('DER_NOTSUPPORTED', 'this system does not keep container ACLs');
    return this.mgmt.contUpdateAcl(this.pool.uuid, this.uuid, entries);
  }

  async setAttrs(attrs: Record<string, Uint8Array | string>): Promise<void> {
    this.checkWritable();
    const bytes = Object.fromEntries(
      Object.entries(attrs).map(([k, v]) => [k, valueBytes(v, `attribute "${k}"`)]),
    );
    await this.mgmt.contSetAttrs(this.pool.uuid, this.uuid, bytes);
  }

  async getAttr(name: string): Promise<Uint8Array | undefined> {
    this.checkOpen();
    return (await this.mgmt.contGetAttrs(this.pool.uuid, this.uuid))[name];
  }

  async listAttrs(): Promise<string[]> {
    this.checkOpen();
    return Object.keys(await this.mgmt.contGetAttrs(this.pool.uuid, this.uuid)).sort();
  }

  async delAttrs(names: string[]): Promise<void> {
    this.checkWritable();
    await this.mgmt.contDelAttrs(this.pool.uuid, this.uuid, names);
  }

  /** Reserve `count` object ids (user parts); resolves to the first. */
  async allocOids(count: number): Promise<bigint> {
    this.checkWritable();
    return this.mgmt.contAllocOids(this.pool.uuid, this.uuid, count);
  }

  /** A new object id of a type and class, unique in this container. */
  async newOid(options: NewOidOptions = {}): Promise<Oid> {
    this.checkWritable();
    const shape = this.oidShape(options);
    // Callers arriving while a batch is being reserved wait for it rather than reserve their own.
    while (this.oidNext === this.oidEnd) {
      this.oidRefill ??= this.mgmt
        .contAllocOids(this.pool.uuid, this.uuid, OID_BATCH)
        .then((first) => {
          this.oidNext = first;
          this.oidEnd = first + BigInt(OID_BATCH);
        })
        .finally(() => {
          this.oidRefill = undefined;
        });
      await this.oidRefill;
    }
    return makeOid(shape.type, shape.redun, shape.groups, this.oidNext++);
  }

  /**
   * The id of a given user part with a type and class, checked against this container's
   * redundancy factor and pool, without allocating it: for ids a layer reserves for itself (as
   * libdfs does its superblock and root directory; allocated ids start at 1 and stay below 2^64).
   */
  reservedOid(user: bigint, options: NewOidOptions = {}): Oid {
    this.checkOpen();
    const shape = this.oidShape(options);
    return makeOid(shape.type, shape.redun, shape.groups, user);
  }

  private oidShape(options: NewOidOptions): { type: ObjType; redun: number; groups: number } {
    // A file system creates objects of a few shapes over and over: check each once per pool map
    // (its layout depends on the targets) and per properties (the class on the redundancy factor).
    const map = this.pool.map;
    if (this.shapesFor?.map !== map || this.shapesFor.info !== this.info) {
      this.shapes.clear();
      this.shapesFor = { map, info: this.info };
    }
    const key = `${options.type ?? ''}/${options.oclass ?? ''}`;
    let shape = this.shapes.get(key);
    if (!shape) {
      shape = this.checkedShape(options);
      this.shapes.set(key, shape);
    }
    return shape;
  }

  private checkedShape(options: NewOidOptions): { type: ObjType; redun: number; groups: number } {
    const type = options.type ?? 'multi_hashed';
    if (!(type in OBJ_TYPES)) throw new DaosError('DER_INVAL', `unknown object type "${type}"`);
    const use: DefaultFor =
      type === 'array' || type === 'byte_array' ? 'array' : type.startsWith('kv') ? 'kv' : 'other';
    const cls = oclassByName(
      options.oclass ?? this.info.props.oclass ?? defaultOclass(this.info.props.redunFactor, use),
    );
    checkClassForRf(cls, this.info.props.redunFactor);
    const info = redunInfo(cls.redun);
    const map = this.pool.map;
    const targets = map.targets.length;
    const groups = cls.groups === GROUPS_X ? Math.max(1, Math.floor(targets / info.groupSize)) : cls.groups;
    // The layout must exist on this pool (enough targets, and ranks for a redundancy group).
    objectLayout(makeOid(type, cls.redun, groups, 0n), map);
    return { type, redun: cls.redun, groups };
  }

  /** An object handle (objects exist from their first write). */
  object(oid: Oid): DaosObject {
    this.checkOpen();
    return new DaosObject(this, oid);
  }

  /** A KV handle over an object. */
  kv(oid: Oid): KV {
    return new KV(this.object(oid));
  }

  /** Create an array object (DAOS array layout). */
  async createArray(options: Partial<ArrayAttrs> & { oclass?: string; oid?: Oid } = {}): Promise<DaosArray> {
    const oid = options.oid ?? (await this.newOid({ type: 'array', oclass: options.oclass }));
    return DaosArray.create(this, oid, {
      cellSize: options.cellSize ?? 1,
      chunkSize: options.chunkSize ?? this.info.props.chunkSize,
    });
  }

  async openArray(oid: Oid): Promise<DaosArray> {
    this.checkOpen();
    return DaosArray.open(this, oid);
  }

  /** Take a snapshot: a named epoch that reads can return to; resolves to the epoch. */
  async createSnapshot(name?: string): Promise<bigint> {
    this.checkWritable();
    return this.mgmt.snapCreate(this.pool.uuid, this.uuid, name);
  }

  async *listSnapshots(): AsyncGenerator<SnapshotInfo> {
    const info = await this.query();
    yield* info.snapshots;
  }

  async destroySnapshot(epoch: bigint): Promise<void> {
    this.checkWritable();
    await this.mgmt.snapDestroy(this.pool.uuid, this.uuid, epoch);
  }

  /** A read-only view of this container at a snapshot's epoch: the same object API. */
  atSnapshot(epoch: bigint): Container {
    this.checkOpen();
    if (typeof epoch !== 'bigint' || epoch <= 0n)
      throw new DaosError('DER_INVAL', 'snapshot epoch must be a positive bigint');
    const info = this.token === undefined ? this.info : { ...this.info, token: this.token };
    return new Container(this.pool, info, 'ro', epoch);
  }

  /** Open a transaction reading at a fresh epoch. */
  async openTx(): Promise<Tx> {
    this.checkWritable();
    return new Tx(this, this.pool.link.now());
  }

  /** Merge history that no snapshot needs, on every target (also runs in the background). */
  async aggregate(): Promise<{ recordsRemoved: number; bytesFreed: number }> {
    this.checkWritable();
    return this.mgmt.contAggregate(this.pool.uuid, this.uuid);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
