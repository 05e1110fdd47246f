/**
 * Crash consistency: a child process (test/crash/writer.ts) writes through the real library and
 * streams acknowledgements to us (into a log file, each line written synchronously before the
 * next write is issued; writer.ts says why not stdout). We kill it with SIGKILL at a random moment
 * after its first acknowledgement, reopen the folder in this process and check that every
 * acknowledged write is there, byte for byte, and that no unacknowledged write is partly visible
 * (a transaction shows all of its keys or none; a begun plain write shows its exact value or
 * nothing). What a round decided about an unacknowledged write must hold in every later round
 * too. CRASH_ROUNDS rounds (default 20), plus one round in four killed at a random moment soon
 * after spawning (during start, recovery, or the first writes).
 *
 * How the child runs our TypeScript: Node 20 cannot run .ts files, so beforeAll compiles the
 * writer and everything it imports with the TypeScript compiler that is already a devDependency
 * (test/crash/tsconfig.json: emit only, `noCheck`, about 3 s) into
 * node_modules/.cache/daos-ts-crash-writer/<pid>/ (per process, so that parallel runs do not
 * share it; removed afterwards) and marks that folder as ESM. The output must sit under the
 * repository so that the compiled files resolve `lmdb` and `msgpackr` from node_modules;
 * node_modules/ is ignored by git. This needs nothing beyond `npm ci`.
 *
 * Reproduce a failure: CRASH_SEED=<seed printed in the message> CRASH_ROUNDS=<n> npx vitest run
 * test/crash.test.ts (the kill moments depend on timing, so a seed replays the same values and
 * schedule, not the same instants; a failed run keeps its folder and prints where).
 * DAOS_SKIP_BUILD=1 skips the global dist/ build, which this test does not use.
 * CRASH_WRITER_FAULT=early-ack|split-tx plants a bug in the writer, to see the test fail.
 * CRASH_WRITER_BUILD=DIR runs an existing build of the writer (say, one patched to trace).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DaosArray, DaosSystem, type KV, oidParse, oidToString } from '../index.js';
import {
  ARRAY_CHUNK_BYTES,
  arrayBytes,
  arrayData,
  arrayOffset,
  type CrashConfig,
  HOT_KEY,
  hotValue,
  kvKey,
  kvObject,
  kvValue,
  type OpKind,
  txPlan,
} from './crash/protocol.js';

const ROUNDS = Number(process.env.CRASH_ROUNDS ?? 20);
const SEED = Number(process.env.CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
/** The kill comes this long after the child's first acknowledgement (uniform). */
const KILL_DELAY_MIN_MS = 50;
const KILL_DELAY_MAX_MS = 400;
/** Extra rounds killed at a random moment up to EARLY_KILL_MAX_MS after spawning, one per EARLY_EVERY rounds. */
const EARLY_EVERY = 4;
const EARLY_KILL_MAX_MS = 700;
/** A child that has not acknowledged anything by then has hung. */
const FIRST_ACK_TIMEOUT_MS = 20_000;
/** Older rounds' writes re-checked each round (all of them every FULL_CHECK_EVERY rounds and at the end). */
const OLD_SAMPLE = 400;
const FULL_CHECK_EVERY = 5;
const READ_CONCURRENCY = 64;

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** CRASH_WRITER_BUILD=DIR runs a build made earlier (say, hand-patched to trace); else a fresh one per run. */
const PREBUILT = process.env.CRASH_WRITER_BUILD;
const BUILD_DIR =
  PREBUILT ?? join(ROOT, 'node_modules', '.cache', 'daos-ts-crash-writer', String(process.pid));
const WRITER_JS = join(BUILD_DIR, 'test', 'crash', 'writer.js');

