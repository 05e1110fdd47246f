/**
 * The runner of the model-based test: draws ops from the generator, applies each to the store and
 * to the reference model, and compares every read (current and at snapshots) with the model.
 * Every mismatch throws a ModelMismatch naming the seed, the op index and how to replay it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type ArrayFetchResult,
  type Container,
  type DaosArray,
  DaosError,
  type DaosObject,
  DaosSystem,
  type DerName,
  type Key,
  type KV,
  type ListedKey,
  type Oid,
  type Tx,
} from '../../index.js';
import {
  ARR_CELL_BYTES,
  ARR_CELLS,
  ARRAY_INDEXES,
  applyTxWrite,
  describeOp,
  type Expected,
  Generator,
  type GenFetchIod,
  type GenUpdateIod,
  KV_KEYS,
  listedId,
  ModelState,
  type ObjSpec,
  type Op,
  objectSpecs,
  type ReadAt,
  type TxWrite,
  txOutcome,
} from './model.js';
import { Prng } from './prng.js';

export interface RunOptions {
  seed: number;
  ops: number;
  /** Stop and restart the system every this many ops (default 500). */
  restartEvery?: number;
  /** Engine ranks of the system (default 1), `targetsPerEngine` targets each (default 4). */
  engines?: number;
  targetsPerEngine?: number;
  /** 'inproc' (default) or 'tcp' (engines as child processes). */
  transport?: 'inproc' | 'tcp';
  /**
   * Object classes of the run's objects (the three generic ones, the KV, the array), in turn;
   * default: each object's own (S1 / SX / S2, SX, SX).
   */
  oclasses?: string[];
  /** Cell size in bytes of the pool's erasure-coded arrays (default 128 KiB). */
  ecCellSize?: number;
  /** Background aggregation interval of the system (default 0: only the aggregate op). */
  aggregationIntervalMs?: number;
  /** Called every `progressEvery` ops. */
  onProgress?: (done: number, stats: RunStats) => void;
  progressEvery?: number;
  /** Leave out kinds of ops (while a store bug blocks them): 'tx-reads', 'shrink-to-hole', 'tx-same-key'. */
  avoid?: string[];
}

export interface RunStats {
  seed: number;
  ops: number;
  restarts: number;
  sweeps: number;
  /** Ops that failed as the model said they must (conditions, mustExist, tx conflicts). */
  expectedFailures: number;
  byKind: Record<string, number>;
  /** Milliseconds spent per kind of op (checks included). */
  msByKind: Record<string, number>;
  ms: number;
  /** Of which in full sweeps (after aggregation and restarts, and at the end). */
  sweepMs: number;
}

/** A mismatch between store and model (or an unexpected store error). */
export class ModelMismatch extends Error {
  override name = 'ModelMismatch';
}

interface Ids {
  objs: Oid[];
  kv: Oid;
  arr: Oid;
}

interface Handles {
  sys: DaosSystem;
  cont: Container;
  objs: DaosObject[];
  kv: KV;
  arr: DaosArray;
}

const POOL = 'model';
const CONT = 'model';

/** A resolved read position: the model state to compare with and how to reach it in the store. */
interface At {
  state: ModelState;
  epoch?: bigint;
  via?: 'epoch' | 'view';
  label: string;
}

export async function runModel(options: RunOptions): Promise<RunStats> {
  const run = new ModelRun(options);
  return run.run();
}

class ModelRun {
  private readonly rng: Prng;
  private readonly specs: ObjSpec[] = objectSpecs();
  private readonly gen: Generator;
  private model: ModelState;
  private snaps: Array<{ epoch: bigint; state: ModelState }> = [];
  private dir = '';
  private ids!: Ids;
  private h!: Handles;
  private opIndex = -1;
  private opText = '(setup)';
  private readonly recent: string[] = [];
  private readonly stats: RunStats;
  private snapCounter = 0;

  constructor(private readonly opts: RunOptions) {
    this.rng = new Prng(opts.seed);
    this.gen = new Generator(this.rng, this.specs, {
      txReads: !opts.avoid?.includes('tx-reads'),
      shrinkToHole: !opts.avoid?.includes('shrink-to-hole'),
      txSameKey: !opts.avoid?.includes('tx-same-key'),
    });
    this.model = new ModelState(this.specs);
    this.stats = {
      seed: opts.seed,
      ops: 0,
      restarts: 0,
      sweeps: 0,
      expectedFailures: 0,
      byKind: {},
      msByKind: {},
      ms: 0,
      sweepMs: 0,
    };
  }

