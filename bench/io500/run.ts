/**
 * runIo500: IO500's standard run on daos-ts — ior-easy, ior-hard, mdtest-easy, mdtest-hard and
 * find, in IO500's order, each phase one runIor / runMdtest job (the reads after the writes, as
 * IO500 runs them, with the counts the stonewalled writes reached), then the score as IO500
 * computes it: BW = geometric mean of the ior phases (GiB/s), MD = geometric mean of the mdtest
 * and find phases (kIOPS), SCORE = sqrt(BW × MD).
 */
import { promises as nodeFs, writeFileSync } from 'node:fs';
import { posix, resolve } from 'node:path';
import { JOB_POOL_SIZE_DEFAULT } from '../../adapters/mpiio/spawn.js';
import { DaosError } from '../../core/common/errors.js';
import { Dfs } from '../../core/dfs/dfs.js';
import { DaosSystem } from '../../embedded/system.js';
import { type IorResult, runIor } from '../ior/index.js';
import { type MdtestReport, runMdtest } from '../mdtest/index.js';
import {
  IO500_VALID_WRITE_SECONDS,
  IOR_HARD_TRANSFER_BYTES,
  type Io500Api,
  type Io500ApiChoice,
  type Io500Config,
  io500Defaults,
  MDTEST_HARD_FILE_BYTES,
} from './config.js';
import { type FindFs, findFiles } from './find.js';

/** IO500's phases, in the order it runs them. */
export const IO500_PHASES = [
  'ior-easy-write',
  'mdtest-easy-write',
  'ior-hard-write',
  'mdtest-hard-write',
  'find',
  'ior-easy-read',
  'mdtest-easy-stat',
  'ior-hard-read',
  'mdtest-hard-stat',
  'mdtest-easy-delete',
  'mdtest-hard-read',
  'mdtest-hard-delete',
] as const;
export type Io500PhaseName = (typeof IO500_PHASES)[number];

/** Pool and container of the DFS phases unless the API line names others (`--dfs.pool`, `--dfs.cont`). */
export const IO500_POOL_DEFAULT = 'tank';
export const IO500_CONTAINER_DEFAULT = 'io500';

export interface Io500Phase {
  name: Io500PhaseName;
  /** GiB/s for the ior phases, kIOPS for the others. */
  value: number;
  unit: 'GiB/s' | 'kIOPS';
  seconds: number;
  api: Io500Api;
  /** Bytes moved (ior) or items handled (mdtest, find: entries examined). */
  amount: number;
}

export interface Io500Result {
  config: Io500Config;
  phases: Io500Phase[];
  /** Geometric means and the score, as IO500 computes them. */
  bw: number;
  md: number;
  score: number;
  /** IO500's validity: every write phase ran at least 300 s (never, scaled down). */
  valid: boolean;
  /** find: files that matched. */
  found: number;
  /** Everything printed. */
  text: string;
}

export interface RunIo500Env {
  /** A system this process runs (the DFS phases use it). */
  system?: DaosSystem;
  /** Else a DFS run starts (or reopens) an embedded system in this folder for the run. */
  embedded?: string;
  /** Where the lines go as they are made (the CLI passes stdout). */
  out?: (text: string) => void;
  /** Bound on every wait inside the ranks. */
  timeoutMs?: number;
}

const isBw = (name: Io500PhaseName) => name.startsWith('ior-');

/** Geometric mean (0 when empty or when any value is 0, as a product would be). */
export function geometricMean(values: number[]): number {
  if (values.length === 0 || values.some((v) => v <= 0)) return 0;
  return Math.exp(values.reduce((a, v) => a + Math.log(v), 0) / values.length);
}

/** IO500's score from its phases' figures. */
export function io500Score(phases: Pick<Io500Phase, 'name' | 'value'>[]): {
  bw: number;
  md: number;
  score: number;
} {
  const bw = geometricMean(phases.filter((p) => isBw(p.name)).map((p) => p.value));
  const md = geometricMean(phases.filter((p) => !isBw(p.name)).map((p) => p.value));
  return { bw, md, score: Math.sqrt(bw * md) };
}

/** IO500's result line: `[RESULT] %20s %15f %s : time %.3f seconds`. */
export function formatResultLine(p: Pick<Io500Phase, 'name' | 'value' | 'unit' | 'seconds'>): string {
  return `[RESULT] ${p.name.padStart(20)} ${p.value.toFixed(6).padStart(15)} ${p.unit} : time ${p.seconds.toFixed(3)} seconds`;
}

