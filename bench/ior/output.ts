/**
 * IOR's output formats (hpc/ior 4.x): the text report (banner, Options block, Results rows,
 * Max Write/Read lines, Summary of all tests) and the `-O summaryFormat=JSON` document.
 */
import os from 'node:os';
import type { IorOptions } from './options.js';
import type { IorIteration, IorPhase } from './run.js';

/** The IOR version this tool's flags and formats follow. */
export const IOR_VERSION = '4.0.0';

const KiB = 1024;
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** What the report needs besides the options and the iterations. */
export interface IorReportInfo {
  began: Date;
  finished: Date;
  /** Where the files are (a folder, or daos:pool/container). */
  path: string;
  signature: number;
}

/** IOR's CurrentTimeString: "Thu Nov 26 10:00:00 2026". */
export function iorTime(d: Date): string {
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p = (n: number) => String(n).padStart(2, '0');
  return `${days[d.getDay()]} ${months[d.getMonth()]} ${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())} ${d.getFullYear()}`;
}

/** IOR's HumanReadable in base two: "1 MiB", "1.50 GiB", "262144 bytes". */
export function humanReadable(n: number): string {
  const unit = (u: number, name: string) =>
    n % u === 0 ? `${n / u} ${name}` : `${(n / u).toFixed(2)} ${name}`;
  if (n >= GiB) return unit(GiB, 'GiB');
  if (n >= MiB) return unit(MiB, 'MiB');
  if (n >= 0) return `${n} bytes`;
  return '-';
}

/** IOR's PPDouble: width 10, left-justified; 1 decimal for 0, 6 below 1, 2 below 3600, else 0. */
export function ppDouble(n: number): string {
  if (n < 0 || !Number.isFinite(n)) return '   -      ';
  const precision = n === 0 ? 1 : n < 1 ? 6 : n < 3600 ? 2 : 0;
  return n.toFixed(precision).padEnd(10);
}

const keyVal = (k: string, v: string | number) => `${k.padEnd(20)}: ${v}`;

/** One row of the Results table, as the figures IOR derives from a phase. */
export interface IorRow {
  access: 'write' | 'read';
  bwMiB: number;
  iops: number;
  latency: number;
  blockKiB: number;
  xferKiB: number;
  openTime: number;
  wrRdTime: number;
  closeTime: number;
  totalTime: number;
  iter: number;
}

/** bw = bytes / (last close − first open); IOPS = (bytes / t) / (last io end − first io start). */
export function rowOf(o: IorOptions, p: IorPhase, iter: number): IorRow {
  return {
    access: p.access,
    bwMiB: p.bytes / MiB / p.total,
    iops: p.bytes / o.transferSize / p.io,
    latency: p.transfers > 0 ? p.io / p.transfers : 0,
    blockKiB: o.blockSize / KiB,
    xferKiB: o.transferSize / KiB,
    openTime: p.open,
    wrRdTime: p.io,
    closeTime: p.close,
    totalTime: p.total,
    iter,
  };
}

export const RESULTS_HEADER =
  'access    bw(MiB/s)  IOPS       Latency(s)  block(KiB) xfer(KiB)  open(s)    wr/rd(s)   close(s)   total(s)   iter';
const RESULTS_RULE =
  '------    ---------  ----       ----------  ---------- ---------  --------   --------   --------   --------   ----';

function resultLine(r: IorRow): string {
  const cells = [r.bwMiB, r.iops, r.latency, r.blockKiB, r.xferKiB, r.openTime, r.wrRdTime, r.closeTime];
  return `${r.access.padEnd(10)}${cells.map((c) => `${ppDouble(c)} `).join('')}${ppDouble(r.totalTime)} ${String(r.iter).padEnd(4)}`;
}

/** Max, min, mean and (population) standard deviation, as IOR's summary. */
function stats(xs: number[]): { max: number; min: number; mean: number; sd: number } {
  const n = xs.length;
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / n);
  return { max: Math.max(...xs), min: Math.min(...xs), mean, sd };
}

export interface IorSummary {
  operation: 'write' | 'read';
  API: string;
  TestID: number;
  ReferenceNumber: number;
  segmentCount: number;
  blockSize: number;
  transferSize: number;
  numTasks: number;
  tasksPerNode: number;
  repetitions: number;
  filePerProc: boolean;
  reorderTasks: boolean;
  bwMaxMIB: number;
  bwMinMIB: number;
  bwMeanMIB: number;
  bwStdMIB: number;
  OPsMax: number;
  OPsMin: number;
  OPsMean: number;
  OPsSD: number;
  MeanTime: number;
  xsizeMiB: number;
}

interface SummaryLine extends IorSummary {
  stonewallTime?: number;
  stonewallMiB?: number;
}

