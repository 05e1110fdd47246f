/**
 * What the benchmarks share: their command-line flags, the results table, and the block of
 * bench/RESULTS.md each one rewrites between its markers.
 */
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export const MiB = 1 << 20;

/** One line of a results table: daos-ts beside its baseline. */
export interface Row {
  test: string;
  ours: string;
  base: string;
  ratio: number | undefined;
  goal: number | undefined;
  /** CPU while timed: of client / server (bench:net), per operation by thread (bench:vos). */
  cpu?: string;
}

/** CPU time this process's threads ran, in µs: the main thread and all of them (Linux; undefined elsewhere). */
export interface ThreadCpu {
  main: number;
  all: number;
}

/**
 * ThreadCpu now, from the scheduler's own accounting (/proc/…/schedstat, nanoseconds): unlike
 * wall time, it does not count the waits for a core this VM's stalls add, so that it shows which
 * side's work per operation differs where throughput swings from run to run.
 */
export function threadCpu(): ThreadCpu | undefined {
  try {
    const ran = (path: string) => Number(readFileSync(path, 'utf8').split(' ')[0]) / 1000;
    let all = 0;
    for (const t of readdirSync('/proc/self/task')) {
      try {
        all += ran(`/proc/self/task/${t}/schedstat`);
      } catch {
        // A thread that ended meanwhile.
      }
    }
    return { main: ran('/proc/thread-self/schedstat'), all };
  } catch {
    return undefined;
  }
}

export const mibps = (bytes: number, s: number) => `${(bytes / MiB / s).toFixed(0)} MiB/s`;

export interface FlagSpec {
  /** Positive integers: [value of a real run, value of a --quick run, environment variable]. */
  numbers: Record<string, [number, number, string?]>;
  /** Lists of positive integers, with their default. */
  lists?: Record<string, string>;
  /** Free strings. */
  strings?: string[];
}

export interface Flags {
  quick: boolean;
  keep: boolean;
  /** Rewrite the bench's block of bench/RESULTS.md (real runs, unless --no-results). */
  writeResults: boolean;
  num(name: string): number;
  list(name: string): number[];
  str(name: string): string | undefined;
}

/** The flags a bench takes, for --help and for a usage error. */
function usage(spec: FlagSpec): string {
  const own = [
    ...Object.keys(spec.numbers).map((n) => `--${n} N`),
    ...Object.keys(spec.lists ?? {}).map((n) => `--${n} N,N,...`),
    ...(spec.strings ?? []).map((n) => `--${n} VALUE`),
  ];
  return `options: --quick, --keep, --results, --no-results${own.map((o) => `, ${o}`).join('')} (see the comment at the top of bench/<name>.ts)`;
}

/** Print what was wrong with the command line and the flags there are, then exit 2. */
function usageError(spec: FlagSpec, message: string): never {
  console.error(`${process.argv[1] ?? 'bench'}: ${message}\n${usage(spec)}`);
  process.exit(2);
}

/**
 * --quick, --keep, --results / --no-results, --help and the bench's own flags
 * (BENCH_QUICK=1 = --quick). A flag the bench does not take, or a bad number, exits 2 with a
 * usage line before anything runs.
 */
export function benchFlags(argv: string[], spec: FlagSpec): Flags {
  const valued = [...Object.keys(spec.numbers), ...Object.keys(spec.lists ?? {}), ...(spec.strings ?? [])];
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        quick: { type: 'boolean' },
        keep: { type: 'boolean' },
        results: { type: 'boolean' },
        'no-results': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        ...Object.fromEntries(valued.map((n) => [n, { type: 'string' as const }])),
      },
    }).values;
  } catch (err) {
    usageError(spec, (err as Error).message);
  }
  if (values.help === true) {
    console.log(usage(spec));
    process.exit(0);
  }
  const v = values;
  const quick = v.quick === true || process.env.BENCH_QUICK === '1';
  const nums = new Map<string, number>();
  for (const [name, [real, small, envName]] of Object.entries(spec.numbers)) {
    const fromEnv = envName ? process.env[envName] : undefined;
    const raw = (v[name] as string | undefined) ?? (fromEnv === '' ? undefined : fromEnv);
    const n = raw !== undefined ? Number(raw) : quick ? small : real;
    if (!Number.isSafeInteger(n) || n <= 0)
      usageError(spec, `--${name}${envName ? ` (or ${envName})` : ''} needs a positive integer, not ${raw}`);
    nums.set(name, n);
  }
  const lists = new Map<string, number[]>();
  for (const [name, dflt] of Object.entries(spec.lists ?? {})) {
    const raw = (v[name] as string | undefined) ?? dflt;
    const out = raw.split(',').map(Number);
    if (out.some((d) => !Number.isSafeInteger(d) || d < 1))
      usageError(spec, `--${name} takes positive integers separated by commas, like 1,4, not ${raw}`);
    lists.set(name, out);
  }
  return {
    quick,
    keep: v.keep === true,
    writeResults: v.results === true || (!quick && v['no-results'] !== true),
    num: (name) => nums.get(name)!,
    list: (name) => lists.get(name)!,
    str: (name) => v[name] as string | undefined,
  };
}

/** Piece size of `warmPageCache`'s file. */
const WARM_PIECE_BYTES = 8 * MiB;
/**
 * The piece, made once: a new 8 MiB buffer per call left V8 a full collection to run in the timed
 * segment after it (external memory), ~7 ms of the main thread's time falling on whichever side
 * allocates there: 8 mark-compacts in 2,048 1 MiB array writes at 1 in flight with a warm-up
 * before every 256, 1 with the piece kept (`--trace-gc`, 2026-11-28; bench/README.md).
 */