export function formatScoreLine(r: Pick<Io500Result, 'bw' | 'md' | 'score' | 'valid'>): string {
  return `[SCORE ] Bandwidth ${r.bw.toFixed(6)} GiB/s : IOPS ${r.md.toFixed(6)} kiops : TOTAL ${r.score.toFixed(6)}${r.valid ? '' : ' [INVALID]'}`;
}

/** The value of `--dfs.NAME V` / `--dfs.NAME=V` in an API line's extra words. */
function dfsOption(extra: string[], name: string): string | undefined {
  for (let i = 0; i < extra.length; i++) {
    const w = extra[i]!;
    if (w === `--dfs.${name}`) return extra[i + 1];
    if (w.startsWith(`--dfs.${name}=`)) return w.slice(name.length + 7);
  }
  return undefined;
}

/** The API words ior / mdtest get: the pool and container default to io500's. */
function apiArgs(c: Io500ApiChoice): string[] {
  if (c.api === 'POSIX') return ['-a', 'POSIX', ...c.extra];
  const args = ['-a', 'DFS', ...c.extra];
  if (!dfsOption(c.extra, 'pool')) args.push('--dfs.pool', IO500_POOL_DEFAULT);
  if (!dfsOption(c.extra, 'cont')) args.push('--dfs.cont', IO500_CONTAINER_DEFAULT);
  return args;
}

