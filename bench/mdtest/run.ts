/**
 * runMdtest: the mdtest run the `mdtest` CLI, the tests and io500 share. Starts the job's
 * system for DFS (or uses the caller's), spawns the tasks as ranks, and turns their figures
 * into mdtest's banner and SUMMARY table (and our JSON summary).
 */
import { existsSync, promises as nodeFs } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnRanks } from '../../adapters/mpiio/spawn.js';
import { DaosError } from '../../core/common/errors.js';
import { DaosSystem } from '../../embedded/system.js';
import { dfsPath, MDTEST_CONTAINER_DEFAULT } from './backend.js';
import {
  MDTEST_DEFAULTS,
  type MdtestOptions,
  parseMdtestArgs,
  treeShape,
  validateMdtest,
} from './options.js';
import type { RankResult } from './rank.js';
import { formatSummary, MDTEST_VERSION, mdtestTimestamp, type SummaryRow, summaryRows } from './summary.js';

/** The pool a DFS run uses when --dfs.pool is not given (created in an embedded system when missing). */
export const MDTEST_POOL_DEFAULT = 'tank';
export const MDTEST_POOL_SIZE_DEFAULT = '8G';

export interface MdtestRunContext {
  /** A system this process already runs (DFS); otherwise --embedded starts one for the run. */
  system?: DaosSystem;
  /** Where the text goes as it is produced (the CLI passes stdout); the report holds it too. */
  out?: (text: string) => void;
}

/** Our JSON summary (`--json FILE`): not a format of the real mdtest. */
export interface MdtestJson {
  version: string;
  began: string;
  finished: string;
  commandLine: string;
  api: string;
  path: string;
  tasks: number;
  iterations: number;
  itemsPerTask: number;
  totalItems: number;
  tree: {
    depth: number;
    branch: number;
    dirs: number;
    itemsPerDir: number;
    leafOnly: boolean;
    uniqueDir: boolean;
  };
  phases: { create: boolean; stat: boolean; read: boolean; remove: boolean; files: boolean; dirs: boolean };
  rate: SummaryRow[];
  time: SummaryRow[];
  /** File creation under -W: items made before the wall by all tasks, the slowest task's seconds. */
  stonewall?: { items: number; seconds: number; rate: number };
}

export interface MdtestReport {
  options: MdtestOptions;
  /** Everything printed (banner, tables, closing line). */
  text: string;
  json: MdtestJson;
}

function rankModule(): URL {
  for (const rel of ['./rank.js', '../../dist/bench/mdtest/rank.js']) {
    const url = new URL(rel, import.meta.url);
    if (existsSync(fileURLToPath(url))) return url;
  }
  throw new DaosError('DER_NONEXIST', 'bench/mdtest/rank.js is not built; run `npm run build` first');
}

/** The FS line of mdtest's banner, for a local path (the nearest existing ancestor's file system). */
async function fsLine(path: string): Promise<string | undefined> {
  let p = path;
  while (!existsSync(p) && dirname(p) !== p) p = dirname(p);
  const s = await nodeFs.statfs(p).catch(() => undefined);
  if (!s) return undefined;
  const total = s.blocks * s.bsize;
  let size = total / 2 ** 30;
  let unit = 'GiB';
  if (size > 1024) {
    size /= 1024;
    unit = 'TiB';
  }
  const usedFs = (1 - (s.bfree * s.bsize) / total) * 100;
  const usedInodes = s.files > 0 ? (1 - s.ffree / s.files) * 100 : 0;
  return `FS: ${size.toFixed(1)} ${unit}   Used FS: ${usedFs.toFixed(1)}%   Inodes: ${(s.files / 2 ** 20).toFixed(1)} Mi   Used Inodes: ${usedInodes.toFixed(1)}%`;
}

/** Options from a command line, or from an object (defaults filled in, checked the same way). */
export function mdtestOptions(
  args: readonly string[] | Partial<MdtestOptions>,
  hasSystem = false,
): MdtestOptions {
  if (Array.isArray(args)) return parseMdtestArgs(args as string[], process.env, { hasSystem });
  const partial = args as Partial<MdtestOptions>;
  return validateMdtest(
    {
      ...MDTEST_DEFAULTS,
      commandLine: 'mdtest (runMdtest)',
      ...partial,
      dfs: { destroy: false, ...partial.dfs },
    },
    { hasSystem },
  );
}

/**
 * Run mdtest: `runMdtest(['-n', '10', '-d', '/tmp/x', '--np', '4'])` or
 * `runMdtest({ itemsPerDir: 10, depth: 2, branch: 3, tasks: 4, dir: '/tmp/x' })`.
 * Rejects with MdtestUsageError on a bad command line, and when a task fails or data read back differs.
 */
