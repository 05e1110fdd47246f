/**
 * bench:net — a client process and one engine process over TCP loopback, against raw Node TCP
 * between two processes (the limit of this path), side by side in one run:
 *   (a) 1 MiB array updates and fetches (RemoteEngine → daos_engine) at 1 and 4 in flight, against
 *       1 MiB requests with a small ack and small requests answered with 1 MiB (bench/net-sink.ts);
 *   (b) 4 KiB single-value update round trips per second at 1 and 16 in flight, against 4 KiB
 *       requests with a small ack;
 *   (c) RP_3 and EC_4P2 update bandwidth through the client API on six engine processes, as
 *       fractions of S1's.
 *
 *   npm run bench:net                   real sizes; refreshes the table in bench/RESULTS.md
 *   npm run bench:net -- --quick        small sizes (smoke run; RESULTS.md untouched)
 *   BENCH_QUICK=1 npm run bench:net     the same
 * Options: --mib N (MiB per direction and depth; also BENCH_NET_MIB), --reps N (alternating
 * segments per side; also BENCH_NET_REPS), --depths 1,4, --small-ops N, --small-depths 1,16,
 * --targets N, --dir DIR (engine scratch; default /dev/shm when present), --keep,
 * --results / --no-results. BENCH_NET_ENGINE_NODE_ARGS: extra node flags of the engine process
 * (e.g. `--cpu-prof --cpu-prof-dir=DIR`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EPOCH_MAX } from '../core/common/hlc.js';
import type { ObjTarget } from '../core/daos/link.js';
import { RemoteEngine } from '../core/daos/remote-engine.js';
import type { ArrayFetchResult } from '../core/wire/obj-types.js';
import { transportFor } from '../core/wire/transport.js';
import { DaosSystem } from '../index.js';
import { benchFlags, MiB, machine, mibps, progress, type Row, table, updateResults } from './common.js';

const BULK_BYTES = MiB;
const SMALL_BYTES = 4096;
const POOL = 'bench-net';
const CONT = 'c';
const POOL_BYTES_PER_TARGET = 2 ** 40;
const WARMUP_OPS = 16;
/**
 * Untimed 1 MiB fetches and updates at each depth before its timed segments, per side: V8 compiles
 * the engine's and the client's hot paths only after some thousands of calls, and a 1 MiB fetch
 * ran at 1.1–1.7 GB/s over its first 512 calls against 1.8–2.5 after 4,000 (bench/README.md,
 * "Warm-up"). Fetches re-read the warm-up dkeys (no space); updates take new space, so fewer.
 */
