/**
 * The mdtest task: the rank program spawnRanks runs in every task (compiled to
 * dist/bench/mdtest/rank.js). args[0] is the options as JSON. Per iteration: tree creation,
 * then the directory phases, then the file phases (create, stat, read, remove, each timed
 * between barriers), then tree removal; resolves to this task's times and rates per operation.
 */
import type { Comm } from '../../adapters/mpiio/comm.js';
import { type MdBackend, type MdFs, openBackend } from './backend.js';
import {
  type ItemKind,
  itemPath,
  type Phase,
  phaseOwner,
  testDirPath,
  treeDirPath,
  treeStem,
} from './layout.js';
import { type MdtestOptions, type TreeShape, treeShape } from './options.js';
import { OP, OPERATION_COUNT } from './summary.js';

const DIR_MODE = 0o775;
const FILE_MODE = 0o664;

/** One task's figures for one iteration: seconds and ops/s per operation (OP order). */
export interface RankIteration {
  time: number[];
  rate: number[];
  /** File creation under -W: items this task created before the wall, when it stopped, whether it hit it. */
  stonewall?: { items: number; seconds: number; hit: boolean };
}

export interface RankResult {
  iterations: RankIteration[];
  /** Items read back whose bytes were not what the create phase wrote. */
  verifyErrors: number;
}

/** mdtest's file contents: the item number in the first 8 bytes (LE), then byte i = i + 1. */
export function fillItem(buf: Buffer, item: number): void {
  for (let i = 0; i < buf.length; i++) buf[i] = (i + 1) & 0xff;
  if (buf.length >= 8) buf.writeBigUInt64LE(BigInt(item), 0);
  else if (buf.length > 0) buf[0] = item & 0xff;
}

/** Whether `buf` holds what fillItem wrote for `item`. */
export function checkItem(buf: Buffer, item: number): boolean {
  if (buf.length >= 8 ? buf.readBigUInt64LE(0) !== BigInt(item) : buf.length > 0 && buf[0] !== (item & 0xff))
    return false;
  for (let i = Math.min(8, buf.length) || 1; i < buf.length; i++)
    if (buf[i] !== ((i + 1) & 0xff)) return false;
  return true;
}

class Task {
  private readonly shape: TreeShape;
  private readonly writeBuf: Buffer;
  private readonly readBuf: Buffer;
  verifyErrors = 0;

  constructor(
    private readonly comm: Comm,
    private readonly o: MdtestOptions,
    private readonly be: MdBackend,
  ) {
    this.shape = treeShape(o);
    this.writeBuf = Buffer.alloc(o.writeBytes);
    this.readBuf = Buffer.alloc(o.readBytes);
  }

  private get fs(): MdFs {
    return this.be.fs;
  }

  /** Run `work` between two barriers; resolves to its seconds. */
  private async timed(work: () => Promise<void>): Promise<number> {
    await this.comm.barrier();
    const t0 = performance.now();
    await work();
    await this.comm.barrier();
    return (performance.now() - t0) / 1000;
  }

  private path(testDir: string, kind: ItemKind, phase: Phase, n: number): string {
    const owner = phaseOwner(phase, this.comm.rank, this.comm.size, this.o.stride);
    const stem = treeStem(this.o.uniqueDir, owner);
    return `${testDir}/${itemPath(stem, this.shape, this.o.branch, kind, owner, n)}`;
  }

  private async createItem(testDir: string, kind: ItemKind, n: number): Promise<void> {
    const p = this.path(testDir, kind, 'create', n);
    if (kind === 'dir') {
      await this.fs.mkdir(p, { mode: DIR_MODE });
      return;
    }
    const fh = await this.fs.open(p, 'w', FILE_MODE);
    try {
      if (this.o.writeBytes > 0) {
        fillItem(this.writeBuf, n + this.shape.firstItemDir * this.shape.itemsPerDir);
        const { bytesWritten } = await fh.write(this.writeBuf, 0, this.o.writeBytes, 0);
        if (bytesWritten !== this.o.writeBytes) throw new Error(`unable to write file ${p}`);
      }
    } finally {
      await fh.close();
    }
  }

  private async readItem(testDir: string, n: number): Promise<void> {
    const p = this.path(testDir, 'file', 'read', n);
    const fh = await this.fs.open(p, 'r');
    try {
      if (this.o.readBytes > 0) {
        this.readBuf.fill(42);
        const { bytesRead } = await fh.read(this.readBuf, 0, this.o.readBytes, 0);
        if (bytesRead !== this.o.readBytes) throw new Error(`unable to read file ${p}: ${bytesRead} bytes`);
        if (!checkItem(this.readBuf, n + this.shape.firstItemDir * this.shape.itemsPerDir))
          this.verifyErrors++;
      }
    } finally {
      await fh.close();
    }
  }