let warmPiece: Buffer | undefined;
/** Bytes `warmPageCache` writes beyond the phase's own volume (the index, warm-up files). */
export const WARM_MARGIN_BYTES = 512 * MiB;
/**
 * Least time between two of `warmPageCache`'s deletions. The guest hands free pages to its host
 * in passes that start 1–2 s after pages were freed (`page_reporting`): the pass that the last
 * deletion started would otherwise run in the next timed segment and take back the very pages
 * the warm-up has just freed for it (30 segments of 256 1 MiB writes, each after a warm-up: 3
 * slow ones, 2,963–3,583 µs a write, each with 32–300 MiB reported during it, against none of
 * 30 with this gap; bench/README.md, "Page reporting during a segment").
 */
const WARM_FREE_GAP_MS = 2500;
/** When `warmPageCache` last deleted its file (performance.now()). */
let warmFreedAt = Number.NEGATIVE_INFINITY;

/**
 * Write `bytes` + WARM_MARGIN_BYTES to a scratch file in `dir`, flush it and delete it (untimed),
 * so that the page cache the timed phases fill next is memory this VM has backed already.
 * Measured here (bench/README.md, "Memory of this VM"): the guest reports free pages to its host
 * (`page_reporting`), and the first touch of a page the host took back costs ~12 µs, so buffered
 * writes run at 4–7 GB/s until 1.6–3 GiB of fresh page cache, then at ~0.3 GB/s, whichever side
 * happens to be writing then. Pages freed a moment ago are reused warm.
 */
export function warmPageCache(dir: string, bytes: number): void {
  const file = join(dir, `warm-${process.pid}.tmp`);
  const piece = (warmPiece ??= Buffer.alloc(WARM_PIECE_BYTES, 0x5a));
  const fd = openSync(file, 'w');
  try {
    for (let off = 0; off < bytes + WARM_MARGIN_BYTES; off += piece.length)
      writeSync(fd, piece, 0, piece.length, off);
  } finally {
    closeSync(fd);
    spawnSync('sync');
    const wait = WARM_FREE_GAP_MS - (performance.now() - warmFreedAt);
    if (wait > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, wait);
    rmSync(file, { force: true });
    warmFreedAt = performance.now();
  }
}

/**
 * Flush every dirty page before a timed step (not timed): a step that starts while the kernel
 * writes back what an earlier step left (the engine's data files are not fsynced with durability
 * 'process'; a POSIX side's -e fsyncs its own) measures that writeback and the kernel's throttling
 * of writers, not itself.
 */
export function settleDisk(): void {
  spawnSync('sync');
}

/**
 * Run op(i) for i in [from, to) with `depth` in flight; resolves to seconds. No forced gc() before
 * (bench:dfs measured why: a full collection shrinks V8's young generation, and the next thousands
 * of small calls pay for scavenges while it grows back — a stat segment of 2,500 ran at 26k/s
 * after gc() and 47k/s without, the same code).
 */
export async function inFlight(
  from: number,
  to: number,
  depth: number,
  op: (i: number) => Promise<unknown>,
): Promise<number> {
  const t0 = performance.now();
  let next = from;
  await Promise.all(
    Array.from({ length: Math.min(depth, to - from) }, async () => {
      for (let i = next++; i < to; i = next++) await op(i);
    }),
  );
  return (performance.now() - t0) / 1000;
}

export function machine(): string {
  const cpus = os.cpus();
  return `${cpus[0]?.model.trim() ?? 'unknown CPU'} × ${cpus.length}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Linux ${os.release()}, Node ${process.version}`;
}

function verdict(r: Row): string {
  if (r.goal === undefined || r.ratio === undefined) return '';
  return r.ratio >= r.goal ? `≥ ${r.goal}x: met` : `≥ ${r.goal}x: **missed**`;
}

const ratioText = (r: Row) => (r.ratio === undefined ? '' : `${r.ratio.toFixed(2)}x`);

/** A markdown table of rows; with a CPU column when `cpuHeading` is given. */
export function table(rows: Row[], cpuHeading?: string): string {
  const head = `| test | daos-ts | baseline | daos-ts / baseline | goal |${cpuHeading ? ` ${cpuHeading} |` : ''}`;
  const rule = `|---|---:|---:|---:|---|${cpuHeading ? '---|' : ''}`;
  const lines = rows.map(
    (r) =>
      `| ${r.test} | ${r.ours} | ${r.base} | ${ratioText(r)} | ${verdict(r)} |${cpuHeading ? ` ${r.cpu ?? ''} |` : ''}`,
  );
  return [head, rule, ...lines].join('\n');
}

/** Rows as they are measured, on stderr. */
export function progress(rows: Row[]): void {
  for (const r of rows) {
    const ratio = r.ratio === undefined ? '' : `  (${ratioText(r)})`;
    console.error(
      `  ${r.test}: ${r.ours}${r.base ? `  vs ${r.base}` : ''}${ratio}${r.cpu ? `  cpu ${r.cpu}` : ''}`,
    );
  }
}

/** Replace the block between `<!-- bench:NAME:begin -->` and its end marker in bench/RESULTS.md. */
export function updateResults(name: string, block: string): string {
  const begin = `<!-- bench:${name}:begin -->`;
  const end = `<!-- bench:${name}:end -->`;
  // Compiled to dist/bench/: the results file is in the source tree's bench/.
  const file = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', 'bench', 'RESULTS.md');
  const fresh = `${begin}\n${block}\n${end}`;
  let text = existsSync(file) ? readFileSync(file, 'utf8') : '# bench results\n\n';
  const a = text.indexOf(begin);
  const b = text.indexOf(end);
  text =
    a >= 0 && b > a
      ? text.slice(0, a) + fresh + text.slice(b + end.length)
      : `${text.trimEnd()}\n\n${fresh}\n`;
  writeFileSync(file, text);
  return file;
}
