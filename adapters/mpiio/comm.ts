import { DaosError } from '../../core/common/errors.js';
import type { DaosClient } from '../../core/daos/client.js';
import type { Pool } from '../../core/daos/pool.js';
import type { Dfs } from '../../core/dfs/dfs.js';

/** How long a rank waits for any one message before giving up (override: DAOS_MPI_TIMEOUT_MS). */
export const COMM_TIMEOUT_MS_DEFAULT = 120_000;

/** Messages from a rank to the launcher (structured-clone data). */
export type ToLauncher =
  | { t: 'send'; comm: string; to: number; from: number; tag: string; data: unknown }
  | { t: 'mgmt'; id: number; method: string; args: unknown[] }
  | { t: 'done'; result: unknown }
  | { t: 'fail'; error: string; aborted: boolean };

/** Messages from the launcher to a rank. */
export type ToRank =
  | { t: 'msg'; comm: string; from: number; tag: string; data: unknown }
  | { t: 'mgmtReply'; id: number; ok: boolean; value?: unknown; code?: string; message?: string }
  | { t: 'abort'; rank: number; error: string };

/** A rank's link to its launcher: a worker's parent port or a child process's IPC channel. */
export interface RankChannel {
  post(msg: ToLauncher): void;
  onMessage(handler: (msg: ToRank) => void): void;
}

/** What a rank is told when it starts. */
export interface RankInit {
  rank: number;
  size: number;
  moduleUrl: string;
  args: string[];
  timeoutMs: number;
  /** The shared system, when the job has one: engine addresses, pool and container labels. */
  system?: { engines: Array<{ rank: number; address: string }>; pool: string; container: string };
}

interface Waiter {
  resolve(v: unknown): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

type ReduceOp = 'sum' | 'min' | 'max' | 'prod';
type Reducible = number | bigint | ArrayLike<number> | ArrayLike<bigint> | Array<number | bigint>;

/**
 * One rank's end of a job: its mailbox (messages matched by communicator, source and tag), the
 * job's abort state, and its shared system. Every wait is bounded; once any rank of the job fails,
 * every wait (pending or later) rejects with DER_CANCELED naming that rank.
 */
export class RankCore {
  readonly world: Comm;
  readonly init: RankInit;
  private readonly boxes = new Map<string, { queue: unknown[]; waiters: Waiter[] }>();
  private aborted: DaosError | undefined;
  private mgmtSeq = 0;
  private readonly mgmtCalls = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private clientP: Promise<DaosClient> | undefined;
  private poolP: Promise<Pool> | undefined;
  private dfsP: Promise<Dfs> | undefined;

  constructor(
    readonly channel: RankChannel,
    init: RankInit,
  ) {
    this.init = init;
    channel.onMessage((msg) => this.receive(msg));
    this.world = new Comm(
      this,
      'w',
      Array.from({ length: init.size }, (_, i) => i),
      init.rank,
    );
  }

  private receive(msg: ToRank): void {
    if (msg.t === 'msg') {
      const box = this.box(msg.comm, msg.from, msg.tag);
      const w = box.waiters.shift();
      if (w) {
        clearTimeout(w.timer);
        w.resolve(msg.data);
      } else box.queue.push(msg.data);
    } else if (msg.t === 'mgmtReply') {
      const call = this.mgmtCalls.get(msg.id);
      this.mgmtCalls.delete(msg.id);
      if (!call) return;
      if (msg.ok) call.resolve(msg.value);
      else
        call.reject(
          msg.code?.startsWith('DER_')
            ? new DaosError(msg.code as 'DER_INVAL', msg.message ?? '')
            : new Error(msg.message ?? 'management call failed'),
        );
    } else if (msg.t === 'abort') {
      this.abort(new DaosError('DER_CANCELED', `rank ${msg.rank} failed: ${msg.error}`));
    }
  }

  private abort(err: DaosError): void {
    if (this.aborted) return;
    this.aborted = err;
    for (const box of this.boxes.values()) {
      for (const w of box.waiters.splice(0)) {
        clearTimeout(w.timer);
        w.reject(err);
      }
    }
    for (const c of this.mgmtCalls.values()) c.reject(err);
    this.mgmtCalls.clear();
  }

  /** Why the job is failing, if it is. */
  get failure(): DaosError | undefined {
    return this.aborted;
  }

  private box(comm: string, from: number, tag: string) {
    const key = `${comm}\u0000${from}\u0000${tag}`;
    let b = this.boxes.get(key);
    if (!b) {
      b = { queue: [], waiters: [] };
      this.boxes.set(key, b);
    }
    return b;
  }

  /** @internal */
  send(comm: string, fromWorld: number, toWorld: number, tag: string, data: unknown): void {
    if (this.aborted) throw this.aborted;
    if (toWorld === this.init.rank) {
      this.receive({ t: 'msg', comm, from: fromWorld, tag, data });
      return;
    }
    this.channel.post({ t: 'send', comm, from: fromWorld, to: toWorld, tag, data });
  }