function summaries(o: IorOptions, iterations: IorIteration[]): SummaryLine[] {
  const out: SummaryLine[] = [];
  for (const access of ['write', 'read'] as const) {
    const ps = iterations.flatMap((it, i) =>
      it.phases.filter((p) => p.access === access).map((p) => ({ p, row: rowOf(o, p, i) })),
    );
    if (ps.length === 0) continue;
    const bw = stats(ps.map((x) => x.row.bwMiB));
    const ops = stats(ps.map((x) => x.row.iops));
    const walls = ps.map((x) => x.p.stonewall).filter((s) => s !== undefined);
    out.push({
      operation: access,
      API: o.api,
      TestID: 0,
      ReferenceNumber: 0,
      segmentCount: o.segmentCount,
      blockSize: o.blockSize,
      transferSize: o.transferSize,
      numTasks: o.numTasks,
      tasksPerNode: o.numTasks,
      repetitions: o.repetitions,
      filePerProc: o.filePerProc,
      reorderTasks: o.reorderTasks,
      bwMaxMIB: bw.max,
      bwMinMIB: bw.min,
      bwMeanMIB: bw.mean,
      bwStdMIB: bw.sd,
      OPsMax: ops.max,
      OPsMin: ops.min,
      OPsMean: ops.mean,
      OPsSD: ops.sd,
      MeanTime: stats(ps.map((x) => x.row.totalTime)).mean,
      xsizeMiB: ps.reduce((a, x) => a + x.p.bytes, 0) / ps.length / MiB,
      stonewallTime:
        o.stoneWallingWearOut && walls.length > 0
          ? walls.reduce((a, s) => a + s.time, 0) / ps.length
          : undefined,
      stonewallMiB:
        o.stoneWallingWearOut && walls.length > 0
          ? walls.reduce((a, s) => a + s.minDataBytes, 0) / MiB / ps.length
          : undefined,
    });
  }
  return out;
}

const SUMMARY_HEADER =
  'Operation   Max(MiB)   Min(MiB)  Mean(MiB)     StdDev   Max(OPs)   Min(OPs)  Mean(OPs)     StdDev    Mean(s) Stonewall(s) Stonewall(MiB) Test# #Tasks tPN reps fPP reord reordoff reordrand seed segcnt   blksiz    xsize aggs(MiB)   API RefNum';

function summaryLine(o: IorOptions, s: SummaryLine): string {
  const f = (n: number, w: number, d: number) => n.toFixed(d).padStart(w);
  const i = (n: number | boolean, w: number) => String(Number(n)).padStart(w);
  return [
    s.operation.padEnd(9),
    f(s.bwMaxMIB, 10, 2),
    f(s.bwMinMIB, 10, 2),
    f(s.bwMeanMIB, 10, 2),
    f(s.bwStdMIB, 10, 2),
    f(s.OPsMax, 10, 2),
    f(s.OPsMin, 10, 2),
    f(s.OPsMean, 10, 2),
    f(s.OPsSD, 10, 2),
    f(s.MeanTime, 10, 5),
    s.stonewallTime === undefined ? 'NA'.padStart(12) : f(s.stonewallTime, 12, 2),
    s.stonewallMiB === undefined ? 'NA'.padStart(14) : f(s.stonewallMiB, 14, 2),
    i(s.TestID, 5),
    i(s.numTasks, 6),
    i(s.tasksPerNode, 3),
    i(s.repetitions, 4),
    i(s.filePerProc, 3),
    i(o.reorderTasks, 5),
    i(o.taskPerNodeOffset, 8),
    i(o.reorderTasksRandom, 9),
    i(o.reorderTasksRandomSeed, 4),
    i(s.segmentCount, 6),
    i(s.blockSize, 8),
    i(s.transferSize, 8),
    f(s.xsizeMiB, 9, 1),
    s.API.padStart(5),
    String(s.ReferenceNumber),
  ].join(' ');
}

/** The `Options:` block (IOR's ShowSetup). */
function optionLines(o: IorOptions): string[] {
  const lines = [
    keyVal('api', o.api),
    keyVal(
      'apiVersion',
      o.api === 'MPIIO'
        ? 'daos-ts MPI-IO (ROMIO two-phase)'
        : o.api === 'HDF5'
          ? 'daos-ts HDF5 (DAOS VOL layout)'
          : '',
    ),
    keyVal('test filename', o.testFileName),
    keyVal('access', o.filePerProc ? 'file-per-process' : 'single-shared-file'),
    keyVal('type', o.collective ? 'collective' : 'independent'),
    keyVal('segments', o.segmentCount),
    keyVal('ordering in a file', o.randomOffset ? 'random' : 'sequential'),
  ];
  if (o.reorderTasks) lines.push(keyVal('ordering inter file', 'constant task offset'));
  else if (o.reorderTasksRandom) lines.push(keyVal('ordering inter file', 'random task offset'));
  else lines.push(keyVal('ordering inter file', 'no tasks offsets'));
  if (o.reorderTasks || o.reorderTasksRandom) lines.push(keyVal('task offset', o.taskPerNodeOffset));
  if (o.reorderTasksRandom) lines.push(keyVal('reorder random seed', o.reorderTasksRandomSeed));
  lines.push(
    keyVal('nodes', 1),
    keyVal('tasks', o.numTasks),
    keyVal('clients per node', o.numTasks),
    keyVal('repetitions', o.repetitions),
    keyVal('xfersize', humanReadable(o.transferSize)),
    keyVal('blocksize', humanReadable(o.blockSize)),
    keyVal('aggregate filesize', humanReadable(o.blockSize * o.segmentCount * o.numTasks)),
  );
  if (o.deadlineForStonewalling > 0)
    lines.push(
      keyVal('stonewallingTime', o.deadlineForStonewalling),
      keyVal('stoneWallingWearOut', Number(o.stoneWallingWearOut)),
    );
  return lines;
}

