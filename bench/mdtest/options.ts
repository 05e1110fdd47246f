import type { RankMode } from '../../adapters/mpiio/spawn.js';
/**
 * mdtest's command line: the real tool's flags (shared/REFERENCE.md "mdtest"), parsed into
 * `MdtestOptions`, checked the way mdtest checks them, and the tree arithmetic they imply.
 */
import type { IorDfsOptions } from '../ior/options.js';

/** Most tasks one run may have (the launcher's limit). */
export const MDTEST_TASKS_MAX = 256;
/** Most directories one tree may have: keeps a typo (-z 20 -b 10) from filling the disk. */
export const MDTEST_TREE_DIRS_MAX = 100_000;
/** Most items (files or directories) per task. */
export const MDTEST_ITEMS_MAX = 10_000_000;
/** Most bytes written or read per file (-w, -e). */
export const MDTEST_ITEM_BYTES_MAX = 64 << 20;

export type MdtestApi = 'POSIX' | 'DFS';

export interface MdtestOptions {
  /** -a: POSIX (node fs.promises on a local directory) or DFS (a DFS container). */
  api: MdtestApi;
  /** -d: the directory the test directory is made in (a local path, or a path in the container). */
  dir: string;
  /** -n: items per task (0: computed from -I). */
  items: number;
  /** -I: items per directory of the tree (0: -n spread over the tree). */
  itemsPerDir: number;
  /** -z: depth of the tree below its root. */
  depth: number;
  /** -b: branching factor. */
  branch: number;
  /** -F, -D: files only, directories only (neither: both). */
  filesOnly: boolean;
  dirsOnly: boolean;
  /** -L: items in the leaves only. */
  leafOnly: boolean;
  /** -u: a tree per task. */
  uniqueDir: boolean;
  /** -w, -e: bytes written to each file at create, read from each file in the read phase. */
  writeBytes: number;
  readBytes: number;
  /** -C, -T, -E, -r: the phases to run (none given: all four). */
  create: boolean;
  stat: boolean;
  read: boolean;
  remove: boolean;
  /** -i: iterations. */
  iterations: number;
  /** -N: task stride between phases (0: every task works on its own items). */
  stride: number;
  /** -W: stonewall seconds for the create phases (0: none). */
  stonewallSeconds: number;
  /** -P: print both the rate and the time tables. -Z: print time instead of rate. */
  printRateAndTime: boolean;
  printTime: boolean;
  /** The launcher (ours): task count (--np) and how ranks run (threads, --processes, --inline). */
  tasks: number;
  mode: RankMode;
  /** --dfs.*: the backend's options. */
  dfs: IorDfsOptions;
  /** --embedded DIR (or DAOS_EMBEDDED): the system a DFS run starts or reopens. */
  embedded?: string;
  /** --json FILE (ours): also write the summary as JSON to FILE ('-': stdout, instead of text). */
  json?: string;
  /** The command line as typed, for the banner. */
  commandLine: string;
}

export const MDTEST_DEFAULTS: Omit<MdtestOptions, 'commandLine' | 'dfs'> & { dfs: { destroy: false } } = {
  api: 'POSIX',
  dir: './out',
  items: 0,
  itemsPerDir: 0,
  depth: 0,
  branch: 1,
  filesOnly: false,
  dirsOnly: false,
  leafOnly: false,
  uniqueDir: false,
  writeBytes: 0,
  readBytes: 0,
  create: false,
  stat: false,
  read: false,
  remove: false,
  iterations: 1,
  stride: 0,
  stonewallSeconds: 0,
  printRateAndTime: false,
  printTime: false,
  tasks: 1,
  mode: 'threads',
  dfs: { destroy: false },
};

/** A command line mdtest refuses (exit code 1 with this message). */
export class MdtestUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MdtestUsageError';
  }
}

type Setter = (o: MdtestOptions, v: string) => void;

const int =
  (flag: string, set: (o: MdtestOptions, n: number) => void, min = 0): Setter =>
  (o, v) =>
    set(o, parseCount(flag, v, min));

/** Sizes take k/m/g (binary), as mdtest's -w/-e do. */
function parseCount(flag: string, v: string, min: number): number {
  const m = /^(\d+)([kmgKMG]?)$/.exec(v);
  if (!m) throw new MdtestUsageError(`${flag} needs a non-negative integer, got "${v}"`);
  const unit = { '': 1, k: 1 << 10, m: 1 << 20, g: 1 << 30 }[m[2]!.toLowerCase()]!;
  const n = Number(m[1]) * unit;
  if (!Number.isSafeInteger(n) || n < min)
    throw new MdtestUsageError(`${flag} must be at least ${min}, got "${v}"`);
  return n;
}

