import type { RankMode } from '../../adapters/mpiio/spawn.js';
/**
 * io500's configuration: IO500's ini file (`[global]`, `[debug]`, `[ior-easy]`, `[mdtest-easy]`,
 * `[ior-hard]`, `[mdtest-hard]`, `[find]` sections of `key = value` lines) over scaled-down
 * defaults that finish in about a minute on a small machine. An unknown section or key is an
 * error, as in IO500, so a typo never silently runs the default.
 */
import { parseSize } from '../ior/options.js';

export type Io500Api = 'POSIX' | 'DFS';

/** How a phase reaches storage: IO500's `API = DFS --dfs.pool=tank --dfs.cont=io500` form. */
export interface Io500ApiChoice {
  api: Io500Api;
  /** The words after the API's name, passed to ior / mdtest as they are. */
  extra: string[];
}

export interface Io500Config {
  /** [global] datadir: where the run's folder is made (a local path, or a path in the container). */
  datadir: string;
  /** [global] timestamp-datadir: put the run in `<datadir>/<YYYY.MM.DD-HH.MM.SS>` (IO500's default). */
  timestampDatadir: boolean;
  /** [global] resultdir: when set, each phase's ior / mdtest report is written there. */
  resultdir: string | undefined;
  /** [global] api: the default of every phase's API. */
  api: Io500ApiChoice;
  /** [global] tasks (ours: IO500 gets them from mpirun): ranks of every phase. */
  tasks: number;
  /** [global] ranks (ours): how the tasks run — threads (default), processes or inline (spawnRanks). */
  ranks: RankMode;
  /** [debug] (or [global]) stonewall-time: seconds after which the write phases stop issuing. */
  stonewallSeconds: number;
  iorEasy: { api: Io500ApiChoice; transferSize: number; blockSize: number; noRun: boolean };
  iorHard: { api: Io500ApiChoice; segmentCount: number; noRun: boolean };
  mdtestEasy: { api: Io500ApiChoice; n: number; noRun: boolean };
  mdtestHard: { api: Io500ApiChoice; n: number; noRun: boolean };
  find: { noRun: boolean };
}

/** The transfer and file sizes IO500 fixes for its hard phases (bytes). */
export const IOR_HARD_TRANSFER_BYTES = 47008;
export const MDTEST_HARD_FILE_BYTES = 3901;
/** Upper bounds on what an ini may ask for. */
export const IO500_TASKS_MAX = 64;
export const IO500_ITEMS_MAX = 10_000_000;
/** A run is valid for IO500's list only when its write phases run at least this long. */
export const IO500_VALID_WRITE_SECONDS = 300;

/** Scaled-down defaults: about a minute on a 2-core machine. */
export function io500Defaults(): Io500Config {
  const posix: Io500ApiChoice = { api: 'POSIX', extra: [] };
  return {
    datadir: './datafiles',
    timestampDatadir: true,
    resultdir: undefined,
    api: posix,
    tasks: 2,
    ranks: 'threads',
    stonewallSeconds: 5,
    iorEasy: { api: posix, transferSize: 2 << 20, blockSize: 128 << 20, noRun: false },
    iorHard: { api: posix, segmentCount: 4000, noRun: false },
    mdtestEasy: { api: posix, n: 4000, noRun: false },
    mdtestHard: { api: posix, n: 2000, noRun: false },
    find: { noRun: false },
  };
}

export class Io500ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Io500ConfigError';
  }
}

function parseBool(v: string, where: string): boolean {
  if (/^(true|yes|1)$/i.test(v)) return true;
  if (/^(false|no|0)$/i.test(v)) return false;
  throw new Io500ConfigError(`${where}: "${v}" is not TRUE or FALSE`);
}

function parseCount(v: string, where: string, max: number): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1 || n > max)
    throw new Io500ConfigError(`${where}: "${v}" is not a whole number from 1 to ${max}`);
  return n;
}

function parseBytes(v: string, where: string): number {
  try {
    return parseSize(v, where);
  } catch (err) {
    throw new Io500ConfigError(err instanceof Error ? err.message : String(err));
  }
}

export function parseApi(v: string, where: string): Io500ApiChoice {
  const [name, ...extra] = v.trim().split(/\s+/);
  const api = name?.toUpperCase();
  if (api !== 'POSIX' && api !== 'DFS')
    throw new Io500ConfigError(`${where}: API "${name}" is not POSIX or DFS`);
  return { api, extra };
}

type Setter = (c: Io500Config, value: string, where: string) => void;