/** mulberry32: the test's own seeded randomness (kill delays, samples). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type WriteKind = Exclude<OpKind, 'hot'>;
interface Write {
  kind: WriteKind;
  round: number;
  n: number;
}
const describeWrite = (w: Write) => `${w.kind} ${w.round}-${w.n}`;

interface RoundLog {
  begun: Write[];
  acked: Write[];
  hotBegun: number[];
  hotAcked: number[];
  firstAckMs: number;
  killAfterMs: number;
  lines: string[];
}

interface Opened {
  sys: DaosSystem;
  kvs: KV[];
  arr: DaosArray;
  close(): Promise<void>;
}

let work = '';
let cfgPath = '';
let cfg: CrashConfig;
let failed = false;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'daos-crash-'));
  if (PREBUILT !== undefined) {
    if (!existsSync(WRITER_JS)) throw new Error(`CRASH_WRITER_BUILD: no ${WRITER_JS}`);
    return;
  }
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const config = join(ROOT, 'test', 'crash', 'tsconfig.json');
  execFileSync(process.execPath, [tsc, '-p', config, '--outDir', BUILD_DIR], { cwd: ROOT, stdio: 'pipe' });
  // node_modules/ ends the package scope, so say that these files are ES modules.
  writeFileSync(join(BUILD_DIR, 'package.json'), '{ "type": "module" }\n');
});

afterAll(() => {
  if (PREBUILT === undefined) rmSync(BUILD_DIR, { recursive: true, force: true });
  if (work && !failed) rmSync(work, { recursive: true, force: true });
  else if (work) console.error(`crash test: data kept in ${work} (seed ${SEED})`);
});

async function setUp(): Promise<void> {
  const dir = join(work, 'sys');
  mkdirSync(dir);
  const sys = await DaosSystem.start({ dir });
  await sys.createPool({ label: 'crash', size: '16G' });
  const client = await sys.connect();
  const pool = await client.connectPool('crash');
  await pool.createContainer({ label: 'c' });
  const cont = await pool.openContainer('c');
  const kv = [
    await cont.newOid({ type: 'kv', oclass: 'SX' }),
    await cont.newOid({ type: 'kv', oclass: 'S4' }),
    await cont.newOid({ type: 'kv', oclass: 'S2' }),
  ];
  const arr = await cont.createArray({ cellSize: 1, chunkSize: ARRAY_CHUNK_BYTES, oclass: 'SX' });
  await sys.stop();
  cfg = { dir, pool: 'crash', cont: 'c', kv: kv.map(oidToString), array: oidToString(arr.oid), seed: SEED };
  cfgPath = join(work, 'config.json');
  writeFileSync(cfgPath, JSON.stringify(cfg));
}

async function open(): Promise<Opened> {
  const sys = await DaosSystem.start({ dir: cfg.dir });
  const client = await sys.connect();
  const pool = await client.connectPool(cfg.pool);
  const cont = await pool.openContainer(cfg.cont);
  const kvs = cfg.kv.map((s) => cont.kv(oidParse(s)));
  const arr = await cont.openArray(oidParse(cfg.array));
  return {
    sys,
    kvs,
    arr,
    async close() {
      await cont.close();
      await pool.disconnect();
      await client.close();
      await sys.stop();
    },
  };
}

/**
 * Run the writer for one round and SIGKILL it: a while after its first acknowledgement, or for
 * an 'early' round a while after it was spawned (mid-start, mid-recovery or mid-write).
 */
function runRound(round: number, kind: 'ack' | 'early', killAfterMs: number): Promise<RoundLog> {
  const log: RoundLog = {
    begun: [],
    acked: [],
    hotBegun: [],
    hotAcked: [],
    firstAckMs: 0,
    killAfterMs,
    lines: [],
  };
  const logPath = join(work, `round-${round}.log`);
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, [WRITER_JS, cfgPath, String(round), logPath], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    let killed = false;
    const kill = () => {
      killed = true;
      child.kill('SIGKILL');
    };
    let killTimer = kind === 'early' ? setTimeout(kill, killAfterMs) : undefined;
    const hang = setTimeout(kill, FIRST_ACK_TIMEOUT_MS);
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.stdout!.on('data', (d: Buffer) => {
      if (log.firstAckMs > 0 || !d.toString().includes('first-ack')) return;
      clearTimeout(hang);
      log.firstAckMs = Date.now() - started;
      killTimer ??= setTimeout(kill, killAfterMs);
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(hang);
      if (killTimer) clearTimeout(killTimer);
      // The log is complete up to its last newline: a line cut by the kill is not one.
      const text = existsSync(logPath) ? readFileSync(logPath, 'utf8') : '';
      const lines = text.slice(0, text.lastIndexOf('\n') + 1).split('\n');
      for (const line of lines) {
        const [what, opKind, nText] = line.split(' ');
        if (what !== 'begin' && what !== 'ack') continue;
        const n = Number(nText);
        if (opKind === 'hot') (what === 'begin' ? log.hotBegun : log.hotAcked).push(n);
        else (what === 'begin' ? log.begun : log.acked).push({ kind: opKind as WriteKind, round, n });
      }
      log.lines = lines.filter((l) => l.length > 0).slice(-20);
      if (killed && signal === 'SIGKILL' && (kind === 'early' || log.firstAckMs > 0)) resolve(log);
      else
        reject(
          new Error(
            `writer round ${round} ended by itself (code ${code}, signal ${signal}) or never acknowledged:\n${stderr}\nlast lines:\n${log.lines.join('\n')}`,
          ),
        );
    });
  });
}

type Seen = { state: 'present' | 'absent' } | { state: 'bad'; why: string };

const same = (a: Uint8Array | undefined, b: Uint8Array) => a !== undefined && Buffer.compare(a, b) === 0;