function stamp(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}.${p(d.getMonth() + 1)}.${p(d.getDate())}-${p(d.getHours())}.${p(d.getMinutes())}.${p(d.getSeconds())}`;
}

/** One file system the run touches: local, or a DFS container mounted in this process. */
interface RunFs {
  api: Io500Api;
  root: string;
  fs: FindFs & {
    mkdir(path: string, o: { recursive: true }): Promise<unknown>;
    rm(path: string, o: { recursive: true; force: true }): Promise<void>;
  };
  close(): Promise<void>;
}

async function openRunFs(
  choice: Io500ApiChoice,
  root: string,
  sys: DaosSystem | undefined,
  own: boolean,
): Promise<RunFs> {
  if (choice.api === 'POSIX')
    return { api: 'POSIX', root: resolve(root), fs: nodeFs as unknown as RunFs['fs'], close: async () => {} };
  if (!sys) throw new DaosError('DER_INVAL', 'io500: the DFS API needs a system: --embedded DIR');
  const poolLabel = dfsOption(choice.extra, 'pool') ?? IO500_POOL_DEFAULT;
  const client = await sys.connect();
  try {
    let pool: Awaited<ReturnType<typeof client.connectPool>>;
    try {
      pool = await client.connectPool(poolLabel);
    } catch (err) {
      if (!(err instanceof DaosError && err.code === 'DER_NONEXIST') || !own) throw err;
      await sys.createPool({ label: poolLabel, size: JOB_POOL_SIZE_DEFAULT });
      pool = await client.connectPool(poolLabel);
    }
    const dfs = await Dfs.mount(pool, dfsOption(choice.extra, 'cont') ?? IO500_CONTAINER_DEFAULT, {
      create: true,
    });
    return {
      api: 'DFS',
      root: posix.resolve('/', root),
      fs: dfs.fs as unknown as RunFs['fs'],
      close: async () => {
        await dfs.umount();
        await client.close();
      },
    };
  } catch (err) {
    await client.close();
    throw err;
  }
}

/** mdtest's row for an operation in its rate or time table. */
function mdRow(r: MdtestReport, table: 'rate' | 'time', op: string) {
  const row = r.json[table].find((x) => x.operation === op);
  if (!row) throw new DaosError('DER_MISC', `mdtest reported no "${op}" row`);
  return row;
}

/** Run IO500 with `config` (default: the scaled-down defaults). */
export async function runIo500(
  config: Io500Config = io500Defaults(),
  env: RunIo500Env = {},
): Promise<Io500Result> {
  const c = config;
  const lines: string[] = [];
  const emit = (s: string) => {
    lines.push(s);
    env.out?.(`${s}\n`);
  };
  const began = new Date();
  // IO500's timestamp file: find looks for files newer than the start.
  const newerThanMs = began.getTime() - 1;
  const runDir = c.timestampDatadir ? posix.join(c.datadir, stamp(began)) : c.datadir;
  const choices = [c.iorEasy, c.iorHard, c.mdtestEasy, c.mdtestHard]
    .filter((p) => !p.noRun)
    .map((p) => p.api);
  const needsDfs = choices.some((a) => a.api === 'DFS');

  let sys = env.system;
  let owned = false;
  if (needsDfs && !sys) {
    if (!env.embedded)
      throw new DaosError('DER_INVAL', 'io500: API = DFS needs a system: give --embedded DIR');
    sys = await DaosSystem.start({ dir: env.embedded });
    owned = true;
  }
  // One mount per distinct file system (API and its options) the phases use.
  const fsByKey = new Map<string, RunFs>();
  const fsOf = (a: Io500ApiChoice) => fsByKey.get(apiArgs(a).join(' '))!;
  const phases: Io500Phase[] = [];
  let found = 0;
  try {
    for (const a of choices) {
      const key = apiArgs(a).join(' ');
      if (!fsByKey.has(key)) fsByKey.set(key, await openRunFs(a, runDir, sys, owned));
    }
    const dirs = (a: Io500ApiChoice, sub: string) => posix.join(fsOf(a).root, sub);
    for (const f of fsByKey.values()) {
      await f.fs.mkdir(posix.join(f.root, 'ior-easy'), { recursive: true });
      await f.fs.mkdir(posix.join(f.root, 'ior-hard'), { recursive: true });
    }
    if (c.resultdir) await nodeFs.mkdir(c.resultdir, { recursive: true });
    emit(`IO500 version io500-daos-ts (standard phases, scaled down)`);
    emit(`[global] datadir ${runDir}, ${c.tasks} task(s) as ${c.ranks}, stonewall ${c.stonewallSeconds} s`);

    const tasks = String(c.tasks);
    const launch = c.ranks === 'threads' ? [] : [`--${c.ranks}`];
    const ior = async (name: Io500PhaseName, a: Io500ApiChoice, args: string[]): Promise<IorResult> => {
      const r = await runIor([...apiArgs(a), '-N', tasks, ...launch, ...args], {
        system: sys,
        timeoutMs: env.timeoutMs,
      });
      const p = r.iterations[0]!.phases[0]!;
      if (c.resultdir) writeFileSync(posix.join(c.resultdir, `${name}.txt`), r.report);
      record({
        name,
        value: p.bytes / 2 ** 30 / p.total,
        unit: 'GiB/s',
        seconds: p.total,
        api: a.api,
        amount: p.bytes,
      });
      return r;
    };
    const mdtest = async (
      name: Io500PhaseName,
      a: Io500ApiChoice,
      args: string[],
      op: string,
    ): Promise<MdtestReport> => {
      const r = await runMdtest([...apiArgs(a), '--np', tasks, ...launch, ...args], { system: sys });
      if (c.resultdir) writeFileSync(posix.join(c.resultdir, `${name}.txt`), r.text);
      // The job's rate: all items over the slowest task's time (the table's min rate, max time).
      const rate = mdRow(r, 'rate', op).min;
      const seconds = mdRow(r, 'time', op).max;
      record({
        name,
        value: rate / 1000,
        unit: 'kIOPS',
        seconds,
        api: a.api,
        amount: Math.round(rate * seconds),
      });
      return r;
    };
    const record = (p: Io500Phase) => {
      phases.push(p);
      emit(formatResultLine(p));
    };
    // What the stonewalled writes reached, for the phases that come back to the same files.
    const wall =
      c.stonewallSeconds > 0 ? ['-D', String(c.stonewallSeconds), '-O', 'stoneWallingWearOut=1'] : [];
    const mdWall = c.stonewallSeconds > 0 ? ['-W', String(c.stonewallSeconds)] : [];
    const e = c.iorEasy;
    const h = c.iorHard;
    const me = c.mdtestEasy;
    const mh = c.mdtestHard;
    const easyFile = () => posix.join(dirs(e.api, 'ior-easy'), 'ior_file_easy');
    const hardFile = () => posix.join(dirs(h.api, 'ior-hard'), 'IOR_file');
    const easyFlags = ['-F', '-C', '-Q', '1', '-g', '-e', '-k', '-t', String(e.transferSize)];
    const hardT = String(IOR_HARD_TRANSFER_BYTES);
    const hardFlags = ['-C', '-Q', '1', '-g', '-e', '-k', '-t', hardT, '-b', hardT];
    const meFlags = () => ['-u', '-L', '-F', '-N', '1', '-d', dirs(me.api, 'mdtest-easy')];
    const hb = String(MDTEST_HARD_FILE_BYTES);
    const mhFlags = () => ['-F', '-w', hb, '-e', hb, '-N', '1', '-d', dirs(mh.api, 'mdtest-hard')];
    // Items every task made: with -W, the table's max rate × min time / tasks (one task's figures).
    const madeItems = (r: MdtestReport, n: number) =>
      c.stonewallSeconds > 0
        ? Math.round(
            (mdRow(r, 'rate', 'File creation').max * mdRow(r, 'time', 'File creation').min) / c.tasks,
          )
        : n;

    let easyTransfers = 0;
    let hardSegments = 0;
    let easyItems = 0;
    let hardItems = 0;
    for (const name of IO500_PHASES) {
      switch (name) {
        case 'ior-easy-write':
          if (!e.noRun) {
            const r = await ior(name, e.api, [
              '-w',
              ...easyFlags,
              '-b',
              String(e.blockSize),
              '-o',
              easyFile(),
              ...wall,
            ]);
            easyTransfers = r.iterations[0]!.phases[0]!.transfers;
          }
          break;
        case 'ior-easy-read':
          if (!e.noRun && easyTransfers > 0)
            await ior(name, e.api, [
              '-r',
              ...easyFlags,
              '-b',
              String(easyTransfers * e.transferSize),
              '-o',
              easyFile(),
            ]);
          break;
        case 'ior-hard-write':
          if (!h.noRun) {
            const r = await ior(name, h.api, [
              '-w',
              ...hardFlags,
              '-s',
              String(h.segmentCount),
              '-o',
              hardFile(),
              ...wall,
            ]);
            hardSegments = r.iterations[0]!.phases[0]!.transfers;
          }
          break;
        case 'ior-hard-read':
          if (!h.noRun && hardSegments > 0)
            await ior(name, h.api, ['-r', ...hardFlags, '-s', String(hardSegments), '-o', hardFile()]);
          break;
        case 'mdtest-easy-write':
          if (!me.noRun) {
            const r = await mdtest(
              name,
              me.api,
              ['-C', '-n', String(me.n), ...meFlags(), ...mdWall],
              'File creation',
            );
            easyItems = madeItems(r, me.n);
          }
          break;
        case 'mdtest-easy-stat':
          if (easyItems > 0)
            await mdtest(name, me.api, ['-T', '-n', String(easyItems), ...meFlags()], 'File stat');
          break;
        case 'mdtest-easy-delete':
          if (easyItems > 0)
            await mdtest(name, me.api, ['-r', '-n', String(easyItems), ...meFlags()], 'File removal');
          break;
        case 'mdtest-hard-write':
          if (!mh.noRun) {
            const r = await mdtest(
              name,
              mh.api,
              ['-C', '-n', String(mh.n), ...mhFlags(), ...mdWall],
              'File creation',
            );
            hardItems = madeItems(r, mh.n);
          }
          break;
        case 'mdtest-hard-stat':
          if (hardItems > 0)
            await mdtest(name, mh.api, ['-T', '-n', String(hardItems), ...mhFlags()], 'File stat');
          break;
        case 'mdtest-hard-read':
          if (hardItems > 0)
            await mdtest(name, mh.api, ['-E', '-n', String(hardItems), ...mhFlags()], 'File read');
          break;
        case 'mdtest-hard-delete':
          if (hardItems > 0)
            await mdtest(name, mh.api, ['-r', '-n', String(hardItems), ...mhFlags()], 'File removal');
          break;
        case 'find':
          if (!c.find.noRun && (easyItems > 0 || hardItems > 0)) {
            let scanned = 0;
            let seconds = 0;
            // Every file system the mdtest phases wrote to, walked from the run's folder.
            const walked = new Set<RunFs>();
            for (const a of [me, mh].filter((p) => !p.noRun)) walked.add(fsOf(a.api));
            for (const f of walked) {
              const r = await findFiles(f.fs, [f.root], {
                newerThanMs,
                sizeBytes: MDTEST_HARD_FILE_BYTES,
                name: '*01*',
              });
              scanned += r.scanned;
              seconds += r.seconds;
              found += r.matched;
            }
            const api = [...walked][0]!.api;
            record({ name, value: scanned / seconds / 1000, unit: 'kIOPS', seconds, api, amount: scanned });
          }
          break;
      }
    }
  } finally {
    for (const f of fsByKey.values()) {
      await f.fs.rm(f.root, { recursive: true, force: true }).catch(() => undefined);
      await f.close().catch(() => undefined);
    }
    if (owned) await sys!.stop();
  }
  const { bw, md, score } = io500Score(phases);
  const writes = phases.filter((p) => p.name.endsWith('-write'));
  const valid =
    phases.length === IO500_PHASES.length && writes.every((p) => p.seconds >= IO500_VALID_WRITE_SECONDS);
  const result = { bw, md, score, valid };
  emit(formatScoreLine(result));
  return { config: c, phases, ...result, found, text: `${lines.join('\n')}\n` };
}