/** Section → key (lower case) → what it sets. Phase APIs left unset follow [global] api. */
const KEYS: Record<string, Record<string, Setter>> = {
  global: {
    datadir: (c, v) => (c.datadir = v),
    'timestamp-datadir': (c, v, w) => (c.timestampDatadir = parseBool(v, w)),
    resultdir: (c, v) => (c.resultdir = v),
    api: (c, v, w) => (c.api = parseApi(v, w)),
    tasks: (c, v, w) => (c.tasks = parseCount(v, w, IO500_TASKS_MAX)),
    ranks: (c, v, w) => {
      if (v !== 'threads' && v !== 'processes' && v !== 'inline')
        throw new Io500ConfigError(`${w}: ranks must be threads, processes or inline, not "${v}"`);
      c.ranks = v;
    },
    'stonewall-time': (c, v, w) => (c.stonewallSeconds = parseCount(v, w, 86_400)),
    // Accepted for IO500 files; they change nothing here.
    'drop-caches': () => {},
    verbosity: () => {},
  },
  debug: { 'stonewall-time': (c, v, w) => (c.stonewallSeconds = parseCount(v, w, 86_400)) },
  'ior-easy': {
    api: (c, v, w) => (c.iorEasy.api = parseApi(v, w)),
    transfersize: (c, v, w) => (c.iorEasy.transferSize = parseBytes(v, w)),
    blocksize: (c, v, w) => (c.iorEasy.blockSize = parseBytes(v, w)),
    norun: (c, v, w) => (c.iorEasy.noRun = parseBool(v, w)),
  },
  'ior-hard': {
    api: (c, v, w) => (c.iorHard.api = parseApi(v, w)),
    segmentcount: (c, v, w) => (c.iorHard.segmentCount = parseCount(v, w, IO500_ITEMS_MAX)),
    norun: (c, v, w) => (c.iorHard.noRun = parseBool(v, w)),
  },
  'mdtest-easy': {
    api: (c, v, w) => (c.mdtestEasy.api = parseApi(v, w)),
    n: (c, v, w) => (c.mdtestEasy.n = parseCount(v, w, IO500_ITEMS_MAX)),
    norun: (c, v, w) => (c.mdtestEasy.noRun = parseBool(v, w)),
  },
  'mdtest-hard': {
    api: (c, v, w) => (c.mdtestHard.api = parseApi(v, w)),
    n: (c, v, w) => (c.mdtestHard.n = parseCount(v, w, IO500_ITEMS_MAX)),
    norun: (c, v, w) => (c.mdtestHard.noRun = parseBool(v, w)),
  },
  find: { norun: (c, v, w) => (c.find.noRun = parseBool(v, w)) },
};

const PHASE_SECTIONS = ['iorEasy', 'iorHard', 'mdtestEasy', 'mdtestHard'] as const;

/**
 * Parse an IO500 ini file over `base` (default: the scaled-down defaults). `#` and `;` start
 * comments; keys are case-insensitive, as IO500's (`transferSize`, `API`, `noRun`).
 */
export function parseIo500Ini(text: string, base: Io500Config = io500Defaults()): Io500Config {
  const c: Io500Config = structuredClone(base);
  const apiSet = new Set<string>();
  let section: string | undefined;
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.replace(/[#;].*$/, '').trim();
    if (line === '') continue;
    const where = `line ${i + 1}`;
    const head = /^\[\s*([^\]]+?)\s*\]$/.exec(line);
    if (head) {
      section = head[1]!.toLowerCase();
      if (!KEYS[section]) throw new Io500ConfigError(`${where}: unknown section [${head[1]}]`);
      continue;
    }
    const eq = line.indexOf('=');
    if (eq < 0) throw new Io500ConfigError(`${where}: expected "key = value", got "${line}"`);
    if (!section) throw new Io500ConfigError(`${where}: "${line}" comes before any [section]`);
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    const set = KEYS[section]![key.toLowerCase()];
    if (!set) throw new Io500ConfigError(`${where}: unknown key "${key}" in [${section}]`);
    set(c, value, `[${section}] ${key}`);
    if (key.toLowerCase() === 'api') apiSet.add(section);
  }
  // A phase without its own API follows [global] api, given before or after it.
  const bySection = {
    iorEasy: 'ior-easy',
    iorHard: 'ior-hard',
    mdtestEasy: 'mdtest-easy',
    mdtestHard: 'mdtest-hard',
  };
  for (const p of PHASE_SECTIONS) if (!apiSet.has(bySection[p])) c[p].api = c.api;
  return checkIo500Config(c);
}

/** IO500's constraints on the sizes (ior's own are checked again when it runs). */
export function checkIo500Config(c: Io500Config): Io500Config {
  const e = c.iorEasy;
  if (e.transferSize % 8 !== 0 || e.transferSize <= 0)
    throw new Io500ConfigError(`[ior-easy] transferSize ${e.transferSize} is not a positive multiple of 8`);
  if (e.blockSize % e.transferSize !== 0)
    throw new Io500ConfigError(
      `[ior-easy] blockSize ${e.blockSize} is not a multiple of transferSize ${e.transferSize}`,
    );
  if (c.datadir.trim() === '') throw new Io500ConfigError('[global] datadir is empty');
  return c;
}