async function observe(o: Opened, w: Write): Promise<Seen> {
  if (w.kind === 'kv') {
    const want = kvValue(SEED, w.round, w.n);
    const got = await o.kvs[kvObject(SEED, w.round, w.n, o.kvs.length)]!.get(kvKey(w.round, w.n));
    if (got === undefined) return { state: 'absent' };
    return same(got, want)
      ? { state: 'present' }
      : { state: 'bad', why: `value of ${got.byteLength} bytes differs from the ${want.byteLength} written` };
  }
  if (w.kind === 'arr') {
    const len = arrayBytes(SEED, w.round, w.n);
    const got = await o.arr.read(arrayOffset(SEED, w.round, w.n), len);
    if (same(got, arrayData(SEED, w.round, w.n))) return { state: 'present' };
    if (got.every((b) => b === 0)) return { state: 'absent' };
    return { state: 'bad', why: `the ${len / 1024} KiB extent is torn (neither all written nor all zero)` };
  }
  const plan = txPlan(SEED, w.round, w.n, o.kvs.length);
  const got = await Promise.all(plan.map((e) => o.kvs[e.obj]!.get(e.key)));
  const present = plan.filter((e, i) => same(got[i], e.value)).length;
  const absent = got.filter((g) => g === undefined).length;
  if (present === plan.length) return { state: 'present' };
  if (absent === plan.length) return { state: 'absent' };
  const detail = plan.map((e, i) =>
    got[i] === undefined ? `${e.key}:absent` : same(got[i], e.value) ? `${e.key}:ok` : `${e.key}:WRONG`,
  );
  return { state: 'bad', why: `partly visible transaction: ${detail.join(' ')}` };
}

async function observeAll(o: Opened, writes: Write[]): Promise<Seen[]> {
  const out: Seen[] = [];
  for (let i = 0; i < writes.length; i += READ_CONCURRENCY)
    out.push(...(await Promise.all(writes.slice(i, i + READ_CONCURRENCY).map((w) => observe(o, w)))));
  return out;
}

function writeBytes(w: Write): number {
  if (w.kind === 'kv') return kvValue(SEED, w.round, w.n).byteLength;
  if (w.kind === 'arr') return arrayBytes(SEED, w.round, w.n);
  return txPlan(SEED, w.round, w.n, cfg.kv.length).reduce((s, e) => s + e.value.byteLength, 0);
}

function sample<T>(items: T[], count: number, random: () => number): T[] {
  if (items.length <= count) return items;
  const out: T[] = [];
  for (let i = 0; i < count; i++) out.push(items[Math.floor(random() * items.length)]!);
  return out;
}