  /**
   * The create phase with -W: stop at the wall, agree on the most items any task made, and let
   * the others catch up to it (mdtest's wear-out), so that every later phase finds the same set.
   */
  private async createItems(
    testDir: string,
    kind: ItemKind,
    t0: number,
  ): Promise<{ done: number; wall?: RankIteration['stonewall'] }> {
    const wallMs = this.o.stonewallSeconds * 1000;
    let n = 0;
    let hit = false;
    for (; n < this.shape.items && !hit; n++) {
      await this.createItem(testDir, kind, n);
      hit = wallMs > 0 && performance.now() - t0 > wallMs;
    }
    if (wallMs === 0) return { done: n };
    const wall = { items: n, seconds: (performance.now() - t0) / 1000, hit };
    const most = (await this.comm.allreduce(n, 'max')) as number;
    for (; n < most; n++) await this.createItem(testDir, kind, n);
    return { done: most, wall };
  }

  /** The four phases of one kind of item; fills `it` at the kind's operations. */
  private async itemPhases(testDir: string, kind: ItemKind, it: RankIteration): Promise<void> {
    const ops = kind === 'dir' ? OP.dir : OP.file;
    let items = this.shape.items;
    const record = (op: number, seconds: number) => {
      it.time[op] = seconds;
      it.rate[op] = (items * this.comm.size) / seconds;
    };
    if (this.o.create) {
      let wall: RankIteration['stonewall'];
      const seconds = await this.timed(async () => {
        const t0 = performance.now();
        const r = await this.createItems(testDir, kind, t0);
        items = r.done;
        wall = r.wall;
      });
      record(ops.create, seconds);
      if (kind === 'file' && wall) it.stonewall = wall;
    }
    if (this.o.stat)
      record(
        ops.stat,
        await this.timed(async () => {
          for (let n = 0; n < items; n++) await this.fs.stat(this.path(testDir, kind, 'stat', n));
        }),
      );
    if (this.o.read && kind === 'file')
      record(
        OP.file.read,
        await this.timed(async () => {
          for (let n = 0; n < items; n++) await this.readItem(testDir, n);
        }),
      );
    if (this.o.remove)
      record(
        ops.remove,
        await this.timed(async () => {
          for (let n = 0; n < items; n++) {
            const p = this.path(testDir, kind, 'remove', n);
            if (kind === 'dir') await this.fs.rmdir(p);
            else await this.fs.unlink(p);
          }
        }),
      );
  }

  /** Tree directories this task makes or removes: its own tree (-u), or the shared one on rank 0. */
  private treeDirs(testDir: string): string[] {
    if (!this.o.uniqueDir && this.comm.rank !== 0) return [];
    const stem = treeStem(this.o.uniqueDir, this.comm.rank);
    return Array.from(
      { length: this.shape.dirs },
      (_, d) => `${testDir}/${treeDirPath(stem, d, this.o.branch)}`,
    );
  }

  private treeRate(it: RankIteration, op: number, seconds: number): void {
    const dirs = this.shape.dirs * (this.o.uniqueDir ? this.comm.size : 1);
    it.time[op] = seconds;
    it.rate[op] = dirs / seconds;
  }

  async iteration(i: number): Promise<RankIteration> {
    const it: RankIteration = {
      time: new Array(OPERATION_COUNT).fill(0),
      rate: new Array(OPERATION_COUNT).fill(0),
    };
    const testDir = testDirPath(this.be.base, i);
    if (this.o.create) {
      if (this.comm.rank === 0) await this.fs.mkdir(testDir, { mode: DIR_MODE, recursive: true });
      const dirs = this.treeDirs(testDir);
      this.treeRate(
        it,
        OP.tree.create,
        await this.timed(async () => {
          for (const d of dirs) await this.fs.mkdir(d, { mode: DIR_MODE });
        }),
      );
    }
    if (this.o.dirsOnly) await this.itemPhases(testDir, 'dir', it);
    if (this.o.filesOnly) await this.itemPhases(testDir, 'file', it);
    if (this.o.remove) {
      const dirs = this.treeDirs(testDir).reverse();
      this.treeRate(
        it,
        OP.tree.remove,
        await this.timed(async () => {
          for (const d of dirs) await this.fs.rmdir(d);
        }),
      );
      if (this.comm.rank === 0) await this.fs.rmdir(testDir);
    }
    return it;
  }
}

export default async function mdtestTask(comm: Comm, args: string[]): Promise<RankResult> {
  const o = JSON.parse(args[0]!) as MdtestOptions;
  const be = await openBackend(comm, o);
  try {
    // Made by this run (rank 0 looks before anything is created): removed again by the remove phase.
    let baseIsNew = false;
    if (comm.rank === 0 && o.create)
      baseIsNew = await be.fs.stat(be.base).then(
        () => false,
        () => true,
      );
    const task = new Task(comm, o, be);
    const iterations: RankIteration[] = [];
    for (let i = 0; i < o.iterations; i++) iterations.push(await task.iteration(i));
    if (baseIsNew && o.remove && be.base !== '/') await be.fs.rmdir(be.base).catch(() => undefined);
    await comm.barrier();
    return { iterations, verifyErrors: (await comm.allreduce(task.verifyErrors, 'sum')) as number };
  } finally {
    await be.close();
  }
}