  async run(): Promise<RunStats> {
    const t0 = performance.now();
    this.dir = mkdtempSync(join(tmpdir(), 'daos-model-'));
    let ok = false;
    try {
      await this.create();
      const restartEvery = this.opts.restartEvery ?? 500;
      for (let i = 0; i < this.opts.ops; i++) {
        this.opIndex = i;
        if (restartEvery > 0 && i > 0 && i % restartEvery === 0) {
          this.setOp({ t: 'restart' });
          await this.restart();
        }
        const op = this.gen.next(this.model, this.snaps.length);
        this.setOp(op);
        const t = performance.now();
        await this.exec(op);
        this.stats.ops++;
        this.stats.byKind[op.t] = (this.stats.byKind[op.t] ?? 0) + 1;
        this.stats.msByKind[op.t] = Math.round((this.stats.msByKind[op.t] ?? 0) + performance.now() - t);
        if (this.opts.onProgress && this.opts.progressEvery && (i + 1) % this.opts.progressEvery === 0)
          this.opts.onProgress(i + 1, this.stats);
      }
      this.opIndex = this.opts.ops;
      this.opText = '(final sweep)';
      await this.verifyAll();
      this.opText = '(final restart + sweep)';
      await this.restart();
      ok = true;
    } finally {
      await this.h?.sys.stop().catch(() => undefined);
      // Keep the folder of a failed run for inspection.
      if (ok) rmSync(this.dir, { recursive: true, force: true });
    }
    this.stats.ms = Math.round(performance.now() - t0);
    this.stats.sweepMs = Math.round(this.stats.sweepMs);
    return this.stats;
  }

  // ---------------------------------------------------------------------------------------------
  // System handles

  private async create(): Promise<void> {
    const sys = await DaosSystem.start({
      dir: this.dir,
      engines: this.opts.engines ?? 1,
      targetsPerEngine: this.opts.targetsPerEngine ?? 4,
      aggregationIntervalMs: this.opts.aggregationIntervalMs,
      transport: this.opts.transport,
    });
    await sys.createPool({ label: POOL, size: '1G', ecCellSize: this.opts.ecCellSize });
    const client = await sys.connect();
    const pool = await client.connectPool(POOL);
    await pool.createContainer({ label: CONT });
    const cont = await pool.openContainer(CONT);
    const objs: Oid[] = [];
    const classes = this.opts.oclasses;
    const classOf = (i: number, fallback: string) =>
      classes?.length ? classes[i % classes.length]! : fallback;
    for (const [i, s] of this.specs.entries())
      objs.push(await cont.newOid({ type: s.type, oclass: classOf(i, s.oclass) }));
    const kv = await cont.newOid({ type: 'kv', oclass: classOf(this.specs.length, 'SX') });
    const arr = await cont.createArray({
      cellSize: 4,
      chunkSize: 16,
      oclass: classOf(this.specs.length + 1, 'SX'),
    });
    this.ids = { objs, kv, arr: arr.oid };
    this.h = { sys, cont, objs: objs.map((o) => cont.object(o)), kv: cont.kv(kv), arr };
  }

  private async restart(): Promise<void> {
    await this.h.sys.stop();
    const sys = await DaosSystem.start({
      dir: this.dir,
      aggregationIntervalMs: this.opts.aggregationIntervalMs,
      transport: this.opts.transport,
    });
    const client = await sys.connect();
    const pool = await client.connectPool(POOL);
    const cont = await pool.openContainer(CONT);
    this.h = {
      sys,
      cont,
      objs: this.ids.objs.map((o) => cont.object(o)),
      kv: cont.kv(this.ids.kv),
      arr: await cont.openArray(this.ids.arr),
    };
    this.stats.restarts++;
    await this.verifyAll();
  }

  // ---------------------------------------------------------------------------------------------
  // Failure reporting

  private setOp(op: Op): void {
    this.opText = describeOp(op, this.specs);
    this.recent.push(`#${this.opIndex} ${this.opText}`);
    if (this.recent.length > 12) this.recent.shift();
  }

  private fail(what: string): never {
    const { seed } = this.opts;
    throw new ModelMismatch(
      [
        `model mismatch: seed ${seed}, op #${this.opIndex}: ${what}`,
        `  op: ${truncate(this.opText, 600)}`,
        '  recent ops:',
        ...this.recent.map((r) => `    ${truncate(r, 300)}`),
        `  replay: ${this.replayEnv()} npx vitest run test/model.test.ts -t seed`,
        `  store folder: ${this.dir}`,
      ].join('\n'),
    );
  }