/** Flags with a value. */
const VALUED: Record<string, Setter> = {
  '-a': (o, v) => {
    const api = v.toUpperCase();
    if (api !== 'POSIX' && api !== 'DFS')
      throw new MdtestUsageError(`-a ${v}: this mdtest has the POSIX and DFS backends`);
    o.api = api;
  },
  '-d': (o, v) => {
    if (v.includes('@'))
      throw new MdtestUsageError(`-d ${v}: several test directories (a@b) are not supported`);
    o.dir = v;
  },
  '-n': int('-n', (o, n) => (o.items = n)),
  '-I': int('-I', (o, n) => (o.itemsPerDir = n)),
  '-z': int('-z', (o, n) => (o.depth = n)),
  '-b': int('-b', (o, n) => (o.branch = n), 1),
  '-w': int('-w', (o, n) => (o.writeBytes = n)),
  '-e': int('-e', (o, n) => (o.readBytes = n)),
  '-i': int('-i', (o, n) => (o.iterations = n), 1),
  '-N': int('-N', (o, n) => (o.stride = n)),
  '-W': int('-W', (o, n) => (o.stonewallSeconds = n)),
  '--np': int('--np', (o, n) => (o.tasks = n), 1),
  '--embedded': (o, v) => (o.embedded = v),
  '--json': (o, v) => (o.json = v),
  '--dfs.pool': (o, v) => (o.dfs.pool = v),
  '--dfs.cont': (o, v) => (o.dfs.cont = v),
  '--dfs.oclass': (o, v) => (o.dfs.oclass = v),
  '--dfs.dir_oclass': (o, v) => (o.dfs.dirOclass = v),
  '--dfs.chunk_size': int('--dfs.chunk_size', (o, n) => (o.dfs.chunkSize = n), 1),
  '--dfs.prefix': (o, v) => (o.dfs.prefix = v),
};

/** Flags without a value. */
const SWITCHES: Record<string, (o: MdtestOptions) => void> = {
  '-F': (o) => (o.filesOnly = true),
  '-D': (o) => (o.dirsOnly = true),
  '-L': (o) => (o.leafOnly = true),
  '-u': (o) => (o.uniqueDir = true),
  '-C': (o) => (o.create = true),
  '-T': (o) => (o.stat = true),
  '-E': (o) => (o.read = true),
  '-r': (o) => (o.remove = true),
  '-P': (o) => (o.printRateAndTime = true),
  '-Z': (o) => (o.printTime = true),
  '--processes': (o) => (o.mode = 'processes'),
  '--inline': (o) => (o.mode = 'inline'),
  '--dfs.destroy': (o) => (o.dfs.destroy = true),
};

/** mdtest flags that exist in the real tool but not here: refused by name rather than as unknown. */
const NOT_IMPLEMENTED: Record<string, string> = {
  '-B': 'no barriers',
  '-c': 'collective creates',
  '-f': 'first task count',
  '-l': 'last task count',
  '-s': 'task count stride',
  '-k': 'mknod',
  '-p': 'pre-iteration delay',
  '-R': 'random stat order',
  '-S': 'shared file',
  '-t': 'unique dir overhead timing',
  '-x': 'stonewall status file',
  '-X': 'verify',
  '-y': 'sync file after write',
  '-Y': 'sync after each phase',
  '-v': 'verbosity',
  '-V': 'verbosity value',
};

/** Parse mdtest's flags (the launcher's `--np`, `--processes`, `--inline`, `--embedded` and our `--json` too). */
export function parseMdtestArgs(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  context: { hasSystem?: boolean } = {},
): MdtestOptions {
  const o: MdtestOptions = {
    ...MDTEST_DEFAULTS,
    dfs: { destroy: false },
    embedded: env.DAOS_EMBEDDED || undefined,
    commandLine: ['mdtest', ...argv].join(' '),
  };
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i]!;
    let inline: string | undefined;
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    if (eq > 0) {
      inline = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    } else if (/^-[A-Za-z]./.test(arg) && VALUED[arg.slice(0, 2)]) {
      // -n10: the value glued to a short flag, as getopt allows.
      inline = arg.slice(2);
      arg = arg.slice(0, 2);
    }
    const setter = VALUED[arg];
    if (setter) {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new MdtestUsageError(`${arg} needs a value`);
      setter(o, v);
      continue;
    }
    const sw = SWITCHES[arg];
    if (sw && inline === undefined) {
      sw(o);
      continue;
    }
    // Clustered switches: -FuL.
    if (/^-[A-Za-z]{2,}$/.test(arg) && [...arg.slice(1)].every((c) => SWITCHES[`-${c}`])) {
      for (const c of arg.slice(1)) SWITCHES[`-${c}`]!(o);
      continue;
    }
    if (NOT_IMPLEMENTED[arg])
      throw new MdtestUsageError(`${arg} (${NOT_IMPLEMENTED[arg]}) is not implemented`);
    throw new MdtestUsageError(`unknown option ${arg}`);
  }
  return validateMdtest(o, context);
}

