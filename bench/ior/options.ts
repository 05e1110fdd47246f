import type { RankMode } from '../../adapters/mpiio/spawn.js';
/**
 * IOR's command line (hpc/ior 4.x flags, shared/REFERENCE.md "IOR"): parsed into IorOptions,
 * checked as IOR checks them. Every bad flag or value is an IorUsageError naming it.
 */
import { RANKS_MAX } from '../../adapters/mpiio/spawn.js';

export const IOR_APIS = ['POSIX', 'DFS', 'DAOS', 'MPIIO', 'HDF5'] as const;
export type IorApi = (typeof IOR_APIS)[number];

/** Largest block, transfer or aggregate the job accepts (bytes): offsets stay exact doubles. */
export const IOR_BYTES_MAX = 2 ** 50;
/** Largest transfer buffer (bytes): one is allocated per rank. */
export const IOR_TRANSFER_BYTES_MAX = 1 << 30;
/** Transfers are whole 8-byte words: the data signature is written word by word. */
export const IOR_WORD_BYTES = 8;

export class IorUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IorUsageError';
  }
}

/** The --dfs.* options IOR and mdtest share (DAOS's DFS backend options). */
export interface IorDfsOptions {
  pool?: string;
  cont?: string;
  oclass?: string;
  dirOclass?: string;
  chunkSize?: number;
  prefix?: string;
  destroy: boolean;
}

export interface IorOptions {
  api: IorApi;
  blockSize: number;
  transferSize: number;
  segmentCount: number;
  filePerProc: boolean;
  collective: boolean;
  /** -C: read another rank's data, (rank + taskPerNodeOffset) % N. */
  reorderTasks: boolean;
  /** -Q (default 1). */
  taskPerNodeOffset: number;
  /** -Z: read a random rank's data (a permutation seeded by reorderTasksRandomSeed). */
  reorderTasksRandom: boolean;
  reorderTasksRandomSeed: number;
  /** -e: fsync at the end of the write phase; -Y: after every write. */
  fsync: boolean;
  fsyncPerWrite: boolean;
  writeFile: boolean;
  readFile: boolean;
  checkWrite: boolean;
  checkRead: boolean;
  repetitions: number;
  testFileName: string;
  keepFile: boolean;
  randomOffset: boolean;
  /** -D seconds (0: none); -O stoneWallingWearOut=1. */
  deadlineForStonewalling: number;
  stoneWallingWearOut: boolean;
  summaryFormat: 'default' | 'JSON';
  summaryFile: string | undefined;
  numTasks: number;
  intraTestBarriers: boolean;
  /** -G (0: the start time in seconds, as IOR). */
  setTimeStampSignature: number;
  /** -l: IOR 4's data packet type, timestamp (default) or offset (bench/README.md, "Data pattern"). */
  dataPacketType: IorPacketType;
  verbose: number;
  dfs: IorDfsOptions;
  /** --embedded DIR (or DAOS_EMBEDDED, read by the CLI). */
  embedded: string | undefined;
  /** How ranks run (ours): worker threads (default), --processes or --inline (see spawnRanks). */
  ranks: RankMode;
  /** The command line as given (printed in the output). */
  commandLine: string;
}

export function defaultIorOptions(): IorOptions {
  return {
    api: 'POSIX',
    blockSize: 1 << 20,
    transferSize: 256 << 10,
    segmentCount: 1,
    filePerProc: false,
    collective: false,
    reorderTasks: false,
    taskPerNodeOffset: 1,
    reorderTasksRandom: false,
    reorderTasksRandomSeed: 0,
    fsync: false,
    fsyncPerWrite: false,
    writeFile: false,
    readFile: false,
    checkWrite: false,
    checkRead: false,
    repetitions: 1,
    testFileName: 'testFile',
    keepFile: false,
    randomOffset: false,
    deadlineForStonewalling: 0,
    stoneWallingWearOut: false,
    summaryFormat: 'default',
    summaryFile: undefined,
    numTasks: 1,
    intraTestBarriers: false,
    setTimeStampSignature: 0,
    dataPacketType: 'timestamp',
    verbose: 0,
    dfs: { destroy: false },
    embedded: undefined,
    ranks: 'threads',
    commandLine: 'ior',
  };
}

