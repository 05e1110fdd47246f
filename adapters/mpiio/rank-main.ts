/**
 * The program every rank runs (a worker thread or a child process): set up the rank's end of
 * the job, import the user's rank module and run its default export with (comm, args), then
 * report the result or the failure to the launcher.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { attach } from '../../core/daos/client.js';
import type { MgmtApi } from '../../core/daos/link.js';
import { Dfs } from '../../core/dfs/dfs.js';
import { type RankChannel, RankCore, type RankInit, type ToLauncher, type ToRank } from './comm.js';

function threadChannel(): RankChannel {
  const port = parentPort!;
  return {
    post: (msg: ToLauncher) => port.postMessage(msg),
    onMessage: (handler) => port.on('message', handler),
  };
}

/**
 * A child process's channel, and its init (the launcher's first message). One listener takes
 * every message from the start: messages that follow the init in the same read (a peer's
 * message forwarded while this rank was still loading) are emitted in the same tick, before a
 * listener added after awaiting the init would exist, and would be lost; they wait in `early`.
 */
function processChannel(): { channel: RankChannel; init: Promise<RankInit> } {
  let resolveInit!: (init: RankInit) => void;
  const init = new Promise<RankInit>((resolve) => {
    resolveInit = resolve;
  });
  let gotInit = false;
  let handler: ((msg: ToRank) => void) | undefined;
  const early: ToRank[] = [];
  process.on('message', (m) => {
    if (!gotInit) {
      gotInit = true;
      resolveInit(m as RankInit);
    } else if (handler) handler(m as ToRank);
    else early.push(m as ToRank);
  });
  return {
    init,
    channel: {
      post: (msg: ToLauncher) => process.send!(msg),
      onMessage: (h) => {
        handler = h;
        for (const m of early.splice(0)) h(m);
      },
    },
  };
}

/** The management API as calls forwarded to the launcher's client. */
function mgmtProxy(core: RankCore): MgmtApi {
  return new Proxy({} as MgmtApi, {
    get: (_t, method) => {
      if (typeof method !== 'string' || method === 'then') return undefined;
      return (...args: unknown[]) => core.mgmtCall(method, args);
    },
  });
}

async function main(): Promise<void> {
  const inThread = !isMainThread;
  const child = inThread ? undefined : processChannel();
  const channel = child ? child.channel : threadChannel();
  const init: RankInit = child ? await child.init : (workerData as RankInit);
  const core = new RankCore(channel, init);
  if (init.system) {
    const sys = init.system;
    core.makeClient = async () => attach({ mgmt: mgmtProxy(core), engines: sys.engines, system: 'the job' });
    core.makeDfs = (pool, container) => Dfs.mount(pool, container, { create: true });
  }
  let msg: ToLauncher;
  try {
    const mod = (await import(init.moduleUrl)) as { default?: unknown };
    if (typeof mod.default !== 'function')
      throw new Error(`${init.moduleUrl} has no default export function (comm, args) => ...`);
    const result = await (mod.default as (c: unknown, a: string[]) => unknown)(core.world, init.args);
    msg = { t: 'done', result: result === undefined ? null : result };
  } catch (err) {
    const e = err as Error;
    msg = { t: 'fail', error: e?.stack ?? String(err), aborted: core.failure !== undefined };
  }
  await core.close();
  try {
    structuredClone(msg);
  } catch (err) {
    msg = {
      t: 'fail',
      error: `the rank's result cannot be sent to the launcher: ${String(err)}`,
      aborted: false,
    };
  }
  if (inThread) {
    channel.post(msg);
    parentPort!.close();
  } else {
    process.send!(msg, () => process.exit(0));
  }
}

await main();