/** Fill in what mdtest derives (phases, file/dir kinds) and refuse what it refuses. */
export function validateMdtest(input: MdtestOptions, context: { hasSystem?: boolean } = {}): MdtestOptions {
  const o = { ...input, dfs: { ...input.dfs } };
  if (!o.create && !o.stat && !o.read && !o.remove) o.create = o.stat = o.read = o.remove = true;
  if (!o.filesOnly && !o.dirsOnly) o.filesOnly = o.dirsOnly = true;
  if (o.tasks < 1 || o.tasks > MDTEST_TASKS_MAX)
    throw new MdtestUsageError(`--np must be 1..${MDTEST_TASKS_MAX}, got ${o.tasks}`);
  if (o.depth > 0 && o.branch < 1) throw new MdtestUsageError('branch factor (-b) must be at least 1');
  if (o.items > 0 && o.itemsPerDir > 0)
    throw new MdtestUsageError(
      'give the number of items (-n) or the items per directory (-I), not both (directory loops are not implemented)',
    );
  if (o.items === 0 && o.itemsPerDir === 0) throw new MdtestUsageError('give the number of items: -n or -I');
  const dirs = treeDirCount(o.depth, o.branch);
  if (dirs > MDTEST_TREE_DIRS_MAX)
    throw new MdtestUsageError(
      `-z ${o.depth} -b ${o.branch} makes ${dirs} directories (at most ${MDTEST_TREE_DIRS_MAX})`,
    );
  if (o.writeBytes > MDTEST_ITEM_BYTES_MAX || o.readBytes > MDTEST_ITEM_BYTES_MAX)
    throw new MdtestUsageError(`-w and -e are limited to ${MDTEST_ITEM_BYTES_MAX} bytes`);
  if (o.create && o.read && o.readBytes > o.writeBytes)
    throw new MdtestUsageError('When writing and reading files, read bytes must be smaller than write bytes');
  if (o.stride >= o.tasks && o.stride > 0)
    throw new MdtestUsageError(`-N ${o.stride} must be smaller than the number of tasks (${o.tasks})`);
  if (o.api === 'POSIX' && (o.dfs.pool || o.dfs.cont || o.dfs.destroy))
    throw new MdtestUsageError('--dfs.* options need -a DFS');
  if (o.api === 'DFS' && !o.embedded && !context.hasSystem)
    throw new MdtestUsageError('-a DFS needs a system: --embedded DIR (or DAOS_EMBEDDED=DIR)');
  if (o.dfs.prefix && !o.dfs.prefix.startsWith('/'))
    throw new MdtestUsageError(`--dfs.prefix ${o.dfs.prefix} must be an absolute path`);
  const shape = treeShape(o);
  if (shape.items > MDTEST_ITEMS_MAX)
    throw new MdtestUsageError(`${shape.items} items per task (at most ${MDTEST_ITEMS_MAX})`);
  if (shape.items === 0)
    throw new MdtestUsageError(
      `-n ${o.items} is fewer items than the tree has directories (${shape.itemDirs})`,
    );
  return o;
}

/** Directories in a tree of depth z and branching b, its root included. */
export function treeDirCount(depth: number, branch: number): number {
  if (branch === 1) return depth + 1;
  return (branch ** (depth + 1) - 1) / (branch - 1);
}

/** What the options imply for one task's tree. */
export interface TreeShape {
  /** Directories in the tree (numbered 0 = root, children of k are k*b+1 .. k*b+b). */
  dirs: number;
  /** Directories that hold items (all of them, or the leaves with -L). */
  itemDirs: number;
  /** The first directory holding items (numbers are consecutive from it). */
  firstItemDir: number;
  itemsPerDir: number;
  /** Items per task (for each of files and directories). */
  items: number;
}

/** mdtest's arithmetic: -I fills every directory; -n is spread evenly (rounded down). */
export function treeShape(
  o: Pick<MdtestOptions, 'depth' | 'branch' | 'items' | 'itemsPerDir' | 'leafOnly'>,
): TreeShape {
  const dirs = treeDirCount(o.depth, o.branch);
  const itemDirs = o.leafOnly ? o.branch ** o.depth : dirs;
  const itemsPerDir = o.itemsPerDir > 0 ? o.itemsPerDir : Math.floor(o.items / itemDirs);
  return { dirs, itemDirs, firstItemDir: dirs - itemDirs, itemsPerDir, items: itemsPerDir * itemDirs };
}