export async function runMdtest(
  args: readonly string[] | Partial<MdtestOptions>,
  context: MdtestRunContext = {},
): Promise<MdtestReport> {
  const o = mdtestOptions(args, context.system !== undefined);
  const began = new Date();
  const chunks: string[] = [];
  const emit = (s: string) => {
    chunks.push(s);
    context.out?.(s);
  };
  const shape = treeShape(o);
  const path = o.api === 'POSIX' ? resolve(o.dir) : dfsPath(o.dir, o.dfs.prefix);
  const what = o.filesOnly && o.dirsOnly ? 'files/directories' : o.filesOnly ? 'files' : 'directories';
  const fs = o.api === 'POSIX' ? await fsLine(path) : undefined;
  emit(
    [
      `-- started at ${mdtestTimestamp(began)} --`,
      '',
      `mdtest-${MDTEST_VERSION} was launched with ${o.tasks} total task(s) on 1 node(s)`,
      `Command line used: ${o.commandLine}`,
      `Path: ${path}`,
      ...(fs ? [fs] : []),
      '',
      `${o.tasks} tasks, ${shape.items * o.tasks} ${what}`,
      '',
      '',
    ].join('\n'),
  );

  const poolLabel = o.dfs.pool ?? MDTEST_POOL_DEFAULT;
  const contLabel = o.dfs.cont ?? MDTEST_CONTAINER_DEFAULT;
  let owned: DaosSystem | undefined;
  let results: RankResult[];
  try {
    let system: DaosSystem | undefined;
    if (o.api === 'DFS') {
      system = context.system ?? (owned = await DaosSystem.start({ dir: o.embedded! }));
      await ensurePool(system, poolLabel, owned !== undefined);
    }
    results = (await spawnRanks(o.tasks, rankModule(), [JSON.stringify(o)], {
      mode: o.mode,
      system,
      pool: poolLabel,
      container: contLabel,
    })) as RankResult[];
    if (system && o.dfs.destroy) {
      const client = await system.connect();
      try {
        const pool = await client.connectPool(poolLabel);
        await pool.destroyContainer(contLabel, { force: true });
        await pool.disconnect();
      } finally {
        await client.close();
      }
    }
  } finally {
    await owned?.stop();
  }
  const verifyErrors = results[0]!.verifyErrors;
  if (verifyErrors > 0)
    throw new DaosError(
      'DER_MISC',
      `mdtest: ${verifyErrors} file(s) read back did not hold what was written`,
    );

  const kinds = { files: o.filesOnly, dirs: o.dirsOnly };
  const rate = summaryRows(results, 'rate', kinds);
  const time = summaryRows(results, 'time', kinds);
  const walls = results.flatMap((r) => r.iterations.map((it) => it.stonewall).filter((w) => w !== undefined));
  let stonewall: MdtestJson['stonewall'];
  if (walls.some((w) => w.hit)) {
    const items = walls.reduce((a, w) => a + w.items, 0);
    // Per iteration the slowest task's time to the wall; summed over iterations, as mdtest.
    let seconds = 0;
    for (let i = 0; i < o.iterations; i++)
      seconds += Math.max(...results.map((r) => r.iterations[i]!.stonewall?.seconds ?? 0));
    stonewall = { items, seconds, rate: items / seconds };
  }
  const tables: string[] = [];
  if (!o.printTime || o.printRateAndTime)
    tables.push(formatSummary('rate', o.iterations, rate, stonewall && { value: stonewall.rate }));
  if (o.printTime || o.printRateAndTime)
    tables.push(formatSummary('time', o.iterations, time, stonewall && { value: stonewall.seconds }));
  const finished = new Date();
  emit(`${tables.join('\n\n')}\n\n-- finished at ${mdtestTimestamp(finished)} --\n`);
  const json: MdtestJson = {
    version: MDTEST_VERSION,
    began: began.toISOString(),
    finished: finished.toISOString(),
    commandLine: o.commandLine,
    api: o.api,
    path,
    tasks: o.tasks,
    iterations: o.iterations,
    itemsPerTask: shape.items,
    totalItems: shape.items * o.tasks,
    tree: {
      depth: o.depth,
      branch: o.branch,
      dirs: shape.dirs,
      itemsPerDir: shape.itemsPerDir,
      leafOnly: o.leafOnly,
      uniqueDir: o.uniqueDir,
    },
    phases: {
      create: o.create,
      stat: o.stat,
      read: o.read,
      remove: o.remove,
      files: o.filesOnly,
      dirs: o.dirsOnly,
    },
    rate,
    time,
    ...(stonewall ? { stonewall } : {}),
  };
  return { options: o, text: chunks.join(''), json };
}

async function ensurePool(system: DaosSystem, label: string, create: boolean): Promise<void> {
  const client = await system.connect();
  try {
    const pool = await client.connectPool(label);
    await pool.disconnect();
  } catch (err) {
    if (!(err instanceof DaosError && err.code === 'DER_NONEXIST') || !create) throw err;
    await system.createPool({ label, size: MDTEST_POOL_SIZE_DEFAULT });
  } finally {
    await client.close();
  }
}