/** A size with an optional binary suffix k, m, g or t (IOR's units: 1k = 1024). */
export function parseSize(text: string, flag: string): number {
  const m = /^(\d+)([kmgt]?)$/i.exec(text.trim());
  if (!m) throw new IorUsageError(`${flag}: "${text}" is not a size (a number with an optional k, m or g)`);
  const shift = { '': 0, k: 10, m: 20, g: 30, t: 40 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  const n = Number(m[1]) * 2 ** shift;
  if (!Number.isSafeInteger(n) || n > IOR_BYTES_MAX) throw new IorUsageError(`${flag}: ${text} is too large`);
  return n;
}

function parseInt10(text: string, flag: string, min: number): number {
  if (!/^-?\d+$/.test(text.trim())) throw new IorUsageError(`${flag}: "${text}" is not an integer`);
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min)
    throw new IorUsageError(`${flag}: ${text} must be at least ${min}`);
  return n;
}

type Setter = (o: IorOptions, value: string, flag: string) => void;

/** Flags that take no value. */
const SWITCHES: Record<string, (o: IorOptions) => void> = {
  F: (o) => (o.filePerProc = true),
  c: (o) => (o.collective = true),
  C: (o) => (o.reorderTasks = true),
  Z: (o) => (o.reorderTasksRandom = true),
  e: (o) => (o.fsync = true),
  Y: (o) => (o.fsyncPerWrite = true),
  w: (o) => (o.writeFile = true),
  r: (o) => (o.readFile = true),
  W: (o) => (o.checkWrite = true),
  R: (o) => (o.checkRead = true),
  k: (o) => (o.keepFile = true),
  z: (o) => (o.randomOffset = true),
  g: (o) => (o.intraTestBarriers = true),
  v: (o) => o.verbose++,
};

/** Flags that take a value (the next argument, or the rest of this one: -b1m, -b=1m). */
const VALUED: Record<string, Setter> = {
  a: (o, v, f) => {
    const api = v.toUpperCase();
    if (!(IOR_APIS as readonly string[]).includes(api))
      throw new IorUsageError(`${f}: unknown API "${v}" (one of ${IOR_APIS.join(', ')})`);
    o.api = api as IorApi;
  },
  b: (o, v, f) => (o.blockSize = parseSize(v, f)),
  t: (o, v, f) => (o.transferSize = parseSize(v, f)),
  s: (o, v, f) => (o.segmentCount = parseInt10(v, f, 1)),
  Q: (o, v, f) => (o.taskPerNodeOffset = parseInt10(v, f, 1)),
  X: (o, v, f) => (o.reorderTasksRandomSeed = parseInt10(v, f, 0)),
  i: (o, v, f) => (o.repetitions = parseInt10(v, f, 1)),
  o: (o, v) => (o.testFileName = v),
  D: (o, v, f) => (o.deadlineForStonewalling = parseInt10(v, f, 0)),
  N: (o, v, f) => (o.numTasks = parseInt10(v, f, 1)),
  G: (o, v, f) => (o.setTimeStampSignature = parseInt10(v, f, 0) >>> 0),
  l: (o, v, f) => (o.dataPacketType = parsePacketType(v, f)),
  O: (o, v, f) => {
    for (const kv of v.split(',')) setKeyValue(o, kv, f);
  },
};

/** IOR 4's data packet types this ior writes and checks (`-l`). */
export type IorPacketType = 'timestamp' | 'offset';

/** `-l t|timestamp|o|offset`, as IOR 4 takes it (by its first letter). */
function parsePacketType(v: string, flag: string): IorPacketType {
  switch (v.trim().toLowerCase()[0]) {
    case 't':
      return 'timestamp';
    case 'o':
      return 'offset';
    case 'i':
    case 'r':
      throw new IorUsageError(
        `${flag}: packet type "${v}" (incompressible, random) is not supported here: use t (timestamp) or o (offset)`,
      );
    default:
      throw new IorUsageError(`${flag}: unknown packet type "${v}" (t, timestamp, o or offset)`);
  }
}

