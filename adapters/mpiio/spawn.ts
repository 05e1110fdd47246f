import { type ChildProcess, fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { DaosError } from '../../core/common/errors.js';
import type { MgmtApi } from '../../core/daos/link.js';
import { Dfs } from '../../core/dfs/dfs.js';
import { DaosSystem } from '../../embedded/system.js';
import { COMM_TIMEOUT_MS_DEFAULT, RankCore, type RankInit, type ToLauncher, type ToRank } from './comm.js';
import { runRank } from './rank-run.js';

/** Most ranks one job may have. */
export const RANKS_MAX = 256;
/** After a rank fails, how long the others get to notice and return before they are stopped. */
export const ABORT_GRACE_MS = 10_000;
/** Pool a job creates in its embedded system when it has none (label and size). */
export const JOB_POOL_DEFAULT = 'tank';
export const JOB_POOL_SIZE_DEFAULT = '8G';
/** The job's DFS container (created as POSIX by the first rank that mounts it). */
export const JOB_CONTAINER_DEFAULT = 'mpiio';

export type RankMode = 'threads' | 'processes' | 'inline';
const RANK_MODES: readonly RankMode[] = ['threads', 'processes', 'inline'];

export interface SpawnOptions {
  /**
   * 'threads' (default): worker_threads in this process. 'processes': one child process each.
   * 'inline': every rank an async task in this thread, with an in-process client of the job's
   * system (the embedded system's calls without a loopback hop; messages still structured-cloned).
   */
  mode?: RankMode;
  /** Start (or reopen) an embedded system in this folder for the job, stopped when it ends. */
  embedded?: string;
  /** Or share a system this process already runs. */
  system?: DaosSystem;
  /** Pool label (created in an embedded system when missing) and DFS container label. */
  pool?: string;
  container?: string;
  /** Bound on every wait inside the ranks (default COMM_TIMEOUT_MS_DEFAULT or DAOS_MPI_TIMEOUT_MS). */
  timeoutMs?: number;
}

/** A job that failed: which ranks failed and why (the first failure first). */
export class MpiJobError extends Error {
  constructor(
    message: string,
    readonly failures: Array<{ rank: number; error: string; aborted: boolean }>,
  ) {
    super(message);
    this.name = 'MpiJobError';
  }
}

interface RankHandle {
  post(msg: ToRank | RankInit): void;
  stop(): void;
}

/** The compiled rank program (next to this file when compiled, in dist/ when run from source). */
function rankMainPath(): string {
  for (const rel of ['./rank-main.js', '../../dist/adapters/mpiio/rank-main.js']) {
    const path = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new DaosError('DER_NONEXIST', 'adapters/mpiio/rank-main.js is not built; run `npm run build` first');
}

/**
 * Run `n` ranks of a rank module (its default export, called with (comm, args)) and resolve to
 * their results in rank order. The launcher routes messages between ranks and, when the job has
 * a system, runs their management calls; object I/O goes from each rank straight to the engines.
 * If any rank throws or dies, every other rank's pending and later waits reject, and this
 * rejects with an MpiJobError naming the rank that failed first.
 */
export async function spawnRanks(
  n: number,
  moduleUrl: URL | string,
  args: string[] = [],
  options: SpawnOptions = {},
): Promise<unknown[]> {
  if (!Number.isInteger(n) || n < 1 || n > RANKS_MAX)
    throw new DaosError('DER_INVAL', `rank count ${n} must be 1..${RANKS_MAX}`);
  const mode = options.mode ?? 'threads';
  if (!RANK_MODES.includes(mode))
    throw new DaosError('DER_INVAL', `mode "${String(mode)}" must be one of ${RANK_MODES.join(', ')}`);
  const url =
    typeof moduleUrl === 'string' && !moduleUrl.includes('://')
      ? pathToFileURL(moduleUrl).href
      : String(moduleUrl);
  const timeoutMs = options.timeoutMs ?? (Number(process.env.DAOS_MPI_TIMEOUT_MS) || COMM_TIMEOUT_MS_DEFAULT);

  let owned: DaosSystem | undefined;
  let system: RankInit['system'];
  let mgmt: MgmtApi | undefined;
  const sys =
    options.system ??
    (options.embedded ? (owned = await DaosSystem.start({ dir: options.embedded })) : undefined);
  try {
    if (sys) {
      const pool = options.pool ?? JOB_POOL_DEFAULT;
      const client = await sys.connect();
      mgmt = client.link.mgmt;
      try {
        await mgmt.poolConnect(pool, { mode: 'rw' });
      } catch (err) {
        if (!(err instanceof DaosError && err.code === 'DER_NONEXIST') || !owned) throw err;
        await sys.createPool({ label: pool, size: JOB_POOL_SIZE_DEFAULT });
      }
      system = {
        // Inline ranks use this process's client: no engine needs to listen for them.
        engines: mode === 'inline' ? [] : await sys.serveEngines(),
        pool,
        container: options.container ?? JOB_CONTAINER_DEFAULT,
      };
    }
    return await runJob(n, mode, { url, args, timeoutMs, system }, mgmt, sys);
  } finally {
    await owned?.stop();
  }
}

async function runJob(
  n: number,
  mode: RankMode,
  job: { url: string; args: string[]; timeoutMs: number; system: RankInit['system'] },
  mgmt: MgmtApi | undefined,
  sys: DaosSystem | undefined,
): Promise<unknown[]> {
  const main = mode === 'inline' ? '' : rankMainPath();
  const results: unknown[] = new Array(n);
  const failures: Array<{ rank: number; error: string; aborted: boolean }> = [];
  const finished = new Set<number>();
  let abortTimer: NodeJS.Timeout | undefined;
  let settle!: () => void;
  const allDone = new Promise<void>((resolve) => {
    settle = resolve;
  });
  const ranks: RankHandle[] = [];

  const finish = (rank: number) => {
    finished.add(rank);
    if (finished.size === n) settle();
  };
  const fail = (rank: number, error: string, aborted: boolean) => {
    if (finished.has(rank)) return;
    failures.push({ rank, error, aborted });
    finish(rank);
    if (failures.length === 1) {
      const first = error.split('\n')[0]!;
      for (let r = 0; r < n; r++) if (!finished.has(r)) ranks[r]?.post({ t: 'abort', rank, error: first });
      abortTimer = setTimeout(() => {
        for (let r = 0; r < n; r++) {
          if (finished.has(r)) continue;
          fail(r, `rank ${r} did not stop within ${ABORT_GRACE_MS} ms of the failure of rank ${rank}`, true);
          ranks[r]?.stop();
        }
      }, ABORT_GRACE_MS);
    }
  };
  const onMessage = (rank: number, msg: ToLauncher) => {
    switch (msg.t) {
      case 'send': {
        const to = ranks[msg.to];
        if (to && !finished.has(msg.to))
          to.post({ t: 'msg', comm: msg.comm, from: msg.from, tag: msg.tag, data: msg.data });
        break;
      }
      case 'mgmt': {
        const reply = (r: ToRank) => {
          if (!finished.has(rank)) ranks[rank]?.post(r);
        };
        const fn = mgmt?.[msg.method as keyof MgmtApi] as ((...a: unknown[]) => Promise<unknown>) | undefined;
        if (!mgmt || typeof fn !== 'function') {
          reply({
            t: 'mgmtReply',
            id: msg.id,
            ok: false,
            code: 'DER_NOSYS',
            message: `no management call ${msg.method}`,
          });
          break;
        }
        fn.apply(mgmt, msg.args).then(
          (value) => reply({ t: 'mgmtReply', id: msg.id, ok: true, value }),
          (err: unknown) =>
            reply({
              t: 'mgmtReply',
              id: msg.id,
              ok: false,
              code: err instanceof DaosError ? err.code : undefined,
              message:
                err instanceof DaosError ? err.message.replace(/^DER_\w+\(-?\d+\): /, '') : String(err),
            }),
        );
        break;
      }
      case 'done':
        results[rank] = msg.result;
        finish(rank);
        break;
      case 'fail':
        fail(rank, msg.error, msg.aborted);
        break;
    }
  };
  const onExit = (rank: number, how: string) => {
    if (!finished.has(rank)) fail(rank, `rank ${rank} exited (${how}) before finishing`, false);
  };

  for (let rank = 0; rank < n; rank++) {
    const init: RankInit = {
      rank,
      size: n,
      moduleUrl: job.url,
      args: job.args,
      timeoutMs: job.timeoutMs,
      system: job.system,
    };
    if (mode === 'inline') ranks.push(inlineRank(init, sys, (m) => onMessage(rank, m)));
    else if (mode === 'threads') {
      const w = new Worker(main, { workerData: init });
      w.on('message', (m: ToLauncher) => onMessage(rank, m));
      w.on('error', (err) => fail(rank, err.stack ?? String(err), false));
      w.on('exit', (code) => onExit(rank, `code ${code}`));
      ranks.push({ post: (m) => w.postMessage(m), stop: () => void w.terminate() });
    } else {
      const c: ChildProcess = fork(main, [], {
        serialization: 'advanced',
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      c.on('message', (m) => onMessage(rank, m as ToLauncher));
      c.on('error', (err) => fail(rank, String(err), false));
      c.on('exit', (code, signal) => onExit(rank, signal ? `signal ${signal}` : `code ${code}`));
      ranks.push({
        post: (m) => {
          if (c.connected) c.send(m);
        },
        stop: () => c.kill('SIGKILL'),
      });
      c.send(init);
    }
  }
  await allDone;
  clearTimeout(abortTimer);
  if (failures.length > 0) {
    const first = failures.find((f) => !f.aborted) ?? failures[0]!;
    throw new MpiJobError(`rank ${first.rank} failed: ${first.error.split('\n')[0]}`, failures);
  }
  return results;
}

/**
 * A rank run as an async task in this thread. Messages either way are structured-cloned and
 * delivered in a later turn, as between threads, so a rank never sees another's buffers and
 * cannot tell the modes apart; it cannot be stopped, only aborted through its waits.
 */
function inlineRank(
  init: RankInit,
  sys: DaosSystem | undefined,
  toLauncher: (m: ToLauncher) => void,
): RankHandle {
  let handler: ((m: ToRank) => void) | undefined;
  const core = new RankCore(
    {
      post: (m) => {
        const copy = structuredClone(m);
        setImmediate(() => toLauncher(copy));
      },
      onMessage: (h) => {
        handler = h;
      },
    },
    init,
  );
  if (sys && init.system) {
    core.makeClient = () => sys.connect();
    core.makeDfs = (pool, container) => Dfs.mount(pool, container, { create: true });
  }
  // The outcome crosses as it would from a thread (a Buffer result arrives as a Uint8Array).
  setImmediate(() => void runRank(core, init).then((m) => toLauncher(structuredClone(m))));
  return {
    post: (m) => {
      // A forwarded 'msg' carries data the sender's post already copied; nothing else holds it.
      const copy = (m as ToRank).t === 'msg' ? (m as ToRank) : (structuredClone(m) as ToRank);
      setImmediate(() => handler?.(copy));
    },
    stop: () => {},
  };
}