function machine(): string {
  return `${os.type()} ${os.hostname()}`;
}

/** Warnings IOR prints during a repetition (data errors, a file of the wrong size, stonewalling). */
function iterationNotes(o: IorOptions, it: IorIteration, signature: number): string[] {
  const notes: string[] = [];
  const expected = o.blockSize * o.segmentCount * o.numTasks;
  if (it.fileSize !== undefined && it.fileSize !== expected)
    notes.push(
      `WARNING: Expected aggregate file size       = ${expected}`,
      `WARNING: Stat() of aggregate file size      = ${it.fileSize}`,
      'WARNING: Using actual aggregate bytes moved = ' +
        `${it.phases.find((p) => p.access === 'write')?.bytes ?? 0}`,
    );
  for (const p of it.phases) {
    const s = p.stonewall;
    if (s)
      notes.push(
        `stonewalling pairs accessed min: ${s.pairsMin} max: ${s.pairsMax} -- min data: ${(s.minDataBytes / GiB).toFixed(1)} GiB mean data: ${(s.avgDataBytes / GiB).toFixed(1)} GiB time: ${s.time.toFixed(1)}s`,
      );
  }
  const used = `Used Time Stamp ${signature} (0x${signature.toString(16)}) for Data Signature`;
  if (it.writeErrors > 0)
    notes.push(`WARNING: incorrect data on write (${it.writeErrors} errors found).`, used);
  if (it.readErrors > 0) notes.push(`WARNING: incorrect data on read (${it.readErrors} errors found).`, used);
  return notes;
}

/** The text report, as IOR prints it. */
export function formatText(o: IorOptions, iterations: IorIteration[], info: IorReportInfo): string {
  const out: string[] = [
    `IOR-${IOR_VERSION}: MPI Coordinated Test of Parallel I/O`,
    keyVal('Began', iorTime(info.began)),
    keyVal('Command line', o.commandLine),
    keyVal('Machine', machine()),
    keyVal('TestID', 0),
    keyVal('StartTime', iorTime(info.began)),
    keyVal('Path', info.path),
    '',
    'Options: ',
    ...optionLines(o),
    '',
    'Results: ',
    '',
    RESULTS_HEADER,
    RESULTS_RULE,
  ];
  iterations.forEach((it, i) => {
    const rows = new Map(it.phases.map((p) => [p.access, rowOf(o, p, i)]));
    if (o.verbose > 0) out.push(...it.log);
    for (const p of it.phases) out.push(resultLine(rows.get(p.access)!));
    out.push(...iterationNotes(o, it, info.signature));
  });
  const sums = summaries(o, iterations);
  const max = (op: 'write' | 'read') => sums.find((s) => s.operation === op)?.bwMaxMIB;
  const w = max('write');
  const r = max('read');
  out.push('');
  if (w !== undefined)
    out.push(`Max Write: ${w.toFixed(2)} MiB/sec (${((w * MiB) / 1e6).toFixed(2)} MB/sec)`);
  if (r !== undefined)
    out.push(`Max Read:  ${r.toFixed(2)} MiB/sec (${((r * MiB) / 1e6).toFixed(2)} MB/sec)`);
  out.push('', 'Summary of all tests:', SUMMARY_HEADER, ...sums.map((s) => summaryLine(o, s)));
  out.push(keyVal('Finished', iorTime(info.finished)));
  return `${out.join('\n')}\n`;
}

/** The `-O summaryFormat=JSON` document. */
export function formatJson(o: IorOptions, iterations: IorIteration[], info: IorReportInfo): string {
  const options = Object.fromEntries(
    optionLines(o).map((l) => [l.slice(0, 20).trimEnd(), l.slice(22)] as [string, string]),
  );
  const doc = {
    Version: IOR_VERSION,
    Began: iorTime(info.began),
    'Command line': o.commandLine,
    Machine: machine(),
    tests: [
      {
        TestID: 0,
        StartTime: iorTime(info.began),
        Path: info.path,
        Options: options,
        Results: iterations.flatMap((it, i) =>
          it.phases.map((p) => {
            const { iter: _iter, ...row } = rowOf(o, p, i);
            return row;
          }),
        ),
        Errors: iterations.map((it) => ({ write: it.writeErrors, read: it.readErrors })),
      },
    ],
    summary: summaries(o, iterations).map(({ stonewallTime: _t, stonewallMiB: _m, ...s }) => s),
    Finished: iorTime(info.finished),
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}