describe('crash consistency under SIGKILL', () => {
  it(`keeps every acknowledged write and no partial transaction over ${ROUNDS} kills`, async () => {
    const random = rng(SEED);
    // ROUNDS rounds killed after their first ack, and after every EARLY_EVERY of them one killed
    // early: while starting, recovering what the last kill left, or just starting to write.
    const schedule: Array<'ack' | 'early'> = [];
    for (let i = 1; i <= ROUNDS; i++) {
      schedule.push('ack');
      if (i % EARLY_EVERY === 0) schedule.push('early');
    }
    await setUp();
    /** Writes that must read back exactly from now on: acknowledged, or found whole after a crash. */
    const mustHave: Write[] = [];
    /** Unacknowledged writes found absent after a crash: they must never appear later. */
    const mustLack: Write[] = [];
    let hot: { round: number; n: number } | undefined;
    let ackedBytes = 0;
    const stats = {
      acked: 0,
      unackedPresent: 0,
      unackedAbsent: 0,
      txAcked: 0,
      txUnacked: 0,
      firstAckMs: 0,
      checkMs: 0,
    };
    const started = Date.now();

    try {
      for (let round = 1; round <= schedule.length; round++) {
        const kind = schedule[round - 1]!;
        const killAfter =
          kind === 'ack'
            ? KILL_DELAY_MIN_MS + Math.floor(random() * (KILL_DELAY_MAX_MS - KILL_DELAY_MIN_MS))
            : Math.floor(random() * EARLY_KILL_MAX_MS);
        const log = await runRound(round, kind, killAfter);
        const where = `seed ${SEED}, round ${round} (killed ${killAfter} ms after ${kind === 'ack' ? 'the first ack' : 'spawning'}; ${log.acked.length} acked of ${log.begun.length} begun)`;
        const problems: string[] = [];

        if (kind === 'ack') stats.firstAckMs += log.firstAckMs;
        const tCheck = Date.now();
        const o = await open();
        try {
          // The store reopened cleanly: the pool answers and its space adds up.
          const q = await (await (await o.sys.connect()).connectPool(cfg.pool)).query();
          expect(q.targets, where).toBe(4);
          expect(q.freeBytes, where).toBeGreaterThan(0);
          expect(q.freeBytes, where).toBeLessThanOrEqual(q.totalBytes);

          const ackedIds = new Set(log.acked.map(describeWrite));
          const unacked = log.begun.filter((w) => !ackedIds.has(describeWrite(w)));
          const acked = log.acked;

          const seenAcked = await observeAll(o, acked);
          acked.forEach((w, i) => {
            const s = seenAcked[i]!;
            if (s.state !== 'present')
              problems.push(`acknowledged ${describeWrite(w)} is ${s.state === 'bad' ? s.why : 'missing'}`);
          });
          const seenUnacked = await observeAll(o, unacked);
          unacked.forEach((w, i) => {
            const s = seenUnacked[i]!;
            if (s.state === 'bad') problems.push(`unacknowledged ${describeWrite(w)}: ${s.why}`);
            else if (s.state === 'present') {
              mustHave.push(w);
              stats.unackedPresent++;
            } else {
              mustLack.push(w);
              stats.unackedAbsent++;
            }
            if (w.kind === 'tx') stats.txUnacked++;
          });

          // What earlier rounds established still holds.
          const full = round % FULL_CHECK_EVERY === 0 || round === schedule.length;
          const oldHave = full ? mustHave : sample(mustHave, OLD_SAMPLE, random);
          const oldLack = full ? mustLack : sample(mustLack, OLD_SAMPLE, random);
          (await observeAll(o, oldHave)).forEach((s, i) => {
            if (s.state !== 'present')
              problems.push(
                `${describeWrite(oldHave[i]!)}, whole before, is now ${s.state === 'bad' ? s.why : 'missing'}`,
              );
          });
          (await observeAll(o, oldLack)).forEach((s, i) => {
            if (s.state !== 'absent')
              problems.push(
                `${describeWrite(oldLack[i]!)}, absent before, is now ${s.state === 'bad' ? s.why : 'present'}`,
              );
          });

          // The hot key holds its last acknowledged version or the one in flight after it.
          const lastAck = log.hotAcked.length > 0 ? Math.max(...log.hotAcked) : undefined;
          const allowed: Array<{ round: number; n: number } | undefined> = [
            lastAck === undefined ? hot : { round, n: lastAck },
          ];
          const inFlight = lastAck === undefined ? 0 : lastAck + 1;
          if (log.hotBegun.includes(inFlight)) allowed.push({ round, n: inFlight });
          const hotGot = await o.kvs[0]!.get(HOT_KEY);
          const match = allowed.findIndex((a) =>
            a === undefined ? hotGot === undefined : same(hotGot, hotValue(SEED, a.round, a.n)),
          );
          if (match < 0)
            problems.push(
              `hot key holds ${hotGot === undefined ? 'nothing' : `"${Buffer.from(hotGot.subarray(0, 16)).toString()}…"`}; allowed: ${allowed.map((a) => (a ? `r${a.round}-${a.n}` : 'nothing')).join(' or ')}`,
            );
          else hot = allowed[match];

          for (const w of acked) {
            mustHave.push(w);
            ackedBytes += writeBytes(w);
            if (w.kind === 'tx') stats.txAcked++;
          }
          stats.acked += acked.length;

          // Space accounting survived the crash: at least what is acknowledged is counted as used.
          const q2 = await (await (await o.sys.connect()).connectPool(cfg.pool)).query();
          const used = q2.totalBytes - q2.freeBytes;
          if (used < ackedBytes)
            problems.push(
              `pool reports ${used} bytes used but ${ackedBytes} bytes of acknowledged values are stored`,
            );
        } finally {
          await o.close();
          stats.checkMs += Date.now() - tCheck;
        }
        if (problems.length > 0) {
          throw new Error(
            `${where}:\n  ${problems.slice(0, 20).join('\n  ')}${problems.length > 20 ? `\n  … ${problems.length - 20} more` : ''}\nlast writer lines:\n${log.lines.join('\n')}`,
          );
        }
      }
    } catch (err) {
      failed = true;
      throw err;
    }
    console.log(
      `crash test: seed ${SEED}, ${schedule.length} rounds (${ROUNDS} killed after the first ack) in ${Date.now() - started} ms; ${stats.acked} acknowledged writes (${stats.txAcked} transactions), unacknowledged found whole ${stats.unackedPresent} / absent ${stats.unackedAbsent} (${stats.txUnacked} transactions); ${(ackedBytes / 2 ** 20).toFixed(1)} MiB acknowledged; per round: start to first ack ${Math.round(stats.firstAckMs / ROUNDS)} ms, reopen and check ${Math.round(stats.checkMs / schedule.length)} ms`,
    );
    expect(stats.txAcked).toBeGreaterThan(0);
  });
});