  /** @internal */
  recv(comm: string, fromWorld: number, tag: string, what: string): Promise<unknown> {
    if (this.aborted) return Promise.reject(this.aborted);
    const box = this.box(comm, fromWorld, tag);
    if (box.queue.length > 0) return Promise.resolve(box.queue.shift());
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          const i = box.waiters.indexOf(w);
          if (i >= 0) box.waiters.splice(i, 1);
          reject(
            new DaosError(
              'DER_TIMEDOUT',
              `rank ${this.init.rank}: ${what} waited ${this.init.timeoutMs} ms for world rank ${fromWorld}`,
            ),
          );
        }, this.init.timeoutMs),
      };
      box.waiters.push(w);
    });
  }

  /** A management call run by the launcher's client of the shared system. */
  mgmtCall(method: string, args: unknown[]): Promise<unknown> {
    if (this.aborted) return Promise.reject(this.aborted);
    const id = ++this.mgmtSeq;
    return new Promise((resolve, reject) => {
      this.mgmtCalls.set(id, { resolve, reject });
      this.channel.post({ t: 'mgmt', id, method, args });
    });
  }

  /** @internal Set by rank-main, which can import the client without a cycle here. */
  makeClient: (() => Promise<DaosClient>) | undefined;
  /** @internal */
  makeDfs: ((pool: Pool, container: string) => Promise<Dfs>) | undefined;

  client(): Promise<DaosClient> {
    if (!this.init.system || !this.makeClient)
      throw new DaosError(
        'DER_UNINIT',
        'this job has no system: start it with { embedded: dir } or { system }',
      );
    this.clientP ??= this.makeClient();
    return this.clientP;
  }

  pool(): Promise<Pool> {
    this.poolP ??= this.client().then((c) => c.connectPool(this.init.system!.pool));
    return this.poolP;
  }

  dfs(): Promise<Dfs> {
    this.dfsP ??= this.pool().then((p) => this.makeDfs!(p, this.init.system!.container));
    return this.dfsP;
  }

  /** Unmount and disconnect what this rank opened. */
  async close(): Promise<void> {
    const dfs = await this.dfsP?.catch(() => undefined);
    await dfs?.umount().catch(() => undefined);
    const client = await this.clientP?.catch(() => undefined);
    await client?.close().catch(() => undefined);
  }
}

/**
 * A communicator: a group of ranks with MPI's collectives. Every rank of the group must call
 * the same collectives in the same order (as MPI requires); point-to-point `send`/`recv` match
 * by source and tag. Values are anything structured clone carries (numbers, bigints, strings,
 * typed arrays, plain objects).
 */
export class Comm {
  readonly rank: number;
  readonly size: number;
  private seq = 0;

  constructor(
    private readonly core: RankCore,
    readonly id: string,
    /** World rank of each member, by rank in this communicator. */
    private readonly members: number[],
    myWorld: number,
  ) {
    this.rank = members.indexOf(myWorld);
    this.size = members.length;
  }

  /** This rank's number in the whole job. */
  get worldRank(): number {
    return this.members[this.rank]!;
  }

  /** The job's shared system (a client), its pool, and the DFS mount of its container. */
  client(): Promise<DaosClient> {
    return this.core.client();
  }
  pool(): Promise<Pool> {
    return this.core.pool();
  }
  dfs(): Promise<Dfs> {
    return this.core.dfs();
  }

  send(dest: number, tag: number | string, data: unknown): void {
    this.checkRank(dest, 'dest');
    this.core.send(this.id, this.worldRank, this.members[dest]!, `u${tag}`, data);
  }

  recv(source: number, tag: number | string): Promise<unknown> {
    this.checkRank(source, 'source');
    return this.core.recv(this.id, this.members[source]!, `u${tag}`, `recv(${source}, ${tag})`);
  }

  async barrier(): Promise<void> {
    const tag = this.nextTag('barrier');
    await this.gatherAt(0, null, tag);
    await this.bcastFrom(0, null, tag);
  }

  async bcast<T>(value: T, root = 0): Promise<T> {
    this.checkRank(root, 'root');
    return this.bcastFrom(root, value, this.nextTag('bcast'));
  }

  /** The values of every rank, in rank order, at `root` (undefined elsewhere). */
  async gather<T>(value: T, root = 0): Promise<T[] | undefined> {
    this.checkRank(root, 'root');
    return this.gatherAt(root, value, this.nextTag('gather'));
  }

  async allgather<T>(value: T): Promise<T[]> {
    const tag = this.nextTag('allgather');
    const all = await this.gatherAt(0, value, tag);
    return this.bcastFrom(0, all as T[], tag);
  }

  /** allgather of values of any size (JS values carry their own lengths). */
  allgatherv<T>(value: T): Promise<T[]> {
    return this.allgather(value);
  }

  /** `values[j]` goes to rank j; resolves to what every rank sent this one, in rank order. */
  async alltoall<T>(values: T[]): Promise<T[]> {
    if (!Array.isArray(values) || values.length !== this.size)
      throw new DaosError(
        'DER_INVAL',
        `alltoall needs one value per rank (${this.size}), got ${values?.length}`,
      );
    const tag = this.nextTag('alltoall');
    for (let j = 0; j < this.size; j++)
      this.core.send(this.id, this.worldRank, this.members[j]!, tag, values[j]);
    return (await Promise.all(this.members.map((w) => this.core.recv(this.id, w, tag, 'alltoall')))) as T[];
  }