const WARMUP_BULK_FETCHES = 2048;
const WARMUP_BULK_UPDATES = 256;
/** Untimed 4 KiB updates per side before the timed ones, for the same reason. */
const WARMUP_SMALL_UPDATES = 2048;
const here = fileURLToPath(new URL('.', import.meta.url));
const ENGINE_BIN = join(here, '..', 'bin', 'daos_engine.js');
const SINK_BIN = join(here, 'net-sink.js');
/** Extra node flags of the engine process (e.g. `--cpu-prof --cpu-prof-dir=DIR` to profile it). */
const ENGINE_NODE_ARGS = (process.env.BENCH_NET_ENGINE_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
// The sink's protocol (bench/net-sink.ts).
const SINK_OP_WRITE = 1;
const SINK_OP_READ = 2;
const SINK_PREFIX_BYTES = 8;

interface BenchOptions {
  quick: boolean;
  bulkBytes: number;
  reps: number;
  depths: number[];
  smallOps: number;
  smallDepths: number[];
  targets: number;
  dir: string;
  keep: boolean;
  writeResults: boolean;
}

function parseOptions(argv: string[]): BenchOptions {
  const f = benchFlags(argv, {
    numbers: {
      mib: [256, 16, 'BENCH_NET_MIB'],
      reps: [8, 2, 'BENCH_NET_REPS'],
      'small-ops': [10_000, 1_000],
      targets: [2, 2],
    },
    lists: { depths: '1,4', 'small-depths': '1,16' },
    strings: ['dir'],
  });
  return {
    quick: f.quick,
    bulkBytes: f.num('mib') * MiB,
    reps: f.num('reps'),
    depths: f.list('depths'),
    smallOps: f.num('small-ops'),
    smallDepths: f.list('small-depths'),
    targets: f.num('targets'),
    dir: f.str('dir') ?? (existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir()),
    keep: f.keep,
    writeResults: f.writeResults,
  };
}

// ---- measuring ----

/** CPU seconds (user + system) of a process, from /proc (Linux); NaN elsewhere. */
function cpuSecondsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of stat(5), in clock ticks (USER_HZ, 100 on Linux).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

const selfCpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/** Elapsed and CPU seconds of one side, summed over its segments. */
class Tally {
  seconds = 0;
  clientCpu = 0;
  serverCpu = 0;

  /** Run op(i, slot) for i in [0, count) with `depth` in flight, timed into this tally. */
  async pipelined(
    serverPid: number,
    count: number,
    depth: number,
    op: (i: number, slot: number) => Promise<void>,
  ): Promise<void> {
    const c0 = selfCpuSeconds();
    const s0 = cpuSecondsOf(serverPid);
    const t0 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(depth, count) }, async (_, slot) => {
        for (let i = next++; i < count; i = next++) await op(i, slot);
      }),
    );
    this.seconds += (performance.now() - t0) / 1000;
    this.clientCpu += selfCpuSeconds() - c0;
    this.serverCpu += cpuSecondsOf(serverPid) - s0;
  }

  /** CPU use of the two processes while timed, as a share of one core each. */
  cpu(): string {
    const pct = (s: number) => (Number.isNaN(s) ? '?' : `${Math.round((100 * s) / this.seconds)}%`);
    return `${pct(this.clientCpu)} / ${pct(this.serverCpu)}`;
  }
}

/** Run the segments of several sides in turn, each rep starting one side later than the last. */
async function alternate(reps: number, ...sides: Array<(rep: number) => Promise<void>>) {
  for (let rep = 0; rep < reps; rep++)
    for (let k = 0; k < sides.length; k++) await sides[(rep + k) % sides.length]!(rep);
}

// ---- child processes ----

interface Child {
  child: ChildProcess;
  pid: number;
  /** What the ready line matched. */
  match: RegExpExecArray;
  stop(): Promise<void>;
}

