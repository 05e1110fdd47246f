/**
 * The raw results benches save beside RESULTS.md (bench/results/NAME.json, committed), which
 * bench:report turns into bench/report.html. One shape per bench; `bench` names it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** bench/ in the source tree (this file runs from dist/bench/). */
export function benchSourceDir(): string {
  return join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', 'bench');
}

export function resultsDir(): string {
  return join(benchSourceDir(), 'results');
}

/** Write bench/results/NAME.json; returns its path. */
export function saveResultsJson(name: string, data: unknown): string {
  mkdirSync(resultsDir(), { recursive: true });
  const file = join(resultsDir(), `${name}.json`);
  writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
  return file;
}

/** One side of bench:ior: the local disk, or daos-ts in-process or over TCP. */
export interface IorBenchSide {
  key: string;
  label: string;
  api: 'POSIX' | 'DFS';
  /** 'local' for POSIX; the system's transport for DFS. */
  transport: 'local' | 'inproc' | 'tcp';
}

export interface IorBenchSideResult {
  /** ior-easy (-F -t 1m) and ior-hard (-t 47008 -b 47008, shared file), MiB/s. */
  easyWrite: number;
  easyRead: number;
  hardWrite: number;
  hardRead: number;
  /** mdtest-easy (-u -L -F -N 1, empty files) rates, ops/s. */
  mdtest: { create: number; stat: number; remove: number };
  io500: {
    phases: { name: string; value: number; unit: string; seconds: number }[];
    bw: number;
    md: number;
    score: number;
  };
}

export interface IorSweepPoint {
  side: string;
  transferBytes: number;
  blockBytes: number;
  writeMiBps: number;
  readMiBps: number;
}

/** bench/results/ior.json. */
export interface IorBenchJson {
  bench: 'ior';
  version: 1;
  command: string;
  date: string;
  machine: string;
  loadavg: { start: number; end: number };
  tasks: number;
  /** How the tasks ran (spawnRanks mode); absent in files written before it was recorded: threads. */
  ranks?: string;
  reps: number;
  sizes: { easyBlockBytes: number; easyTransferBytes: number; hardSegments: number; mdtestFiles: number };
  sides: IorBenchSide[];
  results: Record<string, IorBenchSideResult>;
  sweep: IorSweepPoint[];
}