const LONG: Record<string, Setter> = {
  dataPacketType: (o, v, f) => (o.dataPacketType = parsePacketType(v, f)),
  'dfs.pool': (o, v) => (o.dfs.pool = v),
  'dfs.cont': (o, v) => (o.dfs.cont = v),
  'dfs.oclass': (o, v) => (o.dfs.oclass = v),
  'dfs.dir_oclass': (o, v) => (o.dfs.dirOclass = v),
  'dfs.chunk_size': (o, v, f) => (o.dfs.chunkSize = parseSize(v, f)),
  'dfs.prefix': (o, v) => (o.dfs.prefix = v),
  embedded: (o, v) => (o.embedded = v),
};

const LONG_SWITCHES: Record<string, (o: IorOptions) => void> = {
  'dfs.destroy': (o) => (o.dfs.destroy = true),
  processes: (o) => (o.ranks = 'processes'),
  inline: (o) => (o.ranks = 'inline'),
};

/** -O key=value: the IOR options this tool knows. */
function setKeyValue(o: IorOptions, text: string, flag: string): void {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new IorUsageError(`${flag}: "${text}" is not key=value`);
  const key = text.slice(0, eq).trim();
  const value = text.slice(eq + 1).trim();
  switch (key) {
    case 'summaryFormat': {
      const v = value.toLowerCase();
      if (v === 'json') o.summaryFormat = 'JSON';
      else if (v === 'default') o.summaryFormat = 'default';
      else throw new IorUsageError(`${flag}: summaryFormat must be JSON or default, not "${value}"`);
      break;
    }
    case 'summaryFile':
      o.summaryFile = value;
      break;
    case 'stoneWallingWearOut':
      o.stoneWallingWearOut = parseInt10(value, `${flag} stoneWallingWearOut`, 0) !== 0;
      break;
    default:
      throw new IorUsageError(
        `${flag}: unknown option "${key}" (known: summaryFormat, summaryFile, stoneWallingWearOut)`,
      );
  }
}

/** IOR's usage text (the flags this implementation takes). */
export const IOR_USAGE = `Usage: ior [options]
  -a S  api -- API for I/O [POSIX|DFS|DAOS|MPIIO|HDF5]
  -b N  blockSize -- contiguous bytes to write per task (e.g.: 8, 4k, 2m, 1g)
  -t N  transferSize -- size of transfer in bytes (e.g.: 8, 4k, 2m, 1g)
  -s N  segmentCount -- number of segments
  -F    filePerProc -- file-per-process
  -c    collective -- collective I/O (MPIIO, HDF5)
  -C    reorderTasks -- changes task ordering for readback
  -Q N  taskPerNodeOffset -- for read tests use with -C & -Z
  -Z    reorderTasksRandom -- changes task ordering to random ordering for readback
  -X N  reorderTasksRandomSeed -- random seed for -Z option
  -e    fsync -- perform a fsync() operation at the end of each write phase
  -Y    fsyncPerWrite -- perform a fsync() after each write
  -w    writeFile -- write file
  -r    readFile -- read existing file
  -W    checkWrite -- check read after write
  -R    checkRead -- check read after read
  -i N  repetitions -- number of repetitions of test
  -o S  testFile -- full name for test
  -k    keepFile -- don't remove the test file(s) on program exit
  -z    randomOffset -- access is to random, not sequential, offsets within a file
  -D N  deadlineForStonewalling -- seconds before stopping write or read phase
  -O S  string of IOR directives (e.g. -O summaryFormat=JSON,summaryFile=F,stoneWallingWearOut=1)
  -N N  numTasks -- number of tasks (ranks) that are participating in the test
  -g    intraTestBarriers -- use barriers between open, write/read, and close
  -G N  setTimeStampSignature -- set value for time stamp signature/random seed
  -l S  dataPacketType -- type of packet that will be created [timestamp|offset|t|o] (default timestamp)
  -v    verbose -- output information (repeating flag increases level)
  --dfs.pool S --dfs.cont S --dfs.oclass S --dfs.dir_oclass S --dfs.chunk_size N --dfs.prefix S --dfs.destroy
  --embedded DIR  start or reopen an embedded system in DIR (or DAOS_EMBEDDED=DIR)
  --processes     ranks as child processes (default: worker threads)
  --inline        ranks as async tasks in this thread, with the embedded system's in-process client`;