  alltoallv<T>(values: T[]): Promise<T[]> {
    return this.alltoall(values);
  }

  /** Combine every rank's value with `op` (elementwise for arrays) at `root`. */
  async reduce<T extends Reducible>(value: T, op: ReduceOp, root = 0): Promise<T | undefined> {
    this.checkRank(root, 'root');
    checkOp(op);
    const all = await this.gatherAt(root, value, this.nextTag('reduce'));
    return all === undefined ? undefined : fold(all, op);
  }

  async allreduce<T extends Reducible>(value: T, op: ReduceOp): Promise<T> {
    checkOp(op);
    const tag = this.nextTag('allreduce');
    const all = await this.gatherAt(0, value, tag);
    return this.bcastFrom(0, all === undefined ? (undefined as unknown as T) : fold(all, op), tag);
  }

  /**
   * Split into sub-communicators: ranks with the same `color` form one, ordered by `key` then by
   * rank. A `color` of undefined (MPI_UNDEFINED) gets no communicator.
   */
  async split(color: number | undefined, key = 0): Promise<Comm | undefined> {
    const n = this.seq;
    const all = await this.allgather([color ?? null, key]);
    if (color === undefined) return undefined;
    const members = all
      .map(([c, k], r) => ({ c, k: k as number, r }))
      .filter((m) => m.c === color)
      .sort((a, b) => a.k - b.k || a.r - b.r)
      .map((m) => this.members[m.r]!);
    return new Comm(this.core, `${this.id}.${n}.${color}`, members, this.worldRank);
  }

  /** A communicator with the same group and its own message space (MPI_Comm_dup). */
  async dup(): Promise<Comm> {
    const n = this.seq;
    await this.barrier();
    return new Comm(this.core, `${this.id}.d${n}`, this.members, this.worldRank);
  }

  // ---- internals ----

  private nextTag(op: string): string {
    return `c${this.seq++}:${op}`;
  }

  private async gatherAt<T>(root: number, value: T, tag: string): Promise<T[] | undefined> {
    const rootWorld = this.members[root]!;
    if (this.rank !== root) {
      this.core.send(this.id, this.worldRank, rootWorld, tag, value);
      return undefined;
    }
    return (await Promise.all(
      this.members.map((w, r) => (r === root ? value : this.core.recv(this.id, w, tag, `${tag} at root`))),
    )) as T[];
  }

  private async bcastFrom<T>(root: number, value: T, tag: string): Promise<T> {
    const rootWorld = this.members[root]!;
    if (this.rank === root) {
      for (let r = 0; r < this.size; r++)
        if (r !== root) this.core.send(this.id, rootWorld, this.members[r]!, `${tag}/b`, value);
      return value;
    }
    return (await this.core.recv(this.id, rootWorld, `${tag}/b`, `${tag} from root ${root}`)) as T;
  }

  private checkRank(r: number, what: string): void {
    if (!Number.isInteger(r) || r < 0 || r >= this.size)
      throw new DaosError('DER_INVAL', `${what} ${r} is not a rank of this communicator (size ${this.size})`);
  }
}

function checkOp(op: string): void {
  if (op !== 'sum' && op !== 'min' && op !== 'max' && op !== 'prod')
    throw new DaosError('DER_INVAL', `reduce op "${op}" must be sum, min, max or prod`);
}

function fold<T>(values: T[], op: ReduceOp): T {
  let acc: unknown = values[0];
  for (let i = 1; i < values.length; i++) acc = combine(acc, values[i], op);
  return acc as T;
}

function combine(a: unknown, b: unknown, op: ReduceOp): unknown {
  if ((typeof a === 'number' && typeof b === 'number') || (typeof a === 'bigint' && typeof b === 'bigint')) {
    const x = a as number;
    const y = b as number;
    // Comparisons rather than Math.min/max: these may be bigints.
    // biome-ignore lint/complexity/useMathMinMax: works for number and bigint alike
    return op === 'sum' ? x + y : op === 'prod' ? x * y : op === 'min' ? (y < x ? y : x) : y > x ? y : x;
  }
  if (ArrayBuffer.isView(a) || Array.isArray(a)) {
    const xs = a as unknown as ArrayLike<unknown>;
    const ys = b as unknown as ArrayLike<unknown>;
    if (xs.length !== ys.length)
      throw new DaosError('DER_INVAL', `reduce of arrays of lengths ${xs.length} and ${ys.length}`);
    const out = Array.isArray(a)
      ? new Array(xs.length)
      : new (a as unknown as { constructor: new (n: number) => unknown[] }).constructor(xs.length);
    for (let i = 0; i < xs.length; i++) (out as unknown[])[i] = combine(xs[i], ys[i], op);
    return out;
  }
  throw new DaosError('DER_INVAL', `cannot reduce values of type ${typeof a}`);
}