async function startChild(args: string[], ready: RegExp, nodeArgs: string[] = []): Promise<Child> {
  const child = spawn(process.execPath, [...nodeArgs, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const match = await new Promise<RegExpExecArray>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${args[0]}: no ready line in 10 s; ${stderr}`)), 10_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = ready.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`${args[0]} exited before ready: ${stderr}`));
    });
  });
  return {
    child,
    pid: child.pid!,
    match,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** A client of bench/net-sink.ts: requests in order, one promise per request, like a Connection. */
class RawClient {
  private readonly waiters: Array<() => void> = [];
  private head = 0;
  private readonly prefix = Buffer.alloc(SINK_PREFIX_BYTES);
  private prefixHave = 0;
  private payloadLeft = 0;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
  }

  static async connect(port: number): Promise<RawClient> {
    const socket = net.connect({ host: '127.0.0.1', port, noDelay: true });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawClient(socket);
  }

  /** Send `payload`; resolves on the server's ack. */
  write(payload: Uint8Array): Promise<void> {
    return this.request(SINK_OP_WRITE, payload.byteLength, payload);
  }

  /** Ask for `n` bytes; resolves once they are all in (counted, not kept: the limit of the path). */
  read(n: number): Promise<void> {
    return this.request(SINK_OP_READ, n);
  }

  close(): void {
    this.socket.destroy();
  }

  private request(op: number, n: number, payload?: Uint8Array): Promise<void> {
    return new Promise<void>((resolve) => {
      this.waiters.push(resolve);
      const prefix = Buffer.allocUnsafe(SINK_PREFIX_BYTES);
      prefix.writeUInt32LE(op, 0);
      prefix.writeUInt32LE(n, 4);
      this.socket.cork();
      this.socket.write(prefix);
      if (payload !== undefined) this.socket.write(payload);
      this.socket.uncork();
    });
  }

  private onData(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length) {
      if (this.payloadLeft > 0) {
        const n = Math.min(this.payloadLeft, chunk.length - off);
        this.payloadLeft -= n;
        off += n;
        if (this.payloadLeft === 0) this.settle();
        continue;
      }
      const n = Math.min(SINK_PREFIX_BYTES - this.prefixHave, chunk.length - off);
      chunk.copy(this.prefix, this.prefixHave, off, off + n);
      this.prefixHave += n;
      off += n;
      if (this.prefixHave < SINK_PREFIX_BYTES) return;
      this.prefixHave = 0;
      this.payloadLeft = this.prefix.readUInt32LE(4);
      if (this.payloadLeft === 0) this.settle();
    }
  }

  private settle(): void {
    const w = this.waiters[this.head++]!;
    if (this.head === this.waiters.length) {
      this.waiters.length = 0;
      this.head = 0;
    }
    w();
  }
}

/** A net-sink process and a client of it. */
interface Sink {
  proc: Child;
  client: RawClient;
}

/** The plain sink (the baseline) and the storing one (the floor rows). */
interface Sinks {
  raw: Sink;
  store: Sink;
}

async function startSink(args: string[]): Promise<Sink> {
  const proc = await startChild([SINK_BIN, ...args], /^net-sink listening (\d+) pid (\d+)$/m);
  try {
    return { proc, client: await RawClient.connect(Number(proc.match[1])) };
  } catch (err) {
    await proc.stop();
    throw err;
  }
}

/** The engine side: one daos_engine process and a RemoteEngine connected to it. */
interface EngineSide {
  proc: Child;
  remote: RemoteEngine;
  targets: number;
}

async function startEngine(o: BenchOptions, scratch: string): Promise<EngineSide> {
  const proc = await startChild(
    [
      ENGINE_BIN,
      '--dir',
      join(scratch, 'engine'),
      '--rank',
      '0',
      '--targets',
      String(o.targets),
      '--listen',
      'tcp://127.0.0.1:0',
    ],
    /^daos_engine rank 0 listening (\S+) pid (\d+)$/m,
    ENGINE_NODE_ARGS,
  );
  const address = proc.match[1]!;
  const remote = new RemoteEngine(await transportFor(address).connect(address));
  await remote.poolCreate(POOL, POOL_BYTES_PER_TARGET);
  await remote.contCreate(POOL, CONT);
  return { proc, remote, targets: o.targets };
}

// ---- rows ----

const rtps = (ops: number, s: number) => `${Math.round(ops / s).toLocaleString('en-US')} RT/s`;

/** Object `n` of a phase: dkeys spread over every target of the engine by the target field. */
function target(e: EngineSide, lo: bigint, i: number): ObjTarget {
  return { pool: POOL, cont: CONT, oid: { hi: 1n, lo }, target: { rank: 0, target: i % e.targets } };
}

const dkeyOf = (i: number) => {
  const k = Buffer.allocUnsafe(4);
  k.writeUInt32BE(i, 0);
  return k;
};
const AKEY = Buffer.from('0');

/** The stamp of bulk i: its first 4 bytes. */
function stamp(buf: Buffer, i: number): Buffer {
  buf.writeUInt32LE(i, 0);
  return buf;
}

let phaseOid = 100n;

/** (a) 1 MiB update and fetch at `depth` in flight, against raw 1 MiB writes and reads. */
async function bulkRows(e: EngineSide, sinks: Sinks, o: BenchOptions, depth: number) {
  const { raw, store } = sinks;
  const count = o.bulkBytes / BULK_BYTES;
  const perRep = Math.ceil(count / o.reps);
  const bufs = Array.from({ length: depth }, () => randomFillSync(Buffer.allocUnsafe(BULK_BYTES)));
  const oid = phaseOid++;
  const update = (i: number, slot: number) =>
    e.remote
      .update(target(e, oid, i), dkeyOf(i), [
        {
          akey: AKEY,
          kind: 'array',
          recordSize: 1,
          extents: [{ idx: 0n, nr: BigInt(BULK_BYTES), data: stamp(bufs[slot]!, i) }],
        },
      ])
      .then(() => {});
  // Each slot reads into a buffer of its own, as a reader with a transfer buffer does (IOR).
  const readBufs = Array.from({ length: depth }, () => Buffer.allocUnsafe(BULK_BYTES));
  const fetch = async (i: number, slot: number) => {
    const [r] = await e.remote.fetch(target(e, oid, i), EPOCH_MAX, dkeyOf(i), [
      {
        akey: AKEY,
        kind: 'array',
        recordSize: 1,
        extents: [{ idx: 0n, nr: BigInt(BULK_BYTES) }],
        out: readBufs[slot],
      },
    ]);
    const data = (r as ArrayFetchResult).data;
    if (data.byteLength !== BULK_BYTES || Buffer.from(data.buffer, data.byteOffset, 4).readUInt32LE(0) !== i)
      throw new Error(`fetch ${i} returned the wrong bytes`);
  };
  // Warm every side (connections, first files, JIT) untimed, on dkeys past the timed ones.
  const warm = new Tally();
  const [fetches, updates] = o.quick ? [64, 16] : [WARMUP_BULK_FETCHES, WARMUP_BULK_UPDATES];
  for (let i = 0; i < WARMUP_OPS; i++) await update(count + i, 0);
  await warm.pipelined(e.proc.pid, updates, depth, (j, slot) => update(count + (j % WARMUP_OPS), slot));
  await warm.pipelined(e.proc.pid, fetches, depth, (j, slot) => fetch(count + (j % WARMUP_OPS), slot));
  for (const side of [raw, store]) {
    await warm.pipelined(side.proc.pid, updates, depth, (_, slot) => side.client.write(bufs[slot]!));
    await warm.pipelined(side.proc.pid, fetches, depth, () => side.client.read(BULK_BYTES));
  }
  const w = { daos: new Tally(), raw: new Tally(), store: new Tally() };
  const r = { daos: new Tally(), raw: new Tally(), store: new Tally() };
  const range = (rep: number) => [rep * perRep, Math.min(perRep, count - rep * perRep)] as const;
  // One side's segment of a rep: its share of the ops, op(i, slot) for the i of that share.
  const segment =
    (t: Tally, pid: number, op: (i: number, slot: number) => Promise<void>) => async (rep: number) => {
      const [base, n] = range(rep);
      await t.pipelined(pid, n, depth, (j, slot) => op(base + j, slot));
    };
  await alternate(
    o.reps,
    segment(w.daos, e.proc.pid, update),
    segment(w.raw, raw.proc.pid, (_, slot) => raw.client.write(bufs[slot]!)),
    segment(w.store, store.proc.pid, (_, slot) => store.client.write(bufs[slot]!)),
  );
  await alternate(
    o.reps,
    segment(r.daos, e.proc.pid, fetch),
    segment(r.raw, raw.proc.pid, () => raw.client.read(BULK_BYTES)),
    segment(r.store, store.proc.pid, () => store.client.read(BULK_BYTES)),
  );
  const vol = `${o.bulkBytes / MiB} MiB`;
  const row = (test: string, side: Tally, base: Tally, goal?: number): Row => ({
    test,
    ours: mibps(o.bulkBytes, side.seconds),
    base: `raw TCP ${mibps(o.bulkBytes, base.seconds)}`,
    ratio: base.seconds / side.seconds,
    goal,
    cpu: `${side.cpu()} · raw ${base.cpu()}`,
  });
  const floor = 'Floor, not daos-ts: raw TCP that';
  const rows: Row[] = [
    row(`1 MiB array update, ${depth} in flight (${vol})`, w.daos, w.raw, 0.7),
    row(`1 MiB array fetch, ${depth} in flight (${vol})`, r.daos, r.raw, 0.7),
    row(`${floor} stores each 1 MiB write in a file, ${depth} in flight`, w.store, w.raw),
    row(`${floor} answers each 1 MiB read from that file, ${depth} in flight`, r.store, r.raw),
  ];
  progress(rows);
  return rows;
}

/** (b) 4 KiB single-value update round trips at `depth` in flight, against raw 4 KiB writes. */
async function smallRows(e: EngineSide, { raw }: Sinks, o: BenchOptions, depth: number) {
  const count = o.smallOps;
  const perRep = Math.ceil(count / o.reps);
  const values = Array.from({ length: depth }, () => randomFillSync(Buffer.allocUnsafe(SMALL_BYTES)));
  const oid = phaseOid++;
  const update = (i: number, slot: number) =>
    e.remote
      .update(target(e, oid, i), dkeyOf(i), [{ akey: AKEY, kind: 'single', value: stamp(values[slot]!, i) }])
      .then(() => {});
  const warm = new Tally();
  const warmOps = o.quick ? 64 : WARMUP_SMALL_UPDATES;
  await warm.pipelined(e.proc.pid, warmOps, depth, (j, slot) => update(count + j, slot));
  await warm.pipelined(raw.proc.pid, warmOps, depth, (_, slot) => raw.client.write(values[slot]!));
  const t = { daos: new Tally(), raw: new Tally() };
  const range = (rep: number) => [rep * perRep, Math.min(perRep, count - rep * perRep)] as const;
  await alternate(
    o.reps,
    async (rep) => {
      const [base, n] = range(rep);
      await t.daos.pipelined(e.proc.pid, n, depth, (j, slot) => update(base + j, slot));
    },
    async (rep) => {
      const [, n] = range(rep);
      await t.raw.pipelined(raw.proc.pid, n, depth, (_, slot) => raw.client.write(values[slot]!));
    },
  );
  const rows: Row[] = [
    {
      test: `4 KiB single-value update, ${depth} in flight (${count.toLocaleString('en-US')} ops)`,
      ours: rtps(count, t.daos.seconds),
      base: `raw TCP ${rtps(count, t.raw.seconds)}`,
      ratio: t.raw.seconds / t.daos.seconds,
      goal: undefined,
      cpu: `${t.daos.cpu()} · raw ${t.raw.cpu()}`,
    },
  ];
  progress(rows);
  return rows;
}

/** Engines of the redundancy rows: EC_4P2 needs 6 ranks (fault domains). */
const REDUNDANCY_ENGINES = 6;
const REDUNDANCY_DEPTH = 4;

/**
 * (c) 1 MiB array updates through the client API to objects of class S1, RP_3G1 and EC_4P2G1 on
 * a DaosSystem of REDUNDANCY_ENGINES engine processes (one target each), alternating segments;
 * each class's bandwidth as a fraction of S1's. A class this build cannot create prints n/a.
 */
async function redundancyRows(o: BenchOptions, scratch: string): Promise<Row[]> {
  const sys = await DaosSystem.start({
    dir: join(scratch, 'system'),
    engines: REDUNDANCY_ENGINES,
    targetsPerEngine: 1,
    transport: 'tcp',
  });
  try {
    await sys.createPool({ label: POOL, size: POOL_BYTES_PER_TARGET * REDUNDANCY_ENGINES });
    const pool = await (await sys.connect()).connectPool(POOL);
    await pool.createContainer({ label: CONT });
    const cont = await pool.openContainer(CONT);
    const objectOf = async (oclass: string) => {
      try {
        return cont.object(await cont.newOid({ oclass }));
      } catch (err) {
        return `n/a (${(err as Error).message.replace(/^DER_\w+\(-?\d+\): /, '')})`;
      }
    };
    const bytes = Math.max(REDUNDANCY_DEPTH * BULK_BYTES, o.bulkBytes / 4);
    const count = bytes / BULK_BYTES;
    const perRep = Math.ceil(count / o.reps);
    const bufs = Array.from({ length: REDUNDANCY_DEPTH }, () =>
      randomFillSync(Buffer.allocUnsafe(BULK_BYTES)),
    );
    const classes = ['S1', 'RP_3G1', 'EC_4P2G1'] as const;
    const objs = await Promise.all(classes.map(objectOf));
    const secs = classes.map(() => 0);
    const run = async (c: number, first: number, n: number) => {
      const obj = objs[c]!;
      if (typeof obj === 'string') return;
      let next = 0;
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: Math.min(REDUNDANCY_DEPTH, n) }, async (_, slot) => {
          for (let i = next++; i < n; i = next++) {
            const data = stamp(bufs[slot]!, first + i);
            await obj.update(dkeyOf(first + i), [
              { akey: AKEY, kind: 'array', recordSize: 1, extents: [{ idx: 0, nr: BULK_BYTES, data }] },
            ]);
          }
        }),
      );
      secs[c]! += (performance.now() - t0) / 1000;
    };
    for (let c = 0; c < classes.length; c++) await run(c, count, WARMUP_OPS);
    for (let rep = 0; rep < o.reps; rep++) {
      const first = rep * perRep;
      const n = Math.min(perRep, count - first);
      // Rotate which class goes first in each segment.
      for (let k = 0; k < classes.length; k++) await run((rep + k) % classes.length, first, n);
    }
    const vol = `${bytes / MiB} MiB, ${REDUNDANCY_DEPTH} in flight, ${REDUNDANCY_ENGINES} engine processes`;
    const rows: Row[] = classes.slice(1).map((name, i) => {
      const obj = objs[i + 1]!;
      const s1 = objs[0]!;
      if (typeof obj === 'string' || typeof s1 === 'string')
        return {
          test: `1 MiB update, class ${name} (${vol})`,
          ours: typeof obj === 'string' ? obj : '',
          base: '',
          ratio: undefined,
          goal: undefined,
          cpu: '',
        };
      return {
        test: `1 MiB update, class ${name} (${vol})`,
        ours: mibps(bytes, secs[i + 1]!),
        base: `S1 ${mibps(bytes, secs[0]!)}`,
        ratio: secs[0]! / secs[i + 1]!,
        goal: undefined,
        cpu: '',
      };
    });
    progress(rows);
    return rows;
  } finally {
    await sys.stop();
  }
}

// ---- reporting ----

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  mkdirSync(o.dir, { recursive: true });
  const scratch = mkdtempSync(join(o.dir, 'daos-bench-net-'));
  const command = `npm run bench:net${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  const started = new Date();
  console.error(`bench:net${o.quick ? ' (quick)' : ''}, engine in ${scratch}\n${machine()}`);
  const load0 = os.loadavg()[0]!;
  let engine: EngineSide | undefined;
  const sinks: Partial<Sinks> = {};
  const rows: Row[] = [];
  try {
    sinks.raw = await startSink([]);
    sinks.store = await startSink(['--store', scratch]);
    engine = await startEngine(o, scratch);
    console.error('(a) 1 MiB update / fetch');
    for (const depth of o.depths) rows.push(...(await bulkRows(engine, sinks as Sinks, o, depth)));
    console.error('(b) 4 KiB update round trips');
    for (const depth of o.smallDepths) rows.push(...(await smallRows(engine, sinks as Sinks, o, depth)));
    console.error('(c) 1 MiB updates by object class');
    rows.push(...(await redundancyRows(o, scratch)));
  } finally {
    await engine?.remote.close();
    await engine?.proc.stop();
    for (const sink of [sinks.raw, sinks.store]) {
      sink?.client.close();
      await sink?.proc.stop();
    }
    if (!o.keep) rmSync(scratch, { recursive: true, force: true });
  }
  const load1 = os.loadavg()[0]!;
  const block = [
    `Command: \`${command}\` (node dist/bench/net.js)  `,
    `Date: ${started.toISOString()}  `,
    `Machine: ${machine()}  `,
    `Load average (1 min): ${load0.toFixed(2)} at the start, ${load1.toFixed(2)} at the end  `,
    `One daos_engine process (${o.targets} targets, scratch in ${o.dir}) and this client over tcp://127.0.0.1; the baseline is bench/net-sink.ts, raw Node TCP between two processes with the same request/response shape and the same number in flight. Fetches land in a buffer per slot in flight (the raw side counts the bytes it reads and keeps none). The floor rows are net-sink.ts with \`--store\` (each write's payload written to the end of a file in the engine's scratch folder, on the thread pool, before its ack; each read answered from that file), the least a server that keeps the data must do on this path; no daos-ts code runs in them. The sides run in alternating segments (${o.reps} each). CPU is the share of one core each process used while timed.`,
    '',
    table(rows, 'CPU client / engine (daos-ts · raw)'),
  ].join('\n');
  console.log(`\n${block}\n`);
  if (o.writeResults) console.error(`updated ${updateResults('net', block)}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