/** Parse IOR's flags; throws IorUsageError on anything unknown or inconsistent. */
export function parseIorArgs(argv: readonly string[]): IorOptions {
  const o = defaultIorOptions();
  o.commandLine = ['ior', ...argv].join(' ');
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const next = (flag: string): string => {
      const v = argv[++i];
      if (v === undefined) throw new IorUsageError(`${flag} needs a value`);
      return v;
    };
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = arg.slice(2, eq < 0 ? undefined : eq);
      const inline = eq < 0 ? undefined : arg.slice(eq + 1);
      if (LONG_SWITCHES[name] && inline === undefined) LONG_SWITCHES[name](o);
      else if (LONG[name]) LONG[name](o, inline ?? next(`--${name}`), `--${name}`);
      else throw new IorUsageError(`unknown option --${name}`);
      continue;
    }
    if (!arg.startsWith('-') || arg.length < 2) throw new IorUsageError(`unexpected argument "${arg}"`);
    // Grouped switches (-wr, -vv), or one valued flag with its value attached or following.
    for (let j = 1; j < arg.length; j++) {
      const c = arg[j]!;
      const flag = `-${c}`;
      if (SWITCHES[c]) {
        SWITCHES[c](o);
        continue;
      }
      if (VALUED[c]) {
        const rest = arg.slice(j + 1).replace(/^=/, '');
        VALUED[c](o, rest.length > 0 ? rest : next(flag), flag);
        break;
      }
      if (c === 'h') throw new IorUsageError(IOR_USAGE);
      throw new IorUsageError(`unknown option ${flag}`);
    }
  }
  return checkIorOptions(o);
}

/** IOR's consistency checks; fills in -w -r when none of -w -r -W -R was given. */
export function checkIorOptions(o: IorOptions): IorOptions {
  if (!o.writeFile && !o.readFile && !o.checkWrite && !o.checkRead) o.writeFile = o.readFile = true;
  if (o.transferSize <= 0 || o.blockSize <= 0)
    throw new IorUsageError('block and transfer sizes must be > 0');
  if (o.transferSize % IOR_WORD_BYTES !== 0)
    throw new IorUsageError(`transfer size (-t ${o.transferSize}) must be a multiple of ${IOR_WORD_BYTES}`);
  if (o.transferSize > IOR_TRANSFER_BYTES_MAX)
    throw new IorUsageError(`transfer size (-t ${o.transferSize}) must be at most ${IOR_TRANSFER_BYTES_MAX}`);
  if (o.blockSize % o.transferSize !== 0)
    throw new IorUsageError(
      `block size (-b ${o.blockSize}) must be a multiple of transfer size (-t ${o.transferSize})`,
    );
  if (o.numTasks > RANKS_MAX) throw new IorUsageError(`-N ${o.numTasks}: at most ${RANKS_MAX} tasks`);
  if (o.blockSize * o.segmentCount * o.numTasks > IOR_BYTES_MAX)
    throw new IorUsageError('aggregate file size is too large');
  if (o.collective && o.api !== 'MPIIO' && o.api !== 'HDF5')
    throw new IorUsageError('-c (collective) needs -a MPIIO or -a HDF5');
  if (o.reorderTasks && o.reorderTasksRandom) throw new IorUsageError('-C and -Z are exclusive');
  if (o.testFileName.length === 0) throw new IorUsageError('-o needs a file name');
  if (o.api === 'DAOS' && o.testFileName.startsWith('daos:'))
    throw new IorUsageError('-a DAOS names arrays, not paths: drop the daos: prefix');
  if (o.dfs.chunkSize !== undefined && o.dfs.chunkSize <= 0)
    throw new IorUsageError('--dfs.chunk_size must be > 0');
  return o;
}