  /** The environment that replays this run up to the current op. */
  private replayEnv(): string {
    const o = this.opts;
    const env = [`MODEL_SEED=${o.seed}`, `MODEL_OPS=${Math.min(this.opIndex + 1, o.ops)}`];
    if (o.engines && o.engines !== 1) env.push(`MODEL_ENGINES=${o.engines}`);
    // Background aggregation races the ops: a replay with it is likely, not certain, to fail the same way.
    if (o.aggregationIntervalMs) env.push(`MODEL_AGG_MS=${o.aggregationIntervalMs}`);
    if (o.avoid?.length) env.push(`MODEL_AVOID=${o.avoid.join(',')}`);
    return env.join(' ');
  }

  /** Run a store call that the model says must succeed (expect undefined) or fail with `expect`. */
  private async attempt<T>(
    what: string,
    expect: DerName | DerName[] | undefined,
    fn: () => Promise<T>,
  ): Promise<T | undefined> {
    const codes = expect === undefined ? [] : Array.isArray(expect) ? expect : [expect];
    const wanted = codes.length === 0 ? 'success' : [...new Set(codes)].join(' or ');
    let value: T;
    try {
      value = await fn();
    } catch (err) {
      if (err instanceof ModelMismatch) throw err;
      if (err instanceof DaosError && codes.includes(err.code)) {
        this.stats.expectedFailures++;
        return undefined;
      }
      this.fail(
        `${what}: expected ${wanted}, got ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
      );
    }
    if (codes.length > 0) this.fail(`${what}: expected ${wanted}, but it succeeded`);
    return value;
  }

  // ---------------------------------------------------------------------------------------------
  // Comparisons

  private checkBytes(actual: unknown, expected: Uint8Array | undefined, what: string): void {
    const diff = bytesDiff(actual, expected);
    if (diff !== undefined) this.fail(`${what}: ${diff}`);
  }

  private checkFetch(actual: unknown[], expected: Expected[], labels: string[], what: string): void {
    if (!Array.isArray(actual) || actual.length !== expected.length)
      this.fail(`${what}: expected ${expected.length} results, got ${show(actual)}`);
    for (let i = 0; i < expected.length; i++) {
      const exp = expected[i];
      const act = actual[i];
      const label = `${what}, akey ${labels[i]}`;
      if (exp === undefined || exp instanceof Uint8Array) {
        this.checkBytes(act, exp, label);
        continue;
      }
      const a = act as ArrayFetchResult | undefined;
      if (!a || typeof a !== 'object' || !(a.data instanceof Uint8Array) || !Array.isArray(a.map))
        this.fail(`${label}: expected { data, map }, got ${show(act)}`);
      const map = a.map.map((r) => ({ idx: r.idx, nr: r.nr }));
      const want = exp.map.map((r) => ({ idx: BigInt(r.idx), nr: BigInt(r.nr) }));
      const bad =
        map.length !== want.length || map.some((r, j) => r.idx !== want[j]!.idx || r.nr !== want[j]!.nr);
      if (bad) this.fail(`${label}: map ${show(map)}, expected ${show(want)}`);
      this.checkBytes(a.data, exp.data, `${label} data`);
    }
  }

  private checkList(actual: string[], expected: string[], sortBoth: boolean, what: string): void {
    const a = sortBoth ? [...actual].sort() : actual;
    const e = sortBoth ? [...expected].sort() : expected;
    if (a.length !== e.length || a.some((x, i) => x !== e[i]))
      this.fail(`${what}: listed [${a.join(', ')}], expected [${e.join(', ')}]`);
  }

  // ---------------------------------------------------------------------------------------------
  // Store requests built from generated ops

  private dkey(o: number, d: number): Key {
    return copyKey(this.specs[o]!.dkeys[d]!.key);
  }

  private akey(o: number, a: number): Key {
    return copyKey(this.specs[o]!.akeys[a]!.key);
  }

  /** Store iods for an update, on copies of the generated bytes (scribbled over afterwards). */
  private updateIods(o: number, iods: GenUpdateIod[], scratch: Uint8Array[]) {
    return iods.map((iod) => {
      const spec = this.specs[o]!.akeys[iod.a]!;
      if (spec.kind === 'single') {
        const value = Uint8Array.from(iod.value!);
        scratch.push(value);
        return { akey: this.akey(o, iod.a), kind: 'single' as const, value };
      }
      return {
        akey: this.akey(o, iod.a),
        kind: 'array' as const,
        recordSize: spec.recordSize,
        extents: iod.extents!.map((e) => {
          if (!e.data) return { idx: e.idx, nr: e.nr };
          const data = Uint8Array.from(e.data);
          scratch.push(data);
          return { idx: e.idx, nr: e.nr, data };
        }),
      };
    });
  }

  private fetchIods(o: number, iods: GenFetchIod[]) {
    return iods.map((iod) => {
      const spec = this.specs[o]!.akeys[iod.a]!;
      if (spec.kind === 'single') return { akey: this.akey(o, iod.a), kind: 'single' as const };
      return {
        akey: this.akey(o, iod.a),
        kind: 'array' as const,
        recordSize: spec.recordSize,
        extents: iod.extents!.map((e) => ({ idx: e.idx, nr: e.nr })),
      };
    });
  }

  private at(read: ReadAt): At {
    if (read.snap === undefined) return { state: this.model, label: 'current' };
    const s = this.snaps[read.snap]!;
    return { state: s.state, epoch: s.epoch, via: read.via, label: `snapshot ${s.epoch} via ${read.via}` };
  }

  /** The object handle and fetch options that read at `at`. */
  private reader(o: number, at: At): { obj: DaosObject; opts: { epoch?: bigint } } {
    if (at.epoch === undefined) return { obj: this.h.objs[o]!, opts: {} };
    if (at.via === 'epoch') return { obj: this.h.objs[o]!, opts: { epoch: at.epoch } };
    return { obj: this.h.cont.atSnapshot(at.epoch).object(this.ids.objs[o]!), opts: {} };
  }

  // ---------------------------------------------------------------------------------------------
  // Reads, compared with the model

  private async readFetch(
    o: number,
    d: number,
    iods: GenFetchIod[],
    at: At,
    cond?: 'dkey_fetch' | 'akey_fetch',
  ): Promise<void> {
    const spec = this.specs[o]!;
    const what = `${spec.name} fetch dkey ${spec.dkeys[d]!.label} (${at.label}${cond ? `, ${cond}` : ''})`;
    const expectErr = at.state.fetchCondError(o, d, iods, cond);
    const { obj, opts } = this.reader(o, at);
    const res = await this.attempt(what, expectErr, () =>
      obj.fetch(this.dkey(o, d), this.fetchIods(o, iods), { ...opts, cond }),
    );
    if (expectErr !== undefined) return;
    const labels = iods.map((i) => spec.akeys[i.a]!.label);
    this.checkFetch(res!, at.state.fetch(o, d, iods), labels, what);
    scribble(res!);
  }

  private async readDkeys(o: number, at: At): Promise<void> {
    const spec = this.specs[o]!;
    const what = `${spec.name} listDkeys (${at.label})`;
    const { obj, opts } = this.reader(o, at);
    const got = await this.attempt(what, undefined, () => collect(obj.listDkeys(opts)));
    this.checkList(got!, at.state.dkeyIds(o), spec.order === 'hashed', what);
  }

  private async readAkeys(o: number, d: number, at: At): Promise<void> {
    const spec = this.specs[o]!;
    const what = `${spec.name} listAkeys dkey ${spec.dkeys[d]!.label} (${at.label})`;
    const { obj, opts } = this.reader(o, at);
    const got = await this.attempt(what, undefined, () => collect(obj.listAkeys(this.dkey(o, d), opts)));
    this.checkList(got!, at.state.akeyIds(o, d), spec.order === 'hashed', what);
  }

  /** One dkey in full: every akey (arrays over their whole index range) and its akey listing. */
  private async readDkeyFull(o: number, d: number, at: At): Promise<void> {
    const iods: GenFetchIod[] = this.specs[o]!.akeys.map((s, a) =>
      s.kind === 'single' ? { a } : { a, extents: [{ idx: 0, nr: ARRAY_INDEXES + 2 }] },
    );
    await this.readFetch(o, d, iods, at);
    await this.readAkeys(o, d, at);
  }

  private kvReader(at: At): { kv: KV; epoch?: bigint } {
    if (at.epoch === undefined) return { kv: this.h.kv };
    if (at.via === 'epoch') return { kv: this.h.kv, epoch: at.epoch };
    return { kv: this.h.cont.atSnapshot(at.epoch).kv(this.ids.kv) };
  }

  private async readKv(key: number, at: At, mustExist = false): Promise<void> {
    const what = `kv get ${KV_KEYS[key]} (${at.label}${mustExist ? ', mustExist' : ''})`;
    const expected = at.state.kv.get(key);
    const expectErr = mustExist && expected === undefined ? 'DER_NONEXIST' : undefined;
    const { kv, epoch } = this.kvReader(at);
    const got = await this.attempt(what, expectErr, () => kv.get(KV_KEYS[key]!, { epoch, mustExist }));
    if (expectErr) return;
    this.checkBytes(got, expected, what);
    scribble([got]);
  }

  private async readKvKeys(at: At): Promise<void> {
    const what = `kv keys (${at.label})`;
    const { kv, epoch } = this.kvReader(at);
    const got = await this.attempt(what, undefined, () => collect(kv.keys({ epoch }), (k) => String(k)));
    this.checkList(got!, at.state.kvKeys(), true, what);
  }

  private async arrReader(at: At): Promise<{ arr: DaosArray; epoch?: bigint }> {
    if (at.epoch === undefined) return { arr: this.h.arr };
    if (at.via === 'epoch') return { arr: this.h.arr, epoch: at.epoch };
    const view = this.h.cont.atSnapshot(at.epoch);
    const arr = await this.attempt(`openArray (${at.label})`, undefined, () => view.openArray(this.ids.arr));
    return { arr: arr! };
  }

  private async readArr(off: number, len: number, at: At): Promise<void> {
    const what = `array read cells [${off}, ${off + len}) (${at.label})`;
    const { arr, epoch } = await this.arrReader(at);
    const got = await this.attempt(what, undefined, () => arr.read(off, len, { epoch }));
    this.checkBytes(got, at.state.arrRead(off, len), what);
    scribble([got]);
  }

  /** The current cells [off, off + len) and two on each side. */
  private async readArrAround(off: number, len: number): Promise<void> {
    const from = Math.max(0, off - 2);
    const to = Math.min(ARR_CELLS, off + len + 2);
    await this.readArr(from, to - from, { state: this.model, label: 'current' });
  }

  private async readArrSize(at: At): Promise<void> {
    const what = `array getSize (${at.label})`;
    const { arr, epoch } = await this.arrReader(at);
    const got = await this.attempt(what, undefined, () => arr.getSize({ epoch }));
    const want = BigInt(at.state.arrSize());
    if (got !== want) this.fail(`${what}: got ${show(got)}, expected ${want}`);
  }

  /** Everything at one read position. */
  private async verifyState(at: At): Promise<void> {
    for (let o = 0; o < this.specs.length; o++) {
      await this.readDkeys(o, at);
      for (let d = 0; d < this.specs[o]!.dkeys.length; d++) await this.readDkeyFull(o, d, at);
    }
    await this.readKvKeys(at);
    for (let k = 0; k < KV_KEYS.length; k++) await this.readKv(k, at);
    await this.readArrSize(at);
    await this.readArr(0, ARR_CELLS, at);
  }

  /** The full sweep: the snapshot list, and everything, current and at every live snapshot. */
  private async verifyAll(): Promise<void> {
    const t0 = performance.now();
    this.stats.sweeps++;
    const listed = await this.attempt('listSnapshots', undefined, async () => {
      const out: bigint[] = [];
      for await (const s of this.h.cont.listSnapshots()) out.push(s.epoch);
      return out;
    });
    const want = this.snaps.map((s) => s.epoch);
    this.checkList(listed!.map(String), want.map(String), true, 'listSnapshots');
    await this.verifyState({ state: this.model, label: 'current' });
    for (const [i, s] of this.snaps.entries()) {
      const via = i % 2 === 0 ? 'view' : 'epoch';
      await this.verifyState({
        state: s.state,
        epoch: s.epoch,
        via,
        label: `snapshot ${s.epoch} via ${via}`,
      });
    }
    this.stats.sweepMs += performance.now() - t0;
  }

  private async verifyDkey(o: number, d: number): Promise<void> {
    await this.readDkeyFull(o, d, { state: this.model, label: 'current' });
  }

  private async verifyTxWrites(writes: TxWrite[]): Promise<void> {
    const cur: At = { state: this.model, label: 'current' };
    for (const w of writes) {
      if (w.w === 'kvPut' || w.w === 'kvRemove') await this.readKv(w.key, cur);
      else await this.verifyDkey(w.obj, w.dkey);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Ops

  private async exec(op: Op): Promise<void> {
    const h = this.h;
    const m = this.model;
    const cur: At = { state: m, label: 'current' };
    switch (op.t) {
      case 'update': {
        const spec = this.specs[op.obj]!;
        const expectErr = m.updateCondError(op.obj, op.dkey, op.iods, op.cond);
        const scratch: Uint8Array[] = [];
        const iods = this.updateIods(op.obj, op.iods, scratch);
        await this.attempt(`${spec.name} update${op.cond ? ` (${op.cond})` : ''}`, expectErr, () =>
          h.objs[op.obj]!.update(this.dkey(op.obj, op.dkey), iods, { cond: op.cond }),
        );
        scribble(scratch);
        if (expectErr === undefined) m.update(op.obj, op.dkey, op.iods);
        await this.verifyDkey(op.obj, op.dkey);
        if (expectErr !== undefined) await this.readDkeys(op.obj, cur);
        return;
      }
      case 'fetch':
        return this.readFetch(op.obj, op.dkey, op.iods, this.at(op), op.cond);
      case 'listDkeys':
        return this.readDkeys(op.obj, this.at(op));
      case 'listAkeys':
        return this.readAkeys(op.obj, op.dkey, this.at(op));
      case 'punchObj': {
        await this.attempt(`${this.specs[op.obj]!.name} punch`, undefined, () => h.objs[op.obj]!.punch());
        m.punchObj(op.obj);
        await this.readDkeys(op.obj, cur);
        for (let d = 0; d < this.specs[op.obj]!.dkeys.length; d++) await this.verifyDkey(op.obj, d);
        return;
      }
      case 'punchDkeys': {
        const missing = op.dkeys.some((d) => !m.dkeyExists(op.obj, d));
        const expectErr = op.mustExist && missing ? 'DER_NONEXIST' : undefined;
        await this.attempt(`${this.specs[op.obj]!.name} punchDkeys`, expectErr, () =>
          h.objs[op.obj]!.punchDkeys(
            op.dkeys.map((d) => this.dkey(op.obj, d)),
            { mustExist: op.mustExist },
          ),
        );
        if (expectErr === undefined) m.punchDkeys(op.obj, op.dkeys);
        await this.readDkeys(op.obj, cur);
        for (const d of op.dkeys) await this.verifyDkey(op.obj, d);
        return;
      }
      case 'punchAkeys': {
        const missing = op.akeys.some((a) => !m.akeyExists(op.obj, op.dkey, a));
        const expectErr = op.mustExist && missing ? 'DER_NONEXIST' : undefined;
        await this.attempt(`${this.specs[op.obj]!.name} punchAkeys`, expectErr, () =>
          h.objs[op.obj]!.punchAkeys(
            this.dkey(op.obj, op.dkey),
            op.akeys.map((a) => this.akey(op.obj, a)),
            { mustExist: op.mustExist },
          ),
        );
        if (expectErr === undefined) m.punchAkeys(op.obj, op.dkey, op.akeys);
        await this.verifyDkey(op.obj, op.dkey);
        await this.readDkeys(op.obj, cur);
        return;
      }
      case 'snapCreate': {
        const name = `snap-${this.snapCounter++}`;
        const epoch = await this.attempt('createSnapshot', undefined, () => h.cont.createSnapshot(name));
        if (typeof epoch !== 'bigint') this.fail(`createSnapshot returned ${show(epoch)}, not a bigint`);
        if (this.snaps.some((s) => s.epoch >= epoch))
          this.fail(`createSnapshot returned epoch ${epoch}, not after every earlier snapshot`);
        this.snaps.push({ epoch, state: m.clone() });
        return;
      }
      case 'snapDestroy': {
        const [s] = this.snaps.splice(op.snap, 1);
        await this.attempt(`destroySnapshot ${s!.epoch}`, undefined, () => h.cont.destroySnapshot(s!.epoch));
        return;
      }
      case 'aggregate':
        await this.attempt('aggregate', undefined, () => h.cont.aggregate());
        await this.verifyAll();
        return;
      case 'tx':
        return this.execTx(op.writes, op.read);
      case 'txConflict':
        return this.execTxConflict(op);
      case 'kvPut': {
        const exists = m.kv.has(op.key);
        const expectErr =
          op.cond === 'insert' && exists
            ? 'DER_EXIST'
            : op.cond === 'update' && !exists
              ? 'DER_NONEXIST'
              : undefined;
        const value = Uint8Array.from(op.value);
        await this.attempt(`kv put ${KV_KEYS[op.key]}${op.cond ? ` (${op.cond})` : ''}`, expectErr, () =>
          h.kv.put(KV_KEYS[op.key]!, value, { cond: op.cond }),
        );
        scribble([value]);
        if (expectErr === undefined) m.kv.set(op.key, op.value);
        return this.readKv(op.key, cur);
      }
      case 'kvGet':
        return this.readKv(op.key, this.at(op), op.mustExist);
      case 'kvRemove': {
        const expectErr = op.mustExist && !m.kv.has(op.key) ? 'DER_NONEXIST' : undefined;
        await this.attempt(`kv remove ${KV_KEYS[op.key]}`, expectErr, () =>
          h.kv.remove(KV_KEYS[op.key]!, { mustExist: op.mustExist }),
        );
        if (expectErr === undefined) m.kv.delete(op.key);
        await this.readKv(op.key, cur);
        return this.readKvKeys(cur);
      }
      case 'kvKeys':
        return this.readKvKeys(this.at(op));
      case 'arrWrite': {
        const data = Uint8Array.from(op.data);
        await this.attempt('array write', undefined, () => h.arr.write(op.off, data));
        scribble([data]);
        m.arrWrite(op.off, op.data);
        return this.readArrAround(op.off, op.data.length / ARR_CELL_BYTES);
      }
      case 'arrRead':
        return this.readArr(op.off, op.len, this.at(op));
      case 'arrSize':
        return this.readArrSize(this.at(op));
      case 'arrSetSize': {
        await this.attempt(`array setSize ${op.size}`, undefined, () => h.arr.setSize(op.size));
        m.arrSetSize(op.size);
        await this.readArrSize(cur);
        return this.readArr(0, ARR_CELLS, cur);
      }
      case 'arrPunch': {
        await this.attempt('array punch', undefined, () => h.arr.punch(op.off, op.len));
        m.arrPunch(op.off, op.len);
        await this.readArrSize(cur);
        return this.readArrAround(op.off, op.len);
      }
      case 'restart':
        return this.restart();
    }
  }

  /** Buffer one write in a transaction; the buffers to scribble after the commit go to `scratch`. */
  private async txWrite(tx: Tx, w: TxWrite, scratch: Uint8Array[]): Promise<void> {
    switch (w.w) {
      case 'update':
        return tx
          .object(this.ids.objs[w.obj]!)
          .update(this.dkey(w.obj, w.dkey), this.updateIods(w.obj, w.iods, scratch), { cond: w.cond });
      case 'punchAkeys':
        return tx.object(this.ids.objs[w.obj]!).punchAkeys(
          this.dkey(w.obj, w.dkey),
          w.akeys.map((a) => this.akey(w.obj, a)),
          { mustExist: w.mustExist },
        );
      case 'punchDkeys':
        return tx
          .object(this.ids.objs[w.obj]!)
          .punchDkeys([this.dkey(w.obj, w.dkey)], { mustExist: w.mustExist });
      case 'kvPut': {
        const value = Uint8Array.from(w.value);
        scratch.push(value);
        return tx.kv(this.ids.kv).put(KV_KEYS[w.key]!, value, { cond: w.cond });
      }
      case 'kvRemove':
        return tx.kv(this.ids.kv).remove(KV_KEYS[w.key]!, { mustExist: w.mustExist });
    }
  }

  /** A read through a transaction: it must see the state as of the transaction's open. */
  private async txRead(tx: Tx, o: number, d: number, iods: GenFetchIod[], expect: ModelState): Promise<void> {
    const spec = this.specs[o]!;
    const what = `${spec.name} tx fetch dkey ${spec.dkeys[d]!.label}`;
    const res = await this.attempt(what, undefined, () =>
      tx.object(this.ids.objs[o]!).fetch(this.dkey(o, d), this.fetchIods(o, iods)),
    );
    this.checkFetch(
      res!,
      expect.fetch(o, d, iods),
      iods.map((i) => spec.akeys[i.a]!.label),
      what,
    );
  }

  private async execTx(
    writes: TxWrite[],
    read: { obj: number; dkey: number; iods: GenFetchIod[] } | undefined,
  ): Promise<void> {
    const tx = (await this.attempt('openTx', undefined, () => this.h.cont.openTx()))!;
    if (read) await this.txRead(tx, read.obj, read.dkey, read.iods, this.model);
    const scratch: Uint8Array[] = [];
    for (const w of writes)
      await this.attempt(`tx buffer ${w.w}`, undefined, () => this.txWrite(tx, w, scratch));
    // A failing condition fails the whole tx: nothing of it may be visible then.
    const { state, errors } = txOutcome(this.model, writes);
    await this.attempt('tx commit', errors.length > 0 ? errors : undefined, () => tx.commit());
    scribble(scratch);
    if (errors.length === 0) this.model = state;
    await this.verifyTxWrites(writes);
  }

  private async execTxConflict(op: Extract<Op, { t: 'txConflict' }>): Promise<void> {
    const { victim } = op;
    const tx = (await this.attempt('openTx', undefined, () => this.h.cont.openTx()))!;
    if (op.mode === 'rw') {
      // The tx reads the victim's first akey...
      const a = victim.iods[0]!.a;
      const iod: GenFetchIod =
        this.specs[victim.obj]!.akeys[a]!.kind === 'single'
          ? { a }
          : { a, extents: [{ idx: 0, nr: ARRAY_INDEXES }] };
      await this.txRead(tx, victim.obj, victim.dkey, [iod], this.model);
    }
    // ...a plain update changes it after the tx's epoch...
    const plain: Uint8Array[] = [];
    await this.attempt(`plain update of ${this.specs[victim.obj]!.name} during the tx`, undefined, () =>
      this.h.objs[victim.obj]!.update(
        this.dkey(victim.obj, victim.dkey),
        this.updateIods(victim.obj, victim.iods, plain),
      ),
    );
    this.model.update(victim.obj, victim.dkey, victim.iods);
    // ...so the commit must fail and leave nothing of the tx visible.
    const scratch: Uint8Array[] = [];
    for (const w of op.writes)
      await this.attempt(`tx buffer ${w.w}`, undefined, () => this.txWrite(tx, w, scratch));
    await this.attempt(`conflicting tx commit (${op.mode})`, 'DER_TX_RESTART', () => tx.commit());
    await this.verifyDkey(victim.obj, victim.dkey);
    await this.verifyTxWrites(op.writes);
    // Restarted, the same writes commit.
    tx.restart();
    for (const w of op.writes)
      await this.attempt(`tx buffer ${w.w} (restarted)`, undefined, () => this.txWrite(tx, w, scratch));
    await this.attempt('restarted tx commit', undefined, () => tx.commit());
    scribble(scratch);
    for (const w of op.writes) applyTxWrite(this.model, w);
    await this.verifyTxWrites(op.writes);
    await this.verifyDkey(victim.obj, victim.dkey);
  }
}

// -----------------------------------------------------------------------------------------------
// Helpers

function copyKey(key: Key): Key {
  return key instanceof Uint8Array ? Uint8Array.from(key) : key;
}

async function collect<T>(
  it: AsyncIterable<T>,
  id: (k: T) => string = (k) => listedId(k as ListedKey),
): Promise<string[]> {
  const out: string[] = [];
  for await (const k of it) out.push(id(k));
  return out;
}

/**
 * Overwrite buffers the caller owns once the store is done with them: input buffers after the
 * write resolved, result buffers after they were compared. A store that kept a reference to
 * either shows it in a later read.
 */
function scribble(bufs: unknown[]): void {
  for (const b of bufs) {
    if (b instanceof Uint8Array) b.fill(0xee);
    else if (b && typeof b === 'object' && (b as ArrayFetchResult).data instanceof Uint8Array)
      (b as ArrayFetchResult).data.fill(0xee);
  }
}

/** Why `actual` is not the bytes `expected` (undefined = absent), or undefined when it is. */
function bytesDiff(actual: unknown, expected: Uint8Array | undefined): string | undefined {
  if (expected === undefined)
    return actual === undefined ? undefined : `expected no value, got ${show(actual)}`;
  if (!(actual instanceof Uint8Array)) return `expected ${expected.length} bytes, got ${show(actual)}`;
  if (actual.length !== expected.length)
    return `expected ${expected.length} bytes (${hex(expected)}), got ${actual.length} bytes (${hex(actual)})`;
  for (let i = 0; i < actual.length; i++) {
    if (actual[i] !== expected[i]) {
      const from = Math.max(0, i - 8);
      return `${actual.length} bytes differ from offset ${i}: got ${hex(actual.subarray(from, i + 24))}..., expected ${hex(expected.subarray(from, i + 24))}... (from offset ${from})`;
    }
  }
  return undefined;
}

function hex(b: Uint8Array): string {
  const s = Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
  return s.length > 96 ? `${s.slice(0, 96)}...` : s;
}

function show(v: unknown): string {
  if (v instanceof Uint8Array) return `<${v.length} bytes ${hex(v)}>`;
  try {
    return truncate(
      JSON.stringify(v, (_k, x) =>
        typeof x === 'bigint' ? `${x}n` : x instanceof Uint8Array ? `<${x.length} bytes>` : x,
      ) ?? String(v),
      400,
    );
  } catch {
    return String(v);
  }
}

function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n)}...` : s;
}
