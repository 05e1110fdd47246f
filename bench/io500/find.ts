/**
 * io500's find phase: IO500's `find DIR -newer STAMP -size 3901c -name '*01*'` as a readdir walk
 * over the trees the mdtest phases made, on node's fs.promises (POSIX) or a DfsFs (DFS, the
 * same shape). Every entry is looked at; the rate counts entries examined, as IO500's pfind does.
 */
import { posix } from 'node:path';

/** What the walk needs of a file system: `fs.promises` and `DfsFs` both have it. */
export interface FindFs {
  readdir(path: string, options: { withFileTypes: true }): Promise<FindDirent[]>;
  stat(path: string): Promise<{ size: number; mtimeMs: number }>;
}

export interface FindDirent {
  name: string;
  isDirectory(): boolean;
  isFile(): boolean;
}

export interface FindCriteria {
  /** Files modified after this (ms since the epoch): `-newer`. */
  newerThanMs: number;
  /** `-size Nc`. */
  sizeBytes: number;
  /** `-name` as a glob with `*` only (IO500's `*01*`). */
  name: string;
}

export interface FindResult {
  /** Entries examined (files and directories below the roots). */
  scanned: number;
  matched: number;
  seconds: number;
}

/** Stats in flight at once: a walk is latency-bound, on either side alike. */
export const FIND_STATS_IN_FLIGHT = 16;

function globToRegExp(glob: string): RegExp {
  const body = glob
    .split('*')
    .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${body}$`);
}

/** Walk `roots` (depth first, directories one at a time, stats of a directory's files in parallel). */
export async function findFiles(fs: FindFs, roots: string[], criteria: FindCriteria): Promise<FindResult> {
  const nameRe = globToRegExp(criteria.name);
  const t0 = performance.now();
  let scanned = 0;
  let matched = 0;
  const stack = [...roots];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    const entries = await fs.readdir(dir, { withFileTypes: true });
    scanned += entries.length;
    const candidates: string[] = [];
    for (const e of entries) {
      const p = posix.join(dir, e.name);
      if (e.isDirectory()) stack.push(p);
      // Name first: it costs nothing, and most entries fail it (find's order of tests).
      else if (e.isFile() && nameRe.test(e.name)) candidates.push(p);
    }
    for (let i = 0; i < candidates.length; i += FIND_STATS_IN_FLIGHT) {
      const stats = await Promise.all(candidates.slice(i, i + FIND_STATS_IN_FLIGHT).map((p) => fs.stat(p)));
      for (const s of stats) if (s.size === criteria.sizeBytes && s.mtimeMs > criteria.newerThanMs) matched++;
    }
  }
  return { scanned, matched, seconds: (performance.now() - t0) / 1000 };
}
